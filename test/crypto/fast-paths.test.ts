// the hot-path shortcuts agree with the plain definitions: midstate HMAC, direct MAC writing, string plaintexts, platform additions
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BLIND_INDEX_PREFIX, blindIndexer, blindIndexPrefix } from '../../src/crypto/blind-index.js'
import { writeLength, writeText } from '../../src/crypto/bytes.js'
import { ENVELOPE_PREFIX } from '../../src/crypto/envelope.js'
import { decodeMacTag, encodeMacText, envelopeDigest, RECORD_MAC_FIELD, recordMacInput, recordMacSuffix, writeMacSuffix } from '../../src/crypto/record-mac.js'
import { PrefixedHmac, padToBlock } from '../../src/crypto/sha256.js'
import type { Platform } from '../../src/platform/index.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import { platform as webPlatform } from '../../src/platform/web.js'
import type { PlainRecord } from '../../src/spec/protection.js'
import type { Metadata } from '../../src/spec/records.js'
import { context, newKeyring, newProtector, readContext } from './helpers.js'

const platforms: readonly [string, Platform][] = [
  ['node', nodePlatform],
  ['web', webPlatform],
]

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max })

describe('PrefixedHmac (JavaScript HMAC-SHA256 from a cached midstate)', () => {
  for (const [name, platform] of platforms) {
    it(`equals HMAC-SHA256(key, pad64(prefix) ‖ data) of the ${name} platform for any key ≤ 64 bytes, prefix and data`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), bytes(200), bytes(300), (key, prefix, data) => {
          const padded = padToBlock(prefix)
          const expected = platform.hmacSha256(key, concat(padded, data))
          expect(platform.hex(new PrefixedHmac(key, padded).mac(data))).toBe(platform.hex(expected))
        }),
        { numRuns: 300 },
      )
    })
  }

  it('covers every padding case: data lengths 0..200 around the 55/56/64-byte block boundaries', () => {
    const key = nodePlatform.randomBytes(32)
    const prefix = padToBlock(nodePlatform.randomBytes(70))
    const hmac = new PrefixedHmac(key, prefix)
    for (let length = 0; length <= 200; length++) {
      const data = nodePlatform.randomBytes(length)
      expect(nodePlatform.hex(hmac.mac(data))).toBe(nodePlatform.hex(nodePlatform.hmacSha256(key, concat(prefix, data))))
    }
  })

  it('reads only the given length and writes into the given output', () => {
    const key = nodePlatform.randomBytes(32)
    const hmac = new PrefixedHmac(key, new Uint8Array(64))
    const data = nodePlatform.randomBytes(100)
    const out = new Uint8Array(40)
    hmac.mac(data, 60, out, 8)
    expect(nodePlatform.hex(out.subarray(8))).toBe(nodePlatform.hex(nodePlatform.hmacSha256(key, concat(new Uint8Array(64), data.subarray(0, 60)))))
  })

  it('refuses a key longer than a block and a prefix that is not block-aligned (TypeError)', () => {
    expect(() => new PrefixedHmac(new Uint8Array(65), new Uint8Array(64))).toThrow(TypeError)
    expect(() => new PrefixedHmac(new Uint8Array(32), new Uint8Array(63))).toThrow(TypeError)
  })
})

