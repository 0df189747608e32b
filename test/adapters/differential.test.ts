// differential property tests: random records and random portable filters select the same ids on memory, the Qdrant
// fake and the Pinecone fake (each fake evaluates its vendor's native filter with its own evaluator), and with an
// enforced row filter no backend returns a record outside it

import { readdirSync, readFileSync } from 'node:fs'
import { Pinecone } from '@pinecone-database/pinecone'
import { QdrantClient } from '@qdrant/js-client-rest'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { pineconeAdapter } from '../../src/adapters/pinecone/index.js'
import { qdrantAdapter } from '../../src/adapters/qdrant/index.js'
import { evaluateFilter, nestFilters } from '../../src/filter/index.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { FilterNode, FilterScalar } from '../../src/spec/filter.js'
import type { Metadata, StoredRecord } from '../../src/spec/records.js'
import { type PineconeFake, type QdrantFake, startPineconeFake, startQdrantFake } from '../../src/testing/index.js'

const DIMENSION = 3

// small overlapping domains so that filters often hit: digits as strings and numbers, cases, fractions, booleans
const scalar: fc.Arbitrary<FilterScalar> = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'A', '2020', ''),
  fc.constantFrom(2019, 2020, 2021, 0, -1, 2.5, 1e20, 4.25),
  fc.boolean(),
)
const fields = ['genre', 'year', 'rating', 'tags', 'active', 'tenant'] as const
const field = fc.constantFrom(...fields)

const metadataArbitrary: fc.Arbitrary<Metadata> = fc
  .record(
    {
      genre: fc.constantFrom('a', 'b', 'c', 'A', '2020', ''),
      year: fc.oneof(fc.constantFrom(2019, 2020, 2021), fc.constant('2020')),
      rating: fc.constantFrom(0, -1, 2.5, 4.25, 1e20, 3),
      tags: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', '2020'), { minLength: 0, maxLength: 3 }),
      active: fc.boolean(),
      tenant: fc.constantFrom('t1', 't2', 't3'),
    },
    { requiredKeys: [] },
  )
  .map((metadata) => metadata as Metadata)

const leaf: fc.Arbitrary<FilterNode> = fc.oneof(
  fc.record({ kind: fc.constant('cmp' as const), field, op: fc.constantFrom('$eq' as const, '$ne' as const), value: scalar }),
  fc.record({
    kind: fc.constant('cmp' as const),
    field,
    op: fc.constantFrom('$gt' as const, '$gte' as const, '$lt' as const, '$lte' as const),
    value: fc.constantFrom(2019, 2020, 2.5, 0, -1, 1e20, 4.25),
  }),
  fc.record({ kind: fc.constant('in' as const), field, op: fc.constantFrom('$in' as const, '$nin' as const), values: fc.array(scalar, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('exists' as const), field, value: fc.boolean() }),
  fc.constantFrom<FilterNode>({ kind: 'all' }, { kind: 'none' }),
)

const filterArbitrary: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant('and' as const), children: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('or' as const), children: fc.array(tie('node'), { maxLength: 3 }) }),
  ),
})).node

const recordsArbitrary = fc.array(metadataArbitrary, { minLength: 1, maxLength: 24 }).map((list) =>
  list.map(
    (metadata, index): StoredRecord => ({
      id: `r-${String(index).padStart(3, '0')}`,
      vector: [1, (index % 5) + 1, (index % 3) - 1],
      metadata,
    }),
  ),
)

const sorted = (ids: Iterable<string>): string[] => [...ids].sort()

