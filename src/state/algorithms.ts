// the arithmetic of token buckets, guarded EWMA baselines and decaying scores; the Redis Lua scripts mirror it line by line

import type { BaselineParameters, BaselineState, BucketParameters, TakeResult } from './types.js'

// state lives in Float64Arrays: a double stored into a plain object field allocates a heap number and a write
// barrier per update, which with thousands of long-lived principals dominated the cost of a call

/** Slots of a token bucket: tokens, then the time of the last take. */
export const BUCKET_SLOTS = 2

/**
 * A full bucket at `now`.
 *
 * @example
 * ```ts
 * const state = newBucket(10, Date.now())
 * ```
 */
export function newBucket(capacity: number, now: number): Float64Array {
  const state = new Float64Array(BUCKET_SLOTS)
  state[0] = capacity
  state[1] = now
  return state
}

/**
 * Takes `cost` tokens if the bucket holds them. Mutates `state` (refill, then take). A clock that goes backwards
 * refills nothing.
 *
 * @example
 * ```ts
 * const state = newBucket(10, 0)
 * takeTokens(state, { capacity: 10, refillPerSecond: 1 }, 1, 0).allowed // true
 * ```
 */
export function takeTokens(state: Float64Array, bucket: BucketParameters, cost: number, now: number): TakeResult {
  const at = state[1] as number
  const elapsed = now > at ? now - at : 0
  let tokens = (state[0] as number) + (elapsed * bucket.refillPerSecond) / 1000
  if (tokens > bucket.capacity) tokens = bucket.capacity
  state[1] = Math.max(now, at)
  if (tokens >= cost) {
    state[0] = tokens - cost
    return { allowed: true, remaining: tokens - cost, retryAfterMs: 0 }
  }
  state[0] = tokens
  const retryAfterMs = bucket.refillPerSecond > 0 ? Math.ceil(((cost - tokens) * 1000) / bucket.refillPerSecond) : -1
  return { allowed: false, remaining: tokens, retryAfterMs }
}

/** Slots of one baseline: window index, running total, mean, variance, windows learned, alarmed (0/1). */
export const BASELINE_SLOTS = 6

/**
 * Fresh state for one baseline per entry of `windows` (each metric's window length), starting in the window that
 * `now` falls in.
 *
 * @example
 * ```ts
 * const state = newBaselines([parameters.windowMs], now)
 * ```
 */
export function newBaselines(windows: readonly number[], now: number): Float64Array {
  const state = new Float64Array(windows.length * BASELINE_SLOTS)
  windows.forEach((windowMs, index) => {
    state[index * BASELINE_SLOTS] = Math.floor(now / windowMs)
  })
  return state
}

/**
 * σ after floors: at least `minSigma`, at least √mean (counts vary at least like a Poisson process), and at least
 * `relativeSigma`·mean (people's hourly volumes vary by a fraction of their mean; without it a steady history makes
 * an ordinary busy hour look like an attack).
 */
export function effectiveSigma(mean: number, variance: number, parameters: BaselineParameters): number {
  let sigma = Math.sqrt(variance)
  const poisson = mean > 0 ? Math.sqrt(mean) : 0
  if (poisson > sigma) sigma = poisson
  const relative = parameters.relativeSigma * mean
  if (relative > sigma) sigma = relative
  if (parameters.minSigma > sigma) sigma = parameters.minSigma
  return sigma
}

/**
 * Folds the finished window into the EWMA when `now` is past it, then adds `value` to the current window and
 * evaluates the alarm. The first `minSamples` windows are learned as a running average; after that the guard band
 * applies: the folded total is clipped to mean + guardK·σ, and mean and σ rise at most by `maxRise` per window.
 * Mutates the `BASELINE_SLOTS` slots of `state` at `offset`.
 *
 * @example
 * ```ts
 * const state = newBaselines([parameters.windowMs], now)
 * const baseline = updateBaseline(state, 0, 12, now, parameters)
 * if (baseline.fired) flag('volume_spike')
 * ```
 */
export function updateBaseline(
  state: Float64Array,
  offset: number,
  value: number,
  now: number,
  parameters: BaselineParameters,
): BaselineState {
  const alarm = advanceBaseline(state, offset, value, now, parameters)
  const mean = state[offset + 2] as number
  const samples = state[offset + 4] as number
  const sigma = effectiveSigma(mean, state[offset + 3] as number, parameters)
  return {
    mean,
    sigma,
    samples,
    current: state[offset + 1] as number,
    threshold: thresholdOf(mean, sigma, samples, parameters),
    alarmed: alarm !== BASELINE_QUIET,
    fired: alarm === BASELINE_FIRED,
  }
}

/**
 * {@link advanceBaseline}: the window is not in alarm.
 *
 * @example
 * ```ts
 * const quiet = advanceBaseline(state, 0, 1, now, parameters) === BASELINE_QUIET
 * ```
 */
