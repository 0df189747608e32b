// keyring: rotation add -> promote -> retire, per-purpose and per-tenant subkeys, shredding, key providers
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { generateKey, generateKeyText, Keyring, localKeyProvider } from '../../src/crypto/index.js'
import { ConfigError, IntegrityError } from '../../src/errors.js'
import { parseFilter } from '../../src/filter/index.js'
import { evaluateFilter } from '../../src/filter/index.js'
import { platform } from '../../src/platform/node.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Metadata } from '../../src/spec/records.js'
import { context, newProtector, readContext } from './helpers.js'

const collection = { kind: 'collection', collection: 'docs' } as const
const acme = { kind: 'tenant', tenant: 'acme' } as const
const hex = (bytes: Uint8Array) => platform.hex(bytes)

describe('keyring', () => {
  it('derives a different subkey for every purpose, scope, tenant, salt and key', () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }, { id: 'k2', material: generateKey() }] })
    const seen = new Set<string>()
    for (const purpose of ['field-encryption', 'blind-index', 'record-mac', 'vector'] as const) {
      for (const scope of [collection, acme, { kind: 'tenant', tenant: 'docs' } as const, { kind: 'collection', collection: 'acme' } as const]) {
        for (const keyId of ['k1', 'k2']) {
          for (const salt of [new Uint8Array(0), new Uint8Array(18)]) seen.add(hex(keyring.deriveKey(purpose, scope, { keyId, salt }).key))
        }
      }
    }
    expect(seen.size).toBe(4 * 4 * 2 * 2)
    expect(keyring.deriveKey('vector', acme, { length: 64 }).key).toHaveLength(64)
    expect(keyring.deriveKey('vector', acme).keyId).toBe('k1')
  })

  it('derives the same subkeys on the native and the portable platform', async () => {
    const material = generateKey()
    const { platform: web } = await import('../../src/platform/web.js')
    const native = new Keyring({ keys: [{ id: 'k1', material, state: 'primary' }] })
    const portable = new Keyring({ keys: [{ id: 'k1', material, state: 'primary' }], platform: web })
    expect(hex(native.deriveKey('blind-index', acme, { salt: new Uint8Array([1, 2]) }).key)).toBe(hex(portable.deriveKey('blind-index', acme, { salt: new Uint8Array([1, 2]) }).key))
  })

  it('rotates add -> promote -> retire: new data under the new key, old data readable until its key is retired', async () => {
    const protector = newProtector()
    const keyring = protector.keyring
    const record = { id: 'old', vector: [1], metadata: { tenant: 'acme', email: 'old@example.com' } }
    const [before] = await protector.protect([record], context())
    keyring.add({ id: 'k2', material: generateKey() })
    expect(keyring.primaryKeyId(acme)).toBe('k1')
    keyring.promote('k2')
    expect(keyring.primaryKeyId(acme)).toBe('k2')
    expect(keyring.readableKeyIds(acme)).toEqual(['k2', 'k1'])
    const [after] = await protector.protect([{ ...record, id: 'new', metadata: { tenant: 'acme', email: 'new@example.com' } }], context())
    expect(String(after?.metadata?.email)).not.toBe(String(before?.metadata?.email))
    const read = await protector.unprotect([before as never, after as never], readContext())
    expect(read.failures).toEqual([])
    expect(read.records.map((r) => r.metadata?.email)).toEqual(['old@example.com', 'new@example.com'])
    expect(new Set(read.keys)).toEqual(new Set(['k1', 'k2']))
    // an equality filter finds data under both keys during the rotation
    for (const [value, stored] of [
      ['old@example.com', before],
      ['new@example.com', after],
    ] as const) {
      const node = protector.rewriteFilter(parseFilter({ email: value }) as FilterNode, context())
      expect(evaluateFilter(node, stored?.metadata as Metadata)).toBe(true)
    }
    keyring.retire('k1')
    const late = await protector.unprotect([before as never], readContext())
    expect(late.failures).toEqual([{ id: 'old', reason: 'unknown_key' }])
  })

  it('refuses to retire the primary, to promote a retired key, duplicate ids, bad ids and weak keys, and leaves the keyring unchanged', () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    expect(() => keyring.retire('k1')).toThrow(ConfigError)
    keyring.add({ id: 'k2', material: generateKey(), state: 'retired' })
    expect(() => keyring.promote('k2')).toThrow(ConfigError)
    expect(() => keyring.add({ id: 'k1', material: generateKey() })).toThrow(ConfigError)
    expect(() => keyring.add({ id: 'has.dot', material: generateKey() })).toThrow(ConfigError)
    expect(() => keyring.add({ id: 'k3', material: new Uint8Array(32) })).toThrow(ConfigError)
    expect(() => keyring.add({ id: 'k3', material: generateKey().subarray(0, 16) })).toThrow(ConfigError)
    expect(() => keyring.add({ id: 'k3', material: generateKey(), state: 'primary' })).toThrow(ConfigError)
    expect(() => new Keyring({ keys: [{ id: 'a', material: generateKey() }] })).toThrow(ConfigError)
    expect(keyring.keys().map((key) => [key.id, key.state])).toEqual([
      ['k1', 'primary'],
      ['k2', 'retired'],
    ])
  })

  it('uses a tenant own keys when it has them, keeping data under the shared keys readable', async () => {
    const protector = newProtector()
    const keyring = protector.keyring
    const [shared] = await protector.protect([{ id: 'a', vector: [1], metadata: { tenant: 'acme', email: 'a@x' } }], context())
    keyring.add({ id: 'acme-1', material: generateKey(), tenant: 'acme', state: 'primary' })
    expect(keyring.primaryKeyId(acme)).toBe('acme-1')
    expect(keyring.primaryKeyId({ kind: 'tenant', tenant: 'globex' })).toBe('k1')
    const [own] = await protector.protect([{ id: 'b', vector: [1], metadata: { tenant: 'acme', email: 'b@x' } }], context())
    expect(String(own?.metadata?._vw_mac)).toContain('.acme-1.')
    const read = await protector.unprotect([shared as never, own as never], readContext())
    expect(read.records.map((r) => r.metadata?.email)).toEqual(['a@x', 'b@x'])
    // another tenant cannot use acme's key even by naming it
    expect(() => keyring.deriveKey('record-mac', { kind: 'tenant', tenant: 'globex' }, { keyId: 'acme-1' })).toThrow(IntegrityError)
  })

  it('crypto-shreds a tenant: its data becomes unreadable, also after export and reload, and nothing new is written for it', async () => {
    const protector = newProtector()
    const keyring = protector.keyring
    keyring.add({ id: 'acme-1', material: generateKey(), tenant: 'acme', state: 'primary' })
    keyring.add({ id: 'globex-1', material: generateKey(), tenant: 'globex', state: 'primary' })
    const [acmeRecord] = await protector.protect([{ id: 'a', vector: [1], metadata: { tenant: 'acme', email: 'a@acme' } }], context('acme'))
    const [globexRecord] = await protector.protect([{ id: 'g', vector: [1], metadata: { tenant: 'globex', email: 'g@globex' } }], context('globex'))
    const envelope = String(acmeRecord?.metadata?.email)
    const provider = localKeyProvider({ kek: generateKey() })
    keyring.shredTenant('acme')
    expect(keyring.isShredded('acme')).toBe(true)
    expect(keyring.keys().some((key) => key.tenant === 'acme')).toBe(false)
    const read = await protector.unprotect([acmeRecord as never], readContext('acme'))
    expect(read.records).toEqual([])
    expect(read.failures).toEqual([{ id: 'a', reason: 'tenant_shredded' }])
    // a reloaded keyring has no key for it either: even without the tombstone the envelope names a key that is gone
    const reloaded = await Keyring.load(await keyring.export(provider), provider)
    const fresh = newProtector({ keyring: reloaded })
    expect((await fresh.unprotect([acmeRecord as never], readContext('acme'))).records).toEqual([])
    const withoutTombstone = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    expect(() => newProtector({ keyring: withoutTombstone }).decryptValue(envelope, { collection: 'docs', tenant: 'acme', recordId: 'a', field: 'email' })).toThrow(IntegrityError)
    // other tenants are untouched
    expect((await fresh.unprotect([globexRecord as never], readContext('globex'))).records[0]?.metadata?.email).toBe('g@globex')
    await expect(protector.protect([{ id: 'n', vector: [1], metadata: { tenant: 'acme', email: 'n' } }], context('acme'))).rejects.toSatisfy(
      (error) => IntegrityError.isInstance(error) && error.reason === 'tenant_shredded',
    )
    expect(() => keyring.add({ id: 'acme-2', material: generateKey(), tenant: 'acme', state: 'primary' })).toThrow(ConfigError)
  })
})

