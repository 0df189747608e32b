// shared builders for the policy tests: principals, requests and a deny/allow unwrapper

import type { Principal, RequestContext } from '../../src/spec/auth.js'
import type { Action, Decision, Obligations, PolicyRequest } from '../../src/spec/policy.js'

export const NOW = Date.parse('2026-03-04T10:30:00Z')

export function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    id: 'alice',
    kind: 'user',
    tenant: 'acme',
    roles: [],
    scopes: [],
    attributes: {},
    authenticator: 'test',
    ...overrides,
  }
}

export function request(
  who: Principal,
  action: Action,
  collection: string | null = 'docs',
  extra: Partial<PolicyRequest> & { context?: RequestContext } = {},
): PolicyRequest {
  return {
    principal: who,
    action,
    resource: collection === null ? {} : { collection },
    context: {},
    now: NOW,
    ...extra,
  }
}

export function allowed(decision: Decision): Obligations {
  if (decision.effect !== 'allow') throw new Error(`expected allow, got deny ${decision.code}: ${decision.reasons.join('; ')}`)
  return decision.obligations
}

export function deniedCode(decision: Decision): string {
  if (decision.effect !== 'deny') throw new Error('expected deny, got allow')
  return decision.code
}
