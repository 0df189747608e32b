import { describe, expect, it, vi } from 'vitest'
import {
  type AnalyticsVerdict,
  CAEP_CREDENTIAL_CHANGE,
  CAEP_SESSION_REVOKED,
  type CaepSignal,
  createAnalytics,
} from '../../src/analytics/index.js'
import { memoryRevocationList, revocationQueryOf } from '../../src/auth/revocation.js'
import { ConfigError } from '../../src/errors.js'
import type { AuditEvent } from '../../src/spec/audit.js'
import type { Principal } from '../../src/spec/auth.js'
import { memoryStateStore } from '../../src/state/memory.js'
import type { StateStore } from '../../src/state/types.js'

const HOUR = 3_600_000
// a Monday, 10:00 UTC
const MONDAY = Date.UTC(2026, 0, 5, 10)

function principal(id: string, extra: Partial<Principal> = {}): Principal {
  return {
    id,
    kind: 'user',
    tenant: 'acme',
    roles: ['reader'],
    scopes: [],
    attributes: {},
    authenticator: 'jwt',
    issuer: 'https://idp.example',
    credentialId: `jti-${id}`,
    ...extra,
  }
}

const quiet = { onAlarm: () => {} }

/** Trains a principal's baselines with `windows` hours of steady use. */
async function train(
  analytics: ReturnType<typeof createAnalytics>,
  who: Principal,
  windows: number,
  perWindow = { calls: 5, records: 10 },
  collection = 'docs',
): Promise<number> {
  let now = MONDAY - windows * HOUR
  for (let window = 0; window < windows; window++) {
    for (let call = 0; call < perWindow.calls; call++) {
      now = MONDAY - (windows - window) * HOUR + call * 60_000
      await analytics.before({ principal: who, action: 'record.query', collection, context: {}, now })
      await analytics.after({ principal: who, action: 'record.query', collection, outcome: 'allowed', recordCount: perWindow.records, now })
    }
  }
  return MONDAY
}

describe('rate limits', () => {
  it('throttles a principal past its bucket and says when to retry', async () => {
    const analytics = createAnalytics({ ...quiet, rateLimits: [{ scope: 'principal', capacity: 3, refillPerSecond: 1 }] })
    const alice = principal('alice')
    const responses = []
    for (let call = 0; call < 4; call++) {
      responses.push(await analytics.before({ principal: alice, action: 'record.query', context: {}, now: MONDAY }))
    }
    expect(responses.map((verdict) => verdict.response)).toEqual(['allow', 'allow', 'allow', 'throttle'])
    expect(responses[3]?.flags).toContain('rate_limited:principal')
    expect(responses[3]?.retryAfterMs).toBe(1000)
    const later = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: MONDAY + 1000 })
    expect(later.response).toBe('allow')
  })

  it('shares a tenant bucket between the tenant’s principals and keeps other tenants apart', async () => {
    const analytics = createAnalytics({ ...quiet, rateLimits: [{ scope: 'tenant', capacity: 2, refillPerSecond: 0.001 }] })
    const call = (who: Principal) => analytics.before({ principal: who, action: 'record.query', context: {}, now: MONDAY })
    expect((await call(principal('a'))).response).toBe('allow')
    expect((await call(principal('b'))).response).toBe('allow')
    expect((await call(principal('c'))).response).toBe('throttle')
    expect((await call(principal('d', { tenant: 'other' }))).response).toBe('allow')
  })

  it('applies an action-scoped limit only to its actions', async () => {
    const analytics = createAnalytics({
      ...quiet,
      rateLimits: [{ scope: 'principal', actions: ['record.delete'], capacity: 1, refillPerSecond: 0.001 }],
    })
    const alice = principal('alice')
    const call = (action: 'record.delete' | 'record.query') => analytics.before({ principal: alice, action, context: {}, now: MONDAY })
    expect((await call('record.delete')).response).toBe('allow')
    expect((await call('record.delete')).response).toBe('throttle')
    expect((await call('record.query')).response).toBe('allow')
  })
})