describe('blind-index tokens', () => {
  it('equal the documented construction computed with each platform HMAC, for any scalar, on both platforms alike', () => {
    const key = nodePlatform.randomBytes(32)
    const scalar = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean())
    fc.assert(
      fc.property(scalar, fc.integer({ min: 8, max: 64 }), (value, bits) => {
        const typed = typeof value === 'string' ? `s${value}` : typeof value === 'number' ? `n${String(value === 0 ? 0 : value)}` : value ? 'b1' : 'b0'
        const length = Math.ceil(bits / 8)
        for (const [, platform] of platforms) {
          const text = platform.utf8Encode(typed)
          const frame = new Uint8Array(4 + text.length)
          new DataView(frame.buffer).setUint32(0, text.length)
          frame.set(text, 4)
          const mac = platform.hmacSha256(key, concat(blindIndexPrefix(platform, 'docs', 'email'), frame)).slice(0, length)
          mac[length - 1] = (mac[length - 1] as number) & ((0xff << (length * 8 - bits)) & 0xff)
          expect(blindIndexer(platform, key, 'k1', 'docs', 'email', bits)(value)).toBe(`k1.${platform.base64urlEncode(mac)}`)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('are the same whether the protector runs on node or on the portable platform', async () => {
    const keyring = newKeyring()
    const node = newProtector({ keyring })
    const web = newProtector({ keyring, platform: webPlatform })
    const record = { id: 'doc-1', vector: [1, 0], metadata: { tenant: 'acme', email: 'ådå@example.com', ssn: 12 } }
    const [fromNode] = await node.protect([record], context())
    const [fromWeb] = await web.protect([record], context())
    expect(fromNode?.metadata?.[`${BLIND_INDEX_PREFIX}email`]).toBe(fromWeb?.metadata?.[`${BLIND_INDEX_PREFIX}email`])
    expect(fromNode?.metadata?.[`${BLIND_INDEX_PREFIX}ssn`]).toBe(fromWeb?.metadata?.[`${BLIND_INDEX_PREFIX}ssn`])
  })
})

describe('record MAC input', () => {
  const clearValue = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.array(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), { maxLength: 4 }),
    fc.string({ minLength: 24, maxLength: 40 }).map((text) => `${ENVELOPE_PREFIX}${text}`),
  )

  it('written directly as bytes equals the encoded text form whenever the direct writer takes it, in both versions', () => {
    const small = new Uint8Array(64)
    const large = new Uint8Array(4096)
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const),
        fc.string({ unit: 'binary' }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), clearValue, { maxKeys: 5 }),
        fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 6 }),
        (version, recordId, metadata, extra) => {
          const fields = [...new Set([...Object.keys(metadata), ...extra])].sort()
          const reference = encodeMacText(nodePlatform, recordMacSuffix(nodePlatform, version, recordId, fields, metadata as Metadata))
          const digest = version === 2 ? envelopeDigest(nodePlatform, fields, metadata as Metadata) : ''
          for (const out of [small, large]) {
            const length = writeMacSuffix(out, version, recordId, fields, metadata as Metadata, digest)
            if (length >= 0) expect(nodePlatform.hex(out.subarray(0, length))).toBe(nodePlatform.hex(reference))
          }
          // the direct writer takes every all-ASCII input that fits
          if (reference[0] !== 0xff && reference.every((byte) => byte < 0x80) && reference.length <= large.length) {
            expect(writeMacSuffix(large, version, recordId, fields, metadata as Metadata, digest)).toBe(reference.length)
          }
          // the digest is the same on both platforms
          expect(envelopeDigest(webPlatform, fields, metadata as Metadata)).toBe(envelopeDigest(nodePlatform, fields, metadata as Metadata))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('binds every character of every envelope in version 2, and only the last 24 in version 1', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 30, maxLength: 60 }), fc.nat(), (body, pick) => {
        const envelope = `${ENVELOPE_PREFIX}${body}`
        const at = ENVELOPE_PREFIX.length + (pick % body.length)
        const changed = envelope.slice(0, at) + (envelope[at] === 'A' ? 'B' : 'A') + envelope.slice(at + 1)
        const fields = ['email', 'tenant']
        const text = (version: 1 | 2, value: string) => recordMacSuffix(nodePlatform, version, 'doc-1', fields, { email: value, tenant: 'acme' })
        expect(text(2, changed)).not.toBe(text(2, envelope))
        if (at < envelope.length - 24) expect(text(1, changed)).toBe(text(1, envelope))
        // and which field an envelope is in: two envelopes swapped between fields change the text
        const other = `${ENVELOPE_PREFIX}${body.split('').reverse().join('')}`
        if (other !== envelope) {
          const two = ['a', 'b']
          expect(recordMacSuffix(nodePlatform, 2, 'doc-1', two, { a: envelope, b: other })).not.toBe(recordMacSuffix(nodePlatform, 2, 'doc-1', two, { a: other, b: envelope }))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('protects and verifies records whose signed fields hold non-ASCII text, lone surrogates and long lists, on both platforms', async () => {
    const keyring = newKeyring()
    const node = newProtector({ keyring })
    const web = newProtector({ keyring, platform: webPlatform })
    const records: PlainRecord[] = [
      { id: 'dóc-1', vector: [1, 0], metadata: { tenant: 'acme', acl: ['grüppe', 'b\uD800'], email: 'a@b.c' } },
      { id: 'doc-2', vector: [1, 0], metadata: { tenant: 'acme', acl: Array.from({ length: 60 }, (_, i) => `group-${i}`), body: 'x' } },
      { id: 'doc-3', vector: [1, 0], metadata: { tenant: 'acme', acl: ['a'], email: 'e', body: { nested: [1, 'two'] } } },
    ]
    for (const [writer, reader] of [
      [node, web],
      [web, node],
      [node, node],
    ] as const) {
      const stored = await writer.protect(records, context())
      const opened = await reader.unprotect(stored, readContext())
      expect(opened.failures).toEqual([])
      expect(opened.records.map((record) => record.metadata)).toEqual(records.map((record) => record.metadata))
      // and a changed ACL label is still caught on both paths (short JavaScript MAC and long native one)
      for (const index of [0, 1]) {
        const tampered = stored.map((record, i) => (i === index ? { ...record, metadata: { ...record.metadata, acl: ['intruder'] } } : record))
        const result = await reader.unprotect(tampered, readContext())
        expect(result.failures).toEqual([{ id: records[index]?.id, reason: 'record_mac_mismatch' }])
      }
    }
  })

  it('stores the documented construction: base64url(HMAC-SHA256(K_mac, recordMacInput(version 2))) on both platforms, whatever the signed values', async () => {
    const keyring = newKeyring()
    const { key } = keyring.deriveKey('record-mac', { kind: 'tenant', tenant: 'acme' }, { keyId: 'k1' })
    const records: PlainRecord[] = [
      { id: 'dóc-1', vector: [1, 0], metadata: { tenant: 'acme', acl: ['grüppe', 'b\uD800'], email: 'a@b.c' } },
      { id: 'doc-2', vector: [1, 0], metadata: { tenant: 'acme', acl: Array.from({ length: 60 }, (_, i) => `group-${i}`), body: 'x'.repeat(5000) } },
      { id: 'doc-3', vector: [1, 0], metadata: { tenant: 'acme', email: 'e', body: { nested: [1, 'two'] }, ssn: 7 } },
      { id: 'doc-4', vector: [1, 0], metadata: { tenant: 'acme' } },
    ]
    for (const platform of [nodePlatform, webPlatform]) {
      const stored = await newProtector({ keyring, platform }).protect(records, context())
      for (const record of stored) {
        const mac = String(record.metadata?.[RECORD_MAC_FIELD])
        const [version, kind, keyId, tag, token] = mac.split('.')
        expect([version, kind, keyId]).toEqual(['vwm2', 't', 'k1'])
        const fields = JSON.parse(Buffer.from(token as string, 'base64url').toString('utf8')) as string[]
        const input = recordMacInput(nodePlatform, 2, 'tenant', 'k1', 'acme', 'docs', record.id, token as string, fields, record.metadata as Metadata)
        expect(tag).toBe(nodePlatform.base64urlEncode(nodePlatform.hmacSha256(key, input)))
      }
    }
  })

  it('refuses a tag with a character outside base64url or with non-zero unused bits in its last character', async () => {
    const protector = newProtector()
    const [stored] = await protector.protect([{ id: 'doc-1', vector: [1, 0], metadata: { tenant: 'acme', email: 'a@b.c' } }], context())
    const mac = stored?.metadata?.[RECORD_MAC_FIELD] as string
    const parts = mac.split('.')
    const tag = parts[3] as string
    const out = new Uint8Array(32)
    expect(decodeMacTag(tag, 0, out)).toBe(true)
    expect(nodePlatform.base64urlEncode(out)).toBe(tag)
    const last = tag.charCodeAt(42)
    // the last character carries 4 bits: flipping one of its 2 unused low bits keeps the bytes Node would decode
    const sibling = String.fromCharCode(last ^ 1)
    for (const bad of [`${tag.slice(0, 42)}${sibling}`, `${tag.slice(0, 10)}+${tag.slice(11)}`, `${tag.slice(0, 10)}.${tag.slice(11)}`]) {
      if (bad === tag) continue
      const forged = [...parts.slice(0, 3), bad, ...parts.slice(4)].join('.')
      const result = await protector.unprotect([{ ...stored, id: 'doc-1', metadata: { ...stored?.metadata, [RECORD_MAC_FIELD]: forged } }], readContext())
      expect(result.records).toEqual([])
      expect(result.failures[0]?.reason).toMatch(/^record_mac_(mismatch|malformed)$/)
    }
  })
})

describe('string plaintexts', () => {
  for (const [name, platform] of platforms) {
    it(`round-trip any string with its type, including lone surrogates, NUL and JSON-looking text (${name} writes, the other reads)`, () => {
      const keyring = newKeyring()
      const writer = newProtector({ keyring, platform })
      const reader = newProtector({ keyring, platform: platform === nodePlatform ? webPlatform : nodePlatform })
      const place = { collection: 'docs', tenant: 'acme', recordId: 'doc-1', field: 'body' }
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('', '\u0000', '\uD800', '"x"', '1', 'null', '\u0000{}')), (value) => {
          expect(reader.decryptValue(writer.encryptValue(value, place), place)).toBe(value)
        }),
        { numRuns: 300 },
      )
    })
  }
})

