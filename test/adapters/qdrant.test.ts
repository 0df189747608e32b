// the Qdrant adapter's own properties: nested translation, ids, transport, retries, timeouts and error hygiene

import { QdrantClient } from '@qdrant/js-client-rest'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { simplifyFilter } from '../../src/adapters/shared/filter.js'
import { EMPTY_LISTS_FIELD, ORIGINAL_ID_FIELD, qdrantAdapter, toQdrantFilter, uuidV5 } from '../../src/adapters/qdrant/index.js'
import { toPointId } from '../../src/adapters/qdrant/ids.js'
import { AdapterError, ConfigError, InputError, IntegrityError } from '../../src/errors.js'
import { nestFilters, parseFilter } from '../../src/filter/index.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import { compileQdrantFilter, type QdrantFake, startQdrantFake } from '../../src/testing/index.js'

const API_KEY = 'qdrant-secret-api-key-3f9a'

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('qdrant filter translation', () => {
  it('nests the enforced filter and the caller filter as two separate must conditions', () => {
    const enforced = parseFilter({ tenant: 'acme' })
    const caller = parseFilter({ $or: [{ genre: 'drama' }, { year: { $gte: 2020 } }] })
    const native = toQdrantFilter(nestFilters(enforced, caller) as never)
    expect(native).toEqual({
      must: [{ key: 'tenant', match: { value: 'acme' } }, { should: [{ key: 'genre', match: { value: 'drama' } }, { key: 'year', range: { gte: 2020 } }] }],
    })
  })

  it('never lets a caller should-list widen the enforced side (the enforced condition stays a must)', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', 'b'), fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 1, maxLength: 4 }), (tenant, genres) => {
        const caller = { kind: 'or' as const, children: genres.map((genre) => ({ kind: 'cmp' as const, field: 'genre', op: '$eq' as const, value: genre })) }
        const native = toQdrantFilter(nestFilters({ kind: 'cmp', field: 'tenant', op: '$eq', value: tenant }, caller) as never)
        expect(native.must?.[0]).toEqual({ key: 'tenant', match: { value: tenant } })
        expect(native.should).toBeUndefined()
      }),
    )
  })

  it('matches a fractional $eq with a one-point range (match.value takes integers only)', () => {
    expect(toQdrantFilter(parseFilter({ rating: 2.5 }))).toEqual({ must: [{ key: 'rating', range: { gte: 2.5, lte: 2.5 } }] })
    expect(toQdrantFilter(parseFilter({ rating: 3 }))).toEqual({ must: [{ key: 'rating', match: { value: 3 } }] })
  })

  it('translates $ne and $nin to must_not so records without the field still match', () => {
    expect(toQdrantFilter(parseFilter({ genre: { $ne: 'drama' } }))).toEqual({ must: [{ must_not: [{ key: 'genre', match: { value: 'drama' } }] }] })
    expect(toQdrantFilter(parseFilter({ tags: { $nin: ['a', 1, true] } }))).toEqual({
      must: [{ must_not: [{ key: 'tags', match: { any: ['a'] } }, { key: 'tags', match: { any: [1] } }, { key: 'tags', match: { value: true } }] }],
    })
  })

  it('refuses field names Qdrant would read as a nested path', () => {
    for (const name of ['a.b', 'a[]', 'say"hi"']) {
      expect(InputError.isInstance(rejectionSync(() => toQdrantFilter(parseFilter({ [name]: 1 }))))).toBe(true)
    }
  })

  it('folds constants to the root: an $in of nothing matches nothing, a $nin of nothing everything', () => {
    expect(simplifyFilter(parseFilter({ a: { $in: [] }, b: 1 }))).toEqual({ kind: 'none' })
    expect(simplifyFilter({ kind: 'or', children: [{ kind: 'in', field: 'a', op: '$nin', values: [] }, { kind: 'none' }] })).toEqual({ kind: 'all' })
  })
})

