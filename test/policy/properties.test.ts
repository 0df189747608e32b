// property tests of the built-in engine against the reference model `referenceAllowed` (Cedar-style differential testing)

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { evaluateFilter } from '../../src/filter/index.js'
import { definePolicy, type PolicyDocument } from '../../src/policy/index.js'
import type { Principal } from '../../src/spec/auth.js'
import type { Action, Decision } from '../../src/spec/policy.js'
import type { Metadata } from '../../src/spec/records.js'
import { COLLECTIONS, denyRule, policyDocument, principal, RECORD_ACTIONS, record } from './arbitraries.js'
import { NOW } from './helpers.js'
import { referenceAllowed } from './reference.js'

const action = fc.constantFrom(...RECORD_ACTIONS)
const collection = fc.constantFrom(...COLLECTIONS)
const records = fc.array(record, { minLength: 1, maxLength: 12 })

function engineAllows(decision: Decision, metadata: Metadata): boolean {
  if (decision.effect !== 'allow') return false
  const filter = decision.obligations.rowFilter
  return filter === null || evaluateFilter(filter, metadata)
}

function decide(document: PolicyDocument, who: Principal, act: Action, name: string): Decision {
  const policy = definePolicy(document)
  policy.grants.close()
  return policy.decide({ principal: who, action: act, resource: { collection: name }, context: {}, now: NOW })
}

const allowedSet = (document: PolicyDocument, who: Principal, act: Action, name: string, rows: readonly Metadata[]) => {
  const decision = decide(document, who, act, name)
  return rows.map((row) => engineAllows(decision, row))
}

const runs = { numRuns: 400 }

describe('the engine agrees with the reference model', () => {
  it('for random policies, principals and records: allowed by the engine exactly when allowed by the model', () => {
    fc.assert(
      fc.property(policyDocument, principal, action, collection, records, (document, who, act, name, rows) => {
        const decision = decide(document, who, act, name)
        for (const row of rows) {
          expect(engineAllows(decision, row)).toBe(referenceAllowed(document, who, act, name, row))
        }
      }),
      runs,
    )
  })

  it('default deny: a policy without allow rules allows nothing', () => {
    fc.assert(
      fc.property(policyDocument, principal, action, collection, (document, who, act, name) => {
        const stripped: PolicyDocument = {
          ...document,
          roles: Object.fromEntries(Object.entries(document.roles).map(([roleName, role]) => [roleName, { ...role, allow: [] }])),
        }
        expect(decide(stripped, who, act, name).effect).toBe('deny')
      }),
      runs,
    )
  })

  it('deny wins: an unconditional deny on the action in any held role denies whatever else allows', () => {
    fc.assert(
      fc.property(policyDocument, principal, action, collection, (document, who, act, name) => {
        const held = who.roles.filter((role) => document.roles[role] !== undefined)
        fc.pre(held.length > 0)
        const target = held[0] as string
        const role = document.roles[target] ?? {}
        const withDeny: PolicyDocument = {
          ...document,
          roles: { ...document.roles, [target]: { ...role, deny: [...(role.deny ?? []), { actions: [act], collections: [name] }] } },
        }
        const decision = decide(withDeny, who, act, name)
        expect(decision.effect).toBe('deny')
        if (decision.effect === 'deny' && decision.code !== 'tenant_required') expect(decision.code).toBe('denied_by_rule')
      }),
      runs,
    )
  })

  it('rule order does not matter: shuffling rules and roles gives the same records', () => {
    fc.assert(
      fc.property(policyDocument, principal, action, collection, records, fc.integer(), (document, who, act, name, rows, seed) => {
        const rotate = <T>(list: readonly T[]): T[] => {
          if (list.length === 0) return []
          const by = Math.abs(seed) % list.length
          return [...list.slice(by), ...list.slice(0, by)].reverse()
        }
        const shuffled: PolicyDocument = {
          ...document,
          roles: Object.fromEntries(
            rotate(Object.entries(document.roles)).map(([roleName, role]) => [
              roleName,
              { ...role, allow: rotate(role.allow ?? []), deny: rotate(role.deny ?? []), inherits: rotate(role.inherits ?? []) },
            ]),
          ),
          deny: rotate(document.deny ?? []),
        }
        expect(allowedSet(shuffled, who, act, name, rows)).toEqual(allowedSet(document, who, act, name, rows))
      }),
      runs,
    )
  })

  it('adding a deny never grows a result', () => {
    fc.assert(
      fc.property(
        policyDocument,
        denyRule,
        fc.constantFrom('global', 'r0', 'r1', 'r2', 'r3'),
        principal,
        action,
        collection,
        records,
        (document, extra, where, who, act, name, rows) => {
          const withDeny: PolicyDocument =
            where === 'global'
              ? { ...document, deny: [...(document.deny ?? []), extra] }
              : {
                  ...document,
                  roles: { ...document.roles, [where]: { ...document.roles[where], deny: [...(document.roles[where]?.deny ?? []), extra] } },
                }
          const before = allowedSet(document, who, act, name, rows)
          const after = allowedSet(withDeny, who, act, name, rows)
          after.forEach((isAllowed, index) => {
            if (isAllowed) expect(before[index]).toBe(true)
          })
        },
      ),
      runs,
    )
  })

  it('removing a role from a principal never grows a result (roles without role-scoped denies)', () => {
    fc.assert(
      fc.property(policyDocument, principal, action, collection, records, (withDenies, who, act, name, rows) => {
        fc.pre(who.roles.length > 0)
        // a role-scoped deny binds only its holders, so dropping such a role may rightly widen; global denies stay
        const document: PolicyDocument = {
          ...withDenies,
          roles: Object.fromEntries(Object.entries(withDenies.roles).map(([roleName, role]) => [roleName, { ...role, deny: [] }])),
        }
        const fewer = { ...who, roles: who.roles.slice(1) }
        const before = allowedSet(document, who, act, name, rows)
        allowedSet(document, fewer, act, name, rows).forEach((isAllowed, index) => {
          if (isAllowed) expect(before[index]).toBe(true)
        })
      }),
      runs,
    )
  })

  it('every row filter the engine emits is a positive allow-list', () => {
    const negative = (node: unknown): boolean => {
      const n = node as { kind: string; op?: string; value?: unknown; children?: unknown[] }
      if (n.kind === 'and' || n.kind === 'or') return (n.children ?? []).some(negative)
      return n.op === '$ne' || n.op === '$nin' || (n.kind === 'exists' && n.value === false) || n.kind === 'all'
    }
    fc.assert(
      fc.property(policyDocument, principal, action, collection, (document, who, act, name) => {
        const decision = decide(document, who, act, name)
        if (decision.effect === 'allow' && decision.obligations.rowFilter !== null) {
          expect(negative(decision.obligations.rowFilter)).toBe(false)
        }
        if (decision.effect === 'allow' && document.tenancy !== undefined) expect(decision.obligations.rowFilter).not.toBeNull()
      }),
      runs,
    )
  })
})
