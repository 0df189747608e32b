// row filters in a policy: parsed at load into a template (positive operators only), bound per request

import { ConfigError, InputError } from '../errors.js'
import { assertPositiveFilter, parseFilter } from '../filter/index.js'
import type { Principal, RequestContext } from '../spec/auth.js'
import type { FilterNode, FilterScalar } from '../spec/filter.js'
import { type Bound, compilePlaceholder, looksLikePlaceholder, type Placeholder } from './template.js'

type Value = FilterScalar | Placeholder

/** A row filter with placeholders still unbound. */
export type FilterTemplate =
  | { readonly kind: 'and' | 'or'; readonly children: readonly FilterTemplate[] }
  | { readonly kind: 'cmp'; readonly field: string; readonly op: '$eq' | '$gt' | '$gte' | '$lt' | '$lte'; readonly value: Value }
  | { readonly kind: 'in'; readonly field: string; readonly values: readonly Value[] | Placeholder }
  | { readonly kind: 'exists'; readonly field: string }

const NEGATIVE = new Set(['$ne', '$nin', '$not', '$nor'])
const RANGE = new Set(['$gt', '$gte', '$lt', '$lte'])

/** Field-name rules of the portable filter language. */
export function checkFieldName(field: string, where: string): void {
  if (field === '' || field.length > 256 || field.startsWith('$') || /[.[\]\u0000-\u001f\u007f]/.test(field)) {
    throw new ConfigError(`${where}: invalid field name`, { reason: 'invalid_field' })
  }
}

function isScalar(value: unknown): value is FilterScalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
}

function parseValue(value: unknown, where: string): Value {
  if (looksLikePlaceholder(value)) return compilePlaceholder(value, where)
  if (isScalar(value)) return value
  throw new ConfigError(`${where}: expected a string, finite number, boolean or placeholder`, { reason: 'invalid_row_filter' })
}

function parseField(field: string, condition: unknown, where: string, out: FilterTemplate[]): void {
  checkFieldName(field, where)
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    out.push({ kind: 'cmp', field, op: '$eq', value: parseValue(condition, where) })
    return
  }
  const operators = Object.entries(condition as Record<string, unknown>)
  if (operators.length === 0) throw new ConfigError(`${where}: empty operator object`, { reason: 'invalid_row_filter' })
  for (const [operator, operand] of operators) {
    const at = `${where}.${operator}`
    if (NEGATIVE.has(operator)) {
      throw new ConfigError(`${at}: enforced row filters must be positive allow-lists ($ne/$nin match records without the field)`, {
        reason: 'negative_row_filter',
      })
    }
    if (operator === '$eq') out.push({ kind: 'cmp', field, op: '$eq', value: parseValue(operand, at) })
    else if (RANGE.has(operator)) {
      if (!(looksLikePlaceholder(operand) || (typeof operand === 'number' && Number.isFinite(operand)))) {
        throw new ConfigError(`${at}: range operators take a finite number or a placeholder`, { reason: 'invalid_row_filter' })
      }
      out.push({ kind: 'cmp', field, op: operator as '$gt', value: parseValue(operand, at) })
    } else if (operator === '$in') {
      if (looksLikePlaceholder(operand)) out.push({ kind: 'in', field, values: compilePlaceholder(operand, at) })
      else if (Array.isArray(operand) && operand.length <= 1024) {
        out.push({ kind: 'in', field, values: operand.map((element, index) => parseValue(element, `${at}[${index}]`)) })
      } else throw new ConfigError(`${at}: $in takes a list (at most 1024 values) or a placeholder`, { reason: 'invalid_row_filter' })
    } else if (operator === '$exists') {
      if (operand !== true) {
        throw new ConfigError(`${at}: only $exists: true is allowed in an enforced row filter`, { reason: 'negative_row_filter' })
      }
      out.push({ kind: 'exists', field })
    } else throw new ConfigError(`${at}: unknown operator`, { reason: 'invalid_row_filter' })
  }
}

