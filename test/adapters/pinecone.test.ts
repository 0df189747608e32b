// the Pinecone adapter's own properties: translation, metadata rules, tenant namespaces, transport, retries and error hygiene

import { Pinecone } from '@pinecone-database/pinecone'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { pineconeAdapter, toPineconeFilter } from '../../src/adapters/pinecone/index.js'
import { AdapterError, ConfigError, InputError } from '../../src/errors.js'
import { nestFilters, parseFilter } from '../../src/filter/index.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { FilterNode } from '../../src/spec/filter.js'
import { compilePineconeFilter, type PineconeFake, startPineconeFake } from '../../src/testing/index.js'

const API_KEY = 'pcsk_secret_api_key_71c2'

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

describe('pinecone filter translation', () => {
  it('nests the enforced filter and the caller filter under one $and, each side intact', () => {
    const enforced = parseFilter({ tenant: 'acme' })
    const caller = parseFilter({ $or: [{ genre: 'drama' }, { year: { $gte: 2020 } }] })
    expect(toPineconeFilter(nestFilters(enforced, caller) as FilterNode)).toEqual({
      $and: [{ tenant: { $eq: 'acme' } }, { $or: [{ genre: { $eq: 'drama' } }, { year: { $gte: 2020 } }] }],
    })
  })

  it('keeps records without the field for $ne and $nin whatever Pinecone’s reading of them', () => {
    expect(toPineconeFilter(parseFilter({ genre: { $ne: 'drama' } }))).toEqual({ $or: [{ genre: { $ne: 'drama' } }, { genre: { $exists: false } }] })
    expect(toPineconeFilter(parseFilter({ genre: { $nin: ['a', true] } }))).toEqual({
      $or: [{ $and: [{ genre: { $nin: ['a'] } }, { genre: { $ne: true } }] }, { genre: { $exists: false } }],
    })
  })

  it('compares booleans with $eq, since $in takes strings and numbers only', () => {
    expect(toPineconeFilter(parseFilter({ active: { $in: [true, 1] } }))).toEqual({ $or: [{ active: { $in: [1] } }, { active: { $eq: true } }] })
  })

  it('refuses a field name that Pinecone would read as an operator', () => {
    expect(InputError.isInstance(thrown(() => toPineconeFilter({ kind: 'cmp', field: '$where', op: '$eq', value: 1 })))).toBe(true)
  })
})

describe('the Pinecone fake evaluates filters as Pinecone documents them', () => {
  const check = (filter: unknown, metadata: Record<string, unknown>): boolean => compilePineconeFilter(filter)(metadata)

  it('a list field matches $eq/$in when an element does and $ne/$nin when none does', () => {
    const metadata = { genre: ['comedy', 'documentary'] }
    expect(check({ genre: 'comedy' }, metadata)).toBe(true)
    expect(check({ genre: { $in: ['documentary', 'action'] } }, metadata)).toBe(true)
    expect(check({ $and: [{ genre: 'comedy' }, { genre: 'documentary' }] }, metadata)).toBe(true)
    expect(check({ genre: { $ne: 'comedy' } }, metadata)).toBe(false)
    expect(check({ genre: { $nin: ['comedy'] } }, metadata)).toBe(false)
  })

  it('ranges compare numbers only and several keys are an AND', () => {
    expect(check({ year: { $gte: 2020 } }, { year: '2021' })).toBe(false)
    expect(check({ year: { $gte: 2020, $lt: 2022 }, genre: 'a' }, { year: 2021, genre: 'a' })).toBe(true)
  })

  it('rejects unknown operators, empty $and/$or and non-boolean $exists with a 400', () => {
    for (const filter of [{ a: { $regex: 'x' } }, { $and: [] }, { $or: [] }, { a: { $exists: 1 } }, { a: { $in: [true] } }]) {
      expect(() => compilePineconeFilter(filter)).toThrow(/Invalid filter/)
    }
  })
})

