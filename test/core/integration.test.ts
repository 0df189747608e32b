// the warden wires the stages together: CAEP signals through warden.signal, JIT grants into the audit trail

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createSignalHub, memoryRevocationList } from '../../src/auth/index.js'
import { createWarden } from '../../src/core/index.js'
import { definePolicy, type PolicyDocument } from '../../src/policy/index.js'
import { tableAuthenticator } from './helpers.js'

const policyDocument: PolicyDocument = {
  id: 'integration',
  tenancy: { field: 'tenant' },
  roles: {
    writer: { allow: [{ actions: ['record.query', 'record.upsert', 'record.count'], collections: ['docs'] }] },
    admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
  },
}

describe('warden.signal', () => {
  it('applies a session-revoked signal to open sessions on their next call and audits it', async () => {
    const sink = memoryAuditSink()
    const signals = createSignalHub({ revocations: memoryRevocationList() })
    const adapter = memoryAdapter()
    await adapter.doCreateCollection({ name: 'docs', dimension: 2, distance: 'cosine' })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy: definePolicy(policyDocument), audit: sink, signals })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    const bob = await warden.session('Bearer tok-bob-0123456789')
    await alice.count('docs')
    await warden.signal({ type: 'session-revoked', subject: { subject: 'alice' } })
    await expect(alice.count('docs')).rejects.toMatchObject({ code: 'ERR_AUTHENTICATION', reason: 'revoked' })
    await expect(bob.count('docs')).resolves.toEqual({ count: 0, exact: true })
    const security = sink.events.filter((event) => event.type.startsWith('dev.vectorwarden.security.'))
    expect(security.map((event) => event.type)).toEqual(['dev.vectorwarden.security.revocation'])
    expect(security[0]?.data.operation).toBe('signal.session-revoked')
  })

  it('refuses warden.signal without a signal hub, as misuse', async () => {
    const warden = createWarden({ adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy: definePolicy(policyDocument), audit: memoryAuditSink() })
    await expect(warden.signal({ type: 'session-revoked', subject: { subject: 'alice' } })).rejects.toThrow(TypeError)
  })
})

describe('JIT grants in the audit trail', () => {
  it('records a grant when made and when used, and stops recording after close', async () => {
    const sink = memoryAuditSink()
    const policy = definePolicy(policyDocument)
    const adapter = memoryAdapter()
    await adapter.doCreateCollection({ name: 'docs', dimension: 2, distance: 'cosine' })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy, audit: sink })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await expect(alice.createCollection('scratch', { dimension: 2 })).rejects.toMatchObject({ code: 'ERR_AUTHORIZATION' })
    await policy.grants.grant({
      principalId: 'alice',
      role: 'admin',
      durationMs: 60_000,
      justification: 'INC-42 restore',
      approver: async () => ({ approved: true, approverId: 'bob' }),
    })
    await alice.createCollection('scratch', { dimension: 2 })
    await new Promise((resolve) => setTimeout(resolve, 10))
    const grantEvents = sink.events.filter((event) => event.type === 'dev.vectorwarden.security.grant')
    expect(grantEvents.map((event) => event.data.operation)).toContain('grant-granted')
    expect(grantEvents.map((event) => event.data.operation)).toContain('grant-used')
    expect(grantEvents[0]?.data.grant).toMatchObject({ principalId: 'alice', role: 'admin', justification: 'INC-42 restore', approverId: 'bob' })
    await warden.close()
    const before = sink.events.length
    await policy.grants.grant({ principalId: 'bob', role: 'admin', durationMs: 1000, justification: 'later', approver: async () => ({ approved: true, approverId: 'carol' }) })
    expect(sink.events.length).toBe(before)
    policy.grants.close()
  })

  it('refuses a grant whose audit event cannot be recorded (a grant nobody can audit does not exist)', async () => {
    const policy = definePolicy(policyDocument)
    const failing = {
      write: async (event: { type: string }) => {
        if (event.type === 'dev.vectorwarden.security.grant') throw new Error('audit store down')
      },
    }
    const warden = createWarden({ adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy, audit: { sinks: failing, mode: 'sync' } })
    await expect(
      policy.grants.grant({ principalId: 'alice', role: 'admin', durationMs: 60_000, justification: 'INC-7', approver: async () => ({ approved: true, approverId: 'bob' }) }),
    ).rejects.toMatchObject({ code: 'ERR_AUDIT' })
    expect(policy.grants.list('alice')).toEqual([])
    await warden.close().catch(() => undefined)
    policy.grants.close()
  })
})
