// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { evaluateFilter } from '../../src/filter/index.js'
import { definePolicy, type PolicyDocument } from '../../src/policy/index.js'
import type { FilterNode } from '../../src/spec/filter.js'
import { allowed, deniedCode, NOW, principal, request } from './helpers.js'

const quickstart: PolicyDocument = {
  id: 'quickstart',
  tenancy: { field: 'tenant' },
  roles: {
    reader: { allow: [{ actions: ['record.query', 'record.fetch', 'record.count'], collections: ['docs'] }] },
    writer: { inherits: ['reader'], allow: [{ actions: ['record.upsert', 'record.update', 'record.delete'], collections: ['docs'] }] },
    admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
  },
}

const matches = (filter: FilterNode | null, metadata: Record<string, string | number | boolean | string[]>) =>
  filter === null || evaluateFilter(filter, metadata)

describe('RBAC', () => {
  const policy = definePolicy(quickstart)

  it('denies by default: no role, an unknown role, an action no rule names', () => {
    expect(deniedCode(policy.decide(request(principal(), 'record.query')))).toBe('no_matching_rule')
    expect(deniedCode(policy.decide(request(principal({ roles: ['ghost'] }), 'record.query')))).toBe('no_matching_rule')
    expect(deniedCode(policy.decide(request(principal({ roles: ['reader'] }), 'record.delete')))).toBe('no_matching_rule')
    expect(deniedCode(policy.decide(request(principal({ roles: ['reader'] }), 'record.query', 'other')))).toBe('no_matching_rule')
  })

  it('inherits the rules of parent roles', () => {
    const writer = principal({ roles: ['writer'] })
    expect(allowed(policy.decide(request(writer, 'record.query'))).rowFilter).toEqual({ kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' })
    expect(allowed(policy.decide(request(writer, 'record.upsert'))).stamp).toEqual({ tenant: 'acme' })
  })

  it('every decision names the policy id and content version, and allow names the matched rules', () => {
    const decision = policy.decide(request(principal({ roles: ['writer'] }), 'record.query'))
    expect(decision.policy).toEqual({ id: 'quickstart', version: policy.version })
    expect(decision.matchedRules).toEqual(['reader.allow[0]'])
    const denied = policy.decide(request(principal(), 'record.query'))
    expect(denied.policy).toEqual({ id: 'quickstart', version: policy.version })
    expect(denied.effect === 'deny' && denied.reasons.length).toBeGreaterThan(0)
  })

  it('collection management needs no tenant and is not confined for a principal without one', () => {
    const admin = principal({ roles: ['admin'], tenant: undefined, kind: 'service' })
    const obligations = allowed(policy.decide(request(admin, 'collection.create', 'anything')))
    expect(obligations.rowFilter).toBeNull()
    expect(obligations.tenantField).toBe('tenant')
    expect(allowed(policy.decide(request(admin, 'collection.list', null))).rowFilter).toBeNull()
  })

  it('a principal without a tenant gets nothing on record operations (never "no filter")', () => {
    for (const tenant of [undefined, '']) {
      const drifter = principal({ roles: ['writer'], tenant })
      for (const action of ['record.query', 'record.fetch', 'record.upsert', 'record.delete'] as const) {
        expect(deniedCode(policy.decide(request(drifter, action)))).toBe('tenant_required')
      }
    }
  })

  it('a request without a collection only matches rules that cover every collection', () => {
    const doc = definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['collection.list'], collections: ['docs'] }] }, all: { allow: [{ actions: ['collection.list'] }] } } })
    expect(deniedCode(doc.decide(request(principal({ roles: ['r'] }), 'collection.list', null)))).toBe('no_matching_rule')
    allowed(doc.decide(request(principal({ roles: ['all'] }), 'collection.list', null)))
  })

  it('matches collections and namespaces by glob', () => {
    const doc = definePolicy({
      id: 'p',
      roles: { r: { allow: [{ actions: ['record.query'], collections: ['kb-*', 'exact'], namespaces: ['eu-?'] }] } },
    })
    const who = principal({ roles: ['r'] })
    allowed(doc.decide({ ...request(who, 'record.query', 'kb-2024'), resource: { collection: 'kb-2024', namespace: 'eu-1' } }))
    expect(doc.decide({ ...request(who, 'record.query', 'kb-2024'), resource: { collection: 'kb-2024', namespace: 'us-1' } }).effect).toBe('deny')
    expect(doc.decide({ ...request(who, 'record.query', 'kb-2024'), resource: { collection: 'kb-2024' } }).effect).toBe('deny')
    expect(doc.decide({ ...request(who, 'record.query', 'exactly'), resource: { collection: 'exactly', namespace: 'eu-1' } }).effect).toBe('deny')
    expect(doc.decide({ ...request(who, 'record.query', 'kb.x'), resource: { collection: 'xkb-1', namespace: 'eu-1' } }).effect).toBe('deny')
  })

  it('denies a malformed request instead of throwing', () => {
    expect(deniedCode(policy.decide({} as never))).toBe('invalid_request')
    expect(deniedCode(policy.decide({ ...request(principal({ roles: ['reader'] }), 'record.query'), action: 'record.read' as never }))).toBe('invalid_request')
    expect(deniedCode(policy.decide({ ...request(principal({ roles: ['reader'] }), 'record.query'), now: Number.NaN }))).toBe('invalid_request')
    expect(deniedCode(policy.decide({ ...request(principal({ roles: ['reader'] }), 'record.query'), principal: { id: 'x' } as never }))).toBe('invalid_request')
  })
})

