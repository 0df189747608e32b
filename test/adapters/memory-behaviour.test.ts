// memory adapter properties beyond the shared suite: exactness against brute force, storage model, copies, limits
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { AdapterError, ConfigError, InputError } from '../../src/errors.js'
import { evaluateFilter, parseFilter } from '../../src/filter/index.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { Distance, Metadata } from '../../src/spec/records.js'
import { filterInput, metadata as metadataArbitrary } from '../filter/arbitraries.js'

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

async function withCollection(distance: Distance, dimension: number): Promise<VectorStoreAdapterV1> {
  const adapter = memoryAdapter()
  await adapter.doCreateCollection({ name: 'c', dimension, distance })
  return adapter
}

function score(distance: Distance, query: readonly number[], vector: readonly number[]): number {
  const q = query.map(Math.fround)
  const v = vector.map(Math.fround)
  const dot = q.reduce((sum, value, index) => sum + value * (v[index] as number), 0)
  if (distance === 'dot') return dot
  if (distance === 'euclidean') return Math.sqrt(q.reduce((sum, value, index) => sum + (value - (v[index] as number)) ** 2, 0))
  return dot / (Math.hypot(...q) * Math.hypot(...v))
}

const component = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }))
const vector4 = fc.array(component, { minLength: 4, maxLength: 4 }).filter((vector) => vector.some((value) => Math.fround(value) !== 0))

describe('memory adapter: exact k-NN', () => {
  for (const distance of ['cosine', 'dot', 'euclidean'] as const) {
    it(`${distance}: query returns the brute-force top k under a random filter, ties by id ascending`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(vector4, metadataArbitrary), { minLength: 1, maxLength: 40 }),
          vector4,
          fc.integer({ min: 1, max: 50 }),
          fc.option(filterInput, { nil: undefined }),
          async (rows, query, topK, input) => {
            const adapter = await withCollection(distance, 4)
            const records = rows.map(([vector, metadata], index) => ({ id: `r${String(index % 17).padStart(2, '0')}-${index}`, vector, metadata }))
            await adapter.doUpsert({ collection: 'c', records })
            const filter = input === undefined ? undefined : parseFilter(input)
            const expected = records
              .filter((record) => filter === undefined || evaluateFilter(filter, record.metadata))
              .map((record) => ({ id: record.id, score: score(distance, query, record.vector) }))
              .sort((a, b) => {
                const byScore = distance === 'euclidean' ? a.score - b.score : b.score - a.score
                return Math.abs(byScore) > 1e-9 ? byScore : a.id < b.id ? -1 : 1
              })
              .slice(0, topK)
            const { matches } = await adapter.doQuery({ collection: 'c', vector: query, topK, filter, includeMetadata: false, includeVectors: false })
            expect(matches.map((match) => match.score)).toHaveLength(expected.length)
            const byId = new Map(records.map((record) => [record.id, record]))
            matches.forEach((match, index) => {
              expect(match.score).toBeCloseTo((expected[index] as { score: number }).score, 6)
              // the score belongs to the id it is reported with, and the record passes the filter
              const record = byId.get(match.id)
              expect(record).toBeDefined()
              expect(match.score).toBeCloseTo(score(distance, query, record?.vector ?? []), 6)
              if (filter !== undefined) expect(evaluateFilter(filter, record?.metadata)).toBe(true)
            })
            // equal-scored neighbours may only differ by float noise; ids must match where scores clearly differ
            const ids = matches.map((match) => match.id)
            expect(new Set(ids).size).toBe(ids.length)
            for (let index = 1; index < matches.length; index++) {
              const previous = matches[index - 1] as { id: string; score: number }
              const current = matches[index] as { id: string; score: number }
              const better = distance === 'euclidean' ? previous.score <= current.score : previous.score >= current.score
              expect(better).toBe(true)
              if (previous.score === current.score) expect(previous.id < current.id).toBe(true)
            }
          },
        ),
        { seed: 7, numRuns: 150 },
      )
    })
  }

  it('cosine rejects zero vectors on upsert and on query; dot and euclidean accept them', async () => {
    const cosine = await withCollection('cosine', 3)
    expect(InputError.isInstance(await rejection(cosine.doUpsert({ collection: 'c', records: [{ id: 'z', vector: [0, 0, 0] }] })))).toBe(true)
    await cosine.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1, 0, 0] }] })
    const query = cosine.doQuery({ collection: 'c', vector: [0, 0, 0], topK: 1, includeMetadata: false, includeVectors: false })
    expect((await rejection(query)) as InputError).toMatchObject({ reason: 'zero_vector', path: 'vector' })
    for (const distance of ['dot', 'euclidean'] as const) {
      const adapter = await withCollection(distance, 3)
      await adapter.doUpsert({ collection: 'c', records: [{ id: 'z', vector: [0, 0, 0] }] })
      const { matches } = await adapter.doQuery({ collection: 'c', vector: [0, 0, 0], topK: 1, includeMetadata: false, includeVectors: false })
      expect(matches.map((match) => match.id)).toEqual(['z'])
    }
  })

  it('rejects components that overflow float32 (1e39 would be stored as Infinity)', async () => {
    const adapter = await withCollection('dot', 2)
    const error = await rejection(adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1e39, 0] }] }))
    expect(error).toMatchObject({ reason: 'non_finite_vector', path: 'records[0].vector' })
  })

  it('accepts Float32Array vectors and returns Float32Array copies', async () => {
    const adapter = await withCollection('euclidean', 3)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: new Float32Array([1, 2, 3]) }] })
    const { records } = await adapter.doFetch({ collection: 'c', ids: ['a'], includeMetadata: false, includeVectors: true })
    expect(records[0]?.vector).toBeInstanceOf(Float32Array)
    expect(Array.from(records[0]?.vector ?? [])).toEqual([1, 2, 3])
  })
})