describe('differential: memory, qdrant fake and pinecone fake agree', () => {
  let qdrantFake: QdrantFake
  let pineconeFake: PineconeFake
  let backends: Array<{ name: string; adapter: VectorStoreAdapterV1 }>
  let counter = 0

  beforeAll(async () => {
    qdrantFake = await startQdrantFake()
    pineconeFake = await startPineconeFake()
    backends = [
      { name: 'memory', adapter: memoryAdapter() },
      { name: 'qdrant', adapter: qdrantAdapter(new QdrantClient({ url: qdrantFake.url, checkCompatibility: false }), { retry: { maxRetries: 0 } }) },
      {
        name: 'pinecone',
        adapter: pineconeAdapter(new Pinecone({ apiKey: 'differential', controllerHostUrl: pineconeFake.url, maxRetries: 0 }), { retry: { maxRetries: 0 } }),
      },
    ]
  })

  afterAll(async () => {
    await qdrantFake?.close()
    await pineconeFake?.close()
  })

  const withCollection = async (records: readonly StoredRecord[], body: (collection: string) => Promise<void>): Promise<void> => {
    const collection = `diff-${++counter}`
    for (const { adapter } of backends) {
      await adapter.doCreateCollection({ name: collection, dimension: DIMENSION, distance: 'cosine' })
      await adapter.doUpsert({ collection, records })
    }
    try {
      await body(collection)
    } finally {
      for (const { adapter } of backends) await adapter.doDeleteCollection({ name: collection })
    }
  }

  it('random filters select the reference evaluator’s ids on every backend (query, count, fetch by ids)', async () => {
    await fc.assert(
      fc.asyncProperty(recordsArbitrary, fc.array(filterArbitrary, { minLength: 1, maxLength: 4 }), async (records, filters) => {
        await withCollection(records, async (collection) => {
          for (const filter of filters) {
            const expected = sorted(records.filter((record) => evaluateFilter(filter, record.metadata)).map((record) => record.id))
            for (const { name, adapter } of backends) {
              const { matches } = await adapter.doQuery({ collection, vector: [1, 1, 1], topK: 100, filter, includeMetadata: false, includeVectors: false })
              expect(sorted(matches.map((match) => match.id)), `${name} query`).toEqual(expected)
              const counted = await adapter.doCount({ collection, filter })
              if (counted.exact) expect(counted.count, `${name} count`).toBe(expected.length)
              const fetched = await adapter.doFetch({ collection, ids: records.map((record) => record.id), filter, includeMetadata: false, includeVectors: false })
              expect(sorted(fetched.records.map((record) => record.id)), `${name} fetch`).toEqual(expected)
            }
          }
        })
      }),
      { numRuns: 40, seed: 20_261_129 },
    )
  })

  it('with an enforced tenant row filter, no backend returns a record outside it, and query and scroll return exactly the allowed matches', async () => {
    const enforcedArbitrary = fc.oneof(
      fc.constantFrom('t1', 't2', 't3').map((tenant): FilterNode => ({ kind: 'cmp', field: 'tenant', op: '$eq', value: tenant })),
      fc.uniqueArray(fc.constantFrom('t1', 't2', 't3'), { minLength: 1, maxLength: 2 }).map((values): FilterNode => ({ kind: 'in', field: 'tenant', op: '$in', values })),
    )
    await fc.assert(
      fc.asyncProperty(recordsArbitrary, enforcedArbitrary, filterArbitrary, async (records, enforced, caller) => {
        const combined = nestFilters(enforced, caller) as FilterNode
        const expected = sorted(records.filter((record) => evaluateFilter(combined, record.metadata)).map((record) => record.id))
        await withCollection(records, async (collection) => {
          for (const { name, adapter } of backends) {
            const { matches } = await adapter.doQuery({ collection, vector: [1, 0, 1], topK: 100, filter: combined, includeMetadata: true, includeVectors: false })
            for (const match of matches) {
              expect(evaluateFilter(enforced, match.metadata), `${name} returned ${match.id} outside the row filter`).toBe(true)
            }
            expect(sorted(matches.map((match) => match.id)), `${name} query`).toEqual(expected)
            // every page stays inside the row filter, and the pages together are exactly the matching records
            const scrolled: string[] = []
            let cursor: string | undefined
            do {
              const page = await adapter.doScroll({ collection, filter: combined, limit: 7, cursor, includeMetadata: true, includeVectors: false })
              for (const record of page.records) expect(evaluateFilter(enforced, record.metadata), `${name} scroll leaked ${record.id}`).toBe(true)
              scrolled.push(...page.records.map((record) => record.id))
              cursor = page.nextCursor
            } while (cursor !== undefined)
            expect(sorted(scrolled), `${name} scroll`).toEqual(expected)
          }
        })
      }),
      { numRuns: 25, seed: 7 },
    )
  })
})

describe('the fakes are independent oracles', () => {
  it('no fake module imports vectorwarden\'s filter code or adapters', () => {
    const directory = new URL('../../src/testing/', import.meta.url)
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, directory), 'utf8')
      const imports = [...source.matchAll(/^(?:import|export)[^\n]* from '([^']+)'/gm)].map((match) => match[1] as string)
      for (const specifier of imports) expect(specifier.startsWith('./') || specifier.startsWith('node:'), `${file} imports ${specifier}`).toBe(true)
    }
  })
})
