// reads a filter AST: the fields and operators it uses, whether it is a positive allow-list, canonical and JSON forms

import { ConfigError } from '../errors.js'
import type { FilterInput, FilterNode, FilterOperator } from '../spec/filter.js'

function walk(node: FilterNode, visit: (node: FilterNode) => void): void {
  visit(node)
  if (node.kind === 'and' || node.kind === 'or') for (const child of node.children) walk(child, visit)
}

/**
 * Every field a filter names, at any depth. The pipeline checks them against the fields the caller may read.
 *
 * @example
 * ```ts
 * filterFields(parseFilter({ genre: 'drama', $or: [{ year: 2020 }, { lang: 'en' }] })) // Set { genre, year, lang }
 * ```
 */
export function filterFields(node: FilterNode): Set<string> {
  const fields = new Set<string>()
  walk(node, (current) => {
    if (current.kind === 'cmp' || current.kind === 'in' || current.kind === 'exists') fields.add(current.field)
  })
  return fields
}

/**
 * Every operator a filter uses (an implicit AND counts as `$and`). The pipeline compares them with the adapter's
 * `capabilities.filterOperators`.
 *
 * @example
 * ```ts
 * filterOperators(parseFilter({ year: { $gte: 2020, $lt: 2024 } })) // Set { $and, $gte, $lt }
 * ```
 */
export function filterOperators(node: FilterNode): Set<FilterOperator> {
  const operators = new Set<FilterOperator>()
  walk(node, (current) => {
    switch (current.kind) {
      case 'and':
        operators.add('$and')
        break
      case 'or':
        operators.add('$or')
        break
      case 'cmp':
      case 'in':
        operators.add(current.op)
        break
      case 'exists':
        operators.add('$exists')
        break
    }
  })
  return operators
}

/**
 * Throws `ConfigError` (reason `negative_enforced_filter`) when a filter uses `$ne`, `$nin` or `$exists: false`:
 * those match records that lack the field, so an enforced filter built from them grants what it meant to withhold
 * (invariant 4). `where` names the filter in the message, e.g. `policy rule "reader" rowFilter`.
 *
 * @example
 * ```ts
 * assertPositiveFilter(parseFilter({ tenant: { $ne: 'evil' } }), 'rowFilter') // throws ConfigError
 * ```
 */
export function assertPositiveFilter(node: FilterNode, where: string): void {
  walk(node, (current) => {
    let operator: string | undefined
    let field = ''
    if (current.kind === 'cmp' && current.op === '$ne') [operator, field] = ['$ne', current.field]
    else if (current.kind === 'in' && current.op === '$nin') [operator, field] = ['$nin', current.field]
    else if (current.kind === 'exists' && !current.value) [operator, field] = ['$exists: false', current.field]
    if (operator !== undefined) {
      throw new ConfigError(
        `${where} uses ${operator} on field ${JSON.stringify(field)}, which matches records that lack the field; enforced filters must be positive allow-lists ($eq, $in, ranges, $exists: true)`,
        { reason: 'negative_enforced_filter' },
      )
    }
  })
}

function canonical(node: FilterNode): string {
  switch (node.kind) {
    case 'all':
    case 'none':
      return `{"kind":"${node.kind}"}`
    case 'and':
    case 'or':
      return `{"kind":"${node.kind}","children":[${node.children.map(canonical).join(',')}]}`
    case 'cmp':
      return `{"kind":"cmp","field":${JSON.stringify(node.field)},"op":"${node.op}","value":${JSON.stringify(node.value)}}`
    case 'in':
      return `{"kind":"in","field":${JSON.stringify(node.field)},"op":"${node.op}","values":[${node.values.map((value) => JSON.stringify(value)).join(',')}]}`
    case 'exists':
      return `{"kind":"exists","field":${JSON.stringify(node.field)},"value":${node.value}}`
    default:
      throw new TypeError('canonicalFilter: not a filter node')
  }
}

/**
 * A deterministic string for a filter (JSON with a fixed key order), for hashing into audit events: the same AST
 * always gives the same string. `null` (no filter) gives `null`. It holds the filter's values, so hash it before it
 * leaves the process.
 *
 * @example
 * ```ts
 * canonicalFilter(parseFilter({ tenant: 'acme' })) // '{"kind":"cmp","field":"tenant","op":"$eq","value":"acme"}'
 * ```
 */
export function canonicalFilter(node: FilterNode | null): string {
  return node === null ? 'null' : canonical(node)
}

/** The field `filterToInput` uses to express `none` (`$in` of nothing matches no record, whatever the field). */
const NONE_FIELD = '__vectorwarden_none'

/**
 * Turns an AST back into the portable JSON form, e.g. to hand a filter to a backend that speaks that language.
 * `parseFilter(filterToInput(node))` matches exactly the records `node` matches; `none` becomes an `$in` of no values.
 *
 * @example
 * ```ts
 * filterToInput(parseFilter({ genre: 'drama' })) // { genre: { $eq: 'drama' } }
 * ```
 */
export function filterToInput(node: FilterNode): FilterInput {
  switch (node.kind) {
    case 'all':
      return {}
    case 'none':
      return { [NONE_FIELD]: { $in: [] } }
    case 'and':
      return node.children.length === 0 ? {} : { $and: node.children.map(filterToInput) }
    case 'or':
      return node.children.length === 0 ? filterToInput({ kind: 'none' }) : { $or: node.children.map(filterToInput) }
    case 'cmp':
      return { [node.field]: { [node.op]: node.value } }
    case 'in':
      return { [node.field]: { [node.op]: [...node.values] } }
    case 'exists':
      return { [node.field]: { $exists: node.value } }
    default:
      throw new TypeError('filterToInput: not a filter node')
  }
}
