// authenticator, principal and request-context interfaces

/** Where a request comes from and what it runs on; an input of every decision. */
export interface RequestContext {
  /** Client IP address (v4 or v6) as the host server saw it. */
  readonly ip?: string
  readonly userAgent?: string
  /** Device posture reported by the host (MDM, EDR). */
  readonly device?: { readonly id?: string; readonly managed?: boolean; readonly compliant?: boolean }
  /** Where the client is, for impossible-travel detection. */
  readonly location?: { readonly latitude: number; readonly longitude: number; readonly country?: string }
  /** The mTLS peer identity the host server verified (SPIFFE ID or certificate URI SANs). */
  readonly peer?: { readonly spiffeId?: string; readonly uriSans?: readonly string[]; readonly subject?: string }
  /** W3C trace context, copied into audit events. */
  readonly traceparent?: string
  /** Free-form attributes for policy conditions. */
  readonly attributes?: { readonly [key: string]: unknown }
}

/**
 * The credential a session is opened with: an `Authorization` header value (`Bearer …`, `ApiKey …`), or an object.
 * `{ peer: true }` authenticates from `context.peer` alone (mTLS workload identity).
 */
export type Credential = string | { readonly apiKey: string } | { readonly bearer: string } | { readonly peer: true }

/** A credential with its scheme recognised, as authenticators see it. */
export type NormalizedCredential =
  | { readonly scheme: 'bearer'; readonly value: string }
  | { readonly scheme: 'api-key'; readonly value: string }
  | { readonly scheme: 'peer' }

/** Who is calling, as established by an authenticator. Never holds the credential itself. */
export interface Principal {
  readonly id: string
  readonly kind: 'user' | 'service'
  readonly tenant?: string
  readonly roles: readonly string[]
  readonly scopes: readonly string[]
  /** Free attributes for policy conditions and row filters (`department`, `clearance`, ...). */
  readonly attributes: { readonly [key: string]: unknown }
  /** Which authenticator established it (`api-key`, `jwt`, `mtls`, ...). */
  readonly authenticator: string
  readonly issuer?: string
  /** The credential's id: API key id or token `jti`. Safe to log. */
  readonly credentialId?: string
  /** The identity provider's session id (`sid`). */
  readonly sessionId?: string
  /** Authentication methods (`amr`), e.g. `['pwd', 'otp']`. */
  readonly amr?: readonly string[]
  readonly acr?: string
  /** When the user last authenticated, ms since the epoch. */
  readonly authTime?: number
  /** When the credential stops being valid, ms since the epoch. */
  readonly expiresAt?: number
  /**
   * When the credential was issued (token `iat`, API key creation), ms since the epoch. Revocations "for
   * credentials issued before T" compare against it.
   */
  readonly issuedAt?: number
}

/**
 * Establishes a principal from a credential. The chain asks `recognizes` of each in order; the first that
 * recognises the credential decides, and a recognised but invalid credential is denied, never passed on.
 *
 * @example
 * ```ts
 * const authenticator: Authenticator = apiKeyAuthenticator({ keys })
 * ```
 */
export interface Authenticator {
  readonly name: string
  recognizes(credential: NormalizedCredential, context: RequestContext): boolean
  /** Throws `AuthenticationError` (with a `reason`) for a credential it recognises but rejects. */
  authenticate(credential: NormalizedCredential, context: RequestContext): Promise<Principal>
  /**
   * Re-checked on every call of a session: expiry, key still active. Throws `AuthenticationError` when the
   * principal must no longer be trusted. Keep it cheap: it runs on the hot path.
   */
  verify?(principal: Principal, context: RequestContext, now: number): void | Promise<void>
}

/** A live session as continuous checks see it. */
export interface SessionInfo {
  /** The warden's own session id (random, safe to log). */
  readonly id: string
  readonly principal: Principal
  /** ms since the epoch. */
  readonly openedAt: number
  /** ms since the epoch of the previous call (or of opening). */
  readonly lastActivityAt: number
  /** The context the session was opened with. */
  readonly openedContext: RequestContext
}

/**
 * A check run on every call of a session (revocation, idle timeout, risk). Throws `AuthenticationError` to end
 * the session's trust; the call is denied and audited.
 */
export interface ContinuousCheck {
  readonly name: string
  check(session: SessionInfo, context: RequestContext, now: number): void | Promise<void>
}
