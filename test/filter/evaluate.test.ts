// the reference evaluator pins the semantics of src/spec/filter.ts; the compiled evaluator must agree with it
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileFilter, evaluateFilter, parseFilter } from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Metadata } from '../../src/spec/records.js'
import { filterInput, filterNode, metadata } from './arbitraries.js'

const record: Metadata = { genre: 'drama', year: 2020, rating: 4.5, tags: ['a', 'b'], active: true, empty: [] }

// the semantics table of docs/filters.md, row by row: filter, metadata, expected
const table: [string, Record<string, unknown>, Metadata | undefined, boolean][] = [
  ['$eq matches an equal string', { genre: 'drama' }, record, true],
  ['$eq is case-sensitive', { genre: 'Drama' }, record, false],
  ['$eq never converts types (number vs string)', { year: '2020' }, record, false],
  ['$eq never converts types (boolean vs string)', { active: 'true' }, record, false],
  ['$eq on a list matches some element', { tags: 'b' }, record, true],
  ['$eq on a list with no equal element', { tags: 'c' }, record, false],
  ['$eq on a missing field never matches', { owner: 'alice' }, record, false],
  ['$eq on a record without metadata never matches', { owner: 'alice' }, undefined, false],
  ['$ne matches a different value', { genre: { $ne: 'comedy' } }, record, true],
  ['$ne matches a missing field', { owner: { $ne: 'alice' } }, record, true],
  ['$ne matches a record without metadata', { owner: { $ne: 'alice' } }, undefined, true],
  ['$ne on a list fails when some element equals', { tags: { $ne: 'a' } }, record, false],
  ['$gt on a number', { year: { $gt: 2019 } }, record, true],
  ['$gt at the bound', { year: { $gt: 2020 } }, record, false],
  ['$gte at the bound', { year: { $gte: 2020 } }, record, true],
  ['$lt on a fraction', { rating: { $lt: 5 } }, record, true],
  ['$lte at the bound', { rating: { $lte: 4.5 } }, record, true],
  ['a range on a string field never matches', { genre: { $gt: 0 } }, record, false],
  ['a range on a list field never matches', { tags: { $gte: 0 } }, record, false],
  ['a range on a boolean field never matches', { active: { $gte: 0 } }, record, false],
  ['a range on a missing field never matches', { owner: { $lt: 1e9 } }, record, false],
  ['$in matches a listed value', { genre: { $in: ['comedy', 'drama'] } }, record, true],
  ['$in on a list matches when some element is listed', { tags: { $in: ['x', 'b'] } }, record, true],
  ['$in of nothing never matches', { genre: { $in: [] } }, record, false],
  ['$in on a missing field never matches', { owner: { $in: ['alice'] } }, record, false],
  ['$nin matches an unlisted value', { genre: { $nin: ['comedy'] } }, record, true],
  ['$nin matches a missing field', { owner: { $nin: ['alice'] } }, record, true],
  ['$nin of nothing matches everything', { genre: { $nin: [] } }, record, true],
  ['$nin on a list fails when some element is listed', { tags: { $nin: ['a'] } }, record, false],
  ['$exists true on a present field', { genre: { $exists: true } }, record, true],
  ['$exists true on an empty list (present)', { empty: { $exists: true } }, record, true],
  ['$exists true on a missing field', { owner: { $exists: true } }, record, false],
  ['$exists false on a missing field', { owner: { $exists: false } }, record, true],
  ['$exists false on a present field', { genre: { $exists: false } }, record, false],
  ['$eq on an empty list never matches', { empty: '' }, record, false],
  ['an inherited property is not a field', { constructor: { $exists: true } }, record, false],
  ['an inherited property is not a value', { toString: { $ne: 'x' } }, record, true],
  ['{} matches everything', {}, undefined, true],
  ['implicit AND needs every key', { genre: 'drama', year: 2021 }, record, false],
  ['$or needs one child', { $or: [{ genre: 'x' }, { year: 2020 }] }, record, true],
]

