// the audit event (CloudEvents 1.0 envelope) and the sink interface

/** Outcome of one pipeline run. */
export type AuditOutcome = 'allowed' | 'denied' | 'error'

/** The body of a decision event. Never holds a token, key, vector or plaintext of a protected field. */
export interface DecisionEventData {
  readonly schema: 'vectorwarden.audit/v1'
  /** The session operation: `query`, `upsert`, `fetch`, `session.open`, ... */
  readonly operation: string
  readonly outcome: AuditOutcome
  readonly decision?: {
    readonly action?: string
    readonly code?: string
    readonly reasons?: readonly string[]
    readonly matchedRules?: readonly string[]
    readonly policy?: { readonly id: string; readonly version: string }
  }
  readonly actor?: {
    readonly id: string
    readonly kind: string
    readonly tenant?: string
    readonly issuer?: string
    readonly authenticator: string
    /** The warden session id. */
    readonly session?: string
    /** The identity provider's session id. */
    readonly idpSession?: string
    /** API key id or token `jti`, never the secret. */
    readonly credentialId?: string
  }
  readonly request?: {
    readonly collection?: string
    readonly namespace?: string
    readonly topK?: number
    /** The topK the caller asked for, when a limit lowered it. */
    readonly requestedTopK?: number
    readonly idCount?: number
    readonly recordCount?: number
    /** SHA-256 (hex) of the canonical enforced filter actually sent to the store. */
    readonly filterHash?: string
    readonly fields?: readonly string[] | boolean
    readonly includeVectors?: boolean
  }
  readonly result?: {
    readonly count?: number
    /** SHA-256 (hex) of the returned ids, in order, newline-separated. */
    readonly idsHash?: string
    /** Records the store returned that failed re-verification and were dropped. */
    readonly dropped?: number
    readonly latencyMs?: number
  }
  readonly error?: { readonly code: string; readonly reason: string; readonly message: string }
  readonly context?: { readonly ip?: string; readonly userAgent?: string; readonly deviceId?: string }
  readonly transport?: { readonly secure: boolean }
  readonly keys?: readonly string[]
  readonly anomalies?: readonly string[]
  readonly trace?: { readonly traceId: string; readonly spanId: string }
  /** Security events (`dev.vectorwarden.security.*`) only: what happened. */
  readonly security?: {
    readonly kind: string
    readonly reason: string
    readonly severity: string
    readonly detail?: string
    readonly target?: { readonly id: string; readonly kind?: string; readonly tenant?: string }
    readonly expires?: string
  }
  readonly [extra: string]: unknown
}

/**
 * An audit event: a CloudEvents 1.0 envelope around the data. `type` is `dev.vectorwarden.decision` for pipeline
 * outcomes and `dev.vectorwarden.security.*` for integrity alarms, revocations, grants and key rotations.
 */
export interface AuditEvent {
  readonly specversion: '1.0'
  readonly id: string
  readonly source: string
  readonly type: string
  /** RFC 3339 timestamp. */
  readonly time: string
  /** The collection, when there is one. */
  readonly subject?: string
  readonly datacontenttype: 'application/json'
  readonly data: DecisionEventData
}

/**
 * Where audit events go. `write` may return a promise; the emitter awaits it in durable modes, so a sink whose
 * promise resolves has made the event as durable as it can.
 *
 * @example
 * ```ts
 * const sink: AuditSink = { write: (event) => queue.push(event) }
 * ```
 */
export interface AuditSink {
  readonly name?: string
  write(event: AuditEvent): void | Promise<void>
  /** Makes everything written so far durable. */
  flush?(): Promise<void>
  close?(): Promise<void>
  /**
   * True when `write`'s promise settles only once the event is durable (e.g. the file sink with group-commit fsync):
   * the batched emitter then waits for that promise alone, without a `flush` per group.
   */
  readonly durable?: boolean
}