describe('deny rules', () => {
  const document: PolicyDocument = {
    id: 'p',
    roles: {
      reader: { allow: [{ actions: ['record.*'], collections: ['*'] }] },
      contractor: { deny: [{ id: 'no-hr', actions: ['*'], collections: ['hr-*'] }] },
    },
    deny: [{ id: 'blocked-net', actions: ['*'], when: { ip: ['203.0.113.0/24'] } }],
  }
  const policy = definePolicy(document)

  it('a deny of any held role overrides every allow', () => {
    const who = principal({ roles: ['reader', 'contractor'] })
    const context = { ip: '198.51.100.1' }
    const decision = policy.decide(request(who, 'record.query', 'hr-people', { context }))
    expect(deniedCode(decision)).toBe('denied_by_rule')
    expect(decision.matchedRules).toEqual(['no-hr'])
    allowed(policy.decide(request(who, 'record.query', 'docs', { context })))
  })

  it('a global deny applies to every principal', () => {
    const decision = policy.decide(request(principal({ roles: ['reader'] }), 'record.query', 'docs', { context: { ip: '203.0.113.9' } }))
    expect(deniedCode(decision)).toBe('denied_by_rule')
  })

  it('a deny whose condition cannot be evaluated (missing ip) applies: fail closed', () => {
    expect(deniedCode(policy.decide(request(principal({ roles: ['reader'] }), 'record.query', 'docs')))).toBe('denied_by_rule')
    expect(deniedCode(policy.decide(request(principal({ roles: ['reader'] }), 'record.query', 'docs', { context: { ip: 'garbage' } })))).toBe('denied_by_rule')
    allowed(policy.decide(request(principal({ roles: ['reader'] }), 'record.query', 'docs', { context: { ip: '198.51.100.1' } })))
  })
})

