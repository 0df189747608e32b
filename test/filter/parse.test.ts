// the filter parser: what it accepts, what AST it builds, and where it points when it rejects
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { evaluateFilter, filterToInput, parseFilter } from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import { filterInput } from './arbitraries.js'

function rejectionOf(input: unknown, options?: Parameters<typeof parseFilter>[1]): InputError {
  try {
    parseFilter(input, options)
  } catch (error) {
    if (InputError.isInstance(error)) return error
    throw error
  }
  throw new Error('expected the filter to be rejected')
}

function deepFrozen(node: FilterNode): boolean {
  if (!Object.isFrozen(node)) return false
  if (node.kind === 'and' || node.kind === 'or') return Object.isFrozen(node.children) && node.children.every(deepFrozen)
  if (node.kind === 'in') return Object.isFrozen(node.values)
  return true
}

describe('parseFilter: accepted inputs', () => {
  const corpus: { input: Record<string, unknown>; ast: FilterNode }[] = [
    { input: {}, ast: { kind: 'all' } },
    { input: { genre: 'drama' }, ast: { kind: 'cmp', field: 'genre', op: '$eq', value: 'drama' } },
    { input: { n: 0 }, ast: { kind: 'cmp', field: 'n', op: '$eq', value: 0 } },
    { input: { ok: false }, ast: { kind: 'cmp', field: 'ok', op: '$eq', value: false } },
    { input: { year: { $ne: 2020 } }, ast: { kind: 'cmp', field: 'year', op: '$ne', value: 2020 } },
    { input: { price: { $gt: -1.5 } }, ast: { kind: 'cmp', field: 'price', op: '$gt', value: -1.5 } },
    { input: { tags: { $in: ['a', 1, true] } }, ast: { kind: 'in', field: 'tags', op: '$in', values: ['a', 1, true] } },
    { input: { tags: { $in: [] } }, ast: { kind: 'in', field: 'tags', op: '$in', values: [] } },
    { input: { tags: { $nin: ['x'] } }, ast: { kind: 'in', field: 'tags', op: '$nin', values: ['x'] } },
    { input: { owner: { $exists: false } }, ast: { kind: 'exists', field: 'owner', value: false } },
    {
      input: { year: { $gte: 2020, $lt: 2024 } },
      ast: {
        kind: 'and',
        children: [
          { kind: 'cmp', field: 'year', op: '$gte', value: 2020 },
          { kind: 'cmp', field: 'year', op: '$lt', value: 2024 },
        ],
      },
    },
    {
      input: { a: 1, $or: [{ b: 2 }, { c: { $exists: true } }] },
      ast: {
        kind: 'and',
        children: [
          { kind: 'cmp', field: 'a', op: '$eq', value: 1 },
          {
            kind: 'or',
            children: [
              { kind: 'cmp', field: 'b', op: '$eq', value: 2 },
              { kind: 'exists', field: 'c', value: true },
            ],
          },
        ],
      },
    },
    { input: { $and: [{}] }, ast: { kind: 'and', children: [{ kind: 'all' }] } },
    // mem0 #5744: this string matched every record when spliced into a query; here it is only a field name
    { input: { '") or true or ("': 'x' }, ast: { kind: 'cmp', field: '") or true or ("', op: '$eq', value: 'x' } },
    { input: { "' OR 1=1 --": 1 }, ast: { kind: 'cmp', field: "' OR 1=1 --", op: '$eq', value: 1 } },
    { input: { __proto__field: 'x' }, ast: { kind: 'cmp', field: '__proto__field', op: '$eq', value: 'x' } },
    { input: { 'a$b': 'x' }, ast: { kind: 'cmp', field: 'a$b', op: '$eq', value: 'x' } },
    { input: { 'ünïcødé 名前': 'x' }, ast: { kind: 'cmp', field: 'ünïcødé 名前', op: '$eq', value: 'x' } },
    { input: { x: '$or' }, ast: { kind: 'cmp', field: 'x', op: '$eq', value: '$or' } },
  ]
  for (const { input, ast } of corpus) {
    it(`parses ${JSON.stringify(input)} into the expected AST`, () => {
      expect(parseFilter(input)).toEqual(ast)
    })
  }

  it('an injection-shaped field name is a literal field: it matches only records that have that exact field', () => {
    const node = parseFilter({ '") or true or ("': 'x' })
    expect(evaluateFilter(node, { tenant: 'acme' })).toBe(false)
    expect(evaluateFilter(node, { '") or true or ("': 'x' })).toBe(true)
  })

  it('injection-shaped values and backend keywords as field names are literals, never syntax', () => {
    const valueInjection = parseFilter({ tenant: "acme' OR '1'='1" })
    expect(evaluateFilter(valueInjection, { tenant: 'acme' })).toBe(false)
    expect(evaluateFilter(valueInjection, { tenant: 'globex' })).toBe(false)
    // Qdrant and Mongo keywords without a $ are plain field names here
    for (const keyword of ['should', 'must', 'must_not', 'where', 'or', 'OR']) {
      expect(parseFilter({ [keyword]: 'x' })).toEqual({ kind: 'cmp', field: keyword, op: '$eq', value: 'x' })
    }
    // a Qdrant-shaped clause list is not a filter here: an array is not a value
    expect(rejectionOf({ should: [{ tenant: 'globex' }] }).path).toBe('filter.should')
  })

  it('a JSON-parsed "__proto__" key is an ordinary field name, not the prototype', () => {
    const node = parseFilter(JSON.parse('{"__proto__": "x"}'))
    expect(node).toEqual({ kind: 'cmp', field: '__proto__', op: '$eq', value: 'x' })
    expect(evaluateFilter(node, {})).toBe(false)
    expect(evaluateFilter(node, JSON.parse('{"__proto__": "x"}'))).toBe(true)
  })

  it('accepts objects without a prototype', () => {
    const input = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })
    expect(parseFilter(input)).toEqual({ kind: 'cmp', field: 'a', op: '$eq', value: 1 })
  })

  it('returns a deeply frozen AST, so nobody can widen a shared filter by mutating it', () => {
    fc.assert(
      fc.property(filterInput, (input) => {
        expect(deepFrozen(parseFilter(input))).toBe(true)
      }),
      { seed: 7, numRuns: 300 },
    )
  })

  it('parse after filterToInput gives back the same AST', () => {
    fc.assert(
      fc.property(filterInput, (input) => {
        const node = parseFilter(input)
        expect(parseFilter(filterToInput(node), { maxDepth: 40 })).toEqual(node)
      }),
      { seed: 11, numRuns: 500 },
    )
  })

  it('does not depend on the input after parsing (later mutation of the input changes nothing)', () => {
    const values = ['a', 'b']
    const input = { tags: { $in: values } }
    const node = parseFilter(input)
    values.push('c')
    ;(input.tags as { $in: unknown }).$in = ['z']
    expect(node).toEqual({ kind: 'in', field: 'tags', op: '$in', values: ['a', 'b'] })
  })
})

