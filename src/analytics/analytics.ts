// behaviour analytics: baselines, detectors, rate limits, risk score and tiered responses around every call

import { securityEvent } from '../audit/security-event.js'
import type { Revocation } from '../auth/revocation.js'
import type { AuditEvent, AuditOutcome } from '../spec/audit.js'
import type { Principal, RequestContext } from '../spec/auth.js'
import type { Action } from '../spec/policy.js'
import { type MemoryStateKey, type MemoryStateStore, memoryStateStore } from '../state/memory.js'
import type {
  BaselineInput,
  BaselineParameters,
  BaselineState,
  StateOperation,
  StateResult,
  StateStore,
  TakeResult,
  TallyResult,
} from '../state/types.js'
import { caepRevocationSignal } from './caep.js'
import { distanceKm, type LocalTime, localClock } from './geo.js'
import {
  type AnalyticsOptions,
  type Detector,
  type Metric,
  type ResolvedAnalyticsOptions,
  type ResponseTier,
  resolveAnalyticsOptions,
} from './options.js'

/** What the pipeline tells the analytics before a call runs. */
export interface CallInput {
  readonly principal: Principal
  readonly action: Action
  readonly collection?: string
  readonly context: RequestContext
  /** ms since the epoch. */
  readonly now: number
  /** The warden session id, for the audit trail. */
  readonly sessionId?: string
}

/** What the pipeline tells the analytics once a call has an outcome (also for denied and failed calls). */
export interface OutcomeInput {
  readonly principal: Principal
  readonly action: Action
  readonly collection?: string
  readonly outcome: AuditOutcome
  /** Records returned (reads) or written (writes). */
  readonly recordCount?: number
  /** Protected fields decrypted for the caller. */
  readonly fieldsDecrypted?: number
  /** ms since the epoch. */
  readonly now: number
  readonly sessionId?: string
}

/** The pipeline's instruction for the call. */
export type AnalyticsResponse = 'allow' | 'step_up' | 'throttle' | 'deny'

/** The analytics' answer. A decision is a value: the pipeline turns it into an error after auditing. */
export interface AnalyticsVerdict {
  /**
   * `allow`: go on. `step_up`: refuse with `AuthorizationError` reason `step_up_required`. `throttle`: refuse with
   * reason `rate_limited` (see `retryAfterMs`). `deny`: refuse with reason `anomaly_contained`, or
   * `AuthenticationError` reason `revoked` when `revoked`.
   */
  readonly response: AnalyticsResponse
  /** Anomalies for the audit event's `anomalies` (`volume_spike:records`, `off_hours`, `rate_limited:principal`, ...). */
  readonly flags: readonly string[]
  /**
   * The principal's risk score, 0–100; the pipeline puts it in `context.attributes.riskScore` for the policy. From
   * `after`: the score once this call's detections were added, or 0 when nothing fired (the score is read by `before`).
   */
  readonly riskScore: number
  /** For `throttle`: when to try again, ms (-1 when unknown). */
  readonly retryAfterMs?: number
  /** The principal is revoked (now or earlier). */
  readonly revoked: boolean
  /** The shared store was unreachable and local state answered. */
  readonly degraded: boolean
}

/** Behaviour analytics around the pipeline: `before` each call, `after` its outcome. */
export interface Analytics {
  /** Rate limits, containment, off-hours, first access, impossible travel and the risk score, before the call. */
  before(input: CallInput): Promise<AnalyticsVerdict>
  /**
   * Learns from the outcome and raises volume and probing alarms. A `deny` or `throttle` response here means the
   * call that crossed the threshold should not deliver its results.
   */
  after(input: OutcomeInput): Promise<AnalyticsVerdict>
  /** The principal's current risk score. */
  riskScore(principal: Principal, now?: number): Promise<number>
  /** Lifts a containment (step-up, throttle, deny, revoked) set by the analytics, e.g. after an investigation. */
  release(principal: Principal): Promise<void>
  readonly store: StateStore
  /** Releases the analytics' own state. A store passed in `options.store` is the caller's to close. */
  close(): Promise<void>
}

const RANK: { readonly [tier in ResponseTier]: number } = { observe: 0, step_up: 1, throttle: 2, deny: 3, revoke: 4 }

/** The tier a risk score calls for at least: deny above `denyAt`, step-up above `stepUpAt`; flags say which. */
function escalateForRisk(riskScore: number, tier: number, flags: string[], config: { readonly denyAt: number; readonly stepUpAt: number }): number {
  if (riskScore >= config.denyAt && tier < RANK.deny) {
    flags.push('risk_high')
    return RANK.deny
  }
  if (riskScore >= config.stepUpAt && tier < RANK.step_up) {
    flags.push('risk_elevated')
    return RANK.step_up
  }
  return tier
}
const TIERS: readonly ResponseTier[] = ['observe', 'step_up', 'throttle', 'deny', 'revoke']
const CONTAINMENT_FLAGS = ['', 'contained:step_up', 'contained:throttle', 'contained:deny', 'revoked']
/** The answer when nothing is flagged: shared and frozen, so the common case allocates no verdict. */
const NO_FLAGS: readonly string[] = Object.freeze([])
const NO_POSITIONS: readonly number[] = Object.freeze([])
const ALLOW: AnalyticsVerdict = Object.freeze({ response: 'allow', flags: NO_FLAGS, riskScore: 0, revoked: false, degraded: false })
const SEVERITY = ['low', 'medium', 'medium', 'high', 'critical'] as const
const METRIC_FLAG: { readonly [metric in Metric]: string } = {
  calls: 'volume_spike:calls',
  records: 'volume_spike:records',
  fieldsDecrypted: 'volume_spike:fields_decrypted',
  collections: 'volume_spike:collections',
  denies: 'probing',
}

