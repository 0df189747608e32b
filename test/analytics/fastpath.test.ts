// the in-memory fast path (direct operations, cached slots, shared verdicts) against the batch path it replaces

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAnalytics, type AnalyticsOptions } from '../../src/analytics/index.js'
import { timestampText } from '../../src/analytics/analytics.js'
import type { Principal } from '../../src/spec/auth.js'
import type { Action } from '../../src/spec/policy.js'
import {
  advanceBaseline,
  BASELINE_FIRED,
  BASELINE_QUIET,
  newBaselines,
  updateBaseline,
} from '../../src/state/algorithms.js'
import { memoryStateStore } from '../../src/state/memory.js'
import type { StateStore } from '../../src/state/types.js'

const MONDAY = Date.UTC(2026, 0, 5, 8)
const principal = (id: string, tenant: string | undefined): Principal => ({
  id,
  kind: 'user',
  ...(tenant === undefined ? {} : { tenant }),
  roles: [],
  scopes: [],
  attributes: {},
  authenticator: 'jwt',
  issuer: 'https://idp.example',
})
const PRINCIPALS = [principal('alice', 'acme'), principal('bob', 'acme'), principal('carol', undefined)]
const PLACES = [
  { latitude: 48.8566, longitude: 2.3522 },
  { latitude: 40.7128, longitude: -74.006 },
  { latitude: 35.6762, longitude: 139.6503 },
]
const ACTIONS: readonly Action[] = ['record.query', 'record.upsert']

const call = fc.record({
  who: fc.integer({ min: 0, max: PRINCIPALS.length - 1 }),
  // a fresh principal object is what a new session brings: the key caches are per object
  freshObject: fc.boolean(),
  action: fc.integer({ min: 0, max: ACTIONS.length - 1 }),
  collection: fc.option(fc.constantFrom('docs', 'hr', 'finance', 'legal'), { nil: undefined }),
  place: fc.option(fc.integer({ min: 0, max: PLACES.length - 1 }), { nil: undefined }),
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 4 * 3_600_000 })),
  denied: fc.boolean(),
  records: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5_000 })),
})

const OPTIONS: AnalyticsOptions = {
  onAlarm: () => {},
  rateLimits: [
    { scope: 'principal', capacity: 4, refillPerSecond: 0.5 },
    { scope: 'tenant', capacity: 6, refillPerSecond: 1, actions: ['record.upsert'] },
  ],
  metrics: { records: { ceiling: 40 }, denies: { ceiling: 2 }, collections: { ceiling: 2 } },
  offHours: { mode: 'window', timeZone: 'Europe/Paris', startHour: 9, endHour: 18 },
  responses: { volume: 'deny', impossibleTravel: 'step_up', firstAccess: 'observe', tenantVolume: 'throttle' },
  firstAccess: { minCalls: 3 },
}

