// batched reads: only records whose version 2 MAC has verified reach the keystream batch, and a store that changes
// any byte of any envelope gets the record dropped before anything is decrypted (the suites themselves run batched
// by default, and one by one in one-by-one.test.ts)
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RECORD_MAC_FIELD, recordMacInput } from '../../src/crypto/record-mac.js'
import { fieldEncryption } from '../../src/crypto/field-encryption.js'
import { generateKey, type Keyring } from '../../src/crypto/keyring.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import type { Platform } from '../../src/platform/types.js'
import type { FetchedRecord, Metadata } from '../../src/spec/records.js'
import { countingBatches } from './counting.js'
import { context, docsConfig, newKeyring, newProtector, readContext } from './helpers.js'

const records = Array.from({ length: 10 }, (_, i) => ({
  id: `doc-${i}`,
  vector: [0.1, 0.2],
  metadata: { tenant: 'acme', acl: ['team-a'], email: `user-${i}@example.com`, body: { n: i }, ssn: `078-05-${1000 + i}` } as unknown as Metadata,
}))

type Stored = { id: string; vector: readonly number[] | Float32Array; metadata: Record<string, Metadata[string]> }
const copy = (stored: readonly { id: string; vector: readonly number[] | Float32Array; metadata?: Metadata }[]): Stored[] => stored.map((record) => ({ ...record, metadata: { ...record.metadata } }))

/** The record with its MAC replaced by a version 1 MAC (what earlier releases wrote): `e` + the last 24 characters. */
function withVersion1Mac(keyring: Keyring, record: Stored): Stored {
  const mac = String(record.metadata[RECORD_MAC_FIELD])
  const [, kind, keyId, , token] = mac.split('.') as [string, string, string, string, string]
  const fields = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as string[]
  const { key } = keyring.deriveKey('record-mac', { kind: 'tenant', tenant: 'acme' }, { keyId })
  const input = recordMacInput(nodePlatform, 1, 'tenant', keyId, 'acme', 'docs', record.id, token, fields, record.metadata as Metadata)
  const tag = nodePlatform.base64urlEncode(nodePlatform.hmacSha256(key, input))
  return { ...record, metadata: { ...record.metadata, [RECORD_MAC_FIELD]: `vwm1.${kind}.${keyId}.${tag}.${token}` } }
}

/** One character of an envelope changed, past its prefix and 36-byte header (48 characters), before its tag. */
function changeMiddle(envelope: string): string {
  const at = 'vwe1.'.length + 48 + 4
  expect(at).toBeLessThan(envelope.length - 24)
  return envelope.slice(0, at) + (envelope[at] === 'A' ? 'B' : 'A') + envelope.slice(at + 1)
}

