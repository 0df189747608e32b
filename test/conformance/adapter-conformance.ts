// the shared adapter conformance suite: every VectorStoreAdapterV1 must pass it; reads capabilities, never the provider

import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdapterError, InputError } from '../../src/errors.js'
import { evaluateFilter, filterOperators, parseFilter } from '../../src/filter/index.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { FilterOperator } from '../../src/spec/filter.js'
import type { Distance, FetchedRecord, Metadata, StoredRecord } from '../../src/spec/records.js'

/** An adapter under test. */
export interface ConformanceTarget {
  /** Shown in the describe block. */
  name: string
  /** A fresh adapter (one per run of the suite) and how to release it. */
  create(): Promise<{ adapter: VectorStoreAdapterV1; cleanup?: () => Promise<void> }>
  /** Test name -> reason, for cases the backend cannot pass; each skipped case shows its reason. */
  skip?: Record<string, string>
  /** Waits until writes are visible to reads, for eventually consistent backends; default: nothing to wait for. */
  settle?: (adapter: VectorStoreAdapterV1) => Promise<void>
}

const DIMENSION = 4
const SEED = 20_261_129

function unit(vector: readonly number[]): number[] {
  const norm = Math.hypot(...vector)
  return vector.map((component) => component / norm)
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to be rejected')
}

function expectInputError(error: unknown): void {
  expect(InputError.isInstance(error), `expected InputError, got ${String(error)}`).toBe(true)
}

function expectAdapterReason(error: unknown, reason: string): void {
  expect(AdapterError.isInstance(error), `expected AdapterError, got ${String(error)}`).toBe(true)
  expect((error as AdapterError).reason).toBe(reason)
}

function expectVectorClose(actual: FetchedRecord['vector'], expected: readonly number[]): void {
  expect(actual).toBeDefined()
  const values = Array.from(actual as ArrayLike<number>)
  expect(values).toHaveLength(expected.length)
  values.forEach((value, index) => {
    expect(Math.abs(value - (expected[index] as number))).toBeLessThan(1e-5)
  })
}

/** The fixture records of the filter cases, numbered 1..10; see `docs/filters.md` for the semantics they pin. */
const FIXTURE: readonly (Metadata | undefined)[] = [
  { genre: 'drama', year: 2019, rating: 4.5, tags: ['a', 'b'], active: true },
  { genre: 'comedy', year: 2020, rating: 3, tags: ['b'], active: false },
  { genre: 'drama', year: 2021, tags: ['a'], active: true },
  { genre: 'horror', year: 2022, rating: 5, active: false },
  { year: 2018, rating: 2, tags: ['c'], active: true },
  { genre: 'comedy', rating: 4, tags: ['a', 'c'] },
  { genre: 'drama', year: 2020, rating: 1, tags: ['d'], active: true, note: 'x' },
  undefined,
  { genre: 'Drama', year: 2023, rating: 4.5, tags: ['A'], active: false },
  { genre: 'drama', year: '2020', rating: 2.5, tags: ['b', 'e'], active: true },
]