function parseObject(input: unknown, where: string, depth: number): FilterTemplate {
  if (depth > 10) throw new ConfigError(`${where}: row filter nested too deep`, { reason: 'invalid_row_filter' })
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(`${where}: expected a filter object`, { reason: 'invalid_row_filter' })
  }
  const entries = Object.entries(input as Record<string, unknown>)
  if (entries.length === 0) {
    throw new ConfigError(`${where}: an empty filter would grant every record; omit rowFilter instead`, { reason: 'invalid_row_filter' })
  }
  const parts: FilterTemplate[] = []
  for (const [key, value] of entries) {
    const at = `${where}.${key}`
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        throw new ConfigError(`${at}: expected a non-empty list of filters`, { reason: 'invalid_row_filter' })
      }
      const children = value.map((child, index) => parseObject(child, `${at}[${index}]`, depth + 1))
      parts.push({ kind: key === '$and' ? 'and' : 'or', children })
    } else if (NEGATIVE.has(key)) {
      throw new ConfigError(`${at}: enforced row filters must be positive allow-lists`, { reason: 'negative_row_filter' })
    } else if (key.startsWith('$')) {
      throw new ConfigError(`${at}: unknown operator`, { reason: 'invalid_row_filter' })
    } else parseField(key, value, at, parts)
  }
  return parts.length === 1 ? (parts[0] as FilterTemplate) : { kind: 'and', children: parts }
}

/**
 * Parses a row filter of a policy into a template. Refuses `$ne`, `$nin`, `$exists: false` (invariant 4) and
 * empty filters with `ConfigError`.
 *
 * @example
 * ```ts
 * parseRowFilter({ department: { $in: '${principal.attributes.departments}' } }, 'roles.hr.allow[0].rowFilter')
 * ```
 */
export function parseRowFilter(input: unknown, where: string): FilterTemplate {
  const template = parseObject(input, where, 0)
  // the portable parser has the last word on shape, field names and limits, so a row filter obeys the same language
  try {
    assertPositiveFilter(parseFilter(probe(input, undefined), { path: where }), where)
  } catch (error) {
    if (InputError.isInstance(error)) throw new ConfigError(`${where}: ${error.message}`, { reason: 'invalid_row_filter' })
    throw error
  }
  return template
}

/** The raw row filter with each placeholder replaced by a value of the type its position needs. */
function probe(input: unknown, operator: string | undefined): unknown {
  if (looksLikePlaceholder(input)) return operator === '$in' ? ['placeholder'] : RANGE.has(operator ?? '') ? 0 : 'placeholder'
  if (Array.isArray(input)) return input.map((element) => probe(element, operator === '$in' ? '$in:element' : operator))
  if (typeof input === 'object' && input !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(input)) out[key] = probe(value, key.startsWith('$') ? key : undefined)
    return out
  }
  return input
}

/** Whether a template holds no placeholder (then it binds to one shared node). */
export function isStatic(template: FilterTemplate): boolean {
  switch (template.kind) {
    case 'and':
    case 'or':
      return template.children.every(isStatic)
    case 'cmp':
      return typeof template.value !== 'object'
    case 'in':
      return Array.isArray(template.values) && template.values.every((value) => typeof value !== 'object')
    case 'exists':
      return true
  }
}

/**
 * Binds a template for one principal. Returns `undefined` when a placeholder is missing or has the wrong type:
 * the caller must treat that as "this rule grants nothing", never as "no restriction".
 *
 * @example
 * ```ts
 * bindRowFilter(template, principal, context) // { kind: 'in', field: 'department', op: '$in', values: ['hr'] }
 * ```
 */
