// builds the audit events of the pipeline: one decision event per outcome, security events for alarms

import { isWellFormed } from '../crypto/bytes.js'
import { WardenError } from '../errors.js'
import { platform } from '../platform/index.js'
import type { AuditEvent, AuditOutcome, DecisionEventData } from '../spec/audit.js'
import type { Principal, RequestContext } from '../spec/auth.js'

/** The actor block of a session's events; built once per session, principals are immutable. */
export type Actor = NonNullable<DecisionEventData['actor']>

export function actorOf(principal: Principal, sessionId: string | undefined): Actor {
  const actor: { -readonly [K in keyof Actor]: Actor[K] } = {
    id: principal.id,
    kind: principal.kind,
    authenticator: principal.authenticator,
  }
  if (principal.tenant !== undefined) actor.tenant = principal.tenant
  if (principal.issuer !== undefined) actor.issuer = principal.issuer
  if (sessionId !== undefined) actor.session = sessionId
  if (principal.sessionId !== undefined) actor.idpSession = principal.sessionId
  if (principal.credentialId !== undefined) actor.credentialId = principal.credentialId
  return actor
}

const wellFormed = (text: string): string => (isWellFormed(text) ? text : (text as unknown as { toWellFormed(): string }).toWellFormed())

/** A context value the audit event carries: a string of well-formed text, or absent. Throws `TypeError` otherwise. */
function eventText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !isWellFormed(value)) throw new TypeError(`context.${name} must be a string of well-formed text`)
  return value
}

/**
 * What a decision event records of the request context, read once: the pipeline calls it before anything happens,
 * so a getter that throws, or a value the trail cannot hold, fails the call before the store is touched.
 */
export function contextOf(context: RequestContext): DecisionEventData['context'] | undefined {
  const ip = eventText(context.ip, 'ip')
  const userAgent = eventText(context.userAgent, 'userAgent')
  const deviceId = eventText(context.device?.id, 'device.id')
  if (ip === undefined && userAgent === undefined && deviceId === undefined) return undefined
  const out: { ip?: string; userAgent?: string; deviceId?: string } = {}
  if (ip !== undefined) out.ip = ip
  if (userAgent !== undefined) out.userAgent = userAgent
  if (deviceId !== undefined) out.deviceId = deviceId
  return out
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/

export function traceOf(context: RequestContext): DecisionEventData['trace'] | undefined {
  const traceparent = eventText(context.traceparent, 'traceparent')
  if (traceparent === undefined) return undefined
  const match = TRACEPARENT.exec(traceparent)
  return match ? { traceId: match[1] as string, spanId: match[2] as string } : undefined
}

/** The outcome an error stands for: refusals of identity or permission are denials, the rest are errors. */
export function outcomeOf(error: unknown): AuditOutcome {
  if (WardenError.isInstance(error) && (error.code === 'ERR_AUTHENTICATION' || error.code === 'ERR_AUTHORIZATION')) return 'denied'
  return 'error'
}

/** The error block of an event: code, reason and message of warden errors (which never carry secrets); nothing else of foreign errors. */
export function errorOf(error: unknown): NonNullable<DecisionEventData['error']> {
  // a message may quote a name the caller gave; the trail holds only well-formed text (lone surrogates become U+FFFD)
  if (WardenError.isInstance(error)) return { code: error.code, reason: error.reason, message: wellFormed(error.message) }
  if (error instanceof TypeError) return { code: 'TypeError', reason: 'misuse', message: wellFormed(error.message) }
  return { code: 'ERR_INTERNAL', reason: 'unexpected', message: 'an unexpected error occurred' }
}

let lastTime = Number.NaN
let lastIso = ''
// the ISO text up to the milliseconds ('2026-11-29T11:25:06.') of the second last formatted
let lastSecond = Number.NaN
let secondPrefix = ''

/**
 * RFC 3339 time of a ms timestamp, exactly `new Date(now).toISOString()`. Calls within the same millisecond share
 * the string, and calls within the same second only append the milliseconds to that second's text: formatting a
 * `Date` costs several microseconds between requests, when its code is cold.
 */
export function isoTime(now: number): string {
  if (now === lastTime) return lastIso
  lastTime = now
  if (Number.isSafeInteger(now) && now >= 0) {
    const ms = now % 1000
    const second = now - ms
    if (second !== lastSecond) {
      lastSecond = second
      // the 20 characters up to and including the '.' of a four-digit year
      secondPrefix = new Date(second).toISOString().slice(0, -4)
    }
    lastIso = secondPrefix + (ms < 10 ? '00' : ms < 100 ? '0' : '') + ms + 'Z'
  } else lastIso = new Date(now).toISOString()
  return lastIso
}

/** Wraps event data in a CloudEvents 1.0 envelope. */
export function envelope(source: string, type: string, now: number, subject: string | undefined, data: DecisionEventData): AuditEvent {
  const event: { -readonly [K in keyof AuditEvent]: AuditEvent[K] } = {
    specversion: '1.0',
    id: globalThis.crypto.randomUUID(),
    source,
    type,
    time: isoTime(now),
    datacontenttype: 'application/json',
    data,
  }
  if (subject !== undefined) event.subject = subject
  return event
}

/** SHA-256 hex of a string. */
export function hashText(text: string): string {
  return platform.sha256Hex(text)
}

// enforced filters repeat (one per tenant and role), so their hashes are kept; bounded, cleared when full
const filterHashes = new Map<string, string>()

/** SHA-256 hex of a canonical filter string, memoised. */
export function hashFilter(canonical: string): string {
  let hash = filterHashes.get(canonical)
  if (hash === undefined) {
    if (filterHashes.size >= 4096) filterHashes.clear()
    hash = platform.sha256Hex(canonical)
    filterHashes.set(canonical, hash)
  }
  return hash
}

/** SHA-256 hex of ids in order, newline-separated (ids cannot contain control characters). */
export function hashIds(ids: readonly string[]): string {
  return hashText(ids.join('\n'))
}
