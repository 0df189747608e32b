// re-encryption through the adapter: rotates a whole collection, resumable, never rewrites tampered records
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { fieldEncryption, generateKey, Keyring, type ReencryptProgress, reencryptCollection } from '../../src/crypto/index.js'
import { ConfigError } from '../../src/errors.js'
import { principal } from './helpers.js'

const config = { encrypt: ['email', 'note'], blindIndex: ['email'], sign: ['tenant'], keyScope: 'tenant', tenantField: 'tenant' } as const

async function setup(count: number) {
  const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
  const protector = fieldEncryption({ keyring, collections: { docs: config } })
  const adapter = memoryAdapter()
  await adapter.doCreateCollection({ name: 'docs', dimension: 2, distance: 'cosine' })
  for (const tenant of ['acme', 'globex']) {
    const records = Array.from({ length: count }, (_, i) => ({ id: `${tenant}-${i}`, vector: [1, i], metadata: { tenant, email: `${i}@${tenant}`, note: { i } } }))
    await adapter.doUpsert({ collection: 'docs', records: [...(await protector.protect(records, { collection: 'docs', tenant, principal }))] })
  }
  return { keyring, protector, adapter }
}

async function readAll(adapter: ReturnType<typeof memoryAdapter>, protector: ReturnType<typeof fieldEncryption>) {
  const page = await adapter.doScroll({ collection: 'docs', limit: 1000, includeMetadata: true, includeVectors: false })
  const opened = await protector.unprotect(page.records, { collection: 'docs', principal, decryptable: '*', includeVectors: false })
  return { stored: page.records, opened }
}

describe('reencryptCollection', () => {
  it('rewrites every record under the new primary key so the old key can be retired, and a second run rewrites nothing', async () => {
    const { keyring, protector, adapter } = await setup(7)
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    const progress: ReencryptProgress[] = []
    const result = await reencryptCollection({ adapter, protector, collection: 'docs', batchSize: 3, onProgress: (p) => void progress.push(p) })
    expect(result).toMatchObject({ scanned: 14, rewritten: 14, failed: 0, done: true })
    expect(progress.length).toBe(5)
    expect(progress.slice(0, -1).every((p) => p.cursor !== undefined && !p.done)).toBe(true)
    keyring.retire('k1')
    const { stored, opened } = await readAll(adapter, protector)
    expect(opened.failures).toEqual([])
    expect(opened.records.map((r) => r.metadata?.email).sort()).toContain('3@acme')
    expect(stored.every((r) => !JSON.stringify(r.metadata).includes('.k1.'))).toBe(true)
    const again = await reencryptCollection({ adapter, protector, collection: 'docs' })
    expect(again).toMatchObject({ scanned: 14, rewritten: 0, current: 14 })
  })

  it('resumes from a cursor: a stopped run continues where it ended, and the total is the same', async () => {
    const { keyring, protector, adapter } = await setup(5)
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    const stop = new AbortController()
    let cursor: string | undefined
    await expect(
      reencryptCollection({
        adapter,
        protector,
        collection: 'docs',
        batchSize: 4,
        signal: stop.signal,
        onProgress: (p) => {
          cursor = p.cursor
          stop.abort()
        },
      }),
    ).rejects.toThrow()
    expect(cursor).toBeDefined()
    const rest = await reencryptCollection({ adapter, protector, collection: 'docs', batchSize: 4, ...(cursor ? { cursor } : {}) })
    expect(rest.scanned).toBe(6)
    const check = await reencryptCollection({ adapter, protector, collection: 'docs', dryRun: true })
    expect(check).toMatchObject({ scanned: 10, rewritten: 0, current: 10 })
  })

  it('reports tampered records and never rewrites them (no laundering)', async () => {
    const { keyring, protector, adapter } = await setup(2)
    await adapter.doUpdate({ collection: 'docs', id: 'acme-0', metadata: { tenant: 'globex' } })
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    const result = await reencryptCollection({ adapter, protector, collection: 'docs' })
    expect(result.failed).toBe(1)
    expect(result.failures).toEqual([{ id: 'acme-0', reason: 'record_mac_mismatch' }])
    const { stored } = await readAll(adapter, protector)
    const tampered = stored.find((r) => r.id === 'acme-0')
    expect(String(tampered?.metadata?._vw_mac)).toContain('.k1.')
  })

  it('encrypts a collection written in clear only when asked to adopt unprotected records', async () => {
    const { protector, adapter } = await setup(1)
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'legacy', vector: [1, 1], metadata: { tenant: 'acme', email: 'old@acme', note: 'n' } }] })
    const refused = await reencryptCollection({ adapter, protector, collection: 'docs' })
    expect(refused.failures).toEqual([{ id: 'legacy', reason: 'record_mac_missing' }])
    const adopted = await reencryptCollection({ adapter, protector, collection: 'docs', adoptUnprotected: true })
    expect(adopted).toMatchObject({ rewritten: 1, failed: 0 })
    const { stored, opened } = await readAll(adapter, protector)
    expect(JSON.stringify(stored)).not.toContain('old@acme')
    expect(opened.failures).toEqual([])
    expect(opened.records.find((r) => r.id === 'legacy')?.metadata).toEqual({ tenant: 'acme', email: 'old@acme', note: 'n' })
  })

  it('rewrites records to a new suite and a new signed-field list when the configuration changes', async () => {
    const { keyring, adapter } = await setup(2)
    const changed = fieldEncryption({ keyring, collections: { docs: { ...config, suite: 'xchacha20-poly1305', sign: ['tenant', 'acl'] } } })
    expect(await reencryptCollection({ adapter, protector: changed, collection: 'docs' })).toMatchObject({ rewritten: 4, failed: 0 })
    const { stored, opened } = await readAll(adapter, changed)
    expect(opened.failures).toEqual([])
    // suite byte 0x02 sits in the second byte: base64url of 0x01 0x02 starts with "AQI"
    expect(stored.every((r) => String(r.metadata?.email).startsWith('vwe1.AQI'))).toBe(true)
    expect(await reencryptCollection({ adapter, protector: changed, collection: 'docs' })).toMatchObject({ rewritten: 0, current: 4 })
  })

  it('dry run counts what would change and writes nothing', async () => {
    const { keyring, protector, adapter } = await setup(3)
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    const before = JSON.stringify((await readAll(adapter, protector)).stored)
    expect(await reencryptCollection({ adapter, protector, collection: 'docs', dryRun: true })).toMatchObject({ rewritten: 6 })
    expect(JSON.stringify((await readAll(adapter, protector)).stored)).toBe(before)
  })

  it('refuses a tenant-scoped collection without a tenant field, and unknown collections', async () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    const protector = fieldEncryption({ keyring, collections: { docs: { encrypt: ['a'] } } })
    await expect(reencryptCollection({ adapter: memoryAdapter(), protector, collection: 'docs' })).rejects.toThrow(ConfigError)
    await expect(reencryptCollection({ adapter: memoryAdapter(), protector, collection: 'nope' })).rejects.toThrow(ConfigError)
  })
})