describe('batched reads (batchDecryption: auto, the default)', () => {
  it('opens the envelopes of a read in one batch per subkey, kept for the reads after, with the results of one-by-one reads', async () => {
    const { platform: counting, batches, queued } = countingBatches()
    const keyring = newKeyring()
    const protector = fieldEncryption({ keyring, collections: { docs: docsConfig }, platform: counting })
    const off = newProtector({ keyring, batchDecryption: 'off' })
    const stored = await protector.protect(records, context())
    for (let read = 0; read < 3; read++) {
      const result = await protector.unprotect(stored, readContext())
      expect(result).toEqual(await off.unprotect(stored, readContext()))
      expect(result.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
    }
    expect(batches()).toBe(1)
    expect(queued()).toBe(3 * 30)
    // single-envelope calls never batch
    expect(protector.unprotectRecord(stored[0] as FetchedRecord, context(), '*', new Set())).toEqual((await off.unprotect(stored.slice(0, 1), readContext())).records[0])
    expect(queued()).toBe(3 * 30)
  })

  it('drops exactly the record one of whose envelopes was changed inside the database, before any of its envelopes reaches a batch', async () => {
    const { platform: counting, queued } = countingBatches()
    const keyring = newKeyring()
    const batched = fieldEncryption({ keyring, collections: { docs: docsConfig }, platform: counting })
    const single = newProtector({ keyring, batchDecryption: 'off' })
    const stored = copy(await batched.protect(records, context()))
    const victim = stored[3] as Stored
    victim.metadata.email = changeMiddle(victim.metadata.email as string)
    const results = [await batched.unprotect(stored, readContext()), await single.unprotect(stored, readContext())]
    for (const result of results) {
      // the version 2 MAC binds every byte of the envelope: the change fails the MAC, before decryption
      expect(result.failures).toEqual([{ id: 'doc-3', reason: 'record_mac_mismatch' }])
      expect(result.records.map((record) => record.id)).toEqual(records.filter((_, i) => i !== 3).map((record) => record.id))
    }
    expect(results[0]).toEqual(results[1])
    expect(queued()).toBe(27)
  })

  it('drops a record for any change of any character of any of its envelopes, batched or not, and keeps the others whole', async () => {
    const keyring = newKeyring()
    const batched = newProtector({ keyring })
    const single = newProtector({ keyring, batchDecryption: 'off' })
    const stored = copy(await batched.protect(records.slice(0, 4), context()))
    const clean = await single.unprotect(stored, readContext())
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.constantFrom('email', 'body', 'ssn'), fc.nat(), fc.constantFrom(...'AQgw-_09zZ.x'.split('')), async (victim, field, pick, replacement) => {
        const tampered = copy(stored)
        const metadata = (tampered[victim] as Stored).metadata
        const envelope = metadata[field] as string
        const at = pick % envelope.length
        fc.pre(envelope[at] !== replacement)
        metadata[field] = envelope.slice(0, at) + replacement + envelope.slice(at + 1)
        for (const protector of [batched, single]) {
          const result = await protector.unprotect(tampered, readContext())
          expect(result.failures.map((failure) => failure.id)).toEqual([`doc-${victim}`])
          expect(result.records).toEqual(clean.records.filter((record) => record.id !== `doc-${victim}`))
        }
      }),
      { numRuns: 150 },
    )
  })

  it('reads records with a version 1 MAC one by one, GCM tag and all: they verify, a changed ciphertext fails its tag, and they are not current', async () => {
    const { platform: counting, queued } = countingBatches()
    const keyring = newKeyring()
    const protector = fieldEncryption({ keyring, collections: { docs: docsConfig }, platform: counting })
    const written = copy(await protector.protect(records.slice(0, 3), context()))
    const legacy = written.map((record) => withVersion1Mac(keyring, record))
    const before = queued()
    const result = await protector.unprotect(legacy, readContext())
    expect(result.failures).toEqual([])
    expect(result.records.map((record) => record.metadata?.ssn)).toEqual(records.slice(0, 3).map((record) => record.metadata.ssn))
    expect(queued()).toBe(before)
    // version 1 binds only the last 24 characters: the GCM tag is what catches a change before them
    const tampered = copy(legacy)
    ;(tampered[1] as Stored).metadata.body = changeMiddle((tampered[1] as Stored).metadata.body as string)
    for (const reader of [protector, newProtector({ keyring, batchDecryption: 'off' })]) {
      expect((await reader.unprotect(tampered, readContext())).failures).toEqual([{ id: 'doc-1', reason: 'envelope_authentication_failed' }])
    }
    expect(queued()).toBe(before)
    // re-encryption rewrites them: a version 1 record is not current, a version 2 one is
    expect(protector.isCurrent(legacy[0] as FetchedRecord, context())).toBe(false)
    expect(protector.isCurrent(written[0] as FetchedRecord, context())).toBe(true)
  })

  it('drops its batches when the keyring changes (a new batch is built after), and a shredded tenant reads as shredded', async () => {
    const { platform: counting, batches } = countingBatches()
    const keyring = newKeyring()
    const protector = fieldEncryption({ keyring, collections: { docs: docsConfig }, platform: counting })
    const stored = await protector.protect(records, context())
    expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect(batches()).toBe(1)
    keyring.add({ id: 'k2', material: generateKey(), state: 'active' })
    expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect(batches()).toBe(2)
    keyring.shredTenant('acme')
    const after = await protector.unprotect(stored, readContext())
    expect(after.records).toEqual([])
    expect(after.failures.map((failure) => failure.reason)).toEqual(records.map(() => 'tenant_shredded'))
  })

  it('decrypts exactly what the MAC verified when the metadata is not plain data: a getter that changes an envelope after its first read', async () => {
    const keyring = newKeyring()
    const protector = newProtector({ keyring })
    const stored = copy(await protector.protect(records.slice(0, 3), context()))
    const honest = stored[1]?.metadata.email as string
    const tampered = changeMiddle(honest)
    let reads = 0
    const metadata = { ...stored[1]?.metadata }
    Object.defineProperty(metadata, 'email', {
      enumerable: true,
      get() {
        reads++
        return reads === 1 ? honest : tampered
      },
    })
    const tricky = stored.map((record, i) => (i === 1 ? { ...record, metadata } : record))
    const result = await protector.unprotect(tricky, readContext())
    expect(result.failures).toEqual([])
    expect(result.records.map((record) => record.metadata?.email)).toEqual(records.slice(0, 3).map((record) => record.metadata.email))
    expect(reads).toBe(1)
  })

  it('reads correctly when the platform calls back into the protector while the batches open', async () => {
    let protector: ReturnType<typeof newProtector> | undefined
    let inner: readonly FetchedRecord[] = []
    let nested: Awaited<ReturnType<NonNullable<typeof protector>['unprotect']>> | undefined
    let calls = 0
    const platform: Platform = {
      ...nodePlatform,
      utf8Decode: (data, start, end) => {
        if (calls++ === 5 && protector !== undefined) {
          void protector.unprotect(inner, readContext()).then((result) => {
            nested = result
          })
        }
        return nodePlatform.utf8Decode(data, start, end)
      },
    }
    protector = newProtector({ platform })
    const stored = await protector.protect(records, context())
    inner = stored.slice(7)
    const outer = await protector.unprotect(stored, readContext())
    expect(outer.failures).toEqual([])
    expect(outer.records.map((record) => record.metadata)).toEqual(records.map((record) => record.metadata))
    expect(nested?.failures).toEqual([])
    expect(nested?.records.map((record) => record.metadata)).toEqual(records.slice(7).map((record) => record.metadata))
  })

  it('reads version 1 and version 2 records in one read, and a version 2 MAC relabelled as version 1 does not verify', async () => {
    const keyring = newKeyring()
    const protector = newProtector({ keyring })
    const written = copy(await protector.protect(records.slice(0, 4), context()))
    const mixed = written.map((record, i) => (i % 2 === 0 ? withVersion1Mac(keyring, record) : record))
    const result = await protector.unprotect(mixed, readContext())
    expect(result.failures).toEqual([])
    expect(result.records.map((record) => record.metadata)).toEqual(records.slice(0, 4).map((record) => record.metadata))
    const relabelled = copy(written)
    const mac = (relabelled[2] as Stored).metadata[RECORD_MAC_FIELD] as string
    ;(relabelled[2] as Stored).metadata[RECORD_MAC_FIELD] = `vwm1.${mac.slice('vwm2.'.length)}`
    expect((await protector.unprotect(relabelled, readContext())).failures).toEqual([{ id: 'doc-2', reason: 'record_mac_mismatch' }])
  })

  it("refuses version 1 MACs with acceptRecordMacV1: false (after re-encryption), so a store cannot serve an old copy", async () => {
    const keyring = newKeyring()
    const writer = newProtector({ keyring })
    const written = copy(await writer.protect(records.slice(0, 2), context()))
    const strict = newProtector({ keyring, acceptRecordMacV1: false })
    const result = await strict.unprotect([withVersion1Mac(keyring, written[0] as Stored), written[1] as Stored], readContext())
    expect(result.failures).toEqual([{ id: 'doc-0', reason: 'record_mac_version' }])
    expect(result.records.map((record) => record.id)).toEqual(['doc-1'])
  })

  it('drops both records when envelopes are swapped between them, and a record whose signed value changed type', async () => {
    const protector = newProtector()
    const stored = copy(await protector.protect(records.slice(0, 4), context()))
    const swapped = copy(stored)
    ;(swapped[0] as Stored).metadata.email = (stored[1] as Stored).metadata.email as string
    ;(swapped[1] as Stored).metadata.email = (stored[0] as Stored).metadata.email as string
    expect((await protector.unprotect(swapped, readContext())).failures).toEqual([
      { id: 'doc-0', reason: 'record_mac_mismatch' },
      { id: 'doc-1', reason: 'record_mac_mismatch' },
    ])
    // the signed list ['team-a'] replaced by look-alikes of other types, and a null: each record dropped, never a TypeError
    const retyped = copy(stored)
    ;(retyped[0] as Stored).metadata.acl = { 0: 'team-a', length: 1, extra: 'x' } as unknown as string[]
    ;(retyped[1] as Stored).metadata.acl = [1] as unknown as string[]
    ;(retyped[2] as Stored).metadata.acl = null as unknown as string[]
    const result = await protector.unprotect(retyped, readContext())
    expect(result.failures).toEqual(['doc-0', 'doc-1', 'doc-2'].map((id) => ({ id, reason: 'record_mac_mismatch' })))
    expect(result.records.map((record) => record.id)).toEqual(['doc-3'])
  })

  it("opens every envelope on its own with batchDecryption 'off', never building a batch", async () => {
    const { platform: counting, batches } = countingBatches()
    const protector = fieldEncryption({ keyring: newKeyring(), collections: { docs: docsConfig }, platform: counting, batchDecryption: 'off' })
    const stored = await protector.protect(records, context())
    for (let read = 0; read < 3; read++) expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect(batches()).toBe(0)
  })

  it('opens several batches in one read (envelopes written under two writer salts) with the same results as one by one', async () => {
    const keyring = newKeyring()
    const first = newProtector({ keyring })
    const second = newProtector({ keyring })
    const stored = [...(await first.protect(records.slice(0, 5), context())), ...(await second.protect(records.slice(5), context()))]
    const reader = newProtector({ keyring })
    const single = newProtector({ keyring, batchDecryption: 'off' })
    const result = await reader.unprotect(stored, readContext())
    expect(result.failures).toEqual([])
    expect(result).toEqual(await single.unprotect(stored, readContext()))
    expect(result.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
  })

  it('reads correctly when unprotect is called again from inside a batched read (a getter on the metadata), never leaving a field unfilled', async () => {
    const protector = newProtector()
    const stored = await protector.protect(records, context())
    const inner = stored.slice(0, 2)
    let nested: Awaited<ReturnType<typeof protector.unprotect>> | undefined
    const tricky = stored.map((record, i) => {
      if (i !== 4) return record
      // a clear field after the encrypted ones, which the record MAC does not cover: its getter runs while the
      // record's envelopes wait in the batch
      const metadata = { ...record.metadata }
      Object.defineProperty(metadata, 'note', {
        enumerable: true,
        get() {
          // the result is not awaited here: unprotect works synchronously and resolves with what it found
          void protector.unprotect(inner, readContext()).then((result) => {
            nested = result
          })
          return 'a clear note'
        },
      })
      return { ...record, metadata }
    })
    const outer = await protector.unprotect(tricky, readContext())
    expect(outer.failures).toEqual([])
    expect(outer.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
    expect(outer.records[4]?.metadata?.note).toBe('a clear note')
    expect(outer.records.every((record) => Object.values(record.metadata ?? {}).every((value) => value !== null))).toBe(true)
    expect(nested?.failures).toEqual([])
    expect(nested?.records.map((record) => record.metadata?.email)).toEqual(records.slice(0, 2).map((record) => record.metadata.email))
  })
})
