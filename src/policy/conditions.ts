// ABAC conditions compiled once at load into small checks; each check answers pass, fail, unknown or step-up

import { ConfigError } from '../errors.js'
import type { Principal, RequestContext } from '../spec/auth.js'
import { type AddressRange, inRange, parseAddress, parseCidr } from './ip.js'
import type { AttributeMatcher, ConditionDocument } from './schema.js'

/** The condition holds. */
export const PASS = 0
/** The condition does not hold. */
export const FAIL = 1
/** The data the condition needs is missing or unreadable: allow rules do not apply, deny rules do (fail closed). */
export const UNKNOWN = 2
/** Only a fresh strong authentication is missing: allow rules answer `step_up_required`. */
export const STEP_UP = 3

/** A check's answer. */
export type CheckResult = typeof PASS | typeof FAIL | typeof UNKNOWN | typeof STEP_UP

/** One compiled check of a condition. */
export interface Check {
  /** A short name for explanations: `ip`, `time`, `mfa`, `attributes.department`, ... */
  readonly name: string
  test(principal: Principal, context: RequestContext, now: number): CheckResult
}

/** `amr` values (RFC 8176) that count as a second factor by default. */
export const DEFAULT_SECOND_FACTORS: readonly string[] = [
  'mfa',
  'otp',
  'hwk',
  'swk',
  'sms',
  'tel',
  'sc',
  'fpt',
  'face',
  'iris',
  'retina',
  'vbm',
]

const FORBIDDEN_SEGMENT = new Set(['__proto__', 'prototype', 'constructor'])

function readAttribute(root: unknown, segments: readonly string[]): unknown {
  let current = root
  for (const segment of segments) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined
    if (!Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}

function someValue(value: unknown, predicate: (element: unknown) => boolean): boolean {
  if (Array.isArray(value)) {
    for (const element of value) if (predicate(element)) return true
    return false
  }
  return predicate(value)
}

function compileMatcher(matcher: AttributeMatcher): (value: unknown) => boolean {
  if (Array.isArray(matcher)) {
    const allowed = new Set<unknown>(matcher)
    return (value) => someValue(value, (element) => allowed.has(element))
  }
  if (typeof matcher !== 'object') return (value) => someValue(value, (element) => element === matcher)
  const tests: ((value: unknown) => boolean)[] = []
  if (matcher.$exists === true) tests.push((value) => value !== undefined && value !== null)
  if (matcher.$eq !== undefined) {
    const expected = matcher.$eq
    tests.push((value) => someValue(value, (element) => element === expected))
  }
  if (matcher.$in !== undefined) {
    const allowed = new Set<unknown>(matcher.$in)
    tests.push((value) => someValue(value, (element) => allowed.has(element)))
  }
  const numeric = (bound: number | undefined, compare: (a: number, b: number) => boolean) => {
    if (bound === undefined) return
    tests.push((value) => typeof value === 'number' && Number.isFinite(value) && compare(value, bound))
  }
  numeric(matcher.$gt, (a, b) => a > b)
  numeric(matcher.$gte, (a, b) => a >= b)
  numeric(matcher.$lt, (a, b) => a < b)
  numeric(matcher.$lte, (a, b) => a <= b)
  if (tests.length === 0) throw new ConfigError('an attribute matcher needs at least one operator', { reason: 'invalid_condition' })
  return (value) => {
    for (const test of tests) if (!test(value)) return false
    return true
  }
}

function attributeChecks(
  matchers: Record<string, AttributeMatcher>,
  prefix: 'attributes' | 'context',
  where: string,
): Check[] {
  return Object.entries(matchers).map(([name, matcher]) => {
    const segments = name.split('.')
    if (segments.some((segment) => segment === '' || FORBIDDEN_SEGMENT.has(segment))) {
      throw new ConfigError(`${where}.${prefix}: invalid attribute name`, { reason: 'invalid_condition' })
    }
    const test = compileMatcher(matcher)
    return {
      name: `${prefix}.${name}`,
      test:
        prefix === 'attributes'
          ? (principal: Principal) => (test(readAttribute(principal.attributes, segments)) ? PASS : FAIL)
          : (_principal: Principal, context: RequestContext) => (test(readAttribute(context.attributes, segments)) ? PASS : FAIL),
    }
  })
}

const WEEKDAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }
const DAY_INDEX: Record<string, number> = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6 }
const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timeZone: string, where: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      })
    } catch {
      throw new ConfigError(`${where}.time.timeZone: unknown IANA time zone`, { reason: 'invalid_condition' })
    }
    formatters.set(timeZone, formatter)
  }
  return formatter
}