describe('key providers', () => {
  it('exports a keyring wrapped, with no key in clear, and loads it back to read old data', async () => {
    const protector = newProtector()
    const [stored] = await protector.protect([{ id: 'a', vector: [1], metadata: { tenant: 'acme', email: 'a@x' } }], context())
    const kek = generateKeyText()
    const document = await protector.keyring.export(localKeyProvider({ kek }))
    expect(document.keys[0]?.wrapped.startsWith('vwk1.')).toBe(true)
    const loaded = await Keyring.load(JSON.parse(JSON.stringify(document)), localKeyProvider({ kek }))
    const reader = newProtector({ keyring: loaded })
    expect((await reader.unprotect([stored as never], readContext())).records[0]?.metadata?.email).toBe('a@x')
  })

  it('refuses to unwrap under another key-encryption key, key id or tenant', async () => {
    const provider = localKeyProvider({ kek: generateKey() })
    const key = generateKey()
    const wrapped = await provider.wrapKey(key, { keyId: 'k1', tenant: 'acme' })
    expect(hex(await provider.unwrapKey(wrapped, { keyId: 'k1', tenant: 'acme' }))).toBe(hex(key))
    await expect(provider.unwrapKey(wrapped, { keyId: 'k2', tenant: 'acme' })).rejects.toThrow(IntegrityError)
    await expect(provider.unwrapKey(wrapped, { keyId: 'k1' })).rejects.toThrow(IntegrityError)
    await expect(localKeyProvider({ kek: generateKey() }).unwrapKey(wrapped, { keyId: 'k1', tenant: 'acme' })).rejects.toThrow(IntegrityError)
    const keyring = new Keyring({ keys: [{ id: 'k1', material: key, state: 'primary' }] })
    const document = await keyring.export(provider)
    await expect(Keyring.load(document, localKeyProvider({ kek: generateKey() }))).rejects.toThrow(ConfigError)
    await expect(Keyring.load({ ...document, version: 3 }, provider)).rejects.toThrow(ConfigError)
  })

  describe('a keyring document edited without the key-encryption key', () => {
    async function rotated() {
      const provider = localKeyProvider({ kek: generateKey() })
      const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
      keyring.add({ id: 'k2', material: generateKey() })
      keyring.promote('k2')
      // k1 retired, say because it was suspected compromised
      keyring.retire('k1')
      keyring.add({ id: 'acme-1', material: generateKey(), tenant: 'acme', state: 'primary' })
      keyring.add({ id: 'globex-1', material: generateKey(), tenant: 'globex', state: 'primary' })
      keyring.shredTenant('globex')
      const document = JSON.parse(JSON.stringify(await keyring.export(provider))) as {
        version: number
        keys: { id: string; state: string; tenant?: string; createdAt: number; wrapped: string }[]
        shreddedTenants: string[]
      }
      return { provider, document }
    }

    it('loads as written (version 2: the metadata is bound into every wrap)', async () => {
      const { provider, document } = await rotated()
      expect(document.version).toBe(2)
      const loaded = await Keyring.load(document, provider)
      expect(loaded.primaryKeyId({ kind: 'collection', collection: 'docs' })).toBe('k2')
      expect(loaded.isShredded('globex')).toBe(true)
    })

    it('is refused: a retired key made primary again, a tenant key retired, a shred undone, a key dropped', async () => {
      const edits: ((document: Awaited<ReturnType<typeof rotated>>['document']) => void)[] = [
        (document) => {
          for (const key of document.keys) if (key.id === 'k1') key.state = 'primary'
          for (const key of document.keys) if (key.id === 'k2') key.state = 'active'
        },
        (document) => {
          for (const key of document.keys) if (key.id === 'acme-1') key.state = 'retired'
        },
        (document) => {
          document.shreddedTenants = []
        },
        (document) => {
          document.keys = document.keys.filter((key) => key.id !== 'acme-1')
        },
        (document) => {
          for (const key of document.keys) key.createdAt += 1
        },
        // relabelled as version 1, whose wraps bind less: the keys were wrapped as version 2 and do not unwrap
        (document) => {
          document.version = 1
          for (const key of document.keys) if (key.id === 'k1') key.state = 'primary'
          for (const key of document.keys) if (key.id === 'k2') key.state = 'active'
        },
      ]
      for (const edit of edits) {
        const { provider, document } = await rotated()
        edit(document)
        await expect(Keyring.load(document, provider)).rejects.toSatisfy((error) => ConfigError.isInstance(error) && error.reason === 'key_unwrap_failed')
      }
    })

    it('still loads a version 1 document, whose wraps bind each key’s id and tenant only', async () => {
      const provider = localKeyProvider({ kek: generateKey() })
      const material = generateKey()
      const wrapped = await provider.wrapKey(material, { keyId: 'k1' })
      const legacy = { format: 'vectorwarden-keyring', version: 1, provider: 'local', keys: [{ id: 'k1', state: 'primary', createdAt: 1, wrapped }], shreddedTenants: [] }
      const loaded = await Keyring.load(legacy, provider)
      expect(loaded.primaryKeyId({ kind: 'collection', collection: 'docs' })).toBe('k1')
      // and the next export is version 2
      expect((await loaded.export(provider)).version).toBe(2)
    })
  })

  it('refuses weak or malformed key-encryption keys', () => {
    expect(() => localKeyProvider({ kek: new Uint8Array(32) })).toThrow(ConfigError)
    expect(() => localKeyProvider({ kek: 'short' })).toThrow(ConfigError)
    expect(() => localKeyProvider({ kek: 'not base64url!' })).toThrow(ConfigError)
  })
})

