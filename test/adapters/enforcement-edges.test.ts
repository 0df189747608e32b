// regressions from a security review of the adapters and the filter path: a row filter a policy built by hand, a
// field name a backend reads as a path, tenant namespaces and fetch by id, and what counts as loopback

import { Pinecone } from '@pinecone-database/pinecone'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pineconeAdapter, toPineconeFilter } from '../../src/adapters/pinecone/index.js'
import { qdrantAdapter } from '../../src/adapters/qdrant/index.js'
import { toQdrantFilter } from '../../src/adapters/qdrant/filter.js'
import { checkTransport, isLoopbackHost } from '../../src/adapters/shared/transport.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { AuthorizationError, InputError } from '../../src/errors.js'
import { assertFilterNode, evaluateFilter, parseFilter } from '../../src/filter/index.js'
import { functionPolicy } from '../../src/policy/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { PolicyDecisionPoint } from '../../src/spec/policy.js'
import { type PineconeFake, type QdrantFake, startPineconeFake, startQdrantFake } from '../../src/testing/index.js'
import { obligations, tableAuthenticator, tenancyPolicy } from '../core/helpers.js'

const KEY = 'edges-api-key-0000'

/** The reason of the error a call fails with ('ok' when it does not fail). */
const reasonOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'ok',
    (error: { reason?: string }) => error.reason ?? String(error),
  )

describe('a row filter AST a policy built by hand', () => {
  let fake: QdrantFake
  beforeAll(async () => {
    fake = await startQdrantFake({ apiKey: KEY })
  })
  afterAll(async () => {
    await fake.close()
  })

  it('with a NaN bound is denied before the backend is asked (Qdrant would read the bound as null: no bound at all)', async () => {
    const client = new QdrantClient({ url: fake.url, apiKey: KEY, checkCompatibility: false })
    const adapter = qdrantAdapter(client, { retry: { maxRetries: 0 } })
    await adapter.doCreateCollection({ name: 'levels', dimension: 3, distance: 'cosine' })
    await adapter.doUpsert({
      collection: 'levels',
      records: [
        { id: 'top-secret', vector: [1, 0, 0], metadata: { clearance: 9 } },
        { id: 'secret', vector: [0, 1, 0], metadata: { clearance: 5 } },
      ],
    })
    // the bound computed from an attribute the principal lacks: Number(undefined) is NaN
    const policy = functionPolicy((request) => ({
      effect: 'allow',
      obligations: { rowFilter: { kind: 'cmp', field: 'clearance', op: '$lte', value: Number(request.principal.attributes.clearance) }, readVectors: true },
    }))
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink() })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    // the reference evaluator: this filter grants nothing
    expect(evaluateFilter({ kind: 'cmp', field: 'clearance', op: '$lte', value: Number.NaN }, { clearance: 9 })).toBe(false)
    fake.clearRequests()
    expect(await reasonOf(alice.count('levels'))).toBe('invalid_decision')
    expect(await reasonOf(alice.delete('levels', { ids: ['top-secret'] }))).toBe('invalid_decision')
    expect(await reasonOf(alice.delete('levels', { filter: {} }))).toBe('invalid_decision')
    expect(await reasonOf(alice.query('levels', { vector: [1, 0, 0], topK: 10 }))).toBe('invalid_decision')
    expect(fake.pointCount('levels')).toBe(2)
    expect(fake.requests).toEqual([])
  })

  it('in the portable JSON form instead of an AST is denied, not read as no filter', async () => {
    const policy: PolicyDecisionPoint = {
      id: 'raw',
      version: '1',
      decide: () => ({ effect: 'allow', matchedRules: ['raw'], obligations: obligations({ rowFilter: { tenant: 'acme' } as unknown as FilterNode }) }),
    }
    const client = new QdrantClient({ url: fake.url, apiKey: KEY, checkCompatibility: false })
    const warden = createWarden({ adapter: qdrantAdapter(client, { retry: { maxRetries: 0 } }), authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink() })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await expect(alice.count('levels')).rejects.toSatisfy((error) => AuthorizationError.isInstance(error) && error.reason === 'invalid_decision')
  })

  it('is held to the parser’s rules by assertFilterNode, node by node, while what parseFilter builds passes', () => {
    const bad: unknown[] = [
      { kind: 'cmp', field: 'a', op: '$lte', value: Number.NaN },
      { kind: 'cmp', field: 'a', op: '$gt', value: Number.POSITIVE_INFINITY },
      { kind: 'cmp', field: 'a', op: '$gt', value: 'ten' },
      { kind: 'cmp', field: 'a', op: '$like', value: 'x' },
      { kind: 'in', field: 'a', op: '$in', values: [1, Number.NaN] },
      { kind: 'in', field: 'a', op: '$in', values: 'abc' },
      { kind: 'exists', field: 'a', value: 'yes' },
      { kind: 'cmp', field: '', op: '$eq', value: 1 },
      { kind: 'cmp', field: 'a.b', op: '$eq', value: 1 },
      { kind: 'and', children: [{ kind: 'all' }, { kind: 'eq', field: 'a', value: 1 }] },
      { kind: 'or' },
      { tenant: 'acme' },
      null,
    ]
    for (const node of bad) expect(() => assertFilterNode(node)).toThrow(TypeError)
    const cyclic: { kind: 'and'; children: unknown[] } = { kind: 'and', children: [] }
    cyclic.children.push(cyclic)
    expect(() => assertFilterNode(cyclic)).toThrow(TypeError)
    for (const input of [{}, { a: 1, b: { $in: ['x', true] } }, { $or: [{ a: { $gte: 1.5 } }, { c: { $exists: true } }] }, { a: { $nin: [] } }]) {
      expect(() => assertFilterNode(parseFilter(input))).not.toThrow()
    }
  })

  it('with a non-finite number or an unknown node is refused by both translators, never sent as null or dropped', () => {
    const nan: FilterNode = { kind: 'cmp', field: 'clearance', op: '$lte', value: Number.NaN }
    const infinite: FilterNode = { kind: 'in', field: 'clearance', op: '$in', values: [Number.POSITIVE_INFINITY] }
    const unknown = { kind: 'eq', field: 'tenant', value: 'acme' } as unknown as FilterNode
    const truthy = { kind: 'exists', field: 'tenant', value: 'yes' } as unknown as FilterNode
    for (const node of [nan, infinite, unknown, truthy]) {
      expect(() => toQdrantFilter(node)).toThrow(InputError)
      expect(() => toPineconeFilter(node)).toThrow(InputError)
    }
  })
})

