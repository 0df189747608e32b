// property tests of the whole pipeline against a reference model: every returned record is allowed, none is missed

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { evaluateFilter, parseFilter } from '../../src/filter/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { Metadata } from '../../src/spec/records.js'
import { tableAuthenticator, TOKENS, tenancyPolicy } from './helpers.js'

const TENANTS = ['acme', 'globex', 'initech'] as const
const FIELDS = ['lang', 'n', 'tags', 'flag'] as const

const scalar = fc.oneof(fc.constantFrom('en', 'de', 'fr', 'x'), fc.integer({ min: -3, max: 3 }), fc.boolean())

// caller filters, including adversarial ones that name the tenant field or try to widen with $or
const leaf = fc.oneof(
  fc.record({ field: fc.constantFrom(...FIELDS, 'tenant'), value: scalar }).map(({ field, value }) => ({ [field]: value })),
  fc
    .record({ field: fc.constantFrom(...FIELDS, 'tenant'), op: fc.constantFrom('$eq', '$ne'), value: scalar })
    .map(({ field, op, value }) => ({ [field]: { [op]: value } })),
  fc
    .record({ field: fc.constantFrom('n'), op: fc.constantFrom('$gt', '$gte', '$lt', '$lte'), value: fc.integer({ min: -3, max: 3 }) })
    .map(({ field, op, value }) => ({ [field]: { [op]: value } })),
  fc
    .record({ field: fc.constantFrom(...FIELDS, 'tenant'), op: fc.constantFrom('$in', '$nin'), values: fc.array(scalar, { maxLength: 3 }) })
    .map(({ field, op, values }) => ({ [field]: { [op]: values } })),
  fc.record({ field: fc.constantFrom(...FIELDS, 'tenant'), value: fc.boolean() }).map(({ field, value }) => ({ [field]: { $exists: value } })),
  fc.constant({}),
)
const { filter } = fc.letrec<{ filter: Record<string, unknown> }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $or: children })),
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $and: children })),
  ),
}))

const record = fc.record(
  {
    tenant: fc.constantFrom(...TENANTS),
    lang: fc.constantFrom('en', 'de', 'fr'),
    n: fc.integer({ min: -3, max: 3 }),
    tags: fc.array(fc.constantFrom('en', 'x', 'de'), { maxLength: 2 }),
    flag: fc.boolean(),
    vector: fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }).filter((v) => v.some((x) => x !== 0)),
  },
  { requiredKeys: ['tenant', 'vector'] },
)

type Generated = { tenant: string; vector: number[]; [field: string]: unknown }

async function world(records: readonly Generated[]) {
  const adapter = memoryAdapter()
  await adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
  // seed the store directly, as data written by earlier processes would be
  await adapter.doUpsert({
    collection: 'docs',
    records: records.map((r, i) => {
      const { vector, ...metadata } = r
      return { id: `r${i}`, vector, metadata: metadata as Metadata }
    }),
  })
  const table = Object.fromEntries(
    TENANTS.map((tenant) => [`tok-${tenant}-0123456789`, { ...(TOKENS['tok-alice-0123456789'] as Principal), id: tenant, tenant }]),
  )
  const warden = createWarden({ adapter, authenticators: [tableAuthenticator(table)], policy: tenancyPolicy(), audit: memoryAuditSink({ limit: 100 }) })
  return { warden, adapter }
}

describe('pipeline properties (fast-check, reference model)', () => {
  it('a query returns only allowed records, and exactly min(topK, allowed ∩ filter) of them', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 0, maxLength: 25 }),
        fc.constantFrom(...TENANTS),
        filter,
        fc.integer({ min: 1, max: 30 }),
        async (records, tenant, callerFilter, topK) => {
          const { warden } = await world(records)
          const session = await warden.session(`Bearer tok-${tenant}-0123456789`)
          const { matches } = await session.query('docs', { vector: [1, 1, 1], topK, filter: callerFilter })
          const parsed = parseFilter(callerFilter)
          const allowed = records
            .map((r, i) => ({ id: `r${i}`, metadata: r as unknown as Metadata }))
            .filter((r) => r.metadata.tenant === tenant && evaluateFilter(parsed, r.metadata))
          for (const match of matches) {
            expect(match.metadata?.tenant).toBe(tenant)
            expect(allowed.some((r) => r.id === match.id)).toBe(true)
          }
          expect(matches).toHaveLength(Math.min(topK, allowed.length))
          const { count } = await session.count('docs', { filter: callerFilter })
          expect(count).toBe(allowed.length)
        },
      ),
      { numRuns: 150, seed: 20261129 },
    )
  })

  it('fetch and delete by ids touch exactly the caller tenant\'s records among the ids', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 15 }),
        fc.constantFrom(...TENANTS),
        fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { maxLength: 10 }),
        async (records, tenant, picks) => {
          const { warden, adapter } = await world(records)
          const session = await warden.session(`Bearer tok-${tenant}-0123456789`)
          const ids = picks.map((i) => `r${i}`)
          const mine = (i: number) => i < records.length && records[i]?.tenant === tenant
          const expected = picks.filter(mine).map((i) => `r${i}`)
          const { records: fetched } = await session.fetch('docs', ids)
          expect(fetched.map((r) => r.id)).toEqual(expected)
          await session.delete('docs', { ids })
          const { count } = await adapter.doCount({ collection: 'docs' })
          expect(count).toBe(records.length - expected.length)
        },
      ),
      { numRuns: 100, seed: 7 },
    )
  })
})

describe('isoTime', () => {
  it('formats every timestamp exactly as Date#toISOString does, in any order of calls', async () => {
    const { isoTime } = await import('../../src/core/events.js')
    const timestamp = fc.oneof(
      fc.integer({ min: 0, max: 8.64e15 }),
      fc.integer({ min: 1_700_000_000_000, max: 1_700_000_005_000 }),
      fc.integer({ min: -8.64e15, max: 0 }),
      fc.double({ min: -1e13, max: 1e13, noNaN: true }),
    )
    fc.assert(
      fc.property(fc.array(timestamp, { minLength: 1, maxLength: 20 }), (times) => {
        for (const now of times) expect(isoTime(now)).toBe(new Date(now).toISOString())
      }),
      { numRuns: 500 },
    )
  })
})
