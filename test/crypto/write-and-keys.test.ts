// regressions from a security review of the crypto write side and key handling: re-encryption beside vector
// encryption, blind indexes in count and delete, the write-key cache, platform parity, and key derivation inputs

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring, reencryptCollection } from '../../src/crypto/index.js'
import { vectorEncryption } from '../../src/crypto/vector/index.js'
import { InputError } from '../../src/errors.js'
import { parseFilter } from '../../src/filter/index.js'
import { definePolicy } from '../../src/policy/index.js'
import { platform as node } from '../../src/platform/node.js'
import { platform as web } from '../../src/platform/web.js'
import { tableAuthenticator, tenancyPolicy } from '../core/helpers.js'
import { context, readContext } from './helpers.js'

const keyring = () => new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })

describe('field re-encryption in a collection that also has vector encryption', () => {
  it("keeps vector encryption's reserved fields, so the records stay readable", async () => {
    const ring = keyring()
    const adapter = memoryAdapter()
    const dimension = 4
    const fields = { encrypt: ['body'], sign: ['tenant'], keyScope: 'tenant', tenantField: 'tenant' } as const
    const vectors = vectorEncryption({ keyring: ring, tenantField: 'tenant', collections: { docs: { metric: 'cosine', dimension, approximationFactor: 0.25 } } })
    const policy = definePolicy({
      id: 'vectors',
      tenancy: { field: 'tenant' },
      roles: {
        writer: { allow: [{ actions: ['record.query', 'record.fetch', 'record.upsert', 'vectors.read'], collections: ['docs'], fields: { decrypt: '*' } }] },
        admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
      },
    })
    const first = createWarden({ adapter, authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink(), encryption: [fieldEncryption({ keyring: ring, collections: { docs: fields } }), vectors] })
    await (await first.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension, distance: 'cosine' })
    await (await first.session('Bearer tok-alice-0123456789')).upsert('docs', [{ id: 'a', vector: [1, 0, 0, 0], metadata: { body: 'secret' } }])
    // a configuration change (another suite) makes the field protector rewrite the record
    const changed = fieldEncryption({ keyring: ring, collections: { docs: { ...fields, suite: 'xchacha20-poly1305' } } })
    expect((await reencryptCollection({ adapter, protector: changed, collection: 'docs' })).rewritten).toBe(1)
    const stored = (await adapter.doScroll({ collection: 'docs', limit: 10, includeMetadata: true, includeVectors: false })).records[0]?.metadata ?? {}
    expect(Object.keys(stored).filter((field) => field.startsWith('_vw_v')).sort()).toEqual(['_vw_vk', '_vw_vn', '_vw_vt'])
    const second = createWarden({ adapter, authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink(), encryption: [changed, vectors] })
    const again = await (await second.session('Bearer tok-alice-0123456789')).fetch('docs', ['a'])
    expect(again.records.map((record) => [record.id, record.metadata?.body])).toEqual([['a', 'secret']])
  })
})

