// filter helpers every translator shares: fold `all`/`none` to the root, and read which values a field is pinned to

import type { FilterNode, FilterScalar } from '../../spec/filter.js'

/**
 * Folds constants so that `all` and `none` only ever appear as the whole filter: a translator then never has to
 * express "match nothing" inside a native filter (Qdrant treats an empty `should` as false and an empty `must` as
 * true; Pinecone rejects empty `$and`/`$or`). Semantics are unchanged.
 *
 * @example
 * ```ts
 * simplifyFilter({ kind: 'and', children: [{ kind: 'none' }, x] }) // { kind: 'none' }
 * ```
 */
export function simplifyFilter(node: FilterNode): FilterNode {
  switch (node.kind) {
    case 'and': {
      const children: FilterNode[] = []
      for (const child of node.children) {
        const simple = simplifyFilter(child)
        if (simple.kind === 'none') return simple
        if (simple.kind === 'all') continue
        // nested `and`s stay nested: each side of an enforced conjunction keeps its own sub-filter
        children.push(simple)
      }
      if (children.length === 0) return { kind: 'all' }
      return children.length === 1 ? (children[0] as FilterNode) : { kind: 'and', children }
    }
    case 'or': {
      const children: FilterNode[] = []
      for (const child of node.children) {
        const simple = simplifyFilter(child)
        if (simple.kind === 'all') return simple
        if (simple.kind === 'none') continue
        children.push(simple)
      }
      if (children.length === 0) return { kind: 'none' }
      return children.length === 1 ? (children[0] as FilterNode) : { kind: 'or', children }
    }
    case 'in':
      if (node.values.length === 0) return node.op === '$in' ? { kind: 'none' } : { kind: 'all' }
      return node
    default:
      return node
  }
}

/**
 * The set of values that `field` must take for `node` to match, when the filter pins it (an `$eq`, an `$in`, or an
 * `and`/`or` of such); `undefined` when records with other values (or without the field) could match.
 *
 * @example
 * ```ts
 * pinnedValues(parseFilter({ tenant: 'acme', year: 2020 }), 'tenant') // Set { 'acme' }
 * ```
 */
export function pinnedValues(node: FilterNode, field: string): Set<FilterScalar> | undefined {
  switch (node.kind) {
    case 'none':
      return new Set()
    case 'cmp':
      return node.field === field && node.op === '$eq' ? new Set([node.value]) : undefined
    case 'in':
      return node.field === field && node.op === '$in' ? new Set(node.values) : undefined
    case 'and': {
      let result: Set<FilterScalar> | undefined
      for (const child of node.children) {
        const values = pinnedValues(child, field)
        if (values === undefined) continue
        result = result === undefined ? values : new Set([...result].filter((value) => values.has(value)))
      }
      return result
    }
    case 'or': {
      const result = new Set<FilterScalar>()
      for (const child of node.children) {
        const values = pinnedValues(child, field)
        if (values === undefined) return undefined
        for (const value of values) result.add(value)
      }
      return result
    }
    default:
      return undefined
  }
}
