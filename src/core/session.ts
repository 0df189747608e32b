// a session: every operation runs the pipeline — continuous check, decide, enforce, call, verify, audit

import { securityEvent } from '../audit/security-event.js'
import { AuthenticationError, AuthorizationError, InputError, IntegrityError, type WardenError } from '../errors.js'
import { assertFilterNode, assertPositiveFilter, canonicalFilter, evaluateFilter, filterFields, filterOperators, matchesNothing, nestFilters, parseFilter } from '../filter/index.js'
import type { AdapterCapabilitiesV1 } from '../spec/adapter.js'
import type { AuditEvent, DecisionEventData } from '../spec/audit.js'
import type { Authenticator, Principal, RequestContext, SessionInfo } from '../spec/auth.js'
import type { FilterInput, FilterNode, FilterOperator } from '../spec/filter.js'
import type { Action, Decision, FieldSet, Obligations } from '../spec/policy.js'
import type { FieldProtector, ProtectionContext, UnprotectedRecord } from '../spec/protection.js'
import type { CollectionInfo, Distance, FetchedRecord, JsonValue, Metadata } from '../spec/records.js'
import { isMetadataValue, isThenable } from '../spec/values.js'
import type { AnalyticsVerdict } from '../analytics/analytics.js'
import type { ResolvedConfig } from './config.js'
import {
  checkFieldName,
  checkId,
  checkIds,
  checkVector,
  inSet,
  projectMetadata,
  RESERVED_PREFIX,
  stampMetadata,
  validateRecords,
  type WriteRules,
} from './enforce.js'
import { type Actor, actorOf, contextOf, envelope, errorOf, hashFilter, hashIds, outcomeOf, traceOf } from './events.js'

/** A record as a caller writes it. Encrypted fields may hold any JSON value; clear fields hold metadata values. */
export interface WardenRecord {
  readonly id: string
  readonly vector: Float32Array | readonly number[]
  readonly metadata?: { readonly [field: string]: JsonValue }
}

/** A record as a caller reads it: metadata projected to what the caller may read. */
export interface WardenReadRecord {
  readonly id: string
  readonly vector?: Float32Array | readonly number[]
  readonly metadata?: { readonly [field: string]: JsonValue }
}

/** A query hit. */
export interface WardenMatch extends WardenReadRecord {
  /** Similarity (cosine, dot: higher is closer) or distance (euclidean: lower is closer). */
  readonly score: number
}

/** Options every operation takes. */
export interface CallOptions {
  /** The namespace inside the collection, where the backend has them. */
  readonly namespace?: string
  /** Context of this call (merged over the session's): ip, device posture, location change between calls. */
  readonly context?: RequestContext
  readonly signal?: AbortSignal
}

/** `session.query` options. */
export interface QueryOptions extends CallOptions {
  readonly vector: Float32Array | readonly number[]
  readonly topK: number
  readonly filter?: FilterInput
  /** `true` (default): every readable field; a list: those of them; `false`: none. */
  readonly includeMetadata?: boolean | readonly string[]
  /** Needs the vector-read permission. */
  readonly includeVectors?: boolean
}

/** `session.fetch` options. */
export interface FetchOptions extends CallOptions {
  readonly includeMetadata?: boolean | readonly string[]
  readonly includeVectors?: boolean
}

/** `session.scroll` options. */
export interface ScrollOptions extends FetchOptions {
  readonly filter?: FilterInput
  readonly cursor?: string
  /** Records per page; default 100, at most the id limit. */
  readonly limit?: number
}

type AllowDecision = Extract<Decision, { effect: 'allow' }>

/** What an operation's body reports for the audit event. */
interface Report {
  request: { -readonly [K in keyof NonNullable<DecisionEventData['request']>]: NonNullable<DecisionEventData['request']>[K] }
  result: { -readonly [K in keyof NonNullable<DecisionEventData['result']>]: NonNullable<DecisionEventData['result']>[K] }
  keys?: readonly string[]
  /** Flags of the behaviour analytics, for the event's `anomalies`. */
  anomalies?: string[]
  /** Protected fields the call decrypted for the caller (counted only when analytics runs). */
  fieldsDecrypted?: number
  /** What the event records of the request context and trace, read once at the start of the call. */
  context?: DecisionEventData['context']
  trace?: DecisionEventData['trace']
}

/** The actions whose results are records read by the caller: what the analytics' records metric counts. */
const READS_RECORDS: ReadonlySet<Action> = new Set<Action>(['record.query', 'record.fetch', 'record.scroll'])

/** The error a non-allow analytics verdict stands for; the pipeline throws it after auditing. */
function analyticsRefusal(verdict: AnalyticsVerdict): WardenError {
  if (verdict.revoked) return new AuthenticationError('credential revoked', { reason: 'revoked' })
  const reasons = [...verdict.flags]
  switch (verdict.response) {
    case 'step_up':
      return new AuthorizationError('a fresh step-up authentication is required', { reason: 'step_up_required', reasons })
    case 'throttle': {
      const wait = verdict.retryAfterMs !== undefined && verdict.retryAfterMs >= 0 ? `; retry after ${verdict.retryAfterMs} ms` : ''
      return new AuthorizationError(`rate limited${wait}`, { reason: 'rate_limited', reasons })
    }
    default: {
      const unavailable = verdict.flags.includes('state_unavailable') || verdict.flags.includes('audit_unavailable')
      return new AuthorizationError('denied by behaviour analytics', { reason: unavailable ? 'analytics_unavailable' : 'anomaly_contained', reasons })
    }
  }
}

/** The part of a warden a session needs. */
export interface SessionHost {
  readonly config: ResolvedConfig
  readonly closed: boolean
  emit(event: AuditEvent): void | Promise<void>
  describe(collection: string, signal: AbortSignal | undefined): Promise<CollectionInfo>
  forget(collection: string): void
  /** A call starts: `close()` waits for it to end, audit event included. */
  enter(): void
  /** A call ended. */
  leave(): void
}

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/
const NAMESPACE_NAME = /^[^\u0000-\u001f\u007f]{0,512}$/
const DISTANCES: readonly Distance[] = ['cosine', 'dot', 'euclidean']

function checkCollection(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError('collection must be a string')
  if (!COLLECTION_NAME.test(name)) {
    throw new InputError('invalid collection name: 1-255 letters, digits, "_" or "-", starting with a letter or digit', {
      path: 'collection',
      reason: 'invalid_collection',
    })
  }
  return name
}

function checkNamespace(namespace: unknown, capabilities: AdapterCapabilitiesV1): string | undefined {
  if (namespace === undefined) return undefined
  if (typeof namespace !== 'string') throw new TypeError('namespace must be a string')
  if (!capabilities.namespaces && namespace !== '') {
    throw new InputError('this backend has no namespaces', { path: 'namespace', reason: 'unsupported' })
  }
  if (!NAMESPACE_NAME.test(namespace)) throw new InputError('invalid namespace', { path: 'namespace', reason: 'invalid_namespace' })
  return namespace
}