describe('memory adapter: storage model', () => {
  type Operation = { kind: 'upsert'; ids: number[]; tag: string } | { kind: 'delete'; ids: number[] } | { kind: 'deleteTag'; tag: string }
  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({ kind: fc.constant('upsert' as const), ids: fc.array(fc.nat(30), { minLength: 1, maxLength: 8 }), tag: fc.constantFrom('x', 'y', 'z') }),
    fc.record({ kind: fc.constant('delete' as const), ids: fc.array(fc.nat(30), { minLength: 1, maxLength: 5 }) }),
    fc.record({ kind: fc.constant('deleteTag' as const), tag: fc.constantFrom('x', 'y', 'z') }),
  )

  it('after any sequence of upserts and deletes (swap-remove), every read agrees with a simple map model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 40 }), async (operations) => {
        const adapter = await withCollection('euclidean', 3)
        const model = new Map<string, { vector: number[]; tag: string }>()
        let version = 0
        for (const op of operations) {
          if (op.kind === 'upsert') {
            const records = op.ids.map((id) => ({ id: `id${id}`, vector: [id, version++, 1], metadata: { tag: op.tag } }))
            await adapter.doUpsert({ collection: 'c', records })
            for (const record of records) model.set(record.id, { vector: record.vector, tag: op.tag })
          } else if (op.kind === 'delete') {
            const ids = op.ids.map((id) => `id${id}`)
            const { deleted } = await adapter.doDelete({ collection: 'c', ids })
            expect(deleted).toBe(new Set(ids.filter((id) => model.has(id))).size)
            for (const id of ids) model.delete(id)
          } else {
            await adapter.doDelete({ collection: 'c', filter: parseFilter({ tag: op.tag }) })
            for (const [id, value] of model) if (value.tag === op.tag) model.delete(id)
          }
        }
        expect((await adapter.doCount({ collection: 'c' })).count).toBe(model.size)
        const allIds = Array.from({ length: 31 }, (_, id) => `id${id}`)
        const { records } = await adapter.doFetch({ collection: 'c', ids: allIds, includeMetadata: true, includeVectors: true })
        expect(records.map((record) => record.id)).toEqual(allIds.filter((id) => model.has(id)))
        for (const record of records) {
          const expected = model.get(record.id)
          expect(Array.from(record.vector ?? [])).toEqual(expected?.vector.map(Math.fround))
          expect(record.metadata).toEqual({ tag: expected?.tag })
        }
        if (model.size > 0) {
          const { matches } = await adapter.doQuery({ collection: 'c', vector: [0, 0, 0], topK: 100, includeMetadata: false, includeVectors: false })
          expect(matches.map((match) => match.id).sort()).toEqual([...model.keys()].sort())
        }
      }),
      { seed: 9, numRuns: 200 },
    )
  })

  it('grows past its initial capacity without losing a record', async () => {
    const adapter = await withCollection('dot', 8)
    const count = 1000
    for (let start = 0; start < count; start += 250) {
      await adapter.doUpsert({
        collection: 'c',
        records: Array.from({ length: 250 }, (_, offset) => ({ id: `r${start + offset}`, vector: Array.from({ length: 8 }, (__, index) => start + offset + index) })),
      })
    }
    expect((await adapter.doCount({ collection: 'c' })).count).toBe(count)
    const { records } = await adapter.doFetch({ collection: 'c', ids: ['r0', 'r517', 'r999'], includeMetadata: false, includeVectors: true })
    expect(records.map((record) => Array.from(record.vector ?? [])[0])).toEqual([0, 517, 999])
  })

  it('scroll pages in ascending id order and survives deletes and inserts between pages', async () => {
    const adapter = await withCollection('dot', 2)
    const ids = Array.from({ length: 20 }, (_, index) => `k${String(index).padStart(2, '0')}`)
    await adapter.doUpsert({ collection: 'c', records: [...ids].reverse().map((id, index) => ({ id, vector: [index, 1] })) })
    const first = await adapter.doScroll({ collection: 'c', limit: 6, includeMetadata: false, includeVectors: false })
    expect(first.records.map((record) => record.id)).toEqual(ids.slice(0, 6))
    // delete a record already seen and one not yet seen; insert one after the cursor
    await adapter.doDelete({ collection: 'c', ids: ['k02', 'k10'] })
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'k10a', vector: [1, 1] }] })
    const seen = first.records.map((record) => record.id)
    let cursor = first.nextCursor
    while (cursor !== undefined) {
      const page = await adapter.doScroll({ collection: 'c', limit: 6, cursor, includeMetadata: false, includeVectors: false })
      seen.push(...page.records.map((record) => record.id))
      cursor = page.nextCursor
    }
    expect(seen).toEqual([...ids.slice(0, 6), ...ids.slice(6).filter((id) => id !== 'k10').flatMap((id) => (id === 'k11' ? ['k10a', id] : [id]))])
  })

  it('the last page of a scroll has no cursor, even when it is exactly full', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: Array.from({ length: 10 }, (_, index) => ({ id: `r${index}`, vector: [1, index] })) })
    const first = await adapter.doScroll({ collection: 'c', limit: 5, includeMetadata: false, includeVectors: false })
    expect(first.nextCursor).toBeDefined()
    const second = await adapter.doScroll({ collection: 'c', limit: 5, cursor: first.nextCursor, includeMetadata: false, includeVectors: false })
    expect(second.records).toHaveLength(5)
    expect(second.nextCursor).toBeUndefined()
  })

  it('rejects a cursor it did not issue with InputError', async () => {
    const adapter = await withCollection('dot', 2)
    for (const cursor of ['', 'not base64!', 'AAAA', btoa('other:x'), 'x'.repeat(5000)]) {
      const error = await rejection(adapter.doScroll({ collection: 'c', limit: 5, cursor, includeMetadata: false, includeVectors: false }))
      expect(error).toMatchObject({ reason: 'invalid_cursor', path: 'cursor' })
    }
  })

  it('the default namespace is the empty string, and describe counts records of every namespace', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1, 1] }] })
    await adapter.doUpsert({ collection: 'c', namespace: '', records: [{ id: 'b', vector: [1, 1] }] })
    await adapter.doUpsert({ collection: 'c', namespace: 'other', records: [{ id: 'a', vector: [1, 1] }] })
    expect((await adapter.doCount({ collection: 'c' })).count).toBe(2)
    expect((await adapter.doCount({ collection: 'c', namespace: '' })).count).toBe(2)
    expect((await adapter.doDescribeCollection({ name: 'c' })).recordCount).toBe(3)
    expect((await adapter.doListCollections())[0]?.recordCount).toBe(3)
  })
})