describe('a filter on a blind-indexed field outside queries (tokens of 8 bits collide)', () => {
  async function world() {
    const adapter = memoryAdapter()
    const encryption = fieldEncryption({ keyring: keyring(), collections: { docs: { encrypt: ['email'], blindIndex: { email: { bits: 8 } }, sign: ['tenant'], keyScope: 'tenant' } } })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink(), encryption })
    await (await warden.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension: 3, distance: 'cosine' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    // 300 distinct values over 256 tokens: at least two share a token
    await alice.upsert('docs', Array.from({ length: 300 }, (_, i) => ({ id: `n${i}`, vector: [0, 1, 0], metadata: { email: `user${i}@acme.test` } })))
    return { alice, adapter }
  }

  it('delete by such a filter is refused (it would delete colliding records too), and nothing is deleted', async () => {
    const { alice, adapter } = await world()
    await expect(alice.delete('docs', { filter: { email: 'user1@acme.test' } })).rejects.toSatisfy(
      (error) => InputError.isInstance(error) && error.reason === 'inexact_filter',
    )
    expect((await adapter.doCount({ collection: 'docs' })).count).toBe(300)
  })

  it('a query by such a filter still returns the nearest matching records, though colliding ones are nearer', async () => {
    const store = memoryAdapter()
    const encryption = fieldEncryption({ keyring: keyring(), collections: { docs: { encrypt: ['email'], blindIndex: { email: { bits: 8 } }, sign: ['tenant'], keyScope: 'tenant' } } })
    const tokens = (email: string) => JSON.stringify(encryption.rewriteFilter(parseFilter({ email }), context()))
    // a value whose token another value shares
    const seen = new Map<string, number>()
    let pair: [number, number] | undefined
    for (let i = 0; i < 300 && pair === undefined; i++) {
      const token = tokens(`user${i}@acme.test`)
      const earlier = seen.get(token)
      if (earlier !== undefined) pair = [earlier, i]
      else seen.set(token, i)
    }
    const [wanted, colliding] = pair as [number, number]
    const warden = createWarden({ adapter: store, authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink(), encryption })
    await (await warden.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension: 3, distance: 'cosine' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    // three colliding records nearer to the query than the one that matches
    await alice.upsert('docs', [
      { id: 'wanted', vector: [0, 1, 0], metadata: { email: `user${wanted}@acme.test` } },
      ...[1, 2, 3].map((n) => ({ id: `colliding-${n}`, vector: [1, 0, n / 10], metadata: { email: `user${colliding}@acme.test` } })),
    ])
    const { matches } = await alice.query('docs', { vector: [1, 0, 0], topK: 1, filter: { email: `user${wanted}@acme.test` } })
    expect(matches.map((match) => match.id)).toEqual(['wanted'])
    const both = await alice.query('docs', { vector: [1, 0, 0], topK: 2, filter: { email: { $in: [`user${wanted}@acme.test`, `user${colliding}@acme.test`] } } })
    expect(both.matches.map((match) => match.id)).toEqual(['colliding-1', 'colliding-2'])
  })

  it('count by such a filter says it is not exact, and never counts fewer than match', async () => {
    const { alice } = await world()
    let above = 0
    for (let i = 0; i < 300; i++) {
      const { count, exact } = await alice.count('docs', { filter: { email: `user${i}@acme.test` } })
      expect(exact).toBe(false)
      expect(count).toBeGreaterThanOrEqual(1)
      if (count > 1) above++
    }
    expect(above).toBeGreaterThan(0)
    expect(await alice.count('docs')).toEqual({ count: 300, exact: true })
  })
})

describe('two tenant-scoped collections with different suites', () => {
  it('each get envelopes of their own suite (the write-key cache is kept per suite)', async () => {
    const protector = fieldEncryption({
      keyring: keyring(),
      collections: { a: { encrypt: ['x'], keyScope: 'tenant' }, b: { encrypt: ['x'], keyScope: 'tenant', suite: 'xchacha20-poly1305' } },
    })
    const [first] = await protector.protect([{ id: '1', vector: [1], metadata: { x: 'one' } }], context('acme', 'a'))
    const [second] = await protector.protect([{ id: '2', vector: [1], metadata: { x: 'two' } }], context('acme', 'b'))
    // the header's suite byte: 0x01 AES-256-GCM ("AQE"), 0x02 XChaCha20-Poly1305 ("AQI")
    expect(String(first?.metadata?.x).startsWith('vwe1.AQE')).toBe(true)
    expect(String(second?.metadata?.x).startsWith('vwe1.AQI')).toBe(true)
    expect(protector.decryptValue(String(second?.metadata?.x), { collection: 'b', tenant: 'acme', recordId: '2', field: 'x' })).toBe('two')
  })
})

