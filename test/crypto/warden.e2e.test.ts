// end to end through createWarden + memoryAdapter: the store sees only ciphertext, filters work, tampering is caught
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import { AuthorizationError, InputError } from '../../src/errors.js'
import type { Obligations } from '../../src/spec/policy.js'
import { tableAuthenticator, tenancyPolicy } from '../core/helpers.js'

const SECRET = '078-05-1120'

async function setup(overrides: Partial<Obligations> = {}, bits = 32) {
  const store = memoryAdapter()
  const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
  const encryption = fieldEncryption({
    keyring,
    collections: { docs: { encrypt: ['ssn', 'email', 'notes'], blindIndex: { email: { bits }, ssn: { bits } }, sign: ['tenant'], keyScope: 'tenant' } },
  })
  const audit = memoryAuditSink()
  const warden = createWarden({ adapter: store, authenticators: [tableAuthenticator()], policy: tenancyPolicy(overrides), audit, encryption })
  const admin = await warden.session('Bearer tok-admin-0123456789')
  await admin.createCollection('docs', { dimension: 3, distance: 'cosine' })
  const alice = await warden.session('Bearer tok-alice-0123456789')
  const bob = await warden.session('Bearer tok-bob-0123456789')
  await alice.upsert('docs', [
    { id: 'a1', vector: [1, 0, 0], metadata: { title: 'one', ssn: SECRET, email: 'ada@acme.test', notes: { level: 3, tags: ['x'] } } },
    { id: 'a2', vector: [0.9, 0.1, 0], metadata: { title: 'two', ssn: '111-11-1111', email: 'bob@acme.test', notes: null } },
  ])
  await bob.upsert('docs', [{ id: 'b1', vector: [1, 0, 0], metadata: { title: 'globex', ssn: SECRET, email: 'ada@acme.test' } }])
  return { store, keyring, encryption, audit, warden, alice, bob }
}

const raw = async (store: ReturnType<typeof memoryAdapter>) =>
  (await store.doScroll({ collection: 'docs', limit: 100, includeMetadata: true, includeVectors: false })).records