describe('memory adapter: copies in and out', () => {
  it('changing the caller arrays after upsert changes nothing stored', async () => {
    const adapter = await withCollection('dot', 2)
    const vector = [1, 2]
    const tags = ['a']
    const metadata = { tags, name: 'x' }
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'r', vector, metadata }] })
    vector[0] = 99
    tags.push('b')
    metadata.name = 'changed'
    const { records } = await adapter.doFetch({ collection: 'c', ids: ['r'], includeMetadata: true, includeVectors: true })
    expect(Array.from(records[0]?.vector ?? [])).toEqual([1, 2])
    expect(records[0]?.metadata).toEqual({ tags: ['a'], name: 'x' })
  })

  it('changing returned vectors and metadata changes nothing stored', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'r', vector: [1, 2], metadata: { tags: ['a'] } }] })
    const read = async () => (await adapter.doQuery({ collection: 'c', vector: [1, 1], topK: 1, includeMetadata: true, includeVectors: true })).matches[0]
    const first = (await read()) as unknown as { vector: Float32Array; metadata: { tags: string[]; extra?: number } }
    first.vector[0] = 42
    first.metadata.tags.push('mutated')
    first.metadata.extra = 1
    const second = await read()
    expect(Array.from(second?.vector ?? [])).toEqual([1, 2])
    expect(second?.metadata).toEqual({ tags: ['a'] })
  })

  it('a metadata field named __proto__ stays an ordinary field and pollutes nothing', async () => {
    const adapter = await withCollection('dot', 2)
    const metadata = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Metadata
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'r', vector: [1, 2], metadata }] })
    const { records } = await adapter.doFetch({ collection: 'c', ids: ['r'], includeMetadata: true, includeVectors: false })
    const stored = records[0]?.metadata as Record<string, unknown>
    expect(Object.keys(stored).sort()).toEqual(['__proto__', 'constructor'])
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    const { count } = await adapter.doCount({ collection: 'c', filter: parseFilter(JSON.parse('{"__proto__": "x"}')) })
    expect(count).toBe(1)
  })
})

