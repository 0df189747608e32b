// the platform primitives this area added or changed: strict base64url, AEAD and HKDF agree on node and web
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { platform as nodePlatform } from '../../src/platform/node.js'
import { platform as webPlatform } from '../../src/platform/web.js'

const strict = /^[A-Za-z0-9_-]*$/

describe('platform primitives', () => {
  it('base64url decoding accepts exactly the strings the regular expression accepts, and both platforms agree on the bytes', () => {
    const alphabet = fc.constantFrom(...'ABCXYZabcxyz0189-_+/=. é\n'.split(''))
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }).map((chars) => chars.join('')), (text) => {
        const decode = (platform: typeof nodePlatform) => {
          try {
            return platform.hex(platform.base64urlDecode(text))
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError)
            return 'refused'
          }
        }
        const native = decode(nodePlatform)
        const portable = decode(webPlatform)
        const valid = strict.test(text) && text.length % 4 !== 1
        expect(native === 'refused', text).toBe(!valid)
        if (valid) expect(native).toBe(portable)
      }),
      { numRuns: 2000 },
    )
  })

  it('base64url round-trips any bytes on both platforms with the same text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = nodePlatform.base64urlEncode(bytes)
        expect(webPlatform.base64urlEncode(bytes)).toBe(text)
        expect(nodePlatform.hex(nodePlatform.base64urlDecode(text))).toBe(nodePlatform.hex(bytes))
        expect(webPlatform.hex(webPlatform.base64urlDecode(text))).toBe(nodePlatform.hex(bytes))
      }),
    )
  })

  it('HKDF agrees on both platforms for any input, including infos longer than OpenSSL accepts in one call', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 100 }), (ikm, salt, info, length) => {
        expect(nodePlatform.hex(nodePlatform.hkdfSha256(ikm, salt, info, length))).toBe(webPlatform.hex(webPlatform.hkdfSha256(ikm, salt, info, length)))
      }),
      { numRuns: 100 },
    )
  })

  it('AEAD opening returns undefined (never throws, never returns partial plaintext) on a wrong tag, AAD or short input', () => {
    for (const platform of [nodePlatform, webPlatform]) {
      for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305'] as const) {
        const key = platform.randomBytes(32)
        const nonce = platform.randomBytes(algorithm === 'aes-256-gcm' ? 12 : 24)
        const sealed = platform.aeadSeal(algorithm, key, nonce, platform.utf8Encode('hello'), new Uint8Array([1]))
        expect(platform.aeadOpen(algorithm, key, nonce, sealed, new Uint8Array([2]))).toBeUndefined()
        expect(platform.aeadOpen(algorithm, key, nonce, sealed.subarray(0, 15), new Uint8Array([1]))).toBeUndefined()
        expect(platform.utf8Decode(platform.aeadOpen(algorithm, key, nonce, sealed, new Uint8Array([1])) as Uint8Array)).toBe('hello')
      }
    }
  })
})
