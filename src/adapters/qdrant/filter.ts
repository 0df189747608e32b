// translates the portable filter AST to a Qdrant filter: one nested condition per AST node, never merged

import { InputError } from '../../errors.js'
import type { FilterNode, FilterScalar } from '../../spec/filter.js'
import { EMPTY_LISTS_FIELD } from './ids.js'

/**
 * A Qdrant condition or filter, as JSON.
 *
 * @example
 * ```ts
 * const condition: QdrantCondition = { key: 'tenant', match: { value: 'acme' } }
 * ```
 */
export type QdrantCondition = Record<string, unknown>

/**
 * A Qdrant `Filter`.
 *
 * @example
 * ```ts
 * const filter: QdrantFilter = { must: [{ key: 'tenant', match: { value: 'acme' } }] }
 * ```
 */
export type QdrantFilter = Record<string, unknown> & {
  must?: QdrantCondition[]
  should?: QdrantCondition[]
  must_not?: QdrantCondition[]
}

/**
 * Why a metadata field name cannot be used as a Qdrant payload key as is, or undefined. Qdrant reads `.` and `[]` in a
 * key as a path into nested objects, and `"` quotes a segment, so such names would filter on another field.
 *
 * @example
 * ```ts
 * qdrantFieldProblem('a.b') // 'field names with "." ... cannot be used on Qdrant'
 * ```
 */
export function qdrantFieldProblem(name: string): string | undefined {
  return /[.[\]"]/.test(name) ? 'field names with ".", "[", "]" or a double quote cannot be used on Qdrant' : undefined
}

function key(field: string): string {
  const problem = qdrantFieldProblem(field)
  if (problem !== undefined) throw new InputError(problem, { path: `filter.${field}`, reason: 'invalid_field_name' })
  return field
}

/** A number a backend can hold: NaN and ±Infinity serialize as `null`, which Qdrant reads as no bound at all. */
function finite(value: FilterScalar, field: string): FilterScalar {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new InputError('filter values must be finite numbers', { path: `filter.${field}`, reason: 'invalid_filter' })
  return value
}

// Qdrant's `match.value` takes a string, an int64 or a boolean; any other number is matched as a one-point range
function equals(field: string, value: FilterScalar): QdrantCondition {
  finite(value, field)
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return { key: key(field), range: { gte: value, lte: value } }
  return { key: key(field), match: { value } }
}

function member(field: string, values: readonly FilterScalar[]): QdrantCondition[] {
  const strings: string[] = []
  const integers: number[] = []
  const others: QdrantCondition[] = []
  for (const value of new Set(values)) {
    if (typeof value === 'string') strings.push(value)
    else if (typeof value === 'number' && Number.isSafeInteger(value)) integers.push(value)
    else others.push(equals(field, value))
  }
  // `match.any` holds only strings or only integers; booleans and fractions become their own conditions
  const conditions: QdrantCondition[] = []
  if (strings.length > 0) conditions.push({ key: key(field), match: { any: strings } })
  if (integers.length > 0) conditions.push({ key: key(field), match: { any: integers } })
  conditions.push(...others)
  return conditions
}

function range(field: string, op: '$gt' | '$gte' | '$lt' | '$lte', value: FilterScalar): QdrantCondition {
  if (typeof value !== 'number') throw new InputError('range operators compare numbers only', { path: `filter.${field}.${op}`, reason: 'invalid_filter' })
  finite(value, field)
  const bound = op === '$gt' ? 'gt' : op === '$gte' ? 'gte' : op === '$lt' ? 'lt' : 'lte'
  return { key: key(field), range: { [bound]: value } }
}

function condition(node: FilterNode): QdrantCondition {
  switch (node.kind) {
    case 'and':
      return { must: node.children.map(condition) }
    case 'or':
      return { should: node.children.map(condition) }
    case 'cmp':
      switch (node.op) {
        case '$eq':
          return equals(node.field, node.value)
        // must_not keeps records without the field, as `$ne` must
        case '$ne':
          return { must_not: [equals(node.field, node.value)] }
        default:
          return range(node.field, node.op, node.value)
      }
    case 'in': {
      const members = member(node.field, node.values)
      if (node.op === '$nin') return { must_not: members }
      return members.length === 1 ? (members[0] as QdrantCondition) : { should: members }
    }
    case 'exists': {
      // is_empty also holds for [] (and null, never stored); the adapter lists the fields holding [] in a reserved
      // field, so "present" is "not empty, or listed there"
      const listed = { key: EMPTY_LISTS_FIELD, match: { value: key(node.field) } }
      const empty = { is_empty: { key: node.field } }
      // the type says boolean; an AST built by hand may not hold one, and a truthy string must not mean "exists"
      if (typeof (node.value as unknown) !== 'boolean') throw new InputError('$exists takes a boolean', { path: 'filter', reason: 'invalid_filter' })
      return node.value ? { should: [{ must_not: [empty] }, listed] } : { must: [empty, { must_not: [listed] }] }
    }
    case 'all':
      return { must: [] }
    case 'none':
      // never reached after simplifyFilter; an empty `should` matches nothing in Qdrant
      return { should: [] }
    default:
      // never a filter that means nothing: an unknown node is refused, not dropped
      throw new InputError('not a filter node', { reason: 'invalid_filter' })
  }
}

/**
 * Translates a filter that `simplifyFilter` has folded (so `all`/`none` only at the root, handled by the caller).
 *
 * @example
 * ```ts
 * toQdrantFilter(parseFilter({ $and: [{ tenant: 'acme' }, { year: { $gte: 2020 } }] }))
 * // { must: [{ key: 'tenant', match: { value: 'acme' } }, { key: 'year', range: { gte: 2020 } }] }
 * ```
 */
export function toQdrantFilter(node: FilterNode): QdrantFilter {
  // AND(enforced, caller) becomes { must: [enforced, caller] }, each side its own nested condition
  return node.kind === 'and' ? { must: node.children.map(condition) } : { must: [condition(node)] }
}