/** Filter cases over the fixture: the filter, and the record numbers it must return. */
const FILTER_CASES: readonly { name: string; filter: Record<string, unknown>; expected: readonly number[] }[] = [
  { name: 'implicit $eq on a string field', filter: { genre: 'drama' }, expected: [1, 3, 7, 10] },
  { name: '$eq on a number never matches the same digits stored as a string', filter: { year: { $eq: 2020 } }, expected: [2, 7] },
  { name: '$eq on a string never matches the same digits stored as a number', filter: { year: '2020' }, expected: [10] },
  { name: '$eq is case-sensitive', filter: { genre: 'Drama' }, expected: [9] },
  { name: '$eq on a boolean', filter: { active: true }, expected: [1, 3, 5, 7, 10] },
  { name: '$eq on a list field matches when some element equals', filter: { tags: 'a' }, expected: [1, 3, 6] },
  { name: '$ne matches records that lack the field', filter: { genre: { $ne: 'drama' } }, expected: [2, 4, 5, 6, 8, 9] },
  { name: '$ne on a list field matches when no element equals', filter: { tags: { $ne: 'b' } }, expected: [3, 4, 5, 6, 7, 8, 9] },
  { name: '$gt compares numbers only', filter: { year: { $gt: 2020 } }, expected: [3, 4, 9] },
  { name: '$gte includes the bound and skips strings', filter: { year: { $gte: 2020 } }, expected: [2, 3, 4, 7, 9] },
  { name: '$lt on fractional values', filter: { rating: { $lt: 3 } }, expected: [5, 7, 10] },
  { name: '$lte includes the bound', filter: { rating: { $lte: 3 } }, expected: [2, 5, 7, 10] },
  { name: 'two operators on one field are an AND', filter: { rating: { $gt: 2, $lte: 4.5 } }, expected: [1, 2, 6, 9, 10] },
  { name: '$in on a string field', filter: { genre: { $in: ['comedy', 'horror'] } }, expected: [2, 4, 6] },
  { name: '$in on a list field matches when some element is listed', filter: { tags: { $in: ['c', 'e'] } }, expected: [5, 6, 10] },
  { name: '$in on numbers', filter: { year: { $in: [2019, 2022] } }, expected: [1, 4] },
  { name: '$nin matches records that lack the field', filter: { genre: { $nin: ['drama', 'comedy'] } }, expected: [4, 5, 8, 9] },
  { name: '$nin on a list field matches when no element is listed', filter: { tags: { $nin: ['a', 'b'] } }, expected: [4, 5, 7, 8, 9] },
  { name: '$exists true matches records that have the field', filter: { rating: { $exists: true } }, expected: [1, 2, 4, 5, 6, 7, 9, 10] },
  { name: '$exists false matches records that lack the field', filter: { tags: { $exists: false } }, expected: [4, 8] },
  { name: 'several fields are an implicit AND', filter: { genre: 'drama', year: { $gte: 2020 } }, expected: [3, 7] },
  { name: '$and of conditions', filter: { $and: [{ genre: 'comedy' }, { rating: { $gte: 4 } }] }, expected: [6] },
  { name: '$or of conditions', filter: { $or: [{ genre: 'horror' }, { tags: 'd' }] }, expected: [4, 7] },
  {
    name: '$or of $and groups',
    filter: {
      $or: [{ $and: [{ genre: 'drama' }, { year: { $lt: 2020 } }] }, { $and: [{ active: false }, { rating: { $gte: 4.5 } }] }],
    },
    expected: [1, 4, 9],
  },
  {
    name: 'a field beside an $or of negations',
    filter: { active: true, $or: [{ genre: { $ne: 'drama' } }, { rating: { $exists: false } }] },
    expected: [3, 5],
  },
  { name: 'an empty filter matches every record', filter: {}, expected: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
]

/**
 * Registers the conformance suite for one adapter with vitest. Cases that need a capability the adapter does not
 * declare (a distance, `filterWithIds`, `deleteByFilter`, namespaces, an operator) are not registered; cases named in
 * `target.skip` are registered as skipped with their reason in the title.
 *
 * @example
 * ```ts
 * runAdapterConformance({ name: 'memory', create: async () => ({ adapter: memoryAdapter() }) })
 * ```
 */
export function runAdapterConformance(target: ConformanceTarget): void {
  const registered = new Set<string>()
  const run = Math.random().toString(36).slice(2, 8)
  let adapter: VectorStoreAdapterV1
  let cleanup: (() => Promise<void>) | undefined
  const created = new Set<string>()

  // `needs` skips a case at run time when the adapter does not declare what it tests (capabilities are only known
  // once the adapter exists); the reporter shows it as skipped, with the reason
  type Needs = (condition: boolean, reason: string) => void
  const test = (name: string, body: (needs: Needs) => Promise<void>): void => {
    registered.add(name)
    const reason = target.skip?.[name]
    if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, () => {})
    else it(name, (context) => body((condition, why) => context.skip(!condition, why)))
  }
  const settle = async (): Promise<void> => {
    await target.settle?.(adapter)
  }
  const collectionName = (tag: string): string => `vwc-${run}-${tag}`
  const createCollection = async (tag: string, distance: Distance, dimension = DIMENSION): Promise<string> => {
    const name = collectionName(tag)
    await adapter.doCreateCollection({ name, dimension, distance })
    created.add(name)
    return name
  }
  // ids the backend stores natively; the numeric part keeps id order equal to number order
  const idFor = (tag: string, number: number): string => {
    const { kind, mapsForeignIds } = adapter.capabilities.idFormat
    const digits = String(number).padStart(6, '0')
    if (kind === 'string' || mapsForeignIds) return `${tag}-${digits}`
    let hash = 0
    for (const character of tag) hash = (hash * 31 + character.charCodeAt(0)) >>> 0
    return `${hash.toString(16).padStart(8, '0')}-0000-4000-8000-${digits.padStart(12, '0')}`
  }
  const supports = (...operators: FilterOperator[]): boolean =>
    operators.every((operator) => adapter.capabilities.filterOperators.includes(operator))
  const allIdsLimit = (): number => Math.min(adapter.capabilities.maxTopK, 100)

  describe(`adapter conformance: ${target.name}`, () => {
    let fixture: string
    let scratch: string
    let fixtureDistance: Distance
    const fixtureIds: string[] = []
    const fixtureVectors: number[][] = []

    beforeAll(async () => {
      ;({ adapter, cleanup } = await target.create())
      fixtureDistance = adapter.capabilities.distances.includes('cosine') ? 'cosine' : (adapter.capabilities.distances[0] as Distance)
      fixture = await createCollection('fixture', fixtureDistance)
      scratch = await createCollection('scratch', fixtureDistance)
      const records: StoredRecord[] = FIXTURE.map((metadata, index) => {
        const id = idFor('fix', index + 1)
        const vector = unit([1, (index + 1) / 10, ((index * 7) % 5) / 5, index % 2 === 0 ? 0.25 : -0.25])
        fixtureIds.push(id)
        fixtureVectors.push(vector)
        return metadata === undefined ? { id, vector } : { id, vector, metadata }
      })
      await adapter.doUpsert({ collection: fixture, records })
      await settle()
    })

    afterAll(async () => {
      if (adapter !== undefined) {
        for (const name of created) {
          try {
            await adapter.doDeleteCollection({ name })
          } catch {
            // already gone
          }
        }
        await adapter.close?.()
      }
      await cleanup?.()
    })

    describe('capabilities', () => {
      test('declares specification v1 and well-formed capabilities', async () => {
        expect(adapter.specificationVersion).toBe('v1')
        const capabilities = adapter.capabilities
        expect(capabilities.distances.length).toBeGreaterThan(0)
        expect(capabilities.maxTopK).toBeGreaterThan(0)
        expect(capabilities.maxBatchSize).toBeGreaterThan(0)
        expect(capabilities.maxIdsPerCall).toBeGreaterThan(0)
        expect(['exact', 'approximate']).toContain(capabilities.count)
        expect(capabilities.idFormat.maxLength).toBeGreaterThan(0)
        for (const operator of capabilities.filterOperators) {
          expect(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$and', '$or']).toContain(operator)
        }
      })
    })

    describe('collection lifecycle', () => {
      test('create, describe, list and delete a collection', async () => {
        const distance = adapter.capabilities.distances[0] as Distance
        const name = await createCollection('life', distance, 3)
        const described = await adapter.doDescribeCollection({ name })
        expect(described).toMatchObject({ name, dimension: 3, distance })
        const listed = await adapter.doListCollections()
        expect(listed.map((info) => info.name)).toContain(name)
        await adapter.doDeleteCollection({ name })
        created.delete(name)
        const after = await adapter.doListCollections()
        expect(after.map((info) => info.name)).not.toContain(name)
      })

      test('creating an existing collection fails with already_exists', async () => {
        const error = await rejection(adapter.doCreateCollection({ name: fixture, dimension: DIMENSION, distance: fixtureDistance }))
        expectAdapterReason(error, 'already_exists')
      })

      test('describing, deleting or querying a missing collection fails with not_found', async () => {
        const missing = collectionName('missing')
        expectAdapterReason(await rejection(adapter.doDescribeCollection({ name: missing })), 'not_found')
        expectAdapterReason(await rejection(adapter.doDeleteCollection({ name: missing })), 'not_found')
        const query = adapter.doQuery({
          collection: missing,
          vector: [1, 0, 0, 0],
          topK: 1,
          includeMetadata: false,
          includeVectors: false,
        })
        expectAdapterReason(await rejection(query), 'not_found')
      })
    })

    describe('records', () => {
      test('fetch returns the records that exist, in the order of the ids asked for', async () => {
        const ids = [fixtureIds[2], idFor('fix', 999), fixtureIds[0], fixtureIds[1]] as string[]
        const { records } = await adapter.doFetch({ collection: fixture, ids, includeMetadata: false, includeVectors: false })
        expect(records.map((record) => record.id)).toEqual([fixtureIds[2], fixtureIds[0], fixtureIds[1]])
      })

      test('vectors round-trip within float32 error and metadata round-trips with its types', async () => {
        const { records } = await adapter.doFetch({
          collection: fixture,
          ids: fixtureIds,
          includeMetadata: true,
          includeVectors: true,
        })
        expect(records).toHaveLength(FIXTURE.length)
        records.forEach((record, index) => {
          expectVectorClose(record.vector, fixtureVectors[index] as number[])
          expect(record.metadata ?? {}).toEqual(FIXTURE[index] ?? {})
        })
      })

      test('metadata of every type round-trips exactly', async () => {
        const id = idFor('types', 1)
        const metadata: Metadata = {
          text: 'héllo wörld ✓ 日本',
          integer: 42,
          negative: -7,
          fraction: 0.125,
          large: 1_234_567_890_123,
          yes: true,
          no: false,
          list: ['x', 'y', 'z'],
          single: ['only'],
          empty: '',
        }
        await adapter.doUpsert({ collection: scratch, records: [{ id, vector: unit([1, 2, 3, 4]), metadata }] })
        await settle()
        const { records } = await adapter.doFetch({ collection: scratch, ids: [id], includeMetadata: true, includeVectors: false })
        expect(records[0]?.metadata).toEqual(metadata)
      })

      test('an upsert on an existing id replaces its vector and metadata', async () => {
        const id = idFor('over', 1)
        await adapter.doUpsert({
          collection: scratch,
          records: [{ id, vector: unit([1, 0, 0, 0]), metadata: { case: 'over', version: 1, old: 'yes' } }],
        })
        await settle()
        const replacement = unit([0, 1, 0, 0])
        await adapter.doUpsert({ collection: scratch, records: [{ id, vector: replacement, metadata: { case: 'over', version: 2 } }] })
        await settle()
        const { records } = await adapter.doFetch({ collection: scratch, ids: [id], includeMetadata: true, includeVectors: true })
        expect(records).toHaveLength(1)
        expect(records[0]?.metadata).toEqual({ case: 'over', version: 2 })
        expectVectorClose(records[0]?.vector, replacement)
        if (supports('$eq')) {
          const { count } = await adapter.doCount({ collection: scratch, filter: parseFilter({ case: 'over' }) })
          expect(count).toBe(1)
        }
      })

      test('includeMetadata false omits metadata, a field list projects it, includeVectors false omits vectors', async () => {
        const ids = [fixtureIds[0], fixtureIds[4]] as string[]
        const none = await adapter.doFetch({ collection: fixture, ids, includeMetadata: false, includeVectors: false })
        for (const record of none.records) {
          expect(record.metadata === undefined || Object.keys(record.metadata).length === 0).toBe(true)
          expect(record.vector).toBeUndefined()
        }
        const some = await adapter.doFetch({ collection: fixture, ids, includeMetadata: ['genre', 'tags'], includeVectors: false })
        expect(some.records[0]?.metadata).toEqual({ genre: 'drama', tags: ['a', 'b'] })
        expect(some.records[1]?.metadata).toEqual({ tags: ['c'] })
      })
    })

    describe('query ranking', () => {
      // query [1, 0]; hand-computed: cosine 1, .894, .707, 0, -1; dot 3, 2, 1, 0, -1; euclidean 0, √2 (tie), 2, √13
      const points: readonly (readonly [number, number])[] = [
        [1, 0],
        [2, 1],
        [0, 1],
        [-1, 0],
        [3, 3],
      ]
      const expectations: Record<Distance, { order: number[]; scores: number[] }> = {
        cosine: { order: [1, 2, 5, 3, 4], scores: [1, 2 / Math.sqrt(5), Math.SQRT1_2, 0, -1] },
        dot: { order: [5, 2, 1, 3, 4], scores: [3, 2, 1, 0, -1] },
        euclidean: { order: [1, 2, 3, 4, 5], scores: [0, Math.SQRT2, Math.SQRT2, 2, Math.sqrt(13)] },
      }
      for (const distance of ['cosine', 'dot', 'euclidean'] as const) {
        describe(distance, () => {
          let name: string
          const ranked = (): boolean => adapter.capabilities.distances.includes(distance)
          beforeAll(async () => {
            if (!ranked()) return
            name = await createCollection(`rank-${distance}`, distance, 2)
            await adapter.doUpsert({
              collection: name,
              records: points.map((point, index) => ({ id: idFor('rank', index + 1), vector: [...point] })),
            })
            await settle()
          })

          test(`${distance}: ranks best first with the hand-computed scores, ties by id ascending`, async (needs) => {
            needs(ranked(), `the adapter does not declare distance ${distance}`)
            const { matches } = await adapter.doQuery({
              collection: name,
              vector: [1, 0],
              topK: 5,
              includeMetadata: false,
              includeVectors: false,
            })
            const { order, scores } = expectations[distance]
            expect(matches.map((match) => match.id)).toEqual(order.map((number) => idFor('rank', number)))
            matches.forEach((match, index) => {
              expect(match.score).toBeCloseTo(scores[index] as number, 4)
            })
          })

          test(`${distance}: topK returns exactly the best k`, async (needs) => {
            needs(ranked(), `the adapter does not declare distance ${distance}`)
            const { matches } = await adapter.doQuery({
              collection: name,
              vector: [1, 0],
              topK: 2,
              includeMetadata: false,
              includeVectors: true,
            })
            const { order } = expectations[distance]
            expect(matches.map((match) => match.id)).toEqual(order.slice(0, 2).map((number) => idFor('rank', number)))
            expectVectorClose(matches[0]?.vector, [...(points[(order[0] as number) - 1] as [number, number])])
          })
        })
      }

      test('equal scores are ordered by id ascending, whatever the insertion order', async () => {
        const vector = unit([1, 1, 1, 1])
        const numbers = [3, 1, 4, 2]
        await adapter.doUpsert({
          collection: scratch,
          records: numbers.map((number) => ({ id: idFor('tie', number), vector, metadata: { case: 'tie' } })),
        })
        await settle()
        const { matches } = await adapter.doQuery({
          collection: scratch,
          vector,
          topK: 4,
          filter: supports('$eq') ? parseFilter({ case: 'tie' }) : undefined,
          includeMetadata: false,
          includeVectors: false,
        })
        expect(matches.map((match) => match.id)).toEqual([1, 2, 3, 4].map((number) => idFor('tie', number)))
      })

      test('query returns metadata as asked: all, none, or the listed fields', async () => {
        const base = { collection: fixture, vector: fixtureVectors[0] as number[], topK: 1, includeVectors: false }
        const all = await adapter.doQuery({ ...base, includeMetadata: true })
        expect(all.matches[0]?.id).toBe(fixtureIds[0])
        expect(all.matches[0]?.metadata).toEqual(FIXTURE[0])
        const none = await adapter.doQuery({ ...base, includeMetadata: false })
        expect(none.matches[0]?.metadata === undefined || Object.keys(none.matches[0].metadata).length === 0).toBe(true)
        expect(none.matches[0]?.vector).toBeUndefined()
        const listed = await adapter.doQuery({ ...base, includeMetadata: ['year', 'missing'] })
        expect(listed.matches[0]?.metadata).toEqual({ year: 2019 })
      })
    })

    describe('filters', () => {
      for (const filterCase of FILTER_CASES) {
        test(`filter: ${filterCase.name}`, async (needs) => {
          const node = parseFilter(filterCase.filter)
          const used = [...filterOperators(node)]
          needs(supports(...used), `the adapter does not declare every operator of ${used.join(' ')}`)
          const expectedIds = filterCase.expected.map((number) => fixtureIds[number - 1] as string)
          // the hand-written expectation must agree with the reference evaluator, or the case itself is wrong
          const oracle = fixtureIds.filter((_, index) => evaluateFilter(node, FIXTURE[index]))
          expect(sorted(oracle)).toEqual(sorted(expectedIds))
          const { matches } = await adapter.doQuery({
            collection: fixture,
            vector: fixtureVectors[0] as number[],
            topK: allIdsLimit(),
            filter: node,
            includeMetadata: false,
            includeVectors: false,
          })
          expect(sorted(matches.map((match) => match.id))).toEqual(sorted(expectedIds))
          const { count, exact } = await adapter.doCount({ collection: fixture, filter: node })
          if (exact) expect(count).toBe(expectedIds.length)
        })
      }

      test('filter: $exists true counts a field holding an empty list as present', async (needs) => {
        needs(supports('$exists'), 'the adapter does not declare $exists')
        const id = idFor('emptylist', 1)
        await adapter.doUpsert({ collection: scratch, records: [{ id, vector: unit([1, 2, 2, 1]), metadata: { case: 'emptylist', labels: [] } }] })
        await settle()
        const { records } = await adapter.doFetch({
          collection: scratch,
          ids: [id],
          filter: parseFilter({ labels: { $exists: true } }),
          includeMetadata: false,
          includeVectors: false,
        })
        expect(records.map((record) => record.id)).toEqual([id])
      })
    })

    describe('differential against the reference evaluator', () => {
      const RECORDS = 48
      let name: string
      const metadataById = new Map<string, Metadata | undefined>()

      const metadataArbitrary: fc.Arbitrary<Metadata> = fc
        .record(
          {
            genre: fc.constantFrom('drama', 'comedy', 'horror', 'Drama', '2020'),
            year: fc.oneof(fc.integer({ min: 2015, max: 2025 }), fc.constant('2020')),
            rating: fc.constantFrom(1, 2, 2.5, 3, 4, 4.5, 5, -1),
            tags: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'drama'), { minLength: 1, maxLength: 3 }),
            active: fc.boolean(),
          },
          { requiredKeys: [] },
        )
        .map((metadata) => metadata as Metadata)

      beforeAll(async () => {
        name = await createCollection('diff', fixtureDistance)
        const samples = fc.sample(metadataArbitrary, { seed: SEED, numRuns: RECORDS })
        const records: StoredRecord[] = samples.map((metadata, index) => {
          const id = idFor('diff', index + 1)
          metadataById.set(id, metadata)
          return { id, vector: unit([1, index % 7, index % 5, (index % 3) + 1]), metadata }
        })
        await adapter.doUpsert({ collection: name, records })
        await settle()
      })

      test('random filters select exactly the records the reference evaluator selects', async (needs) => {
        const capabilities = adapter.capabilities
        const has = (operator: FilterOperator): boolean => capabilities.filterOperators.includes(operator)
        const value = fc.constantFrom<string | number | boolean>('drama', 'comedy', 'Drama', 'a', 'c', '2020', 2020, 2018, 3, 4.5, true, false)
        const number = fc.constantFrom(-1, 2, 2.5, 3, 2018, 2020, 2022)
        const field = fc.constantFrom('genre', 'year', 'rating', 'tags', 'active', 'absent')
        const leaves: fc.Arbitrary<Record<string, unknown>>[] = []
        if (has('$eq')) leaves.push(fc.tuple(field, value).map(([f, v]) => ({ [f]: v })))
        for (const operator of ['$eq', '$ne'] as const) {
          if (has(operator)) leaves.push(fc.tuple(field, value).map(([f, v]) => ({ [f]: { [operator]: v } })))
        }
        for (const operator of ['$gt', '$gte', '$lt', '$lte'] as const) {
          if (has(operator)) leaves.push(fc.tuple(field, number).map(([f, v]) => ({ [f]: { [operator]: v } })))
        }
        for (const operator of ['$in', '$nin'] as const) {
          if (has(operator)) {
            leaves.push(
              fc.tuple(field, fc.uniqueArray(value, { minLength: 1, maxLength: 4 })).map(([f, v]) => ({ [f]: { [operator]: v } })),
            )
          }
        }
        if (has('$exists')) leaves.push(fc.tuple(field, fc.boolean()).map(([f, v]) => ({ [f]: { $exists: v } })))
        needs(leaves.length > 0, 'the adapter declares no comparison operator')
        const leaf = fc.oneof(...leaves)
        const { filter } = fc.letrec<{ filter: Record<string, unknown> }>((tie) => {
          const branches: fc.Arbitrary<Record<string, unknown>>[] = [leaf]
          const children = fc.array(tie('filter'), { minLength: 1, maxLength: 3 })
          if (has('$and')) branches.push(children.map((list) => ({ $and: list })))
          if (has('$or')) branches.push(children.map((list) => ({ $or: list })))
          return { filter: fc.oneof({ depthSize: 'small', maxDepth: 3 }, ...branches) }
        })
        await fc.assert(
          fc.asyncProperty(filter, async (input) => {
            const node = parseFilter(input)
            const expected = [...metadataById].filter(([, metadata]) => evaluateFilter(node, metadata)).map(([id]) => id)
            const { matches } = await adapter.doQuery({
              collection: name,
              vector: unit([1, 1, 1, 1]),
              topK: Math.min(capabilities.maxTopK, RECORDS + 10),
              filter: node,
              includeMetadata: false,
              includeVectors: false,
            })
            expect(sorted(matches.map((match) => match.id))).toEqual(sorted(expected))
          }),
          { seed: SEED, numRuns: 60 },
        )
      })
    })

    describe('delete, update, count, scroll', () => {
      const seed = async (tag: string, count: number, extra: (number: number) => Metadata = () => ({})): Promise<string[]> => {
        const records = Array.from({ length: count }, (_, index) => ({
          id: idFor(tag, index + 1),
          vector: unit([1, index + 1, 1, 2]),
          metadata: { case: tag, index: index + 1, ...extra(index + 1) },
        }))
        await adapter.doUpsert({ collection: scratch, records })
        await settle()
        return records.map((record) => record.id)
      }
      const existing = async (ids: readonly string[]): Promise<string[]> => {
        const { records } = await adapter.doFetch({ collection: scratch, ids, includeMetadata: false, includeVectors: false })
        return records.map((record) => record.id)
      }

      test('delete by ids removes exactly those records', async () => {
        const ids = await seed('delids', 4)
        await adapter.doDelete({ collection: scratch, ids: [ids[0], ids[2]] as string[] })
        await settle()
        expect(await existing(ids)).toEqual([ids[1], ids[3]])
      })

      test('delete by filter removes exactly the matching records', async (needs) => {
        needs(adapter.capabilities.deleteByFilter && supports('$eq'), 'the adapter does not declare deleteByFilter and $eq')
        const ids = await seed('delfilter', 4, (number) => ({ parity: number % 2 === 0 ? 'even' : 'odd' }))
        await adapter.doDelete({ collection: scratch, filter: parseFilter({ case: 'delfilter', parity: 'odd' }) })
        await settle()
        expect(await existing(ids)).toEqual([ids[1], ids[3]])
      })

      test('delete with ids and a filter removes only the listed ids that match', async (needs) => {
        needs(adapter.capabilities.filterWithIds && supports('$eq'), 'the adapter does not declare filterWithIds and $eq')
        const ids = await seed('delboth', 4, (number) => ({ parity: number % 2 === 0 ? 'even' : 'odd' }))
        await adapter.doDelete({ collection: scratch, ids: [ids[0], ids[1], ids[2]] as string[], filter: parseFilter({ parity: 'even' }) })
        await settle()
        expect(await existing(ids)).toEqual([ids[0], ids[2], ids[3]])
      })

      test('fetch with ids and a filter returns only the listed ids that match', async (needs) => {
        needs(adapter.capabilities.filterWithIds && supports('$eq'), 'the adapter does not declare filterWithIds and $eq')
        const ids = await seed('fetchboth', 4, (number) => ({ owner: number <= 2 ? 'alice' : 'bob' }))
        const { records } = await adapter.doFetch({
          collection: scratch,
          ids: [ids[3], ids[0], ids[1]] as string[],
          filter: parseFilter({ owner: 'alice' }),
          includeMetadata: false,
          includeVectors: false,
        })
        expect(records.map((record) => record.id)).toEqual([ids[0], ids[1]])
      })

      test('update merges the patch and a null removes a field', async () => {
        const [id] = await seed('update', 1, () => ({ keep: 'yes', drop: 'soon', change: 1 }))
        const result = await adapter.doUpdate({ collection: scratch, id: id as string, metadata: { change: 2, drop: null, added: ['p', 'q'] } })
        expect(result.updated).toBe(true)
        await settle()
        const { records } = await adapter.doFetch({ collection: scratch, ids: [id as string], includeMetadata: true, includeVectors: false })
        expect(records[0]?.metadata).toEqual({ case: 'update', index: 1, keep: 'yes', change: 2, added: ['p', 'q'] })
      })

      test('update of a missing id reports nothing updated', async () => {
        const result = await adapter.doUpdate({ collection: scratch, id: idFor('nobody', 1), metadata: { any: 'thing' } })
        expect(result.updated).toBe(false)
      })

      test('update with a filter the record fails changes nothing', async (needs) => {
        needs(adapter.capabilities.filterWithIds && supports('$eq'), 'the adapter does not declare filterWithIds and $eq')
        const [id] = await seed('updfilter', 1, () => ({ owner: 'alice' }))
        const result = await adapter.doUpdate({
          collection: scratch,
          id: id as string,
          metadata: { owner: 'mallory' },
          filter: parseFilter({ owner: 'bob' }),
        })
        expect(result.updated).toBe(false)
        await settle()
        const { records } = await adapter.doFetch({ collection: scratch, ids: [id as string], includeMetadata: ['owner'], includeVectors: false })
        expect(records[0]?.metadata).toEqual({ owner: 'alice' })
      })

      test('count is exact over the whole collection and under a filter', async (needs) => {
        needs(adapter.capabilities.count === 'exact', 'the adapter declares approximate counts')
        const name = await createCollection('count', fixtureDistance)
        await adapter.doUpsert({
          collection: name,
          records: Array.from({ length: 7 }, (_, index) => ({
            id: idFor('count', index + 1),
            vector: unit([1, index, 2, 1]),
            metadata: { big: index >= 4 },
          })),
        })
        await settle()
        expect((await adapter.doCount({ collection: name })).count).toBe(7)
        if (supports('$eq')) expect((await adapter.doCount({ collection: name, filter: parseFilter({ big: true }) })).count).toBe(3)
      })

      test('scroll visits every record exactly once over several pages', async () => {
        const name = await createCollection('scroll', fixtureDistance)
        const total = 23
        const ids = Array.from({ length: total }, (_, index) => idFor('scroll', index + 1))
        await adapter.doUpsert({
          collection: name,
          records: ids.map((id, index) => ({ id, vector: unit([1, index, 3, 1]), metadata: { index, even: index % 2 === 0 } })),
        })
        await settle()
        const visit = async (filter?: ReturnType<typeof parseFilter>): Promise<string[]> => {
          const seen: string[] = []
          let cursor: string | undefined
          let pages = 0
          do {
            const page = await adapter.doScroll({ collection: name, limit: 5, cursor, filter, includeMetadata: false, includeVectors: false })
            expect(page.records.length).toBeLessThanOrEqual(5)
            seen.push(...page.records.map((record) => record.id))
            cursor = page.nextCursor
            pages += 1
            expect(pages).toBeLessThan(50)
          } while (cursor !== undefined)
          expect(pages).toBeGreaterThanOrEqual(2)
          return seen
        }
        const all = await visit()
        expect(all).toHaveLength(total)
        expect(sorted(all)).toEqual(sorted(ids))
        if (supports('$eq')) {
          const even = await visit(parseFilter({ even: true }))
          expect(sorted(even)).toEqual(sorted(ids.filter((_, index) => index % 2 === 0)))
        }
      })

      test('namespaces keep records apart', async (needs) => {
        needs(adapter.capabilities.namespaces, 'the adapter does not declare namespaces')
        const name = await createCollection('ns', fixtureDistance)
        const id = idFor('ns', 1)
        await adapter.doUpsert({ collection: name, namespace: 'left', records: [{ id, vector: unit([1, 1, 0, 0]), metadata: { side: 'left' } }] })
        await settle()
        const fetch = (namespace?: string) =>
          adapter.doFetch({ collection: name, namespace, ids: [id], includeMetadata: true, includeVectors: false })
        expect((await fetch('left')).records).toHaveLength(1)
        expect((await fetch('right')).records).toHaveLength(0)
        expect((await fetch()).records).toHaveLength(0)
        if (adapter.capabilities.count === 'exact') {
          expect((await adapter.doCount({ collection: name, namespace: 'left' })).count).toBe(1)
          expect((await adapter.doCount({ collection: name, namespace: 'right' })).count).toBe(0)
        }
      })
    })

    describe('bad input', () => {
      test('an upsert of the wrong dimension fails with InputError and writes nothing of its batch', async () => {
        const good = idFor('baddim', 1)
        const error = await rejection(
          adapter.doUpsert({
            collection: scratch,
            records: [
              { id: good, vector: unit([1, 1, 1, 1]) },
              { id: idFor('baddim', 2), vector: [1, 2, 3] },
            ],
          }),
        )
        expectInputError(error)
        await settle()
        expect(await adapter.doFetch({ collection: scratch, ids: [good], includeMetadata: false, includeVectors: false })).toEqual({ records: [] })
      })

      test('non-finite vector components fail with InputError', async () => {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const error = await rejection(adapter.doUpsert({ collection: scratch, records: [{ id: idFor('nonfinite', 1), vector: [1, bad, 0, 0] }] }))
          expectInputError(error)
        }
      })

      test('a query vector of the wrong dimension fails with InputError', async () => {
        const error = await rejection(
          adapter.doQuery({ collection: fixture, vector: [1, 0], topK: 1, includeMetadata: false, includeVectors: false }),
        )
        expectInputError(error)
      })

      test('a topK above maxTopK fails with InputError', async () => {
        const error = await rejection(
          adapter.doQuery({
            collection: fixture,
            vector: fixtureVectors[0] as number[],
            topK: adapter.capabilities.maxTopK + 1,
            includeMetadata: false,
            includeVectors: false,
          }),
        )
        expectInputError(error)
      })

      test('metadata that is not a string, finite number, boolean or string list fails with InputError', async () => {
        const cases: unknown[] = [{ nested: { a: 1 } }, { missing: null }, { list: [1, 2] }, { number: Number.NaN }]
        for (const metadata of cases) {
          const error = await rejection(
            adapter.doUpsert({
              collection: scratch,
              records: [{ id: idFor('badmeta', 1), vector: unit([1, 1, 1, 1]), metadata: metadata as Metadata }],
            }),
          )
          expectInputError(error)
        }
      })

      test('error messages hold neither vector components nor metadata values', async () => {
        const secret = 'TOP-SECRET-PLAINTEXT'
        const errors = [
          await rejection(
            adapter.doUpsert({
              collection: scratch,
              records: [{ id: idFor('leak', 1), vector: [1234.5678, 8765.4321, 1111.2222], metadata: { secret } }],
            }),
          ),
          await rejection(
            adapter.doUpsert({
              collection: scratch,
              records: [{ id: idFor('leak', 2), vector: unit([1, 1, 1, 1]), metadata: { secret, bad: { secret } } as unknown as Metadata }],
            }),
          ),
        ]
        for (const error of errors) {
          const text = `${(error as Error).message} ${JSON.stringify(error)}`
          expect(text).not.toContain(secret)
          expect(text).not.toContain('1234.5678')
          expect(text).not.toContain('8765')
        }
      })
    })

    describe('the suite itself', () => {
      it('every skip entry names a case of the suite', () => {
        for (const name of Object.keys(target.skip ?? {})) expect([...registered], `unknown skip entry: ${name}`).toContain(name)
      })
    })
  })
}