function minutesOf(text: string): number {
  return Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5))
}

function timeCheck(time: NonNullable<ConditionDocument['time']>, where: string): Check {
  const formatter = formatterFor(time.timeZone, where)
  const days = time.days === undefined ? undefined : new Set(time.days.map((day) => DAY_INDEX[day] as number))
  const from = time.from === undefined ? undefined : minutesOf(time.from)
  const to = time.to === undefined ? undefined : minutesOf(time.to)
  if (from !== undefined && to !== undefined && from === to) {
    throw new ConfigError(`${where}.time: from and to are equal; omit both for the whole day`, { reason: 'invalid_condition' })
  }
  const notBefore = time.notBefore === undefined ? undefined : Date.parse(time.notBefore)
  const notAfter = time.notAfter === undefined ? undefined : Date.parse(time.notAfter)
  // zone offsets change on minute boundaries, so one answer per minute is exact
  let cachedMinute = Number.NaN
  let cachedResult: typeof PASS | typeof FAIL | typeof UNKNOWN = UNKNOWN
  const evaluate = (now: number): typeof PASS | typeof FAIL | typeof UNKNOWN => {
    if (days === undefined && from === undefined && to === undefined) return PASS
    let weekday = -1
    let hour = -1
    let minuteOfHour = -1
    for (const part of formatter.formatToParts(now)) {
      if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? -1
      else if (part.type === 'hour') hour = Number(part.value) % 24
      else if (part.type === 'minute') minuteOfHour = Number(part.value)
    }
    if (weekday < 0 || !(hour >= 0) || !(minuteOfHour >= 0)) return UNKNOWN
    const minute = hour * 60 + minuteOfHour
    let inWindow = true
    if (from !== undefined && to !== undefined) inWindow = from < to ? minute >= from && minute < to : minute >= from || minute < to
    else if (from !== undefined) inWindow = minute >= from
    else if (to !== undefined) inWindow = minute < to
    // a window that wraps midnight belongs to the day it started on
    let day = weekday
    if (from !== undefined && to !== undefined && from > to && minute < to) day = (weekday + 6) % 7
    if (days !== undefined && !days.has(day)) return FAIL
    return inWindow ? PASS : FAIL
  }
  return {
    name: 'time',
    test: (_principal, _context, now) => {
      if (typeof now !== 'number' || !Number.isFinite(now)) return UNKNOWN
      if (notBefore !== undefined && now < notBefore) return FAIL
      if (notAfter !== undefined && now >= notAfter) return FAIL
      const minuteKey = Math.floor(now / 60_000)
      if (minuteKey !== cachedMinute) {
        cachedResult = evaluate(now)
        cachedMinute = minuteKey
      }
      return cachedResult
    },
  }
}

function ipCheck(patterns: readonly string[], where: string): Check {
  const ranges: AddressRange[] = patterns.map((pattern, index) => {
    const range = parseCidr(pattern)
    if (range === undefined) {
      throw new ConfigError(`${where}.ip[${index}]: not an IP address or CIDR range (host bits must be zero)`, {
        reason: 'invalid_condition',
      })
    }
    return range
  })
  let lastText: string | undefined
  let lastResult: CheckResult = UNKNOWN
  return {
    name: 'ip',
    test: (_principal, context) => {
      const text = context.ip
      if (typeof text !== 'string') return UNKNOWN
      if (text === lastText) return lastResult
      const address = parseAddress(text)
      let result: CheckResult = UNKNOWN
      if (address !== undefined) {
        result = FAIL
        for (const range of ranges) {
          if (inRange(address, range)) {
            result = PASS
            break
          }
        }
      }
      lastText = text
      lastResult = result
      return result
    },
  }
}