describe('the in-memory fast path', () => {
  it('answers every call exactly as the batch path over the same store does (differential)', async () => {
    // the generated traffic must reach the detectors, or the comparison would only cover quiet calls
    const seen = new Set<string>()
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 60 }), async (calls) => {
        let wall = MONDAY
        const clock = () => wall
        // the wrapper hides `direct`, so the analytics fall back to one batch per hook
        const hidden = memoryStateStore({ clock })
        const batchOnly: StateStore = { name: 'memory-batch', execute: (operations) => hidden.execute(operations), close: () => hidden.close() }
        const fast = createAnalytics({ ...OPTIONS, store: memoryStateStore({ clock }) })
        const batch = createAnalytics({ ...OPTIONS, store: batchOnly })
        // a burst first, so every run reaches the rate limit before anything else contains the principal
        const burst = Array.from({ length: 6 }, () => ({ ...(calls[0] as (typeof calls)[number]), gapMs: 0, freshObject: false }))
        for (const step of [...burst, ...calls]) {
          wall += step.gapMs
          const base = PRINCIPALS[step.who] as Principal
          const who = step.freshObject ? { ...base } : base
          const action = ACTIONS[step.action] as Action
          const context = step.place === undefined ? {} : { location: PLACES[step.place] }
          const beforeInput = { principal: who, action, collection: step.collection, context, now: wall }
          const verdict = await fast.before(beforeInput)
          expect(verdict).toEqual(await batch.before(beforeInput))
          seen.add(verdict.response)
          for (const flag of verdict.flags) seen.add(flag)
          const afterInput = {
            principal: who,
            action,
            collection: step.collection,
            outcome: step.denied ? ('denied' as const) : ('allowed' as const),
            recordCount: step.records,
            now: wall,
          }
          const outcome = await fast.after(afterInput)
          expect(outcome).toEqual(await batch.after(afterInput))
          seen.add(outcome.response)
          for (const flag of outcome.flags) seen.add(flag)
        }
        await fast.close()
        await batch.close()
      }),
      { numRuns: 60 },
    )
    const expectedFlags = ['throttle', 'deny', 'rate_limited:principal', 'first_collection_access', 'impossible_travel', 'off_hours']
    for (const expected of ['allow', ...expectedFlags, 'volume_spike:records', 'probing']) {
      expect([...seen], `saw ${[...seen].join(" ")}`).toContain(expected)
    }
  })

  it('a cached slot never acts on an entry the store deleted, expired or evicted', () => {
    let wall = 1_000
    const store = memoryStateStore({ clock: () => wall, maxKeys: 4 })
    const slot = store.direct.slot('k')
    expect(store.direct.swap(slot, 'a', 0, wall)).toBeNull()
    store.executeSync([{ kind: 'delete', key: 'k' }])
    expect(store.direct.swap(slot, 'b', 0, wall)).toBeNull()
    expect(store.executeSync([{ kind: 'get', key: 'k' }])).toEqual(['b'])
    // expiry
    store.direct.swap(slot, 'c', 10, wall)
    wall += 11
    expect(store.executeSync([{ kind: 'get', key: 'k' }])).toEqual([null])
    expect(store.direct.swap(slot, 'd', 0, wall)).toBeNull()
    expect(store.executeSync([{ kind: 'get', key: 'k' }])).toEqual(['d'])
    // eviction: the oldest keys go first, and the slot's next write lands in the map again
    for (let index = 0; index < 8; index++) store.executeSync([{ kind: 'set', key: `other${index}`, value: 'x', ttlMs: 0 }])
    expect(store.executeSync([{ kind: 'get', key: 'k' }])).toEqual([null])
    expect(store.direct.swap(slot, 'e', 0, wall)).toBeNull()
    expect(store.executeSync([{ kind: 'get', key: 'k' }])).toEqual(['e'])
  })

  it('travel reports exactly the moves that swap followed by a same-place check reports', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ place: fc.constantFrom('48.8566,2.3522,', '40.7128,-74.006,', '1,2,'), gapMs: fc.integer({ min: 0, max: 10_000 }) }), {
          maxLength: 40,
        }),
        (moves) => {
          const store = memoryStateStore({ clock: () => 0 })
          const slot = store.direct.slot('travel')
          let now = 1_767_603_600_000
          for (const move of moves) {
            now += move.gapMs
            const [previous] = store.executeSync([{ kind: 'swap', key: 'swapped', value: move.place + now, ttlMs: 0 }])
            const expected = typeof previous === 'string' && !previous.startsWith(move.place) ? previous : null
            expect(store.direct.travel(slot, move.place, now, 0, 0)).toBe(expected)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('advanceBaseline leaves the same state as updateBaseline and reports the same alarm', () => {
    const parameters = {
      windowMs: 3_600_000,
      lambda: 0.2,
      alarmK: 3,
      guardK: 2,
      maxRise: 0.1,
      minSamples: 4,
      minSigma: 1,
      relativeSigma: 0.5,
      floor: 5,
      ceiling: 0,
    }
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3 * 3_600_000 }), value: fc.integer({ min: 0, max: 500 }) }), { maxLength: 80 }),
        (updates) => {
          let now = 0
          const viaUpdate = newBaselines([parameters.windowMs], now)
          const viaAdvance = newBaselines([parameters.windowMs], now)
          for (const update of updates) {
            now += update.gapMs
            const state = updateBaseline(viaUpdate, 0, update.value, now, parameters)
            const alarm = advanceBaseline(viaAdvance, 0, update.value, now, parameters)
            expect(alarm !== BASELINE_QUIET).toBe(state.alarmed)
            expect(alarm === BASELINE_FIRED).toBe(state.fired)
            expect([...viaAdvance]).toEqual([...viaUpdate])
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('prints every timestamp exactly as String does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true }), fc.integer()), (value) => {
        expect(timestampText(value)).toBe(String(value))
      }),
      { numRuns: 2_000 },
    )
    for (const value of [1_000_000, 1_000_001, 1_767_603_600_000, 1_767_603_000_007, 999_999]) expect(timestampText(value)).toBe(String(value))
  })

  it('a verdict with nothing flagged is shared and frozen, so no caller can change another caller\'s answer', async () => {
    const analytics = createAnalytics({ onAlarm: () => {} })
    const first = await analytics.before({ principal: PRINCIPALS[0] as Principal, action: 'record.query', context: {}, now: MONDAY })
    const second = await analytics.after({ principal: PRINCIPALS[0] as Principal, action: 'record.query', outcome: 'allowed', recordCount: 1, now: MONDAY })
    expect(first.response).toBe('allow')
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.flags)).toBe(true)
    expect(second).toBe(first)
    await analytics.close()
  })
})