export const BASELINE_QUIET = 0
/**
 * {@link advanceBaseline}: the window was already in alarm.
 *
 * @example
 * ```ts
 * const stillAlarmed = advanceBaseline(state, 0, 1, now, parameters) === BASELINE_ALARMED
 * ```
 */
export const BASELINE_ALARMED = 1
/**
 * {@link advanceBaseline}: this update raised the window's alarm.
 *
 * @example
 * ```ts
 * if (advanceBaseline(state, 0, 1, now, parameters) === BASELINE_FIRED) flag('volume_spike')
 * ```
 */
export const BASELINE_FIRED = 2

/** The alarm threshold of a window, after the floor and the ceiling. */
function thresholdOf(mean: number, sigma: number, samples: number, parameters: BaselineParameters): number {
  let threshold = samples >= parameters.minSamples ? mean + parameters.alarmK * sigma : Number.POSITIVE_INFINITY
  if (threshold < parameters.floor) threshold = parameters.floor
  if (parameters.ceiling > 0 && threshold > parameters.ceiling) threshold = parameters.ceiling
  return threshold
}

/**
 * {@link updateBaseline} without the result object, for hot paths: the same arithmetic on the same state, returning
 * {@link BASELINE_QUIET}, {@link BASELINE_ALARMED} or {@link BASELINE_FIRED}.
 *
 * @example
 * ```ts
 * const state = newBaselines([parameters.windowMs], now)
 * if (advanceBaseline(state, 0, 12, now, parameters) === BASELINE_FIRED) flag('volume_spike')
 * ```
 */
export function advanceBaseline(
  state: Float64Array,
  offset: number,
  value: number,
  now: number,
  parameters: BaselineParameters,
): number {
  const window = Math.floor(now / parameters.windowMs)
  let current = state[offset + 1] as number
  let mean = state[offset + 2] as number
  let variance = state[offset + 3] as number
  let samples = state[offset + 4] as number
  let alarmed = state[offset + 5] === 1
  if (window > (state[offset] as number)) {
    if (samples === 0) {
      mean = current
      variance = 0
    } else if (samples < parameters.minSamples) {
      // warm-up: a running average (weight 1/(n+1), never below lambda) learns mean and variance without bias
      const weight = Math.max(parameters.lambda, 1 / (samples + 1))
      const delta = current - mean
      mean += weight * delta
      variance = (1 - weight) * (variance + weight * delta * delta)
    } else {
      // guard band: the window's total is clipped before it trains, and mean and σ rise at most by maxRise,
      // so a slow ramp cannot drag the baseline up faster than that, alarmed or not
      const sigma = effectiveSigma(mean, variance, parameters)
      const clipped = Math.min(current, mean + parameters.guardK * sigma)
      const delta = clipped - mean
      let nextMean = mean + parameters.lambda * delta
      let nextVariance = (1 - parameters.lambda) * (variance + parameters.lambda * delta * delta)
      const meanCap = mean + parameters.maxRise * Math.max(mean, sigma)
      if (nextMean > meanCap) nextMean = meanCap
      const sigmaCap = sigma * (1 + parameters.maxRise)
      if (nextVariance > sigmaCap * sigmaCap) nextVariance = sigmaCap * sigmaCap
      mean = nextMean
      variance = nextVariance
    }
    samples += 1
    state[offset] = window
    current = 0
    alarmed = false
  }
  current += value
  let fired = false
  if (!alarmed) {
    // σ and the threshold only matter while the window is quiet: an alarmed window stays so until it ends
    const threshold = thresholdOf(mean, effectiveSigma(mean, variance, parameters), samples, parameters)
    if (current > threshold) {
      alarmed = true
      fired = true
    }
  }
  state[offset + 1] = current
  state[offset + 2] = mean
  state[offset + 3] = variance
  state[offset + 4] = samples
  state[offset + 5] = alarmed ? 1 : 0
  return fired ? BASELINE_FIRED : alarmed ? BASELINE_ALARMED : BASELINE_QUIET
}

/** Slots of a decaying score: score, then the time of the last update. */
export const SCORE_SLOTS = 2

/**
 * Decays the score in `state` by its half-life to `now`, adds `add`, caps at `max`. Mutates `state`.
 *
 * @example
 * ```ts
 * const state = new Float64Array([40, 0])
 * addScore(state, 0, 3_600_000, 3_600_000, 100) // 20
 * ```
 */
export function addScore(state: Float64Array, add: number, now: number, halfLifeMs: number, max: number): number {
  const at = state[1] as number
  const elapsed = now > at ? now - at : 0
  let score = (state[0] as number) * 2 ** (-elapsed / halfLifeMs) + add
  if (score > max) score = max
  if (score < 0.001) score = 0
  state[0] = score
  state[1] = Math.max(now, at)
  return score
}
