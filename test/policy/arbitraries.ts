// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
// fast-check generators for policy tests: random policies, principals, records and adversarial caller filters

import fc from 'fast-check'
import type { PolicyDocument } from '../../src/policy/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { Action } from '../../src/spec/policy.js'
import type { Metadata } from '../../src/spec/records.js'

export const RECORD_ACTIONS: readonly Action[] = ['record.query', 'record.fetch', 'record.count', 'record.delete', 'record.upsert']
export const COLLECTIONS = ['docs', 'kb'] as const
const ROLE_NAMES = ['r0', 'r1', 'r2', 'r3'] as const

type Rule = NonNullable<PolicyDocument['roles'][string]['allow']>[number]
type DenyRule = NonNullable<PolicyDocument['roles'][string]['deny']>[number]

export const rowFilter: fc.Arbitrary<Record<string, unknown>> = fc.constantFrom<Record<string, unknown>>(
  { dept: '${principal.attributes.dept}' },
  { dept: { $in: '${principal.attributes.depts}' } },
  { owner: '${principal.id}' },
  { level: { $lte: '${principal.attributes.clearance}' } },
  { public: true },
  { $or: [{ public: true }, { dept: 'hr' }] },
  { tags: { $in: ['a', 'b'] } },
  { level: { $gte: 1, $lt: 3 } },
  { $and: [{ dept: 'it' }, { level: { $exists: true } }] },
  { $or: [{ owner: '${principal.id}' }, { dept: { $in: ['${principal.attributes.dept}', 'legal'] } }] },
)

const when: fc.Arbitrary<Rule['when']> = fc.constantFrom<Rule['when']>(
  { attributes: { clearance: { $gte: 2 } } },
  { attributes: { dept: 'hr' } },
  { attributes: { clearance: [0, 2] } },
  { attributes: { contractor: true } },
)

const actionPatterns = fc.uniqueArray(
  fc.constantFrom<Rule['actions'][number]>('record.query', 'record.fetch', 'record.count', 'record.delete', 'record.upsert', 'record.*', '*'),
  { minLength: 1, maxLength: 3 },
)
const collections = fc.option(fc.uniqueArray(fc.constantFrom('docs', 'kb', '*', 'd*', 'k?'), { minLength: 1, maxLength: 2 }), { nil: undefined })

export const allowRule: fc.Arbitrary<Rule> = fc
  .record(
    {
      actions: actionPatterns,
      collections,
      rowFilter: fc.option(rowFilter, { nil: undefined, freq: 2 }),
      when: fc.option(when, { nil: undefined, freq: 2 }),
    },
    { requiredKeys: ['actions'] },
  )
  .map((rule) => Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined)) as Rule)

export const denyRule: fc.Arbitrary<DenyRule> = fc
  .record({ actions: actionPatterns, collections, when: fc.option(when, { nil: undefined }) }, { requiredKeys: ['actions'] })
  .map((rule) => Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined)) as DenyRule)

/** Random policies: four roles, inheritance only towards lower-numbered roles (so never a cycle). */
export const policyDocument: fc.Arbitrary<PolicyDocument> = fc
  .record({
    tenancy: fc.boolean(),
    roles: fc.tuple(
      ...ROLE_NAMES.map((_, index) =>
        fc.record({
          inherits: fc.subarray(ROLE_NAMES.slice(0, index) as string[]),
          allow: fc.array(allowRule, { maxLength: 3 }),
          deny: fc.array(denyRule, { maxLength: 1 }).chain((rules) => fc.constantFrom(rules, [], [])),
        }),
      ),
    ),
    deny: fc.array(denyRule, { maxLength: 1 }).chain((rules) => fc.constantFrom(rules, [], [], [])),
  })
  .map(({ tenancy, roles, deny }) => ({
    id: 'random',
    ...(tenancy ? { tenancy: { field: 'tenant' } } : {}),
    roles: Object.fromEntries(roles.map((role, index) => [ROLE_NAMES[index] as string, role])),
    deny,
  }))

export const principal: fc.Arbitrary<Principal> = fc
  .record({
    id: fc.constantFrom('alice', 'bob'),
    tenant: fc.constantFrom<string | undefined>('acme', 'globex', undefined),
    roles: fc.subarray([...ROLE_NAMES, 'ghost'], { maxLength: 3 }),
    attributes: fc.record(
      {
        dept: fc.constantFrom<unknown>('hr', 'it', ['hr', 'it'], null),
        depts: fc.constantFrom<unknown>(['hr'], ['hr', 'legal'], [], 'it'),
        clearance: fc.constantFrom<unknown>(0, 1, 2, 3, '2'),
        contractor: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ tenant, ...rest }) => ({
    ...rest,
    ...(tenant === undefined ? {} : { tenant }),
    kind: 'user' as const,
    scopes: [],
    authenticator: 'table',
  }))

export const record: fc.Arbitrary<Metadata> = fc
  .record(
    {
      tenant: fc.constantFrom('acme', 'globex'),
      dept: fc.constantFrom('hr', 'it', 'legal'),
      owner: fc.constantFrom('alice', 'bob'),
      level: fc.constantFrom(0, 1, 2, 3),
      public: fc.boolean(),
      tags: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((metadata) => metadata as Metadata)

const callerLeaf: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.constantFrom<Record<string, unknown>>(
    {},
    { tenant: 'globex' },
    { tenant: { $ne: 'acme' } },
    { tenant: { $exists: false } },
    { owner: { $nin: ['alice'] } },
    { public: true },
    { dept: { $in: ['hr', 'legal'] } },
    { level: { $gte: 1 } },
    { tags: 'a' },
  ),
  fc.tuple(fc.constantFrom('tenant', 'dept', 'owner'), fc.constantFrom('acme', 'globex', 'hr', 'alice', 'bob')).map(([f, v]) => ({ [f]: v })),
)

/** Caller filters built to escape: `$or` with an always-true branch, `{}`, negative operators, deep nesting. */
export const callerFilter: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ filter: Record<string, unknown> }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    callerLeaf,
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $or: children })),
    fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((children) => ({ $and: children })),
    tie('filter').map((child) => ({ $or: [child, {}] })),
    tie('filter').map((child) => ({ $or: [child, { tenant: { $ne: 'nobody' } }] })),
  ),
})).filter
