// regressions from a security review of analytics in the pipeline: what the session hands analytics (decrypted
// fields, records returned, checked names), the risk score in listings, and a state store that answers with errors

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { createAnalytics } from '../../src/analytics/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import { AdapterError, AuthorizationError } from '../../src/errors.js'
import { definePolicy } from '../../src/policy/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { StateStore } from '../../src/state/index.js'
import { memoryStateStore } from '../../src/state/memory.js'
import { setup, tableAuthenticator, tenancyPolicy } from '../core/helpers.js'

const HOUR = 3_600_000
const quiet = { onAlarm: () => {} }

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  return undefined
}

function tablePrincipal(id: string, extra: Partial<Principal> = {}): Principal {
  return { id, kind: 'user', tenant: 'acme', roles: [], scopes: [], attributes: {}, authenticator: 'table', ...extra }
}

describe('what the pipeline hands analytics', () => {
  it('counts the protected fields each call decrypted, so the fieldsDecrypted metric can fire', async () => {
    const analytics = createAnalytics({ ...quiet, responses: { volume: 'deny' }, metrics: { fieldsDecrypted: { ceiling: 3 } } })
    const seen: (number | undefined)[] = []
    const spy = {
      ...analytics,
      after: (input: Parameters<typeof analytics.after>[0]) => {
        seen.push(input.fieldsDecrypted)
        return analytics.after(input)
      },
    }
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    const encryption = fieldEncryption({ keyring, collections: { docs: { encrypt: ['ssn', 'email'], keyScope: 'tenant' } } })
    const warden = createWarden({ adapter: memoryAdapter(), authenticators: [tableAuthenticator()], policy: tenancyPolicy(), audit: memoryAuditSink(), encryption, analytics: spy })
    await (await warden.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension: 3, distance: 'cosine' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await alice.upsert('docs', [
      { id: 'a1', vector: [1, 0, 0], metadata: { ssn: '1', email: 'a@x', lang: 'en' } },
      { id: 'a2', vector: [0, 1, 0], metadata: { ssn: '2', email: 'b@x', lang: 'en' } },
    ])
    seen.length = 0
    // 4 protected fields per fetch (the clear `lang` does not count): above the ceiling of 3
    const error = await rejection(alice.fetch('docs', ['a1', 'a2']))
    expect(seen).toEqual([4])
    expect(AuthorizationError.isInstance(error)).toBe(true)
  })

  it('counts only records returned: a count, an upsert or a listing feeds nothing into the records metric', async () => {
    const analytics = createAnalytics({ ...quiet, responses: { volume: 'deny' }, metrics: { records: { ceiling: 5 } } })
    const { alice } = await setup({ analytics })
    for (let i = 0; i < 4; i++) expect(await rejection(alice.count('docs', {}))).toBeUndefined()
    expect(await rejection(alice.upsert('docs', [1, 2, 3, 4, 5, 6].map((n) => ({ id: `u${n}`, vector: [1, 0, 0] }))))).toBeUndefined()
  })

  it('gives after() the collection name only once checked (never a raw name that failed the check)', async () => {
    const analytics = createAnalytics({ ...quiet, rateLimits: [{ scope: 'principal', capacity: 1, refillPerSecond: 0.001 }] })
    const collections: unknown[] = []
    const spy = {
      ...analytics,
      after: (input: Parameters<typeof analytics.after>[0]) => {
        collections.push(input.collection)
        return analytics.after(input)
      },
    }
    const { alice } = await setup({ analytics: spy })
    collections.length = 0
    const huge = `bad name ${'y'.repeat(100_000)}`
    for (let index = 0; index < 3; index++) await rejection(alice.query(`${huge}${index}`, { vector: [1, 0, 0], topK: 1 }))
    expect(collections).toEqual([undefined, undefined, undefined])
  })
})

describe('listCollections', () => {
  it('decides each collection with the analytics risk score, as describeCollection does', async () => {
    const analytics = createAnalytics({ ...quiet })
    // the identity provider says low risk; the warden's own analytics say 40
    const table = {
      'tok-alice-0123456789': tablePrincipal('alice', { roles: ['member'], attributes: { riskScore: 0 } }),
      'tok-admin-0123456789': tablePrincipal('root', { roles: ['admin'], tenant: undefined }),
    }
    const policy = definePolicy({
      id: 'risk',
      roles: {
        admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
        member: { allow: [{ actions: ['collection.list'], collections: ['*'] }, { actions: ['collection.describe'], collections: ['*'], when: { risk: { max: 30 } } }] },
      },
    })
    const warden = createWarden({ adapter: memoryAdapter(), authenticators: [tableAuthenticator(table)], policy, audit: memoryAuditSink(), analytics })
    await (await warden.session('Bearer tok-admin-0123456789')).createCollection('docs', { dimension: 3, distance: 'cosine' })
    const alice = await warden.session('Bearer tok-alice-0123456789')
    await analytics.store.execute([{ kind: 'score', key: 'p{acme||alice}:r', add: 40, halfLifeMs: HOUR, max: 100, now: Date.now(), ttlMs: HOUR }])
    expect(await analytics.riskScore(alice.principal)).toBeGreaterThan(30)
    expect(AuthorizationError.isInstance(await rejection(alice.describeCollection('docs')))).toBe(true)
    expect((await alice.listCollections()).map((info) => info.name)).toEqual([])
  })
})

describe('a shared state store that answers with an error (out of memory, a wrong type)', () => {
  it('denies the call in degrade mode too: it is reachable, and local state would not see the fleet’s containments', async () => {
    const alarms: string[] = []
    const rejecting: StateStore = {
      name: 'rejecting',
      execute: async () => {
        throw new AdapterError('state store rejected a command', { reason: 'state_rejected', isRetryable: false })
      },
      close: async () => {},
    }
    const analytics = createAnalytics({ onAlarm: (alarm) => alarms.push(alarm.kind), store: rejecting, onStoreFailure: 'degrade' })
    const verdict = await analytics.before({ principal: tablePrincipal('alice'), action: 'record.query', collection: 'docs', context: {}, now: Date.now() })
    expect(verdict.response).not.toBe('allow')
    await analytics.before({ principal: tablePrincipal('alice'), action: 'record.query', collection: 'docs', context: {}, now: Date.now() })
    expect(alarms).toEqual(['state_rejected'])
  })
})

describe('the memory state store when it is full', () => {
  it('never evicts a containment still in force: other principals’ calls do not lift it', async () => {
    const store = memoryStateStore({ maxKeys: 100 })
    const analytics = createAnalytics({
      ...quiet,
      store,
      responses: { volume: 'deny' },
      metrics: { records: { ceiling: 10 } },
      offHours: false,
      firstAccess: false,
      impossibleTravel: false,
      tenantBaselines: false,
    })
    const monday = Date.UTC(2026, 0, 5, 10)
    const mallory = tablePrincipal('mallory', { authenticator: 'jwt', issuer: 'https://idp.example' })
    await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: monday })
    expect((await analytics.after({ principal: mallory, action: 'record.query', outcome: 'allowed', recordCount: 50, now: monday })).response).toBe('deny')
    // sock puppets, one call each: their keys fill the store
    for (let index = 0; index < 200; index++) {
      await analytics.before({ principal: tablePrincipal(`puppet${index}`), action: 'record.query', context: {}, now: monday + 2000 })
    }
    expect((await analytics.before({ principal: mallory, action: 'record.query', context: {}, now: monday + 3000 })).response).toBe('deny')
  })
})