function riskOf(principal: Principal, context: RequestContext): number | undefined {
  const fromContext = context.attributes?.riskScore
  if (fromContext !== undefined) return typeof fromContext === 'number' && Number.isFinite(fromContext) ? fromContext : Number.NaN
  const fromPrincipal = principal.attributes?.riskScore
  if (fromPrincipal !== undefined) {
    return typeof fromPrincipal === 'number' && Number.isFinite(fromPrincipal) ? fromPrincipal : Number.NaN
  }
  return undefined
}

/** A compiled condition: every check must pass. */
export type CompiledCondition = readonly Check[]

/**
 * Compiles a condition document into checks. Throws `ConfigError` on an unknown time zone or a bad CIDR.
 *
 * @example
 * ```ts
 * const checks = compileCondition({ ip: ['10.0.0.0/8'], mfa: { maxAgeSeconds: 300 } }, 'roles.admin.allow[0].when')
 * ```
 */
export function compileCondition(condition: ConditionDocument | undefined, where: string): CompiledCondition {
  if (condition === undefined) return []
  const checks: Check[] = []
  if (condition.principal !== undefined) {
    const { kinds, authenticators, issuers, ids, scopes } = condition.principal
    const kindSet = kinds && new Set<string>(kinds)
    const authenticatorSet = authenticators && new Set(authenticators)
    const issuerSet = issuers && new Set(issuers)
    const idSet = ids && new Set(ids)
    checks.push({
      name: 'principal',
      test: (principal) => {
        if (kindSet && !kindSet.has(principal.kind)) return FAIL
        if (authenticatorSet && !authenticatorSet.has(principal.authenticator)) return FAIL
        if (issuerSet && (principal.issuer === undefined || !issuerSet.has(principal.issuer))) return FAIL
        if (idSet && !idSet.has(principal.id)) return FAIL
        if (scopes) {
          const held = principal.scopes
          if (!Array.isArray(held)) return FAIL
          for (const scope of scopes) if (!held.includes(scope)) return FAIL
        }
        return PASS
      },
    })
  }
  if (condition.attributes !== undefined) checks.push(...attributeChecks(condition.attributes, 'attributes', where))
  if (condition.context !== undefined) checks.push(...attributeChecks(condition.context, 'context', where))
  if (condition.time !== undefined) checks.push(timeCheck(condition.time, where))
  if (condition.ip !== undefined) checks.push(ipCheck(condition.ip, where))
  if (condition.device !== undefined) {
    const { managed, compliant } = condition.device
    checks.push({
      name: 'device',
      test: (_principal, context) => {
        const device = context.device
        if (device === undefined) return UNKNOWN
        if (managed && device.managed !== true) return device.managed === undefined ? UNKNOWN : FAIL
        if (compliant && device.compliant !== true) return device.compliant === undefined ? UNKNOWN : FAIL
        return PASS
      },
    })
  }
  if (condition.risk !== undefined) {
    const { min, max, missing } = condition.risk
    checks.push({
      name: 'risk',
      test: (principal, context) => {
        const score = riskOf(principal, context)
        if (score === undefined) return missing === 'allow' ? PASS : UNKNOWN
        if (Number.isNaN(score)) return UNKNOWN
        if (min !== undefined && score < min) return FAIL
        return max === undefined || score <= max ? PASS : FAIL
      },
    })
  }
  if (condition.mfa !== undefined) {
    const options = condition.mfa === true ? {} : condition.mfa
    const methods = new Set(options.methods ?? DEFAULT_SECOND_FACTORS)
    const maxAgeMs = options.maxAgeSeconds === undefined ? undefined : options.maxAgeSeconds * 1000
    const acr = options.acr && new Set(options.acr)
    checks.push({
      name: 'mfa',
      test: (principal, _context, now) => {
        const amr = principal.amr
        let strong = false
        if (Array.isArray(amr)) for (const method of amr) if (methods.has(method)) strong = true
        if (!strong) return STEP_UP
        if (acr && (principal.acr === undefined || !acr.has(principal.acr))) return STEP_UP
        if (maxAgeMs !== undefined) {
          const authTime = principal.authTime
          if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return STEP_UP
          // an auth_time in the future (beyond a minute of skew) is not evidence of a fresh login
          if (authTime > now + 60_000 || now - authTime > maxAgeMs) return STEP_UP
        }
        return PASS
      },
    })
  }
  return checks
}