/** The same keys as memory-store slots, for the direct path (a slot remembers its entry). */
interface PrincipalSlots {
  readonly containment: MemoryStateKey
  readonly risk: MemoryStateKey
  readonly hours: MemoryStateKey
  readonly collections: MemoryStateKey
  readonly location: MemoryStateKey
  readonly rate: readonly MemoryStateKey[]
  readonly baseline: MemoryStateKey
}

interface TenantSlots {
  readonly containment: MemoryStateKey
  readonly rate: readonly MemoryStateKey[]
  readonly baseline: MemoryStateKey
}

interface PrincipalKeys {
  /** The keys of the principal's tenant (a principal's tenant never changes). */
  readonly tenant: TenantKeys | undefined
  readonly slots: PrincipalSlots
  readonly containment: string
  readonly risk: string
  readonly hours: string
  readonly collections: string
  readonly location: string
  readonly throttle: string
  readonly fired: string
  readonly rate: readonly string[]
  readonly baseline: string
}

interface TenantKeys {
  readonly slots: TenantSlots
  readonly containment: string
  readonly rate: readonly string[]
  readonly baseline: string
}

/** Where `before` finds each result in its batch, and what it computed on the way. */
interface BeforePlan {
  /** The tenant's containment key when the tenant's tier can contain it (its result is third). */
  readonly tenantLevelKey: string | undefined
  readonly rateStart: number
  readonly rateCount: number
  /** Positions in `rateLimits` of the limits that apply, in the batch's order. */
  readonly rateLimits: readonly number[]
  readonly localTime: LocalTime | undefined
  readonly tallyIndex: number
  readonly addIndex: number
  readonly swapIndex: number
  readonly location: { readonly latitude: number; readonly longitude: number } | undefined
  readonly place: string | undefined
}

interface Detection {
  readonly detector: Detector
  readonly flag: string
  readonly scope: 'principal' | 'tenant'
}

const HOURS: readonly string[] = Array.from({ length: 24 }, (_, hour) => String(hour))

const encode = (value: string | undefined): string => (value === undefined ? '' : encodeURIComponent(value))

// printing a 13-digit timestamp costs more than a map lookup; the millions change every quarter hour, so print
// them once and the rest (a small integer, which V8 prints fast) per call
const ZEROS: readonly string[] = ['', '0', '00', '000', '0000', '00000']
let millionsValue = -1
let millionsText = ''

/**
 * `String(now)`, faster for the integer timestamps of the hot path (internal; exported for its tests).
 *
 * @example
 * ```ts
 * timestampText(1767603600007) // '1767603600007'
 * ```
 */
export function timestampText(now: number): string {
  if (!Number.isInteger(now) || now < 1_000_000 || now > Number.MAX_SAFE_INTEGER) return String(now)
  const millions = Math.floor(now / 1_000_000)
  if (millions !== millionsValue) {
    millionsText = String(millions)
    millionsValue = millions
  }
  const rest = String(now - millions * 1_000_000)
  return millionsText + ZEROS[6 - rest.length] + rest
}

function assertInput(input: { principal?: unknown; now?: unknown }, method: string): void {
  if (typeof input !== 'object' || input === null) throw new TypeError(`analytics.${method}: input must be an object`)
  const principal = input.principal as Principal | undefined
  if (typeof principal !== 'object' || principal === null || typeof principal.id !== 'string') {
    throw new TypeError(`analytics.${method}: input.principal must be a Principal`)
  }
  if (typeof input.now !== 'number' || !Number.isFinite(input.now)) throw new TypeError(`analytics.${method}: input.now must be ms since the epoch`)
}

/**
 * Creates the behaviour analytics: per-principal and per-tenant EWMA baselines with a guard band, detectors
 * (volume spike, off-hours, first access to a collection, probing, impossible travel), token-bucket rate limits,
 * a decaying risk score, and responses in tiers (observe → step_up → throttle → deny → revoke). State lives in the
 * given store: memory for one instance, Redis for a fleet.
 *
 * @example
 * ```ts
 * const analytics = createAnalytics({
 *   rateLimits: [{ scope: 'principal', capacity: 50, refillPerSecond: 5 }],
 *   responses: { volume: 'deny', impossibleTravel: 'step_up' },
 *   audit: emitter,
 * })
 * const verdict = await analytics.before({ principal, action: 'record.query', collection: 'docs', context, now: Date.now() })
 * if (verdict.response !== 'allow') throw refusal(verdict)
 * // ... run the call ...
 * await analytics.after({ principal, action: 'record.query', collection: 'docs', outcome: 'allowed', recordCount: 10, now: Date.now() })
 * ```
 */
