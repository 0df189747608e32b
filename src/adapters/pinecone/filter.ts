// translates the portable filter AST to a Pinecone metadata filter: one nested object per AST node, never merged

import { InputError } from '../../errors.js'
import type { FilterNode, FilterScalar } from '../../spec/filter.js'

/**
 * A Pinecone metadata filter, as JSON.
 *
 * @example
 * ```ts
 * const filter: PineconeFilter = { tenant: { $eq: 'acme' } }
 * ```
 */
export type PineconeFilter = Record<string, unknown>

/**
 * Why a metadata field name cannot be used on Pinecone (a leading `$` reads as an operator in a filter).
 *
 * @example
 * ```ts
 * pineconeFieldProblem('$where') // 'field names starting with "$" cannot be used on Pinecone'
 * ```
 */
export function pineconeFieldProblem(name: string): string | undefined {
  return name.startsWith('$') ? 'field names starting with "$" cannot be used on Pinecone' : undefined
}

function field(name: string): string {
  const problem = pineconeFieldProblem(name)
  if (problem !== undefined) throw new InputError(problem, { path: `filter.${name}`, reason: 'invalid_field_name' })
  return name
}

// Pinecone's documentation does not say whether `$ne`/`$nin` match a record without the field; OR-ing
// `$exists: false` gives the portable meaning either way
function orMissing(name: string, condition: PineconeFilter): PineconeFilter {
  return { $or: [condition, { [name]: { $exists: false } }] }
}

// $in/$nin take strings and numbers; booleans are compared one by one with $eq/$ne
function split(values: readonly FilterScalar[]): { listed: Array<string | number>; booleans: boolean[] } {
  const listed = [...new Set(values.filter((value): value is string | number => typeof value !== 'boolean'))]
  const booleans = [...new Set(values.filter((value): value is boolean => typeof value === 'boolean'))]
  return { listed, booleans }
}

function translate(node: FilterNode): PineconeFilter {
  switch (node.kind) {
    case 'and':
      return { $and: node.children.map(translate) }
    case 'or':
      return { $or: node.children.map(translate) }
    case 'cmp': {
      const name = field(node.field)
      // NaN and ±Infinity serialize as null, which is no value to compare with
      if (typeof node.value === 'number' && !Number.isFinite(node.value)) throw new InputError('filter values must be finite numbers', { path: `filter.${name}`, reason: 'invalid_filter' })
      if (node.op === '$ne') return orMissing(name, { [name]: { $ne: node.value } })
      if (node.op !== '$eq' && typeof node.value !== 'number') {
        throw new InputError('range operators compare numbers only', { path: `filter.${name}.${node.op}`, reason: 'invalid_filter' })
      }
      return { [name]: { [node.op]: node.value } }
    }
    case 'in': {
      const name = field(node.field)
      if (node.values.some((value) => typeof value === 'number' && !Number.isFinite(value))) {
        throw new InputError('filter values must be finite numbers', { path: `filter.${name}`, reason: 'invalid_filter' })
      }
      const { listed, booleans } = split(node.values)
      if (node.op === '$in') {
        const parts: PineconeFilter[] = [...(listed.length > 0 ? [{ [name]: { $in: listed } }] : []), ...booleans.map((value) => ({ [name]: { $eq: value } }))]
        return parts.length === 1 ? (parts[0] as PineconeFilter) : { $or: parts }
      }
      // NOT(in) is the AND of the negations, and like `$ne` it must keep records without the field
      const parts: PineconeFilter[] = [...(listed.length > 0 ? [{ [name]: { $nin: listed } }] : []), ...booleans.map((value) => ({ [name]: { $ne: value } }))]
      return orMissing(name, parts.length === 1 ? (parts[0] as PineconeFilter) : { $and: parts })
    }
    case 'exists':
      // the type says boolean; an AST built by hand may not hold one, and a truthy string must not mean "exists"
      if (typeof (node.value as unknown) !== 'boolean') throw new InputError('$exists takes a boolean', { path: 'filter', reason: 'invalid_filter' })
      return { [field(node.field)]: { $exists: node.value } }
    case 'all':
    case 'none':
      // never reached after simplifyFilter: Pinecone has no literal true/false and refuses empty $and/$or
      throw new InputError('a constant filter must be handled before translation', { reason: 'invalid_filter' })
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
 * toPineconeFilter(parseFilter({ $and: [{ tenant: 'acme' }, { year: { $gte: 2020 } }] }))
 * // { $and: [{ tenant: { $eq: 'acme' } }, { year: { $gte: 2020 } }] }
 * ```
 */
export function toPineconeFilter(node: FilterNode): PineconeFilter {
  return translate(node)
}
