// parses the portable filter language (Pinecone/Mongo style JSON) into the frozen filter AST, with limits

import { z } from 'zod'
import { InputError } from '../errors.js'
import type { ComparisonOperator, FilterNode, FilterScalar } from '../spec/filter.js'

/** Limits and error-path prefix for {@link parseFilter}. */
export interface ParseFilterOptions {
  /** Deepest nesting of filter objects (`$and`/`$or` inside each other); default 10. */
  maxDepth?: number
  /** Most nodes (conditions and logical groups) in the whole filter; default 256. */
  maxClauses?: number
  /** Most values in one `$in` / `$nin` list; default 1024. */
  maxValues?: number
  /** Prefix of error paths; default `filter`. */
  path?: string
}

/** Longest field name accepted, in UTF-16 code units. */
export const MAX_FIELD_NAME_LENGTH = 256

// schemas compiled once at module load; messages are written by us so no caller value ever reaches them
const scalarSchema = z.union([z.string(), z.number(), z.boolean()])
const rangeSchema = z.number()
const existsSchema = z.boolean()
// one pattern for the whole rule (length, no leading $, no . [ ] or control characters): one check per field name
const fieldNameSchema = z
  .string()
  .regex(new RegExp(`^(?!\\$)[^.[\\]\\u0000-\\u001f\\u007f-\\u009f]{1,${MAX_FIELD_NAME_LENGTH}}$`))

const comparisonOperators: ReadonlySet<string> = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte'])
const rangeOperators: ReadonlySet<string> = new Set(['$gt', '$gte', '$lt', '$lte'])
const fieldOperators: ReadonlySet<string> = new Set([...comparisonOperators, '$in', '$nin', '$exists'])

interface Limits {
  readonly maxDepth: number
  readonly maxClauses: number
  readonly maxValues: number
}

interface State {
  readonly limits: Limits
  readonly root: string
  clauses: number
}

// paths are built only when something fails: a linked list of keys and indexes, rendered on demand
type Path = { readonly parent: Path; readonly key: string | number } | null

function render(state: State, path: Path): string {
  const parts: string[] = []
  for (let node = path; node !== null; node = node.parent) {
    parts.push(typeof node.key === 'number' ? `[${node.key}]` : segment(node.key))
  }
  return state.root + parts.reverse().join('')
}

const optionsSchema = z.strictObject({
  maxDepth: z.number().int().min(1).max(1000).optional(),
  maxClauses: z.number().int().min(1).max(1_000_000).optional(),
  maxValues: z.number().int().min(0).max(1_000_000).optional(),
  path: z.string().optional(),
})

/** A path segment as it appears in error paths; odd or long keys are quoted and cut so paths stay readable. */
function segment(key: string): string {
  if (/^[$\w-]{1,64}$/.test(key)) return `.${key}`
  const cut = key.length > 64 ? `${key.slice(0, 64)}…` : key
  return `[${JSON.stringify(cut)}]`
}

function fail(message: string, state: State, path: Path): never {
  throw new InputError(message, { path: render(state, path), reason: 'invalid_filter' })
}

