import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAnalytics } from '../../src/analytics/index.js'
import type { Principal } from '../../src/spec/auth.js'
import { memoryStateStore } from '../../src/state/memory.js'
import type { StateOperation, StateStore } from '../../src/state/types.js'

const MONDAY = Date.UTC(2026, 0, 5, 10)
const principal = (id: string): Principal => ({ id, kind: 'user', tenant: 'acme', roles: [], scopes: [], attributes: {}, authenticator: 'jwt' })

describe('analytics properties', () => {
  it('fails closed: a call whose state could not be read is never allowed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), async (failures) => {
        const memory = memoryStateStore()
        let call = 0
        let reached = false
        let failed = false
        const flaky: StateStore = {
          name: 'flaky',
          execute: (operations: readonly StateOperation[]) => {
            reached = true
            failed = failures[call++ % failures.length] === true
            return failed ? Promise.reject(new Error('down')) : memory.execute(operations)
          },
          close: () => memory.close(),
        }
        const analytics = createAnalytics({ store: flaky, retryStoreMs: 1, onAlarm: () => {} })
        for (let index = 0; index < failures.length; index++) {
          reached = false
          failed = false
          const verdict = await analytics.before({ principal: principal('p'), action: 'record.query', context: {}, now: MONDAY + index })
          // a failed read, or no read at all because the store is known to be down, is a deny
          if (failed || !reached) expect(verdict.response).toBe('deny')
          else expect(verdict.response).toBe('allow')
        }
      }),
      { numRuns: 50 },
    )
  })

  it('a deny containment holds for every call until it expires, whatever else happens', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 120_000 }), denied: fc.boolean(), records: fc.integer({ min: 0, max: 50 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (calls) => {
          const containmentMs = 600_000
          const analytics = createAnalytics({ containmentMs, responses: { probing: 'deny' }, onAlarm: () => {} })
          const who = principal('mallory')
          // 21 denies in one window trip the probing ceiling at MONDAY + 20
          for (let index = 0; index < 21; index++) {
            await analytics.after({ principal: who, action: 'record.query', outcome: 'denied', now: MONDAY + index })
          }
          let now = MONDAY + 20
          for (const { gap, denied, records } of calls) {
            now += gap
            const verdict = await analytics.before({ principal: who, action: 'record.query', context: {}, now })
            if (now < MONDAY + 20 + containmentMs) expect(verdict.response).toBe('deny')
            await analytics.after({ principal: who, action: 'record.query', outcome: denied ? 'denied' : 'allowed', recordCount: records, now })
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  it('rate limits are per principal: one principal exhausting its bucket never throttles another', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 30 }), async (capacity, extra) => {
        const analytics = createAnalytics({ rateLimits: [{ scope: 'principal', capacity, refillPerSecond: 0.001 }], onAlarm: () => {} })
        for (let index = 0; index < capacity + extra; index++) {
          await analytics.before({ principal: principal('greedy'), action: 'record.query', context: {}, now: MONDAY })
        }
        const other = await analytics.before({ principal: principal('polite'), action: 'record.query', context: {}, now: MONDAY })
        expect(other.response).toBe('allow')
      }),
      { numRuns: 30 },
    )
  })
})
