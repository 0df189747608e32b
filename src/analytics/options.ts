// the analytics configuration: validated once by zod at createAnalytics, resolved into plain values for the hot path

import { z } from 'zod'
import type { RevocationList } from '../auth/revocation.js'
import { ConfigError } from '../errors.js'
import type { AuditEvent } from '../spec/audit.js'
import { ACTIONS, type Action } from '../spec/policy.js'
import type { BaselineParameters, BucketParameters, StateStore } from '../state/types.js'
import type { CaepSignal } from './caep.js'

/** What a detection does, weakest to strongest. */
export type ResponseTier = 'observe' | 'step_up' | 'throttle' | 'deny' | 'revoke'

/** The detectors, each with its own response tier and risk weight. */
export type Detector = 'volume' | 'tenantVolume' | 'offHours' | 'firstAccess' | 'probing' | 'impossibleTravel' | 'rateLimit'

/** The metrics learned per principal and per tenant, one total per window. */
export type Metric = 'calls' | 'records' | 'fieldsDecrypted' | 'collections' | 'denies'

/** Per-metric bounds on the alarm threshold. */
export interface MetricOptions {
  /** Learn and watch this metric. Default true. */
  readonly enabled?: boolean
  /** The threshold is never below this (a quiet principal does not alarm at 4 records). */
  readonly floor?: number
  /** The threshold is never above this, even while learning. 0 = none. */
  readonly ceiling?: number
}

/** A token bucket applied to calls. */
export interface RateLimitOptions {
  /** Whose calls share the bucket. */
  readonly scope: 'principal' | 'tenant'
  /** Only these actions take tokens from it; all actions when absent. */
  readonly actions?: readonly Action[]
  readonly capacity: number
  readonly refillPerSecond: number
}

/** When working hours are. */
export type OffHoursOptions =
  | {
      /** Learn each principal's hours: an hour holding less than `minShare` of the calls is off-hours. */
      readonly mode: 'learned'
      /** Calls seen before the detector speaks. Default 200. */
      readonly minSamples?: number
      /** Default 0.01. */
      readonly minShare?: number
      /** IANA zone the hours are counted in. Default `UTC`. */
      readonly timeZone?: string
    }
  | {
      /** A fixed working window, the same for everyone. */
      readonly mode: 'window'
      /** IANA time zone, e.g. `Europe/Paris`. */
      readonly timeZone: string
      /** First working hour, 0–23. */
      readonly startHour: number
      /** First hour after work, 1–24 (may be below `startHour` for a night shift). */
      readonly endHour: number
      /** Working days, 0 = Sunday. Default Monday–Friday. */
      readonly days?: readonly number[]
    }

/** Options of `createAnalytics`. Every field is optional; the defaults are in `docs/analytics.md`. */
export interface AnalyticsOptions {
  /** Where state lives. Default a fresh `memoryStateStore()`. Use `redisStateStore` for a fleet. */
  readonly store?: StateStore
  /**
   * When the store cannot be reached: `failClosed` (default) denies every call; `degrade` carries on with
   * local in-memory state (not shared with the fleet) and raises an alarm.
   */
  readonly onStoreFailure?: 'failClosed' | 'degrade'
  /** In `degrade` mode, how often the store is tried again, ms. Default 1000. */
  readonly retryStoreMs?: number
  /** The EWMA baseline. */
  readonly baseline?: Partial<Omit<BaselineParameters, 'floor' | 'ceiling'>> & {
    /** How long a silent principal's state is kept, ms. Default 35 days. */
    readonly ttlMs?: number
  }
  readonly metrics?: { readonly [metric in Metric]?: MetricOptions }
  /** Learn tenant-wide baselines too. Default true. */
  readonly tenantBaselines?: boolean
  /** Off-hours detection; `false` turns it off. Default learned hours in UTC. */
  readonly offHours?: OffHoursOptions | false
  /** First access to a collection; flagged once the principal has made `minCalls` calls. `false` turns it off. */
  readonly firstAccess?: { readonly minCalls?: number } | false
  /** Impossible travel from `context.location`; `false` turns it off. */
  readonly impossibleTravel?: { readonly maxKmh?: number; readonly minKm?: number } | false
  readonly rateLimits?: readonly RateLimitOptions[]
  /** The response tier of each detector (rate limits always throttle). */
  readonly responses?: { readonly [detector in Detector]?: ResponseTier }
  /** The risk score: detections add their weight; the score halves every `halfLifeMs`. */
  readonly risk?: {
    readonly weights?: { readonly [detector in Detector]?: number }
    readonly halfLifeMs?: number
    /** Score at which every call needs a fresh step-up. Default 50. */
    readonly stepUpAt?: number
    /** Score at which every call is denied. Default 80. */
    readonly denyAt?: number
    /** Score at which the principal is revoked. Default: never (no automatic revocation from the score alone). */
    readonly revokeAt?: number
  }
  /** How long a throttle or deny containment lasts, ms. Default 15 minutes. */
  readonly containmentMs?: number
  /** How long a revocation lasts, ms. Default 24 hours. */
  readonly revocationMs?: number
  /** The reduced rate of a throttled principal. Default one call a minute. */
  readonly throttle?: BucketParameters
  /** What counts as a fresh step-up: `amr` methods and the age of `authTime`. */
  readonly stepUp?: { readonly methods?: readonly string[]; readonly maxAgeMs?: number }
  /** Receives `revoke` responses; also the `RevocationList` the authenticators' revocation check reads. */
  readonly revocations?: RevocationList
  /** Called with the CAEP signal of each revocation, for a SOAR platform or an SSF transmitter. Errors are ignored. */
  readonly onRevoke?: (signal: CaepSignal) => void | Promise<void>
  /** Where security events go (an `AuditEmitter`). A failing emit turns the call into a deny. */
  readonly audit?: { emit(event: AuditEvent): void | Promise<void> }
  /** Operational alarms: the store is down or back. Default one line on `console.error`. */
  readonly onAlarm?: (alarm: { readonly kind: 'state_degraded' | 'state_restored' | 'state_rejected'; readonly detail: string }) => void
  /** CloudEvents `source` of security events and `iss` of CAEP signals. Default `vectorwarden`. */
  readonly source?: string
}

