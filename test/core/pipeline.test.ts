// the pipeline around the invariants: sessions, continuous verification, one audit event per outcome, no secret leaks

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { AuthenticationError, ConfigError } from '../../src/errors.js'
import type { AuditSink } from '../../src/spec/audit.js'
import type { Principal } from '../../src/spec/auth.js'
import { setup, TOKENS, tableAuthenticator, tenancyPolicy } from './helpers.js'

const vector = [1, 0, 0]

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('configuration', () => {
  it('refuses a configuration without policy, audit or authenticators with a ConfigError naming the field', () => {
    const base = { adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink() }
    for (const field of ['policy', 'audit', 'authenticators', 'adapter'] as const) {
      const options = { ...base, [field]: undefined }
      expect(() => createWarden(options as never)).toThrow(ConfigError)
      try {
        createWarden(options as never)
      } catch (error) {
        expect((error as Error).message).toContain(field)
      }
    }
    expect(() => createWarden({ ...base, authenticators: [] })).toThrow(ConfigError)
    expect(() => createWarden({ ...base, limits: { maxTopK: -1 } })).toThrow(ConfigError)
    expect(() => createWarden(null as never)).toThrow(TypeError)
  })
})

describe('opening a session', () => {
  it('audits a failed authentication with its reason and without the credential', async () => {
    const { warden, sink } = await setup()
    const secret = 'tok-unknown-SUPERSECRET-42'
    const error = await rejection(warden.session(`Bearer ${secret}`))
    expect(AuthenticationError.isInstance(error) && error.reason).toBe('unknown_token')
    expect(sink.events).toHaveLength(1)
    expect(sink.events[0]?.data).toMatchObject({ operation: 'session.open', outcome: 'denied', error: { reason: 'unknown_token' } })
    expect(JSON.stringify(sink.events)).not.toContain('SUPERSECRET')
    expect(String(error)).not.toContain('SUPERSECRET')
  })

  it('denies credentials no authenticator recognises, and malformed header values', async () => {
    const { warden } = await setup()
    for (const credential of ['Basic dXNlcjpwYXNz', 'Bearer', 'garbage', '', { apiKey: 'k' }]) {
      const error = await rejection(warden.session(credential as never))
      expect(AuthenticationError.isInstance(error)).toBe(true)
    }
  })

  it('never passes a recognised but invalid credential on to a later authenticator', async () => {
    const permissive = {
      name: 'permissive',
      recognizes: () => true,
      authenticate: async (): Promise<Principal> => ({ ...(TOKENS['tok-admin-0123456789'] as Principal) }),
    }
    const warden = createWarden({
      adapter: memoryAdapter(),
      authenticators: [tableAuthenticator(), permissive],
      policy: tenancyPolicy(),
      audit: memoryAuditSink(),
    })
    const error = await rejection(warden.session('Bearer tok-forged-0123456789'))
    expect(AuthenticationError.isInstance(error)).toBe(true)
  })

  it('treats API misuse as a TypeError', async () => {
    const { warden, alice } = await setup()
    await expect(warden.session(42 as never)).rejects.toThrow(TypeError)
    await expect(alice.query('docs', { vector, topK: '5' as never })).rejects.toThrow(TypeError)
    await expect(alice.fetch('docs', 'a1' as never)).rejects.toThrow(TypeError)
  })
})

describe('continuous verification', () => {
  function clockedSetup(principal: Partial<Principal> = {}) {
    let now = 1_700_000_000_000
    const sink = memoryAuditSink()
    const table = { 'tok-x-0123456789': { ...(TOKENS['tok-alice-0123456789'] as Principal), ...principal } }
    const adapter = memoryAdapter()
    const ready = adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
    const warden = createWarden({
      adapter,
      authenticators: [tableAuthenticator(table)],
      policy: tenancyPolicy(),
      audit: sink,
      sessions: { maxAgeMs: 60_000, idleTimeoutMs: 10_000 },
      now: () => now,
    })
    return { warden, sink, ready, advance: (ms: number) => (now += ms), now: () => now }
  }

  it('refuses the next call once the credential expires mid-session', async () => {
    const { warden, advance, now, ready } = clockedSetup({ expiresAt: 1_700_000_005_000 })
    await ready
    const session = await warden.session('Bearer tok-x-0123456789')
    await expect(session.count('docs')).resolves.toBeDefined()
    advance(5_000)
    expect(now()).toBe(1_700_000_005_000)
    await expect(session.count('docs')).rejects.toMatchObject({ reason: 'credential_expired' })
  })

  it('refuses a session idle longer than the idle timeout', async () => {
    const { warden, advance, ready } = clockedSetup()
    await ready
    const session = await warden.session('Bearer tok-x-0123456789')
    advance(9_000)
    await session.count('docs')
    advance(9_000)
    await session.count('docs')
    advance(10_001)
    await expect(session.count('docs')).rejects.toMatchObject({ reason: 'session_idle' })
  })

  it('refuses a session older than its maximum age however active', async () => {
    const { warden, advance, ready } = clockedSetup()
    await ready
    const session = await warden.session('Bearer tok-x-0123456789')
    for (let i = 0; i < 6; i++) {
      advance(9_000)
      await session.count('docs')
    }
    advance(9_000)
    await expect(session.count('docs')).rejects.toMatchObject({ reason: 'session_expired' })
  })

  it('runs continuous checks on every call and a revocation takes effect on the very next call', async () => {
    const revoked = new Set<string>()
    const { spied, sink, policy } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy,
      audit: sink,
      checks: [
        {
          name: 'revocation',
          check: (session) => {
            if (revoked.has(session.principal.id)) throw new AuthenticationError('revoked', { reason: 'revoked' })
          },
        },
      ],
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    await session.count('docs')
    revoked.add('alice')
    await expect(session.count('docs')).rejects.toMatchObject({ reason: 'revoked' })
    expect(spied.count('doCount')).toBe(1)
  })

  it('ends every session and refuses new ones after close', async () => {
    const { warden, alice } = await setup()
    await warden.close()
    await expect(alice.count('docs')).rejects.toMatchObject({ reason: 'warden_closed' })
    await expect(warden.session('Bearer tok-alice-0123456789')).rejects.toMatchObject({ reason: 'warden_closed' })
  })

  it('maps a step-up denial to the step_up_required reason', async () => {
    const { spied, sink } = await setup()
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: {
        id: 'step',
        version: '1',
        decide: () => ({ effect: 'deny', code: 'step_up_required', reasons: ['a fresh second factor is required'], matchedRules: ['pii'] }),
      },
      audit: sink,
    })
    const session = await warden.session('Bearer tok-alice-0123456789')
    await expect(session.count('docs')).rejects.toMatchObject({ code: 'ERR_AUTHORIZATION', reason: 'step_up_required' })
  })
})