describe('detectors', () => {
  it('flags calls outside a configured working window in the configured time zone', async () => {
    const analytics = createAnalytics({
      ...quiet,
      offHours: { mode: 'window', timeZone: 'Europe/Paris', startHour: 8, endHour: 19 },
    })
    const alice = principal('alice')
    // 06:30 UTC is 07:30 in Paris (winter): off hours; 07:30 UTC is 08:30 in Paris: working hours
    const early = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.UTC(2026, 0, 5, 6, 30) })
    const working = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.UTC(2026, 0, 5, 7, 30) })
    const saturday = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.UTC(2026, 0, 10, 10) })
    expect(early.flags).toContain('off_hours')
    expect(working.flags).not.toContain('off_hours')
    expect(saturday.flags).toContain('off_hours')
    expect(early.response).toBe('allow')
  })

  it('learns a principal’s hours and flags an hour it has (almost) never used', async () => {
    const analytics = createAnalytics({ ...quiet, offHours: { mode: 'learned', minSamples: 50, minShare: 0.02 } })
    const alice = principal('alice')
    for (let call = 0; call < 60; call++) {
      const now = Date.UTC(2026, 0, 5 + (call % 5), 9 + (call % 8), 0)
      await analytics.before({ principal: alice, action: 'record.query', context: {}, now })
    }
    const usual = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.UTC(2026, 0, 12, 10) })
    const night = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.UTC(2026, 0, 12, 3) })
    expect(usual.flags).not.toContain('off_hours')
    expect(night.flags).toContain('off_hours')
  })

  it('flags the first access to a collection once the principal has a history, and only the first', async () => {
    const analytics = createAnalytics({ ...quiet, firstAccess: { minCalls: 10 } })
    const alice = principal('alice')
    for (let call = 0; call < 10; call++) {
      const verdict = await analytics.before({ principal: alice, action: 'record.query', collection: 'docs', context: {}, now: MONDAY + call })
      expect(verdict.flags).not.toContain('first_collection_access')
    }
    const first = await analytics.before({ principal: alice, action: 'record.query', collection: 'payroll', context: {}, now: MONDAY + 20 })
    const again = await analytics.before({ principal: alice, action: 'record.query', collection: 'payroll', context: {}, now: MONDAY + 21 })
    expect(first.flags).toContain('first_collection_access')
    expect(again.flags).not.toContain('first_collection_access')
  })

  it('flags impossible travel and asks for step-up, but not a plausible flight', async () => {
    const analytics = createAnalytics(quiet)
    const alice = principal('alice')
    const paris = { latitude: 48.8566, longitude: 2.3522 }
    const newYork = { latitude: 40.7128, longitude: -74.006 }
    await analytics.before({ principal: alice, action: 'record.query', context: { location: paris }, now: MONDAY })
    const jump = await analytics.before({ principal: alice, action: 'record.query', context: { location: newYork }, now: MONDAY + 30 * 60_000 })
    expect(jump.flags).toContain('impossible_travel')
    expect(jump.response).toBe('step_up')

    const bob = principal('bob')
    await analytics.before({ principal: bob, action: 'record.query', context: { location: paris }, now: MONDAY })
    const flight = await analytics.before({ principal: bob, action: 'record.query', context: { location: newYork }, now: MONDAY + 9 * HOUR })
    expect(flight.flags).not.toContain('impossible_travel')
  })

  it('accepts a fresh strong authentication as the step-up', async () => {
    const analytics = createAnalytics(quiet)
    const paris = { latitude: 48.8566, longitude: 2.3522 }
    const tokyo = { latitude: 35.6762, longitude: 139.6503 }
    const alice = principal('alice', { amr: ['pwd', 'otp'], authTime: MONDAY - 60_000 })
    await analytics.before({ principal: alice, action: 'record.query', context: { location: paris }, now: MONDAY })
    const verdict = await analytics.before({ principal: alice, action: 'record.query', context: { location: tokyo }, now: MONDAY + 1000 })
    expect(verdict.flags).toContain('impossible_travel')
    expect(verdict.response).toBe('allow')
  })

  it('contains probing: repeated denies alarm and the principal is denied for the containment period', async () => {
    const analytics = createAnalytics({ ...quiet, containmentMs: 10 * 60_000 })
    const mallory = principal('mallory')
    let last: AnalyticsVerdict | undefined
    for (let call = 0; call < 21; call++) {
      last = await analytics.after({ principal: mallory, action: 'record.query', collection: 'hr', outcome: 'denied', now: MONDAY + call })
    }
    expect(last?.flags).toContain('probing')
    const next = await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 60_000 })
    expect(next.response).toBe('deny')
    expect(next.flags).toContain('contained:deny')
    const afterwards = await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 11 * 60_000 })
    expect(afterwards.flags).not.toContain('contained:deny')
  })

  it('flags a volume spike against the learned baseline and throttles by default', async () => {
    const analytics = createAnalytics({ ...quiet, throttle: { capacity: 1, refillPerSecond: 0.01 } })
    const alice = principal('alice')
    const now = await train(analytics, alice, 24)
    const spike = await analytics.after({ principal: alice, action: 'record.query', collection: 'docs', outcome: 'allowed', recordCount: 500, now: now + 1 })
    expect(spike.flags).toContain('volume_spike:records')
    expect(spike.response).toBe('throttle')
    const first = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: now + 2000 })
    const second = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: now + 3000 })
    expect([first.response, second.response]).toContain('throttle')
  })

  it('keeps a tenant-wide spike at the configured tier without revoking anyone', async () => {
    const revocations = memoryRevocationList()
    const analytics = createAnalytics({
      ...quiet,
      revocations,
      responses: { tenantVolume: 'revoke', volume: 'observe' },
      metrics: { records: { ceiling: 50 } },
    })
    const verdict = await analytics.after({ principal: principal('alice'), action: 'record.query', outcome: 'allowed', recordCount: 60, now: MONDAY })
    expect(verdict.flags).toContain('tenant_volume_spike:records')
    expect(verdict.revoked).toBe(false)
    expect(revocations.list(MONDAY)).toHaveLength(0)
    const other = await analytics.before({ principal: principal('bob'), action: 'record.query', context: {}, now: MONDAY + 1 })
    expect(other.response).toBe('deny')
    expect(other.flags).toContain('tenant_contained:deny')
  })
})