function checkInclude(include: unknown): boolean | readonly string[] {
  if (include === undefined) return true
  if (typeof include === 'boolean') return include
  if (Array.isArray(include) && include.every((field) => typeof field === 'string')) {
    for (const [i, field] of include.entries()) checkFieldName(field, `includeMetadata[${i}]`)
    return include
  }
  throw new TypeError('includeMetadata must be a boolean or an array of field names')
}

/** A limit as obligations carry one: absent, or a positive safe integer. */
const isLimit = (value: unknown): boolean => value === undefined || (typeof value === 'number' && Number.isSafeInteger(value) && value > 0)

// stamps already checked to hold metadata values (policies usually return the same objects again)
const checkedStamps = new WeakSet<object>()
const validStamp = (stamp: object): boolean => {
  if (checkedStamps.has(stamp)) return true
  if (!Object.values(stamp).every(isMetadataValue)) return false
  checkedStamps.add(stamp)
  return true
}

// row filters already checked to be positive allow-lists (policies usually return the same objects again)
const positiveFilters = new WeakSet<FilterNode>()

function checkObligations(decision: Decision): AllowDecision {
  // a malformed allow is a deny: the enforcement point never guesses an obligation
  if (decision.effect !== 'allow') return decision as never
  const o = decision.obligations as Partial<Obligations> | undefined
  const fieldSet = (value: unknown) => value === '*' || (Array.isArray(value) && value.every((field) => typeof field === 'string'))
  if (
    o === undefined ||
    o.rowFilter === undefined ||
    (o.rowFilter !== null && typeof o.rowFilter !== 'object') ||
    typeof o.stamp !== 'object' ||
    o.stamp === null ||
    !fieldSet(o.readableFields) ||
    !fieldSet(o.writableFields) ||
    !fieldSet(o.decryptableFields) ||
    typeof o.readVectors !== 'boolean' ||
    // a limit that is not a positive integer would compare false and lift the limit (a string from a JSON answer, NaN)
    !isLimit(o.maxTopK) ||
    !isLimit(o.maxIds) ||
    !isLimit(o.maxDelete) ||
    !validStamp(o.stamp)
  ) {
    throw new AuthorizationError('the policy returned an allow without valid obligations; denied', { reason: 'invalid_decision' })
  }
  const rowFilter = o.rowFilter
  if (rowFilter !== null && !positiveFilters.has(rowFilter)) {
    try {
      // a policy function may build the AST itself: every node must be what parseFilter would build (a NaN bound
      // would reach a backend as `null`, which it reads as no bound at all)
      assertFilterNode(rowFilter)
      // invariant 4: $ne / $nin / $exists:false match records that lack the field, so they never enforce anything
      assertPositiveFilter(rowFilter, 'rowFilter')
    } catch {
      throw new AuthorizationError('the policy returned a row filter that is not a well-formed positive allow-list; denied', { reason: 'invalid_decision' })
    }
    positiveFilters.add(rowFilter)
  }
  return decision
}

function mergeContext(base: RequestContext, override: RequestContext | undefined): RequestContext {
  return override === undefined ? base : { ...base, ...override }
}

/**
 * An authenticated session. Every call is verified again (expiry, revocation, idle and age limits, continuous
 * checks), decided by the policy, enforced, and audited — allowed, denied or failed.
 *
 * @example
 * ```ts
 * const session = await warden.session(request.headers.authorization, { ip: request.ip })
 * const { matches } = await session.query('docs', { vector, topK: 5, filter: { lang: 'en' } })
 * ```
 */
export class Session {
  /** The warden's session id (random; safe to log). */
  readonly id: string
  /** Who is calling. */
  readonly principal: Principal
  readonly #host: SessionHost
  readonly #authenticator: Authenticator
  readonly #context: RequestContext
  readonly #actor: Actor
  readonly #openedAt: number
  #lastActivityAt: number
  #ended = false

  /** @internal created by `warden.session()`. */
  constructor(host: SessionHost, principal: Principal, authenticator: Authenticator, context: RequestContext, id: string, now: number) {
    this.#host = host
    this.principal = principal
    this.#authenticator = authenticator
    this.#context = context
    this.id = id
    this.#actor = actorOf(principal, id)
    this.#openedAt = now
    this.#lastActivityAt = now
  }

  /** A snapshot for continuous checks. */
  get info(): SessionInfo {
    return {
      id: this.id,
      principal: this.principal,
      openedAt: this.#openedAt,
      lastActivityAt: this.#lastActivityAt,
      openedContext: this.#context,
    }
  }

  /** Ends the session: every later call is refused. */
  end(): void {
    this.#ended = true
  }

  // ---- record operations ------------------------------------------------------------------------------------------