describe('a field name a backend reads as a path', () => {
  let fake: QdrantFake
  beforeAll(async () => {
    fake = await startQdrantFake({ apiKey: KEY })
  })
  afterAll(async () => {
    await fake.close()
  })

  it('cannot remove a stamped or reserved field on Qdrant by quoting its name ("tenant", "_vw_id")', async () => {
    const client = new QdrantClient({ url: fake.url, apiKey: KEY, checkCompatibility: false })
    const adapter = qdrantAdapter(client, { retry: { maxRetries: 0 } })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink() })
    const admin = await warden.session('Bearer tok-admin-0123456789')
    await admin.createCollection('docs', { dimension: 3, distance: 'cosine' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await alice.upsert('docs', [{ id: 'doc-1', vector: [1, 0, 0], metadata: { title: 't' } }])
    fake.clearRequests()
    // Qdrant parses delete_payload keys as JSON paths: '"tenant"' is the key tenant
    expect(await reasonOf(alice.update('docs', 'doc-1', { '"tenant"': null, '"_vw_id"': null }))).toBe('invalid_field_name')
    expect(await reasonOf(alice.update('docs', 'doc-1', { 'a\\b': 1 }))).toBe('invalid_field_name')
    expect(fake.requests.filter((request) => request.path.includes('/points/payload'))).toEqual([])
    // nor through the adapter directly, for removals as for keys being set
    const filter: FilterNode = { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' }
    await expect(adapter.doUpdate({ collection: 'docs', id: 'doc-1', metadata: { '"_vw_id"': null }, filter })).rejects.toSatisfy(InputError.isInstance)
  })
})

describe('Pinecone with tenant namespaces, fetch by id', () => {
  let fake: PineconeFake
  beforeAll(async () => {
    fake = await startPineconeFake({ apiKey: KEY })
  })
  afterAll(async () => {
    await fake.close()
  })

  async function world() {
    const client = new Pinecone({ apiKey: KEY, controllerHostUrl: fake.url, maxRetries: 0 })
    const adapter = pineconeAdapter(client, { tenantNamespaces: { field: 'tenant', prefix: 'tenant-' }, retry: { maxRetries: 0 } })
    await adapter.doDeleteCollection({ name: 'docs' }).catch(() => undefined)
    await adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
    // ids may repeat across tenants' namespaces
    await adapter.doUpsert({
      collection: 'docs',
      records: [
        { id: 'doc', vector: [1, 0, 0], metadata: { tenant: 'acme', v: 'acme' } },
        { id: 'doc', vector: [1, 0.1, 0], metadata: { tenant: 'globex', v: 'globex' } },
        { id: 'g1', vector: [1, 0.2, 0], metadata: { tenant: 'globex', v: 'g1' } },
      ],
    })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink() })
    return { alice: await warden.session('Bearer tok-alice-0123456789'), bob: await warden.session('Bearer tok-bob-0123456789') }
  }

  it('finds the tenant’s own record when another tenant has one with the same id', async () => {
    const { bob } = await world()
    const fetched = await bob.fetch('docs', ['doc'])
    expect(fetched.records.map((record) => record.metadata?.v)).toEqual(['globex'])
  })

  it('looks only in the tenant’s namespace: a record forged into another tenant’s namespace stays invisible, as to query', async () => {
    const { alice } = await world()
    fake.tamperMetadata('docs', 'tenant-globex', 'g1', { tenant: 'acme', v: 'forged' })
    expect((await alice.query('docs', { vector: [1, 0, 0], topK: 10 })).matches.map((match) => match.id)).not.toContain('g1')
    expect((await alice.fetch('docs', ['g1'])).records).toEqual([])
  })
})

describe('what counts as loopback for plain HTTP', () => {
  it('is the name localhost itself, not a subdomain of it (which may be sent to a DNS server)', () => {
    expect(isLoopbackHost('localhost')).toBe(true)
    for (const host of ['qdrant.localhost', 'a.b.localhost']) expect(isLoopbackHost(host)).toBe(false)
    expect(() => checkTransport('http://qdrant.localhost:6333', { allowInsecureTransport: false, provider: 'qdrant' })).toThrow()
    expect(checkTransport('http://localhost:6333', { allowInsecureTransport: false, provider: 'qdrant' })).toEqual({ secure: true })
  })
})