describe('memory adapter: limits and errors', () => {
  it('declares every operator, exact counts, ids AND filter, atomic upserts and field projection', () => {
    const { capabilities } = memoryAdapter({ maxTopK: 50, maxBatchSize: 20 })
    expect([...capabilities.filterOperators].sort()).toEqual(['$and', '$eq', '$exists', '$gt', '$gte', '$in', '$lt', '$lte', '$ne', '$nin', '$or'])
    expect(capabilities).toMatchObject({
      namespaces: true,
      maxTopK: 50,
      maxBatchSize: 20,
      count: 'exact',
      filterWithIds: true,
      deleteByFilter: true,
      atomicUpsert: true,
      projectsFields: true,
      transportSecure: true,
      idFormat: { kind: 'string', maxLength: 512, mapsForeignIds: false },
    })
    expect(Object.isFrozen(capabilities)).toBe(true)
  })

  it('invalid options throw ConfigError at construction', () => {
    for (const options of [{ maxTopK: 0 }, { maxBatchSize: 1.5 }, { maxTopK: '10' }, { other: 1 }]) {
      expect(() => memoryAdapter(options as never)).toThrow(ConfigError)
    }
  })

  it('a batch larger than maxBatchSize and a topK above maxTopK are InputErrors', async () => {
    const adapter = memoryAdapter({ maxTopK: 3, maxBatchSize: 2 })
    await adapter.doCreateCollection({ name: 'c', dimension: 2, distance: 'dot' })
    const records = [1, 2, 3].map((index) => ({ id: `r${index}`, vector: [index, 1] }))
    expect(await rejection(adapter.doUpsert({ collection: 'c', records }))).toMatchObject({ reason: 'batch_too_large' })
    const query = adapter.doQuery({ collection: 'c', vector: [1, 1], topK: 4, includeMetadata: false, includeVectors: false })
    expect(await rejection(query)).toMatchObject({ path: 'topK' })
  })

  it('a rejected batch leaves earlier records untouched, including ones it would have overwritten', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'keep', vector: [1, 1], metadata: { v: 1 } }] })
    const error = await rejection(
      adapter.doUpsert({
        collection: 'c',
        records: [
          { id: 'keep', vector: [2, 2], metadata: { v: 2 } },
          { id: 'new', vector: [3, 3] },
          { id: 'bad', vector: [1, 1], metadata: { v: { nested: true } } as unknown as Metadata },
        ],
      }),
    )
    expect(error).toMatchObject({ path: 'records[2].metadata.v' })
    const { records } = await adapter.doFetch({ collection: 'c', ids: ['keep', 'new'], includeMetadata: true, includeVectors: true })
    expect(records).toHaveLength(1)
    expect(records[0]?.metadata).toEqual({ v: 1 })
    expect(Array.from(records[0]?.vector ?? [])).toEqual([1, 1])
  })

  it('ids must be non-empty strings of at most 512 UTF-8 bytes', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'é'.repeat(256), vector: [1, 1] }] })
    for (const id of ['', 'é'.repeat(257), 'x'.repeat(513), 42]) {
      const error = await rejection(adapter.doUpsert({ collection: 'c', records: [{ id: id as string, vector: [1, 1] }] }))
      expect(error).toMatchObject({ path: 'records[0].id' })
    }
  })

  it('collection names, dimensions and distances are checked at creation', async () => {
    const adapter = memoryAdapter()
    const attempts = [
      { name: '', dimension: 3, distance: 'dot' },
      { name: 'a\nb', dimension: 3, distance: 'dot' },
      { name: 'c', dimension: 0, distance: 'dot' },
      { name: 'c', dimension: 2.5, distance: 'dot' },
      { name: 'c', dimension: 3, distance: 'manhattan' },
    ]
    for (const params of attempts) {
      expect(InputError.isInstance(await rejection(adapter.doCreateCollection(params as never)))).toBe(true)
    }
    expect(await adapter.doListCollections()).toEqual([])
  })

  it('delete needs ids or a filter; an update patch is checked even for a missing id', async () => {
    const adapter = await withCollection('dot', 2)
    expect(InputError.isInstance(await rejection(adapter.doDelete({ collection: 'c' })))).toBe(true)
    const update = adapter.doUpdate({ collection: 'c', id: 'missing', metadata: { bad: { nested: 1 } } as never })
    expect(InputError.isInstance(await rejection(update))).toBe(true)
  })

  it('an aborted signal fails the call with a retryable AdapterError before any work', async () => {
    const adapter = await withCollection('dot', 2)
    const controller = new AbortController()
    controller.abort()
    const error = await rejection(adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1, 1] }], signal: controller.signal }))
    expect(AdapterError.isInstance(error) && error.reason === 'aborted' && error.isRetryable).toBe(true)
    expect((await adapter.doCount({ collection: 'c' })).count).toBe(0)
  })

  it('reads of a namespace never written are empty, not errors', async () => {
    const adapter = await withCollection('dot', 2)
    const scope = { collection: 'c', namespace: 'empty' }
    expect((await adapter.doQuery({ ...scope, vector: [1, 1], topK: 3, includeMetadata: false, includeVectors: false })).matches).toEqual([])
    expect((await adapter.doCount(scope)).count).toBe(0)
    expect((await adapter.doScroll({ ...scope, limit: 3, includeMetadata: false, includeVectors: false })).records).toEqual([])
    expect((await adapter.doDelete({ ...scope, ids: ['a'] })).deleted).toBe(0)
    expect((await adapter.doUpdate({ ...scope, id: 'a', metadata: { x: 1 } })).updated).toBe(false)
  })

  it('a deny-all filter returns nothing and deletes nothing', async () => {
    const adapter = await withCollection('dot', 2)
    await adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1, 1] }] })
    const none = { kind: 'none' } as const
    expect((await adapter.doQuery({ collection: 'c', vector: [1, 1], topK: 3, filter: none, includeMetadata: false, includeVectors: false })).matches).toEqual([])
    expect((await adapter.doDelete({ collection: 'c', filter: none })).deleted).toBe(0)
    expect((await adapter.doCount({ collection: 'c' })).count).toBe(1)
  })
})

