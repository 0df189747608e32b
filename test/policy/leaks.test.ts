// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// regression tests for the real leaks listed in RESEARCH.md "Authorization for vector search": each must be impossible

import { describe, expect, it } from 'vitest'
import { AuthorizationError } from '../../src/errors.js'
import { definePolicy } from '../../src/policy/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Decision } from '../../src/spec/policy.js'
import { ids, PEOPLE, RAG_POLICY, rag } from './fixture.js'
import { settle, wardenWith } from './harness.js'

const vector = [1, 0]

describe('leak regressions (RESEARCH.md)', () => {
  it('mem0 #5744: an attribute value like `") or true or ("` is a literal value, never filter syntax', async () => {
    const { as } = await rag()
    const leo = await as('injected')
    expect(ids((await leo.query('docs', { vector, topK: 10 })).matches)).toEqual(['acme-injected'])
    // the same string as a caller filter field name or value stays data, nested under the row filter
    const asField = await settle(leo.query('docs', { vector, topK: 10, filter: { '") or true or ("': true } }))
    if (asField.ok) expect(asField.value.matches).toEqual([])
    const asValue = await leo.query('docs', { vector, topK: 10, filter: { title: '") or true or ("' } })
    expect(asValue.matches).toEqual([])
  })

  it('linagora/openrag #759: an empty scope searches nothing, never every tenant', async () => {
    const { as, spied } = await rag()
    expect((await (await as('nogroups')).query('docs', { vector, topK: 10 })).matches).toEqual([])
    const missing = await settle((await as('noattribute')).query('docs', { vector, topK: 10 }))
    expect(!missing.ok && AuthorizationError.isInstance(missing.error) && missing.error.reason).toBe('attribute_missing')
    for (const person of ['notenant', 'emptytenant'] as const) {
      const result = await settle((await as(person)).query('docs', { vector, topK: 10 }))
      expect(!result.ok && AuthorizationError.isInstance(result.error) && result.error.reason).toBe('tenant_required')
    }
    expect(spied.count('doQuery')).toBe(0)
  })

  it('agno #8912: caller metadata cannot overwrite the isolation key, on insert or on update', async () => {
    const { as, store } = await rag()
    const alice = await as('alice')
    expect((await settle(alice.upsert('docs', [{ id: 'evil', vector, metadata: { tenant: 'globex', groups: ['eng'] } }]))).ok).toBe(false)
    expect((await settle(alice.update('docs', 'acme-eng', { tenant: 'globex' }))).ok).toBe(false)
    expect((await settle(alice.update('docs', 'acme-eng', { owner: 'bob' }))).ok).toBe(false)
    const { records } = await store.doFetch({ collection: 'docs', ids: ['evil', 'acme-eng'], includeMetadata: true, includeVectors: false })
    expect(records.map((record) => [record.id, record.metadata?.tenant])).toEqual([['acme-eng', 'acme']])
    const bob = await as('bob')
    expect(ids((await bob.query('docs', { vector, topK: 10 })).matches)).toEqual(['globex-all', 'globex-eng'])
  })

  it('Azure-Samples/azure-search-openai-demo #2278: documents of other groups, or with no ACL at all, stay invisible', async () => {
    const { as } = await rag()
    const carol = await as('carol')
    expect(ids((await carol.query('docs', { vector, topK: 10 })).matches)).toEqual(['acme-sales'])
    expect(ids((await carol.fetch('docs', ['acme-eng', 'acme-noacl', 'untenanted', 'acme-sales'])).records)).toEqual(['acme-sales'])
    expect((await carol.count('docs')).count).toBe(1)
  })

  it('Qdrant Filter::merge_owned: a caller `should`/$or cannot widen the enforced filter', async () => {
    const { as, spied } = await rag()
    const carol = await as('carol')
    const widening = { $or: [{ groups: 'eng' }, { tenant: 'globex' }, { public: true }, {}] }
    expect(ids((await carol.query('docs', { vector, topK: 10, filter: widening })).matches)).toEqual(['acme-sales'])
    const sent = spied.calls.find((call) => call.method === 'doQuery')?.params.filter as FilterNode
    expect(sent.kind === 'and' && sent.children.length).toBe(2)
  })

  it('Elasticsearch DLS: a role without a row filter widens only within the tenant, never across it', async () => {
    const { as } = await rag()
    const hank = await as('wide')
    const found = ids((await hank.query('docs', { vector, topK: 20 })).matches)
    expect(found).toEqual(['acme-all', 'acme-eng', 'acme-injected', 'acme-noacl', 'acme-sales'])
    expect(found.some((id) => id.startsWith('globex') || id === 'untenanted')).toBe(false)
  })

  it('PAIG: the caller expression is parenthesized (kept as one nested child), never appended', async () => {
    const { as, spied } = await rag()
    const alice = await as('alice')
    await alice.query('docs', { vector, topK: 10, filter: { title: 'acme eng', $or: [{ public: true }, { tenant: 'globex' }] } })
    const sent = spied.calls.find((call) => call.method === 'doQuery')?.params.filter as FilterNode
    if (sent.kind !== 'and') throw new Error('expected and')
    const [enforced, caller] = sent.children
    expect(JSON.stringify(enforced)).not.toContain('title')
    expect(JSON.stringify(caller)).toContain('title')
    expect(JSON.stringify(caller)).toContain('globex')
  })

  it('LangChain Pebblo: decisions share no mutable state between principals, even when concurrent', async () => {
    const policy = definePolicy(RAG_POLICY)
    const decide = (principal: (typeof PEOPLE)[keyof typeof PEOPLE]): Decision =>
      policy.decide({ principal, action: 'record.query', resource: { collection: 'docs' }, context: {}, now: Date.now() })
    const first = decide(PEOPLE.alice)
    const snapshot = JSON.stringify(first)
    decide(PEOPLE.bob)
    decide(PEOPLE.carol)
    expect(JSON.stringify(first)).toBe(snapshot)
    const { as } = await rag({ policy })
    const [alice, bob] = await Promise.all([as('alice'), as('bob')])
    const [a, b] = await Promise.all([alice.query('docs', { vector, topK: 10 }), bob.query('docs', { vector, topK: 10 })])
    expect(ids(a.matches)).toEqual(['acme-all', 'acme-eng'])
    expect(ids(b.matches)).toEqual(['globex-all', 'globex-eng'])
  })

  it('OpenFGA #1961: a large grant list is bound in full, never silently truncated', async () => {
    const groups = Array.from({ length: 3000 }, (_, index) => `g${index}`)
    const principal = { ...PEOPLE.alice, attributes: { groups } }
    const rows = [
      { id: 'first', vector: [1, 0], metadata: { tenant: 'acme', groups: ['g0'] } },
      { id: 'last', vector: [0, 1], metadata: { tenant: 'acme', groups: ['g2999'] } },
    ]
    const { warden, sessions } = await wardenWith(definePolicy(RAG_POLICY), [principal], rows)
    try {
      expect(ids((await sessions[0]!.query('docs', { vector, topK: 10 })).matches)).toEqual(['first', 'last'])
    } finally {
      await warden.close()
    }
  })

  it('CASL accessibleBy: no applicable rule is a deny, never an empty (match-all) filter', async () => {
    const { as, spied, policy } = await rag()
    const decision = await policy.decide({ principal: PEOPLE.nobody, action: 'record.query', resource: { collection: 'docs' }, context: {}, now: Date.now() })
    expect(decision.effect).toBe('deny')
    const result = await settle((await as('nobody')).query('docs', { vector, topK: 10 }))
    expect(!result.ok && AuthorizationError.isInstance(result.error)).toBe(true)
    expect(spied.count('doQuery')).toBe(0)
  })

  it('Qdrant #7987 / PR #7450: id-based reads, upserts over foreign ids and set-payload are all confined', async () => {
    const { as, store } = await rag()
    const carol = await as('carol')
    expect((await carol.fetch('docs', ['acme-eng'])).records).toEqual([])
    const alice = await as('alice')
    expect((await settle(alice.upsert('docs', [{ id: 'globex-all', vector, metadata: { groups: ['eng'] } }]))).ok).toBe(false)
    expect((await alice.update('docs', 'globex-all', { title: 'x' })).updated).toBe(false)
    expect((await alice.delete('docs', { ids: ['globex-all', 'untenanted'] })).deleted).toBe(0)
    const { records } = await store.doFetch({ collection: 'docs', ids: ['globex-all', 'untenanted'], includeMetadata: true, includeVectors: false })
    expect(records.map((record) => record.metadata?.title)).toEqual(['globex all', 'no tenant at all'])
  })
})
