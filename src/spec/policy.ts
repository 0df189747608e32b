// the policy decision point interface: requests in, decisions (values) out

import type { Principal, RequestContext } from './auth.js'
import type { FilterNode } from './filter.js'
import type { MetadataValue } from './records.js'

/** Every action the warden authorizes. Vectors and metadata are separate permissions. */
export type Action =
  | 'collection.create'
  | 'collection.delete'
  | 'collection.list'
  | 'collection.describe'
  | 'record.upsert'
  | 'record.update'
  | 'record.delete'
  | 'record.fetch'
  | 'record.query'
  | 'record.count'
  | 'record.scroll'

/** The list of every action, in a stable order. */
export const ACTIONS: readonly Action[] = [
  'collection.create',
  'collection.delete',
  'collection.list',
  'collection.describe',
  'record.upsert',
  'record.update',
  'record.delete',
  'record.fetch',
  'record.query',
  'record.count',
  'record.scroll',
]

/** What the decision is about. */
export interface PolicyRequest {
  readonly principal: Principal
  readonly action: Action
  readonly resource: { readonly collection?: string; readonly namespace?: string }
  readonly context: RequestContext
  /** Milliseconds since the epoch at the time of the call. */
  readonly now: number
  /** Whether the call asks for vectors back (queries, fetches, scrolls). */
  readonly includeVectors?: boolean
}

/** A set of field names, or every field. */
export type FieldSet = '*' | readonly string[]

/**
 * What the enforcement point must do when a decision allows. The pipeline applies every obligation.
 */
export interface Obligations {
  /**
   * Records the principal may touch. `null`: no restriction; `{ kind: 'none' }`: nothing (short-circuit, no call).
   * Must use only positive predicates (`$eq`, `$in`, `$exists: true`, `$gt`… on required fields).
   */
  readonly rowFilter: FilterNode | null
  /** ACL fields the warden writes on every upsert from the principal; callers cannot set them. */
  readonly stamp: { readonly [field: string]: MetadataValue }
  /** Metadata fields the caller may read (projection). Filtering on others is denied. */
  readonly readableFields: FieldSet
  /** Metadata fields the caller may write. */
  readonly writableFields: FieldSet
  /** Encrypted fields the caller may decrypt; others are redacted. */
  readonly decryptableFields: FieldSet
  /** Whether vectors may be returned. */
  readonly readVectors: boolean
  /** The field that holds the tenant, where the policy partitions by tenant (indexed as the tenant key on create). */
  readonly tenantField?: string
  /** Limits against bulk exfiltration. */
  readonly maxTopK?: number
  readonly maxIds?: number
  readonly maxDelete?: number
}

/** A decision is a value; only the pipeline turns a deny into an error, after the audit event is written. */
export type Decision =
  | {
      readonly effect: 'allow'
      readonly obligations: Obligations
      /** Ids of the rules that matched, for the audit event. */
      readonly matchedRules: readonly string[]
      readonly policy?: { readonly id: string; readonly version: string }
    }
  | {
      readonly effect: 'deny'
      /** Human-readable reasons, safe to log. */
      readonly reasons: readonly string[]
      /** Machine-readable: `no_matching_rule`, `denied_by_rule`, `step_up_required`, `condition_failed`, ... */
      readonly code: string
      readonly matchedRules: readonly string[]
      readonly policy?: { readonly id: string; readonly version: string }
    }

/**
 * A policy decision point. The built-in engine is one; a function bridging Cerbos, OPA or OpenFGA is another.
 * Any exception thrown here is a deny.
 *
 * @example
 * ```ts
 * const pdp: PolicyDecisionPoint = { id: 'opa', version: '1', decide: (request) => askOpa(request) }
 * ```
 */
export interface PolicyDecisionPoint {
  readonly id: string
  /** A content hash or version label recorded with every decision. */
  readonly version: string
  decide(request: PolicyRequest): Decision | Promise<Decision>
}