export function bindRowFilter(template: FilterTemplate, principal: Principal, context: RequestContext): FilterNode | undefined {
  switch (template.kind) {
    case 'and':
    case 'or': {
      const children: FilterNode[] = []
      for (const child of template.children) {
        const bound = bindRowFilter(child, principal, context)
        if (bound === undefined) return undefined
        children.push(bound)
      }
      return { kind: template.kind, children }
    }
    case 'exists':
      return { kind: 'exists', field: template.field, value: true }
    case 'cmp': {
      const value = typeof template.value === 'object' ? template.value.resolve(principal, context) : template.value
      if (value === undefined) return undefined
      if (template.op === '$eq') {
        if (Array.isArray(value)) return { kind: 'in', field: template.field, op: '$in', values: value.slice() }
        return { kind: 'cmp', field: template.field, op: '$eq', value: value as FilterScalar }
      }
      if (typeof value !== 'number') return undefined
      return { kind: 'cmp', field: template.field, op: template.op, value }
    }
    case 'in': {
      const values: FilterScalar[] = []
      const source = template.values
      const list = Array.isArray(source) ? source : [source as Placeholder]
      for (const element of list) {
        if (typeof element !== 'object') {
          values.push(element)
          continue
        }
        const bound = element.resolve(principal, context)
        if (bound === undefined) return undefined
        if (Array.isArray(bound)) values.push(...bound)
        else values.push(bound as FilterScalar)
      }
      return { kind: 'in', field: template.field, op: '$in', values }
    }
  }
}

/** Every field a template names. */
export function templateFields(template: FilterTemplate, out: Set<string> = new Set()): Set<string> {
  if ('children' in template) {
    for (const child of template.children) templateFields(child, out)
  } else out.add(template.field)
  return out
}

function collectPlaceholders(template: FilterTemplate, out: Placeholder[]): Placeholder[] {
  switch (template.kind) {
    case 'and':
    case 'or':
      for (const child of template.children) collectPlaceholders(child, out)
      break
    case 'cmp':
      if (typeof template.value === 'object' && !out.includes(template.value)) out.push(template.value)
      break
    case 'in': {
      const list = Array.isArray(template.values) ? template.values : [template.values as Placeholder]
      for (const element of list) if (typeof element === 'object' && !out.includes(element)) out.push(element)
      break
    }
    case 'exists':
      break
  }
  return out
}

function sameBound(a: Bound, b: Bound): boolean {
  if (a === b) return true
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Binds one template, remembering the last binding: the same values give the same (frozen) node without allocating. */
export interface RowFilterBinder {
  bind(principal: Principal, context: RequestContext): FilterNode | undefined
}

/**
 * Wraps a template with a one-entry memo keyed by the placeholder values (compared by content, so a principal object
 * changed in place is never served a stale filter). Bound nodes are frozen: callers share them.
 *
 * @example
 * ```ts
 * const binder = createBinder(parseRowFilter({ owner: '${principal.id}' }, 'rowFilter'))
 * binder.bind(principal, context)
 * ```
 */
export function createBinder(template: FilterTemplate): RowFilterBinder {
  if (isStatic(template)) {
    const node = deepFreeze(bindRowFilter(template, {} as Principal, {}) as FilterNode)
    return { bind: () => node }
  }
  const placeholders = collectPlaceholders(template, [])
  let lastValues: Bound[] | undefined
  let lastNode: FilterNode | undefined
  const current: Bound[] = new Array(placeholders.length)
  return {
    bind(principal, context) {
      let same = lastValues !== undefined
      for (let i = 0; i < placeholders.length; i++) {
        const value = (placeholders[i] as Placeholder).resolve(principal, context)
        if (value === undefined) return undefined
        current[i] = value
        if (same && !sameBound(value, (lastValues as Bound[])[i])) same = false
      }
      if (same && lastNode !== undefined) return lastNode
      const node = bindRowFilter(template, principal, context)
      if (node === undefined) return undefined
      lastNode = deepFreeze(node)
      lastValues = current.map((value) => (Array.isArray(value) ? value.slice() : value))
      return lastNode
    },
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}
