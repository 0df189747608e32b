import { describe, expect, it } from 'vitest'
import { evaluateFilter, parseFilter } from '../../src/filter/index.js'
import { allOf, definePolicy, firstApplicable, functionPolicy } from '../../src/policy/index.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { allowed, deniedCode, principal, request } from './helpers.js'

const builtIn = definePolicy({
  id: 'builtin',
  tenancy: { field: 'tenant' },
  roles: { reader: { allow: [{ actions: ['record.query'], fields: { read: ['title', 'body', 'lang'] } }], limits: { maxTopK: 50 } } },
})
const reader = principal({ roles: ['reader'] })

describe('functionPolicy', () => {
  it('true allows with the least-privilege defaults, false denies', () => {
    const yes = functionPolicy(() => true, { id: 'yes' })
    const obligations = allowed(yes.decide(request(reader, 'record.query')) as Decision)
    expect(obligations).toMatchObject({ rowFilter: null, decryptableFields: [], readVectors: false })
    expect(deniedCode(functionPolicy(() => false).decide(request(reader, 'record.query')) as Decision)).toBe('denied_by_function')
  })

  it('a throw, a rejection or a malformed answer denies', async () => {
    const throwing = functionPolicy(() => {
      throw new Error('opa down: token=abc')
    })
    const decision = throwing.decide(request(reader, 'record.query')) as Decision
    expect(deniedCode(decision)).toBe('pdp_error')
    expect(JSON.stringify(decision)).not.toContain('token=abc')
    expect(deniedCode(await functionPolicy(async () => Promise.reject(new Error('x'))).decide(request(reader, 'record.query')))).toBe('pdp_error')
    const malformed = functionPolicy(() => ({ effect: 'allow', obligations: { readableFields: 7 as never } }))
    expect(deniedCode(malformed.decide(request(reader, 'record.query')) as Decision)).toBe('invalid_decision')
    const weird = functionPolicy(() => ({ effect: 'maybe' }) as never)
    expect(deniedCode(weird.decide(request(reader, 'record.query')) as Decision)).toBe('invalid_decision')
  })

  it('refuses a negative row filter from an external engine', () => {
    const negative = functionPolicy(() => ({ effect: 'allow', obligations: { rowFilter: parseFilter({ tenant: { $ne: 'globex' } }) } }))
    expect(deniedCode(negative.decide(request(reader, 'record.query')) as Decision)).toBe('invalid_decision')
  })
})

describe('allOf', () => {
  const tenantOnly = functionPolicy(
    () => ({ effect: 'allow', obligations: { rowFilter: parseFilter({ region: 'eu' }), readableFields: ['title', 'lang'], readVectors: true, maxTopK: 10 } }),
    { id: 'region' },
  )

  it('allows only when every member allows, with the strictest obligations', () => {
    const combined = allOf(builtIn, tenantOnly)
    const decision = combined.decide(request(reader, 'record.query')) as Decision
    const obligations = allowed(decision)
    expect(obligations.readableFields).toEqual(['title', 'lang'])
    expect(obligations.readVectors).toBe(false)
    expect(obligations.maxTopK).toBe(10)
    const filter = obligations.rowFilter
    expect(filter && evaluateFilter(filter, { tenant: 'acme', region: 'eu' })).toBe(true)
    expect(filter && evaluateFilter(filter, { tenant: 'acme', region: 'us' })).toBe(false)
    expect(filter && evaluateFilter(filter, { tenant: 'globex', region: 'eu' })).toBe(false)
    expect(decision.matchedRules).toEqual(['builtin:reader.allow[0]'])
    expect(decision.policy?.version).toContain(builtIn.version)
  })

  it('any deny denies; a deny-all from one member stays deny-all', () => {
    expect(allOf(builtIn, functionPolicy(() => false)).decide(request(reader, 'record.query'))).toMatchObject({ effect: 'deny' })
    const none = functionPolicy(() => ({ effect: 'allow', obligations: { rowFilter: { kind: 'none' } } }))
    expect(allowed(allOf(builtIn, none).decide(request(reader, 'record.query')) as Decision).rowFilter).toEqual({ kind: 'none' })
  })

  it('is asynchronous when a member is, and still denies on a rejection', async () => {
    const slow: PolicyDecisionPoint = { id: 'slow', version: '1', decide: async () => ({ effect: 'allow', obligations: allowed(builtIn.decide(request(reader, 'record.query'))), matchedRules: [] }) }
    const result = allOf(builtIn, slow).decide(request(reader, 'record.query'))
    expect(result).toBeInstanceOf(Promise)
    expect((await result).effect).toBe('allow')
    const failing: PolicyDecisionPoint = { id: 'f', version: '1', decide: async () => Promise.reject(new Error('down')) }
    expect(deniedCode(await allOf(builtIn, failing).decide(request(reader, 'record.query')))).toBe('pdp_error')
  })

  it('conflicting stamps deny', () => {
    const a = functionPolicy(() => ({ effect: 'allow', obligations: { stamp: { owner: 'a' } } }), { id: 'a' })
    const b = functionPolicy(() => ({ effect: 'allow', obligations: { stamp: { owner: 'b' } } }), { id: 'b' })
    expect(deniedCode(allOf(a, b).decide(request(reader, 'record.upsert')) as Decision)).toBe('conflicting_obligations')
  })
})