/** A rate limit with its action set resolved. */
export interface ResolvedRateLimit {
  readonly index: number
  readonly scope: 'principal' | 'tenant'
  readonly actions: ReadonlySet<Action> | undefined
  readonly bucket: BucketParameters
  readonly ttlMs: number
}

/** The configuration after defaults, as the hot path reads it. */
export interface ResolvedAnalyticsOptions {
  readonly onStoreFailure: 'failClosed' | 'degrade'
  readonly retryStoreMs: number
  readonly ttlMs: number
  readonly metrics: readonly { readonly metric: Metric; readonly parameters: BaselineParameters }[]
  readonly tenantBaselines: boolean
  readonly offHours: Readonly<
    | { mode: 'learned'; minSamples: number; minShare: number; timeZone: string }
    | { mode: 'window'; timeZone: string; startHour: number; endHour: number; days: ReadonlySet<number> }
  > | null
  readonly firstAccess: { readonly minCalls: number } | null
  readonly impossibleTravel: { readonly maxKmh: number; readonly minKm: number } | null
  readonly rateLimits: readonly ResolvedRateLimit[]
  readonly responses: { readonly [detector in Detector]: ResponseTier }
  readonly weights: { readonly [detector in Detector]: number }
  readonly halfLifeMs: number
  readonly stepUpAt: number
  readonly denyAt: number
  readonly revokeAt: number
  readonly containmentMs: number
  readonly revocationMs: number
  readonly throttle: BucketParameters
  readonly stepUpMethods: ReadonlySet<string>
  readonly stepUpMaxAgeMs: number
  readonly source: string
}

const tier = z.enum(['observe', 'step_up', 'throttle', 'deny', 'revoke'])
const positive = z.number().finite().positive()
const nonNegative = z.number().finite().nonnegative()
const metricOptions = z.strictObject({ enabled: z.boolean().optional(), floor: nonNegative.optional(), ceiling: nonNegative.optional() })
const detectors = ['volume', 'tenantVolume', 'offHours', 'firstAccess', 'probing', 'impossibleTravel', 'rateLimit'] as const
const metricNames = ['calls', 'records', 'fieldsDecrypted', 'collections', 'denies'] as const

const validTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

