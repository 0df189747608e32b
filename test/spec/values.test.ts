// the value guards the pipeline and the field protector share
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isJsonValue, isMetadataValue } from '../../src/spec/values.js'

const nest = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: [nest(depth - 1)] })

describe('isMetadataValue', () => {
  it('accepts strings, finite numbers, booleans and arrays of strings, and nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.array(fc.string()), fc.constant(null), fc.constant(undefined), fc.array(fc.oneof(fc.string(), fc.integer()), { minLength: 1 }), fc.object()), (value) => {
        const expected =
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          (typeof value === 'number' && Number.isFinite(value)) ||
          (Array.isArray(value) && value.every((element) => typeof element === 'string'))
        expect(isMetadataValue(value)).toBe(expected)
      }),
    )
    expect(isMetadataValue({ 0: 'team-a', length: 1 })).toBe(false)
  })
})

describe('isJsonValue', () => {
  it('accepts what survives a JSON round trip with its type', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        // fc.jsonValue yields -0, which JSON turns into 0; that is a number either way
        expect(isJsonValue(value)).toBe(true)
      }),
    )
  })

  it('refuses non-finite numbers, class instances, functions, undefined and structures nested deeper than 32 levels', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, new Date(), new Map(), () => 1, undefined, { a: undefined }, [1n]]) expect(isJsonValue(value)).toBe(false)
    expect(isJsonValue(nest(16))).toBe(true)
    expect(isJsonValue(nest(17))).toBe(false)
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    expect(isJsonValue(cyclic)).toBe(false)
    expect(isJsonValue(Object.create(null))).toBe(true)
  })
})
