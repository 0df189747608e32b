// combines the enforced row filter with a caller's filter by nesting (never merging), and spots deny-all filters

import type { FilterNode } from '../spec/filter.js'

const NONE: FilterNode = Object.freeze({ kind: 'none' })

/**
 * Combines an enforced filter with a caller's filter as `AND(enforced, caller)`, each side kept as one nested child,
 * so nothing the caller writes (an `$or`, an empty filter) can widen the enforced side (invariant 2). `null` means
 * "no restriction": either side `null` gives the other. An enforced `none` gives `none` whatever the caller asks.
 *
 * @example
 * ```ts
 * nestFilters(parseFilter({ tenant: 'acme' }), parseFilter({ $or: [{ public: true }, { tenant: 'evil' }] }))
 * // { kind: 'and', children: [ {tenant = acme}, {or: [...]} ] } — the caller's $or stays inside its own child
 * ```
 */
export function nestFilters(enforced: FilterNode | null, caller: FilterNode | null): FilterNode | null {
  if (enforced !== null && enforced.kind === 'none') return NONE
  if (enforced === null) return caller
  if (caller === null) return enforced
  return Object.freeze({ kind: 'and', children: Object.freeze([enforced, caller]) })
}

/**
 * True when the filter provably matches no record: `none`, an `$in` of no values, an AND with such a child, an OR
 * whose children all are such. Conservative: false means "may match", never "matches"; `null` (no restriction) is
 * false. The pipeline uses it to answer without calling the database (invariant 3).
 *
 * @example
 * ```ts
 * matchesNothing(parseFilter({ tenant: { $in: [] } })) // true
 * matchesNothing(parseFilter({}))                      // false
 * ```
 */
export function matchesNothing(node: FilterNode | null): boolean {
  if (node === null) return false
  switch (node.kind) {
    case 'none':
      return true
    case 'in':
      return node.op === '$in' && node.values.length === 0
    case 'and':
      return node.children.some(matchesNothing)
    case 'or':
      return node.children.every(matchesNothing)
    default:
      return false
  }
}
