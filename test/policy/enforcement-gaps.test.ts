// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// regressions from a security review of the policy engine and how the session enforces its obligations

import { describe, expect, it } from 'vitest'
import { definePolicy } from '../../src/policy/index.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { settle, wardenWith } from './harness.js'
import { allowed, principal, request } from './helpers.js'

const v = [1, 0]

describe('a principal confined to some rows (a tenant)', () => {
  it('cannot delete a collection that holds other tenants’ records', async () => {
    const policy = definePolicy({
      id: 'confined',
      tenancy: { field: 'tenant' },
      roles: { 'tenant-admin': { allow: [{ actions: ['collection.*', 'record.*'], collections: ['*'] }] } },
    })
    const alice = principal({ id: 'alice', tenant: 'acme', roles: ['tenant-admin'] })
    const bob = principal({ id: 'bob', tenant: 'globex', roles: ['tenant-admin'] })
    const { sessions, adapter } = await wardenWith(policy, [alice, bob], [
      { id: 'a1', vector: v, metadata: { tenant: 'acme' } },
      { id: 'g1', vector: v, metadata: { tenant: 'globex' } },
    ])
    const result = await settle(sessions[0]!.deleteCollection('docs'))
    expect(result.ok).toBe(false)
    expect((await adapter.doListCollections({})).map((collection) => collection.name)).toContain('docs')
    expect((await adapter.doCount({ collection: 'docs' })).count).toBe(2)
  })
})

describe('vectors.read', () => {
  it('is not granted by a rule whose row filter cannot be bound for the principal', () => {
    const policy = definePolicy({
      id: 'vectors',
      roles: {
        project: { allow: [{ id: 'project', actions: ['record.query', 'vectors.read'], rowFilter: { project: '${principal.attributes.project}' } }] },
        public: { allow: [{ id: 'public', actions: ['record.query'], rowFilter: { visibility: 'public' } }] },
      },
    })
    // no `project` attribute: the project rule takes no part, for records or for vectors
    const who = principal({ roles: ['project', 'public'], attributes: {} })
    const decision = allowed(policy.decide(request(who, 'record.query', 'docs', { includeVectors: true })))
    expect(decision.rowFilter).toEqual({ kind: 'cmp', field: 'visibility', op: '$eq', value: 'public' })
    expect(decision.readVectors).toBe(false)
    const member = principal({ roles: ['project', 'public'], attributes: { project: 'p1' } })
    expect(allowed(policy.decide(request(member, 'record.query', 'docs', { includeVectors: true }))).readVectors).toBe(true)
  })
})

describe('an upsert over an existing record', () => {
  it('is refused when it would drop a field the principal may not write (update refuses the same)', async () => {
    const policy = definePolicy({
      id: 'editor',
      tenancy: { field: 'tenant' },
      roles: { editor: { allow: [{ actions: ['record.*'], collections: ['docs'], fields: { write: ['title'] } }] } },
    })
    const alice = principal({ id: 'alice', tenant: 'acme', roles: ['editor'] })
    const { sessions, adapter } = await wardenWith(policy, [alice], [{ id: 'r1', vector: v, metadata: { tenant: 'acme', title: 't', legalHold: true } }])
    expect((await settle(sessions[0]!.update('docs', 'r1', { legalHold: null }))).ok).toBe(false)
    const upsert = await settle(sessions[0]!.upsert('docs', [{ id: 'r1', vector: v, metadata: { title: 't2' } }]))
    expect(upsert.ok).toBe(false)
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['r1'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata).toMatchObject({ title: 't', legalHold: true })
    // a new id, and a record holding only writable fields, are written as before
    expect((await settle(sessions[0]!.upsert('docs', [{ id: 'r2', vector: v, metadata: { title: 'new' } }]))).ok).toBe(true)
    expect((await settle(sessions[0]!.upsert('docs', [{ id: 'r2', vector: v, metadata: { title: 'newer' } }]))).ok).toBe(true)
  })

  it('is refused when it would take over a record stamped for someone else (its owner)', async () => {
    const policy = definePolicy({
      id: 'team',
      stamp: { owner: '${principal.id}' },
      roles: { member: { allow: [{ actions: ['record.*'], collections: ['docs'], rowFilter: { team: '${principal.attributes.team}' } }] } },
    })
    const alice = principal({ id: 'alice', tenant: undefined, roles: ['member'], attributes: { team: 't1' } })
    const { sessions, adapter } = await wardenWith(policy, [alice], [{ id: 'b1', vector: v, metadata: { team: 't1', owner: 'bob', title: 'x' } }])
    const upsert = await settle(sessions[0]!.upsert('docs', [{ id: 'b1', vector: v, metadata: { team: 't1', title: 'mine now' } }]))
    expect(upsert.ok).toBe(false)
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['b1'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata).toMatchObject({ owner: 'bob', title: 'x' })
  })
})

