// end to end: analytics wired into the warden's pipeline (before each call, after its outcome)

import { describe, expect, it } from 'vitest'
import { createAnalytics } from '../../src/analytics/index.js'
import { memoryRevocationList } from '../../src/auth/revocation.js'
import { AuthenticationError, AuthorizationError } from '../../src/errors.js'
import { setup } from '../core/helpers.js'

const vector = [1, 0, 0]

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('analytics in the pipeline', () => {
  it('throttles past the rate limit before the store is called, and audits the refusal with its flags', async () => {
    const analytics = createAnalytics({ onAlarm: () => {}, rateLimits: [{ scope: 'principal', capacity: 3, refillPerSecond: 0.001 }] })
    // setup's upsert by alice takes the first token
    const { alice, spied, sink } = await setup({ analytics })
    await alice.query('docs', { vector, topK: 1 })
    await alice.query('docs', { vector, topK: 1 })
    const queriesBefore = spied.count('doQuery')
    const error = await rejection(alice.query('docs', { vector, topK: 1 }))
    expect(AuthorizationError.isInstance(error)).toBe(true)
    expect((error as AuthorizationError).reason).toBe('rate_limited')
    expect(spied.count('doQuery')).toBe(queriesBefore)
    const last = sink.events.at(-1)
    expect(last?.data.outcome).toBe('denied')
    expect(last?.data.anomalies).toContain('rate_limited:principal')
  })

  it('hands the risk score to the policy as context.attributes.riskScore', async () => {
    const analytics = createAnalytics({ onAlarm: () => {} })
    const { alice, policy } = await setup({ analytics })
    policy.calls.length = 0
    await alice.query('docs', { vector, topK: 1 })
    expect(policy.calls.at(-1)?.context.attributes?.riskScore).toBe(0)
  })

  it('withholds the results of the call that crosses a volume threshold, and contains the next calls', async () => {
    const analytics = createAnalytics({
      onAlarm: () => {},
      responses: { volume: 'deny' },
      metrics: { records: { ceiling: 3 } },
    })
    const { alice, sink } = await setup({ analytics })
    // only records returned count (setup's upsert does not): two, then two more cross the ceiling of three
    await alice.query('docs', { vector, topK: 2 })
    const error = await rejection(alice.query('docs', { vector, topK: 2 }))
    expect(AuthorizationError.isInstance(error)).toBe(true)
    expect((error as AuthorizationError).reason).toBe('anomaly_contained')
    expect(sink.events.at(-1)?.data.anomalies).toContain('volume_spike:records')
    const next = await rejection(alice.query('docs', { vector, topK: 1 }))
    expect((next as AuthorizationError).reason).toBe('anomaly_contained')
  })

  it('turns a revoke response into an AuthenticationError on the next call', async () => {
    const revocations = memoryRevocationList()
    const analytics = createAnalytics({ onAlarm: () => {}, revocations, responses: { volume: 'revoke' }, metrics: { records: { ceiling: 3 } } })
    const { alice } = await setup({ analytics })
    await alice.query('docs', { vector, topK: 2 })
    await rejection(alice.query('docs', { vector, topK: 2 }))
    const error = await rejection(alice.query('docs', { vector, topK: 1 }))
    expect(AuthenticationError.isInstance(error)).toBe(true)
    expect((error as AuthenticationError).reason).toBe('revoked')
    expect(revocations.list().some((entry) => entry.kind === 'subject' && entry.value === 'alice')).toBe(true)
  })
})