describe('audit: exactly one decision event per outcome', () => {
  it('records one event for each allow, deny and error, with the policy version and the filter hash', async () => {
    const { alice, sink } = await setup()
    const outcomes: string[] = []
    await alice.query('docs', { vector, topK: 2 })
    outcomes.push('allowed')
    await alice.createCollection('nope', { dimension: 2 }).catch(() => undefined)
    outcomes.push('denied')
    await alice.query('docs', { vector, topK: 2, filter: { $bogus: 1 } }).catch(() => undefined)
    outcomes.push('error')
    await alice.query('missing', { vector, topK: 2 }).catch(() => undefined)
    outcomes.push('error')
    const decisions = sink.events.filter((e) => e.type === 'dev.vectorwarden.decision')
    expect(decisions.map((e) => e.data.outcome)).toEqual(outcomes)
    const first = decisions[0]?.data
    expect(first?.decision?.policy).toEqual({ id: 'test-tenancy', version: 'v1' })
    expect(first?.request?.filterHash).toMatch(/^[0-9a-f]{64}$/)
    expect(first?.actor).toMatchObject({ id: 'alice', tenant: 'acme', authenticator: 'table' })
    expect(first?.result?.idsHash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('rejects the operation when the audit sink fails in a durable mode', async () => {
    const { spied } = await setup()
    const failing: AuditSink = {
      write: async () => {
        throw new Error('disk full')
      },
    }
    const warden = createWarden({
      adapter: spied.adapter,
      authenticators: [tableAuthenticator()],
      policy: tenancyPolicy(),
      audit: { sinks: failing, mode: 'sync', failClosed: true },
    })
    await expect(warden.session('Bearer tok-alice-0123456789')).rejects.toMatchObject({ code: 'ERR_AUDIT' })
  })
})

describe('invariant 10: secrets never leave', () => {
  it('no token, vector value or field value appears in any audit event or error message', async () => {
    const { warden, sink } = await setup()
    const token = 'tok-alice-0123456789'
    const alice = await warden.session(`Bearer ${token}`)
    const marker = 0.123456789
    const errors: unknown[] = []
    await alice.upsert('docs', [{ id: 'sec', vector: [marker, 0.5, 0.25], metadata: { note: 'PLAINTEXT-NOTE-99' } }])
    await alice.query('docs', { vector: [marker, 1, 0], topK: 3, filter: { note: 'PLAINTEXT-NOTE-99' } })
    errors.push(await rejection(alice.upsert('docs', [{ id: 'bad', vector: [marker, Number.NaN, 1], metadata: { note: 'PLAINTEXT-NOTE-99' } }])))
    errors.push(await rejection(alice.query('docs', { vector: [marker, 1], topK: 3 })))
    errors.push(await rejection(alice.query('docs', { vector, topK: 3, filter: { note: { $regex: 'PLAINTEXT-NOTE-99' } } })))
    errors.push(await rejection(alice.upsert('docs', [{ id: 'y', vector, metadata: { tenant: 'PLAINTEXT-NOTE-99' } }])))
    const everything = JSON.stringify(sink.events) + errors.map((e) => `${String(e)} ${JSON.stringify(e)}`).join('\n')
    expect(everything).not.toContain(token)
    expect(everything).not.toContain('0123456789')
    expect(everything).not.toContain(String(marker))
    expect(everything).not.toContain('PLAINTEXT-NOTE-99')
  })
})