const schema = z.strictObject({
  store: z.custom<StateStore>((value) => typeof (value as StateStore | undefined)?.execute === 'function', 'store needs execute()').optional(),
  onStoreFailure: z.enum(['failClosed', 'degrade']).optional(),
  retryStoreMs: positive.optional(),
  baseline: z
    .strictObject({
      windowMs: positive.optional(),
      lambda: z.number().gt(0).lte(1).optional(),
      alarmK: positive.optional(),
      guardK: nonNegative.optional(),
      maxRise: nonNegative.optional(),
      minSamples: z.number().int().nonnegative().optional(),
      minSigma: positive.optional(),
      relativeSigma: nonNegative.optional(),
      ttlMs: positive.optional(),
    })
    .optional(),
  metrics: z.strictObject(Object.fromEntries(metricNames.map((name) => [name, metricOptions.optional()]))).optional(),
  tenantBaselines: z.boolean().optional(),
  offHours: z
    .union([
      z.literal(false),
      z.strictObject({
        mode: z.literal('learned'),
        minSamples: z.number().int().positive().optional(),
        minShare: z.number().gt(0).lt(1).optional(),
        timeZone: z.string().refine(validTimeZone, 'unknown time zone').optional(),
      }),
      z.strictObject({
        mode: z.literal('window'),
        timeZone: z.string().refine(validTimeZone, 'unknown time zone'),
        startHour: z.number().int().min(0).max(23),
        endHour: z.number().int().min(1).max(24),
        days: z.array(z.number().int().min(0).max(6)).min(1).optional(),
      }),
    ])
    .optional(),
  firstAccess: z.union([z.literal(false), z.strictObject({ minCalls: z.number().int().nonnegative().optional() })]).optional(),
  impossibleTravel: z
    .union([z.literal(false), z.strictObject({ maxKmh: positive.optional(), minKm: nonNegative.optional() })])
    .optional(),
  rateLimits: z
    .array(
      z.strictObject({
        scope: z.enum(['principal', 'tenant']),
        actions: z.array(z.enum(ACTIONS as [Action, ...Action[]])).min(1).optional(),
        capacity: z.number().finite().min(1),
        refillPerSecond: positive,
      }),
    )
    .optional(),
  responses: z.strictObject(Object.fromEntries(detectors.map((name) => [name, tier.optional()]))).optional(),
  risk: z
    .strictObject({
      weights: z.strictObject(Object.fromEntries(detectors.map((name) => [name, nonNegative.optional()]))).optional(),
      halfLifeMs: positive.optional(),
      stepUpAt: positive.optional(),
      denyAt: positive.optional(),
      revokeAt: positive.optional(),
    })
    .optional(),
  containmentMs: positive.optional(),
  revocationMs: positive.optional(),
  throttle: z.strictObject({ capacity: z.number().finite().min(1), refillPerSecond: positive }).optional(),
  stepUp: z
    .strictObject({ methods: z.array(z.string().min(1)).min(1).optional(), maxAgeMs: positive.optional() })
    .optional(),
  revocations: z
    .custom<RevocationList>(
      (value) => typeof (value as RevocationList | undefined)?.revoke === 'function',
      'revocations needs revoke()',
    )
    .optional(),
  onRevoke: z.custom<AnalyticsOptions['onRevoke']>((value) => typeof value === 'function', 'must be a function').optional(),
  audit: z
    .custom<AnalyticsOptions['audit']>(
      (value) => typeof (value as { emit?: unknown } | undefined)?.emit === 'function',
      'audit needs emit()',
    )
    .optional(),
  onAlarm: z.custom<AnalyticsOptions['onAlarm']>((value) => typeof value === 'function', 'must be a function').optional(),
  source: z.string().min(1).optional(),
})

const DEFAULT_FLOORS: { readonly [metric in Metric]: number } = {
  calls: 20,
  records: 100,
  fieldsDecrypted: 100,
  collections: 3,
  denies: 5,
}

// probing by a fresh credential has no history to compare with: more than 20 denies in a window alarms anyway
const DEFAULT_CEILINGS: { readonly [metric in Metric]: number } = {
  calls: 0,
  records: 0,
  fieldsDecrypted: 0,
  collections: 0,
  denies: 20,
}

const DEFAULT_RESPONSES: { readonly [detector in Detector]: ResponseTier } = {
  volume: 'throttle',
  tenantVolume: 'observe',
  offHours: 'observe',
  firstAccess: 'observe',
  probing: 'deny',
  impossibleTravel: 'step_up',
  rateLimit: 'throttle',
}

const DEFAULT_WEIGHTS: { readonly [detector in Detector]: number } = {
  volume: 40,
  tenantVolume: 10,
  offHours: 10,
  firstAccess: 5,
  probing: 40,
  impossibleTravel: 30,
  rateLimit: 2,
}

/**
 * Validates options and fills in defaults. Throws `ConfigError` naming the first bad field.
 *
 * @example
 * ```ts
 * const resolved = resolveAnalyticsOptions({ responses: { volume: 'deny' } })
 * ```
 */