describe.each([
  ['node', node],
  ['web', web],
] as const)('a string value starting with U+FEFF (platform %s)', (_name, platform) => {
  it('round-trips unchanged (the byte-order mark is data, not a marker to strip)', async () => {
    const protector = fieldEncryption({ keyring: keyring(), platform, batchDecryption: 'off', collections: { docs: { encrypt: ['x'], keyScope: 'tenant' } } })
    const value = '\uFEFFsecret'
    const [out] = await protector.protect([{ id: '1', vector: [1], metadata: { x: value } }], context())
    const read = await protector.unprotect([out as never], readContext())
    expect(read.records[0]?.metadata?.x).toBe(value)
    expect(protector.decryptValue(String(out?.metadata?.x), { collection: 'docs', tenant: 'acme', recordId: '1', field: 'x' })).toBe(value)
  })
})

describe('tenant names with a lone surrogate', () => {
  it('derive no keys: UTF-8 would map "acme\\uD800" and "acme\\uFFFD" to the same bytes', () => {
    const ring = keyring()
    expect(() => ring.deriveKey('field-encryption', { kind: 'tenant', tenant: 'acme\uD800' })).toThrow(InputError)
    expect(() => ring.deriveKey('field-encryption', { kind: 'collection', collection: 'docs\uDC00' })).toThrow(InputError)
    expect(ring.deriveKey('field-encryption', { kind: 'tenant', tenant: 'acme\uFFFD' }).key).toHaveLength(32)
  })

  it('cannot open another tenant’s envelope, and cannot reach the keys of a shredded tenant', () => {
    const ring = keyring()
    const protector = fieldEncryption({ keyring: ring, collections: { docs: { encrypt: ['x'], keyScope: 'tenant' } } })
    const envelope = protector.encryptValue('victim secret', { collection: 'docs', tenant: 'acme\uFFFD', recordId: '1', field: 'x' })
    expect(() => protector.decryptValue(envelope, { collection: 'docs', tenant: 'acme\uD800', recordId: '1', field: 'x' })).toThrow()
    ring.shredTenant('acme\uFFFD')
    expect(() => ring.deriveKey('vector', { kind: 'tenant', tenant: 'acme\uD800' })).toThrow()
  })
})

describe('base64url decoding on node', () => {
  it('refuses what web refuses: a character above U+00FF is not read by its low byte', () => {
    for (const text of ['AAA\u0141', 'AA\u0130A', 'A+AA', 'A/AA', 'AAA=', 'AAAA\u00e9']) {
      expect(() => web.base64urlDecode(text)).toThrow()
      expect(() => node.base64urlDecode(text)).toThrow()
    }
    expect(node.hex(node.base64urlDecode('AAEC_-8'))).toBe(web.hex(web.base64urlDecode('AAEC_-8')))
  })

  it('refuses an envelope spelled with such a character', () => {
    const protector = fieldEncryption({ keyring: keyring(), collections: { docs: { encrypt: ['x'], keyScope: 'tenant' } } })
    const place = { collection: 'docs', tenant: 'acme', recordId: '1', field: 'x' }
    const envelope = protector.encryptValue('s', place)
    const at = 15
    const spoofed = envelope.slice(0, at) + String.fromCharCode(0x100 + envelope.charCodeAt(at)) + envelope.slice(at + 1)
    expect(() => protector.decryptValue(spoofed, place)).toThrow()
  })
})

describe('subkeys of other lengths than 32 bytes', () => {
  it('do not start with the 32-byte subkey of the same purpose, scope and salt (the length is bound)', () => {
    const ring = keyring()
    const scope = { kind: 'tenant', tenant: 'acme' } as const
    const salt = new TextEncoder().encode('docs')
    const short = ring.deriveKey('vector', scope, { salt }).key
    const long = ring.deriveKey('vector', scope, { salt, length: 64 }).key
    expect(node.hex(long.subarray(0, 32))).not.toBe(node.hex(short))
    // the 32-byte default keeps its bytes: data written before stays readable
    expect(node.hex(ring.deriveKey('vector', scope, { salt, length: 32 }).key)).toBe(node.hex(short))
  })
})