describe('row filters', () => {
  const document: PolicyDocument = {
    id: 'rows',
    tenancy: { field: 'tenant' },
    roles: {
      department: { allow: [{ id: 'by-dept', actions: ['record.query'], collections: ['docs'], rowFilter: { department: { $in: '${principal.attributes.departments}' } } }] },
      owner: { allow: [{ id: 'own', actions: ['record.query'], collections: ['docs'], rowFilter: { owner: '${principal.id}' } }] },
      everything: { allow: [{ id: 'all', actions: ['record.query'], collections: ['docs'] }] },
      level: { allow: [{ id: 'level', actions: ['record.query'], collections: ['docs'], rowFilter: { level: { $lte: '${principal.attributes.clearance}' } } }] },
    },
  }
  const policy = definePolicy(document)

  it('binds principal attributes as data: a list becomes $in of exactly those values', () => {
    const who = principal({ roles: ['department'], attributes: { departments: ['hr', 'legal'] } })
    const filter = allowed(policy.decide(request(who, 'record.query'))).rowFilter
    expect(filter).toEqual({
      kind: 'and',
      children: [
        { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' },
        { kind: 'in', field: 'department', op: '$in', values: ['hr', 'legal'] },
      ],
    })
  })

  it('a missing or malformed attribute denies; it never becomes an empty or absent filter', () => {
    for (const attributes of [{}, { departments: null }, { departments: { $ne: 'x' } }, { departments: [{ nested: true }] }, { departments: Number.NaN }]) {
      const decision = policy.decide(request(principal({ roles: ['department'], attributes }), 'record.query'))
      expect(deniedCode(decision)).toBe('attribute_missing')
    }
  })

  it('an attribute value holding filter syntax is a literal value (mem0 #5744)', () => {
    const injected = '") or true or ("'
    const who = principal({ roles: ['department'], attributes: { departments: injected } })
    const filter = allowed(policy.decide(request(who, 'record.query'))).rowFilter
    expect(matches(filter, { tenant: 'acme', department: 'hr' })).toBe(false)
    expect(matches(filter, { tenant: 'acme', department: injected })).toBe(true)
    const objectInjection = principal({ roles: ['owner'], id: '{"$exists":true}' })
    const ownerFilter = allowed(policy.decide(request(objectInjection, 'record.query'))).rowFilter
    expect(matches(ownerFilter, { tenant: 'acme', owner: 'bob' })).toBe(false)
  })

  it('an empty attribute list grants nothing: the row filter is deny-all', () => {
    const who = principal({ roles: ['department'], attributes: { departments: [] } })
    expect(allowed(policy.decide(request(who, 'record.query'))).rowFilter).toEqual({ kind: 'none' })
  })

  it('a range bound to a non-number attribute denies', () => {
    expect(deniedCode(policy.decide(request(principal({ roles: ['level'], attributes: { clearance: '3' } }), 'record.query')))).toBe('attribute_missing')
    const filter = allowed(policy.decide(request(principal({ roles: ['level'], attributes: { clearance: 3 } }), 'record.query'))).rowFilter
    expect(matches(filter, { tenant: 'acme', level: 3 })).toBe(true)
    expect(matches(filter, { tenant: 'acme', level: 4 })).toBe(false)
  })

  it('several roles with row filters combine by OR, still inside the tenant', () => {
    const who = principal({ roles: ['department', 'owner'], attributes: { departments: ['hr'] } })
    const decision = policy.decide(request(who, 'record.query'))
    const filter = allowed(decision).rowFilter
    expect([...decision.matchedRules].sort()).toEqual(['by-dept', 'own'])
    expect(matches(filter, { tenant: 'acme', department: 'hr', owner: 'bob' })).toBe(true)
    expect(matches(filter, { tenant: 'acme', department: 'it', owner: 'alice' })).toBe(true)
    expect(matches(filter, { tenant: 'acme', department: 'it', owner: 'bob' })).toBe(false)
    expect(matches(filter, { tenant: 'globex', department: 'hr', owner: 'alice' })).toBe(false)
  })

  it('a role without a row filter widens only within the tenant, never past it (Elasticsearch DLS lesson)', () => {
    const who = principal({ roles: ['department', 'everything'], attributes: { departments: ['hr'] } })
    const filter = allowed(policy.decide(request(who, 'record.query'))).rowFilter
    expect(filter).toEqual({ kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' })
    expect(matches(filter, { tenant: 'globex', department: 'hr' })).toBe(false)
  })

  it('a rule that fails to bind does not widen what the other rules grant', () => {
    const who = principal({ roles: ['department', 'owner'], attributes: {} })
    const filter = allowed(policy.decide(request(who, 'record.query'))).rowFilter
    expect(matches(filter, { tenant: 'acme', owner: 'alice' })).toBe(true)
    expect(matches(filter, { tenant: 'acme', owner: 'bob', department: 'hr' })).toBe(false)
  })

  it('stamps the tenant and policy stamps on writes, and denies a write whose stamp cannot be bound', () => {
    const stamped = definePolicy({
      id: 's',
      tenancy: { field: 'tenant' },
      stamp: { owner: '${principal.id}', team: '${principal.attributes.team}', source: 'warden' },
      roles: { w: { allow: [{ actions: ['record.upsert', 'record.query'] }] } },
    })
    const obligations = allowed(stamped.decide(request(principal({ roles: ['w'], attributes: { team: 'blue' } }), 'record.upsert')))
    expect(obligations.stamp).toEqual({ tenant: 'acme', owner: 'alice', team: 'blue', source: 'warden' })
    expect(allowed(stamped.decide(request(principal({ roles: ['w'], attributes: { team: 'blue' } }), 'record.query'))).stamp).toEqual({})
    expect(deniedCode(stamped.decide(request(principal({ roles: ['w'] }), 'record.upsert')))).toBe('attribute_missing')
  })
})

describe('fields, vectors, labels and limits', () => {
  const document: PolicyDocument = {
    id: 'hr',
    collections: {
      people: {
        labels: ['pii'],
        fields: { name: {}, department: {}, salary: { labels: ['confidential'] }, ssn: { labels: ['restricted'] } },
      },
    },
    roles: {
      recruiter: {
        allow: [
          { id: 'recruiter-read', actions: ['record.query', 'record.fetch'], collections: ['people'], labels: ['pii'], fields: { read: '*', write: [] } },
        ],
        limits: { maxTopK: 20, maxIds: 50 },
      },
      payroll: {
        inherits: ['recruiter'],
        allow: [{ id: 'payroll-read', actions: ['record.query', 'vectors.read'], collections: ['people'], labels: ['pii', 'confidential'], fields: { read: '*', decrypt: ['salary'] } }],
        limits: { maxTopK: 100 },
      },
      clearanceFromToken: {
        allow: [{ actions: ['record.query'], collections: ['people'], labels: '${principal.attributes.clearances}' }],
      },
      unlabelled: { allow: [{ actions: ['record.query'], collections: ['*'] }] },
      embedder: { allow: [{ actions: ['record.query', 'vectors.read'], collections: ['docs'] }] },
    },
  }
  const policy = definePolicy(document)

  it('a rule that does not clear a collection label does not apply', () => {
    expect(deniedCode(policy.decide(request(principal({ roles: ['unlabelled'] }), 'record.query', 'people')))).toBe('label_not_cleared')
    allowed(policy.decide(request(principal({ roles: ['unlabelled'] }), 'record.query', 'docs')))
  })

  it('"*" means the declared fields minus those with labels the rule does not clear', () => {
    const recruiter = allowed(policy.decide(request(principal({ roles: ['recruiter'] }), 'record.query', 'people')))
    expect([...(recruiter.readableFields as string[])].sort()).toEqual(['department', 'name'])
    expect(recruiter.writableFields).toEqual([])
    expect([...(recruiter.decryptableFields as string[])].sort()).toEqual(['department', 'name'])
    const payroll = allowed(policy.decide(request(principal({ roles: ['payroll'] }), 'record.query', 'people')))
    expect([...(payroll.readableFields as string[])].sort()).toEqual(['department', 'name', 'salary'])
    expect([...(payroll.decryptableFields as string[])].sort()).toEqual(['department', 'name', 'salary'])
  })

  it('labels bound from a principal attribute clear exactly those labels', () => {
    const who = principal({ roles: ['clearanceFromToken'], attributes: { clearances: ['pii', 'restricted'] } })
    expect([...(allowed(policy.decide(request(who, 'record.query', 'people'))).readableFields as string[])].sort()).toEqual(['department', 'name', 'ssn'])
    expect(deniedCode(policy.decide(request(principal({ roles: ['clearanceFromToken'] }), 'record.query', 'people')))).toBe('attribute_missing')
  })

  it('vectors are readable only with vectors.read, and only when asked for', () => {
    expect(allowed(policy.decide(request(principal({ roles: ['unlabelled'] }), 'record.query', 'docs', { includeVectors: true }))).readVectors).toBe(false)
    expect(allowed(policy.decide(request(principal({ roles: ['embedder'] }), 'record.query', 'docs', { includeVectors: true }))).readVectors).toBe(true)
    expect(allowed(policy.decide(request(principal({ roles: ['embedder'] }), 'record.query', 'docs'))).readVectors).toBe(false)
    expect(allowed(policy.decide(request(principal({ roles: ['embedder'] }), 'record.query', 'docs', { includeVectors: true }))).readVectors).toBe(true)
  })

  it('vectors.read alone grants no record access', () => {
    const doc = definePolicy({ id: 'v', roles: { v: { allow: [{ actions: ['vectors.read'] }] } } })
    expect(deniedCode(doc.decide(request(principal({ roles: ['v'] }), 'record.query', 'docs', { includeVectors: true })))).toBe('no_matching_rule')
  })

  it('limits come from the allowing roles: the most generous one wins, inherited limits apply', () => {
    const recruiter = allowed(policy.decide(request(principal({ roles: ['recruiter'] }), 'record.query', 'people')))
    expect([recruiter.maxTopK, recruiter.maxIds, recruiter.maxDelete]).toEqual([20, 50, undefined])
    const payroll = allowed(policy.decide(request(principal({ roles: ['payroll'] }), 'record.query', 'people')))
    expect(payroll.maxTopK).toBe(100)
    expect(payroll.maxIds).toBe(50)
  })

  it('policy-level limits apply to roles that set none', () => {
    const doc = definePolicy({ id: 'l', limits: { maxTopK: 10, maxDelete: 5 }, roles: { r: { allow: [{ actions: ['record.*'] }] } } })
    const obligations = allowed(doc.decide(request(principal({ roles: ['r'] }), 'record.delete')))
    expect([obligations.maxTopK, obligations.maxDelete]).toEqual([10, 5])
  })
})

describe('conditions (ABAC)', () => {
  const rule = (when: NonNullable<NonNullable<PolicyDocument['roles'][string]['allow']>[number]['when']>): PolicyDocument => ({
    id: 'abac',
    roles: { r: { allow: [{ actions: ['record.query'], when }] } },
  })
  const decide = (document: PolicyDocument, overrides: Parameters<typeof principal>[0] = {}, context = {}, now = NOW) =>
    definePolicy(document).decide(request(principal({ roles: ['r'], ...overrides }), 'record.query', 'docs', { context, now }))

  it('principal attributes: equality, membership, ranges, list attributes; missing fails', () => {
    const document = rule({ attributes: { department: 'hr', level: { $gte: 3 }, groups: ['a', 'b'] } })
    allowed(decide(document, { attributes: { department: 'hr', level: 3, groups: ['z', 'b'] } }))
    expect(deniedCode(decide(document, { attributes: { department: 'hr', level: 2, groups: ['a'] } }))).toBe('condition_failed')
    expect(deniedCode(decide(document, { attributes: { level: 5, groups: ['a'] } }))).toBe('condition_failed')
    expect(deniedCode(decide(document, { attributes: { department: 'hr', level: '9', groups: ['a'] } }))).toBe('condition_failed')
  })

  it('time windows in an IANA time zone, including windows that wrap midnight', () => {
    const business = rule({ time: { timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' } })
    allowed(decide(business, {}, {}, Date.parse('2026-03-04T10:30:00Z'))) // Wednesday 11:30 in Berlin
    expect(deniedCode(decide(business, {}, {}, Date.parse('2026-03-04T16:30:00Z')))).toBe('condition_failed') // 17:30
    expect(deniedCode(decide(business, {}, {}, Date.parse('2026-03-07T10:30:00Z')))).toBe('condition_failed') // Saturday
    // summer time: 07:30Z is 09:30 in Berlin in July, 08:30 in January
    allowed(decide(business, {}, {}, Date.parse('2026-07-01T07:30:00Z')))
    expect(deniedCode(decide(business, {}, {}, Date.parse('2026-01-07T07:30:00Z')))).toBe('condition_failed')
    const night = rule({ time: { timeZone: 'America/New_York', days: ['fri'], from: '22:00', to: '06:00' } })
    allowed(decide(night, {}, {}, Date.parse('2026-03-07T08:00:00Z'))) // Saturday 03:00 NY belongs to Friday's window
    expect(deniedCode(decide(night, {}, {}, Date.parse('2026-03-08T08:00:00Z')))).toBe('condition_failed') // Sunday 04:00
  })

  it('absolute validity windows', () => {
    const window = rule({ time: { timeZone: 'UTC', notBefore: '2026-03-01T00:00:00Z', notAfter: '2026-03-05T00:00:00Z' } })
    allowed(decide(window))
    expect(deniedCode(decide(window, {}, {}, Date.parse('2026-03-05T00:00:00Z')))).toBe('condition_failed')
  })

  it('client IP ranges, v4 and v6, with IPv4-mapped addresses', () => {
    const document = rule({ ip: ['10.0.0.0/8', '2001:db8::/32', '192.168.1.7'] })
    for (const ip of ['10.1.2.3', '::ffff:10.9.9.9', '2001:db8:1::5', '192.168.1.7']) allowed(decide(document, {}, { ip }))
    for (const ip of ['11.0.0.1', '2001:db9::1', '192.168.1.8', 'not-an-ip', '10.0.0.256']) {
      expect(decide(document, {}, { ip }).effect).toBe('deny')
    }
    expect(decide(document, {}, {}).effect).toBe('deny')
  })

  it('device posture: managed and compliant must be reported true', () => {
    const document = rule({ device: { managed: true, compliant: true } })
    allowed(decide(document, {}, { device: { managed: true, compliant: true } }))
    expect(decide(document, {}, { device: { managed: true, compliant: false } }).effect).toBe('deny')
    expect(decide(document, {}, { device: { managed: true } }).effect).toBe('deny')
    expect(decide(document, {}, {}).effect).toBe('deny')
  })

  it('risk score from the context, else the principal; a missing score denies unless the policy says otherwise', () => {
    const document = rule({ risk: { max: 0.5 } })
    allowed(decide(document, {}, { attributes: { riskScore: 0.2 } }))
    allowed(decide(document, { attributes: { riskScore: 0.5 } }))
    expect(decide(document, {}, { attributes: { riskScore: 0.9 } }).effect).toBe('deny')
    expect(decide(document, { attributes: { riskScore: 0.1 } }, { attributes: { riskScore: 0.9 } }).effect).toBe('deny')
    expect(decide(document, {}, { attributes: { riskScore: 'low' } }).effect).toBe('deny')
    expect(decide(document).effect).toBe('deny')
    allowed(decide(rule({ risk: { max: 0.5, missing: 'allow' } })))
  })

  it('MFA: step_up_required when only a fresh second factor is missing', () => {
    const document = rule({ mfa: { maxAgeSeconds: 300 } })
    allowed(decide(document, { amr: ['pwd', 'otp'], authTime: NOW - 60_000 }))
    expect(deniedCode(decide(document, { amr: ['pwd'], authTime: NOW - 60_000 }))).toBe('step_up_required')
    expect(deniedCode(decide(document, { amr: ['pwd', 'otp'], authTime: NOW - 600_000 }))).toBe('step_up_required')
    expect(deniedCode(decide(document, { amr: ['pwd', 'otp'] }))).toBe('step_up_required')
    expect(deniedCode(decide(document, { amr: ['pwd', 'otp'], authTime: NOW + 3_600_000 }))).toBe('step_up_required')
  })

  it('step-up is offered only when MFA is all that is missing', () => {
    const document = rule({ mfa: true, attributes: { department: 'hr' } })
    expect(deniedCode(decide(document, { amr: ['pwd'], attributes: { department: 'it' } }))).toBe('condition_failed')
    expect(deniedCode(decide(document, { amr: ['pwd'], attributes: { department: 'hr' } }))).toBe('step_up_required')
    const withDeny: PolicyDocument = { ...document, deny: [{ actions: ['*'], when: { attributes: { suspended: true } } }] }
    expect(deniedCode(decide(withDeny, { amr: ['pwd'], attributes: { department: 'hr', suspended: true } }))).toBe('denied_by_rule')
  })

  it('principal kind and authenticator', () => {
    const document = rule({ principal: { kinds: ['service'], authenticators: ['mtls'] } })
    allowed(decide(document, { kind: 'service', authenticator: 'mtls' }))
    expect(decide(document, { kind: 'user', authenticator: 'mtls' }).effect).toBe('deny')
    expect(decide(document, { kind: 'service', authenticator: 'jwt' }).effect).toBe('deny')
  })

  it('OAuth scopes: every listed scope must be held', () => {
    const document = rule({ principal: { scopes: ['vectors:read', 'kb'] } })
    allowed(decide(document, { scopes: ['kb', 'vectors:read', 'other'] }))
    expect(decide(document, { scopes: ['kb'] }).effect).toBe('deny')
  })

  it('context attributes', () => {
    const document = rule({ context: { channel: ['web', 'api'] } })
    allowed(decide(document, {}, { attributes: { channel: 'api' } }))
    expect(decide(document, {}, { attributes: { channel: 'cli' } }).effect).toBe('deny')
  })
})

describe('explanations never leak secrets', () => {
  it('reasons and rule ids hold no attribute values, tokens or tenant names of others', () => {
    const secret = 'tok-SECRET-VALUE-123456'
    const policy = definePolicy({
      id: 'p',
      tenancy: { field: 'tenant' },
      roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { owner: '${principal.attributes.missing}' }, when: { attributes: { level: { $gte: 2 } } } }] } },
    })
    const who = principal({ roles: ['r'], credentialId: secret, attributes: { level: 5, token: secret, ssn: '123-45-6789' } })
    for (const context of [{}, { attributes: { authorization: `Bearer ${secret}` } }]) {
      const decision = policy.decide(request(who, 'record.query', 'docs', { context }))
      const text = JSON.stringify(decision)
      expect(text).not.toContain(secret)
      expect(text).not.toContain('123-45-6789')
    }
  })
})

describe('namespaces bound to the principal', () => {
  const policy = definePolicy({
    id: 'ns',
    roles: {
      tenant: { allow: [{ actions: ['record.query'], collections: ['docs'], namespaces: ['${principal.tenant}', 'shared-*'] }] },
      blocked: { allow: [{ actions: ['record.query'] }], deny: [{ actions: ['*'], namespaces: ['${principal.attributes.quarantined}'] }] },
    },
  })
  const ask = (who: ReturnType<typeof principal>, namespace?: string) =>
    policy.decide({ ...request(who, 'record.query', 'docs'), resource: namespace === undefined ? { collection: 'docs' } : { collection: 'docs', namespace } })

  it('a namespace placeholder matches exactly the principal\'s value (namespace per tenant)', () => {
    const acme = principal({ roles: ['tenant'], tenant: 'acme' })
    allowed(ask(acme, 'acme'))
    allowed(ask(acme, 'shared-docs'))
    expect(ask(acme, 'globex').effect).toBe('deny')
    expect(ask(acme, 'acm*').effect).toBe('deny')
    expect(ask(acme).effect).toBe('deny')
    // the memo of resource matches must not carry one principal's namespace over to another
    expect(ask(principal({ roles: ['tenant'], tenant: 'globex' }), 'acme').effect).toBe('deny')
    expect(ask(principal({ roles: ['tenant'], tenant: undefined }), 'acme').effect).toBe('deny')
  })

  it('a deny bound to a missing attribute applies (fail closed)', () => {
    expect(deniedCode(ask(principal({ roles: ['blocked'], attributes: {} }), 'x'))).toBe('denied_by_rule')
    expect(deniedCode(ask(principal({ roles: ['blocked'], attributes: { quarantined: 'x' } }), 'x'))).toBe('denied_by_rule')
    allowed(ask(principal({ roles: ['blocked'], attributes: { quarantined: 'y' } }), 'x'))
  })
})

describe('placeholders from the request context', () => {
  it('binds ${context.attributes.…} per request, and a missing one denies', () => {
    const policy = definePolicy({
      id: 'ctx',
      roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { project: '${context.attributes.project}' } }] } },
    })
    const who = principal({ roles: ['r'] })
    const first = allowed(policy.decide(request(who, 'record.query', 'docs', { context: { attributes: { project: 'apollo' } } }))).rowFilter
    const second = allowed(policy.decide(request(who, 'record.query', 'docs', { context: { attributes: { project: 'gemini' } } }))).rowFilter
    expect(first).toEqual({ kind: 'cmp', field: 'project', op: '$eq', value: 'apollo' })
    expect(second).toEqual({ kind: 'cmp', field: 'project', op: '$eq', value: 'gemini' })
    expect(deniedCode(policy.decide(request(who, 'record.query', 'docs')))).toBe('attribute_missing')
  })

  it('a principal attribute changed in place is never served a stale bound filter', () => {
    const policy = definePolicy({ id: 'm', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { dept: { $in: '${principal.attributes.depts}' } } }] } } })
    const depts = ['hr']
    const who = principal({ roles: ['r'], attributes: { depts } })
    expect(allowed(policy.decide(request(who, 'record.query'))).rowFilter).toEqual({ kind: 'in', field: 'dept', op: '$in', values: ['hr'] })
    depts[0] = 'finance'
    expect(allowed(policy.decide(request(who, 'record.query'))).rowFilter).toEqual({ kind: 'in', field: 'dept', op: '$in', values: ['finance'] })
  })

  it('bound row filters are frozen: a caller cannot widen the next decision by mutating one', () => {
    const policy = definePolicy({ id: 'f', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { owner: '${principal.id}' } }] } } })
    const filter = allowed(policy.decide(request(principal({ roles: ['r'] }), 'record.query'))).rowFilter as { value: string }
    expect(() => {
      filter.value = 'everyone'
    }).toThrow(TypeError)
  })
})

