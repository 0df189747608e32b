// the protector, envelope and fast-path suites again, with every read batched from its first envelope (gcmBatch)
import { describe, expect, it } from 'vitest'
import { fieldEncryption, GCM_BATCH_AFTER } from '../../src/crypto/field-encryption.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import type { Platform } from '../../src/platform/types.js'
import type { Metadata } from '../../src/spec/records.js'
import { context, docsConfig, newKeyring, newProtector, readContext, setBatchDecryption } from './helpers.js'

// the suites below build their protectors with newProtector, which reads this at test time; vitest gives each test
// file its own module instances, so the one-by-one runs of those files are unaffected
setBatchDecryption('always')
await import('./protector.test.js')
await import('./envelope.test.js')
await import('./fast-paths.test.js')

/** The node platform, counting the batches protectors build on it. */
function countingBatches(): { platform: Platform; batches: () => number } {
  let built = 0
  const platform: Platform = {
    ...nodePlatform,
    aesGcmBatch: (key) => {
      built++
      return (nodePlatform.aesGcmBatch as NonNullable<Platform['aesGcmBatch']>)(key)
    },
  }
  return { platform, batches: () => built }
}

describe('batchDecryption', () => {
  const records = Array.from({ length: 10 }, (_, i) => ({
    id: `doc-${i}`,
    vector: [0.1, 0.2],
    metadata: { tenant: "acme", acl: ["team-a"], email: `user-${i}@example.com`, body: { n: i }, ssn: `078-05-${1000 + i}` } as unknown as Metadata,
  }))

  it('opens a subkey one by one until it has opened 16 envelopes, then in one batch per read, with the same results', async () => {
    const { platform: counting, batches } = countingBatches()
    const keyring = newKeyring()
    const auto = newProtector({ keyring, platform: counting, batchDecryption: 'auto' })
    const off = newProtector({ keyring, batchDecryption: 'off' })
    const few = await auto.protect(records.slice(0, 4), context())
    const many = await auto.protect(records, context())
    // 12 envelopes: below the threshold, no batch
    expect(await auto.unprotect(few, readContext())).toEqual(await off.unprotect(few, readContext()))
    expect(batches()).toBe(0)
    // the 30 envelopes of the next read cross it: one batch for the subkey, kept for the reads after
    for (let read = 0; read < 3; read++) {
      const result = await auto.unprotect(many, readContext())
      expect(result).toEqual(await off.unprotect(many, readContext()))
      expect(result.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
    }
    expect(batches()).toBe(1)
    expect(GCM_BATCH_AFTER).toBe(16)
  })

  it('drops its batches when the keyring changes, so a shredded tenant reads as shredded', async () => {
    const keyring = newKeyring()
    const protector = newProtector({ keyring, batchDecryption: 'always' })
    const stored = await protector.protect(records, context())
    expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    keyring.shredTenant('acme')
    const after = await protector.unprotect(stored, readContext())
    expect(after.records).toEqual([])
    expect(after.failures.map((failure) => failure.reason)).toEqual(records.map(() => 'tenant_shredded'))
  })

  it("is off unless asked for: a default protector opens every envelope on its own, never building a batch", async () => {
    const { platform: counting, batches } = countingBatches()
    const protector = fieldEncryption({ keyring: newKeyring(), collections: { docs: docsConfig }, platform: counting })
    const stored = await protector.protect(records, context())
    for (let read = 0; read < 3; read++) expect((await protector.unprotect(stored, readContext())).failures).toEqual([])
    expect(batches()).toBe(0)
  })

  it('drops exactly the record whose ciphertext was changed inside the database (the tag check in the batch), like the one-by-one path', async () => {
    const keyring = newKeyring()
    const batched = newProtector({ keyring, batchDecryption: 'always' })
    const single = newProtector({ keyring, batchDecryption: 'off' })
    const stored = (await batched.protect(records, context())).map((record) => ({ ...record, metadata: { ...record.metadata } }))
    // one character in the middle of the ciphertext: the last 24 characters (the tag, which the record MAC binds) stay
    const victim = stored[3] as (typeof stored)[number]
    const envelope = victim.metadata.email as string
    // past the prefix and the 36-byte header (48 characters), before the last 24
    const at = 'vwe1.'.length + 48 + 4
    expect(at).toBeLessThan(envelope.length - 24)
    const swapped = envelope[at] === 'A' ? 'B' : 'A'
    victim.metadata.email = envelope.slice(0, at) + swapped + envelope.slice(at + 1)
    const results = [await batched.unprotect(stored, readContext()), await single.unprotect(stored, readContext())]
    for (const result of results) {
      expect(result.failures).toEqual([{ id: 'doc-3', reason: 'envelope_authentication_failed' }])
      expect(result.records.map((record) => record.id)).toEqual(records.filter((_, i) => i !== 3).map((record) => record.id))
    }
    expect(results[0]).toEqual(results[1])
  })

  it('opens several batches in one read (envelopes written under two writer salts) with the same results as one by one', async () => {
    const keyring = newKeyring()
    const first = newProtector({ keyring, batchDecryption: 'always' })
    const second = newProtector({ keyring, batchDecryption: 'always' })
    const stored = [...(await first.protect(records.slice(0, 5), context())), ...(await second.protect(records.slice(5), context()))]
    const reader = newProtector({ keyring, batchDecryption: 'always' })
    const single = newProtector({ keyring, batchDecryption: 'off' })
    const result = await reader.unprotect(stored, readContext())
    expect(result.failures).toEqual([])
    expect(result).toEqual(await single.unprotect(stored, readContext()))
    expect(result.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
  })

  it('reads correctly when unprotect is called again from inside a batched read (a getter on the metadata), never leaving a field unfilled', async () => {
    const protector = newProtector({ batchDecryption: 'always' })
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