describe('memory adapter: secrets stay out of errors', () => {
  it('no error from a bad upsert, update or query quotes a vector component, a metadata value or a filter value', async () => {
    const adapter = await withCollection('cosine', 3)
    const secret = 'PATIENT-DIAGNOSIS-XYZ'
    const attempts: Promise<unknown>[] = [
      adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [31337.25, 1, 1, 1] }] }),
      adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [31337.25, Number.NaN, 1] }] }),
      adapter.doUpsert({ collection: 'c', records: [{ id: 'a', vector: [1, 1, 1], metadata: { note: [secret, 7] } as never }] }),
      adapter.doUpdate({ collection: 'c', id: 'a', metadata: { note: { secret } } as never }),
      adapter.doQuery({ collection: 'c', vector: [31337.25, 2], topK: 1, includeMetadata: false, includeVectors: false }),
      adapter.doQuery({ collection: 'c', vector: [1, 1, 1], topK: 1, includeMetadata: [secret, 1] as never, includeVectors: false }),
    ]
    for (const attempt of attempts) {
      const error = (await rejection(attempt)) as InputError
      expect(InputError.isInstance(error)).toBe(true)
      const text = `${error.message} ${error.path} ${JSON.stringify(error)}`
      expect(text).not.toContain(secret)
      expect(text).not.toContain('31337')
    }
  })
})
