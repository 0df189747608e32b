// CAEP 1.0 signals (unsigned Security Event Token claims) for revocations the analytics decide on

import type { Principal } from '../spec/auth.js'

/** The CAEP event type URIs this module emits. */
export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
export const CAEP_CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change'

/** An RFC 9493 subject identifier. */
export type SubjectIdentifier =
  | { readonly format: 'opaque'; readonly id: string }
  | { readonly format: 'iss_sub'; readonly iss: string; readonly sub: string }
  | {
      readonly format: 'complex'
      readonly user?: SubjectIdentifier
      readonly session?: { readonly format: 'opaque'; readonly id: string }
      readonly tenant?: { readonly format: 'opaque'; readonly id: string }
    }

/**
 * The claims of a Security Event Token (RFC 8417) carrying one CAEP event. Unsigned: a transmitter (or the
 * `onRevoke` hook) signs and delivers it. Holds identifiers only, never a credential.
 */
export interface CaepSignal {
  readonly iss: string
  readonly jti: string
  /** Seconds since the epoch. */
  readonly iat: number
  readonly sub_id: SubjectIdentifier
  readonly events: {
    readonly [type: string]: {
      /** Seconds since the epoch. */
      readonly event_timestamp: number
      readonly initiating_entity: 'admin' | 'user' | 'policy' | 'system'
      readonly reason_admin?: { readonly en: string }
      readonly credential_type?: string
      readonly change_type?: 'create' | 'revoke' | 'update' | 'delete'
    }
  }
}

function subjectOf(principal: Principal): SubjectIdentifier {
  const user: SubjectIdentifier =
    principal.issuer === undefined
      ? { format: 'opaque', id: principal.id }
      : { format: 'iss_sub', iss: principal.issuer, sub: principal.id }
  if (principal.sessionId === undefined && principal.tenant === undefined) return user
  return {
    format: 'complex',
    user,
    ...(principal.sessionId === undefined ? {} : { session: { format: 'opaque' as const, id: principal.sessionId } }),
    ...(principal.tenant === undefined ? {} : { tenant: { format: 'opaque' as const, id: principal.tenant } }),
  }
}

/**
 * Builds the CAEP signal of an automated revocation: `session-revoked`, and `credential-change` (`revoke`) when the
 * principal authenticated with an API key.
 *
 * @example
 * ```ts
 * const signal = caepRevocationSignal(principal, 'volume_spike:records', { issuer: 'https://rag.example', now: Date.now() })
 * await transmitter.send(await new SignJWT(signal).setProtectedHeader({ alg: 'ES256', typ: 'secevent+jwt' }).sign(key))
 * ```
 */
export function caepRevocationSignal(principal: Principal, reason: string, options: { issuer: string; now: number }): CaepSignal {
  const seconds = Math.floor(options.now / 1000)
  const base = { event_timestamp: seconds, initiating_entity: 'policy' as const, reason_admin: { en: reason } }
  const events: Record<string, CaepSignal['events'][string]> = { [CAEP_SESSION_REVOKED]: base }
  if (principal.authenticator === 'api-key') {
    // CAEP has no API-key credential type; `app` is the nearest (an application credential)
    events[CAEP_CREDENTIAL_CHANGE] = { ...base, credential_type: 'app', change_type: 'revoke' }
  }
  return { iss: options.issuer, jti: globalThis.crypto.randomUUID(), iat: seconds, sub_id: subjectOf(principal), events }
}