describe('pinecone adapter over the fake', () => {
  let fake: PineconeFake
  let client: Pinecone
  let adapter: VectorStoreAdapterV1

  beforeAll(async () => {
    fake = await startPineconeFake({ apiKey: API_KEY })
    client = new Pinecone({ apiKey: API_KEY, controllerHostUrl: fake.url, maxRetries: 0 })
  })
  afterAll(async () => {
    await fake.close()
  })
  beforeEach(async () => {
    adapter = pineconeAdapter(client, { retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2000 } })
    await adapter.doDeleteCollection({ name: 'docs' }).catch(() => undefined)
    await adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
    fake.clearRequests()
  })

  it('declares approximate counts, no filterWithIds and the 40 KB metadata limit', () => {
    expect(adapter.capabilities).toMatchObject({ count: 'approximate', filterWithIds: false, namespaces: true, maxMetadataBytes: 40 * 1024 })
  })

  it('refuses Pinecone-invalid metadata as InputError before sending anything', async () => {
    const cases: Array<Record<string, unknown>> = [{ gone: null }, { numbers: [1, 2] }, { nested: { a: 1 } }, { big: 'x'.repeat(41 * 1024) }, { $op: 1 }]
    for (const metadata of cases) {
      const error = await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'a', vector: [1, 0, 0], metadata: metadata as never }] }))
      expect(InputError.isInstance(error), JSON.stringify(Object.keys(metadata))).toBe(true)
    }
    const zero = await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'a', vector: [0, 0, 0] }] }))
    expect(InputError.isInstance(zero) && zero.reason === 'zero_vector').toBe(true)
    expect(fake.requests.filter((request) => request.path.endsWith('/vectors/upsert'))).toHaveLength(0)
  })

  it('splits a large upsert into batches of at most 1000 records', async () => {
    const records = Array.from({ length: 2100 }, (_, index) => ({ id: `r${index}`, vector: [1, index, 0] }))
    await adapter.doUpsert({ collection: 'docs', records })
    const sizes = fake.requests.filter((request) => request.path.endsWith('/vectors/upsert')).map((request) => (request.body as { vectors: unknown[] }).vectors.length)
    expect(sizes).toEqual([1000, 1000, 100])
    expect(fake.recordCount('docs')).toBe(2100)
  })

  it('applies ids AND filter itself on fetch, delete and update (the backend cannot)', async () => {
    await adapter.doUpsert({
      collection: 'docs',
      records: [
        { id: 'x', vector: [1, 0, 0], metadata: { tenant: 'a' } },
        { id: 'y', vector: [0, 1, 0], metadata: { tenant: 'b' } },
      ],
    })
    const onlyA = parseFilter({ tenant: 'a' })
    const fetched = await adapter.doFetch({ collection: 'docs', ids: ['x', 'y'], filter: onlyA, includeMetadata: false, includeVectors: false })
    expect(fetched.records.map((record) => record.id)).toEqual(['x'])
    expect(await adapter.doUpdate({ collection: 'docs', id: 'y', metadata: { tenant: 'a' }, filter: onlyA })).toEqual({ updated: false })
    expect(await adapter.doDelete({ collection: 'docs', ids: ['x', 'y'], filter: onlyA })).toEqual({ deleted: 1 })
    expect(fake.recordCount('docs')).toBe(1)
  })

  it('counts with index statistics (approximate) and counts a filter exactly', async () => {
    await adapter.doUpsert({ collection: 'docs', records: [1, 2, 3].map((n) => ({ id: `c${n}`, vector: [1, n, 0], metadata: { big: n > 1 } })) })
    expect(await adapter.doCount({ collection: 'docs' })).toEqual({ count: 3, exact: false })
    expect(await adapter.doCount({ collection: 'docs', filter: parseFilter({ big: true }) })).toEqual({ count: 2, exact: true })
  })

  it('retries 503 and 429 with backoff, then succeeds; a 4xx is not retried', async () => {
    fake.injectFault({ status: 503, pathIncludes: '/describe_index_stats' })
    fake.injectFault({ status: 429, pathIncludes: '/describe_index_stats' })
    expect((await adapter.doCount({ collection: 'docs' })).count).toBe(0)
    expect(fake.requests.filter((request) => request.path.endsWith('/describe_index_stats'))).toHaveLength(3)
    fake.clearRequests()
    fake.injectFault({ status: 400, times: 3, pathIncludes: '/describe_index_stats' })
    const error = await rejection(adapter.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && !error.isRetryable && error.status === 400).toBe(true)
    expect(fake.requests.filter((request) => request.path.endsWith('/describe_index_stats'))).toHaveLength(1)
  })

  it('a dropped connection is a retryable network error', async () => {
    fake.injectFault({ dropConnection: true, times: 5, pathIncludes: '/describe_index_stats' })
    const error = await rejection(adapter.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && error.isRetryable).toBe(true)
    fake.clearRequests()
  })

  it('error messages never hold the API key, vectors or metadata values', async () => {
    const secret = 'PLAINTEXT-SECRET-VALUE'
    fake.injectFault({ status: 500, times: 3, pathIncludes: '/vectors/upsert' })
    const errors = [
      await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'z', vector: [0.123456, 9.87654, 1], metadata: { secret } }] })),
      await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'z', vector: [0.123456, 9.87654], metadata: { secret } }] })),
      await rejection(adapter.doFetch({ collection: 'missing-index', ids: [secret], includeMetadata: true, includeVectors: false })),
    ]
    for (const error of errors) {
      const text = `${String(error)} ${JSON.stringify(error)} ${String((error as Error).cause ?? '')}`
      for (const needle of [API_KEY, secret, '0.123456', '9.87654']) expect(text).not.toContain(needle)
    }
    fake.clearRequests()
  })

  it('a wrong API key is an unauthorized, non-retryable AdapterError that does not quote the key', async () => {
    const wrong = 'pcsk_wrong_key_do_not_print'
    const other = pineconeAdapter(new Pinecone({ apiKey: wrong, controllerHostUrl: fake.url, maxRetries: 0 }), { retry: { maxRetries: 2, baseDelayMs: 0 } })
    const error = await rejection(other.doListCollections())
    expect(AdapterError.isInstance(error) && error.status === 401 && error.reason === 'unauthorized' && !error.isRetryable).toBe(true)
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain(wrong)
  })

  describe('one namespace per tenant', () => {
    let tenantAdapter: VectorStoreAdapterV1
    beforeEach(async () => {
      tenantAdapter = pineconeAdapter(client, { tenantNamespaces: { field: 'tenant', prefix: 'tenant-' }, retry: { maxRetries: 0 } })
      await tenantAdapter.doUpsert({
        collection: 'docs',
        records: [
          { id: 'a1', vector: [1, 0, 0], metadata: { tenant: 'a', n: 1 } },
          { id: 'b1', vector: [1, 0.1, 0], metadata: { tenant: 'b', n: 1 } },
          { id: 'b2', vector: [1, 0.2, 0], metadata: { tenant: 'b', n: 2 } },
        ],
      })
    })

    it('writes each record into its tenant’s namespace', () => {
      expect([...fake.namespaces('docs')].sort()).toEqual(['tenant-a', 'tenant-b'])
      expect(fake.recordCount('docs', 'tenant-b')).toBe(2)
    })

    it('reads only the namespaces the filter pins, so a forged record in another namespace stays invisible', async () => {
      // a record that claims tenant a but sits in b's namespace (a compromised writer) is not reached by a's reads
      fake.tamperMetadata('docs', 'tenant-b', 'b2', { tenant: 'a', n: 2 })
      const { matches } = await tenantAdapter.doQuery({ collection: 'docs', vector: [1, 0, 0], topK: 10, filter: parseFilter({ tenant: 'a' }), includeMetadata: true, includeVectors: false })
      expect(matches.map((match) => match.id)).toEqual(['a1'])
      const both = await tenantAdapter.doQuery({ collection: 'docs', vector: [1, 0, 0], topK: 10, filter: parseFilter({ tenant: { $in: ['a', 'b'] }, n: 1 }), includeMetadata: false, includeVectors: false })
      expect(both.matches.map((match) => match.id).sort()).toEqual(['a1', 'b1'])
    })

    it('fails closed when a read does not pin the tenant', async () => {
      for (const filter of [undefined, parseFilter({ n: 1 }), parseFilter({ $or: [{ tenant: 'a' }, { n: 2 }] })]) {
        const error = await rejection(tenantAdapter.doQuery({ collection: 'docs', vector: [1, 0, 0], topK: 10, filter, includeMetadata: false, includeVectors: false }))
        expect(InputError.isInstance(error) && error.reason === 'tenant_namespace_unresolved').toBe(true)
      }
    })

    it('a pinned-tenant read never returns another tenant’s record (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('a', 'b', 'c'), fc.constantFrom(1, 2), async (tenant, n) => {
          const { matches } = await tenantAdapter.doQuery({
            collection: 'docs',
            vector: [1, 0, 0],
            topK: 10,
            filter: nestFilters(parseFilter({ tenant }), parseFilter({ n: { $gte: n } })) as FilterNode,
            includeMetadata: true,
            includeVectors: false,
          })
          for (const match of matches) expect(match.metadata?.tenant).toBe(tenant)
        }),
        { numRuns: 12 },
      )
    })

    it('scrolls across every pinned namespace', async () => {
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await tenantAdapter.doScroll({ collection: 'docs', filter: parseFilter({ tenant: { $in: ['a', 'b'] } }), limit: 1, cursor, includeMetadata: false, includeVectors: false })
        seen.push(...page.records.map((record) => record.id))
        cursor = page.nextCursor
      } while (cursor !== undefined)
      expect(seen.sort()).toEqual(['a1', 'b1', 'b2'])
    })
  })
})