function rejectionSync(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

describe('the Qdrant fake evaluates filters as Qdrant documents them', () => {
  const check = (filter: unknown, payload: Record<string, unknown>, id: number | string = 1): boolean => compileQdrantFilter(filter)(payload, id)

  it('an empty must matches everything, an empty should matches nothing', () => {
    expect(check({ must: [] }, {})).toBe(true)
    expect(check({ should: [] }, {})).toBe(false)
    expect(check({ must_not: [] }, {})).toBe(true)
  })

  it('is_empty holds for a missing field, null and an empty list, and not for values', () => {
    const isEmpty = { must: [{ is_empty: { key: 'f' } }] }
    expect(check(isEmpty, {})).toBe(true)
    expect(check(isEmpty, { f: null })).toBe(true)
    expect(check(isEmpty, { f: [] })).toBe(true)
    expect(check(isEmpty, { f: '' })).toBe(false)
    expect(check(isEmpty, { f: ['a'] })).toBe(false)
  })

  it('is_null holds for null only, never for a missing field', () => {
    const isNull = { must: [{ is_null: { key: 'f' } }] }
    expect(check(isNull, { f: null })).toBe(true)
    expect(check(isNull, {})).toBe(false)
    expect(check(isNull, { f: [] })).toBe(false)
  })

  it('match on a list matches when an element matches; except holds when some element is not excluded', () => {
    expect(check({ must: [{ key: 'f', match: { value: 'a' } }] }, { f: ['b', 'a'] })).toBe(true)
    expect(check({ must: [{ key: 'f', match: { except: ['a'] } }] }, { f: ['a', 'b'] })).toBe(true)
    expect(check({ must: [{ key: 'f', match: { except: ['a'] } }] }, {})).toBe(false)
  })

  it('integer match is type-strict and a float match value is a 400', () => {
    expect(check({ must: [{ key: 'f', match: { value: 3 } }] }, { f: 3 })).toBe(true)
    expect(check({ must: [{ key: 'f', match: { value: 3 } }] }, { f: '3' })).toBe(false)
    expect(() => compileQdrantFilter({ must: [{ key: 'f', match: { value: 2.5 } }] })).toThrow(/Format error/)
  })

  it('min_should needs min_count matching conditions; has_id and nested work', () => {
    const minShould = { min_should: { conditions: [{ key: 'a', match: { value: 1 } }, { key: 'b', match: { value: 1 } }, { key: 'c', match: { value: 1 } }], min_count: 2 } }
    expect(check(minShould, { a: 1, b: 1 })).toBe(true)
    expect(check(minShould, { a: 1 })).toBe(false)
    expect(check({ must: [{ has_id: [7, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'] }] }, {}, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).toBe(true)
    const nested = { must: [{ nested: { key: 'items', filter: { must: [{ key: 'k', match: { value: 'x' } }, { key: 'n', range: { gt: 1 } }] } } }] }
    expect(check(nested, { items: [{ k: 'x', n: 0 }, { k: 'y', n: 5 }] })).toBe(false)
    expect(check(nested, { items: [{ k: 'x', n: 2 }] })).toBe(true)
  })
})

describe('qdrant ids', () => {
  it('computes RFC 9562 UUIDv5 (DNS namespace test vector)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2')
  })

  it('memoises per namespace: the same name gives the same id again, another namespace another id, past the memo limit too', () => {
    const dns = '6ba7b810-9dad-11d1-80b4-00c04fd430c8'
    const url = '6ba7b811-9dad-11d1-80b4-00c04fd430c8'
    // RFC 9562 Appendix A.4 gives the DNS vector above; the URL namespace must not reuse its memo entry
    expect(uuidV5('www.example.com', url)).not.toBe(uuidV5('www.example.com', dns))
    expect(uuidV5('www.example.com', dns)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2')
    const first = Array.from({ length: 20_000 }, (_, i) => uuidV5(`doc-${i}`, dns))
    expect(new Set(first).size).toBe(20_000)
    expect(Array.from({ length: 20_000 }, (_, i) => uuidV5(`doc-${i}`, dns))).toEqual(first)
    expect(first.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toBe(true)
  })

  it('keeps unsigned integers and non-v5 UUIDs native and maps everything else, deterministically', () => {
    const namespace = '0f4b8d52-7c3e-4f0a-9b61-2d5e8a7c1f93'
    expect(toPointId('42', namespace)).toEqual({ pointId: 42, mapped: false })
    expect(toPointId('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', namespace)).toEqual({ pointId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', mapped: false })
    for (const id of ['042', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'doc#1', '9007199254740993']) {
      expect(toPointId(id, namespace).mapped).toBe(true)
      expect(toPointId(id, namespace)).toEqual(toPointId(id, namespace))
    }
  })

  it('maps a version-5 UUID too, so a caller can never choose the point another id maps to', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (id) => {
        const namespace = '0f4b8d52-7c3e-4f0a-9b61-2d5e8a7c1f93'
        const mapped = toPointId(id, namespace)
        if (mapped.mapped) expect(toPointId(mapped.pointId as string, namespace).pointId).not.toBe(mapped.pointId)
      }),
    )
  })
})

describe('qdrant adapter over the fake', () => {
  let fake: QdrantFake
  let adapter: VectorStoreAdapterV1

  beforeAll(async () => {
    fake = await startQdrantFake({ apiKey: API_KEY })
  })
  afterAll(async () => {
    await fake.close()
  })
  beforeEach(async () => {
    fake.clearRequests()
    // the key travels over loopback http in tests only; the client warns about it, which is expected
    const client = new QdrantClient({ url: fake.url, apiKey: API_KEY, checkCompatibility: false })
    adapter = qdrantAdapter(client, { retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2000 } })
    await adapter.doDeleteCollection({ name: 'docs' }).catch(() => undefined)
    await adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'dot', tenantField: 'tenant', indexedFields: ['genre'] })
  })

  it('creates the tenant payload index with is_tenant', () => {
    const index = fake.requests.find((request) => request.path === '/collections/docs/index' && (request.body as { field_name?: string }).field_name === 'tenant')
    expect((index?.body as { field_schema?: unknown } | undefined)?.field_schema).toEqual({ type: 'keyword', is_tenant: true })
  })

  it('keeps a foreign id in the reserved payload field and gives it back', async () => {
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'doc-1#chunk', vector: [1, 0, 0], metadata: { tenant: 't' } }] })
    const pointId = uuidV5('doc-1#chunk', '0f4b8d52-7c3e-4f0a-9b61-2d5e8a7c1f93')
    expect(fake.rawPoint('docs', pointId)?.payload[ORIGINAL_ID_FIELD]).toBe('doc-1#chunk')
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['doc-1#chunk'], includeMetadata: true, includeVectors: false })
    expect(records).toEqual([{ id: 'doc-1#chunk', metadata: { tenant: 't' } }])
  })

  it('refuses metadata that sets a reserved field, before sending anything', async () => {
    for (const field of [ORIGINAL_ID_FIELD, EMPTY_LISTS_FIELD]) {
      fake.clearRequests()
      const error = await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'x', vector: [1, 0, 0], metadata: { [field]: 'forged' } }] }))
      expect(InputError.isInstance(error) && error.reason === 'reserved_field').toBe(true)
      expect(fake.requests.filter((request) => request.method === 'PUT')).toHaveLength(0)
    }
  })

  it('raises IntegrityError when the database moved an original id onto another point', async () => {
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'alpha', vector: [1, 0, 0], metadata: { tenant: 't' } }] })
    const pointId = uuidV5('alpha', '0f4b8d52-7c3e-4f0a-9b61-2d5e8a7c1f93')
    fake.tamperPayload('docs', pointId, { tenant: 't', [ORIGINAL_ID_FIELD]: 'beta' })
    const error = await rejection(adapter.doFetch({ collection: 'docs', ids: ['alpha'], includeMetadata: false, includeVectors: false }))
    expect(IntegrityError.isInstance(error)).toBe(true)
  })

  it('applies ids AND filter at the backend for fetch, delete and update', async () => {
    await adapter.doUpsert({
      collection: 'docs',
      records: [
        { id: '1', vector: [1, 0, 0], metadata: { tenant: 'a' } },
        { id: '2', vector: [0, 1, 0], metadata: { tenant: 'b' } },
      ],
    })
    const onlyA = parseFilter({ tenant: 'a' })
    const fetched = await adapter.doFetch({ collection: 'docs', ids: ['1', '2'], filter: onlyA, includeMetadata: false, includeVectors: false })
    expect(fetched.records.map((record) => record.id)).toEqual(['1'])
    expect(await adapter.doUpdate({ collection: 'docs', id: '2', metadata: { tenant: 'a' }, filter: onlyA })).toEqual({ updated: false })
    await adapter.doDelete({ collection: 'docs', ids: ['1', '2'], filter: onlyA })
    expect(fake.pointCount('docs')).toBe(1)
    expect(fake.rawPoint('docs', 2)?.payload).toEqual({ tenant: 'b' })
  })

  it('keeps $exists exact for empty lists through upserts and updates (the _vw_empty marker follows the patch)', async () => {
    await adapter.doUpsert({ collection: 'docs', records: [{ id: '5', vector: [1, 0, 0], metadata: { tenant: 'a', labels: [] } }] })
    const present = async (): Promise<boolean> => (await adapter.doCount({ collection: 'docs', filter: parseFilter({ labels: { $exists: true } }) })).count === 1
    const absent = async (): Promise<boolean> => (await adapter.doCount({ collection: 'docs', filter: parseFilter({ labels: { $exists: false } }) })).count === 1
    expect([await present(), await absent()]).toEqual([true, false])
    await adapter.doUpdate({ collection: 'docs', id: '5', metadata: { labels: ['x'] } })
    expect(fake.rawPoint('docs', 5)?.payload[EMPTY_LISTS_FIELD]).toBeUndefined()
    expect([await present(), await absent()]).toEqual([true, false])
    await adapter.doUpdate({ collection: 'docs', id: '5', metadata: { labels: [] } })
    expect([await present(), await absent()]).toEqual([true, false])
    await adapter.doUpdate({ collection: 'docs', id: '5', metadata: { labels: null } })
    expect([await present(), await absent()]).toEqual([false, true])
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['5'], includeMetadata: true, includeVectors: false })
    expect(records[0]?.metadata).toEqual({ tenant: 'a' })
  })

  it('a wrong API key is an unauthorized, non-retryable AdapterError that does not quote the key', async () => {
    const wrong = 'qdrant-wrong-key-do-not-print'
    const other = qdrantAdapter(new QdrantClient({ url: fake.url, apiKey: wrong, checkCompatibility: false }), { retry: { maxRetries: 2, baseDelayMs: 0 } })
    const error = await rejection(other.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && error.status === 403 && error.reason === 'unauthorized' && !error.isRetryable).toBe(true)
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain(wrong)
  })

  it('a filter that matches nothing returns nothing without calling the database', async () => {
    fake.clearRequests()
    const none = parseFilter({ tenant: { $in: [] } })
    expect(await adapter.doQuery({ collection: 'docs', vector: [1, 0, 0], topK: 3, filter: none, includeMetadata: false, includeVectors: false })).toEqual({ matches: [] })
    expect(await adapter.doCount({ collection: 'docs', filter: none })).toEqual({ count: 0, exact: true })
    expect(fake.requests.filter((request) => request.path.includes('/points'))).toHaveLength(0)
  })

  it('retries 503 and 429 with backoff, then succeeds', async () => {
    await adapter.doUpsert({ collection: 'docs', records: [{ id: '1', vector: [1, 0, 0], metadata: { tenant: 'a' } }] })
    fake.injectFault({ status: 503, pathIncludes: '/points/count' })
    fake.injectFault({ status: 429, pathIncludes: '/points/count' })
    expect(await adapter.doCount({ collection: 'docs' })).toEqual({ count: 1, exact: true })
    expect(fake.requests.filter((request) => request.path.endsWith('/points/count'))).toHaveLength(3)
  })

  it('gives up after maxRetries with a retryable AdapterError carrying the status', async () => {
    fake.injectFault({ status: 503, times: 5, pathIncludes: '/points/count' })
    const error = await rejection(adapter.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && error.isRetryable && error.status === 503).toBe(true)
    expect(fake.requests.filter((request) => request.path.endsWith('/points/count'))).toHaveLength(3)
    fake.clearRequests()
  })

  it('does not retry a 4xx rejection', async () => {
    fake.injectFault({ status: 400, times: 3, pathIncludes: '/points/count' })
    const error = await rejection(adapter.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && !error.isRetryable && error.status === 400).toBe(true)
    expect(fake.requests.filter((request) => request.path.endsWith('/points/count'))).toHaveLength(1)
    fake.clearRequests()
  })

  it('times out a slow call with a retryable AdapterError', async () => {
    const client = new QdrantClient({ url: fake.url, apiKey: API_KEY, checkCompatibility: false })
    const slow = qdrantAdapter(client, { retry: { maxRetries: 0, timeoutMs: 50 } })
    fake.injectFault({ delayMs: 300, pathIncludes: '/points/count' })
    const error = await rejection(slow.doCount({ collection: 'docs' }))
    expect(AdapterError.isInstance(error) && error.reason === 'timeout' && error.isRetryable).toBe(true)
  })

  it('an aborted signal stops the call and is not retryable', async () => {
    const controller = new AbortController()
    controller.abort()
    const error = await rejection(adapter.doCount({ collection: 'docs', signal: controller.signal }))
    expect(AdapterError.isInstance(error) && error.reason === 'aborted' && !error.isRetryable).toBe(true)
  })

  it('error messages never hold the API key, vectors or metadata values', async () => {
    const secret = 'PLAINTEXT-SECRET-VALUE'
    fake.injectFault({ status: 500, times: 3, pathIncludes: '/points' })
    const errors = [
      await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'z', vector: [0.123456, 9.87654, 1], metadata: { secret } }] })),
      await rejection(adapter.doUpsert({ collection: 'docs', records: [{ id: 'z', vector: [0.123456, 9.87654], metadata: { secret } }] })),
      await rejection(adapter.doDescribeCollection({ name: 'missing' })),
    ]
    for (const error of errors) {
      const text = `${String(error)} ${JSON.stringify(error)} ${String((error as Error).cause ?? '')}`
      for (const needle of [API_KEY, secret, '0.123456', '9.87654']) expect(text).not.toContain(needle)
    }
    fake.clearRequests()
  })
})

