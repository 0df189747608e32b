import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { VerifiedTokenCache } from '../../src/auth/_token-cache.js'

describe('VerifiedTokenCache', () => {
  it('keys a token by its SHA-256 (hex), whatever its characters or length (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ minLength: 16_000, maxLength: 17_000 })), (token) => {
        expect(VerifiedTokenCache.keyOf(token)).toBe(createHash('sha256').update(token, 'utf8').digest('hex'))
      }),
      { numRuns: 200 },
    )
  })

  it('never uses the token itself as the key', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl'
    const key = VerifiedTokenCache.keyOf(token)
    expect(key).not.toContain('c2lnbmF0dXJl')
    expect(key).toHaveLength(64)
  })

  it('serves an entry until validUntil and never after', () => {
    const cache = new VerifiedTokenCache<string>(10)
    cache.set('k', 'v', 1000)
    expect(cache.get('k', 999)).toBe('v')
    expect(cache.get('k', 1000)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('holds at most maxEntries, dropping the oldest first (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 60 }), (max, keys) => {
        const cache = new VerifiedTokenCache<number>(max)
        for (const [index, key] of keys.entries()) cache.set(key, index, Number.POSITIVE_INFINITY)
        expect(cache.size).toBeLessThanOrEqual(max)
        const last = keys.at(-1)
        if (last !== undefined) expect(cache.get(last, 0)).toBe(keys.lastIndexOf(last))
      }),
    )
  })

  it('stores nothing when sized 0', () => {
    const cache = new VerifiedTokenCache<string>(0)
    cache.set('k', 'v', Number.POSITIVE_INFINITY)
    expect(cache.get('k', 0)).toBeUndefined()
  })
})