  /**
   * Nearest neighbours within the caller's row filter, nested with the caller's own filter.
   *
   * @example
   * ```ts
   * const { matches } = await session.query('docs', { vector, topK: 10, filter: { lang: { $in: ['en', 'de'] } } })
   * ```
   */
  query(collection: string, options: QueryOptions): Promise<{ matches: WardenMatch[] }> {
    if (typeof options !== 'object' || options === null) throw new TypeError('query(collection, options): options must be an object')
    const includeVectors = options.includeVectors === true
    return this.#run('query', 'record.query', collection, options, includeVectors, async (decision, scope, report) => {
      const { adapter, maxTopK } = this.#host.config
      if (typeof options.topK !== 'number' || !Number.isInteger(options.topK)) throw new TypeError('topK must be an integer')
      if (options.topK < 1) throw new InputError('topK must be at least 1', { path: 'topK', reason: 'invalid_top_k' })
      const o = decision.obligations
      const limit = Math.min(maxTopK, o.maxTopK ?? Number.POSITIVE_INFINITY)
      const topK = Math.min(options.topK, limit)
      report.request.topK = topK
      if (topK < options.topK) report.request.requestedTopK = options.topK
      const include = checkInclude(options.includeMetadata)
      report.request.fields = include
      let vector = checkVector(options.vector, undefined, 'vector')
      this.#checkVectorRead(includeVectors, o)
      const plan = this.#planFilter(scope, o, options.filter)
      report.request.filterHash = plan.hash
      if (plan.nothing) {
        report.result.count = 0
        return { matches: [] }
      }
      const protector = this.#protector(scope.collection)
      if (protector?.protectQueryVector) vector = protector.protectQueryVector(vector, scope)
      // a filter on a blind-indexed field matches a superset (truncated tokens collide); the recheck removes the
      // colliding records, which may have taken places among the nearest: ask again for more until topK remain, the
      // store has no more, or the backend's limit is reached. What the caller receives is still at most topK
      const maxFetch = Math.max(topK, adapter.capabilities.maxTopK)
      const droppedBefore = report.result.dropped
      let fetchK = topK
      let out: WardenMatch[]
      for (;;) {
        const { matches } = await adapter.doQuery({
          collection: scope.collection,
          namespace: scope.namespace,
          signal: options.signal,
          vector,
          topK: fetchK,
          filter: plan.effective,
          includeMetadata: this.#storeInclude(include, o, protector),
          includeVectors,
        })
        out = (await this.#verifyResults(matches, scope, o, plan, include, includeVectors, true, report)) as WardenMatch[]
        if (plan.recheck === null || out.length >= topK || matches.length < fetchK || fetchK >= maxFetch) break
        fetchK = Math.min(fetchK * 2, maxFetch)
        // the next round verifies the same records again: count what it drops once
        if (droppedBefore === undefined) delete report.result.dropped
        else report.result.dropped = droppedBefore
      }
      if (out.length > topK) out = out.slice(0, topK)
      report.result.count = out.length
      report.result.idsHash = hashIds(out.map((match) => match.id))
      return { matches: out }
    })
  }

  /**
   * Fetches records by id. Ids outside the caller's row filter are treated as absent: they are neither returned nor
   * distinguishable from ids that do not exist.
   *
   * @example
   * ```ts
   * const { records } = await session.fetch('docs', ['doc-1', 'doc-2'])
   * ```
   */
  fetch(collection: string, ids: readonly string[], options: FetchOptions = {}): Promise<{ records: WardenReadRecord[] }> {
    const includeVectors = options.includeVectors === true
    return this.#run('fetch', 'record.fetch', collection, options, includeVectors, async (decision, scope, report) => {
      const o = decision.obligations
      const { adapter, maxIds } = this.#host.config
      const checked = checkIds(ids, Math.min(maxIds, o.maxIds ?? Number.POSITIVE_INFINITY), adapter.capabilities.idFormat.maxLength)
      report.request.idCount = checked.length
      const include = checkInclude(options.includeMetadata)
      report.request.fields = include
      this.#checkVectorRead(includeVectors, o)
      const plan = this.#planFilter(scope, o, undefined)
      report.request.filterHash = plan.hash
      if (plan.nothing || checked.length === 0) {
        report.result.count = 0
        return { records: [] }
      }
      const protector = this.#protector(scope.collection)
      const fetched = await this.#fetchInScope(scope, checked, plan.effective, this.#storeInclude(include, o, protector), includeVectors, options.signal)
      const records = await this.#verifyResults(fetched.records, scope, o, plan, include, includeVectors, fetched.native, report)
      report.result.count = records.length
      report.result.idsHash = hashIds(records.map((record) => record.id))
      return { records }
    })
  }

  /**
   * Inserts or replaces records. The batch is validated completely first: ids, vectors, metadata types, reserved
   * and access-control fields, write permissions, and that every record — and every existing record it would
   * replace — lies inside the caller's row filter. Then ACL fields are stamped from the principal.
   *
   * @example
   * ```ts
   * await session.upsert('docs', [{ id: 'doc-1', vector, metadata: { title: 'Onboarding' } }])
   * ```
   */
  upsert(collection: string, records: readonly WardenRecord[], options: CallOptions = {}): Promise<{ upserted: number }> {
    return this.#run('upsert', 'record.upsert', collection, options, false, async (decision, scope, report) => {
      const o = decision.obligations
      const { adapter, maxRecordsPerUpsert } = this.#host.config
      const capabilities = adapter.capabilities
      const protector = this.#protector(scope.collection)
      if (!Array.isArray(records)) throw new TypeError('records must be an array')
      report.request.recordCount = records.length
      const chunked = records.length > capabilities.maxBatchSize || !capabilities.atomicUpsert
      const dimension = chunked ? (await this.#host.describe(scope.collection, options.signal)).dimension : undefined
      const plain = validateRecords(records, this.#writeRules(scope.collection, o, protector), {
        maxRecords: maxRecordsPerUpsert,
        maxIdLength: capabilities.idFormat.maxLength,
        dimension,
      })
      if (plain.length === 0) return { upserted: 0 }
      const rowFilter = o.rowFilter
      if (rowFilter !== null) {
        if (matchesNothing(rowFilter)) throw new AuthorizationError('the principal may not write any record here', { reason: 'write_outside_scope' })
        for (let i = 0; i < plain.length; i++) {
          if (!evaluateFilter(rowFilter, plain[i]?.metadata as Metadata)) {
            throw new AuthorizationError(`records[${i}] would land outside the principal's row filter`, { reason: 'write_outside_scope' })
          }
        }
      }
      if (rowFilter !== null || o.writableFields !== '*' || Object.keys(o.stamp).length > 0) {
        // replacing a record is writing over all of it: every existing record with these ids must be ours too, and
        // may hold nothing this principal could not have written (a replace drops fields the new record lacks) and no
        // access-control value other than the one the principal stamps (a replace would take the record over)
        const existing = await adapter.doFetch({
          collection: scope.collection,
          namespace: scope.namespace,
          signal: options.signal,
          ids: plain.map((record) => record.id),
          includeMetadata: true,
          includeVectors: false,
        })
        const rules = this.#writeRules(scope.collection, o, protector)
        for (const record of existing.records) {
          if (rowFilter !== null && !evaluateFilter(rowFilter, record.metadata)) {
            throw new AuthorizationError('an id in the batch belongs to a record outside the principal\'s row filter', {
              reason: 'write_outside_scope',
            })
          }
          for (const [field, value] of Object.entries(record.metadata ?? {})) {
            if (rules.isReserved(field)) continue
            if (Object.hasOwn(o.stamp, field)) {
              // an encrypted stamp cannot be compared here; the record MAC signs it
              if (!rules.isProtected(field) && JSON.stringify(value) !== JSON.stringify(o.stamp[field])) {
                throw new AuthorizationError(`replacing ${record.id} would change its access-control field ${field}`, { reason: 'acl_field' })
              }
            } else if (!inSet(o.writableFields, field)) {
              throw new AuthorizationError(`replacing ${record.id} would drop its field ${field}, which this principal may not write; use update`, {
                reason: 'field_not_writable',
              })
            }
          }
        }
      }
      const stored = protector ? await protector.protect(plain, scope) : (plain as readonly { id: string; vector: Float32Array | readonly number[]; metadata?: Metadata }[])
      for (let start = 0; start < stored.length; start += capabilities.maxBatchSize) {
        await adapter.doUpsert({
          collection: scope.collection,
          namespace: scope.namespace,
          signal: options.signal,
          records: stored.slice(start, start + capabilities.maxBatchSize),
        })
      }
      report.result.count = stored.length
      report.result.idsHash = hashIds(stored.map((record) => record.id))
      return { upserted: stored.length }
    })
  }

  /**
   * Merges a metadata patch into one record (a `null` value removes a field). The record must lie inside the caller's
   * row filter; ACL and reserved fields cannot be patched.
   *
   * @example
   * ```ts
   * await session.update('docs', 'doc-1', { status: 'archived' })
   * ```
   */
  update(collection: string, id: string, metadata: { readonly [field: string]: JsonValue }, options: CallOptions = {}): Promise<{ updated: boolean }> {
    return this.#run('update', 'record.update', collection, options, false, async (decision, scope, report) => {
      const o = decision.obligations
      const { adapter } = this.#host.config
      const checkedId = checkId(id, adapter.capabilities.idFormat.maxLength, 'id')
      report.request.idCount = 1
      const protector = this.#protector(scope.collection)
      const rules = this.#writeRules(scope.collection, o, protector)
      const patch = stampMetadata(metadata, { ...rules, stamp: {} }, 'metadata', true)
      for (const field of Object.keys(o.stamp)) {
        if (Object.hasOwn(metadata ?? {}, field)) {
          throw new AuthorizationError(`metadata.${field} is an access-control field and cannot be patched`, { reason: 'acl_field' })
        }
      }
      const plan = this.#planFilter(scope, o, undefined)
      report.request.filterHash = plan.hash
      if (plan.nothing) return { updated: false }
      const target = await this.#fetchInScope(scope, [checkedId], plan.effective, true, protector !== undefined, options.signal)
      const current = target.records[0]
      if (current === undefined || (plan.effective && !evaluateFilter(plan.effective, current.metadata))) {
        report.result.count = 0
        return { updated: false }
      }
      // the record after the patch must still lie inside the row filter (a patch may not move it out of scope)
      const outsideAfter = (merged: { readonly [field: string]: JsonValue }) =>
        o.rowFilter !== null && !evaluateFilter(o.rowFilter, merged as Metadata)
      if (protector) {
        // ciphertexts and the record MAC are bound to the whole record: read, merge, re-protect, write
        const opened = await protector.unprotect([current], { ...scope, decryptable: '*', includeVectors: true })
        this.#alarm(opened.failures, scope, 'unprotect')
        const plain = opened.records[0]
        if (plain === undefined || plain.vector === undefined) throw new IntegrityError('the record failed its integrity check', { reason: 'integrity' })
        const merged = applyPatch(plain.metadata ?? {}, patch)
        if (outsideAfter(merged)) throw new AuthorizationError('the patch would move the record outside the principal\'s row filter', { reason: 'write_outside_scope' })
        const [stored] = await protector.protect([{ id: checkedId, vector: plain.vector, metadata: merged }], scope)
        if (stored === undefined) return { updated: false }
        await adapter.doUpsert({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, records: [stored] })
        report.result.count = 1
        return { updated: true }
      }
      if (outsideAfter(applyPatch((current.metadata ?? {}) as { [field: string]: JsonValue }, patch))) {
        throw new AuthorizationError('the patch would move the record outside the principal\'s row filter', { reason: 'write_outside_scope' })
      }
      const result = await adapter.doUpdate({
        collection: scope.collection,
        namespace: scope.namespace,
        signal: options.signal,
        id: checkedId,
        metadata: patch as { [field: string]: Metadata[string] | null },
        // always the enforced filter: adapters apply it natively (filterWithIds) or check it themselves
        filter: plan.effective,
      })
      report.result.count = result.updated ? 1 : 0
      return result
    })
  }

  /**
   * Deletes records by ids or by filter — only those inside the caller's row filter.
   *
   * @example
   * ```ts
   * await session.delete('docs', { ids: ['doc-1'] })
   * await session.delete('docs', { filter: { status: 'archived' } })
   * ```
   */
  delete(
    collection: string,
    target: { readonly ids: readonly string[] } | { readonly filter: FilterInput },
    options: CallOptions = {},
  ): Promise<{ deleted: number | undefined }> {
    return this.#run('delete', 'record.delete', collection, options, false, async (decision, scope, report) => {
      if (typeof target !== 'object' || target === null) throw new TypeError('delete(collection, target): target must be { ids } or { filter }')
      const o = decision.obligations
      const { adapter, maxIds } = this.#host.config
      const maxDelete = o.maxDelete ?? Number.POSITIVE_INFINITY
      if ('ids' in target) {
        const ids = checkIds(target.ids, Math.min(maxIds, maxDelete), adapter.capabilities.idFormat.maxLength)
        report.request.idCount = ids.length
        const plan = this.#planFilter(scope, o, undefined)
        report.request.filterHash = plan.hash
        if (plan.nothing || ids.length === 0) return { deleted: 0 }
        if (plan.effective === undefined || adapter.capabilities.filterWithIds) {
          const result = await adapter.doDelete({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, ids, filter: plan.effective })
          report.result.count = result.deleted
          return { deleted: result.deleted }
        }
        const inScope = await this.#fetchInScope(scope, ids, plan.effective, true, false, options.signal)
        const allowed = inScope.records.map((record) => record.id)
        if (allowed.length === 0) return { deleted: 0 }
        await adapter.doDelete({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, ids: allowed, filter: plan.effective })
        report.result.count = allowed.length
        return { deleted: allowed.length }
      }
      if (!('filter' in target)) throw new TypeError('delete(collection, target): target must be { ids } or { filter }')
      const plan = this.#planFilter(scope, o, target.filter)
      report.request.filterHash = plan.hash
      if (plan.recheck !== null) {
        // a blind index matches a superset (truncated tokens collide), and a delete cannot be re-checked afterwards
        throw new InputError('delete by a filter on an encrypted field would also delete records whose blind-index token collides; query or scroll for the ids, then delete by ids', {
          path: 'filter',
          reason: 'inexact_filter',
        })
      }
      if (plan.nothing) return { deleted: 0 }
      if (Number.isFinite(maxDelete)) {
        const { count } = await adapter.doCount({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, filter: plan.effective })
        if (count > maxDelete) {
          throw new AuthorizationError(`the filter selects more records than this principal may delete at once (${maxDelete})`, { reason: 'limit_exceeded' })
        }
      }
      if (!adapter.capabilities.deleteByFilter) throw new InputError('this backend cannot delete by filter', { path: 'filter', reason: 'unsupported' })
      const result = await adapter.doDelete({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, filter: plan.effective ?? { kind: 'all' } })
      report.result.count = result.deleted
      return { deleted: result.deleted }
    })
  }

  /**
   * Counts the records inside the caller's row filter (and the caller's filter).
   *
   * @example
   * ```ts
   * const { count } = await session.count('docs', { filter: { lang: 'en' } })
   * ```
   */
  count(collection: string, options: CallOptions & { readonly filter?: FilterInput } = {}): Promise<{ count: number; exact: boolean }> {
    return this.#run('count', 'record.count', collection, options, false, async (decision, scope, report) => {
      const plan = this.#planFilter(scope, decision.obligations, options.filter)
      report.request.filterHash = plan.hash
      if (plan.nothing) return { count: 0, exact: true }
      const result = await this.#host.config.adapter.doCount({ collection: scope.collection, namespace: scope.namespace, signal: options.signal, filter: plan.effective })
      report.result.count = result.count
      // on a blind-indexed (encrypted) field the store counts token matches, a superset: an upper bound, not exact
      return { count: result.count, exact: result.exact && plan.recheck === null }
    })
  }

  /**
   * One page of the records inside the caller's row filter, in a stable order. Pass `nextCursor` back for the next.
   *
   * @example
   * ```ts
   * let cursor: string | undefined
   * do { const page = await session.scroll('docs', { cursor, limit: 500 }); cursor = page.nextCursor } while (cursor)
   * ```
   */
  scroll(collection: string, options: ScrollOptions = {}): Promise<{ records: WardenReadRecord[]; nextCursor?: string }> {
    const includeVectors = options.includeVectors === true
    return this.#run('scroll', 'record.scroll', collection, options, includeVectors, async (decision, scope, report) => {
      const o = decision.obligations
      const { adapter, maxIds } = this.#host.config
      const limit = options.limit ?? 100
      if (!Number.isInteger(limit)) throw new TypeError('limit must be an integer')
      // a page is as much of a read as a fetch of ids or a query: the policy's limits on both hold here too
      const maxLimit = Math.min(maxIds, adapter.capabilities.maxIdsPerCall, o.maxIds ?? Number.POSITIVE_INFINITY, o.maxTopK ?? Number.POSITIVE_INFINITY)
      if (limit < 1 || limit > maxLimit) {
        throw new InputError(`limit must be between 1 and ${maxLimit}`, { path: 'limit', reason: 'invalid_limit' })
      }
      if (options.cursor !== undefined && typeof options.cursor !== 'string') throw new TypeError('cursor must be a string')
      const include = checkInclude(options.includeMetadata)
      report.request.fields = include
      this.#checkVectorRead(includeVectors, o)
      const plan = this.#planFilter(scope, o, options.filter)
      report.request.filterHash = plan.hash
      if (plan.nothing) return { records: [] }
      const protector = this.#protector(scope.collection)
      const page = await adapter.doScroll({
        collection: scope.collection,
        namespace: scope.namespace,
        signal: options.signal,
        filter: plan.effective,
        cursor: options.cursor,
        limit,
        includeMetadata: this.#storeInclude(include, o, protector),
        includeVectors,
      })
      const records = await this.#verifyResults(page.records, scope, o, plan, include, includeVectors, true, report)
      report.result.count = records.length
      report.result.idsHash = hashIds(records.map((record) => record.id))
      return page.nextCursor === undefined ? { records } : { records, nextCursor: page.nextCursor }
    })
  }

  // ---- collection operations --------------------------------------------------------------------------------------

  /**
   * Creates a collection. The policy's tenant field, if any, is indexed as the tenant key.
   *
   * @example
   * ```ts
   * await session.createCollection('docs', { dimension: 384, distance: 'cosine' })
   * ```
   */
  createCollection(name: string, options: CallOptions & { readonly dimension: number; readonly distance?: Distance }): Promise<void> {
    return this.#run('collection.create', 'collection.create', name, options, false, async (decision, scope) => {
      const { adapter } = this.#host.config
      if (typeof options !== 'object' || options === null) throw new TypeError('createCollection(name, options): options must be an object')
      if (!Number.isInteger(options.dimension)) throw new TypeError('dimension must be an integer')
      if (options.dimension < 1 || options.dimension > 65_536) throw new InputError('dimension must be between 1 and 65536', { path: 'dimension', reason: 'invalid_dimension' })
      const distance = options.distance ?? 'cosine'
      if (!DISTANCES.includes(distance)) throw new TypeError('distance must be cosine, dot or euclidean')
      if (!adapter.capabilities.distances.includes(distance)) throw new InputError(`this backend does not support ${distance}`, { path: 'distance', reason: 'unsupported' })
      const o = decision.obligations
      const indexedFields = Object.keys(o.stamp)
      if (o.tenantField !== undefined && !indexedFields.includes(o.tenantField)) indexedFields.push(o.tenantField)
      this.#host.forget(scope.collection)
      await adapter.doCreateCollection({
        name: scope.collection,
        dimension: options.dimension,
        distance: this.#protector(scope.collection)?.storeDistance?.(scope.collection, distance) ?? distance,
        indexedFields,
        tenantField: o.tenantField,
        signal: options.signal,
      })
    })
  }

  /**
   * Deletes a collection and every record in it.
   *
   * @example
   * ```ts
   * await session.deleteCollection('scratch')
   * ```
   */
  deleteCollection(name: string, options: CallOptions = {}): Promise<void> {
    return this.#run('collection.delete', 'collection.delete', name, options, false, async (decision, scope) => {
      // a principal confined to some rows (a tenant) does not get to remove everyone's: dropping the collection
      // removes records outside its row filter
      if (decision.obligations.rowFilter !== null) {
        throw new AuthorizationError('deleting a collection needs access to every record in it; this principal is confined to some', { reason: 'write_outside_scope' })
      }
      this.#host.forget(scope.collection)
      await this.#host.config.adapter.doDeleteCollection({ name: scope.collection, signal: options.signal })
    })
  }

  /**
   * Describes a collection. A caller confined by a row filter does not learn the total record count.
   *
   * @example
   * ```ts
   * const { dimension } = await session.describeCollection('docs')
   * ```
   */
  describeCollection(name: string, options: CallOptions = {}): Promise<CollectionInfo> {
    return this.#run('collection.describe', 'collection.describe', name, options, false, async (decision, scope) => {
      const info = await this.#host.config.adapter.doDescribeCollection({ name: scope.collection, signal: options.signal })
      if (decision.obligations.rowFilter === null) return info
      return { name: info.name, dimension: info.dimension, distance: info.distance }
    })
  }

  /**
   * Lists the collections this principal may describe.
   *
   * @example
   * ```ts
   * const names = (await session.listCollections()).map((c) => c.name)
   * ```
   */
  listCollections(options: CallOptions = {}): Promise<CollectionInfo[]> {
    return this.#run('collection.list', 'collection.list', undefined, options, false, async (decision, _scope, report, context) => {
      const all = await this.#host.config.adapter.doListCollections({ signal: options.signal })
      // `context` is the one the listing itself was decided with, the analytics' risk score included
      const now = this.#host.config.now()
      const visible: CollectionInfo[] = []
      for (const info of all) {
        let allowed: Decision
        try {
          allowed = await this.#host.config.policy.decide({
            principal: this.principal,
            action: 'collection.describe',
            resource: { collection: info.name },
            context,
            now,
          })
        } catch {
          continue
        }
        if (allowed.effect !== 'allow') continue
        const confined = decision.obligations.rowFilter !== null || allowed.obligations.rowFilter !== null
        visible.push(confined ? { name: info.name, dimension: info.dimension, distance: info.distance } : info)
      }
      report.result.count = visible.length
      return visible
    })
  }

  // ---- the pipeline -----------------------------------------------------------------------------------------------

  async #run<T>(
    operation: string,
    action: Action,
    collection: string | undefined,
    options: CallOptions,
    includeVectors: boolean,
    body: (decision: AllowDecision, scope: ProtectionContext, report: Report, context: RequestContext) => Promise<T>,
  ): Promise<T> {
    const host = this.#host
    // after close() the audit trail is gone, so nothing may run; refused before anything happens
    if (host.closed) throw new AuthenticationError('the warden is closed', { reason: 'warden_closed' })
    host.enter()
    // counted while it runs: close() waits for the calls it let in, their audit events included
    try {
      const config = host.config
      const start = performance.now()
      const now = config.now()
      let context: RequestContext = this.#context
      const report: Report = { request: {}, result: {} }
      const analytics = config.analytics
      let observed = false
      let decision: Decision | undefined
      let value: T
      // the collection name once checked: analytics never sees a name that failed the check
      let name: string | undefined
      try {
        if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
        context = mergeContext(this.#context, options.context)
        // what the event records of the context, read now: a getter that throws or a value the trail cannot hold fails
        // the call here, before the store is touched, and the event is still written
        report.context = contextOf(context)
        report.trace = traceOf(context)
        name = collection === undefined ? undefined : checkCollection(collection)
        if (name !== undefined) report.request.collection = name
        const namespace = checkNamespace(options.namespace, config.adapter.capabilities)
        if (namespace !== undefined) report.request.namespace = namespace
        if (includeVectors) report.request.includeVectors = true
        await this.#verify(context, now)
        let policyContext = context
        if (analytics !== undefined) {
          const verdict = await analytics.before({ principal: this.principal, action, collection: name, context, now, sessionId: this.id })
          if (verdict.flags.length > 0) report.anomalies = [...verdict.flags]
          if (verdict.response !== 'allow') throw analyticsRefusal(verdict)
          // the risk score reaches policy conditions as context.attributes.riskScore
          policyContext = { ...context, attributes: { ...context.attributes, riskScore: verdict.riskScore } }
        }
        try {
          decision = await config.policy.decide({
            principal: this.principal,
            action,
            resource: namespace === undefined ? { collection: name } : { collection: name, namespace },
            context: policyContext,
            now,
            includeVectors,
          })
        } catch {
          throw new AuthorizationError('the policy could not decide; denied', { reason: 'policy_error' })
        }
        if (decision.effect !== 'allow') {
          const reason = decision.code === 'step_up_required' ? 'step_up_required' : decision.code || 'denied'
          throw new AuthorizationError(`denied: ${decision.reasons.join('; ') || 'no rule allows this'}`, { reason, reasons: decision.reasons })
        }
        const allowed = checkObligations(decision)
        const scope: ProtectionContext =
          namespace === undefined
            ? { collection: name as string, tenant: this.principal.tenant, principal: this.principal }
            : { collection: name as string, namespace, tenant: this.principal.tenant, principal: this.principal }
        value = await body(allowed, scope, report, policyContext)
        if (analytics !== undefined) {
          observed = true
          // a count, a delete or a listing returns no records: only reads feed the records metric
          const recordCount = READS_RECORDS.has(action) ? (report.result.count ?? 0) : 0
          const outcome = await analytics.after({
            principal: this.principal,
            action,
            collection: name,
            outcome: 'allowed',
            recordCount,
            ...(report.fieldsDecrypted === undefined ? {} : { fieldsDecrypted: report.fieldsDecrypted }),
            now,
            sessionId: this.id,
          })
          if (outcome.flags.length > 0) report.anomalies = [...(report.anomalies ?? []), ...outcome.flags]
          // the call that crossed a threshold does not deliver its results
          if (outcome.response !== 'allow') throw analyticsRefusal(outcome)
        }
      } catch (error) {
        if (analytics !== undefined && !observed) {
          try {
            const outcome = await analytics.after({ principal: this.principal, action, collection: name, outcome: outcomeOf(error), now, sessionId: this.id })
            if (outcome.flags.length > 0) report.anomalies = [...(report.anomalies ?? []), ...outcome.flags]
          } catch {
            // the call already failed; its own error is the one to report
          }
        }
        await this.#audit(operation, action, collection, now, start, decision, report, error)
        throw error
      }
      await this.#audit(operation, action, collection, now, start, decision, report, undefined)
      return value
    } finally {
      host.leave()
    }
  }

  async #verify(context: RequestContext, now: number): Promise<void> {
    const config = this.#host.config
    if (this.#host.closed) throw new AuthenticationError('the warden is closed', { reason: 'warden_closed' })
    if (this.#ended) throw new AuthenticationError('the session has ended', { reason: 'session_ended' })
    const principal = this.principal
    if (principal.expiresAt !== undefined && now >= principal.expiresAt) {
      this.#ended = true
      throw new AuthenticationError('the credential has expired', { reason: 'credential_expired' })
    }
    if (now - this.#openedAt > config.maxAgeMs) {
      this.#ended = true
      throw new AuthenticationError('the session is older than its maximum age', { reason: 'session_expired' })
    }
    if (now - this.#lastActivityAt > config.idleTimeoutMs) {
      this.#ended = true
      throw new AuthenticationError('the session was idle too long', { reason: 'session_idle' })
    }
    try {
      const verified = this.#authenticator.verify?.(principal, context, now)
      // any thenable, not only a native promise: a check's rejection is a deny
      if (isThenable(verified)) await verified
      const checks = config.checks
      if (checks.length > 0) {
        const info = this.info
        for (const check of checks) {
          const result = check.check(info, context, now)
          if (isThenable(result)) await result
        }
      }
    } catch (error) {
      if (AuthenticationError.isInstance(error) || AuthorizationError.isInstance(error)) throw error
      // a check that fails for any other reason fails closed
      throw new AuthenticationError('a continuous check failed; denied', { reason: 'check_failed' })
    }
    this.#lastActivityAt = now
  }

  async #audit(
    operation: string,
    action: Action,
    collection: string | undefined,
    now: number,
    start: number,
    decision: Decision | undefined,
    report: Report,
    error: unknown,
  ): Promise<void> {
    const config = this.#host.config
    report.result.latencyMs = Math.round((performance.now() - start) * 1000) / 1000
    const data: { -readonly [K in keyof DecisionEventData]: DecisionEventData[K] } = {
      schema: 'vectorwarden.audit/v1',
      operation,
      outcome: error === undefined ? 'allowed' : outcomeOf(error),
      actor: this.#actor,
      request: report.request,
      result: report.result,
    }
    const block: { -readonly [K in keyof NonNullable<DecisionEventData['decision']>]: NonNullable<DecisionEventData['decision']>[K] } = { action }
    if (decision !== undefined) {
      block.matchedRules = decision.matchedRules
      block.policy = decision.policy ?? { id: config.policy.id, version: config.policy.version }
      if (decision.effect === 'deny') {
        block.code = decision.code
        block.reasons = decision.reasons
      }
    } else {
      block.policy = { id: config.policy.id, version: config.policy.version }
    }
    data.decision = block
    if (error !== undefined) data.error = errorOf(error)
    if (report.context !== undefined) data.context = report.context
    if (report.trace !== undefined) data.trace = report.trace
    if (report.keys !== undefined) data.keys = report.keys
    if (report.anomalies !== undefined && report.anomalies.length > 0) data.anomalies = report.anomalies
    if (!config.adapter.capabilities.transportSecure) data.transport = { secure: false }
    const emitted = this.#host.emit(envelope(config.source, 'dev.vectorwarden.decision', now, collection, data))
    if (isThenable(emitted)) await emitted
  }

  // ---- enforcement --------------------------------------------------------------------------------------------------

  #protector(collection: string): FieldProtector | undefined {
    const protector = this.#host.config.protector
    return protector?.covers(collection) ? protector : undefined
  }

  #isReserved(collection: string, protector: FieldProtector | undefined): (field: string) => boolean {
    return protector === undefined ? isWardenField : fieldRulesOf(protector, collection).isReserved
  }

  #writeRules(collection: string, o: Obligations, protector: FieldProtector | undefined): WriteRules {
    return {
      writable: o.writableFields,
      stamp: o.stamp,
      isReserved: this.#isReserved(collection, protector),
      isProtected: protector === undefined ? notProtected : fieldRulesOf(protector, collection).isProtected,
    }
  }

  #checkVectorRead(includeVectors: boolean, o: Obligations): void {
    if (includeVectors && !o.readVectors) {
      throw new AuthorizationError('reading vectors needs its own permission, which this principal lacks', { reason: 'vector_read_denied' })
    }
  }

  /**
   * Parses the caller's filter, checks its fields against read permissions and the backend's operators, rewrites
   * protected fields to blind indexes, and nests it under the enforced row filter (never merged).
   */
  #planFilter(scope: ProtectionContext, o: Obligations, input: FilterInput | undefined): FilterPlan {
    const config = this.#host.config
    let caller: FilterNode | null = null
    let original: FilterNode | null = null
    if (input !== undefined) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError('filter must be a plain object')
      original = parseFilter(input, { maxDepth: config.maxFilterDepth, maxClauses: config.maxFilterClauses })
      caller = original
      const protector = this.#protector(scope.collection)
      const isReserved = this.#isReserved(scope.collection, protector)
      const isProtected = protector === undefined ? notProtected : fieldRulesOf(protector, scope.collection).isProtected
      let rewrite = false
      for (const field of filterFields(original)) {
        if (isReserved(field)) throw new InputError(`filter names the reserved field ${field}`, { path: `filter.${field}`, reason: 'reserved_field' })
        if (!inSet(o.readableFields, field)) {
          throw new AuthorizationError(`filtering on ${field} needs read permission on it`, { reason: 'filter_on_unreadable_field' })
        }
        if (isProtected(field)) {
          if (!inSet(o.decryptableFields, field)) {
            throw new AuthorizationError(`filtering on the encrypted field ${field} needs decrypt permission on it`, { reason: 'filter_on_unreadable_field' })
          }
          rewrite = true
        }
      }
      if (rewrite && protector) caller = protector.rewriteFilter(original, scope)
      else original = null
    }
    const effective = nestFilters(o.rowFilter, caller)
    // the enforced filter alone is the common case; what is derived from it is kept per filter object
    const facts = effective === o.rowFilter ? factsOf(effective) : undefined
    const supported = config.adapter.capabilities.filterOperators
    if (effective !== null) {
      for (const operator of facts?.operators ?? filterOperators(effective)) {
        if (!supported.includes(operator)) {
          throw new InputError(`this backend cannot evaluate ${operator}; refused rather than unfiltered`, { path: 'filter', reason: 'unsupported_operator' })
        }
      }
    }
    return {
      effective: effective ?? undefined,
      enforced: o.rowFilter,
      recheck: original,
      nothing: facts?.nothing ?? matchesNothing(effective),
      hash: facts?.hash ?? hashFilter(canonicalFilter(effective)),
    }
  }

  /** What to ask the store for: everything needed for re-verification, integrity and projection. */
  #storeInclude(include: boolean | readonly string[], o: Obligations, protector: FieldProtector | undefined): boolean {
    return include !== false || o.rowFilter !== null || protector !== undefined
  }

  /** Fetches ids restricted to `filter`: natively where the backend can, else record by record. */
  async #fetchInScope(
    scope: ProtectionContext,
    ids: readonly string[],
    filter: FilterNode | undefined,
    includeMetadata: boolean,
    includeVectors: boolean,
    signal: AbortSignal | undefined,
  ): Promise<{ records: readonly FetchedRecord[]; native: boolean }> {
    const { adapter } = this.#host.config
    const native = filter === undefined || adapter.capabilities.filterWithIds
    const perCall = adapter.capabilities.maxIdsPerCall
    const out: FetchedRecord[] = []
    for (let start = 0; start < ids.length; start += perCall) {
      const { records } = await adapter.doFetch({
        collection: scope.collection,
        namespace: scope.namespace,
        signal,
        ids: ids.slice(start, start + perCall),
        // given to every adapter, which may use it to narrow where it looks (Pinecone's tenant namespaces); without
        // filterWithIds it is also checked here, record by record
        filter,
        includeMetadata: includeMetadata || filter !== undefined,
        includeVectors,
      })
      for (const record of records) {
        if (native || filter === undefined || evaluateFilter(filter, record.metadata)) out.push(record)
      }
    }
    return { records: out, native }
  }

  /**
   * Re-verifies every record against the enforced row filter (the store is not trusted), removes protection,
   * drops blind-index false positives, and projects metadata to what the caller may read.
   */
  async #verifyResults(
    records: readonly FetchedRecord[],
    scope: ProtectionContext,
    o: Obligations,
    plan: FilterPlan,
    include: boolean | readonly string[],
    includeVectors: boolean,
    alarm: boolean,
    report: Report,
  ): Promise<WardenReadRecord[]> {
    const enforced = plan.enforced
    let kept: readonly FetchedRecord[] = records
    let first = -1
    if (enforced !== null) {
      for (let i = 0; i < records.length; i++) {
        if (!evaluateFilter(enforced, (records[i] as FetchedRecord).metadata)) {
          first = i
          break
        }
      }
    }
    if (enforced !== null && first >= 0) {
      // something escaped the row filter: the store is wrong or lying; keep what is in scope, alarm on the rest
      const inScope: FetchedRecord[] = records.slice(0, first)
      const escaped: { id: string; reason: string }[] = []
      for (let i = first; i < records.length; i++) {
        const record = records[i] as FetchedRecord
        if (evaluateFilter(enforced, record.metadata)) inScope.push(record)
        else escaped.push({ id: record.id, reason: 'outside_row_filter' })
      }
      report.result.dropped = (report.result.dropped ?? 0) + escaped.length
      if (alarm) this.#alarm(escaped, scope, 'reverify')
      kept = inScope
    }
    const protector = this.#protector(scope.collection)
    let plain: readonly (FetchedRecord | UnprotectedRecord)[] = kept
    if (protector && kept.length > 0) {
      const decryptable = this.#decryptable(include, o.decryptableFields, plan.recheck)
      const opened = await protector.unprotect(kept, { ...scope, decryptable, includeVectors })
      if (opened.failures.length > 0) {
        report.result.dropped = (report.result.dropped ?? 0) + opened.failures.length
        this.#alarm(opened.failures, scope, 'unprotect')
      }
      if (opened.keys !== undefined) report.keys = opened.keys
      plain = opened.records
      if (this.#host.config.analytics !== undefined) {
        // the fields decrypted for the caller, for the analytics' fieldsDecrypted metric
        const isProtected = fieldRulesOf(protector, scope.collection).isProtected
        let count = 0
        for (const record of opened.records) {
          for (const field of Object.keys(record.metadata ?? {})) if (isProtected(field) && inSet(decryptable, field)) count++
        }
        report.fieldsDecrypted = count
      }
      if ((kept[0] as { score?: number } | undefined)?.score !== undefined && !opened.records.every((record) => typeof record.score === 'number')) {
        // a protector that rebuilds records without their scores: they travel beside them (by position while nothing
        // was dropped)
        const aligned = plain.length === kept.length && plain.every((record, i) => record.id === (kept[i] as FetchedRecord).id)
        const scores = aligned ? undefined : new Map(kept.map((record) => [record.id, (record as unknown as { score: number }).score]))
        plain = plain.map((record, i) => ({ ...record, score: scores === undefined ? (kept[i] as unknown as { score: number }).score : scores.get(record.id) }))
      }
    }
    if (plan.recheck !== null) {
      const recheck = plan.recheck
      plain = plain.filter((record) => evaluateFilter(recheck, record.metadata as Metadata | undefined))
    }
    const isReserved = this.#isReserved(scope.collection, protector)
    if (include === true && o.readableFields === '*' && plain.every((record) => isPresentable(record, includeVectors, isReserved))) {
      // adapters and the protector return fresh objects: hand them over when there is nothing to take away
      return plain as WardenReadRecord[]
    }
    const out: WardenReadRecord[] = new Array(plain.length)
    for (let i = 0; i < plain.length; i++) {
      const record = plain[i] as UnprotectedRecord & { score?: number }
      const metadata = projectMetadata(record.metadata, include, o.readableFields, isReserved)
      const read: { id: string; score?: number; vector?: Float32Array | readonly number[]; metadata?: { [field: string]: JsonValue } } = { id: record.id }
      if (record.score !== undefined) read.score = record.score
      if (includeVectors && record.vector !== undefined) read.vector = record.vector
      if (metadata !== undefined) read.metadata = metadata
      out[i] = read
    }
    return out
  }

  #decryptable(include: boolean | readonly string[], decryptable: FieldSet, recheck: FilterNode | null): FieldSet {
    const needed = new Set<string>(recheck ? filterFields(recheck) : [])
    if (include === true) return decryptable === '*' && needed.size === 0 ? '*' : decryptable
    for (const field of include === false ? [] : include) needed.add(field)
    return [...needed].filter((field) => inSet(decryptable, field))
  }

  #alarm(failures: readonly { id: string; reason: string }[], scope: ProtectionContext, stage: string): void {
    if (failures.length === 0) return
    const config = this.#host.config
    const request = scope.namespace === undefined ? { collection: scope.collection } : { collection: scope.collection, namespace: scope.namespace }
    const event = securityEvent(
      'integrity',
      {
        reason: [...new Set(failures.map((failure) => failure.reason))].join(','),
        detail: stage,
        operation: 'integrity.alarm',
        actor: this.#actor,
        request,
      },
      { source: config.source, subject: scope.collection, now: config.now() },
    )
    const data = { ...event.data, result: { dropped: failures.length, idsHash: hashIds(failures.map((failure) => failure.id)) } }
    // best effort: the decision event that follows carries the drop count and is the durable record
    try {
      const emitted = this.#host.emit({ ...event, data })
      if (isThenable(emitted)) Promise.resolve(emitted).catch(() => undefined)
    } catch {
      // the decision event still records the dropped count
    }
  }
}

