// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// one named test (or more) per DESIGN.md invariant 2–8, with the built-in engine end to end

import { describe, expect, it } from 'vitest'
import { AuthorizationError, ConfigError, InputError } from '../../src/errors.js'
import { evaluateFilter } from '../../src/filter/index.js'
import { definePolicy } from '../../src/policy/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import { ids, RAG_POLICY, rag } from './fixture.js'
import { settle } from './harness.js'

const vector = [1, 0]

async function reason(promise: Promise<unknown>): Promise<string | undefined> {
  const result = await settle(promise)
  if (result.ok) return undefined
  return (result.error as { reason?: string }).reason
}

describe('invariant 2: filters are nested, never merged', () => {
  it('the store receives AND(row filter, caller filter) with the caller filter as one untouched child', async () => {
    const { as, spied, policy } = await rag()
    const alice = await as('alice')
    const escaping = { $or: [{ tenant: 'globex' }, {}] }
    const { matches } = await alice.query('docs', { vector, topK: 10, filter: escaping })
    expect(ids(matches)).toEqual(['acme-all', 'acme-eng'])
    const sent = spied.calls.find((call) => call.method === 'doQuery')?.params.filter as FilterNode
    const decision = await policy.decide({ principal: alice.principal, action: 'record.query', resource: { collection: 'docs' }, context: {}, now: Date.now() })
    expect(sent.kind).toBe('and')
    if (sent.kind !== 'and' || decision.effect !== 'allow') throw new Error('unexpected')
    expect(sent.children).toHaveLength(2)
    expect(sent.children[0]).toEqual(decision.obligations.rowFilter)
    expect(sent.children[1]?.kind).toBe('or')
  })
})

describe('invariant 3: deny-all short-circuits, allow-all omits', () => {
  it('an empty grant (no groups) answers nothing without calling the store', async () => {
    const { as, spied } = await rag()
    const dave = await as('nogroups')
    expect((await dave.query('docs', { vector, topK: 10 })).matches).toEqual([])
    expect((await dave.count('docs')).count).toBe(0)
    expect(spied.count('doQuery') + spied.count('doCount')).toBe(0)
  })

  it('a principal without a tenant is denied record operations and the store is never called', async () => {
    const { as, spied } = await rag()
    for (const person of ['notenant', 'emptytenant'] as const) {
      const session = await as(person)
      expect(await reason(session.query('docs', { vector, topK: 10 }))).toBe('tenant_required')
      expect(await reason(session.upsert('docs', [{ id: 'x', vector }]))).toBe('tenant_required')
    }
    expect(spied.calls).toEqual([])
  })

  it('a policy without tenancy or row filters sends no filter at all', async () => {
    const open = definePolicy({ id: 'open', roles: { writer: { allow: [{ actions: ['record.*'] }] } } })
    const { as, spied } = await rag({ policy: open })
    await (await as('alice')).query('docs', { vector, topK: 3 })
    expect(spied.calls.find((call) => call.method === 'doQuery')?.params.filter).toBeUndefined()
  })
})

describe('invariant 4: enforced predicates are positive allow-lists', () => {
  it('a policy whose row filter uses $ne, $nin or $exists:false is refused at load', () => {
    for (const rowFilter of [{ tenant: { $ne: 'x' } }, { groups: { $nin: ['x'] } }, { secret: { $exists: false } }]) {
      expect(() => definePolicy({ ...RAG_POLICY, roles: { r: { allow: [{ actions: ['record.query'], rowFilter }] } } })).toThrow(ConfigError)
    }
  })

  it('a record without the ACL field is never granted (the $in is on a field every granted record carries)', async () => {
    const { as } = await rag()
    const alice = await as('alice')
    const { matches } = await alice.query('docs', { vector, topK: 10 })
    expect(ids(matches)).not.toContain('acme-noacl')
    expect(ids(matches)).not.toContain('untenanted')
  })
})

