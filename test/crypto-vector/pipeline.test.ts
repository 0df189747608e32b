// encrypted embeddings through the warden: stored as ciphertext, searchable, checked and decrypted on read

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import { vectorEncryption } from '../../src/crypto/vector/index.js'
import { definePolicy } from '../../src/policy/index.js'
import { unitVector } from './_helpers.js'
import { tableAuthenticator } from '../core/helpers.js'

const dimension = 16

const unit = (seed: number): number[] => unitVector(seed, dimension)

async function world(options: { withFields?: boolean } = {}) {
  const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
  const adapter = memoryAdapter()
  const audit = memoryAuditSink()
  const vectors = vectorEncryption({ keyring, tenantField: 'tenant', collections: { docs: { metric: 'cosine', dimension, approximationFactor: 0.25 } } })
  const encryption = options.withFields
    ? [fieldEncryption({ keyring, collections: { docs: { encrypt: ['body'], sign: ['tenant'], keyScope: 'tenant' } } }), vectors]
    : vectors
  const policy = definePolicy({
    id: 'vectors',
    tenancy: { field: 'tenant' },
    roles: {
      writer: {
        allow: [
          { actions: ['record.query', 'record.fetch', 'record.upsert', 'record.update', 'vectors.read'], collections: ['docs'], fields: { decrypt: '*' } },
        ],
      },
      admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
    },
  })
  const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy, audit, encryption })
  const admin = await warden.session('Bearer tok-admin-0123456789')
  await admin.createCollection('docs', { dimension, distance: 'cosine' })
  const alice = await warden.session('Bearer tok-alice-0123456789')
  const bob = await warden.session('Bearer tok-bob-0123456789')
  const plain = Array.from({ length: 20 }, (_, i) => unit(i + 1))
  await alice.upsert('docs', plain.map((vector, i) => ({ id: `a${i}`, vector, metadata: { n: i, ...(options.withFields ? { body: `secret ${i}` } : {}) } })))
  await bob.upsert('docs', plain.map((vector, i) => ({ id: `b${i}`, vector, metadata: { n: i } })))
  return { warden, adapter, audit, alice, bob, plain }
}

describe('vector encryption through the warden', () => {
  it('creates the store collection with dot distance so cosine ciphertexts are never re-normalised', async () => {
    const { adapter } = await world()
    expect((await adapter.doDescribeCollection({ name: 'docs' })).distance).toBe('dot')
  })

  it('stores ciphertext vectors with key id, nonce and tag, never the embedding', async () => {
    const { adapter, plain } = await world()
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['a3'], includeMetadata: true, includeVectors: true })
    const stored = records[0]
    expect(stored?.metadata?._vw_vk).toBe('k1')
    expect(typeof stored?.metadata?._vw_vn).toBe('string')
    expect(typeof stored?.metadata?._vw_vt).toBe('string')
    const storedVector = Array.from(stored?.vector ?? [])
    const distance = Math.hypot(...storedVector.map((value, i) => value - (plain[3]?.[i] as number)))
    expect(distance).toBeGreaterThan(1e-3)
  })

  it('finds the nearest record of the caller tenant and returns decrypted vectors within float error', async () => {
    const { alice, plain } = await world()
    const { matches } = await alice.query('docs', { vector: plain[7] as number[], topK: 3, includeVectors: true })
    expect(matches[0]?.id).toBe('a7')
    expect(matches.every((match) => match.id.startsWith('a'))).toBe(true)
    const returned = Array.from(matches[0]?.vector ?? [])
    expect(returned).toHaveLength(dimension)
    for (const [i, value] of returned.entries()) expect(Math.abs(value - (plain[7]?.[i] as number))).toBeLessThan(1e-5)
    expect(Object.keys(matches[0]?.metadata ?? {}).some((field) => field.startsWith('_vw_'))).toBe(false)
  })

  it('drops a vector altered inside the store and audits an integrity alarm', async () => {
    const { alice, adapter, audit } = await world()
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['a2'], includeMetadata: true, includeVectors: true })
    const stored = records[0]!
    const tampered = Array.from(stored.vector ?? [])
    tampered[0] = (tampered[0] as number) + 0.01
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'a2', vector: tampered, metadata: stored.metadata }] })
    const { records: read } = await alice.fetch('docs', ['a1', 'a2'], { includeVectors: true })
    expect(read.map((record) => record.id)).toEqual(['a1'])
    expect(audit.events.some((event) => event.type === 'dev.vectorwarden.security.integrity')).toBe(true)
  })

  it('drops a vector copied onto another record (bound to its id)', async () => {
    const { alice, adapter } = await world()
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['a4'], includeMetadata: true, includeVectors: true })
    const source = records[0]!
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'a5', vector: source.vector ?? [], metadata: source.metadata }] })
    const { records: read } = await alice.fetch('docs', ['a4', 'a5'], { includeVectors: true })
    expect(read.map((record) => record.id)).toEqual(['a4'])
  })

  it('encrypts each tenant under its own key: the same plaintext is stored differently', async () => {
    const { adapter } = await world()
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['a0', 'b0'], includeMetadata: false, includeVectors: true })
    const [a, b] = records.map((record) => Array.from(record.vector ?? []))
    expect(Math.hypot(...(a as number[]).map((value, i) => value - ((b as number[])[i] as number)))).toBeGreaterThan(1e-3)
  })

  it('an update re-encrypts the vector and keeps it readable', async () => {
    const { alice, plain } = await world()
    expect(await alice.update('docs', 'a9', { n: 99 })).toEqual({ updated: true })
    const { records } = await alice.fetch('docs', ['a9'], { includeVectors: true })
    expect(records[0]?.metadata?.n).toBe(99)
    for (const [i, value] of Array.from(records[0]?.vector ?? []).entries()) expect(Math.abs(value - (plain[9]?.[i] as number))).toBeLessThan(1e-5)
  })

  it('works beside field encryption: both stages protect and unprotect the same records', async () => {
    const { alice, adapter } = await world({ withFields: true })
    const { records: stored } = await adapter.doFetch({ collection: 'docs', ids: ['a1'], includeMetadata: true, includeVectors: true })
    expect(JSON.stringify(stored)).not.toContain('secret 1')
    const { records } = await alice.fetch('docs', ['a1'], { includeVectors: true })
    expect(records[0]?.metadata?.body).toBe('secret 1')
    expect(records[0]?.vector).toHaveLength(dimension)
  })
})
