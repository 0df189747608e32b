// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// a multi-tenant RAG policy and store used by the invariant and leak-regression tests

import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { definePolicy, type PolicyDocument } from '../../src/policy/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { PolicyDecisionPoint } from '../../src/spec/policy.js'
import type { Metadata } from '../../src/spec/records.js'
import { spyAdapter, tokenTable } from './harness.js'

export const RAG_POLICY: PolicyDocument = {
  id: 'rag',
  tenancy: { field: 'tenant' },
  stamp: { owner: '${principal.id}' },
  collections: { hr: { labels: ['pii'], fields: { name: {}, dept: {}, ssn: { labels: ['restricted'] } } } },
  roles: {
    reader: {
      allow: [
        {
          id: 'read-by-group',
          actions: ['record.query', 'record.fetch', 'record.count', 'record.scroll'],
          collections: ['docs'],
          rowFilter: { groups: { $in: '${principal.attributes.groups}' } },
        },
      ],
    },
    writer: {
      inherits: ['reader'],
      allow: [{ id: 'write-docs', actions: ['record.upsert', 'record.update', 'record.delete'], collections: ['docs'] }],
      limits: { maxDelete: 2 },
    },
    tenantWide: { allow: [{ id: 'read-tenant', actions: ['record.query', 'record.fetch'], collections: ['docs'] }] },
    embedder: { allow: [{ id: 'vectors', actions: ['vectors.read'], collections: ['docs'] }] },
    limited: { allow: [{ id: 'limited-read', actions: ['record.query', 'record.fetch'], collections: ['docs'] }], limits: { maxTopK: 2, maxIds: 2 } },
    hr: { allow: [{ id: 'hr-read', actions: ['record.query', 'record.fetch', 'record.upsert'], collections: ['hr'], labels: ['pii'] }] },
    admin: { allow: [{ id: 'admin', actions: ['collection.*'] }] },
  },
}

const base = { kind: 'user' as const, scopes: [], authenticator: 'table' }
export const PEOPLE = {
  alice: { ...base, id: 'alice', tenant: 'acme', roles: ['writer'], attributes: { groups: ['eng', 'all'] } },
  bob: { ...base, id: 'bob', tenant: 'globex', roles: ['writer'], attributes: { groups: ['eng', 'all'] } },
  carol: { ...base, id: 'carol', tenant: 'acme', roles: ['reader', 'embedder'], attributes: { groups: ['sales'] } },
  nogroups: { ...base, id: 'dave', tenant: 'acme', roles: ['reader'], attributes: { groups: [] } },
  noattribute: { ...base, id: 'erin', tenant: 'acme', roles: ['reader'], attributes: {} },
  notenant: { ...base, id: 'frank', roles: ['writer'], attributes: { groups: ['eng'] } },
  emptytenant: { ...base, id: 'gina', tenant: '', roles: ['writer'], attributes: { groups: ['eng'] } },
  wide: { ...base, id: 'hank', tenant: 'acme', roles: ['reader', 'tenantWide'], attributes: { groups: ['sales'] } },
  limited: { ...base, id: 'ivan', tenant: 'acme', roles: ['limited'], attributes: {} },
  hr: { ...base, id: 'judy', tenant: 'acme', roles: ['hr'], attributes: {} },
  nobody: { ...base, id: 'kim', tenant: 'acme', roles: [], attributes: {} },
  injected: { ...base, id: 'leo', tenant: 'acme', roles: ['reader'], attributes: { groups: ['") or true or ("'] } },
} satisfies Record<string, Principal>

export type Person = keyof typeof PEOPLE

/** Records behind the warden: two tenants, groups as ACLs, one record without any ACL field. */
export const ROWS: { id: string; vector: number[]; metadata: Metadata }[] = [
  { id: 'acme-eng', vector: [1, 0], metadata: { tenant: 'acme', groups: ['eng'], title: 'acme eng', public: false } },
  { id: 'acme-sales', vector: [0.9, 0.1], metadata: { tenant: 'acme', groups: ['sales'], title: 'acme sales', public: true } },
  { id: 'acme-all', vector: [0.8, 0.2], metadata: { tenant: 'acme', groups: ['all'], title: 'acme all', public: true } },
  { id: 'acme-noacl', vector: [0.7, 0.3], metadata: { tenant: 'acme', title: 'acme without acl' } },
  { id: 'acme-injected', vector: [0.6, 0.4], metadata: { tenant: 'acme', groups: ['") or true or ("'], title: 'literal' } },
  { id: 'globex-eng', vector: [1, 0], metadata: { tenant: 'globex', groups: ['eng'], title: 'globex eng', public: true } },
  { id: 'globex-all', vector: [0.95, 0.05], metadata: { tenant: 'globex', groups: ['all'], title: 'globex all' } },
  { id: 'untenanted', vector: [0.5, 0.5], metadata: { groups: ['eng', 'sales', 'all'], title: 'no tenant at all' } },
]

export const HR_ROWS: { id: string; vector: number[]; metadata: Metadata }[] = [
  { id: 'p1', vector: [1, 0], metadata: { tenant: 'acme', name: 'Ann', dept: 'ops', ssn: '123-45-6789', note: 'undeclared' } },
  { id: 'p2', vector: [0, 1], metadata: { tenant: 'globex', name: 'Ben', dept: 'ops', ssn: '987-65-4321' } },
]

export async function rag(options: { lie?: boolean; policy?: PolicyDecisionPoint } = {}) {
  const store = memoryAdapter()
  await store.doCreateCollection({ name: 'docs', dimension: 2, distance: 'cosine' })
  await store.doCreateCollection({ name: 'hr', dimension: 2, distance: 'cosine' })
  await store.doUpsert({ collection: 'docs', records: ROWS.map((row) => ({ ...row, vector: [...row.vector] })) })
  await store.doUpsert({ collection: 'hr', records: HR_ROWS.map((row) => ({ ...row, vector: [...row.vector] })) })
  const spied = spyAdapter(store, options.lie ? { lie: true } : {})
  const people = Object.values(PEOPLE)
  const { authenticator, tokens } = tokenTable(people)
  const audit = memoryAuditSink()
  const policy = options.policy ?? definePolicy(RAG_POLICY)
  const warden = createWarden({ adapter: spied.adapter, authenticators: [authenticator], policy, audit })
  const names = Object.keys(PEOPLE) as Person[]
  const as = (person: Person) => warden.session(`Bearer ${tokens[names.indexOf(person)]}`)
  return { store, spied, audit, warden, as, policy, tokens }
}

export const ids = (list: readonly { id: string }[]) => list.map((item) => item.id).sort()
