// regressions from a security review of vector encryption in the pipeline: one rule for which tenant's key a record
// uses, whoever writes or reads it, and ids that the binding cannot tell apart

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import { vectorEncryption } from '../../src/crypto/vector/index.js'
import { ConfigError, InputError } from '../../src/errors.js'
import { definePolicy } from '../../src/policy/index.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { unitVector } from './_helpers.js'
import { obligations, tableAuthenticator, tenantFilter } from '../core/helpers.js'

const dimension = 16
const unit = (seed: number): number[] => unitVector(seed, dimension)

// tenants are confined and stamped; the operator (no tenant) sees every row, as a rotation job or an ingester would
const policy: PolicyDecisionPoint = {
  id: 'vectors',
  version: 'v1',
  decide({ principal }): Decision {
    const tenant = principal.tenant
    const o = tenant === undefined ? obligations({ tenantField: 'tenant' }) : obligations({ rowFilter: tenantFilter(tenant), stamp: { tenant }, tenantField: 'tenant' })
    return { effect: 'allow', obligations: o, matchedRules: ['all'] }
  },
}

async function world() {
  const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
  const encryption = vectorEncryption({ keyring, tenantField: 'tenant', collections: { docs: { metric: 'cosine', dimension, approximationFactor: 0.25 } } })
  const warden = createWarden({ adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink(), encryption })
  const operator = await warden.session('Bearer tok-admin-0123456789')
  await operator.createCollection('docs', { dimension, distance: 'cosine' })
  const alice = await warden.session('Bearer tok-alice-0123456789')
  const plain = Array.from({ length: 20 }, (_, i) => unit(i + 1))
  await alice.upsert('docs', plain.map((vector, i) => ({ id: `a${i}`, vector, metadata: { n: i } })))
  return { operator, alice, plain, encryption }
}

describe('the tenant key of an encrypted vector', () => {
  it('stays the record’s tenant’s when an operator without a tenant updates the record', async () => {
    const { operator, alice } = await world()
    expect(await operator.update('docs', 'a3', { n: 33 })).toEqual({ updated: true })
    expect((await alice.fetch('docs', ['a3'], { includeVectors: true })).records.map((record) => record.id)).toEqual(['a3'])
    expect((await operator.fetch('docs', ['a3'], { includeVectors: true })).records.map((record) => record.id)).toEqual(['a3'])
  })

  it('is the record’s tenant’s when an operator writes a record for a tenant, so the tenant reads and finds it', async () => {
    const { operator, alice, plain } = await world()
    await operator.upsert('docs', [{ id: 'x', vector: plain[5] as number[], metadata: { tenant: 'acme', n: 99 } }])
    expect((await alice.fetch('docs', ['x'], { includeVectors: true })).records.map((record) => record.id)).toEqual(['x'])
    const { matches } = await alice.query('docs', { vector: plain[5] as number[], topK: 2 })
    expect(matches.map((match) => match.id).sort()).toEqual(['a5', 'x'])
  })

  it('is never another tenant’s than the writer’s: a record naming another tenant is refused', async () => {
    const { encryption } = await world()
    const context = { collection: 'docs', tenant: 'acme', principal: { id: 'alice', kind: 'user' as const, roles: [], scopes: [], attributes: {}, authenticator: 'table' } }
    await expect(encryption.protect([{ id: 'y', vector: unit(3), metadata: { tenant: 'globex' } }], context)).rejects.toSatisfy(InputError.isInstance)
  })
})

describe('an id the vector binding cannot tell apart from another', () => {
  it('is dropped on read: a vector the store copied onto a lone-surrogate twin of an id does not come back', async () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    const adapter = memoryAdapter()
    const tenancy = definePolicy({
      id: 'p',
      tenancy: { field: 'tenant' },
      roles: {
        writer: { allow: [{ actions: ['record.query', 'record.fetch', 'record.upsert', 'vectors.read'], collections: ['docs'] }] },
        admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
      },
    })
    const encryption = vectorEncryption({ keyring, tenantField: 'tenant', collections: { docs: { metric: 'euclidean', dimension: 4 } } })
    const warden = createWarden({ adapter, authenticators: [tableAuthenticator()], policy: tenancy, audit: memoryAuditSink(), encryption })
    await (await warden.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension: 4, distance: 'euclidean' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await alice.upsert('docs', [{ id: 'doc\uFFFD', vector: [1, 2, 3, 4] }])
    const { records } = await adapter.doFetch({ collection: 'docs', ids: ['doc\uFFFD'], includeMetadata: true, includeVectors: true })
    // UTF-8 maps the lone surrogate to U+FFFD: the twin's binding is the original's
    await adapter.doUpsert({ collection: 'docs', records: [{ id: 'doc\uD800', vector: records[0]?.vector as number[], metadata: records[0]?.metadata }] })
    const { matches } = await alice.query('docs', { vector: [1, 2, 3, 4], topK: 5, includeVectors: true })
    expect(matches.map((match) => match.id)).toEqual(['doc\uFFFD'])
  })
})

describe('field and vector encryption together', () => {
  it('must be given field encryption first: the other order, which failed every write, is a ConfigError', () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    const fields = fieldEncryption({ keyring, collections: { docs: { encrypt: ['body'] } } })
    const vectors = vectorEncryption({ keyring, collections: { docs: { metric: 'cosine', dimension } } })
    const options = { adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy, audit: memoryAuditSink() }
    expect(() => createWarden({ ...options, encryption: [vectors, fields] })).toThrow(ConfigError)
    expect(() => createWarden({ ...options, encryption: [fields, vectors] })).not.toThrow()
  })
})
