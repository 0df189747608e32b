// combining decision points (all-of, first-applicable) and wrapping a function, so Cerbos, OPA or OpenFGA plug in

import { assertPositiveFilter, matchesNothing, nestFilters } from '../filter/index.js'
import type { FilterNode } from '../spec/filter.js'
import type { Decision, FieldSet, Obligations, PolicyDecisionPoint, PolicyRequest } from '../spec/policy.js'
import type { MetadataValue } from '../spec/records.js'

/**
 * Deny codes that mean "this decision point has nothing to say", so `firstApplicable` asks the next one.
 *
 * @example
 * ```ts
 * NOT_APPLICABLE_CODES.has('no_matching_rule') // true
 * ```
 */
export const NOT_APPLICABLE_CODES: ReadonlySet<string> = new Set(['no_matching_rule', 'not_applicable'])

type Identity = { readonly id: string; readonly version: string }

function denyDecision(code: string, reasons: readonly string[], policy: Identity, matchedRules: readonly string[] = []): Decision {
  return { effect: 'deny', code, reasons, matchedRules, policy }
}

const FILTER_KINDS = new Set(['and', 'or', 'cmp', 'in', 'exists', 'all', 'none'])

function isFieldSet(value: unknown): value is FieldSet {
  return value === '*' || (Array.isArray(value) && value.every((field) => typeof field === 'string'))
}

function isLimit(value: unknown): boolean {
  return value === undefined || (typeof value === 'number' && Number.isSafeInteger(value) && value > 0)
}

/** Checks a decision from outside the built-in engine; anything malformed becomes a deny. */
function validateDecision(decision: unknown, member: Identity): Decision {
  if (typeof decision !== 'object' || decision === null) {
    return denyDecision('invalid_decision', [`decision point '${member.id}' returned no decision`], member)
  }
  const candidate = decision as Partial<Decision> & { obligations?: Partial<Obligations> }
  if (candidate.effect === 'deny') {
    return {
      effect: 'deny',
      code: typeof candidate.code === 'string' && candidate.code !== '' ? candidate.code : 'denied',
      reasons: Array.isArray(candidate.reasons) ? candidate.reasons.filter((reason) => typeof reason === 'string') : [],
      matchedRules: Array.isArray(candidate.matchedRules) ? candidate.matchedRules.filter((rule) => typeof rule === 'string') : [],
      policy: candidate.policy ?? member,
    }
  }
  if (candidate.effect !== 'allow') {
    return denyDecision('invalid_decision', [`decision point '${member.id}' returned an unknown effect`], member)
  }
  const obligations = candidate.obligations
  const rowFilter = obligations?.rowFilter
  const valid =
    typeof obligations === 'object' &&
    obligations !== null &&
    (rowFilter === null || (typeof rowFilter === 'object' && FILTER_KINDS.has((rowFilter as FilterNode).kind))) &&
    typeof obligations.stamp === 'object' &&
    obligations.stamp !== null &&
    isFieldSet(obligations.readableFields) &&
    isFieldSet(obligations.writableFields) &&
    isFieldSet(obligations.decryptableFields) &&
    typeof obligations.readVectors === 'boolean' &&
    isLimit(obligations.maxTopK) &&
    isLimit(obligations.maxIds) &&
    isLimit(obligations.maxDelete)
  if (!valid) return denyDecision('invalid_decision', [`decision point '${member.id}' returned malformed obligations`], member)
  try {
    if (rowFilter) assertPositiveFilter(rowFilter, `row filter of decision point '${member.id}'`)
  } catch {
    return denyDecision('invalid_decision', [`decision point '${member.id}' returned a row filter that is not a positive allow-list`], member)
  }
  return candidate as Decision
}

function safeDecide(pdp: PolicyDecisionPoint, request: PolicyRequest): Decision | Promise<Decision> {
  const member = { id: pdp.id, version: pdp.version }
  const failed = () => denyDecision('pdp_error', [`decision point '${pdp.id}' failed`], member)
  try {
    const result = pdp.decide(request)
    if (result instanceof Promise) return result.then((decision) => validateDecision(decision, member), failed)
    return validateDecision(result, member)
  } catch {
    return failed()
  }
}

function intersectFields(a: FieldSet, b: FieldSet): FieldSet {
  if (a === '*') return b
  if (b === '*') return a
  return a.filter((field) => b.includes(field))
}

function minLimit(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}

function sameStamp(a: MetadataValue, b: MetadataValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((value, index) => value === b[index])
  return a === b
}

