// envelope properties: round trips of every JSON type, tamper detection, binding to the place, both platforms
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ENVELOPE_PREFIX } from '../../src/crypto/index.js'
import { IntegrityError } from '../../src/errors.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import { platform as webPlatform } from '../../src/platform/web.js'
import type { JsonValue } from '../../src/spec/records.js'
import { newKeyring, newProtector } from './helpers.js'

const place = { collection: 'docs', tenant: 'acme', recordId: 'doc-1', field: 'body' }
const expected = (value: JsonValue): unknown => JSON.parse(JSON.stringify(value))

function rewrite(envelope: string, change: (bytes: Uint8Array) => void): string {
  const bytes = nodePlatform.base64urlDecode(envelope.slice(ENVELOPE_PREFIX.length)).slice()
  change(bytes)
  return ENVELOPE_PREFIX + nodePlatform.base64urlEncode(bytes)
}

function integrityReason(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    if (IntegrityError.isInstance(error)) return error.reason
    throw error
  }
  return undefined
}

describe('envelopes', () => {
  for (const suite of ['aes-256-gcm', 'xchacha20-poly1305'] as const) {
    it(`round-trips every JSON value with its type (${suite}, encrypted on one platform and read on the other)`, () => {
      const keyring = newKeyring()
      const native = newProtector({ keyring, suite })
      const portable = newProtector({ keyring, suite, platform: webPlatform })
      fc.assert(
        fc.property(fc.jsonValue() as fc.Arbitrary<JsonValue>, (value) => {
          const fromNative = native.encryptValue(value, place)
          const fromPortable = portable.encryptValue(value, place)
          expect(portable.decryptValue(fromNative, place)).toEqual(expected(value))
          expect(native.decryptValue(fromPortable, place)).toEqual(expected(value))
          expect(native.decryptValue(fromNative, place)).toEqual(expected(value))
        }),
        { numRuns: 150 },
      )
    })
  }

  it('keeps the types apart: 1, "1", true, null, [1] and {"1":1} decrypt to themselves', () => {
    const protector = newProtector()
    for (const value of [1, '1', true, null, [1], { '1': 1 }, 0, '', [], {}, -1.5e300, 'ümlaut ✓ 𝄞'] as JsonValue[]) {
      expect(protector.decryptValue(protector.encryptValue(value, place), place)).toStrictEqual(value)
    }
  })

  it('is a printable string with the recognisable prefix and a fresh nonce each time', () => {
    const protector = newProtector()
    const first = protector.encryptValue('same', place)
    const second = protector.encryptValue('same', place)
    expect(first.startsWith('vwe1.')).toBe(true)
    expect(/^vwe1\.[A-Za-z0-9_-]+$/.test(first)).toBe(true)
    expect(first).not.toBe(second)
  })

  it('fails with an IntegrityError when any bit of the envelope is flipped', () => {
    for (const suite of ['aes-256-gcm', 'xchacha20-poly1305'] as const) {
      const protector = newProtector({ suite })
      fc.assert(
        fc.property(fc.jsonValue() as fc.Arbitrary<JsonValue>, fc.nat(), fc.nat(7), (value, position, bit) => {
          const envelope = protector.encryptValue(value, place)
          const length = nodePlatform.base64urlDecode(envelope.slice(ENVELOPE_PREFIX.length)).length
          const flipped = rewrite(envelope, (bytes) => {
            bytes[position % length] = (bytes[position % length] as number) ^ (1 << bit)
          })
          expect(integrityReason(() => protector.decryptValue(flipped, place))).toBeDefined()
        }),
        { numRuns: 300 },
      )
    }
  })

  it('fails with an IntegrityError when truncated or extended', () => {
    const protector = newProtector()
    const envelope = protector.encryptValue('secret', place)
    const bytes = nodePlatform.base64urlDecode(envelope.slice(ENVELOPE_PREFIX.length))
    for (let cut = 0; cut < bytes.length; cut++) {
      const truncated = ENVELOPE_PREFIX + nodePlatform.base64urlEncode(bytes.subarray(0, cut))
      expect(integrityReason(() => protector.decryptValue(truncated, place))).toBeDefined()
    }
    const extended = ENVELOPE_PREFIX + nodePlatform.base64urlEncode(new Uint8Array([...bytes, 0]))
    expect(integrityReason(() => protector.decryptValue(extended, place))).toBe('envelope_authentication_failed')
    expect(integrityReason(() => protector.decryptValue(`${envelope}!`, place))).toBe('envelope_malformed')
  })

  it('fails with an IntegrityError when any AAD component changes: tenant, collection, record id or field', () => {
    const protector = newProtector()
    const collectionScoped = newProtector({ docs: { encrypt: ['body'], keyScope: 'collection' } })
    fc.assert(
      fc.property(
        fc.constantFrom('tenant', 'collection', 'recordId', 'field'),
        fc.string({ minLength: 1, maxLength: 12 }),
        (component, replacement) => {
          const moved = { ...place, [component]: replacement }
          fc.pre(moved[component as keyof typeof moved] !== place[component as keyof typeof place])
          for (const target of [protector, collectionScoped]) {
            const envelope = target.encryptValue('payload', place)
            expect(integrityReason(() => target.decryptValue(envelope, moved))).toBeDefined()
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('fails when the length prefixes are what separates two places ("ab"+"c" vs "a"+"bc")', () => {
    const protector = newProtector({ docs: { encrypt: ['body'], keyScope: 'collection' } })
    const envelope = protector.encryptValue('x', { collection: 'docs', tenant: 'ab', recordId: 'c', field: 'body' })
    expect(integrityReason(() => protector.decryptValue(envelope, { collection: 'docs', tenant: 'a', recordId: 'bc', field: 'body' }))).toBe('envelope_authentication_failed')
  })

  it('decrypts with only the envelope and the keyring: a protector configured for another suite still reads it', () => {
    const keyring = newKeyring()
    const writer = newProtector({ keyring, suite: 'xchacha20-poly1305' })
    const reader = newProtector({ keyring, suite: 'aes-256-gcm', docs: { encrypt: ['other'], keyScope: 'tenant' } })
    expect(reader.decryptValue(writer.encryptValue({ a: [1, 2] }, place), place)).toEqual({ a: [1, 2] })
  })

  it('draws a fresh salt (and so a fresh subkey) after the configured number of encryptions', () => {
    const protector = newProtector({ encryptionsPerSalt: 2 })
    const salts = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const bytes = nodePlatform.base64urlDecode(protector.encryptValue(i, place).slice(ENVELOPE_PREFIX.length))
      salts.add(nodePlatform.hex(bytes.subarray(3, 21)))
    }
    expect(salts.size).toBe(3)
    // all of them stay readable
    for (let i = 0; i < 4; i++) expect(protector.decryptValue(protector.encryptValue(i, place), place)).toBe(i)
  })
})