const isWardenField = (field: string): boolean => field.startsWith(RESERVED_PREFIX)
const notProtected = (): boolean => false

// a protector's field lists are fixed per collection: the predicates are built once, not on every call
const fieldRules = new WeakMap<FieldProtector, Map<string, { isReserved: (field: string) => boolean; isProtected: (field: string) => boolean }>>()

function fieldRulesOf(protector: FieldProtector, collection: string) {
  let byCollection = fieldRules.get(protector)
  if (byCollection === undefined) fieldRules.set(protector, (byCollection = new Map()))
  let rules = byCollection.get(collection)
  if (rules === undefined) {
    const reserved = new Set(protector.reservedFields(collection))
    const protectedFields = new Set(protector.protectedFields(collection))
    rules = {
      isReserved: (field) => field.startsWith(RESERVED_PREFIX) || reserved.has(field),
      isProtected: (field) => protectedFields.has(field),
    }
    byCollection.set(collection, rules)
  }
  return rules
}

/** Whether a record may be returned as it is: no vector unless asked for, no reserved field. */
function isPresentable(record: UnprotectedRecord, includeVectors: boolean, isReserved: (field: string) => boolean): boolean {
  if (!includeVectors && record.vector !== undefined) return false
  const metadata = record.metadata
  if (metadata === undefined) return true
  // the warden's own fields all start with "_" (0x5f): a cheap first look before the full test
  const wardenOnly = isReserved === isWardenField
  for (const field in metadata) if ((!wardenOnly || field.charCodeAt(0) === 0x5f) && isReserved(field)) return false
  return true
}