function combineAll(decisions: readonly Decision[], members: readonly PolicyDecisionPoint[], identity: Identity): Decision {
  const matchedRules: string[] = []
  decisions.forEach((decision, index) => {
    for (const rule of decision.matchedRules) matchedRules.push(`${members[index]?.id}:${rule}`)
  })
  for (const decision of decisions) {
    if (decision.effect === 'deny') return { ...decision, matchedRules, policy: identity }
  }
  let rowFilter: FilterNode | null = null
  let stamp: Record<string, MetadataValue> = {}
  let readable: FieldSet = '*'
  let writable: FieldSet = '*'
  let decryptable: FieldSet = '*'
  let readVectors = true
  let maxTopK: number | undefined
  let maxIds: number | undefined
  let maxDelete: number | undefined
  for (const decision of decisions) {
    if (decision.effect !== 'allow') continue
    const obligations = decision.obligations
    // deny-all from any member stays deny-all, whichever side of the nesting it lands on
    if (matchesNothing(rowFilter) || matchesNothing(obligations.rowFilter)) rowFilter = { kind: 'none' }
    else rowFilter = rowFilter === null ? obligations.rowFilter : nestFilters(rowFilter, obligations.rowFilter)
    for (const [field, value] of Object.entries(obligations.stamp)) {
      const existing = stamp[field]
      if (existing !== undefined && !sameStamp(existing, value)) {
        return denyDecision('conflicting_obligations', [`decision points stamp field '${field}' differently`], identity, matchedRules)
      }
      stamp = { ...stamp, [field]: value }
    }
    readable = intersectFields(readable, obligations.readableFields)
    writable = intersectFields(writable, obligations.writableFields)
    decryptable = intersectFields(decryptable, obligations.decryptableFields)
    readVectors &&= obligations.readVectors
    maxTopK = minLimit(maxTopK, obligations.maxTopK)
    maxIds = minLimit(maxIds, obligations.maxIds)
    maxDelete = minLimit(maxDelete, obligations.maxDelete)
  }
  return {
    effect: 'allow',
    obligations: {
      rowFilter,
      stamp,
      readableFields: readable,
      writableFields: writable,
      decryptableFields: decryptable,
      readVectors,
      maxTopK,
      maxIds,
      maxDelete,
    },
    matchedRules,
    policy: identity,
  }
}

function checkMembers(name: string, members: readonly PolicyDecisionPoint[]): void {
  if (members.length === 0) throw new TypeError(`${name}: needs at least one decision point`)
  for (const member of members) {
    if (typeof member !== 'object' || member === null || typeof member.decide !== 'function' || typeof member.id !== 'string') {
      throw new TypeError(`${name}: every argument must be a policy decision point`)
    }
  }
}

function combinedIdentity(name: string, members: readonly PolicyDecisionPoint[]): Identity {
  return {
    id: `${name}(${members.map((member) => member.id).join(',')})`,
    version: members.map((member) => `${member.id}@${member.version}`).join('+'),
  }
}

/**
 * A decision point that allows only when every member allows; obligations combine to the strictest: row filters
 * nested with AND, field sets intersected, vectors only if all allow them, the lowest limits. Members run in order;
 * a member that throws denies.
 *
 * @example
 * ```ts
 * const policy = allOf(definePolicy(document), functionPolicy(askOpa, { id: 'opa' }))
 * ```
 */
export function allOf(...members: PolicyDecisionPoint[]): PolicyDecisionPoint {
  checkMembers('allOf', members)
  const identity = combinedIdentity('allOf', members)
  return {
    ...identity,
    decide(request) {
      const results = members.map((member) => safeDecide(member, request))
      if (results.some((result) => result instanceof Promise)) {
        return Promise.all(results).then((decisions) => combineAll(decisions, members, identity))
      }
      return combineAll(results as Decision[], members, identity)
    },
  }
}

/**
 * A decision point that answers with the first member whose decision applies: an allow, or a deny whose code is
 * not in {@link NOT_APPLICABLE_CODES}. A member that throws denies (it does not fall through to the next one).
 *
 * @example
 * ```ts
 * const policy = firstApplicable(breakGlassPolicy, definePolicy(document))
 * ```
 */
