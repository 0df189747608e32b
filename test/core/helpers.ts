// a small harness for pipeline tests: a token table authenticator, a scripted policy, spies around the memory adapter

import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden, type WardenOptions } from '../../src/core/index.js'
import { AuthenticationError } from '../../src/errors.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { Authenticator, Principal } from '../../src/spec/auth.js'
import type { FilterNode } from '../../src/spec/filter.js'
import type { Decision, Obligations, PolicyDecisionPoint, PolicyRequest } from '../../src/spec/policy.js'

export const TOKENS: Record<string, Principal> = {
  'tok-alice-0123456789': { id: 'alice', kind: 'user', tenant: 'acme', roles: ['writer'], scopes: [], attributes: {}, authenticator: 'table' },
  'tok-bob-0123456789': { id: 'bob', kind: 'user', tenant: 'globex', roles: ['writer'], scopes: [], attributes: {}, authenticator: 'table' },
  'tok-admin-0123456789': { id: 'root', kind: 'service', roles: ['admin'], scopes: [], attributes: {}, authenticator: 'table' },
  'tok-notenant-0123456789': { id: 'drifter', kind: 'user', roles: ['writer'], scopes: [], attributes: {}, authenticator: 'table' },
}

/** Recognises bearer tokens that start with `tok-`; anything else is not its shape. */
export function tableAuthenticator(table: Record<string, Principal> = TOKENS): Authenticator {
  return {
    name: 'table',
    recognizes: (credential) => credential.scheme === 'bearer' && credential.value.startsWith('tok-'),
    async authenticate(credential) {
      const principal = credential.scheme === 'bearer' ? table[credential.value] : undefined
      if (!principal) throw new AuthenticationError('unknown token', { reason: 'unknown_token' })
      return principal
    },
  }
}

export const tenantFilter = (tenant: string): FilterNode => ({ kind: 'cmp', field: 'tenant', op: '$eq', value: tenant })

export function obligations(overrides: Partial<Obligations> = {}): Obligations {
  return {
    rowFilter: null,
    stamp: {},
    readableFields: '*',
    writableFields: '*',
    decryptableFields: '*',
    readVectors: true,
    ...overrides,
  }
}

/**
 * A tenancy policy written out by hand: admins manage collections with no row filter; writers do record operations
 * confined to their tenant, stamped on write; a principal without a tenant matches nothing.
 */
export function tenancyPolicy(overrides: Partial<Obligations> = {}): PolicyDecisionPoint & { calls: PolicyRequest[] } {
  const calls: PolicyRequest[] = []
  return {
    id: 'test-tenancy',
    version: 'v1',
    calls,
    decide(request): Decision {
      calls.push(request)
      const { principal, action } = request
      if (principal.roles.includes('admin') && action.startsWith('collection.')) {
        return { effect: 'allow', obligations: obligations(), matchedRules: ['admin'] }
      }
      if (principal.roles.includes('writer') && (action.startsWith('record.') || action === 'collection.describe')) {
        const tenant = principal.tenant
        return {
          effect: 'allow',
          matchedRules: ['writer'],
          obligations: obligations({
            rowFilter: tenant === undefined ? { kind: 'none' } : tenantFilter(tenant),
            stamp: tenant === undefined ? {} : { tenant },
            tenantField: 'tenant',
            ...overrides,
          }),
        }
      }
      return { effect: 'deny', code: 'no_matching_rule', reasons: ['no rule allows this'], matchedRules: [] }
    },
  }
}

/** Wraps an adapter so every call is counted and its arguments kept. */
export function spy(adapter: VectorStoreAdapterV1, capabilities: Partial<VectorStoreAdapterV1['capabilities']> = {}) {
  const calls: { method: string; params: unknown }[] = []
  const wrapped = {
    specificationVersion: 'v1',
    provider: adapter.provider,
    capabilities: { ...adapter.capabilities, ...capabilities },
  } as Record<string, unknown>
  for (const method of ['doCreateCollection', 'doDeleteCollection', 'doListCollections', 'doDescribeCollection', 'doUpsert', 'doUpdate', 'doQuery', 'doFetch', 'doDelete', 'doCount', 'doScroll'] as const) {
    wrapped[method] = (params: never) => {
      calls.push({ method, params })
      return (adapter[method] as (p: never) => Promise<unknown>).call(adapter, params)
    }
  }
  return { adapter: wrapped as unknown as VectorStoreAdapterV1, calls, count: (method: string) => calls.filter((c) => c.method === method).length }
}

export async function setup(options: Partial<WardenOptions> & { capabilities?: Partial<VectorStoreAdapterV1['capabilities']> } = {}) {
  const store = memoryAdapter()
  const { capabilities, ...wardenOptions } = options
  const spied = spy(store, capabilities)
  const sink = memoryAuditSink()
  const policy = tenancyPolicy()
  const warden = createWarden({ adapter: spied.adapter, authenticators: [tableAuthenticator()], policy, audit: sink, ...wardenOptions })
  const admin = await warden.session('Bearer tok-admin-0123456789')
  await admin.createCollection('docs', { dimension: 3, distance: 'cosine' })
  const alice = await warden.session('Bearer tok-alice-0123456789')
  const bob = await warden.session('Bearer tok-bob-0123456789')
  await alice.upsert('docs', [
    { id: 'a1', vector: [1, 0, 0], metadata: { title: 'acme one', lang: 'en' } },
    { id: 'a2', vector: [0.9, 0.1, 0], metadata: { title: 'acme two', lang: 'de' } },
  ])
  await bob.upsert('docs', [
    { id: 'b1', vector: [1, 0, 0], metadata: { title: 'globex one', lang: 'en' } },
    { id: 'b2', vector: [0.8, 0.2, 0], metadata: { title: 'globex secret', lang: 'en' } },
  ])
  spied.calls.length = 0
  sink.clear()
  return { warden, store, spied, sink, policy, admin, alice, bob }
}
