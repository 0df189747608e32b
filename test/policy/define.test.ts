// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax under test
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { definePolicy, type PolicyDocument } from '../../src/policy/index.js'

const quickstart: PolicyDocument = {
  id: 'quickstart',
  tenancy: { field: 'tenant' },
  roles: {
    reader: { allow: [{ actions: ['record.query', 'record.fetch', 'record.count'], collections: ['docs'] }] },
    writer: { inherits: ['reader'], allow: [{ actions: ['record.upsert', 'record.update', 'record.delete'], collections: ['docs'] }] },
    admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
  },
}

function configError(build: () => unknown): ConfigError {
  try {
    build()
  } catch (error) {
    if (ConfigError.isInstance(error)) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('definePolicy: loading', () => {
  it("refuses ['*'] as a field set (a field named \"*\"), pointing to '*'", () => {
    const error = configError(() =>
      definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.fetch'], collections: ['docs'], fields: { decrypt: ['*'] } }] } } }),
    )
    expect(error.message).toContain("'*'")
  })

  it('accepts the quickstart document and exposes id, version and the frozen document', () => {
    const policy = definePolicy(quickstart)
    expect(policy.id).toBe('quickstart')
    expect(policy.version).toMatch(/^sha256:[0-9a-f]{32}$/)
    expect(Object.isFrozen(policy.document)).toBe(true)
    expect(Object.isFrozen(policy.document.roles)).toBe(true)
    expect(policy.ruleCount).toBe(3)
  })

  it('versions by content: key order does not matter, any change does', () => {
    const reordered = JSON.parse(JSON.stringify({ roles: quickstart.roles, tenancy: quickstart.tenancy, id: quickstart.id }))
    expect(definePolicy(reordered).version).toBe(definePolicy(quickstart).version)
    const changed = { ...quickstart, roles: { ...quickstart.roles, extra: {} } }
    expect(definePolicy(changed).version).not.toBe(definePolicy(quickstart).version)
  })

  it('does not alias the caller document: later mutation changes nothing', () => {
    const document = JSON.parse(JSON.stringify(quickstart)) as PolicyDocument & { roles: Record<string, { allow: { collections: string[] }[] }> }
    const policy = definePolicy(document)
    const version = policy.version
    document.roles.reader?.allow[0]?.collections.push('*')
    expect(policy.version).toBe(version)
    expect(policy.document.roles.reader?.allow?.[0]?.collections).toEqual(['docs'])
  })

  it('refuses unknown keys (a typo must not silently drop a restriction)', () => {
    const error = configError(() =>
      definePolicy({ ...quickstart, roles: { reader: { allow: [{ actions: ['record.query'], colections: ['docs'] }] } } } as never),
    )
    expect(error.message).toContain('roles.reader.allow.0')
  })

  it('refuses unknown actions', () => {
    configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.read' as never] }] } } }))
  })

  it('refuses role inheritance cycles, direct and indirect', () => {
    expect(configError(() => definePolicy({ id: 'p', roles: { a: { inherits: ['a'] } } })).reason).toBe('role_cycle')
    const error = configError(() => definePolicy({ id: 'p', roles: { a: { inherits: ['b'] }, b: { inherits: ['c'] }, c: { inherits: ['a'] } } }))
    expect(error.reason).toBe('role_cycle')
    expect(error.message).toMatch(/a -> b -> c -> a/)
  })

  it('refuses inheriting an unknown role', () => {
    expect(configError(() => definePolicy({ id: 'p', roles: { a: { inherits: ['ghost'] } } })).reason).toBe('unknown_role')
  })

  it('refuses duplicate rule ids', () => {
    const rule = { id: 'same', actions: ['record.query' as const] }
    expect(configError(() => definePolicy({ id: 'p', roles: { a: { allow: [rule] }, b: { allow: [rule] } } })).reason).toBe('duplicate_rule_id')
  })

  it.each([
    ['$ne', { tenant: { $ne: 'evil' } }],
    ['$nin', { tenant: { $nin: ['evil'] } }],
    ['$exists: false', { secret: { $exists: false } }],
    ['$ne inside $or', { $or: [{ public: true }, { owner: { $ne: 'x' } }] }],
    ['$nin inside $and', { $and: [{ public: true }, { owner: { $nin: ['x'] } }] }],
  ])('refuses a row filter that is not a positive allow-list (%s)', (_name, rowFilter) => {
    const error = configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], rowFilter }] } } }))
    expect(['negative_row_filter', 'negative_enforced_filter']).toContain(error.reason)
  })

  it('refuses an empty row filter (it would grant every record)', () => {
    configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: {} }] } } }))
  })

  it('refuses row-filter field names the filter language refuses', () => {
    for (const field of ['$where', 'a.b', 'x[0]', '']) {
      configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { [field]: 'v' } }] } } }))
    }
  })

  it.each([
    ['interpolation into a larger string', 'dept-${principal.attributes.department}'],
    ['an unknown root', '${process.env.SECRET}'],
    ['a prototype path', '${principal.attributes.__proto__}'],
    ['a principal credential', '${principal.credential}'],
    ['an unterminated placeholder', '${principal.id'],
  ])('refuses a malformed placeholder: %s', (_name, value) => {
    const error = configError(() =>
      definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { owner: value } }] } } }),
    )
    expect(['invalid_placeholder', 'invalid_row_filter']).toContain(error.reason)
  })

  it('refuses an unknown IANA time zone and malformed CIDR ranges', () => {
    configError(() =>
      definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], when: { time: { timeZone: 'Mars/Olympus', from: '09:00', to: '17:00' } } }] } } }),
    )
    for (const range of ['10.0.0.0/33', '10.0.0.1/8', '300.1.1.1', '::1/129', 'fe80::/10x']) {
      configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['record.query'], when: { ip: [range] } }] } } }))
    }
  })

  it('refuses a row filter on a rule that only grants vectors.read', () => {
    configError(() => definePolicy({ id: 'p', roles: { r: { allow: [{ actions: ['vectors.read'], rowFilter: { a: 1 } }] } } }))
  })

  it('refuses a stamp that would overwrite the tenancy field', () => {
    configError(() => definePolicy({ id: 'p', tenancy: { field: 'tenant' }, stamp: { tenant: 'x' }, roles: {} }))
  })

  it('throws TypeError (API misuse) for a non-object document', () => {
    expect(() => definePolicy(null as never)).toThrow(TypeError)
  })

  it('loads a policy of 50 roles and 200 rules', () => {
    const roles: PolicyDocument['roles'] = {}
    for (let r = 0; r < 50; r++) {
      roles[`role${r}`] = {
        ...(r > 0 ? { inherits: [`role${r - 1}`] } : {}),
        allow: Array.from({ length: 4 }, (_, k) => ({ actions: ['record.query' as const], collections: [`c${r}-${k}`] })),
      }
    }
    expect(definePolicy({ id: 'big', roles }).ruleCount).toBe(200)
  })
})

describe('definePolicy: versions and round trips', () => {
  it('a document round-trips through JSON to the same version (property over random policies)', async () => {
    const { policyDocument } = await import('./arbitraries.js')
    fc.assert(
      fc.property(policyDocument, (document) => {
        const policy = definePolicy(document)
        policy.grants.close()
        const again = definePolicy(JSON.parse(JSON.stringify(policy.document)))
        again.grants.close()
        expect(again.version).toBe(policy.version)
      }),
      { numRuns: 100 },
    )
  })
})