describe('pinecone transport', () => {
  it('refuses a plain-HTTP controller on a remote host unless allowed, and then reports an insecure transport', () => {
    const remote = new Pinecone({ apiKey: API_KEY, controllerHostUrl: 'http://pinecone.internal:8080' })
    const error = thrown(() => pineconeAdapter(remote))
    expect(ConfigError.isInstance(error) && error.reason === 'insecure_transport').toBe(true)
    expect(String(error)).not.toContain(API_KEY)
    expect(pineconeAdapter(remote, { allowInsecureTransport: true }).capabilities.transportSecure).toBe(false)
  })

  it('treats the default https controller and a loopback fake as secure', () => {
    expect(pineconeAdapter(new Pinecone({ apiKey: API_KEY })).capabilities.transportSecure).toBe(true)
    expect(pineconeAdapter(new Pinecone({ apiKey: API_KEY, controllerHostUrl: 'http://127.0.0.1:9' })).capabilities.transportSecure).toBe(true)
  })

  it('refuses an index whose data-plane host is plain HTTP on a remote host', async () => {
    const fake = await startPineconeFake()
    try {
      const client = new Pinecone({ apiKey: API_KEY, controllerHostUrl: fake.url, maxRetries: 0 })
      const adapter = pineconeAdapter(client, { retry: { maxRetries: 0 } })
      await adapter.doCreateCollection({ name: 'remote', dimension: 2, distance: 'dot' })
      // an index model whose host is remote plain HTTP, as a misconfigured proxy would announce
      const lying = Object.create(client) as Pinecone
      lying.describeIndex = async (name: string) => ({ ...(await client.describeIndex(name)), host: 'http://10.0.0.9:8080' })
      const error = await rejection(pineconeAdapter(lying).doCount({ collection: 'remote' }))
      expect(ConfigError.isInstance(error) && error.reason === 'insecure_transport').toBe(true)
    } finally {
      await fake.close()
    }
  })
})