/** Metadata after a patch: `null` removes a field; reserved fields of the old record are dropped (re-derived on write). */
function applyPatch(base: { readonly [field: string]: JsonValue }, patch: { readonly [field: string]: JsonValue }): { [field: string]: JsonValue } {
  const merged: { [field: string]: JsonValue } = {}
  for (const [field, value] of Object.entries(base)) if (!field.startsWith(RESERVED_PREFIX)) merged[field] = value
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete merged[field]
    else merged[field] = value
  }
  return merged
}

/** What the pipeline derives from a filter object: its operators, whether it matches nothing, its hash. */
interface FilterFacts {
  readonly operators: ReadonlySet<FilterOperator>
  readonly nothing: boolean
  readonly hash: string
}

const NO_FILTER: FilterFacts = { operators: new Set(), nothing: false, hash: hashFilter(canonicalFilter(null)) }
const filterFacts = new WeakMap<FilterNode, FilterFacts>()

// filters are immutable values: policies hand out the same row-filter object again and again
function factsOf(node: FilterNode | null): FilterFacts {
  if (node === null) return NO_FILTER
  let facts = filterFacts.get(node)
  if (facts === undefined) {
    facts = { operators: filterOperators(node), nothing: matchesNothing(node), hash: hashFilter(canonicalFilter(node)) }
    filterFacts.set(node, facts)
  }
  return facts
}

interface FilterPlan {
  /** The filter sent to the store: AND(enforced, caller) nested, or undefined for no restriction. */
  readonly effective: FilterNode | undefined
  /** The row filter alone, for re-verification. */
  readonly enforced: FilterNode | null
  /** The caller's original filter when protected fields were rewritten (drops blind-index false positives). */
  readonly recheck: FilterNode | null
  readonly nothing: boolean
  readonly hash: string
}
