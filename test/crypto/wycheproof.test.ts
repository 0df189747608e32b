// Wycheproof vectors (test/vectors/README.md) through the suite layer, on the native and the portable platform
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { open, SUITES, type SuiteName, seal } from '../../src/crypto/suites.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import type { Platform } from '../../src/platform/types.js'
import { platform as webPlatform } from '../../src/platform/web.js'

interface Vector {
  tcId: number
  key?: string
  iv?: string
  aad?: string
  msg?: string
  ct?: string
  tag?: string
  ikm?: string
  salt?: string
  info?: string
  size?: number
  okm?: string
  result: 'valid' | 'invalid' | 'acceptable'
}
interface Group {
  keySize?: number
  ivSize?: number
  tagSize?: number
  tests: Vector[]
}

const load = (file: string): Group[] => (JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as { testGroups: Group[] }).testGroups
const hex = (text = ''): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const platforms: [string, Platform][] = [
  ['node:crypto', nodePlatform],
  ['@noble', webPlatform],
]

function aeadCases(file: string, suite: SuiteName): Vector[] {
  // the suites use 256-bit keys, their own nonce length and 128-bit tags only
  return load(file)
    .filter((group) => group.keySize === 256 && group.ivSize === SUITES[suite].nonceLength * 8 && group.tagSize === 128)
    .flatMap((group) => group.tests)
}

describe.each(platforms)('Wycheproof through the suite layer on %s', (_name, platform) => {
  for (const [file, suite] of [
    ['aes_gcm_test.json', 'aes-256-gcm'],
    ['xchacha20_poly1305_test.json', 'xchacha20-poly1305'],
  ] as const) {
    const cases = aeadCases(file, suite)
    it(`${suite}: every valid vector seals to its ciphertext and opens to its message, every invalid one fails to open (${cases.length} vectors)`, () => {
      expect(cases.length).toBeGreaterThan(50)
      for (const vector of cases) {
        const key = hex(vector.key)
        const nonce = hex(vector.iv)
        const aad = hex(vector.aad)
        const sealed = new Uint8Array([...hex(vector.ct), ...hex(vector.tag)])
        const opened = open(platform, suite, key, nonce, sealed, aad)
        if (vector.result === 'valid') {
          expect(toHex(seal(platform, suite, key, nonce, hex(vector.msg), aad)), `tcId ${vector.tcId}`).toBe(toHex(sealed))
          expect(opened && toHex(opened), `tcId ${vector.tcId}`).toBe(vector.msg)
        } else if (vector.result === 'invalid') {
          expect(opened, `tcId ${vector.tcId}`).toBeUndefined()
        }
      }
    })
  }

  it('HKDF-SHA256: every valid vector derives its output key material', () => {
    const cases = load('hkdf_sha256_test.json').flatMap((group) => group.tests)
    let checked = 0
    for (const vector of cases) {
      const size = vector.size as number
      if (vector.result !== 'valid') {
        // invalid vectors ask for more than 255 blocks: the platform must refuse rather than truncate
        expect(() => platform.hkdfSha256(hex(vector.ikm), hex(vector.salt), hex(vector.info), size), `tcId ${vector.tcId}`).toThrow(TypeError)
        continue
      }
      expect(toHex(platform.hkdfSha256(hex(vector.ikm), hex(vector.salt), hex(vector.info), size)), `tcId ${vector.tcId}`).toBe(vector.okm)
      checked++
    }
    expect(checked).toBeGreaterThan(50)
  })

  it('HMAC-SHA256: every valid vector gives its tag (truncated where the group says) and invalid ones do not', () => {
    let checked = 0
    for (const group of load('hmac_sha256_test.json')) {
      const bytes = (group.tagSize as number) / 8
      for (const vector of group.tests) {
        const tag = toHex(platform.hmacSha256(hex(vector.key), hex(vector.msg)).slice(0, bytes))
        if (vector.result === 'valid') expect(tag, `tcId ${vector.tcId}`).toBe(vector.tag)
        else expect(tag, `tcId ${vector.tcId}`).not.toBe(vector.tag)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(100)
  })
})

describe('cross-platform AEAD', () => {
  it('each platform opens what the other sealed, for both suites, with identical bytes', () => {
    for (const suite of ['aes-256-gcm', 'xchacha20-poly1305'] as const) {
      for (let length = 0; length < 300; length += 37) {
        const key = nodePlatform.randomBytes(32)
        const nonce = nodePlatform.randomBytes(SUITES[suite].nonceLength)
        const aad = nodePlatform.randomBytes(length % 50)
        const message = nodePlatform.randomBytes(length)
        const fromNode = seal(nodePlatform, suite, key, nonce, message, aad)
        const fromWeb = seal(webPlatform, suite, key, nonce, message, aad)
        expect(toHex(fromNode)).toBe(toHex(fromWeb))
        expect(toHex(open(webPlatform, suite, key, nonce, fromNode, aad) as Uint8Array)).toBe(toHex(message))
        expect(toHex(open(nodePlatform, suite, key, nonce, fromWeb, aad) as Uint8Array)).toBe(toHex(message))
      }
    }
  })

  it('rejects keys and nonces of the wrong length with a TypeError on both platforms', () => {
    for (const platform of [nodePlatform, webPlatform]) {
      expect(() => platform.aeadSeal('aes-256-gcm', new Uint8Array(16), new Uint8Array(12), new Uint8Array(1), new Uint8Array(0))).toThrow(TypeError)
      expect(() => platform.aeadSeal('xchacha20-poly1305', new Uint8Array(32), new Uint8Array(12), new Uint8Array(1), new Uint8Array(0))).toThrow(TypeError)
    }
  })
})