export function resolveAnalyticsOptions(options: AnalyticsOptions): ResolvedAnalyticsOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createAnalytics: options must be an object')
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`analytics: ${issue?.path.join('.') || 'options'}: ${issue?.message ?? 'invalid'}`, {
      reason: 'invalid_analytics_options',
    })
  }
  const baseline = options.baseline ?? {}
  const ttlMs = baseline.ttlMs ?? 35 * 86_400_000
  const metrics: { metric: Metric; parameters: BaselineParameters }[] = []
  for (const metric of metricNames) {
    const own = options.metrics?.[metric] ?? {}
    if (own.enabled === false) continue
    metrics.push({
      metric,
      parameters: {
        windowMs: baseline.windowMs ?? 3_600_000,
        lambda: baseline.lambda ?? 0.1,
        alarmK: baseline.alarmK ?? 4,
        guardK: baseline.guardK ?? 2,
        maxRise: baseline.maxRise ?? 0.05,
        minSamples: baseline.minSamples ?? 10,
        minSigma: baseline.minSigma ?? 1,
        relativeSigma: baseline.relativeSigma ?? 0.5,
        floor: own.floor ?? DEFAULT_FLOORS[metric],
        ceiling: own.ceiling ?? DEFAULT_CEILINGS[metric],
      },
    })
  }
  const risk = options.risk ?? {}
  const stepUpAt = risk.stepUpAt ?? 50
  const denyAt = risk.denyAt ?? 80
  const revokeAt = risk.revokeAt ?? Number.POSITIVE_INFINITY
  if (!(stepUpAt <= denyAt && denyAt <= revokeAt)) {
    throw new ConfigError('analytics: risk thresholds must satisfy stepUpAt ≤ denyAt ≤ revokeAt', {
      reason: 'invalid_analytics_options',
    })
  }
  const defined = <T extends object>(value: T | undefined): Partial<T> => Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>
  const responses = { ...DEFAULT_RESPONSES, ...defined(options.responses) }
  const usesRevoke = Object.values(responses).includes('revoke') || risk.revokeAt !== undefined
  if (usesRevoke && options.revocations === undefined) {
    throw new ConfigError('analytics: a revoke response needs a revocation list (options.revocations)', {
      reason: 'invalid_analytics_options',
    })
  }
  const offHours = options.offHours ?? { mode: 'learned' as const }
  const firstAccess = options.firstAccess ?? {}
  const travel = options.impossibleTravel ?? {}
  const windowMs = baseline.windowMs ?? 3_600_000
  return {
    onStoreFailure: options.onStoreFailure ?? 'failClosed',
    retryStoreMs: options.retryStoreMs ?? 1000,
    ttlMs,
    metrics,
    tenantBaselines: options.tenantBaselines ?? true,
    offHours:
      offHours === false
        ? null
        : offHours.mode === 'learned'
          ? {
              mode: 'learned',
              minSamples: offHours.minSamples ?? 200,
              minShare: offHours.minShare ?? 0.01,
              timeZone: offHours.timeZone ?? 'UTC',
            }
          : {
              mode: 'window',
              timeZone: offHours.timeZone,
              startHour: offHours.startHour,
              endHour: offHours.endHour,
              days: new Set(offHours.days ?? [1, 2, 3, 4, 5]),
            },
    firstAccess: firstAccess === false ? null : { minCalls: firstAccess.minCalls ?? 50 },
    impossibleTravel: travel === false ? null : { maxKmh: travel.maxKmh ?? 1000, minKm: travel.minKm ?? 100 },
    rateLimits: (options.rateLimits ?? []).map((limit, index) => ({
      index,
      scope: limit.scope,
      actions: limit.actions === undefined ? undefined : new Set(limit.actions),
      bucket: { capacity: limit.capacity, refillPerSecond: limit.refillPerSecond },
      // a bucket untouched long enough to refill completely holds nothing worth keeping
      ttlMs: Math.ceil((limit.capacity / limit.refillPerSecond) * 1000) + windowMs,
    })),
    responses,
    weights: { ...DEFAULT_WEIGHTS, ...defined(risk.weights) },
    halfLifeMs: risk.halfLifeMs ?? 3_600_000,
    stepUpAt,
    denyAt,
    revokeAt,
    containmentMs: options.containmentMs ?? 15 * 60_000,
    revocationMs: options.revocationMs ?? 86_400_000,
    throttle: options.throttle ?? { capacity: 1, refillPerSecond: 1 / 60 },
    stepUpMethods: new Set(options.stepUp?.methods ?? ['mfa', 'otp', 'hwk', 'swk', 'sc', 'fpt', 'face', 'iris']),
    stepUpMaxAgeMs: options.stepUp?.maxAgeMs ?? 10 * 60_000,
    source: options.source ?? 'vectorwarden',
  }
}
