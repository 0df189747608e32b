// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// the oracle: a small, obviously-correct model of who may touch which record, written without the engine's code

import type { PolicyDocument } from '../../src/policy/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { Action } from '../../src/spec/policy.js'
import type { Metadata } from '../../src/spec/records.js'

type Rule = NonNullable<PolicyDocument['roles'][string]['allow']>[number]
type DenyRule = NonNullable<PolicyDocument['roles'][string]['deny']>[number]
type When = Rule['when']

const MISSING = Symbol('missing')

function globMatches(pattern: string, name: string): boolean {
  if (pattern === '') return name === ''
  if (pattern[0] === '*') {
    for (let i = 0; i <= name.length; i++) if (globMatches(pattern.slice(1), name.slice(i))) return true
    return false
  }
  if (name === '') return false
  return (pattern[0] === '?' || pattern[0] === name[0]) && globMatches(pattern.slice(1), name.slice(1))
}

function onCollection(collections: readonly string[] | undefined, collection: string): boolean {
  return collections === undefined || collections.some((pattern) => globMatches(pattern, collection))
}

function actionMatches(patterns: readonly string[], action: Action): boolean {
  return patterns.some(
    (pattern) => pattern === '*' || pattern === action || (pattern.endsWith('.*') && action.startsWith(pattern.slice(0, -1))),
  )
}

function equalsSome(value: unknown, target: unknown): boolean {
  const values = Array.isArray(value) ? value : [value]
  return values.some((element) => element === target)
}

function conditionHolds(when: When, principal: Principal): boolean {
  if (when === undefined) return true
  for (const [name, matcher] of Object.entries(when.attributes ?? {})) {
    const value = principal.attributes[name]
    if (Array.isArray(matcher)) {
      if (!matcher.some((candidate) => equalsSome(value, candidate))) return false
    } else if (typeof matcher === 'object') {
      const numeric = typeof value === 'number'
      if (matcher.$gte !== undefined && !(numeric && (value as number) >= matcher.$gte)) return false
      if (matcher.$lte !== undefined && !(numeric && (value as number) <= matcher.$lte)) return false
      if (matcher.$eq !== undefined && !equalsSome(value, matcher.$eq)) return false
    } else if (!equalsSome(value, matcher)) return false
  }
  return true
}

/** A placeholder's value, or MISSING when absent or not data. */
function resolve(text: string, principal: Principal): unknown {
  if (text === '${principal.id}') return principal.id
  if (text === '${principal.tenant}') return principal.tenant || MISSING
  const prefix = '${principal.attributes.'
  if (text.startsWith(prefix)) {
    const value = principal.attributes[text.slice(prefix.length, -1)]
    const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
    if (scalar(value)) return value
    if (Array.isArray(value) && value.every(scalar)) return value
    return MISSING
  }
  return MISSING
}

const isPlaceholder = (value: unknown): value is string => typeof value === 'string' && value.startsWith('${')

/** Whether every placeholder of a filter resolves to data of the type its position needs. */
function bindable(filter: unknown, principal: Principal, operator?: string): boolean {
  if (isPlaceholder(filter)) {
    const value = resolve(filter, principal)
    if (value === MISSING) return false
    if (operator !== undefined && ['$gt', '$gte', '$lt', '$lte'].includes(operator)) return typeof value === 'number'
    return true
  }
  if (Array.isArray(filter)) return filter.every((element) => bindable(element, principal, operator))
  if (typeof filter === 'object' && filter !== null) {
    return Object.entries(filter).every(([key, value]) => bindable(value, principal, key.startsWith('$') ? key : undefined))
  }
  return true
}

function value(raw: unknown, principal: Principal): unknown {
  return isPlaceholder(raw) ? resolve(raw, principal) : raw
}

function fieldMatches(record: Metadata, field: string, condition: unknown, principal: Principal): boolean {
  const has = Object.hasOwn(record, field)
  const stored = has ? record[field] : undefined
  const eq = (target: unknown) => has && (Array.isArray(target) ? target.some((t) => equalsSome(stored, t)) : equalsSome(stored, target))
  if (typeof condition !== 'object' || condition === null) return eq(value(condition, principal))
  for (const [operator, operand] of Object.entries(condition)) {
    const bound = value(operand, principal)
    if (operator === '$eq' && !eq(bound)) return false
    if (operator === '$in') {
      const list = Array.isArray(bound) ? bound : [bound]
      if (!list.some((element) => eq(value(element, principal)))) return false
    }
    if (operator === '$exists' && !has) return false
    const compare = (test: (a: number, b: number) => boolean) => typeof stored === 'number' && typeof bound === 'number' && test(stored, bound)
    if (operator === '$gt' && !compare((a, b) => a > b)) return false
    if (operator === '$gte' && !compare((a, b) => a >= b)) return false
    if (operator === '$lt' && !compare((a, b) => a < b)) return false
    if (operator === '$lte' && !compare((a, b) => a <= b)) return false
  }
  return true
}

function filterMatches(filter: Record<string, unknown>, record: Metadata, principal: Principal): boolean {
  for (const [key, condition] of Object.entries(filter)) {
    if (key === '$and') {
      if (!(condition as Record<string, unknown>[]).every((child) => filterMatches(child, record, principal))) return false
    } else if (key === '$or') {
      if (!(condition as Record<string, unknown>[]).some((child) => filterMatches(child, record, principal))) return false
    } else if (!fieldMatches(record, key, condition, principal)) return false
  }
  return true
}

function heldRoles(document: PolicyDocument, roles: readonly string[]): Set<string> {
  const held = new Set<string>()
  const visit = (name: string) => {
    if (held.has(name) || document.roles[name] === undefined) return
    held.add(name)
    for (const parent of document.roles[name]?.inherits ?? []) visit(parent)
  }
  roles.forEach(visit)
  return held
}

/**
 * The oracle: may `principal` perform `action` on `record` of `collection` under `document`? Supports the subset of
 * the format the generators produce (roles, inheritance, allow/deny, attribute conditions, row filters, tenancy).
 */
export function referenceAllowed(
  document: PolicyDocument,
  principal: Principal,
  action: Action,
  collection: string,
  record: Metadata,
): boolean {
  const held = heldRoles(document, principal.roles)
  const denies: DenyRule[] = [...(document.deny ?? [])]
  for (const role of held) denies.push(...(document.roles[role]?.deny ?? []))
  for (const rule of denies) {
    if (actionMatches(rule.actions, action) && onCollection(rule.collections, collection) && conditionHolds(rule.when, principal)) return false
  }
  if (document.tenancy !== undefined) {
    if (typeof principal.tenant !== 'string' || principal.tenant === '') return false
    if (!equalsSome(record[document.tenancy.field], principal.tenant) || !Object.hasOwn(record, document.tenancy.field)) return false
  }
  for (const role of held) {
    for (const rule of document.roles[role]?.allow ?? []) {
      if (!actionMatches(rule.actions, action) || !onCollection(rule.collections, collection)) continue
      if (!conditionHolds(rule.when, principal)) continue
      if (rule.rowFilter === undefined) return true
      if (bindable(rule.rowFilter, principal) && filterMatches(rule.rowFilter, record, principal)) return true
    }
  }
  return false
}
