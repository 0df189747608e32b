// definePolicy: a policy document validated, compiled and versioned into the built-in policy decision point

import { ConfigError } from '../errors.js'
import type { Decision, PolicyDecisionPoint, PolicyRequest } from '../spec/policy.js'
import { contentVersion } from './canonical.js'
import { compilePolicy } from './engine.js'
import { createGrantStore, type GrantStore, type GrantStoreOptions } from './grants.js'
import { type ParsedPolicyDocument, type PolicyDocument, policyDocumentSchema } from './schema.js'

/**
 * Options of {@link definePolicy}.
 *
 * @example
 * ```ts
 * definePolicy(document, { grants: { maxDurationMs: 3_600_000, onEvent: (event) => audit(event) } })
 * ```
 */
export interface DefinePolicyOptions {
  /** JIT grant settings; `onEvent` receives `grant-granted`, `grant-used`, `grant-expired`, `grant-revoked`. */
  readonly grants?: GrantStoreOptions
}

/**
 * The built-in engine: a synchronous policy decision point with its document, version and JIT grants.
 *
 * @example
 * ```ts
 * const policy: Policy = definePolicy(document)
 * console.log(policy.id, policy.version, policy.ruleCount)
 * ```
 */
export interface Policy extends PolicyDecisionPoint {
  /** The validated document (defaults applied), frozen. */
  readonly document: ParsedPolicyDocument
  /** `sha256:…` of the canonical document; recorded with every decision. */
  readonly version: string
  readonly grants: GrantStore
  /** Number of allow and deny rules. */
  readonly ruleCount: number
  decide(request: PolicyRequest): Decision
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? '(document)' : issue.path.map(String).join('.')}: ${issue.message}`)
    .join('; ')
}

/**
 * Validates a policy document (zod), compiles it, and returns the built-in policy decision point. Throws
 * `ConfigError` for any invalid or unsafe document: unknown keys, role inheritance cycles, negative row filters,
 * malformed placeholders, unknown time zones, malformed CIDR ranges.
 *
 * @example
 * ```ts
 * const policy = definePolicy({
 *   id: 'quickstart',
 *   tenancy: { field: 'tenant' },
 *   roles: {
 *     reader: { allow: [{ actions: ['record.query', 'record.fetch', 'record.count'], collections: ['docs'] }] },
 *     writer: { inherits: ['reader'], allow: [{ actions: ['record.upsert', 'record.update', 'record.delete'], collections: ['docs'] }] },
 *     admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
 *   },
 * })
 * const decision = policy.decide({ principal, action: 'record.query', resource: { collection: 'docs' }, context: {}, now: Date.now() })
 * ```
 */
export function definePolicy(document: PolicyDocument, options: DefinePolicyOptions = {}): Policy {
  if (typeof document !== 'object' || document === null) throw new TypeError('definePolicy: expected a policy document object')
  const parsed = policyDocumentSchema.safeParse(document)
  if (!parsed.success) {
    throw new ConfigError(`invalid policy document: ${describeIssues(parsed.error.issues)}`, { reason: 'invalid_policy' })
  }
  const data = deepFreeze(structuredClone(parsed.data))
  const compiled = compilePolicy(data)
  const version = contentVersion(data)
  const identity = Object.freeze({ id: data.id, version })
  const grants = createGrantStore((role) => compiled.roles.has(role), options.grants)
  return {
    id: data.id,
    version,
    document: data,
    grants,
    ruleCount: compiled.ruleCount,
    decide(request: PolicyRequest): Decision {
      return compiled.decide(request, grants.source, identity)
    },
  }
}
