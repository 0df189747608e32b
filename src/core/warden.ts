// createWarden: validates configuration once, authenticates sessions, owns the audit emitter and the collection cache

import type { SignalEvent, SignalOutcome } from '../auth/signals.js'
import type { GrantEvent } from '../policy/grants.js'
import { type SecurityEventInput, type SecurityEventKind, securityEvent } from '../audit/security-event.js'
import { AuditError, AuthenticationError, WardenError } from '../errors.js'
import type { DecisionEventData } from '../spec/audit.js'
import type { Authenticator, Credential, Principal, RequestContext } from '../spec/auth.js'
import type { CollectionInfo } from '../spec/records.js'
import { type ResolvedConfig, resolveConfig, type WardenOptions } from './config.js'
import { normalizeCredential } from './credential.js'
import { actorOf, contextOf, envelope, errorOf, outcomeOf, traceOf } from './events.js'
import { Session, type SessionHost } from './session.js'
import { isThenable } from '../spec/values.js'
import { type Deferred, deferred } from '../audit/deferred.js'

/** What a session-opening event records of the request context, read once. */
interface Recorded {
  readonly context?: DecisionEventData['context']
  readonly trace?: DecisionEventData['trace']
}

const COLLECTION_CACHE_MS = 60_000

/**
 * The enforcement point between an application and its vector store.
 *
 * @example
 * ```ts
 * const warden = createWarden({ adapter: memoryAdapter(), authenticators: [apiKeyAuthenticator({ keys })], policy, audit: memoryAuditSink() })
 * const session = await warden.session(`ApiKey ${key}`, { ip: '203.0.113.7' })
 * ```
 */
export class Warden {
  readonly #config: ResolvedConfig
  readonly #collections = new Map<string, { info: CollectionInfo; at: number }>()
  readonly #sessions = new Set<WeakRef<Session>>()
  #closed = false
  // calls admitted and not yet ended; close() waits for them, so every store call it let through is audited
  #inFlight = 0
  #drained: Deferred | undefined
  readonly #host: SessionHost
  readonly #unsubscribe: (() => void) | undefined