describe('secrets never leave', () => {
  it('shows no key material through JSON, inspect, exports or errors', async () => {
    const material = generateKey()
    const kek = generateKey()
    const keyring = new Keyring({ keys: [{ id: 'k1', material, state: 'primary' }] })
    const document = await keyring.export(localKeyProvider({ kek }))
    const texts = [JSON.stringify(keyring), inspect(keyring, { depth: 10, showHidden: true }), JSON.stringify(document), inspect(localKeyProvider({ kek }), { depth: 10, showHidden: true })]
    const errors: unknown[] = []
    try {
      keyring.add({ id: 'k1', material })
    } catch (error) {
      errors.push(error)
    }
    try {
      await Keyring.load(document, localKeyProvider({ kek: generateKey() }))
    } catch (error) {
      errors.push(error)
    }
    expect(errors).toHaveLength(2)
    for (const error of errors) texts.push(inspect(error, { depth: 10 }), String((error as Error).message), JSON.stringify(error))
    for (const secret of [material, kek]) {
      for (const encoded of [platform.hex(secret), platform.base64urlEncode(secret), Buffer.from(secret).toString('base64'), [...secret].join(',')]) {
        for (const text of texts) expect(text).not.toContain(encoded)
      }
    }
  })

  it('puts no plaintext of protected fields into errors or failure reasons', async () => {
    const secret = 'SSN 078-05-1120 of Ada'
    const protector = newProtector()
    const [stored] = await protector.protect([{ id: 'a', vector: [1], metadata: { tenant: 'acme', email: secret, body: secret } }], context())
    const texts: string[] = []
    for (const metadata of [{ ...stored?.metadata, tenant: 'globex' }, { ...stored?.metadata, email: `${String(stored?.metadata?.email).slice(0, -2)}AA` }]) {
      const result = await protector.unprotect([{ id: 'a', metadata: metadata as Metadata }], readContext())
      texts.push(JSON.stringify(result))
    }
    for (const bad of [{ email: Number.NaN, body: secret, title: { secret } }, { title: secret, extra: { secret } }]) {
      const error = await protector.protect([{ id: 'a', vector: [1], metadata: bad as never }], context()).catch((caught: unknown) => caught)
      texts.push(inspect(error), String((error as Error).message))
    }
    try {
      protector.rewriteFilter(parseFilter({ email: { $ne: secret } }) as FilterNode, context())
    } catch (error) {
      texts.push(inspect(error), String((error as Error).message))
    }
    try {
      protector.decryptValue(String(stored?.metadata?.email), { collection: 'docs', tenant: 'globex', recordId: 'a', field: 'email' })
    } catch (error) {
      texts.push(inspect(error), String((error as Error).message))
    }
    expect(texts.length).toBeGreaterThanOrEqual(6)
    for (const text of texts) {
      expect(text).not.toContain(secret)
      expect(text).not.toContain('078-05-1120')
    }
  })
})