describe('field encryption through the warden', () => {
  it('stores only envelopes, blind indexes and MACs: the plaintext of protected fields never reaches the store', async () => {
    const { store } = await setup()
    const stored = await raw(store)
    expect(stored).toHaveLength(3)
    const text = JSON.stringify(stored)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain('ada@acme.test')
    expect(text).toContain('vwe1.')
    for (const record of stored) expect(String(record.metadata?._vw_mac)).toMatch(/^vwm2\.t\.k1\./)
  })

  it('returns decrypted fields to their tenant, with types intact, and hides reserved fields', async () => {
    const { alice } = await setup()
    const { records } = await alice.fetch('docs', ['a1', 'a2', 'b1'])
    expect(records.map((r) => r.id)).toEqual(['a1', 'a2'])
    expect(records[0]?.metadata).toEqual({ tenant: 'acme', title: 'one', ssn: SECRET, email: 'ada@acme.test', notes: { level: 3, tags: ['x'] } })
    expect(records[1]?.metadata?.notes).toBeNull()
  })

  it('answers $eq and $in on encrypted fields through blind indexes, only within the tenant', async () => {
    const { alice, bob } = await setup()
    const byEmail = await alice.query('docs', { vector: [1, 0, 0], topK: 10, filter: { email: 'ada@acme.test' }, includeMetadata: true })
    expect(byEmail.matches.map((m) => m.id)).toEqual(['a1'])
    const bySsn = await alice.query('docs', { vector: [1, 0, 0], topK: 10, filter: { ssn: { $in: [SECRET, '111-11-1111'] } } })
    expect(bySsn.matches.map((m) => m.id).sort()).toEqual(['a1', 'a2'])
    const bobs = await bob.query('docs', { vector: [1, 0, 0], topK: 10, filter: { email: 'ada@acme.test' }, includeMetadata: true })
    expect(bobs.matches.map((m) => m.id)).toEqual(['b1'])
  })

  it('returns each match with the score the store gave it, through the built-in protector and one that drops scores', async () => {
    const { alice, store, encryption } = await setup()
    const bare = await store.doQuery({ collection: 'docs', vector: [1, 0, 0], topK: 10, filter: { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' }, includeMetadata: false, includeVectors: false })
    const expected = Object.fromEntries(bare.matches.map((match) => [match.id, match.score]))
    const viaBuiltIn = await alice.query('docs', { vector: [1, 0, 0], topK: 10, includeMetadata: true })
    expect(Object.fromEntries(viaBuiltIn.matches.map((match) => [match.id, match.score]))).toEqual(expected)
    expect(new Set(viaBuiltIn.matches.map((match) => match.score)).size).toBe(2)

    // a protector that rebuilds records without their scores: the pipeline puts them back
    const unprotect: typeof encryption.unprotect = async (records, context) => {
      const result = await encryption.unprotect(records, context)
      return { ...result, records: result.records.map(({ score: _score, ...record }) => record) }
    }
    const dropping = new Proxy(encryption, {
      get(target, property) {
        if (property === 'unprotect') return unprotect
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const warden = createWarden({ adapter: store, authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink(), encryption: dropping })
    const session = await warden.session('Bearer tok-alice-0123456789')
    const viaDropping = await session.query('docs', { vector: [1, 0, 0], topK: 10, includeMetadata: true })
    expect(Object.fromEntries(viaDropping.matches.map((match) => [match.id, match.score]))).toEqual(expected)
    expect(viaDropping.matches.every((match) => match.metadata?.ssn !== undefined)).toBe(true)
  })

  it('removes blind-index false positives: with 8-bit tokens, only records whose plaintext matches come back', async () => {
    const { alice } = await setup({}, 8)
    const many = Array.from({ length: 300 }, (_, i) => ({ id: `n${i}`, vector: [0, 1, 0], metadata: { email: `user${i}@acme.test` } }))
    await alice.upsert('docs', many)
    for (const wanted of ['user7@acme.test', 'user123@acme.test', 'nobody@acme.test']) {
      const { matches } = await alice.query('docs', { vector: [0, 1, 0], topK: 400, filter: { email: wanted }, includeMetadata: ['email'] })
      expect(matches.every((m) => m.metadata?.email === wanted)).toBe(true)
      expect(matches.length).toBe(wanted === 'nobody@acme.test' ? 0 : 1)
    }
  })

  it('refuses range, $ne and $nin on encrypted fields with an InputError, never an empty answer', async () => {
    const { alice } = await setup()
    for (const filter of [{ ssn: { $ne: SECRET } }, { email: { $nin: ['x'] } }, { ssn: { $gt: 1 } }, { notes: 'x' }]) {
      await expect(alice.query('docs', { vector: [1, 0, 0], topK: 5, filter })).rejects.toSatisfy((error) => InputError.isInstance(error))
    }
  })

  it('refuses callers writing or filtering on reserved fields', async () => {
    const { alice } = await setup()
    // the pipeline refuses reserved fields on write as it refuses ACL fields (AuthorizationError); either way nothing is written
    await expect(alice.upsert('docs', [{ id: 'x', vector: [1, 0, 0], metadata: { _vw_mac: 'forged' } }])).rejects.toSatisfy(
      (error) => InputError.isInstance(error) || AuthorizationError.isInstance(error),
    )
    expect((await alice.fetch('docs', ['x'])).records).toEqual([])
    await expect(alice.query('docs', { vector: [1, 0, 0], topK: 5, filter: { _vw_bi_email: 'k1.AAAAAA' } })).rejects.toSatisfy((error) => InputError.isInstance(error))
  })

  it('drops a record moved to another tenant inside the database and raises an integrity alarm', async () => {
    const { store, alice, bob, audit } = await setup()
    await store.doUpdate({ collection: 'docs', id: 'b1', metadata: { tenant: 'acme' } })
    const { records } = await alice.fetch('docs', ['a1', 'b1'])
    expect(records.map((r) => r.id)).toEqual(['a1'])
    const alarm = audit.events.find((event) => JSON.stringify(event).includes('integrity.alarm'))
    expect(alarm).toBeDefined()
    expect(JSON.stringify(audit.events)).not.toContain(SECRET)
    expect((await bob.fetch('docs', ['b1'])).records).toEqual([])
  })

  it('omits fields the policy does not let the caller decrypt, and refuses filters on them', async () => {
    const { alice } = await setup({ decryptableFields: ['email'] })
    const { records } = await alice.fetch('docs', ['a1'])
    expect(records[0]?.metadata).toEqual({ tenant: 'acme', title: 'one', email: 'ada@acme.test' })
    await expect(alice.query('docs', { vector: [1, 0, 0], topK: 5, filter: { ssn: SECRET } })).rejects.toSatisfy((error) => AuthorizationError.isInstance(error))
  })

  it('keeps updated records verifiable: a patch re-encrypts and re-signs the record', async () => {
    const { alice } = await setup()
    await alice.update('docs', 'a1', { email: 'new@acme.test', title: 'renamed' })
    const { matches } = await alice.query('docs', { vector: [1, 0, 0], topK: 5, filter: { email: 'new@acme.test' }, includeMetadata: true })
    expect(matches.map((m) => [m.id, m.metadata?.title, m.metadata?.ssn])).toEqual([['a1', 'renamed', SECRET]])
  })

  it('reads data written before a key rotation and finds it by blind index during the rotation', async () => {
    const { alice, keyring } = await setup()
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    await alice.upsert('docs', [{ id: 'a3', vector: [1, 0, 0], metadata: { email: 'ada@acme.test', ssn: '3' } }])
    const { matches } = await alice.query('docs', { vector: [1, 0, 0], topK: 5, filter: { email: 'ada@acme.test' }, includeMetadata: ['ssn'] })
    expect(matches.map((m) => [m.id, m.metadata?.ssn]).sort()).toEqual([
      ['a1', SECRET],
      ['a3', '3'],
    ])
  })
})
