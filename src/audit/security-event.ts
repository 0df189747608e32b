// builds security events (integrity alarms, revocations, grants, key rotations, anomalies) in the audit envelope

import type { AuditEvent, AuditOutcome, DecisionEventData } from '../spec/audit.js'

/** The kinds of security event; the CloudEvents type is `dev.vectorwarden.security.<kind>`. */
export type SecurityEventKind = 'integrity' | 'revocation' | 'grant' | 'key-rotation' | 'anomaly'

/** OCSF severity names, lowest to highest. */
export type SecuritySeverity = 'informational' | 'low' | 'medium' | 'high' | 'critical'

/** What a security event says. Never a token, key, vector or plaintext of a protected field. */
export interface SecurityEventInput {
  /** A short machine-readable reason: `record_outside_filter`, `torn_tail`, `session_revoked`, ... */
  readonly reason: string
  /** One sentence for a human; no secrets. */
  readonly detail?: string
  readonly severity?: SecuritySeverity
  /** Default `security.<kind>`. */
  readonly operation?: string
  /** Default `error` for integrity alarms, `allowed` for the rest (the action took place). */
  readonly outcome?: AuditOutcome
  readonly actor?: DecisionEventData['actor']
  readonly request?: DecisionEventData['request']
  /** Key ids involved (rotations), never key material. */
  readonly keys?: readonly string[]
  readonly anomalies?: readonly string[]
  readonly trace?: DecisionEventData['trace']
  /** The principal a revocation or grant is about, when it is not the actor. */
  readonly target?: { readonly id: string; readonly kind?: string; readonly tenant?: string }
  /** Grants: until when (RFC 3339). */
  readonly expires?: string
}

/** Envelope options of {@link securityEvent}. */
export interface SecurityEventOptions {
  /** CloudEvents `source`. Default `vectorwarden`. */
  readonly source?: string
  /** CloudEvents `subject`: the collection, when there is one. */
  readonly subject?: string
  /** Milliseconds since the epoch. Default now. */
  readonly now?: number
}

const KINDS: ReadonlySet<string> = new Set(['integrity', 'revocation', 'grant', 'key-rotation', 'anomaly'])

/** The CloudEvents type prefix of security events. */
export const SECURITY_EVENT_TYPE_PREFIX = 'dev.vectorwarden.security.'
/** The CloudEvents type of pipeline decision events. */
export const DECISION_EVENT_TYPE = 'dev.vectorwarden.decision'

/**
 * Builds a security event, ready for `emitter.emit`.
 *
 * @example
 * ```ts
 * await emitter.emit(securityEvent('integrity', {
 *   reason: 'record_outside_filter', detail: 'the store returned 1 record outside the enforced filter',
 *   severity: 'high', request: { collection: 'docs' },
 * }, { subject: 'docs' }))
 * ```
 */
export function securityEvent(
  kind: SecurityEventKind,
  input: SecurityEventInput,
  options: SecurityEventOptions = {},
): AuditEvent {
  if (!KINDS.has(kind)) throw new TypeError(`securityEvent: unknown kind ${String(kind)}`)
  if (typeof input !== 'object' || input === null || typeof input.reason !== 'string' || input.reason === '') {
    throw new TypeError('securityEvent: input.reason is required')
  }
  const security: Record<string, unknown> = {
    kind,
    reason: input.reason,
    severity: input.severity ?? (kind === 'integrity' ? 'high' : 'informational'),
  }
  if (input.detail !== undefined) security.detail = input.detail
  if (input.target !== undefined) security.target = input.target
  if (input.expires !== undefined) security.expires = input.expires
  const data: Record<string, unknown> = {
    schema: 'vectorwarden.audit/v1',
    operation: input.operation ?? `security.${kind}`,
    outcome: input.outcome ?? (kind === 'integrity' ? 'error' : 'allowed'),
    security,
  }
  if (input.actor !== undefined) data.actor = input.actor
  if (input.request !== undefined) data.request = input.request
  if (input.keys !== undefined) data.keys = input.keys
  if (input.anomalies !== undefined) data.anomalies = input.anomalies
  if (input.trace !== undefined) data.trace = input.trace
  const event: { -readonly [K in keyof AuditEvent]: AuditEvent[K] } = {
    specversion: '1.0',
    id: globalThis.crypto.randomUUID(),
    source: options.source ?? 'vectorwarden',
    type: SECURITY_EVENT_TYPE_PREFIX + kind,
    time: new Date(options.now ?? Date.now()).toISOString(),
    datacontenttype: 'application/json',
    data: data as unknown as DecisionEventData,
  }
  if (options.subject !== undefined) event.subject = options.subject
  return event
}