  /** @internal use {@link createWarden}. */
  constructor(config: ResolvedConfig) {
    this.#config = config
    const warden = this
    this.#host = {
      config,
      get closed() {
        return warden.#closed
      },
      emit: (event) => config.audit.emit(event),
      describe: (collection, signal) => this.#describe(collection, signal),
      forget: (collection) => this.#collections.delete(collection),
      enter: () => {
        this.#inFlight++
      },
      leave: () => {
        if (--this.#inFlight === 0) this.#drained?.resolve()
      },
    }
    // JIT grants of the built-in policy are audited when granted, refused, used, expired and revoked
    const grants = (config.policy as { grants?: { subscribe?: unknown } }).grants
    if (typeof grants?.subscribe === 'function') {
      this.#unsubscribe = (grants.subscribe as (listener: (event: GrantEvent) => Promise<void> | undefined) => () => void)((event) => {
        if (this.#closed) return undefined
        const { grant } = event
        const why = event.type === 'grant-refused' || event.type === 'grant-revoked' ? event.reason : undefined
        const recorded = this.recordSecurityEvent(
          'grant',
          {
            reason: event.type,
            operation: event.type,
            outcome: event.type === 'grant-refused' ? 'denied' : 'allowed',
            target: { id: grant.principalId, kind: 'principal' },
            ...(why === undefined ? {} : { detail: why }),
          },
          {
            grant: {
              id: grant.id,
              principalId: grant.principalId,
              ...(grant.role === undefined ? {} : { role: grant.role }),
              justification: grant.justification,
              expiresAt: grant.expiresAt,
              ...('approverId' in grant && grant.approverId !== undefined ? { approverId: grant.approverId } : {}),
            },
          },
        )
        // the grant store waits for grant-granted: a grant whose audit event fails is not made
        if (event.type === 'grant-granted') return recorded
        recorded.catch(() => undefined)
        return undefined
      })
    }
  }

  /** The validated configuration's policy id and version, for logs. */
  get policy(): { readonly id: string; readonly version: string } {
    return { id: this.#config.policy.id, version: this.#config.policy.version }
  }

  /** Audit events dropped by an `async` emitter (always 0 in durable modes). */
  get droppedAuditEvents(): number {
    return this.#config.audit.dropped
  }

  /**
   * Authenticates a credential and opens a session. The first authenticator that recognises the credential's shape
   * decides; a recognised but invalid credential is denied, never passed on. Success and failure are both audited.
   * Throws `AuthenticationError` (with a `reason`) when the credential is not accepted.
   *
   * @example
   * ```ts
   * const session = await warden.session(request.headers.authorization ?? '', { ip: request.ip })
   * ```
   */
  async session(credential: Credential, context: RequestContext = {}): Promise<Session> {
    if (this.#closed) throw new AuthenticationError('the warden is closed', { reason: 'warden_closed' })
    if (typeof context !== 'object' || context === null) throw new TypeError('context must be an object')
    const config = this.#config
    const now = config.now()
    const start = performance.now()
    let principal: Principal | undefined
    let authenticator: Authenticator | undefined
    let recorded: Recorded = {}
    try {
      // what the event records of the context, read first: a getter that throws fails the opening, which is audited
      recorded = { context: contextOf(context), trace: traceOf(context) }
      const normalized = normalizeCredential(credential)
      authenticator = config.authenticators.find((candidate) => candidate.recognizes(normalized, context))
      if (authenticator === undefined) throw new AuthenticationError('no authenticator accepts this kind of credential', { reason: 'unrecognized_credential' })
      try {
        principal = await authenticator.authenticate(normalized, context)
      } catch (error) {
        if (WardenError.isInstance(error) || error instanceof TypeError) throw error
        throw new AuthenticationError('authentication failed', { reason: 'authenticator_error' })
      }
      if (typeof principal !== 'object' || principal === null || typeof principal.id !== 'string' || principal.id === '') {
        throw new AuthenticationError('the authenticator returned no principal', { reason: 'authenticator_error' })
      }
      if (principal.expiresAt !== undefined && now >= principal.expiresAt) {
        throw new AuthenticationError('the credential has expired', { reason: 'credential_expired' })
      }
    } catch (error) {
      await this.#auditOpen(now, start, recorded, authenticator, undefined, undefined, error)
      throw error
    }
    const id = globalThis.crypto.randomUUID()
    const session = new Session(this.#host, principal, authenticator, context, id, now)
    await this.#auditOpen(now, start, recorded, authenticator, principal, id, undefined)
    this.#sessions.add(new WeakRef(session))
    return session
  }

  /**
   * Applies a CAEP-shaped security signal (`session-revoked`, `credential-change`, `token-claims-change`,
   * `assurance-level-change`, `device-compliance-change`, `risk-level-change`) through the configured signal hub, and
   * audits it. Its effects hold from the very next call of every open session.
   *
   * @example
   * ```ts
   * await warden.signal({ type: 'session-revoked', subject: { subject: 'alice', issuer: 'https://idp.example/' } })
   * ```
   */
  async signal(event: SignalEvent): Promise<SignalOutcome> {
    const hub = this.#config.signals
    if (hub === undefined) throw new TypeError('warden.signal() needs a signal hub: createWarden({ signals: createSignalHub({ revocations }) })')
    const outcome = await hub.apply(event)
    await this.recordSecurityEvent(
      outcome.revoked.length > 0 ? 'revocation' : 'anomaly',
      { reason: outcome.type, operation: `signal.${outcome.type}`, severity: outcome.revoked.length > 0 ? 'medium' : 'low' },
      { signal: { type: outcome.type, revoked: outcome.revoked.map((entry) => ({ kind: entry.kind, value: entry.value })), stateChanged: outcome.stateChanged } },
    )
    return outcome
  }

  /**
   * Records a security event (integrity alarm, revocation, grant, key rotation, anomaly) in the audit trail, built by
   * `securityEvent()`; `extra` adds blocks of its own to the event data (never secrets).
   *
   * @example
   * ```ts
   * await warden.recordSecurityEvent('key-rotation', { reason: 'primary-promoted', detail: 'k2 is now primary' })
   * ```
   */
  async recordSecurityEvent(kind: SecurityEventKind, input: SecurityEventInput, extra: { readonly [key: string]: unknown } = {}): Promise<void> {
    const config = this.#config
    const event = securityEvent(kind, input, { source: config.source, now: config.now() })
    const emitted = config.audit.emit(Object.keys(extra).length === 0 ? event : { ...event, data: { ...extra, ...event.data } })
    if (isThenable(emitted)) await emitted
  }

  /**
   * Ends every open session, flushes the audit trail and releases the adapter. Calls after close are refused.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => warden.close())
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    for (const ref of this.#sessions) ref.deref()?.end()
    this.#sessions.clear()
    if (this.#inFlight > 0) {
      this.#drained = deferred()
      await this.#drained.done
    }
    let failure: unknown
    try {
      await this.#config.audit.close()
    } catch (error) {
      failure = error
    }
    await this.#config.adapter.close?.()
    if (failure !== undefined) throw AuditError.isInstance(failure) ? failure : new AuditError('the audit trail could not be flushed on close', { reason: 'flush_failed' })
  }

  async #describe(collection: string, signal: AbortSignal | undefined): Promise<CollectionInfo> {
    const cached = this.#collections.get(collection)
    const now = this.#config.now()
    if (cached !== undefined && now - cached.at < COLLECTION_CACHE_MS) return cached.info
    const info = await this.#config.adapter.doDescribeCollection({ name: collection, signal })
    this.#collections.set(collection, { info, at: now })
    return info
  }

  async #auditOpen(
    now: number,
    start: number,
    recorded: Recorded,
    authenticator: Authenticator | undefined,
    principal: Principal | undefined,
    sessionId: string | undefined,
    error: unknown,
  ): Promise<void> {
    const config = this.#config
    const data: { -readonly [K in keyof DecisionEventData]: DecisionEventData[K] } = {
      schema: 'vectorwarden.audit/v1',
      operation: 'session.open',
      outcome: error === undefined ? 'allowed' : outcomeOf(error),
      result: { latencyMs: Math.round((performance.now() - start) * 1000) / 1000 },
    }
    if (principal !== undefined) data.actor = actorOf(principal, sessionId)
    else if (authenticator !== undefined) data.authenticator = authenticator.name
    if (error !== undefined) data.error = errorOf(error)
    if (recorded.context !== undefined) data.context = recorded.context
    if (recorded.trace !== undefined) data.trace = recorded.trace
    const emitted = config.audit.emit(envelope(config.source, 'dev.vectorwarden.decision', now, undefined, data))
    if (isThenable(emitted)) await emitted
  }
}

/**
 * Creates a warden. Validates the whole configuration once and throws `ConfigError` naming the first problem.
 *
 * @example
 * ```ts
 * import { createWarden, memoryAdapter, definePolicy, apiKeyAuthenticator, memoryAuditSink } from 'vectorwarden'
 * const warden = createWarden({ adapter: memoryAdapter(), authenticators: [apiKeyAuthenticator({ keys })], policy: definePolicy(doc), audit: memoryAuditSink() })
 * ```
 */
export function createWarden(options: WardenOptions): Warden {
  return new Warden(resolveConfig(options))
}
