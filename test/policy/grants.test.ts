import { afterEach, describe, expect, it } from 'vitest'
import { AuthorizationError, InputError } from '../../src/errors.js'
import { definePolicy, type GrantEvent, type Policy } from '../../src/policy/index.js'
import { allowed, deniedCode, NOW, principal, request } from './helpers.js'

const document = {
  id: 'jit',
  tenancy: { field: 'tenant' },
  roles: {
    reader: { allow: [{ actions: ['record.query' as const], collections: ['docs'] }] },
    'break-glass': { allow: [{ actions: ['record.*' as const, 'collection.*' as const], collections: ['*'] }] },
  },
}

const approve = async () => ({ approved: true, approverId: 'bob' })

let current: Policy | undefined
function setup() {
  let clock = NOW
  const events: GrantEvent[] = []
  const policy = definePolicy(document, { grants: { clock: () => clock, onEvent: (event) => void events.push(event) } })
  current = policy
  return { policy, events, advance: (ms: number) => (clock += ms), now: () => clock }
}

afterEach(() => current?.grants.close())

describe('JIT grants', () => {
  it('a granted role allows until it expires by itself, with no action', async () => {
    const { policy, events, now } = setup()
    const alice = principal({ roles: ['reader'] })
    expect(deniedCode(policy.decide(request(alice, 'record.delete')))).toBe('no_matching_rule')
    const grant = await policy.grants.grant({
      principalId: 'alice',
      role: 'break-glass',
      durationMs: 15 * 60_000,
      justification: 'INC-42 restore deleted records',
      approver: approve,
    })
    expect(grant.expiresAt).toBe(now() + 15 * 60_000)
    expect(grant.approverId).toBe('bob')
    const decision = policy.decide(request(alice, 'record.delete', 'docs', { now: now() + 60_000 }))
    expect(allowed(decision).rowFilter).toEqual({ kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' })
    expect(decision.matchedRules).toContain('break-glass.allow[0]')
    expect(deniedCode(policy.decide(request(alice, 'record.delete', 'docs', { now: grant.expiresAt })))).toBe('no_matching_rule')
    expect(events.map((event) => event.type)).toEqual(['grant-granted', 'grant-used', 'grant-expired'])
    expect(policy.grants.list('alice')).toEqual([])
  })

  it('a grant applies only to its principal', async () => {
    const { policy } = setup()
    await policy.grants.grant({ principalId: 'alice', role: 'break-glass', durationMs: 60_000, justification: 'INC-42 restore', approver: approve })
    expect(deniedCode(policy.decide(request(principal({ id: 'mallory', roles: ['reader'] }), 'record.delete')))).toBe('no_matching_rule')
  })

  it('a revoked grant stops allowing at once and is audited', async () => {
    const { policy, events } = setup()
    const grant = await policy.grants.grant({ principalId: 'alice', role: 'break-glass', durationMs: 60_000, justification: 'INC-42 restore', approver: approve })
    allowed(policy.decide(request(principal(), 'record.delete')))
    expect(policy.grants.revoke(grant.id, { by: 'carol', reason: 'done' })).toBe(true)
    expect(policy.grants.revoke(grant.id)).toBe(false)
    expect(deniedCode(policy.decide(request(principal(), 'record.delete')))).toBe('no_matching_rule')
    const revoked = events.find((event) => event.type === 'grant-revoked')
    expect(revoked).toMatchObject({ by: 'carol', reason: 'done', grant: { id: grant.id } })
  })

  it('a permission grant carries its own rule, including a row filter', async () => {
    const { policy } = setup()
    await policy.grants.grant({
      principalId: 'alice',
      permission: { actions: ['record.fetch'], collections: ['docs'], rowFilter: { case: 'INC-42' } },
      durationMs: 60_000,
      justification: 'INC-42 read case records',
      approver: () => true,
    })
    const decision = policy.decide(request(principal(), 'record.fetch'))
    expect(allowed(decision).rowFilter).toEqual({
      kind: 'and',
      children: [
        { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' },
        { kind: 'cmp', field: 'case', op: '$eq', value: 'INC-42' },
      ],
    })
    expect(decision.matchedRules[0]).toMatch(/^grant:grant_/)
  })

  it('refusal, a failing approver and self-approval make no grant', async () => {
    const { policy, events } = setup()
    const base = { principalId: 'alice', role: 'break-glass', durationMs: 60_000, justification: 'INC-42 restore' }
    for (const approver of [
      () => false,
      async () => ({ approved: false, reason: 'not on call' }),
      () => {
        throw new Error('pager down')
      },
      () => ({ approved: true, approverId: 'alice' }),
    ]) {
      const error = await policy.grants.grant({ ...base, approver }).catch((caught: unknown) => caught)
      expect(AuthorizationError.isInstance(error) && error.reason).toBe('grant_not_approved')
    }
    expect(deniedCode(policy.decide(request(principal(), 'record.delete')))).toBe('no_matching_rule')
    expect(events.every((event) => event.type === 'grant-refused')).toBe(true)
    expect(events).toHaveLength(4)
  })

  it('validates a grant request: unknown role, over-long or zero duration, missing justification, both role and permission', async () => {
    const { policy } = setup()
    const base = { principalId: 'alice', durationMs: 60_000, justification: 'INC-42 restore', approver: approve }
    for (const bad of [
      { ...base, role: 'ghost' },
      { ...base, role: 'reader', durationMs: 0 },
      { ...base, role: 'reader', durationMs: 9 * 3_600_000 },
      { ...base, role: 'reader', justification: ' ' },
      { ...base, role: 'reader', permission: { actions: ['record.query' as const] } },
      { ...base },
      { ...base, permission: { actions: ['record.query' as const], rowFilter: { a: { $ne: 1 } } } },
    ]) {
      const error = await policy.grants.grant(bad).catch((caught: unknown) => caught)
      expect(InputError.isInstance(error)).toBe(true)
    }
    await expect(policy.grants.grant({ ...base, role: 'reader', approver: undefined as never })).rejects.toThrow(TypeError)
  })

  it('an audit hook that cannot record the grant prevents it', async () => {
    const policy = definePolicy(document, {
      grants: {
        onEvent: () => {
          throw new Error('audit down')
        },
      },
    })
    current = policy
    await expect(
      policy.grants.grant({ principalId: 'alice', role: 'break-glass', durationMs: 60_000, justification: 'INC-42 restore', approver: approve }),
    ).rejects.toThrow('audit down')
    expect(deniedCode(policy.decide(request(principal(), 'record.delete', 'docs', { now: Date.now() })))).toBe('no_matching_rule')
  })

  it('the expiry timer emits grant-expired on time without any decision', async () => {
    const events: GrantEvent[] = []
    const policy = definePolicy(document, { grants: { onEvent: (event) => void events.push(event) } })
    current = policy
    await policy.grants.grant({ principalId: 'alice', role: 'break-glass', durationMs: 30, justification: 'INC-42 restore', approver: approve })
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(events.map((event) => event.type)).toEqual(['grant-granted', 'grant-expired'])
  })

  it('subscribers receive events and can unsubscribe', async () => {
    const { policy } = setup()
    const seen: string[] = []
    const unsubscribe = policy.grants.subscribe((event) => void seen.push(event.type))
    const grant = await policy.grants.grant({ principalId: 'alice', role: 'reader', durationMs: 60_000, justification: 'INC-42 restore', approver: approve })
    unsubscribe()
    policy.grants.revoke(grant.id)
    expect(seen).toEqual(['grant-granted'])
  })
})

describe('JIT grants end to end', () => {
  it('a break-glass grant lets a session act until it is revoked, and each use is reported', async () => {
    const { wardenWith } = await import('./harness.js')
    const events: GrantEvent[] = []
    const policy = definePolicy(document, { grants: { onEvent: (event) => void events.push(event) } })
    current = policy
    const alice = principal({ roles: ['reader'] })
    const rows = [
      { id: 'a1', vector: [1, 0], metadata: { tenant: 'acme' } },
      { id: 'g1', vector: [1, 0], metadata: { tenant: 'globex' } },
    ]
    const { warden, sessions, adapter } = await wardenWith(policy, [alice], rows)
    const session = sessions[0]!
    try {
      await expect(session.delete('docs', { ids: ['a1'] })).rejects.toMatchObject({ reason: 'no_matching_rule' })
      const grant = await policy.grants.grant({ principalId: 'alice', role: 'break-glass', durationMs: 60_000, justification: 'INC-42 restore', approver: approve })
      expect((await session.delete('docs', { ids: ['a1', 'g1'] })).deleted).toBe(1)
      const { records } = await adapter.doFetch({ collection: 'docs', ids: ['a1', 'g1'], includeMetadata: false, includeVectors: false })
      expect(records.map((record) => record.id)).toEqual(['g1'])
      policy.grants.revoke(grant.id)
      await expect(session.delete('docs', { ids: ['g1'] })).rejects.toMatchObject({ reason: 'no_matching_rule' })
      expect(events.map((event) => event.type)).toEqual(['grant-granted', 'grant-used', 'grant-revoked'])
    } finally {
      await warden.close()
    }
  })
})