describe('evaluateFilter semantics', () => {
  for (const [name, filter, metadataValue, expected] of table) {
    it(`${name}`, () => {
      const node = parseFilter(filter)
      expect(evaluateFilter(node, metadataValue)).toBe(expected)
      expect(compileFilter(node)(metadataValue)).toBe(expected)
    })
  }

  it('AND of no children matches all, OR of no children matches nothing, all and none do what they say', () => {
    const nodes: [FilterNode, boolean][] = [
      [{ kind: 'and', children: [] }, true],
      [{ kind: 'or', children: [] }, false],
      [{ kind: 'all' }, true],
      [{ kind: 'none' }, false],
    ]
    for (const [node, expected] of nodes) {
      expect(evaluateFilter(node, record)).toBe(expected)
      expect(compileFilter(node)(record)).toBe(expected)
    }
  })

  it('an unknown node kind matches nothing (fail closed)', () => {
    const node = { kind: 'regex', field: 'genre' } as unknown as FilterNode
    expect(evaluateFilter(node, record)).toBe(false)
    expect(compileFilter(node)(record)).toBe(false)
  })

  it('a range node holding a non-number matches nothing (fail closed)', () => {
    const node = { kind: 'cmp', field: 'genre', op: '$gt', value: 'a' } as FilterNode
    expect(evaluateFilter(node, record)).toBe(false)
    expect(compileFilter(node)(record)).toBe(false)
  })
})

describe('compileFilter agrees with evaluateFilter', () => {
  it('on random ASTs (empty groups, none, all, long $in lists) and random records', () => {
    fc.assert(
      fc.property(filterNode, fc.array(metadata, { minLength: 1, maxLength: 8 }), (node, records) => {
        const compiled = compileFilter(node)
        for (const value of records) expect(compiled(value)).toBe(evaluateFilter(node, value))
      }),
      { seed: 42, numRuns: 2000 },
    )
  })

  it('on random parsed filters and random records', () => {
    fc.assert(
      fc.property(filterInput, fc.array(metadata, { minLength: 1, maxLength: 8 }), (input, records) => {
        const node = parseFilter(input)
        const compiled = compileFilter(node)
        for (const value of records) expect(compiled(value)).toBe(evaluateFilter(node, value))
      }),
      { seed: 43, numRuns: 2000 },
    )
  })

  it('$ne is exactly the negation of $eq, and $nin of $in, on every record', () => {
    fc.assert(
      fc.property(filterNode, metadata, (node, value) => {
        if (node.kind === 'cmp' && (node.op === '$eq' || node.op === '$ne')) {
          const flipped: FilterNode = { ...node, op: node.op === '$eq' ? '$ne' : '$eq' }
          expect(evaluateFilter(flipped, value)).toBe(!evaluateFilter(node, value))
        }
        if (node.kind === 'in') {
          const flipped: FilterNode = { ...node, op: node.op === '$in' ? '$nin' : '$in' }
          expect(evaluateFilter(flipped, value)).toBe(!evaluateFilter(node, value))
        }
      }),
      { seed: 44, numRuns: 2000 },
    )
  })
})

describe('hand-built ASTs with values the parser would refuse', () => {
  it('NaN never equals NaN, in the reference and the compiled evaluator alike', () => {
    const stored = { x: Number.NaN } as unknown as Metadata
    const short: FilterNode = { kind: 'in', field: 'x', op: '$in', values: [Number.NaN] }
    const long: FilterNode = { kind: 'in', field: 'x', op: '$in', values: [1, 2, 3, 4, 5, 6, 7, 8, 9, Number.NaN] }
    const equal: FilterNode = { kind: 'cmp', field: 'x', op: '$eq', value: Number.NaN }
    for (const node of [short, long, equal]) {
      expect(evaluateFilter(node, stored)).toBe(false)
      expect(compileFilter(node)(stored)).toBe(false)
    }
  })

  it('+0 and -0 are equal in both evaluators', () => {
    const long: FilterNode = { kind: 'in', field: 'x', op: '$in', values: [1, 2, 3, 4, 5, 6, 7, 8, 9, -0] }
    expect(evaluateFilter(long, { x: 0 })).toBe(true)
    expect(compileFilter(long)({ x: 0 })).toBe(true)
  })
})