describe('qdrant transport', () => {
  it('refuses plain HTTP to a non-loopback host unless allowed, and then reports an insecure transport', () => {
    const remote = new QdrantClient({ url: 'http://10.1.2.3:6333', checkCompatibility: false })
    const error = rejectionSync(() => qdrantAdapter(remote))
    expect(ConfigError.isInstance(error) && error.reason === 'insecure_transport').toBe(true)
    expect(qdrantAdapter(remote, { allowInsecureTransport: true }).capabilities.transportSecure).toBe(false)
  })

  it('accepts https anywhere and http on loopback as secure', () => {
    for (const url of ['https://qdrant.example.com:6333', 'http://127.0.0.1:6333', 'http://localhost:6333', 'http://[::1]:6333']) {
      expect(qdrantAdapter(new QdrantClient({ url, checkCompatibility: false })).capabilities.transportSecure).toBe(true)
    }
  })

  it('refuses an unknown client shape with TypeError and bad options with ConfigError', () => {
    expect(() => qdrantAdapter({} as never)).toThrow(TypeError)
    const client = new QdrantClient({ url: 'http://127.0.0.1:6333', checkCompatibility: false })
    expect(ConfigError.isInstance(rejectionSync(() => qdrantAdapter(client, { maxBatchSize: 0 })))).toBe(true)
    expect(ConfigError.isInstance(rejectionSync(() => qdrantAdapter(client, { retry: { maxRetries: 99 } })))).toBe(true)
  })
})

