import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addScore, newBaselines, newBucket, takeTokens, updateBaseline } from '../../src/state/algorithms.js'
import type { BaselineParameters } from '../../src/state/types.js'

const parameters: BaselineParameters = {
  windowMs: 3_600_000,
  lambda: 0.1,
  alarmK: 4,
  guardK: 2,
  maxRise: 0.05,
  minSamples: 10,
  minSigma: 1,
  relativeSigma: 0.5,
  floor: 0,
  ceiling: 0,
}
const HOUR = 3_600_000

describe('token bucket', () => {
  it('never grants more than capacity plus what the refill rate allows over any period', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }),
        (capacity, refillPerSecond, gaps) => {
          const record = newBucket(capacity, 0)
          let now = 0
          let granted = 0
          for (const gap of gaps) {
            now += gap
            if (takeTokens(record, { capacity, refillPerSecond }, 1, now).allowed) granted++
          }
          expect(granted).toBeLessThanOrEqual(capacity + Math.floor((now * refillPerSecond) / 1000) + 1)
        },
      ),
    )
  })

  it('tells a refused caller when enough tokens will be back', () => {
    const record = new Float64Array([0, 0])
    const refused = takeTokens(record, { capacity: 5, refillPerSecond: 2 }, 1, 0)
    expect(refused.allowed).toBe(false)
    expect(refused.retryAfterMs).toBe(500)
    expect(takeTokens(record, { capacity: 5, refillPerSecond: 2 }, 1, refused.retryAfterMs).allowed).toBe(true)
  })

  it('refills nothing when the clock goes backwards', () => {
    const record = new Float64Array([0, 10_000])
    expect(takeTokens(record, { capacity: 5, refillPerSecond: 100 }, 1, 0).allowed).toBe(false)
  })
})

describe('guarded EWMA baseline', () => {
  it('after warm-up, the mean rises at most maxRise per window whatever the traffic (guard band)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 12, maxLength: 80 }), (totals) => {
        const record = newBaselines([parameters.windowMs], 0)
        let previousMean = 0
        let previousSigma = 0
        totals.forEach((total, window) => {
          const state = updateBaseline(record, 0, total, window * HOUR, parameters)
          if (state.samples > parameters.minSamples) {
            const bound = previousMean + parameters.maxRise * Math.max(previousMean, previousSigma)
            expect(state.mean).toBeLessThanOrEqual(bound * (1 + 1e-12) + 1e-9)
          }
          previousMean = state.mean
          previousSigma = state.sigma
        })
      }),
    )
  })

  it('a ramp of 10 % per window (twice maxRise) alarms before it reaches 15× the usual volume', () => {
    const record = newBaselines([parameters.windowMs], 0)
    let total = 100
    let alarmed = false
    let window = 0
    for (; window < 30; window++) updateBaseline(record, 0, 100, window * HOUR, parameters)
    for (; total < 1500; window++) {
      total *= 1.1
      // one call per window carrying the whole total, so the alarm sees the window's sum
      if (updateBaseline(record, 0, total, window * HOUR, parameters).fired) alarmed = true
      if (alarmed) break
    }
    expect(alarmed).toBe(true)
  })

  it('fires once per window and stays alarmed until the window ends', () => {
    const record = newBaselines([parameters.windowMs], 0)
    for (let window = 0; window < 20; window++) updateBaseline(record, 0, 100, window * HOUR, parameters)
    const first = updateBaseline(record, 0, 1000, 20 * HOUR, parameters)
    const second = updateBaseline(record, 0, 10, 20 * HOUR + 1000, parameters)
    const next = updateBaseline(record, 0, 10, 21 * HOUR, parameters)
    expect([first.fired, first.alarmed]).toEqual([true, true])
    expect([second.fired, second.alarmed]).toEqual([false, true])
    expect(next.alarmed).toBe(false)
  })

  it('never alarms while learning unless a ceiling is set, and always above the ceiling', () => {
    const record = newBaselines([parameters.windowMs], 0)
    expect(updateBaseline(record, 0, 1e9, 0, parameters).alarmed).toBe(false)
    const capped = newBaselines([parameters.windowMs], 0)
    expect(updateBaseline(capped, 0, 101, 0, { ...parameters, ceiling: 100 }).fired).toBe(true)
  })

  it('never sets the threshold below the floor', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }), (totals) => {
        const floored = { ...parameters, floor: 20 }
        const record = newBaselines([floored.windowMs], 0)
        totals.forEach((total, window) => {
          expect(updateBaseline(record, 0, total, window * HOUR, floored).threshold).toBeGreaterThanOrEqual(20)
        })
      }),
    )
  })
})

describe('decaying score', () => {
  it('halves every half-life and never exceeds the cap', () => {
    const record = new Float64Array([0, 0])
    expect(addScore(record, 80, 0, 1000, 100)).toBe(80)
    expect(addScore(record, 0, 1000, 1000, 100)).toBeCloseTo(40, 9)
    expect(addScore(record, 500, 1000, 1000, 100)).toBe(100)
  })
})
