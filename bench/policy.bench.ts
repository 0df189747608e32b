// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${…}` placeholders are the policy syntax being measured
// policy decisions: the built-in engine with 50 roles and 200 rules, beside a tiny policy and a bare hand-written check

import { definePolicy, type PolicyDocument } from '../src/policy/index.js'
import type { Principal } from '../src/spec/auth.js'
import type { Decision, PolicyRequest } from '../src/spec/policy.js'
import { compare, quick, report, us } from './harness.js'

function bigPolicy(roleCount: number, rulesPerRole: number): PolicyDocument {
  const roles: PolicyDocument['roles'] = {}
  for (let r = 0; r < roleCount; r++) {
    const allow: NonNullable<PolicyDocument['roles'][string]['allow']> = []
    for (let k = 0; k < rulesPerRole; k++) {
      const kind = (r + k) % 4
      allow.push({
        actions: kind === 0 ? ['record.query', 'record.fetch'] : kind === 1 ? ['record.*'] : kind === 2 ? ['record.query', 'vectors.read'] : ['collection.describe'],
        collections: kind === 1 ? [`kb-${r}-*`] : [`docs-${r % 10}`, 'docs'],
        ...(kind === 0 ? { rowFilter: { department: { $in: '${principal.attributes.departments}' } } } : {}),
        ...(kind === 2 ? { rowFilter: { owner: '${principal.id}' }, when: { attributes: { clearance: { $gte: 2 } } } } : {}),
      })
    }
    roles[`role${r}`] = { ...(r > 0 && r % 5 !== 0 ? { inherits: [`role${r - 1}`] } : {}), allow, limits: { maxTopK: 10 + r } }
  }
  return { id: 'bench', tenancy: { field: 'tenant' }, roles, deny: [{ actions: ['record.delete'], collections: ['archive-*'] }] }
}

export default async function (): Promise<void> {
  const document = bigPolicy(50, 4)
  const policy = definePolicy(document)
  policy.grants.close()
  const tiny = definePolicy({ id: 'tiny', tenancy: { field: 'tenant' }, roles: { reader: { allow: [{ actions: ['record.query'], collections: ['docs'] }] } } })
  tiny.grants.close()
  const principal: Principal = {
    id: 'alice',
    kind: 'user',
    tenant: 'acme',
    roles: ['role7', 'role23', 'role41'],
    scopes: [],
    attributes: { departments: ['hr', 'legal'], clearance: 3 },
    authenticator: 'bench',
  }
  const request: PolicyRequest = { principal, action: 'record.query', resource: { collection: 'docs' }, context: { ip: '10.0.0.1' }, now: Date.now() }
  const tinyRequest: PolicyRequest = { ...request, principal: { ...principal, roles: ['reader'] } }
  const withVectors: PolicyRequest = { ...request, includeVectors: true }
  // the floor: what a hand-written role check with a tenant filter costs
  const readers = new Set(['role7', 'role23'])
  const bare = (r: PolicyRequest): Decision =>
    r.principal.roles.some((role) => readers.has(role))
      ? {
          effect: 'allow',
          obligations: {
            rowFilter: { kind: 'cmp', field: 'tenant', op: '$eq', value: r.principal.tenant as string },
            stamp: {},
            readableFields: '*',
            writableFields: '*',
            decryptableFields: '*',
            readVectors: false,
          },
          matchedRules: ['bare'],
        }
      : { effect: 'deny', code: 'no_matching_rule', reasons: [], matchedRules: [] }
  if (policy.decide(request).effect !== 'allow') throw new Error('bench policy must allow the measured request')

  const results = await compare(
    {
      'built-in, 50 roles / 200 rules': () => policy.decide(request),
      'built-in, 50 roles / 200 rules, includeVectors': () => policy.decide(withVectors),
      'built-in, 1 role / 1 rule': () => tiny.decide(tinyRequest),
      'bare hand-written role check': () => bare(request),
    },
    { batch: quick ? 20 : 100, rounds: 200 },
  )
  const big = results['built-in, 50 roles / 200 rules']
  for (const [label, sample] of Object.entries(results)) {
    const isTarget = sample === big
    report({
      group: 'policy',
      label: `decide: ${label} (median)`,
      value: us(sample.medianUs),
      ...(isTarget ? { target: '≤ 10 µs', pass: sample.medianUs <= 10 } : {}),
    })
  }
  // on a shared machine wall-clock medians include time spent descheduled; CPU time per decision shows the engine's own cost
  const iterations = quick ? 2_000 : 200_000
  for (let i = 0; i < iterations / 10; i++) policy.decide(request)
  const before = process.cpuUsage()
  for (let i = 0; i < iterations; i++) policy.decide(request)
  const used = process.cpuUsage(before)
  const cpuUs = (used.user + used.system) / iterations
  report({ group: 'policy', label: 'decide: built-in, 50 roles / 200 rules (CPU time, mean)', value: us(cpuUs), target: '≤ 10 µs', pass: cpuUs <= 10 })
  const roles = Object.keys(document.roles).length
  const rules = Object.values(document.roles).reduce((sum, role) => sum + (role.allow?.length ?? 0), 0)
  report({ group: 'policy', label: `policy size (roles / allow rules)`, value: `${roles} / ${rules}` })
}