describe('the Qdrant fake answers with the shapes of Qdrant’s OpenAPI spec', () => {
  // required fields of the response schemas in qdrant/qdrant docs/redoc/master/openapi.json
  it('serves CollectionInfo, ScoredPoint, Record, ScrollResult, CountResult and UpdateResult with their required fields', async () => {
    const fake = await startQdrantFake()
    try {
      const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: { result: Record<string, unknown>; status: unknown; time: unknown } }> => {
        const response = await fetch(`${fake.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        return { status: response.status, json: (await response.json()) as never }
      }
      expect((await call('PUT', '/collections/c', { vectors: { size: 2, distance: 'Dot' } })).json.result).toBe(true)
      const upsert = await call('PUT', '/collections/c/points?wait=true', { points: [{ id: 1, vector: [1, 0], payload: { a: 1 } }] })
      expect(Object.keys(upsert.json.result)).toEqual(expect.arrayContaining(['status']))
      const info = (await call('GET', '/collections/c')).json.result
      expect(Object.keys(info)).toEqual(expect.arrayContaining(['config', 'optimizer_status', 'payload_schema', 'segments_count', 'status']))
      expect(Object.keys(info.config as object)).toEqual(expect.arrayContaining(['hnsw_config', 'optimizer_config', 'params']))
      const query = (await call('POST', '/collections/c/points/query', { query: [1, 0], limit: 1 })).json.result
      expect(Object.keys((query.points as object[])[0] as object)).toEqual(expect.arrayContaining(['id', 'score', 'version']))
      const records = (await call('POST', '/collections/c/points', { ids: [1] })).json.result as unknown as object[]
      expect(Object.keys(records[0] as object)).toEqual(expect.arrayContaining(['id']))
      expect(Object.keys((await call('POST', '/collections/c/points/scroll', {})).json.result)).toEqual(expect.arrayContaining(['points']))
      expect((await call('POST', '/collections/c/points/count', {})).json.result).toEqual({ count: 1 })
      const missing = await call('GET', '/collections/nope')
      expect(missing.status).toBe(404)
      expect(missing.json.status).toEqual({ error: expect.stringContaining('Not found') })
      const badFilter = await call('POST', '/collections/c/points/count', { filter: { must: [{ key: 'a', match: { value: 1.5 } }] } })
      expect(badFilter.status).toBe(400)
    } finally {
      await fake.close()
    }
  })
})
