// the state-store contract: a batch of small atomic operations, so one call of the warden costs one round trip

/** Parameters of a token bucket. */
export interface BucketParameters {
  /** Most tokens the bucket holds (the burst). */
  readonly capacity: number
  /** Tokens added per second. */
  readonly refillPerSecond: number
}

/** Parameters of a baseline: an EWMA over fixed windows with a guard band (see `docs/analytics.md`). */
export interface BaselineParameters {
  /** Length of one window in ms; the baseline learns one value (the window's total) per active window. */
  readonly windowMs: number
  /** EWMA weight of a new window, 0 < lambda ≤ 1. */
  readonly lambda: number
  /** A window alarms when its running total exceeds mean + alarmK·σ. */
  readonly alarmK: number
  /** Guard band: a window's total is clipped to mean + guardK·σ before it trains the baseline. */
  readonly guardK: number
  /** Most the mean and σ may rise per trained window, as a fraction (0.1 = 10 %), so slow retraining is bounded. */
  readonly maxRise: number
  /** Windows learned as a plain running average before the guard band applies and the baseline may alarm. */
  readonly minSamples: number
  /** Smallest σ used, so a constant history does not alarm on noise. */
  readonly minSigma: number
  /** σ is at least this fraction of the mean (0.5: the threshold is at least (1 + alarmK/2)·mean). */
  readonly relativeSigma: number
  /** The threshold is never below this. */
  readonly floor: number
  /** When > 0, the threshold is never above this, even before `minSamples` (NIST's "alarm above 100"). */
  readonly ceiling: number
}

/** One metric of a baseline update. */
export interface BaselineInput {
  readonly value: number
  /** Distinct counting: `value` counts only if this member is new in the current window. */
  readonly member?: string
  readonly parameters: BaselineParameters
}

/** A baseline after an update. */
export interface BaselineState {
  /** Learned mean of a window's total. */
  readonly mean: number
  /** Effective σ (after floors). */
  readonly sigma: number
  /** Windows learned so far. */
  readonly samples: number
  /** Running total of the current window. */
  readonly current: number
  /** The current window's alarm threshold (`Infinity` while still learning without a ceiling). */
  readonly threshold: number
  /** Whether the current window is in alarm (it stays so until the window ends). */
  readonly alarmed: boolean
  /** Whether this update raised the alarm (false when the window was already in alarm). */
  readonly fired: boolean
}

/** Result of a token-bucket take. */
export interface TakeResult {
  readonly allowed: boolean
  /** Tokens left after the take. */
  readonly remaining: number
  /** When not allowed: ms until `cost` tokens are available. */
  readonly retryAfterMs: number
}

/** Result of a tally: counts before this increment. */
export interface TallyResult {
  readonly field: number
  readonly total: number
}

/**
 * One atomic operation on the store. Every operation carries its own TTL in ms (0 = keep): state for a principal
 * who stopped calling disappears by itself.
 */
export type StateOperation =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: string; readonly ttlMs: number }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'increment'; readonly key: string; readonly by: number; readonly ttlMs: number }
  /** Previous value, and the new value stored. */
  | { readonly kind: 'swap'; readonly key: string; readonly value: string; readonly ttlMs: number }
  /**
   * Adds a member to a set; true when it was not there. The TTL only extends: a set never expires sooner than
   * before (0 keeps it forever).
   */
  | { readonly kind: 'add'; readonly key: string; readonly member: string; readonly ttlMs: number }
  /**
   * A level that only goes up while it lasts: a level in force until `now + durationMs`. A higher level replaces
   * the current one, an equal one extends it, a lower one changes nothing. `level: 0` reads. Returns the level in
   * force at `now` (0 when none). Expiry follows the callers' clock (`now`); the store's TTL only collects garbage.
   */
  | {
      readonly kind: 'raise'
      readonly key: string
      readonly level: number
      readonly now: number
      readonly durationMs: number
    }
  /** The members of a set, in no particular order. */
  | { readonly kind: 'members'; readonly key: string }
  /** Increments `field` and the total of a counter map; returns both counts before the increment. */
  | { readonly kind: 'tally'; readonly key: string; readonly field: string; readonly ttlMs: number }
  | {
      readonly kind: 'take'
      readonly key: string
      readonly bucket: BucketParameters
      readonly cost: number
      readonly now: number
      readonly ttlMs: number
    }
  /**
   * Updates several baselines kept under one key (one principal's metrics) and returns one state per metric. At
   * most one metric may carry a `member`: its value then counts only if the member is new in the current window.
   */
  | {
      readonly kind: 'baseline'
      readonly key: string
      readonly metrics: readonly BaselineInput[]
      readonly now: number
      readonly ttlMs: number
    }
  /** A score that halves every `halfLifeMs`: adds `add` (0 reads it) and returns the decayed sum, capped at `max`. */
  | {
      readonly kind: 'score'
      readonly key: string
      readonly add: number
      readonly halfLifeMs: number
      readonly max: number
      readonly now: number
      readonly ttlMs: number
    }

/** The field of a tally that holds the total; a tally's own fields must differ from it. */
export const TALLY_TOTAL = '*'

/** The result of each operation kind, in the order of the batch. */
export type StateResult =
  | string
  | number
  | boolean
  | null
  | readonly string[]
  | TakeResult
  | TallyResult
  | readonly BaselineState[]

/** Maps an operation to its result type. */
export type ResultOf<O extends StateOperation> = O extends { kind: 'get' }
  ? string | null
  : O extends { kind: 'set' | 'delete' }
    ? null
    : O extends { kind: 'increment' | 'score' | 'raise' }
      ? number
      : O extends { kind: 'swap' }
        ? string | null
        : O extends { kind: 'add' }
          ? boolean
          : O extends { kind: 'members' }
            ? readonly string[]
          : O extends { kind: 'tally' }
            ? TallyResult
            : O extends { kind: 'take' }
              ? TakeResult
              : O extends { kind: 'baseline' }
                ? BaselineState
                : never

/**
 * Where analytics, rate limits and revocations keep their state. Each operation is atomic on its own; a batch is
 * sent in one round trip but is not a transaction. Implementations: `memoryStateStore()` (one process) and
 * `redisStateStore()` (a fleet, from `vectorwarden/redis`).
 *
 * A store that cannot be reached rejects with an `AdapterError` (`isRetryable: true`); it never guesses.
 *
 * @example
 * ```ts
 * const store: StateStore = memoryStateStore()
 * const [take] = await store.execute([{ kind: 'take', key: 'rl:alice', bucket: { capacity: 10, refillPerSecond: 1 }, cost: 1, now: Date.now(), ttlMs: 60_000 }])
 * ```
 */
export interface StateStore {
  /** `memory`, `redis`, ... */
  readonly name: string
  /** Runs the operations in order and returns one result per operation. */
  execute(operations: readonly StateOperation[]): Promise<StateResult[]>
  close(): Promise<void>
}