describe('risk score', () => {
  it('grows with detections, decays with time, and denies above the threshold', async () => {
    const analytics = createAnalytics({ ...quiet, responses: { probing: 'observe' }, risk: { denyAt: 35, stepUpAt: 30 } })
    const mallory = principal('mallory', { tenant: undefined })
    for (let call = 0; call < 21; call++) {
      await analytics.after({ principal: mallory, action: 'record.query', outcome: 'denied', now: MONDAY + call })
    }
    expect(await analytics.riskScore(mallory, MONDAY + 10)).toBe(40)
    const denied = await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 10 })
    expect(denied.response).toBe('deny')
    expect(denied.flags).toContain('risk_high')
    expect(denied.riskScore).toBe(40)
    const later = await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 2 * HOUR })
    expect(later.riskScore).toBeCloseTo(10, 5)
    expect(later.response).toBe('allow')
  })
})

describe('revoke tier', () => {
  it('revokes through the list, emits CAEP signals, audits, and denies the next call', async () => {
    const revocations = memoryRevocationList()
    const signals: CaepSignal[] = []
    const events: AuditEvent[] = []
    const analytics = createAnalytics({
      ...quiet,
      revocations,
      onRevoke: (signal) => {
        signals.push(signal)
      },
      audit: { emit: (event) => void events.push(event) },
      responses: { probing: 'revoke' },
      source: 'https://rag.example',
    })
    const mallory = principal('mallory', { authenticator: 'api-key', credentialId: 'key-17' })
    let verdict: AnalyticsVerdict | undefined
    for (let call = 0; call < 21; call++) {
      verdict = await analytics.after({ principal: mallory, action: 'record.query', outcome: 'denied', now: MONDAY + call })
    }
    expect(verdict?.revoked).toBe(true)
    expect(verdict?.response).toBe('deny')
    expect(revocations.find(revocationQueryOf(mallory), MONDAY + 10)).toBeDefined()
    expect(signals).toHaveLength(1)
    expect(Object.keys(signals[0]?.events ?? {})).toEqual([CAEP_SESSION_REVOKED, CAEP_CREDENTIAL_CHANGE])
    expect(signals[0]?.iss).toBe('https://rag.example')
    expect(events.map((event) => event.type)).toContain('dev.vectorwarden.security.revocation')
    const next = await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 60_000 })
    expect(next.response).toBe('deny')
    expect(next.revoked).toBe(true)
  })

  it('refuses a revoke tier without a revocation list at construction', () => {
    expect(() => createAnalytics({ responses: { volume: 'revoke' } })).toThrow(ConfigError)
  })
})