describe('firstApplicable', () => {
  it('answers with the first member that applies; a not-applicable deny falls through', () => {
    const breakGlass = functionPolicy((r) => (r.principal.attributes.breakGlass === true ? true : { effect: 'deny', code: 'not_applicable' }), { id: 'glass' })
    const combined = firstApplicable(breakGlass, builtIn)
    expect(allowed(combined.decide(request(reader, 'record.query')) as Decision).rowFilter).not.toBeNull()
    expect(allowed(combined.decide(request(principal({ attributes: { breakGlass: true } }), 'record.delete')) as Decision).rowFilter).toBeNull()
    expect(deniedCode(combined.decide(request(principal(), 'record.delete')) as Decision)).toBe('no_matching_rule')
  })

  it('a member that throws denies; it does not fall through to a more permissive member', () => {
    const broken: PolicyDecisionPoint = {
      id: 'broken',
      version: '1',
      decide: () => {
        throw new Error('boom')
      },
    }
    const permissive = functionPolicy(() => true, { id: 'permissive' })
    expect(deniedCode(firstApplicable(broken, permissive).decide(request(reader, 'record.query')) as Decision)).toBe('pdp_error')
  })

  it('an applicable deny (e.g. denied_by_rule) stops the search', async () => {
    const denier = functionPolicy(async () => ({ effect: 'deny', code: 'denied_by_rule' }), { id: 'denier' })
    const permissive = functionPolicy(() => true, { id: 'permissive' })
    expect(deniedCode(await firstApplicable(denier, permissive).decide(request(reader, 'record.query')))).toBe('denied_by_rule')
    const notApplicable = functionPolicy(async () => ({ effect: 'deny', code: 'no_matching_rule' }), { id: 'na' })
    expect((await firstApplicable(notApplicable, permissive).decide(request(reader, 'record.query'))).effect).toBe('allow')
  })

  it('throws TypeError when given no decision points or something else', () => {
    expect(() => allOf()).toThrow(TypeError)
    expect(() => firstApplicable({} as never)).toThrow(TypeError)
    expect(() => functionPolicy(42 as never)).toThrow(TypeError)
  })
})

describe('combined decision points end to end', () => {
  it('allOf(built-in, function) through the warden: the external engine can only narrow', async () => {
    const { parseFilter: parse } = await import('../../src/filter/index.js')
    const { wardenWith } = await import('./harness.js')
    const external = functionPolicy(
      () => ({ effect: 'allow', obligations: { rowFilter: parse({ lang: 'en' }), readableFields: '*', decryptableFields: '*' } }),
      { id: 'external' },
    )
    const rows = [
      { id: 'a-en', vector: [1, 0], metadata: { tenant: 'acme', lang: 'en', title: 'x' } },
      { id: 'a-de', vector: [1, 0.1], metadata: { tenant: 'acme', lang: 'de', title: 'y' } },
      { id: 'g-en', vector: [1, 0.2], metadata: { tenant: 'globex', lang: 'en', title: 'z' } },
    ]
    const { warden, sessions } = await wardenWith(allOf(builtIn, external), [reader], rows)
    try {
      const { matches } = await sessions[0]!.query('docs', { vector: [1, 0], topK: 10, filter: { $or: [{ lang: 'de' }, { lang: 'en' }, { title: 'z' }] } })
      expect(matches.map((match) => match.id)).toEqual(['a-en'])
    } finally {
      await warden.close()
    }
  })
})