describe('time windows against arithmetic (fixed-offset zones)', () => {
  it('agrees with a hand computation of local weekday and minute, including windows that wrap midnight', () => {
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
    const hhmm = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
    fc.assert(
      fc.property(
        fc.integer({ min: -12, max: 12 }),
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 0, max: 1439 }),
        fc.uniqueArray(fc.constantFrom(...days), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        (offsetHours, from, to, allowedDays, now) => {
          fc.pre(from !== to)
          // Etc/GMT-3 is UTC+3 (the sign is inverted by POSIX convention)
          const timeZone = offsetHours === 0 ? 'UTC' : `Etc/GMT${offsetHours > 0 ? '-' : '+'}${Math.abs(offsetHours)}`
          const policy = definePolicy({ id: 't', roles: { r: { allow: [{ actions: ['record.query'], when: { time: { timeZone, days: allowedDays, from: hhmm(from), to: hhmm(to) } } }] } } })
          const local = new Date(now + offsetHours * 3_600_000)
          const minute = local.getUTCHours() * 60 + local.getUTCMinutes()
          const weekday = (local.getUTCDay() + 6) % 7
          const inWindow = from < to ? minute >= from && minute < to : minute >= from || minute < to
          const day = from > to && minute < to ? (weekday + 6) % 7 : weekday
          const expected = inWindow && allowedDays.includes(days[day] as (typeof days)[number])
          const decision = policy.decide(request(principal({ roles: ['r'] }), 'record.query', 'docs', { now }))
          expect(decision.effect).toBe(expected ? 'allow' : 'deny')
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('malformed principals from custom authenticators', () => {
  it('a principal without attributes is decided (denied where attributes are needed), never a throw', () => {
    const policy = definePolicy({
      id: 'm',
      roles: {
        r: {
          allow: [
            { actions: ['record.query'], when: { risk: { max: 0.5 }, attributes: { a: 1 } }, rowFilter: { owner: '${principal.attributes.owner}' } },
            { actions: ['record.fetch'] },
          ],
        },
      },
    })
    const who = { ...principal({ roles: ['r'] }), attributes: undefined as never }
    expect(policy.decide(request(who, 'record.query')).effect).toBe('deny')
    expect(policy.decide(request(who, 'record.fetch')).effect).toBe('allow')
  })
})