function child(parent: Path, key: string | number): Path {
  return { parent, key }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : 'a non-finite number'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function count(state: State, path: Path): void {
  state.clauses += 1
  if (state.clauses > state.limits.maxClauses) {
    fail(`filter has more than ${state.limits.maxClauses} clauses`, state, path)
  }
}

function ownKeys(value: Record<string, unknown>, state: State, path: Path): string[] {
  if (Object.getOwnPropertySymbols(value).length > 0) fail('filter objects must not have symbol keys', state, path)
  return Object.keys(value)
}

function checkFieldName(field: string, state: State, path: Path): void {
  if (fieldNameSchema.safeParse(field).success) return
  if (field.length === 0) fail('field name is empty', state, path)
  if (field.length > MAX_FIELD_NAME_LENGTH) {
    fail(`field name is longer than ${MAX_FIELD_NAME_LENGTH} characters`, state, path)
  }
  fail('field name must not start with $ or contain ".", "[", "]" or control characters', state, path)
}

function parseScalar(value: unknown, operator: string, state: State, path: Path): FilterScalar {
  const result = scalarSchema.safeParse(value)
  if (result.success) return result.data
  return fail(`${operator} takes a string, a finite number or a boolean, not ${describeType(value)}`, state, path)
}

function parseList(value: unknown, operator: '$in' | '$nin', state: State, path: Path): FilterScalar[] {
  if (!Array.isArray(value)) fail(`${operator} takes an array of values, not ${describeType(value)}`, state, path)
  // the length is checked before any element is looked at, so a huge list costs nothing
  if (value.length > state.limits.maxValues) {
    fail(`${operator} has more than ${state.limits.maxValues} values`, state, path)
  }
  const values: FilterScalar[] = []
  for (let index = 0; index < value.length; index++) {
    values.push(parseScalar(value[index], operator, state, child(path, index)))
  }
  return values
}

function parseOperator(field: string, operator: string, value: unknown, state: State, path: Path): FilterNode {
  count(state, path)
  if (comparisonOperators.has(operator)) {
    const op = operator as ComparisonOperator
    if (rangeOperators.has(operator)) {
      const result = rangeSchema.safeParse(value)
      if (!result.success) fail(`${operator} takes a finite number, not ${describeType(value)}`, state, path)
      return Object.freeze({ kind: 'cmp', field, op, value: result.data })
    }
    return Object.freeze({ kind: 'cmp', field, op, value: parseScalar(value, operator, state, path) })
  }
  if (operator === '$in' || operator === '$nin') {
    const values = Object.freeze(parseList(value, operator, state, path))
    return Object.freeze({ kind: 'in', field, op: operator, values })
  }
  if (operator === '$exists') {
    const result = existsSchema.safeParse(value)
    if (!result.success) fail(`$exists takes a boolean, not ${describeType(value)}`, state, path)
    return Object.freeze({ kind: 'exists', field, value: result.data })
  }
  if (operator === '$and' || operator === '$or') {
    return fail(`${operator} must be at the level of fields, not inside a field condition`, state, path)
  }
  return fail('unknown operator inside a field condition', state, path)
}

function parseField(field: string, condition: unknown, state: State, path: Path): FilterNode {
  checkFieldName(field, state, path)
  if (isPlainObject(condition)) {
    const operators = ownKeys(condition, state, path)
    if (operators.length === 0) fail('field condition has no operator', state, path)
    const children: FilterNode[] = []
    for (const operator of operators) {
      children.push(parseOperator(field, operator, condition[operator], state, child(path, operator)))
    }
    if (children.length === 1) return children[0] as FilterNode
    count(state, path)
    return Object.freeze({ kind: 'and', children: Object.freeze(children) })
  }
  count(state, path)
  if (Array.isArray(condition)) {
    return fail('a field takes a value or an operator object, not an array; use $in', state, path)
  }
  return Object.freeze({ kind: 'cmp', field, op: '$eq', value: parseScalar(condition, '$eq', state, path) })
}

function parseGroup(operator: '$and' | '$or', value: unknown, depth: number, state: State, path: Path): FilterNode {
  if (!Array.isArray(value)) fail(`${operator} takes an array of filters, not ${describeType(value)}`, state, path)
  if (value.length === 0) fail(`${operator} takes a non-empty array of filters`, state, path)
  count(state, path)
  if (value.length > state.limits.maxClauses) fail(`filter has more than ${state.limits.maxClauses} clauses`, state, path)
  const children: FilterNode[] = []
  for (let index = 0; index < value.length; index++) {
    children.push(parseObject(value[index], depth + 1, state, child(path, index)))
  }
  return Object.freeze({ kind: operator === '$and' ? 'and' : 'or', children: Object.freeze(children) })
}

function parseObject(input: unknown, depth: number, state: State, path: Path): FilterNode {
  if (depth > state.limits.maxDepth) fail(`filter is nested deeper than ${state.limits.maxDepth} levels`, state, path)
  if (!isPlainObject(input)) return fail(`a filter is an object, not ${describeType(input)}`, state, path)
  const keys = ownKeys(input, state, path)
  if (keys.length === 0) return ALL
  const children: FilterNode[] = []
  for (const key of keys) {
    const keyPath = child(path, key)
    if (key === '$and' || key === '$or') {
      children.push(parseGroup(key, input[key], depth, state, keyPath))
    } else if (fieldOperators.has(key)) {
      fail(`${key} must be inside a field condition, e.g. { field: { ${key}: ... } }`, state, keyPath)
    } else if (key.startsWith('$')) {
      fail('unknown operator', state, keyPath)
    } else {
      children.push(parseField(key, input[key], state, keyPath))
    }
  }
  if (children.length === 1) return children[0] as FilterNode
  count(state, path)
  return Object.freeze({ kind: 'and', children: Object.freeze(children) })
}

const ALL: FilterNode = Object.freeze({ kind: 'all' })
const DEFAULT_LIMITS: Limits = Object.freeze({ maxDepth: 10, maxClauses: 256, maxValues: 1024 })

/**
 * Parses a filter written in the portable language into a frozen AST.
 *
 * `{ field: value }` is `$eq`; several keys, and several operators on one field, are an implicit AND; `{}` matches
 * every record. Throws `InputError` (reason `invalid_filter`) whose `path` says where the problem is, and whose
 * message names the field or operator but never a value. Wrong option types throw `TypeError`.
 *
 * @example
 * ```ts
 * const node = parseFilter({ genre: 'drama', year: { $gte: 2020 }, $or: [{ lang: 'en' }, { lang: 'fr' }] })
 * parseFilter({ price: { $gt: 'cheap' } }) // throws InputError, path 'filter.price.$gt'
 * ```
 */
export function parseFilter(input: unknown, options?: ParseFilterOptions): FilterNode {
  let limits = DEFAULT_LIMITS
  let root = 'filter'
  if (options !== undefined) {
    const parsed = optionsSchema.safeParse(options)
    if (!parsed.success) throw new TypeError('parseFilter: invalid options')
    limits = {
      maxDepth: parsed.data.maxDepth ?? DEFAULT_LIMITS.maxDepth,
      maxClauses: parsed.data.maxClauses ?? DEFAULT_LIMITS.maxClauses,
      maxValues: parsed.data.maxValues ?? DEFAULT_LIMITS.maxValues,
    }
    root = parsed.data.path ?? root
  }
  try {
    return parseObject(input, 1, { limits, root, clauses: 0 }, null)
  } catch (error) {
    if (InputError.isInstance(error)) throw error
    // a getter or proxy in the input threw; its message may quote data, so it is not passed on
    throw new InputError('filter could not be read', { path: root, reason: 'invalid_filter' })
  }
}

/**
 * Checks that a value is a well-formed filter AST, held to the rules {@link parseFilter} applies to what it builds:
 * known node kinds and operators, field names by the same rule, string/finite number/boolean values, finite numbers
 * for ranges, a boolean `$exists`, lists of children and values. For ASTs that did not come from `parseFilter`,
 * such as a row filter a policy function built itself: a `NaN` bound serializes as `null`, which a backend reads as
 * no bound at all. Throws `TypeError`, whose message names no value. Nesting deeper than `maxDepth` (or a cycle) is
 * refused too.
 *
 * @example
 * ```ts
 * assertFilterNode({ kind: 'cmp', field: 'clearance', op: '$lte', value: Number.NaN }) // throws TypeError
 * ```
 */
export function assertFilterNode(node: unknown, maxDepth = 64): asserts node is FilterNode {
  const fieldOf = (value: unknown, kind: string): void => {
    if (typeof value !== 'string' || !fieldNameSchema.safeParse(value).success) throw new TypeError(`filter AST: a ${kind} node has an invalid field name`)
  }
  const check = (current: unknown, depth: number): void => {
    if (depth > maxDepth) throw new TypeError(`filter AST: nested deeper than ${maxDepth} levels, or cyclic`)
    if (typeof current !== 'object' || current === null) throw new TypeError('filter AST: a node is not an object')
    const n = current as { kind?: unknown; children?: unknown; field?: unknown; op?: unknown; value?: unknown; values?: unknown }
    switch (n.kind) {
      case 'all':
      case 'none':
        return
      case 'and':
      case 'or':
        if (!Array.isArray(n.children)) throw new TypeError(`filter AST: an ${n.kind} node has no list of children`)
        for (const childNode of n.children) check(childNode, depth + 1)
        return
      case 'cmp': {
        fieldOf(n.field, 'cmp')
        if (typeof n.op !== 'string' || !comparisonOperators.has(n.op)) throw new TypeError('filter AST: a cmp node has an unknown operator')
        const valid = rangeOperators.has(n.op) ? rangeSchema.safeParse(n.value).success : scalarSchema.safeParse(n.value).success
        if (!valid) throw new TypeError(`filter AST: ${n.op} needs ${rangeOperators.has(n.op) ? 'a finite number' : 'a string, a finite number or a boolean'}`)
        return
      }
      case 'in':
        fieldOf(n.field, 'in')
        if (n.op !== '$in' && n.op !== '$nin') throw new TypeError('filter AST: an in node has an unknown operator')
        if (!Array.isArray(n.values) || !n.values.every((value) => scalarSchema.safeParse(value).success)) {
          throw new TypeError(`filter AST: ${n.op} needs a list of strings, finite numbers or booleans`)
        }
        return
      case 'exists':
        fieldOf(n.field, 'exists')
        if (typeof n.value !== 'boolean') throw new TypeError('filter AST: $exists needs a boolean')
        return
      default:
        throw new TypeError('filter AST: a node has an unknown kind')
    }
  }
  check(node, 0)
}
