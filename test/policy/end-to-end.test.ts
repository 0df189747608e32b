// the built-in engine end to end through createWarden + memoryAdapter: random policies, principals, records and caller filters

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AuthorizationError, WardenError } from '../../src/errors.js'
import { evaluateFilter, parseFilter } from '../../src/filter/index.js'
import { definePolicy } from '../../src/policy/index.js'
import { callerFilter, policyDocument, principal, record } from './arbitraries.js'
import { cosine, settle, type StoredRow, wardenWith } from './harness.js'
import { referenceAllowed } from './reference.js'

const rows: fc.Arbitrary<StoredRow[]> = fc
  .array(fc.tuple(record, fc.integer({ min: 1, max: 9 }), fc.integer({ min: -9, max: 9 })), { minLength: 1, maxLength: 14 })
  .map((list) => list.map(([metadata, x, y], index) => ({ id: `r${String(index).padStart(2, '0')}`, vector: [x, y], metadata })))

const QUERY = [1, 0.5]

describe('end to end: every returned record is allowed and none is missed', () => {
  it('query, fetch and count return exactly the records the reference model allows (within the caller filter)', async () => {
    await fc.assert(
      fc.asyncProperty(policyDocument, principal, rows, callerFilter, async (document, who, stored, filter) => {
        const policy = definePolicy(document)
        const { warden, sessions } = await wardenWith(policy, [who], stored)
        const session = sessions[0]
        if (session === undefined) throw new Error('no session')
        try {
          const caller = parseFilter(filter)
          const expectedFor = (action: 'record.query' | 'record.fetch' | 'record.count', withCaller: boolean) =>
            stored
              .filter((row) => referenceAllowed(document, who, action, 'docs', row.metadata))
              .filter((row) => !withCaller || evaluateFilter(caller, row.metadata))
              .map((row) => row.id)
              .sort()

          const queried = await settle(session.query('docs', { vector: QUERY, topK: 100, filter }))
          const expectedQuery = expectedFor('record.query', true)
          if (queried.ok) expect(queried.value.matches.map((match) => match.id).sort()).toEqual(expectedQuery)
          else {
            expect(AuthorizationError.isInstance(queried.error)).toBe(true)
            expect(expectedFor('record.query', false)).toEqual([])
          }

          const fetched = await settle(session.fetch('docs', stored.map((row) => row.id)))
          const expectedFetch = expectedFor('record.fetch', false)
          if (fetched.ok) expect(fetched.value.records.map((row) => row.id).sort()).toEqual(expectedFetch)
          else expect(expectedFetch).toEqual([])

          const counted = await settle(session.count('docs', { filter }))
          if (counted.ok) expect(counted.value.count).toBe(expectedFor('record.count', true).length)
          else expect(expectedFor('record.count', false)).toEqual([])
        } finally {
          await warden.close()
        }
      }),
      { numRuns: 120 },
    )
  })

  it('within topK: the returned records are allowed, as many as possible, and nearer than every allowed record left out', async () => {
    await fc.assert(
      fc.asyncProperty(policyDocument, principal, rows, callerFilter, fc.integer({ min: 1, max: 4 }), async (document, who, stored, filter, topK) => {
        const { warden, sessions } = await wardenWith(definePolicy(document), [who], stored)
        try {
          const result = await settle((sessions[0] as NonNullable<(typeof sessions)[0]>).query('docs', { vector: QUERY, topK, filter }))
          if (!result.ok) return
          const caller = parseFilter(filter)
          const eligible = stored.filter((row) => referenceAllowed(document, who, 'record.query', 'docs', row.metadata) && evaluateFilter(caller, row.metadata))
          const returned = result.value.matches.map((match) => match.id)
          expect(returned.length).toBe(Math.min(topK, eligible.length))
          const eligibleIds = new Set(eligible.map((row) => row.id))
          for (const id of returned) expect(eligibleIds.has(id)).toBe(true)
          const worst = Math.min(...result.value.matches.map((match) => match.score))
          for (const row of eligible) {
            if (!returned.includes(row.id)) expect(cosine(row.vector, QUERY)).toBeLessThanOrEqual(worst + 1e-5)
          }
        } finally {
          await warden.close()
        }
      }),
      { numRuns: 80 },
    )
  })

  it('scroll pages through exactly the allowed records, and delete by filter removes exactly the allowed matches', async () => {
    await fc.assert(
      fc.asyncProperty(policyDocument, principal, rows, callerFilter, async (document, who, stored, filter) => {
        const { warden, sessions, adapter } = await wardenWith(definePolicy(document), [who], stored)
        const session = sessions[0] as NonNullable<(typeof sessions)[0]>
        try {
          const caller = parseFilter(filter)
          const allowedIds = (action: 'record.scroll' | 'record.delete', withCaller: boolean) =>
            stored
              .filter((row) => referenceAllowed(document, who, action, 'docs', row.metadata) && (!withCaller || evaluateFilter(caller, row.metadata)))
              .map((row) => row.id)
              .sort()
          const seen: string[] = []
          let cursor: string | undefined
          let pages = 0
          let refused = false
          do {
            const page = await settle(session.scroll('docs', { limit: 3, filter, ...(cursor === undefined ? {} : { cursor }) }))
            if (!page.ok) {
              refused = true
              break
            }
            seen.push(...page.value.records.map((row) => row.id))
            cursor = page.value.nextCursor
          } while (cursor !== undefined && ++pages < 20)
          if (refused) expect(allowedIds('record.scroll', false)).toEqual([])
          else expect(seen.sort()).toEqual(allowedIds('record.scroll', true))

          const deleted = await settle(session.delete('docs', { filter }))
          const expectedGone = deleted.ok ? allowedIds('record.delete', true) : []
          if (!deleted.ok) expect(allowedIds('record.delete', false)).toEqual([])
          const { records } = await adapter.doFetch({ collection: 'docs', ids: stored.map((row) => row.id), includeMetadata: false, includeVectors: false })
          const remaining = records.map((row) => row.id).sort()
          expect(remaining).toEqual(stored.map((row) => row.id).filter((id) => !expectedGone.includes(id)).sort())
        } finally {
          await warden.close()
        }
      }),
      { numRuns: 80 },
    )
  })

  it('writes: an upsert lands only where the principal may write, and nothing is written otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(policyDocument, principal, record, async (document, who, metadata) => {
        const { warden, sessions, adapter } = await wardenWith(definePolicy(document), [who], [])
        try {
          const { tenant: _ignored, ...callerMetadata } = metadata as Record<string, never>
          const result = await settle((sessions[0] as NonNullable<(typeof sessions)[0]>).upsert('docs', [{ id: 'w1', vector: [1, 1], metadata: callerMetadata }]))
          const { records } = await adapter.doFetch({ collection: 'docs', ids: ['w1'], includeMetadata: true, includeVectors: false })
          const stamped = document.tenancy !== undefined && who.tenant !== undefined ? { ...callerMetadata, tenant: who.tenant } : callerMetadata
          expect(result.ok).toBe(referenceAllowed(document, who, 'record.upsert', 'docs', stamped))
          if (!result.ok) {
            expect(WardenError.isInstance(result.error)).toBe(true)
            expect(records).toEqual([])
            return
          }
          const written = records[0]?.metadata ?? {}
          expect(referenceAllowed(document, who, 'record.upsert', 'docs', written)).toBe(true)
          if (document.tenancy !== undefined) expect(written.tenant).toBe(who.tenant)
        } finally {
          await warden.close()
        }
      }),
      { numRuns: 80 },
    )
  })
})
