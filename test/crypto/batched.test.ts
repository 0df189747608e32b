// the protector, envelope and fast-path suites again, with every read batched from its first envelope (gcmBatch)
import { describe, expect, it } from 'vitest'
import { GCM_BATCH_AFTER } from '../../src/crypto/field-encryption.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import type { Platform } from '../../src/platform/types.js'
import type { Metadata } from '../../src/spec/records.js'
import { context, newKeyring, newProtector, readContext, setBatchDecryption } from './helpers.js'

// the suites below build their protectors with newProtector, which reads this at test time; vitest gives each test
// file its own module instances, so the one-by-one runs of those files are unaffected
setBatchDecryption('always')
await import('./protector.test.js')
await import('./envelope.test.js')
await import('./fast-paths.test.js')

describe("batchDecryption: 'auto'", () => {
  const records = Array.from({ length: 10 }, (_, i) => ({
    id: `doc-${i}`,
    vector: [0.1, 0.2],
    metadata: { tenant: "acme", acl: ["team-a"], email: `user-${i}@example.com`, body: { n: i }, ssn: `078-05-${1000 + i}` } as unknown as Metadata,
  }))

  it('opens a subkey one by one until it has opened 16 envelopes, then in one batch per read, with the same results', async () => {
    let batches = 0
    const counting: Platform = {
      ...nodePlatform,
      aesGcmBatch: (key) => {
        batches++
        return (nodePlatform.aesGcmBatch as NonNullable<Platform['aesGcmBatch']>)(key)
      },
    }
    const keyring = newKeyring()
    const auto = newProtector({ keyring, platform: counting, batchDecryption: 'auto' })
    const off = newProtector({ keyring, batchDecryption: 'off' })
    const few = await auto.protect(records.slice(0, 4), context())
    const many = await auto.protect(records, context())
    // 12 envelopes: below the threshold, no batch
    expect(await auto.unprotect(few, readContext())).toEqual(await off.unprotect(few, readContext()))
    expect(batches).toBe(0)
    // the 30 envelopes of the next read cross it: one batch for the subkey, kept for the reads after
    for (let read = 0; read < 3; read++) {
      const result = await auto.unprotect(many, readContext())
      expect(result).toEqual(await off.unprotect(many, readContext()))
      expect(result.records.map((record) => record.metadata?.email)).toEqual(records.map((record) => record.metadata.email))
    }
    expect(batches).toBe(1)
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
})