export function createAnalytics(options: AnalyticsOptions = {}): Analytics {
  const config: ResolvedAnalyticsOptions = resolveAnalyticsOptions(options)
  const store = options.store ?? memoryStateStore()
  const local = memoryStateStore()
  const onAlarm =
    options.onAlarm ??
    ((alarm: { kind: string; detail: string }) => {
      console.error(`vectorwarden analytics: ${alarm.kind}: ${alarm.detail}`)
    })
  const offHours = config.offHours
  const clock: ((now: number) => LocalTime) | undefined = offHours === null ? undefined : localClock(offHours.timeZone)
  const principalKeyCache = new WeakMap<Principal, PrincipalKeys>()
  // printing two doubles costs more than the rest of a call; a session reuses its context, so cache per object
  const places = new WeakMap<object, string>()
  // one session's calls share one context object: remember the last one in front of the map
  let lastLocation: object | undefined
  let lastPlace = ''
  const placeOf = (location: NonNullable<RequestContext['location']>): string => {
    if (location === lastLocation) return lastPlace
    let place = places.get(location)
    if (place === undefined) {
      place = `${location.latitude},${location.longitude},`
      places.set(location, place)
    }
    lastLocation = location
    lastPlace = place
    return place
  }
  const tenantKeyCache = new Map<string, TenantKeys>()
  const metricCount = config.metrics.length
  const tenantContainment = RANK[config.responses.tenantVolume] >= RANK.step_up
  // the metrics are stored by position, so the key names them: another metric set starts fresh baselines
  const metricSignature = config.metrics.map(({ metric }) => metric).join('.')
  const syncStore = typeof (store as Partial<MemoryStateStore>).direct?.baseline === 'function' ? (store as MemoryStateStore) : undefined
  const windowMs = config.metrics[0]?.parameters.windowMs ?? 3_600_000

  // a principal is immutable for its session and the key strings are the same for every call, so they (and their
  // memory-store slots) are built once per principal object
  const slotOf = (key: string): MemoryStateKey => (syncStore === undefined ? { key } : syncStore.direct.slot(key))

  const principalKeys = (principal: Principal): PrincipalKeys => {
    let keys = principalKeyCache.get(principal)
    if (keys === undefined) {
      // the braces are a Redis Cluster hash tag: one principal's keys share a slot
      const base = `p{${encode(principal.tenant)}|${encode(principal.issuer)}|${encode(principal.id)}}:`
      const rate = config.rateLimits.map((limit) => `${base}rl${limit.index}`)
      const baseline = `${base}b:${metricSignature}`
      keys = {
        tenant: principal.tenant === undefined ? undefined : tenantKeys(principal.tenant),
        slots: {
          containment: slotOf(`${base}c`),
          risk: slotOf(`${base}r`),
          hours: slotOf(`${base}h`),
          collections: slotOf(`${base}s`),
          location: slotOf(`${base}l`),
          rate: rate.map(slotOf),
          baseline: slotOf(baseline),
        },
        containment: `${base}c`,
        risk: `${base}r`,
        hours: `${base}h`,
        collections: `${base}s`,
        location: `${base}l`,
        throttle: `${base}th`,
        fired: `${base}f:`,
        rate,
        baseline,
      }
      principalKeyCache.set(principal, keys)
    }
    return keys
  }

  const tenantKeys = (tenant: string): TenantKeys => {
    let keys = tenantKeyCache.get(tenant)
    if (keys === undefined) {
      if (tenantKeyCache.size >= 10_000) tenantKeyCache.clear()
      const base = `t{${encode(tenant)}}:`
      const rate = config.rateLimits.map((limit) => `${base}rl${limit.index}`)
      const baseline = `${base}b:${metricSignature}`
      keys = {
        slots: { containment: slotOf(`${base}c`), rate: rate.map(slotOf), baseline: slotOf(baseline) },
        containment: `${base}c`,
        rate,
        baseline,
      }
      tenantKeyCache.set(tenant, keys)
    }
    return keys
  }

  // --- store access with the configured failure behaviour -------------------------------------------------------

  let outageSince = 0
  let lastAttempt = 0
  // the store answers with errors (one alarm per streak)
  let rejecting = false

  const emitQuietly = (event: AuditEvent): void => {
    try {
      const result = options.audit?.emit(event)
      if (result instanceof Promise) result.catch(() => {})
    } catch {
      // the alarm hook has already been told; an audit failure here must not hide the outage
    }
  }

  /** Results, or undefined when the store failed and the mode is failClosed. */
  const run = async (operations: StateOperation[]): Promise<{ results: StateResult[]; degraded: boolean } | undefined> => {
    const wall = Date.now()
    if (outageSince !== 0 && wall - lastAttempt < config.retryStoreMs) {
      return config.onStoreFailure === 'degrade' ? { results: local.executeSync(operations), degraded: true } : undefined
    }
    try {
      const results = await store.execute(operations)
      rejecting = false
      if (outageSince !== 0) {
        const seconds = Math.round((wall - outageSince) / 1000)
        outageSince = 0
        onAlarm({ kind: 'state_restored', detail: `state store ${store.name} is back after ${seconds} s` })
        emitQuietly(
          securityEvent(
            'anomaly',
            { reason: 'state_restored', severity: 'medium', detail: `state store ${store.name} reachable again` },
            { source: config.source, now: wall },
          ),
        )
      }
      return { results, degraded: false }
    } catch (error) {
      // a store that answers with an error (out of memory, a wrong type) is reachable, not out: local state would not
      // see what the fleet decided in it (a containment), so the call is denied in either mode
      if ((error as { reason?: unknown }).reason === 'state_rejected') {
        if (!rejecting) {
          rejecting = true
          onAlarm({ kind: 'state_rejected', detail: `state store ${store.name} rejects commands; denying every call` })
        }
        return undefined
      }
      lastAttempt = Date.now()
      if (outageSince === 0) {
        outageSince = lastAttempt
        const what = config.onStoreFailure === 'degrade' ? 'using local state' : 'denying every call'
        onAlarm({ kind: 'state_degraded', detail: `state store ${store.name} unreachable; ${what}` })
        emitQuietly(
          securityEvent(
            'anomaly',
            { reason: 'state_degraded', severity: 'high', detail: `state store ${store.name} unreachable; ${what}` },
            { source: config.source, now: lastAttempt },
          ),
        )
      }
      return config.onStoreFailure === 'degrade' ? { results: local.executeSync(operations), degraded: true } : undefined
    }
  }

  const unavailable = (): AnalyticsVerdict => ({
    response: 'deny',
    flags: ['state_unavailable'],
    riskScore: 100,
    revoked: false,
    degraded: false,
  })

  // --- responses ----------------------------------------------------------------------------------------------

  const actorOf = (principal: Principal, sessionId: string | undefined) => ({
    id: principal.id,
    kind: principal.kind,
    authenticator: principal.authenticator,
    ...(principal.tenant === undefined ? {} : { tenant: principal.tenant }),
    ...(principal.issuer === undefined ? {} : { issuer: principal.issuer }),
    ...(sessionId === undefined ? {} : { session: sessionId }),
    ...(principal.sessionId === undefined ? {} : { idpSession: principal.sessionId }),
    ...(principal.credentialId === undefined ? {} : { credentialId: principal.credentialId }),
  })

  const steppedUp = (principal: Principal, now: number): boolean =>
    principal.authTime !== undefined &&
    now - principal.authTime <= config.stepUpMaxAgeMs &&
    principal.amr?.some((method) => config.stepUpMethods.has(method)) === true

  /** Revokes through the list and tells the hook; returns false when the list failed. */
  const revoke = async (principal: Principal, reason: string, now: number): Promise<boolean> => {
    const expiresAt = now + config.revocationMs
    const entries: Revocation[] = [
      {
        kind: 'subject',
        value: principal.id,
        issuedBefore: now,
        expiresAt,
        reason: `analytics:${reason}`,
        ...(principal.issuer === undefined ? {} : { issuer: principal.issuer }),
      },
    ]
    if (principal.credentialId !== undefined) {
      entries.push({
        kind: principal.authenticator === 'api-key' ? 'api-key' : 'jti',
        value: principal.credentialId,
        expiresAt,
        reason: `analytics:${reason}`,
      })
    }
    if (principal.sessionId !== undefined) {
      entries.push({ kind: 'session', value: principal.sessionId, expiresAt, reason: `analytics:${reason}` })
    }
    let ok = true
    try {
      for (const entry of entries) await options.revocations?.revoke(entry)
    } catch {
      ok = false
    }
    if (options.onRevoke !== undefined) {
      try {
        await options.onRevoke(caepRevocationSignal(principal, reason, { issuer: config.source, now }))
      } catch {
        // the hook is a notification; the revocation stands whatever it does
      }
    }
    return ok
  }

  /**
   * Applies fired detections: raises containment, adds risk (once per detector and window, so a long off-hours
   * session does not snowball), revokes, audits the first firing of each detector in the window.
   */
  const respond = async (
    principal: Principal,
    tenant: string | undefined,
    detections: readonly Detection[],
    flags: string[],
    containmentLevel: number,
    knownRisk: number | undefined,
    collection: string | undefined,
    sessionId: string | undefined,
    now: number,
  ): Promise<{ tier: number; riskScore: number; retryAfterMs: number; revoked: boolean; degraded: boolean } | undefined> => {
    const keys = principalKeys(principal)
    let principalLevel = 0
    let tenantLevel = 0
    let strongest = 0
    for (const detection of detections) {
      if (detection.detector === 'rateLimit') continue
      const rank = RANK[config.responses[detection.detector]]
      if (detection.scope === 'tenant') {
        // a tenant is never revoked by analytics: the strongest tenant-wide response is deny
        const capped = Math.min(rank, RANK.deny)
        if (capped > tenantLevel) tenantLevel = capped
        if (capped > strongest) strongest = capped
      } else {
        if (rank > principalLevel) principalLevel = rank
        if (rank > strongest) strongest = rank
      }
    }
    const window = Math.floor(now / windowMs)
    const operations: StateOperation[] = detections.map((detection) => ({
      kind: 'add',
      key: `${keys.fired}${window}`,
      member: `${detection.scope}:${detection.detector}`,
      ttlMs: windowMs,
    }))
    if (principalLevel >= RANK.step_up) {
      const durationMs = principalLevel === RANK.revoke ? config.revocationMs : config.containmentMs
      operations.push({ kind: 'raise', key: keys.containment, level: principalLevel, now, durationMs })
    }
    if (tenantLevel >= RANK.step_up && tenant !== undefined) {
      operations.push({ kind: 'raise', key: tenantKeys(tenant).containment, level: tenantLevel, now, durationMs: config.containmentMs })
    }
    const throttleIndex = operations.length
    const throttled = principalLevel === RANK.throttle || containmentLevel === RANK.throttle
    if (throttled) {
      operations.push({ kind: 'take', key: keys.throttle, bucket: config.throttle, cost: 1, now, ttlMs: config.containmentMs })
    }
    const first = await run(operations)
    if (first === undefined) return undefined
    let degraded = first.degraded
    const fresh = detections.filter((_, index) => first.results[index] === true)
    let weight = 0
    for (const detection of fresh) weight += config.weights[detection.detector]
    let riskScore = knownRisk ?? 0
    if (weight > 0 || knownRisk === undefined) {
      const second = await run([
        { kind: 'score', key: keys.risk, add: weight, halfLifeMs: config.halfLifeMs, max: 100, now, ttlMs: config.ttlMs },
      ])
      if (second === undefined) return undefined
      riskScore = second.results[0] as number
      degraded ||= second.degraded
    }
    let tier = Math.max(strongest, Math.min(containmentLevel, RANK.deny))
    let retryAfterMs = 0
    if (throttled) {
      const take = first.results[throttleIndex] as TakeResult
      if (!take.allowed) {
        tier = Math.max(tier, RANK.throttle)
        retryAfterMs = take.retryAfterMs
      } else if (tier === RANK.throttle) {
        // a throttled principal still gets the reduced rate
        tier = RANK.observe
      }
    }
    let revoked = containmentLevel === RANK.revoke
    if (!revoked && strongest !== RANK.revoke && riskScore >= config.revokeAt) {
      flags.push('risk_critical')
      strongest = RANK.revoke
      const raised = await run([{ kind: 'raise', key: keys.containment, level: RANK.revoke, now, durationMs: config.revocationMs }])
      if (raised === undefined) return undefined
    }
    if (!revoked && strongest === RANK.revoke) {
      revoked = true
      tier = RANK.revoke
      const reason =
        detections.find((detection) => detection.scope === 'principal' && config.responses[detection.detector] === 'revoke')
          ?.flag ?? 'risk_critical'
      if (!(await revoke(principal, reason, now))) flags.push('revocation_failed')
      flags.push('revoked')
    }
    tier = escalateForRisk(riskScore, tier, flags, config)
    // each detection is audited with the response it caused, once per window; refusals by rate limit are in the
    // pipeline's decision event
    const audited = fresh.filter((detection) => detection.detector !== 'rateLimit')
    if (audited.length > 0 && options.audit !== undefined) {
      const actor = actorOf(principal, sessionId)
      try {
        for (const detection of audited) {
          const detectionTier = config.responses[detection.detector]
          const event = securityEvent(
            revoked && detection.scope === 'principal' && detectionTier === 'revoke' ? 'revocation' : 'anomaly',
            {
              reason: detection.flag,
              detail: `${detection.detector} detection (${detection.scope}); response ${detectionTier}; risk ${Math.round(riskScore)}`,
              severity: SEVERITY[RANK[detectionTier]],
              actor,
              anomalies: flags.slice(),
              ...(collection === undefined ? {} : { request: { collection } }),
              ...(detection.scope === 'tenant' && tenant !== undefined ? { target: { id: tenant, kind: 'tenant' } } : {}),
            },
            { source: config.source, now, ...(collection === undefined ? {} : { subject: collection }) },
          )
          await options.audit.emit(event)
        }
      } catch {
        flags.push('audit_unavailable')
        tier = Math.max(tier, RANK.deny)
      }
    }
    return { tier, riskScore, retryAfterMs, revoked, degraded }
  }

  const verdictOf = (
    tier: number,
    flags: readonly string[],
    riskScore: number,
    retryAfterMs: number,
    revoked: boolean,
    degraded: boolean,
    principal: Principal,
    now: number,
  ): AnalyticsVerdict => {
    let response: AnalyticsResponse
    if (revoked || tier >= RANK.deny) response = 'deny'
    else if (tier === RANK.throttle) response = 'throttle'
    else if (tier === RANK.step_up) response = steppedUp(principal, now) ? 'allow' : 'step_up'
    else response = 'allow'
    const rounded = Math.round(riskScore * 100) / 100
    // the common answer shares one frozen verdict instead of allocating one per call
    if (response === 'allow' && flags.length === 0 && rounded === 0 && !revoked && !degraded) return ALLOW
    const verdict: { -readonly [K in keyof AnalyticsVerdict]: AnalyticsVerdict[K] } = {
      response,
      flags,
      riskScore: rounded,
      revoked,
      degraded,
    }
    if (response === 'throttle') verdict.retryAfterMs = retryAfterMs
    return verdict
  }

  // --- the two hooks --------------------------------------------------------------------------------------------
  //
  // With a healthy in-memory store both hooks call its `direct` operations: no operation objects, no result
  // objects for the baselines, no promise per operation. Any other store (Redis: one pipeline per hook) goes
  // through `run` and its failure behaviour, as does a store in outage.

  /** The metrics of one call, in the order of `config.metrics`, as batch operations want them. */
  const metricsOf = (
    records: number,
    fields: number,
    denied: number,
    collection: string | undefined,
  ): BaselineInput[] => {
    const inputs: BaselineInput[] = new Array(metricCount)
    for (let index = 0; index < metricCount; index++) {
      const { metric, parameters } = config.metrics[index] as (typeof config.metrics)[number]
      if (metric === 'records') inputs[index] = { value: records, parameters }
      else if (metric === 'fieldsDecrypted') inputs[index] = { value: fields, parameters }
      else if (metric === 'denies') inputs[index] = { value: denied, parameters }
      else if (metric === 'collections') {
        inputs[index] = collection === undefined ? { value: 0, parameters } : { value: 1, member: collection, parameters }
      } else inputs[index] = { value: 1, parameters }
    }
    return inputs
  }

  // the same metrics for the direct path: values in a scratch buffer (the direct path is synchronous, so one
  // buffer serves every call), parameters and the distinct-counting metric fixed at construction
  const metricKinds: readonly Metric[] = config.metrics.map(({ metric }) => metric)
  const metricParameters: readonly BaselineParameters[] = config.metrics.map(({ parameters }) => parameters)
  const memberIndex = metricKinds.indexOf('collections')
  const metricValues = new Float64Array(metricCount)

  /** Reads the results of `before`'s operations (at the positions `plan` gives) into detections and a verdict. */
  const concludeBefore = (
    input: CallInput,
    plan: BeforePlan,
    results: StateResult[],
    storeDegraded: boolean,
  ): AnalyticsVerdict | Promise<AnalyticsVerdict> => {
    const { principal, now } = input
    const tenant = principal.tenant
    const { tenantLevelKey, rateStart, rateCount, rateLimits, localTime, tallyIndex, addIndex, swapIndex, location, place } = plan
    const flags: string[] = []
    const detections: Detection[] = []
    const ownLevel = Number(results[0] ?? 0) || 0
    let containmentLevel = ownLevel
    if (tenantLevelKey !== undefined) {
      const tenantLevel = Number(results[2] ?? 0) || 0
      if (tenantLevel > 0) flags.push(`tenant_${CONTAINMENT_FLAGS[Math.min(tenantLevel, 3)]}`)
      if (tenantLevel > containmentLevel) containmentLevel = Math.min(tenantLevel, 3)
    }
    if (containmentLevel > 0 && ownLevel > 0) flags.push(CONTAINMENT_FLAGS[ownLevel] ?? 'contained')
    const riskScore = results[1] as number
    let retryAfterMs = 0
    let limited = false
    for (let index = 0; index < rateCount; index++) {
      const take = results[rateStart + index] as TakeResult
      if (take.allowed) continue
      limited = true
      const limit = config.rateLimits[rateLimits[index] as number] as (typeof config.rateLimits)[number]
      const flag = `rate_limited:${limit.scope}`
      if (!flags.includes(flag)) flags.push(flag)
      if (take.retryAfterMs > retryAfterMs) retryAfterMs = take.retryAfterMs
    }
    if (limited) detections.push({ detector: 'rateLimit', flag: 'rate_limited', scope: 'principal' })
    if (offHours !== null && localTime !== undefined && tallyIndex >= 0) {
      let off: boolean
      if (offHours.mode === 'window') {
        const { startHour, endHour, days } = offHours
        const hour = localTime.hour
        const inHours = startHour < endHour ? hour >= startHour && hour < endHour : hour >= startHour || hour < endHour
        off = !inHours || !days.has(localTime.weekday)
      } else {
        const tally = results[tallyIndex] as TallyResult
        off = tally.total >= offHours.minSamples && tally.field / tally.total < offHours.minShare
      }
      if (off) {
        flags.push('off_hours')
        detections.push({ detector: 'offHours', flag: 'off_hours', scope: 'principal' })
      }
    }
    if (addIndex >= 0 && results[addIndex] === true && config.firstAccess !== null) {
      const calls = tallyIndex >= 0 ? (results[tallyIndex] as TallyResult).total : 0
      if (calls >= config.firstAccess.minCalls) {
        flags.push('first_collection_access')
        detections.push({ detector: 'firstAccess', flag: 'first_collection_access', scope: 'principal' })
      }
    }
    const previous = swapIndex >= 0 ? results[swapIndex] : undefined
    // the same place as last time cannot be a jump: skip parsing and trigonometry
    if (
      typeof previous === 'string' &&
      location !== undefined &&
      place !== undefined &&
      config.impossibleTravel !== null &&
      !previous.startsWith(place)
    ) {
      const [latitude, longitude, at] = previous.split(',').map(Number) as [number, number, number]
      const distance = distanceKm(latitude, longitude, location.latitude, location.longitude)
      const hours = (now - at) / 3_600_000
      if (distance > config.impossibleTravel.minKm && (hours <= 0 || distance / hours > config.impossibleTravel.maxKmh)) {
        flags.push('impossible_travel')
        detections.push({ detector: 'impossibleTravel', flag: 'impossible_travel', scope: 'principal' })
      }
    }

    let tier = limited ? RANK.throttle : 0
    const revoked = containmentLevel === RANK.revoke
    if (detections.length > 0 || containmentLevel === RANK.throttle) {
      return respond(
        principal,
        tenant,
        detections,
        flags,
        containmentLevel,
        riskScore,
        input.collection,
        input.sessionId,
        now,
      ).then((responded) => {
        if (responded === undefined) return unavailable()
        const degraded = storeDegraded || responded.degraded
        if (degraded) flags.push('state_degraded')
        return verdictOf(
          Math.max(tier, responded.tier),
          flags,
          responded.riskScore,
          Math.max(retryAfterMs, responded.retryAfterMs),
          responded.revoked,
          degraded,
          principal,
          now,
        )
      })
    }
    if (containmentLevel > 0) tier = Math.max(tier, Math.min(containmentLevel, RANK.deny))
    tier = escalateForRisk(riskScore, tier, flags, config)
    if (storeDegraded) flags.push('state_degraded')
    return verdictOf(tier, flags, riskScore, retryAfterMs, revoked, storeDegraded, principal, now)
  }

  // the rate limits that apply to an action, as positions in config.rateLimits: [principal without a tenant, with one]
  const applicableLimits = new Map<string, readonly [readonly number[], readonly number[]]>()
  const limitsFor = (action: Action, hasTenant: boolean): readonly number[] => {
    let lists = applicableLimits.get(action)
    if (lists === undefined) {
      // actions are a closed set; the bound only guards against callers that pass anything
      if (applicableLimits.size >= 64) applicableLimits.clear()
      const all: number[] = []
      config.rateLimits.forEach((limit, position) => {
        if (limit.actions === undefined || limit.actions.has(action)) all.push(position)
      })
      lists = [all.filter((position) => config.rateLimits[position]?.scope === 'principal'), all]
      applicableLimits.set(action, lists)
    }
    return lists[hasTenant ? 1 : 0]
  }

  const before = (input: CallInput): Promise<AnalyticsVerdict> => {
    assertInput(input, 'before')
    const { principal, now } = input
    const keys = principalKeys(principal)
    const tenantKey = keys.tenant
    // a tenant is only ever contained when its tier says so; otherwise the lookup is saved
    const tenantLevelKey = tenantContainment && tenantKey !== undefined ? tenantKey.containment : undefined
    const rateStart = tenantLevelKey === undefined ? 2 : 3
    const rateLimits = config.rateLimits.length === 0 ? NO_POSITIONS : limitsFor(input.action, tenantKey !== undefined)
    const rateCount = rateLimits.length
    const tallies = clock !== undefined || config.firstAccess !== null
    const localTime: LocalTime | undefined = clock?.(now)
    const hourField = HOURS[localTime?.hour ?? 0] as string
    const member = config.firstAccess !== null && typeof input.collection === 'string' ? input.collection : undefined
    const reported = input.context?.location
    const location =
      config.impossibleTravel !== null &&
      reported !== undefined &&
      Number.isFinite(reported.latitude) &&
      Number.isFinite(reported.longitude)
        ? reported
        : undefined
    const place = location === undefined ? undefined : placeOf(location)
    const tallyIndex = tallies ? rateStart + rateCount : -1
    const addIndex = member === undefined ? -1 : rateStart + rateCount + (tallies ? 1 : 0)
    const swapIndex = place === undefined ? -1 : rateStart + rateCount + (tallies ? 1 : 0) + (member === undefined ? 0 : 1)

    const plan: BeforePlan = { tenantLevelKey, rateStart, rateCount, rateLimits, localTime, tallyIndex, addIndex, swapIndex, location, place }
    if (syncStore !== undefined && outageSince === 0) {
      // the same operations in the same order as the batch below, so `conclude` reads the same positions
      const direct = syncStore.direct
      let results: StateResult[] | undefined
      try {
        const wall = direct.wallClock()
        const slots = keys.slots
        results = [
          direct.raise(slots.containment, 0, now, 0, wall),
          direct.score(slots.risk, 0, config.halfLifeMs, 100, now, config.ttlMs, wall),
        ]
        if (tenantLevelKey !== undefined && tenantKey !== undefined) results.push(direct.raise(tenantKey.slots.containment, 0, now, 0, wall))
        for (let index = 0; index < rateCount; index++) {
          const limit = config.rateLimits[rateLimits[index] as number] as (typeof config.rateLimits)[number]
          const slot = limit.scope === 'principal' ? slots.rate[limit.index] : tenantKey?.slots.rate[limit.index]
          results.push(direct.take(slot as MemoryStateKey, limit.bucket, 1, now, limit.ttlMs, wall))
        }
        if (tallies) results.push(direct.tally(slots.hours, hourField, config.ttlMs, wall))
        if (member !== undefined) results.push(direct.add(slots.collections, member, config.ttlMs, wall))
        if (place !== undefined) results.push(direct.travel(slots.location, place, now, config.ttlMs, wall))
      } catch {
        results = undefined
      }
      if (results !== undefined) {
        try {
          const verdict = concludeBefore(input, plan, results, false)
          return verdict instanceof Promise ? verdict : Promise.resolve(verdict)
        } catch (error) {
          return Promise.reject(error)
        }
      }
    }
    const operations: StateOperation[] = [
      { kind: 'raise', key: keys.containment, level: 0, now, durationMs: 0 },
      { kind: 'score', key: keys.risk, add: 0, halfLifeMs: config.halfLifeMs, max: 100, now, ttlMs: config.ttlMs },
    ]
    if (tenantLevelKey !== undefined) operations.push({ kind: 'raise', key: tenantLevelKey, level: 0, now, durationMs: 0 })
    for (let index = 0; index < rateCount; index++) {
      const limit = config.rateLimits[rateLimits[index] as number] as (typeof config.rateLimits)[number]
      const key = (limit.scope === 'principal' ? keys.rate[limit.index] : tenantKey?.rate[limit.index]) as string
      operations.push({ kind: 'take', key, bucket: limit.bucket, cost: 1, now, ttlMs: limit.ttlMs })
    }
    if (tallies) operations.push({ kind: 'tally', key: keys.hours, field: hourField, ttlMs: config.ttlMs })
    if (member !== undefined) operations.push({ kind: 'add', key: keys.collections, member, ttlMs: config.ttlMs })
    if (place !== undefined) operations.push({ kind: 'swap', key: keys.location, value: place + timestampText(now), ttlMs: config.ttlMs })
    return run(operations).then((outcome) =>
      outcome === undefined ? unavailable() : concludeBefore(input, plan, outcome.results, outcome.degraded),
    )
  }

  const after = (input: OutcomeInput): Promise<AnalyticsVerdict> => {
    assertInput(input, 'after')
    const { principal, now } = input
    if (metricCount === 0) return Promise.resolve(ALLOW)
    const keys = principalKeys(principal)
    const tenant = config.tenantBaselines ? principal.tenant : undefined
    const tenantKey = tenant === undefined ? undefined : keys.tenant
    const records = Number.isFinite(input.recordCount) ? (input.recordCount as number) : 0
    const fields = Number.isFinite(input.fieldsDecrypted) ? (input.fieldsDecrypted as number) : 0
    const denied = input.outcome === 'denied' ? 1 : 0
    const collection = typeof input.collection === 'string' ? input.collection : undefined
    if (syncStore !== undefined && outageSince === 0) {
      let principalAlarms = -1
      let tenantAlarms = 0
      try {
        for (let index = 0; index < metricCount; index++) {
          const metric = metricKinds[index]
          metricValues[index] =
            metric === 'records'
              ? records
              : metric === 'fieldsDecrypted'
                ? fields
                : metric === 'denies'
                  ? denied
                  : metric === 'collections'
                    ? collection === undefined
                      ? 0
                      : 1
                    : 1
        }
        const direct = syncStore.direct
        const wall = direct.wallClock()
        const { ttlMs } = config
        principalAlarms = direct.baseline(keys.slots.baseline, metricParameters, metricValues, memberIndex, collection, now, ttlMs, wall)
        if (tenantKey !== undefined) {
          tenantAlarms = direct.baseline(tenantKey.slots.baseline, metricParameters, metricValues, memberIndex, collection, now, ttlMs, wall)
        }
      } catch {
        principalAlarms = -1
      }
      if (principalAlarms >= 0) {
        try {
          const verdict = concludeAfter(input, principalAlarms, tenantAlarms, false)
          return verdict instanceof Promise ? verdict : Promise.resolve(verdict)
        } catch (error) {
          return Promise.reject(error)
        }
      }
    }
    const metrics = metricsOf(records, fields, denied, collection)
    const operations: StateOperation[] = [{ kind: 'baseline', key: keys.baseline, metrics, now, ttlMs: config.ttlMs }]
    if (tenantKey !== undefined) operations.push({ kind: 'baseline', key: tenantKey.baseline, metrics, now, ttlMs: config.ttlMs })
    return run(operations).then((outcome) =>
      outcome === undefined
        ? unavailable()
        : concludeAfter(input, alarmsOf(outcome.results[0]), alarmsOf(outcome.results[1]), outcome.degraded),
    )
  }

  /** Bit `i` set when metric `i`'s window is in alarm (there are at most five metrics). */
  const alarmsOf = (result: StateResult | undefined): number => {
    if (!Array.isArray(result)) return 0
    let alarms = 0
    for (let index = 0; index < result.length; index++) {
      if ((result[index] as BaselineState).alarmed) alarms |= 1 << index
    }
    return alarms
  }

  const concludeAfter = (
    input: OutcomeInput,
    principalAlarms: number,
    tenantAlarms: number,
    storeDegraded: boolean,
  ): AnalyticsVerdict | Promise<AnalyticsVerdict> => {
    const { principal, now } = input
    if ((principalAlarms | tenantAlarms) === 0) {
      return verdictOf(0, storeDegraded ? ['state_degraded'] : NO_FLAGS, 0, 0, false, storeDegraded, principal, now)
    }
    const flags: string[] = []
    const detections: Detection[] = []
    for (let scope = 0; scope < 2; scope++) {
      const alarms = scope === 0 ? principalAlarms : tenantAlarms
      const isTenant = scope === 1
      for (let index = 0; index < metricCount; index++) {
        if ((alarms & (1 << index)) === 0) continue
        const metric = metricKinds[index] as Metric
        const flag = isTenant ? `tenant_${METRIC_FLAG[metric]}` : METRIC_FLAG[metric]
        flags.push(flag)
        // every call of an alarmed window keeps the containment in force; risk and audit count the window once
        const detector: Detector = isTenant ? 'tenantVolume' : metric === 'denies' ? 'probing' : 'volume'
        detections.push({ detector, flag, scope: isTenant ? 'tenant' : 'principal' })
      }
    }
    return respond(principal, principal.tenant, detections, flags, 0, undefined, input.collection, input.sessionId, now).then(
      (responded) => {
        if (responded === undefined) return unavailable()
        const degraded = storeDegraded || responded.degraded
        if (degraded) flags.push('state_degraded')
        // the call that crossed the threshold is contained too: the pipeline withholds its results
        let tier = responded.tier
        for (const detection of detections) {
          const rank = RANK[config.responses[detection.detector]]
          tier = Math.max(tier, detection.scope === 'tenant' ? Math.min(rank, RANK.deny) : rank)
        }
        if (responded.revoked) tier = RANK.revoke
        const retryAfterMs = responded.retryAfterMs > 0 ? responded.retryAfterMs : -1
        return verdictOf(tier, flags, responded.riskScore, retryAfterMs, responded.revoked, degraded, principal, now)
      },
    )
  }

  return {
    before,
    after,
    store,
    riskScore: async (principal, now = Date.now()) => {
      const keys = principalKeys(principal)
      const outcome = await run([{ kind: 'score', key: keys.risk, add: 0, halfLifeMs: config.halfLifeMs, max: 100, now, ttlMs: config.ttlMs }])
      return outcome === undefined ? 100 : (outcome.results[0] as number)
    },
    release: async (principal) => {
      const keys = principalKeys(principal)
      await store.execute([
        { kind: 'delete', key: keys.containment },
        { kind: 'delete', key: keys.throttle },
        { kind: 'delete', key: keys.risk },
      ])
    },
    close: async () => {
      // a store passed in may be shared (with a revocation list, with other wardens): only the default is ours
      if (options.store === undefined) await store.close()
      await local.close()
    },
  }
}

/** The tiers in order, weakest first. */
export const RESPONSE_TIERS: readonly ResponseTier[] = TIERS