describe('audit and secrets', () => {
  it('audits every detection with the response it caused', async () => {
    const events: AuditEvent[] = []
    const analytics = createAnalytics({ ...quiet, audit: { emit: (event) => void events.push(event) } })
    const alice = principal('alice')
    await analytics.before({ principal: alice, action: 'record.query', context: { location: { latitude: 0, longitude: 0 } }, now: MONDAY })
    await analytics.before({ principal: alice, action: 'record.query', context: { location: { latitude: 50, longitude: 50 } }, now: MONDAY + 1 })
    expect(events).toHaveLength(1)
    expect(events[0]?.type).toBe('dev.vectorwarden.security.anomaly')
    const security = (events[0]?.data as { security?: { reason?: string; detail?: string } } | undefined)?.security
    expect(security?.reason).toBe('impossible_travel')
    expect(security?.detail).toContain('response step_up')
  })

  it('denies when the audit trail cannot record a response (fail closed)', async () => {
    const analytics = createAnalytics({
      ...quiet,
      audit: {
        emit: () => {
          throw new Error('disk full')
        },
      },
    })
    const alice = principal('alice')
    await analytics.before({ principal: alice, action: 'record.query', context: { location: { latitude: 0, longitude: 0 } }, now: MONDAY })
    const verdict = await analytics.before({ principal: alice, action: 'record.query', context: { location: { latitude: 50, longitude: 50 } }, now: MONDAY + 1 })
    expect(verdict.response).toBe('deny')
    expect(verdict.flags).toContain('audit_unavailable')
  })

  it('keeps credentials and attributes out of audit events and CAEP signals', async () => {
    const secret = 'sk_live_5f2b9c0e7d1a4b3c'
    const events: AuditEvent[] = []
    const signals: CaepSignal[] = []
    const revocations = memoryRevocationList()
    const analytics = createAnalytics({
      ...quiet,
      revocations,
      responses: { probing: 'revoke' },
      audit: { emit: (event) => void events.push(event) },
      onRevoke: (signal) => void signals.push(signal),
    })
    const mallory = principal('mallory', { attributes: { apiKey: secret, note: secret } })
    for (let call = 0; call < 21; call++) {
      await analytics.after({ principal: mallory, action: 'record.query', outcome: 'denied', now: MONDAY + call })
    }
    expect(events.length).toBeGreaterThan(0)
    expect(signals.length).toBe(1)
    expect(JSON.stringify(events)).not.toContain(secret)
    expect(JSON.stringify(signals)).not.toContain(secret)
  })
})

describe('store failures', () => {
  const broken = (): StateStore => ({
    name: 'broken',
    execute: () => Promise.reject(new Error('ECONNREFUSED redis://:hunter2@cache:6379')),
    close: async () => {},
  })

  it('fails closed by default: every call is denied while the store is unreachable', async () => {
    const alarms: string[] = []
    const analytics = createAnalytics({ store: broken(), onAlarm: (alarm) => alarms.push(alarm.kind) })
    const verdict = await analytics.before({ principal: principal('alice'), action: 'record.query', context: {}, now: MONDAY })
    const outcome = await analytics.after({ principal: principal('alice'), action: 'record.query', outcome: 'allowed', now: MONDAY })
    expect(verdict.response).toBe('deny')
    expect(verdict.flags).toEqual(['state_unavailable'])
    expect(outcome.response).toBe('deny')
    expect(alarms).toEqual(['state_degraded'])
  })

  it('degrades to local state with one alarm when configured, and keeps enforcing locally', async () => {
    const alarms: string[] = []
    const details: string[] = []
    const analytics = createAnalytics({
      store: broken(),
      onStoreFailure: 'degrade',
      rateLimits: [{ scope: 'principal', capacity: 2, refillPerSecond: 0.001 }],
      onAlarm: (alarm) => {
        alarms.push(alarm.kind)
        details.push(alarm.detail)
      },
    })
    const alice = principal('alice')
    const responses = []
    for (let call = 0; call < 3; call++) {
      const verdict = await analytics.before({ principal: alice, action: 'record.query', context: {}, now: MONDAY })
      expect(verdict.flags).toContain('state_degraded')
      responses.push(verdict.response)
    }
    expect(responses).toEqual(['allow', 'allow', 'throttle'])
    expect(alarms).toEqual(['state_degraded'])
    expect(details.join(' ')).not.toContain('hunter2')
  })
})

describe('configuration', () => {
  it('rejects an unknown time zone, bad thresholds and unknown keys with ConfigError', () => {
    expect(() => createAnalytics({ offHours: { mode: 'window', timeZone: 'Mars/Olympus', startHour: 8, endHour: 18 } })).toThrow(ConfigError)
    expect(() => createAnalytics({ risk: { stepUpAt: 90, denyAt: 50 } })).toThrow(ConfigError)
    expect(() => createAnalytics({ baseline: { lambda: 2 } })).toThrow(ConfigError)
    expect(() => createAnalytics({ colour: 'blue' } as never)).toThrow(ConfigError)
  })

  it('throws TypeError on a call without a principal or time', async () => {
    const analytics = createAnalytics(quiet)
    expect(() => analytics.before({ action: 'record.query', context: {}, now: 1 } as never)).toThrow(TypeError)
    expect(() => analytics.after({ principal: principal('a'), action: 'record.query', outcome: 'allowed' } as never)).toThrow(TypeError)
  })

  it('lets an operator lift a containment', async () => {
    const analytics = createAnalytics({ ...quiet, store: memoryStateStore() })
    const mallory = principal('mallory')
    for (let call = 0; call < 21; call++) {
      await analytics.after({ principal: mallory, action: 'record.query', outcome: 'denied', now: MONDAY + call })
    }
    expect((await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 10 })).response).toBe('deny')
    await analytics.release(mallory)
    expect((await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: MONDAY + 20 })).response).toBe('allow')
  })
})

vi.setConfig({ testTimeout: 60_000 })