export function firstApplicable(...members: PolicyDecisionPoint[]): PolicyDecisionPoint {
  checkMembers('firstApplicable', members)
  const identity = combinedIdentity('firstApplicable', members)
  const finish = (decision: Decision, member: PolicyDecisionPoint): Decision => ({
    ...decision,
    matchedRules: decision.matchedRules.map((rule) => `${member.id}:${rule}`),
    policy: identity,
  })
  const notApplicable = (): Decision =>
    denyDecision('no_matching_rule', ['no decision point applies to the request'], identity)
  const applies = (decision: Decision) => decision.effect === 'allow' || !NOT_APPLICABLE_CODES.has(decision.code)
  const continueAsync = async (request: PolicyRequest, from: number, pending: Promise<Decision>): Promise<Decision> => {
    const first = await pending
    if (applies(first)) return finish(first, members[from] as PolicyDecisionPoint)
    for (let index = from + 1; index < members.length; index++) {
      const member = members[index] as PolicyDecisionPoint
      const decision = await safeDecide(member, request)
      if (applies(decision)) return finish(decision, member)
    }
    return notApplicable()
  }
  return {
    ...identity,
    decide(request) {
      for (let index = 0; index < members.length; index++) {
        const member = members[index] as PolicyDecisionPoint
        const result = safeDecide(member, request)
        if (result instanceof Promise) return continueAsync(request, index, result)
        if (applies(result)) return finish(result, member)
      }
      return notApplicable()
    },
  }
}

/**
 * What a policy function may return.
 *
 * @example
 * ```ts
 * const answer: FunctionPolicyResult = { effect: 'deny', code: 'denied_by_opa' }
 * ```
 */
export type FunctionPolicyResult =
  | boolean
  | { readonly effect: 'deny'; readonly code?: string; readonly reasons?: readonly string[]; readonly matchedRules?: readonly string[] }
  | { readonly effect: 'allow'; readonly obligations?: Partial<Obligations>; readonly matchedRules?: readonly string[] }

/**
 * Options of {@link functionPolicy}.
 *
 * @example
 * ```ts
 * const options: FunctionPolicyOptions = { id: 'opa', version: 'bundle-42', defaults: { readVectors: false } }
 * ```
 */
export interface FunctionPolicyOptions {
  readonly id?: string
  readonly version?: string
  /** Obligations for an allow that leaves some out. Default: no row filter, every field readable and writable, none decryptable, no vectors. */
  readonly defaults?: Partial<Obligations>
}

/**
 * Wraps a function as a decision point: the bridge to Cerbos, OPA, OpenFGA or code of your own. `true` allows with
 * the default obligations, `false` denies; an allow may give obligations (a row filter as a filter AST, e.g. from
 * `parseFilter`, must be a positive allow-list). A throw, a rejected promise or a malformed answer denies.
 *
 * @example
 * ```ts
 * const opa = functionPolicy(async (request) => {
 *   const { result } = await fetch(opaUrl, { method: 'POST', body: JSON.stringify({ input: request }) }).then((r) => r.json())
 *   return result.allow ? { effect: 'allow', obligations: { rowFilter: parseFilter(result.filter) } } : false
 * }, { id: 'opa', version: 'bundle-42' })
 * ```
 */
export function functionPolicy(
  decide: (request: PolicyRequest) => FunctionPolicyResult | Promise<FunctionPolicyResult>,
  options: FunctionPolicyOptions = {},
): PolicyDecisionPoint {
  if (typeof decide !== 'function') throw new TypeError('functionPolicy: expected a function')
  const identity: Identity = { id: options.id ?? 'function', version: options.version ?? '1' }
  const defaults: Obligations = {
    rowFilter: null,
    stamp: {},
    readableFields: '*',
    writableFields: '*',
    decryptableFields: [],
    readVectors: false,
    ...options.defaults,
  }
  const normalize = (result: FunctionPolicyResult): Decision => {
    if (result === true) return { effect: 'allow', obligations: defaults, matchedRules: [], policy: identity }
    if (result === false || result === undefined || result === null) {
      return denyDecision('denied_by_function', [`decision point '${identity.id}' denied`], identity)
    }
    if (result.effect === 'allow') {
      return validateDecision(
        { effect: 'allow', obligations: { ...defaults, ...result.obligations }, matchedRules: result.matchedRules ?? [], policy: identity },
        identity,
      )
    }
    return validateDecision({ ...result, policy: identity }, identity)
  }
  return {
    ...identity,
    decide(request) {
      try {
        const result = decide(request)
        if (result instanceof Promise) {
          return result.then(normalize, () => denyDecision('pdp_error', [`decision point '${identity.id}' failed`], identity))
        }
        return normalize(result)
      } catch {
        return denyDecision('pdp_error', [`decision point '${identity.id}' failed`], identity)
      }
    },
  }
}
