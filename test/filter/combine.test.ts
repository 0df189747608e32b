// nesting the enforced filter with the caller's: exactly the intersection, never wider; deny-all detection
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { evaluateFilter, matchesNothing, nestFilters, parseFilter } from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Metadata } from '../../src/spec/records.js'
import { filterInput, filterNode, metadata } from './arbitraries.js'

const enforced = parseFilter({ tenant: 'acme' })

/** Caller filters that try to widen the enforced side. */
const escapes: Record<string, unknown>[] = [
  {},
  { $or: [{ tenant: 'globex' }, { tenant: { $ne: 'acme' } }] },
  { $or: [{}, { tenant: 'globex' }] },
  { tenant: { $exists: false } },
  { tenant: { $nin: ['acme'] } },
  { $or: [{ public: true }, { $and: [{ tenant: 'globex' }] }] },
  { '") or true or ("': 'x' },
  { $or: [{ $or: [{ $or: [{ tenant: 'globex' }, {}] }] }] },
]

const population: Metadata[] = [
  { tenant: 'acme', public: true },
  { tenant: 'acme' },
  { tenant: 'globex', public: true },
  { tenant: 'globex' },
  { public: true },
  {},
  { tenant: ['acme', 'globex'] },
  { '") or true or ("': 'x', tenant: 'globex' },
]

describe('nestFilters', () => {
  it('keeps each side as one nested child of an AND (the caller side is never spread)', () => {
    const caller = parseFilter({ $or: [{ a: 1 }, { b: 2 }] })
    const combined = nestFilters(enforced, caller)
    expect(combined).toEqual({ kind: 'and', children: [enforced, caller] })
    expect((combined as { children: readonly FilterNode[] }).children[0]).toBe(enforced)
    expect((combined as { children: readonly FilterNode[] }).children[1]).toBe(caller)
  })

  it('keeps an AND caller nested instead of flattening its children', () => {
    const caller = parseFilter({ a: 1, b: 2 })
    expect(nestFilters(enforced, caller)).toEqual({ kind: 'and', children: [enforced, caller] })
  })

  it('null means no restriction: either side null gives the other', () => {
    expect(nestFilters(null, null)).toBeNull()
    expect(nestFilters(enforced, null)).toBe(enforced)
    const caller = parseFilter({ a: 1 })
    expect(nestFilters(null, caller)).toBe(caller)
  })

  it('an enforced none gives none whatever the caller asks, even nothing', () => {
    const none: FilterNode = { kind: 'none' }
    expect(nestFilters(none, null)).toEqual({ kind: 'none' })
    expect(nestFilters(none, parseFilter({}))).toEqual({ kind: 'none' })
    expect(nestFilters(none, parseFilter({ $or: [{}, { a: 1 }] }))).toEqual({ kind: 'none' })
  })

  it('returns a frozen node', () => {
    const combined = nestFilters(enforced, parseFilter({ a: 1 })) as FilterNode & { children: FilterNode[] }
    expect(Object.isFrozen(combined)).toBe(true)
    expect(Object.isFrozen(combined.children)).toBe(true)
  })

  for (const attempt of escapes) {
    it(`confines the caller filter ${JSON.stringify(attempt)} to the enforced tenant`, () => {
      const combined = nestFilters(enforced, parseFilter(attempt)) as FilterNode
      for (const record of population) {
        if (evaluateFilter(combined, record)) expect(evaluateFilter(enforced, record)).toBe(true)
      }
    })
  }

  it('matches exactly the records both sides match, for random enforced and caller filters', () => {
    fc.assert(
      fc.property(filterNode, filterInput, fc.array(metadata, { minLength: 1, maxLength: 10 }), (enforcedNode, input, records) => {
        const caller = parseFilter(input)
        const combined = nestFilters(enforcedNode, caller) as FilterNode
        for (const record of records) {
          expect(evaluateFilter(combined, record)).toBe(evaluateFilter(enforcedNode, record) && evaluateFilter(caller, record))
        }
      }),
      { seed: 101, numRuns: 2000 },
    )
  })

  it('never matches a record outside the enforced filter, however deep the caller nests $or and {}', () => {
    const adversarial = fc.letrec<{ f: Record<string, unknown> }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', maxDepth: 6 },
        fc.constant({}),
        fc.constant({ tenant: 'globex' }),
        fc.constant({ tenant: { $ne: 'acme' } }),
        fc.constant({ tenant: { $exists: false } }),
        fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((list) => ({ $or: list })),
        fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((list) => ({ $and: list })),
      ),
    })).f
    fc.assert(
      fc.property(adversarial, metadata, (input, record) => {
        const combined = nestFilters(enforced, parseFilter(input, { maxDepth: 20, maxClauses: 10_000 })) as FilterNode
        if (evaluateFilter(combined, record)) expect(evaluateFilter(enforced, record)).toBe(true)
      }),
      { seed: 102, numRuns: 2000 },
    )
  })
})

describe('matchesNothing', () => {
  const cases: [string, FilterNode | null, boolean][] = [
    ['null (no restriction)', null, false],
    ['all', { kind: 'all' }, false],
    ['none', { kind: 'none' }, true],
    ['$in of nothing', parseFilter({ tenant: { $in: [] } }), true],
    ['$nin of nothing', parseFilter({ tenant: { $nin: [] } }), false],
    ['AND with a deny-all child', parseFilter({ a: 1, tenant: { $in: [] } }), true],
    ['OR with one satisfiable child', parseFilter({ $or: [{ tenant: { $in: [] } }, { a: 1 }] }), false],
    ['OR of deny-all children', parseFilter({ $or: [{ tenant: { $in: [] } }, { b: { $in: [] } }] }), true],
    ['OR of no children', { kind: 'or', children: [] }, true],
    ['AND of no children', { kind: 'and', children: [] }, false],
    ['nested enforced none', nestFilters({ kind: 'none' }, parseFilter({ a: 1 })), true],
    ['nested with a deny-all enforced $in', nestFilters(parseFilter({ t: { $in: [] } }), parseFilter({})), true],
  ]
  for (const [name, node, expected] of cases) {
    it(`${expected ? 'detects' : 'does not flag'} ${name}`, () => {
      expect(matchesNothing(node)).toBe(expected)
    })
  }

  it('is never true for a filter that some record matches (soundness)', () => {
    fc.assert(
      fc.property(filterNode, fc.array(metadata, { minLength: 1, maxLength: 10 }), (node, records) => {
        if (matchesNothing(node)) for (const record of records) expect(evaluateFilter(node, record)).toBe(false)
      }),
      { seed: 103, numRuns: 3000 },
    )
  })
})