describe('invariant 5: operations by id are filtered too', () => {
  it('fetch, delete and update by id of another tenant\'s record act as if it did not exist', async () => {
    const { as, store } = await rag()
    const alice = await as('alice')
    expect((await alice.fetch('docs', ['globex-eng', 'acme-eng'])).records.map((record) => record.id)).toEqual(['acme-eng'])
    expect((await alice.delete('docs', { ids: ['globex-eng'] })).deleted).toBe(0)
    expect((await alice.update('docs', 'globex-eng', { title: 'pwned' })).updated).toBe(false)
    const { records } = await store.doFetch({ collection: 'docs', ids: ['globex-eng'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata?.title).toBe('globex eng')
  })

  it('fetch by id honours the group row filter, not only the tenant', async () => {
    const { as } = await rag()
    const carol = await as('carol')
    expect(ids((await carol.fetch('docs', ['acme-eng', 'acme-sales', 'acme-noacl'])).records)).toEqual(['acme-sales'])
  })
})

describe('invariant 6: writes are checked and stamped', () => {
  it('stamps tenant and owner from the principal', async () => {
    const { as, store } = await rag()
    await (await as('alice')).upsert('docs', [{ id: 'new', vector, metadata: { title: 'n', groups: ['eng'] } }])
    const { records } = await store.doFetch({ collection: 'docs', ids: ['new'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata).toMatchObject({ tenant: 'acme', owner: 'alice' })
  })

  it('refuses callers that set stamped fields to other values, writing nothing', async () => {
    const { as, store } = await rag()
    const alice = await as('alice')
    expect(await reason(alice.upsert('docs', [{ id: 'n1', vector, metadata: { tenant: 'globex' } }]))).toBe('acl_field')
    expect(await reason(alice.upsert('docs', [{ id: 'n2', vector, metadata: { owner: 'bob' } }]))).toBe('acl_field')
    expect(await reason(alice.update('docs', 'acme-eng', { tenant: 'globex' }))).toBe('acl_field')
    const { records } = await store.doFetch({ collection: 'docs', ids: ['n1', 'n2', 'acme-eng'], includeMetadata: true, includeVectors: false })
    expect(records.map((record) => record.id)).toEqual(['acme-eng'])
    expect(records[0]?.metadata?.tenant).toBe('acme')
  })

  it('a batch that would overwrite another tenant\'s record is refused as a whole', async () => {
    const { as, store } = await rag()
    const alice = await as('alice')
    const result = await settle(alice.upsert('docs', [{ id: 'fresh', vector }, { id: 'globex-eng', vector, metadata: { title: 'mine now' } }]))
    expect(result.ok).toBe(false)
    const { records } = await store.doFetch({ collection: 'docs', ids: ['fresh', 'globex-eng'], includeMetadata: true, includeVectors: false })
    expect(records.map((record) => record.id)).toEqual(['globex-eng'])
    expect(records[0]?.metadata?.tenant).toBe('globex')
  })
})

describe('invariant 6 (pipeline): an update may not move a record out of the row filter', () => {
  it('refuses a patch that would take the record outside the caller\'s row filter', async () => {
    const policy = definePolicy({
      id: 'p',
      tenancy: { field: 'tenant' },
      roles: { writer: { allow: [{ actions: ['record.update', 'record.fetch'], rowFilter: { groups: { $in: '${principal.attributes.groups}' } } }] } },
    })
    const { as, store } = await rag({ policy })
    const alice = await as('alice')
    const result = await settle(alice.update('docs', 'acme-eng', { groups: ['finance'] }))
    expect(result.ok).toBe(false)
    const { records } = await store.doFetch({ collection: 'docs', ids: ['acme-eng'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata?.groups).toEqual(['eng'])
  })
})

describe('invariant 7: results are re-verified', () => {
  it('records a lying store returns outside the row filter are dropped and raise an integrity alarm', async () => {
    const { as, audit } = await rag({ lie: true })
    const alice = await as('alice')
    const { matches } = await alice.query('docs', { vector, topK: 10 })
    expect(ids(matches)).toEqual(['acme-all', 'acme-eng'])
    const { records } = await alice.fetch('docs', ['globex-eng', 'acme-sales', 'acme-eng'])
    expect(ids(records)).toEqual(['acme-eng'])
    expect(audit.events.some((event) => event.type === 'dev.vectorwarden.security.integrity')).toBe(true)
  })
})

describe('invariant 8: vectors and fields are separate permissions', () => {
  it('includeVectors needs vectors.read: refused without it, returned with it', async () => {
    const { as } = await rag()
    expect(await reason((await as('alice')).query('docs', { vector, topK: 3, includeVectors: true }))).toBe('vector_read_denied')
    const { matches } = await (await as('carol')).query('docs', { vector, topK: 3, includeVectors: true })
    expect(matches.length).toBeGreaterThan(0)
    expect(matches.every((match) => match.vector !== undefined)).toBe(true)
    const plain = await (await as('alice')).query('docs', { vector, topK: 3 })
    expect(plain.matches.every((match) => match.vector === undefined)).toBe(true)
  })

  it('metadata is projected to readable fields (labelled and undeclared fields hidden) and filtering on others is denied', async () => {
    const { as } = await rag()
    const judy = await as('hr')
    const { records } = await judy.fetch('hr', ['p1', 'p2'])
    expect(records).toHaveLength(1)
    expect(Object.keys(records[0]?.metadata ?? {}).sort()).toEqual(['dept', 'name'])
    expect(JSON.stringify(records)).not.toContain('123-45-6789')
    expect(await reason(judy.query('hr', { vector, topK: 3, filter: { ssn: '123-45-6789' } }))).toBe('filter_on_unreadable_field')
    expect(await reason(judy.upsert('hr', [{ id: 'p3', vector, metadata: { ssn: '000-00-0000' } }]))).toBe('field_not_writable')
  })
})

describe('limits against bulk exfiltration', () => {
  it('maxTopK clamps, maxIds refuses long id lists, maxDelete refuses large deletes', async () => {
    const { as } = await rag()
    const ivan = await as('limited')
    expect((await ivan.query('docs', { vector, topK: 50 })).matches).toHaveLength(2)
    const tooMany = await settle(ivan.fetch('docs', ['acme-eng', 'acme-sales', 'acme-all']))
    expect(!tooMany.ok && InputError.isInstance(tooMany.error)).toBe(true)
    const alice = await as('alice')
    await alice.upsert('docs', [1, 2, 3].map((n) => ({ id: `bulk-${n}`, vector, metadata: { groups: ['eng'], batch: 'x' } })))
    const result = await settle(alice.delete('docs', { filter: { batch: 'x' } }))
    expect(!result.ok && AuthorizationError.isInstance(result.error) && result.error.reason).toBe('limit_exceeded')
  })

  it('every decision is audited with the policy id, content version and matched rules', async () => {
    const { as, audit, policy } = await rag()
    await (await as('alice')).query('docs', { vector, topK: 1 })
    const event = audit.events.at(-1)
    expect(event?.data.decision?.policy).toEqual({ id: 'rag', version: policy.version })
    expect(event?.data.decision?.matchedRules).toEqual(['read-by-group'])
    expect(JSON.stringify(audit.events)).not.toContain('secret-value')
  })
})

describe('the row filter the engine emits matches the records the test expects', () => {
  it('OR across roles stays inside the tenant', () => {
    const policy = definePolicy(RAG_POLICY)
    const decision = policy.decide({
      principal: { id: 'x', kind: 'user', tenant: 'acme', roles: ['reader', 'tenantWide'], scopes: [], attributes: { groups: ['sales'] }, authenticator: 't' },
      action: 'record.query',
      resource: { collection: 'docs' },
      context: {},
      now: Date.now(),
    })
    if (decision.effect !== 'allow' || decision.obligations.rowFilter === null) throw new Error('expected a filter')
    expect(evaluateFilter(decision.obligations.rowFilter, { tenant: 'globex', groups: ['sales'] })).toBe(false)
    expect(evaluateFilter(decision.obligations.rowFilter, { tenant: 'acme' })).toBe(true)
  })
})