describe('parseFilter: rejected inputs say what and where', () => {
  const corpus: { name: string; input: unknown; path: string; message: RegExp; options?: Parameters<typeof parseFilter>[1] }[] = [
    { name: 'a non-object filter', input: 'tenant = acme', path: 'filter', message: /object/ },
    { name: 'null', input: null, path: 'filter', message: /object/ },
    { name: 'an array filter', input: [{ a: 1 }], path: 'filter', message: /object/ },
    { name: 'a class instance', input: new Date(0), path: 'filter', message: /object/ },
    { name: 'an unknown top-level operator', input: { $where: 'x' }, path: 'filter.$where', message: /unknown operator/ },
    { name: 'a field operator at the top level', input: { $eq: 1 }, path: 'filter.$eq', message: /inside a field/ },
    { name: 'an unknown field operator', input: { a: { $regex: '.*' } }, path: 'filter.a.$regex', message: /unknown operator/ },
    { name: '$or inside a field', input: { a: { $or: [1] } }, path: 'filter.a.$or', message: /level of fields/ },
    { name: 'a range on a string', input: { price: { $gt: 'cheap' } }, path: 'filter.price.$gt', message: /\$gt takes a finite number/ },
    { name: 'a range on a boolean', input: { price: { $lte: true } }, path: 'filter.price.$lte', message: /\$lte/ },
    { name: 'NaN', input: { a: { $eq: Number.NaN } }, path: 'filter.a.$eq', message: /NaN/ },
    { name: 'Infinity', input: { a: Number.POSITIVE_INFINITY }, path: 'filter.a', message: /non-finite/ },
    { name: 'a range on Infinity', input: { a: { $lt: Number.NEGATIVE_INFINITY } }, path: 'filter.a.$lt', message: /finite/ },
    { name: 'null as a value', input: { a: null }, path: 'filter.a', message: /null/ },
    { name: 'null under $ne', input: { a: { $ne: null } }, path: 'filter.a.$ne', message: /null/ },
    { name: 'an array as a value', input: { a: ['x'] }, path: 'filter.a', message: /use \$in/ },
    { name: 'a nested object under $eq', input: { a: { $eq: { $gt: 1 } } }, path: 'filter.a.$eq', message: /object/ },
    { name: 'an empty operator object', input: { a: {} }, path: 'filter.a', message: /no operator/ },
    { name: '$in of a scalar', input: { a: { $in: 'x' } }, path: 'filter.a.$in', message: /array/ },
    { name: '$in holding an object', input: { a: { $in: ['x', { y: 1 }] } }, path: 'filter.a.$in[1]', message: /\$in takes/ },
    { name: '$nin holding null', input: { a: { $nin: [null] } }, path: 'filter.a.$nin[0]', message: /null/ },
    { name: '$exists of a string', input: { a: { $exists: 'yes' } }, path: 'filter.a.$exists', message: /boolean/ },
    { name: 'an empty $and', input: { $and: [] }, path: 'filter.$and', message: /non-empty/ },
    { name: 'an empty $or', input: { $or: [] }, path: 'filter.$or', message: /non-empty/ },
    { name: '$or of an object', input: { $or: { a: 1 } }, path: 'filter.$or', message: /array/ },
    { name: '$or holding a string', input: { $or: [{ a: 1 }, 'b'] }, path: 'filter.$or[1]', message: /object/ },
    { name: 'a deep error', input: { $or: [{ a: 1 }, { $and: [{ price: { $gt: 'x' } }] }] }, path: 'filter.$or[1].$and[0].price.$gt', message: /\$gt/ },
    { name: 'an empty field name', input: { '': 1 }, path: 'filter[""]', message: /empty/ },
    { name: 'a field name with a dot', input: { 'a.b': 1 }, path: 'filter["a.b"]', message: /"\."/ },
    { name: 'a field name with a bracket', input: { 'a[0]': 1 }, path: 'filter["a[0]"]', message: /"\["/ },
    { name: 'a field name with a closing bracket', input: { 'a]': 1 }, path: 'filter["a]"]', message: /"\]"/ },
    { name: 'a field name with a newline', input: { 'a\nb': 1 }, path: 'filter["a\\nb"]', message: /control/ },
    { name: 'a field name with a NUL', input: { 'a\u0000': 1 }, path: 'filter["a\\u0000"]', message: /control/ },
    { name: 'a field name starting with $', input: { $tenant: 1 }, path: 'filter.$tenant', message: /unknown operator/ },
    { name: 'a field name longer than 256', input: { ['x'.repeat(257)]: 1 }, path: `filter[${JSON.stringify(`${'x'.repeat(64)}…`)}]`, message: /256/ },
    { name: 'a path prefix from the options', input: { a: { $gt: 'x' } }, path: 'request.filter.a.$gt', message: /\$gt/, options: { path: 'request.filter' } },
    { name: 'too deep', input: { $or: [{ $or: [{ $or: [{ a: 1 }] }] }] }, path: 'filter.$or[0].$or[0].$or[0]', message: /deeper than 3/, options: { maxDepth: 3 } },
    { name: 'too many clauses', input: { a: 1, b: 2, c: 3, d: 4 }, path: 'filter.d', message: /more than 3 clauses/, options: { maxClauses: 3 } },
    { name: 'too many values', input: { a: { $in: [1, 2, 3] } }, path: 'filter.a.$in', message: /more than 2 values/, options: { maxValues: 2 } },
  ]
  for (const { name, input, path, message, options } of corpus) {
    it(`rejects ${name} with InputError at ${path}`, () => {
      const error = rejectionOf(input, options)
      expect(error.path).toBe(path)
      expect(error.message).toMatch(message)
      expect(error.reason).toBe('invalid_filter')
      expect(error.code).toBe('ERR_INPUT')
    })
  }

  it('allows depth 10 and rejects depth 11 by default', () => {
    const nest = (depth: number): Record<string, unknown> => (depth === 1 ? { a: 1 } : { $and: [nest(depth - 1)] })
    expect(() => parseFilter(nest(10))).not.toThrow()
    expect(rejectionOf(nest(11)).message).toMatch(/deeper than 10/)
  })

  it('rejects a 100 000-deep filter without exhausting the stack', () => {
    let input: Record<string, unknown> = { a: 1 }
    for (let depth = 0; depth < 100_000; depth++) input = { $or: [input] }
    expect(rejectionOf(input).message).toMatch(/deeper than 10/)
  })

  it('rejects a million-value $in before looking at its values', () => {
    const values = new Array(1_000_000).fill({ not: 'a scalar' })
    expect(rejectionOf({ a: { $in: values } }).message).toMatch(/more than 1024 values/)
  })

  it('rejects more than 256 clauses by default', () => {
    const input = Object.fromEntries(Array.from({ length: 257 }, (_, index) => [`f${index}`, index]))
    expect(rejectionOf(input).message).toMatch(/more than 256 clauses/)
    expect(() => parseFilter(Object.fromEntries(Array.from({ length: 200 }, (_, index) => [`f${index}`, index])))).not.toThrow()
  })

  it('rejects a wide $or that exceeds the clause limit', () => {
    expect(rejectionOf({ $or: Array.from({ length: 300 }, () => ({ a: 1 })) }).message).toMatch(/clauses/)
  })

  it('rejects symbol keys', () => {
    expect(rejectionOf({ [Symbol('x')]: 1, a: 1 }).path).toBe('filter')
  })

  it('error messages never contain the values of the filter', () => {
    const secret = 'SSN-123-45-6789'
    const inputs: unknown[] = [
      { a: { $gt: secret } },
      { a: { $in: [secret, { x: secret }] } },
      { a: { $exists: secret } },
      { a: { $eq: [secret] } },
      { a: [secret] },
      { $or: [{ a: secret }, secret] },
      { a: { $eq: secret, $unknown: secret } },
    ]
    for (const input of inputs) {
      const error = rejectionOf(input)
      expect(error.message).not.toContain(secret)
      expect(error.path).not.toContain(secret)
      expect(JSON.stringify(error)).not.toContain(secret)
    }
  })

  it('wrong option types throw TypeError', () => {
    expect(() => parseFilter({}, { maxDepth: -1 })).toThrow(TypeError)
    expect(() => parseFilter({}, { maxClauses: 1.5 })).toThrow(TypeError)
    expect(() => parseFilter({}, { unknown: 1 } as never)).toThrow(TypeError)
  })

  it('any input either parses or throws InputError, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (input) => {
        try {
          parseFilter(input)
        } catch (error) {
          expect(InputError.isInstance(error)).toBe(true)
        }
      }),
      { seed: 3, numRuns: 1000 },
    )
  })
})

describe('parseFilter: hostile objects', () => {
  it('a getter that throws becomes an InputError that does not quote the thrown message', () => {
    const input = {
      get tenant(): string {
        throw new Error('secret-from-getter')
      },
    }
    const error = rejectionOf(input)
    expect(error.path).toBe('filter')
    expect(error.message).not.toContain('secret-from-getter')
  })

  it('a proxy is read like the object it stands for, once per key', () => {
    let reads = 0
    const input = new Proxy({ tenant: 'acme' } as Record<string, unknown>, {
      get(target, key) {
        reads += 1
        return target[key as string]
      },
    })
    expect(parseFilter(input)).toEqual({ kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' })
    expect(reads).toBe(1)
  })
})
