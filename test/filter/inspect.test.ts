// reading filters: fields, operators, the positive-allow-list check, canonical strings, back to JSON
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import {
  assertPositiveFilter,
  canonicalFilter,
  evaluateFilter,
  filterFields,
  filterOperators,
  filterToInput,
  parseFilter,
} from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import { filterInput, filterNode, metadata } from './arbitraries.js'

describe('filterFields and filterOperators', () => {
  it('name every field and operator at any depth', () => {
    const node = parseFilter({ a: 1, b: { $gte: 1, $lt: 2 }, $or: [{ c: { $in: [1] } }, { $and: [{ d: { $exists: true } }, { e: { $ne: 1 } }] }] })
    expect(filterFields(node)).toEqual(new Set(['a', 'b', 'c', 'd', 'e']))
    expect(filterOperators(node)).toEqual(new Set(['$and', '$eq', '$gte', '$lt', '$or', '$in', '$exists', '$ne']))
  })

  it('an empty filter names no field and no operator', () => {
    expect(filterFields(parseFilter({})).size).toBe(0)
    expect(filterOperators(parseFilter({})).size).toBe(0)
  })

  it('every field whose value changes the outcome is named (a record differing only in unnamed fields evaluates the same)', () => {
    fc.assert(
      fc.property(filterNode, metadata, metadata, (node, left, right) => {
        const fields = filterFields(node)
        // take the named fields from `left` and everything else from `right`
        const mixed = Object.fromEntries([
          ...Object.entries(right ?? {}).filter(([field]) => !fields.has(field)),
          ...Object.entries(left ?? {}).filter(([field]) => fields.has(field)),
        ])
        const onlyNamed = Object.fromEntries(Object.entries(left ?? {}).filter(([field]) => fields.has(field)))
        expect(evaluateFilter(node, mixed)).toBe(evaluateFilter(node, onlyNamed))
      }),
      { seed: 201, numRuns: 1000 },
    )
  })
})

describe('assertPositiveFilter', () => {
  const negatives: [string, Record<string, unknown>][] = [
    ['$ne', { tenant: { $ne: 'evil' } }],
    ['$nin', { tenant: { $nin: ['evil'] } }],
    ['$exists: false', { tenant: { $exists: false } }],
    ['a nested $ne', { $or: [{ tenant: 'acme' }, { $and: [{ owner: { $ne: 'x' } }] }] }],
  ]
  for (const [name, input] of negatives) {
    it(`rejects ${name} with ConfigError naming where it is`, () => {
      let caught: unknown
      try {
        assertPositiveFilter(parseFilter(input), 'role "reader" rowFilter')
      } catch (error) {
        caught = error
      }
      expect(ConfigError.isInstance(caught)).toBe(true)
      expect((caught as ConfigError).message).toContain('role "reader" rowFilter')
      expect((caught as ConfigError).reason).toBe('negative_enforced_filter')
    })
  }

  it('accepts $eq, $in, ranges, $exists: true, $and, $or', () => {
    const node = parseFilter({ tenant: { $in: ['a'] }, level: { $lte: 3 }, owner: { $exists: true }, $or: [{ a: 1 }, { b: 2 }] })
    expect(() => assertPositiveFilter(node, 'rowFilter')).not.toThrow()
  })

  it('a filter it accepts never matches a record that lacks all the fields it names, unless it matches everything', () => {
    fc.assert(
      fc.property(filterNode, (node) => {
        try {
          assertPositiveFilter(node, 'x')
        } catch {
          return
        }
        if (filterFields(node).size > 0 && evaluateFilter(node, {})) {
          // only all / empty-and branches can match the empty record; they name no field of the matching branch
          const matchingAll = (n: FilterNode): boolean =>
            n.kind === 'all' || (n.kind === 'and' && n.children.every(matchingAll)) || (n.kind === 'or' && n.children.some(matchingAll))
          expect(matchingAll(node)).toBe(true)
        }
      }),
      { seed: 202, numRuns: 2000 },
    )
  })
})

describe('canonicalFilter', () => {
  it('gives the same string for the same AST, and different strings for different ASTs', () => {
    fc.assert(
      fc.property(filterNode, filterNode, (left, right) => {
        const same = JSON.stringify(left) === JSON.stringify(right)
        expect(canonicalFilter(left) === canonicalFilter(right)).toBe(same)
        expect(canonicalFilter(structuredClone(left))).toBe(canonicalFilter(left))
      }),
      { seed: 301, numRuns: 2000 },
    )
  })

  it('is valid JSON with a fixed key order, and null for no filter', () => {
    expect(canonicalFilter(null)).toBe('null')
    expect(canonicalFilter(parseFilter({ tenant: 'acme' }))).toBe('{"kind":"cmp","field":"tenant","op":"$eq","value":"acme"}')
    fc.assert(
      fc.property(filterNode, (node) => {
        expect(JSON.parse(canonicalFilter(node))).toEqual(node)
      }),
      { seed: 302, numRuns: 500 },
    )
  })

  it('does not depend on the key order of the nodes', () => {
    const a: FilterNode = { kind: 'cmp', field: 'x', op: '$eq', value: 1 }
    const b = { value: 1, op: '$eq', field: 'x', kind: 'cmp' } as FilterNode
    expect(canonicalFilter(a)).toBe(canonicalFilter(b))
  })
})

describe('filterToInput', () => {
  it('round-trips: the parsed JSON form matches exactly the records the AST matches', () => {
    fc.assert(
      fc.property(filterNode, fc.array(metadata, { minLength: 1, maxLength: 8 }), (node, records) => {
        const reparsed = parseFilter(filterToInput(node), { maxDepth: 40, maxClauses: 10_000 })
        for (const record of records) expect(evaluateFilter(reparsed, record)).toBe(evaluateFilter(node, record))
      }),
      { seed: 401, numRuns: 2000 },
    )
  })

  it('round-trips parsed filters to the identical AST', () => {
    fc.assert(
      fc.property(filterInput, (input) => {
        const node = parseFilter(input)
        expect(parseFilter(filterToInput(node), { maxDepth: 40 })).toEqual(node)
      }),
      { seed: 402, numRuns: 1000 },
    )
  })

  it('writes every comparison in explicit operator form', () => {
    expect(filterToInput(parseFilter({ genre: 'drama' }))).toEqual({ genre: { $eq: 'drama' } })
    expect(filterToInput({ kind: 'none' })).toEqual({ __vectorwarden_none: { $in: [] } })
    expect(filterToInput({ kind: 'or', children: [] })).toEqual({ __vectorwarden_none: { $in: [] } })
    expect(filterToInput({ kind: 'and', children: [] })).toEqual({})
  })
})