describe('limits in the obligations of a policy decision point written by hand', () => {
  const raw = (extra: Record<string, unknown>): PolicyDecisionPoint => ({
    id: 'raw',
    version: '1',
    decide: (): Decision =>
      ({
        effect: 'allow',
        matchedRules: [],
        obligations: { rowFilter: null, stamp: {}, readableFields: '*', writableFields: '*', decryptableFields: '*', readVectors: false, ...extra },
      }) as Decision,
  })
  const rows = [1, 2, 3, 4, 5].map((n) => ({ id: `r${n}`, vector: v, metadata: { n } }))

  it('deny the call when a limit is not a positive integer (a string from JSON, NaN, 0), rather than lift it', async () => {
    for (const extra of [{ maxDelete: '1' }, { maxIds: Number.NaN }, { maxTopK: 0 }, { maxIds: 2.5 }, { stamp: { owner: { nested: true } } }]) {
      const { sessions, adapter } = await wardenWith(raw(extra), [principal({ tenant: undefined })], rows)
      const deleted = await settle(sessions[0]!.delete('docs', { filter: { n: { $gte: 0 } } }))
      const fetched = await settle(sessions[0]!.fetch('docs', ['r1', 'r2', 'r3', 'r4', 'r5']))
      expect({ extra, deleted: deleted.ok, fetched: fetched.ok }).toEqual({ extra, deleted: false, fetched: false })
      expect((await adapter.doCount({ collection: 'docs' })).count).toBe(5)
    }
  })
})

describe('scroll', () => {
  it('holds to the policy’s limits on reads (maxIds, maxTopK), as fetch and query do', async () => {
    const policy = definePolicy({
      id: 'limited',
      roles: { reader: { allow: [{ actions: ['record.*'], collections: ['docs'] }], limits: { maxTopK: 2, maxIds: 2 } } },
    })
    const who = principal({ tenant: undefined, roles: ['reader'] })
    const { sessions } = await wardenWith(policy, [who], [1, 2, 3, 4, 5].map((n) => ({ id: `r${n}`, vector: v, metadata: { n } })))
    expect((await settle(sessions[0]!.fetch('docs', ['r1', 'r2', 'r3']))).ok).toBe(false)
    expect((await settle(sessions[0]!.scroll('docs', { limit: 100 }))).ok).toBe(false)
    const page = await settle(sessions[0]!.scroll('docs', { limit: 2 }))
    expect(page.ok && page.value.records.length).toBe(2)
  })
})

describe('a just-in-time permission grant', () => {
  it('does not lift the limits of the roles that also allow (one narrow grant must not lift maxTopK for every read)', async () => {
    const policy = definePolicy({
      id: 'jit',
      roles: { reader: { allow: [{ actions: ['record.query'], collections: ['docs'] }], limits: { maxTopK: 5 } } },
    })
    try {
      const who = principal({ id: 'alice', tenant: undefined, roles: ['reader'] })
      expect(allowed(policy.decide(request(who, 'record.query'))).maxTopK).toBe(5)
      await policy.grants.grant({
        principalId: 'alice',
        permission: { actions: ['record.query'], collections: ['docs'], rowFilter: { ticket: 'INC-1' } },
        durationMs: 60_000,
        justification: 'read one ticket',
        approver: () => ({ approved: true, approverId: 'bob' }),
      })
      expect(allowed(policy.decide(request(who, 'record.query', 'docs', { now: Date.now() }))).maxTopK).toBe(5)
      // a principal whom only the grant allows gets the policy's defaults (none here)
      const outsider = principal({ id: 'alice', tenant: undefined, roles: [] })
      const granted = allowed(policy.decide(request(outsider, 'record.query', 'docs', { now: Date.now() })))
      expect(granted.rowFilter).toEqual({ kind: 'cmp', field: 'ticket', op: '$eq', value: 'INC-1' })
      expect(granted.maxTopK).toBeUndefined()
    } finally {
      policy.grants.close()
    }
  })
})