describe('platform additions', () => {
  it('aeadSealText produces base64url(head ‖ the aeadSeal output of the UTF-8 text), identically on both platforms', () => {
    fc.assert(
      fc.property(fc.constantFrom('aes-256-gcm' as const, 'xchacha20-poly1305' as const), fc.string({ unit: 'grapheme' }), bytes(40), bytes(30), (algorithm, text, aad, head) => {
        const key = nodePlatform.randomBytes(32)
        const nonce = nodePlatform.randomBytes(algorithm === 'aes-256-gcm' ? 12 : 24)
        const sealed = nodePlatform.aeadSeal(algorithm, key, nonce, nodePlatform.utf8Encode(text), aad)
        const expected = nodePlatform.base64urlEncode(concat(head, sealed))
        expect(nodePlatform.aeadSealText(algorithm, key, nonce, text, aad, head)).toBe(expected)
        expect(webPlatform.aeadSealText(algorithm, key, nonce, text, aad, head)).toBe(expected)
      }),
      { numRuns: 100 },
    )
  })

  it('aeadSealText refuses a wrong key or nonce length with a TypeError on both platforms', () => {
    for (const [, platform] of platforms) {
      expect(() => platform.aeadSealText('aes-256-gcm', new Uint8Array(16), new Uint8Array(12), 'x', new Uint8Array(0), new Uint8Array(0))).toThrow(TypeError)
      expect(() => platform.aeadSealText('aes-256-gcm', new Uint8Array(32), new Uint8Array(24), 'x', new Uint8Array(0), new Uint8Array(0))).toThrow(TypeError)
    }
  })

  it('base64urlDecodeView decodes like base64urlDecode and refuses what it refuses', () => {
    const alphabet = fc.constantFrom(...'ABCxyz09-_+/=. é'.split(''))
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }).map((chars) => chars.join('')), (text) => {
        for (const [, platform] of platforms) {
          let expected: string
          try {
            expected = platform.hex(platform.base64urlDecode(text))
          } catch {
            expect(() => platform.base64urlDecodeView(text)).toThrow(TypeError)
            continue
          }
          expect(platform.hex(platform.base64urlDecodeView(text))).toBe(expected)
        }
      }),
    )
  })

  it('utf8Decode from an offset decodes the rest of the bytes on both platforms', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(3), (text, skip) => {
        const prefix = new Uint8Array(skip).fill(0x41)
        for (const [, platform] of platforms) expect(platform.utf8Decode(concat(prefix, platform.utf8Encode(text)), skip)).toBe(text)
      }),
    )
  })
})

describe('in-place framing', () => {
  it('writeText writes the UTF-8 of any string (ASCII copied, the rest encoded, lone surrogates as U+FFFD) within 3 bytes per character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat(8), (text, offset) => {
        for (const platform of [nodePlatform, webPlatform]) {
          const target = new Uint8Array(offset + 3 * text.length).fill(0xaa)
          const written = writeText(platform, target, offset, text)
          expect(Buffer.from(target.subarray(offset, offset + written)).equals(Buffer.from(platform.utf8Encode(text)))).toBe(true)
          expect(target.subarray(0, offset).every((byte) => byte === 0xaa)).toBe(true)
        }
      }),
    )
  })

  it('writeLength writes a 4-byte big-endian length, as framed does', () => {
    const target = new Uint8Array(6)
    writeLength(target, 1, 0x01020304)
    expect([...target]).toEqual([0, 1, 2, 3, 4, 0])
  })
})

