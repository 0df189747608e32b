// revocation lists: revoke by jti, subject, session, API key or tenant, and the continuous check that consults them

import { AuthenticationError } from '../errors.js'
import type { ContinuousCheck, Principal } from '../spec/auth.js'

/** What a revocation names. `session` is the identity provider's `sid`; `warden-session` the warden's own id. */
export type RevocationKind = 'jti' | 'subject' | 'session' | 'warden-session' | 'api-key' | 'tenant'

/**
 * The kinds in a stable order.
 *
 * @example
 * ```ts
 * for (const kind of REVOCATION_KINDS) console.log(kind)
 * ```
 */
export const REVOCATION_KINDS: readonly RevocationKind[] = [
  'jti',
  'subject',
  'session',
  'warden-session',
  'api-key',
  'tenant',
]

/** One revocation. Values are identifiers (safe to log), never credentials. */
export interface Revocation {
  readonly kind: RevocationKind
  readonly value: string
  /** For `subject`: only principals from this issuer. Subjects of different issuers may collide. */
  readonly issuer?: string
  /**
   * Only credentials issued before this time (ms since the epoch) are revoked, so the owner can sign in again;
   * without it every credential matching the entry is refused until the entry expires.
   */
  readonly issuedBefore?: number
  /** When the entry may be forgotten (ms since the epoch), e.g. the latest expiry of the tokens it covers. */
  readonly expiresAt?: number
  /** Why, for the audit trail (`compromised`, `offboarded`, a CAEP event type). */
  readonly reason?: string
}

/** What is known about a credential in use, to look revocations up. */
export interface RevocationQuery {
  readonly jti?: string
  readonly subject?: string
  readonly issuer?: string
  readonly sessionId?: string
  readonly wardenSessionId?: string
  readonly apiKeyId?: string
  readonly tenant?: string
  /** ms since the epoch; unknown means every `issuedBefore` entry matches (fail closed). */
  readonly issuedAt?: number
}

/**
 * A store of revocations. Methods may return promises so the list can live in Redis or a database; the in-memory
 * list answers synchronously, which keeps the per-call check to a few map lookups.
 */
export interface RevocationList {
  revoke(revocation: Revocation): void | Promise<void>
  /** Lifts revocations of this kind and value (all issuers). Returns how many were removed. */
  restore(kind: RevocationKind, value: string): number | Promise<number>
  /** The first revocation that applies to the query at `now`, or undefined. */
  find(query: RevocationQuery, now: number): Revocation | undefined | Promise<Revocation | undefined>
}

/** The in-memory list, with inspection helpers. */
export interface MemoryRevocationList extends RevocationList {
  revoke(revocation: Revocation): void
  restore(kind: RevocationKind, value: string): number
  find(query: RevocationQuery, now: number): Revocation | undefined
  /** Entries that have not expired at `now`. */
  list(now?: number): Revocation[]
}

function validateRevocation(revocation: Revocation): void {
  if (typeof revocation !== 'object' || revocation === null) throw new TypeError('revocation must be an object')
  if (!REVOCATION_KINDS.includes(revocation.kind)) throw new TypeError(`unknown revocation kind ${String(revocation.kind)}`)
  if (typeof revocation.value !== 'string' || revocation.value.length === 0) {
    throw new TypeError('revocation value must be a non-empty string')
  }
  for (const field of ['issuedBefore', 'expiresAt'] as const) {
    const value = revocation[field]
    if (value !== undefined && !Number.isFinite(value)) throw new TypeError(`${field} must be ms since the epoch`)
  }
}

function applies(entry: Revocation, query: RevocationQuery, now: number): boolean {
  if (entry.expiresAt !== undefined && now >= entry.expiresAt) return false
  if (entry.issuer !== undefined && entry.issuer !== query.issuer) return false
  if (entry.issuedBefore !== undefined && query.issuedAt !== undefined && query.issuedAt >= entry.issuedBefore) {
    return false
  }
  return true
}

/**
 * An in-memory {@link RevocationList}. Expired entries are dropped as they are met.
 *
 * @example
 * ```ts
 * const revocations = memoryRevocationList()
 * revocations.revoke({ kind: 'jti', value: 'b4c1…', expiresAt: token.exp * 1000 })
 * revocations.revoke({ kind: 'subject', value: 'alice', issuer: 'https://idp.example', issuedBefore: Date.now() })
 * ```
 */
export function memoryRevocationList(initial: readonly Revocation[] = []): MemoryRevocationList {
  // one map per kind, so a lookup builds no key string
  const byKind = new Map<RevocationKind, Map<string, Revocation[]>>(REVOCATION_KINDS.map((kind) => [kind, new Map()]))
  let size = 0
  const lookup = (kind: RevocationKind, value: string | undefined, query: RevocationQuery, now: number) => {
    if (value === undefined) return undefined
    const entries = byKind.get(kind)!
    const found = entries.get(value)
    if (found === undefined) return undefined
    let match: Revocation | undefined
    let expired = false
    for (const entry of found) {
      if (entry.expiresAt !== undefined && now >= entry.expiresAt) expired = true
      else if (match === undefined && applies(entry, query, now)) match = entry
    }
    if (expired) {
      const live = found.filter((entry) => entry.expiresAt === undefined || now < entry.expiresAt)
      size -= found.length - live.length
      if (live.length === 0) entries.delete(value)
      else entries.set(value, live)
    }
    return match
  }
  const list: MemoryRevocationList = {
    revoke(revocation) {
      validateRevocation(revocation)
      const entries = byKind.get(revocation.kind)!
      const frozen = Object.freeze({ ...revocation })
      const found = entries.get(revocation.value)
      if (found === undefined) entries.set(revocation.value, [frozen])
      else found.push(frozen)
      size++
    },
    restore(kind, value) {
      const entries = byKind.get(kind)
      const count = entries?.get(value)?.length ?? 0
      entries?.delete(value)
      size -= count
      return count
    },
    find(query, now) {
      if (size === 0) return undefined
      return (
        lookup('jti', query.jti, query, now) ??
        lookup('warden-session', query.wardenSessionId, query, now) ??
        lookup('session', query.sessionId, query, now) ??
        lookup('api-key', query.apiKeyId, query, now) ??
        lookup('subject', query.subject, query, now) ??
        lookup('tenant', query.tenant, query, now)
      )
    },
    list(now = Date.now()) {
      const live: Revocation[] = []
      for (const entries of byKind.values()) {
        for (const found of entries.values()) {
          for (const entry of found) if (entry.expiresAt === undefined || now < entry.expiresAt) live.push(entry)
        }
      }
      return live
    },
  }
  for (const revocation of initial) list.revoke(revocation)
  return list
}

/**
 * The revocation query for a principal (and the warden session it is used in). `issuedAtFallback` stands in for
 * an unknown issue time when given. Without one, an entry with `issuedBefore` applies to the principal whatever
 * the time, which is what a credential of unknown age must get: a session-opening time would let the same stolen
 * credential escape the entry by opening a new session.
 *
 * @example
 * ```ts
 * const revoked = await revocations.find(revocationQueryOf(session.principal, session.id), Date.now())
 * ```
 */
export function revocationQueryOf(principal: Principal, wardenSessionId?: string, issuedAtFallback?: number): RevocationQuery {
  // plain assignments, no spreads: this runs on every call of every session
  const query: { -readonly [K in keyof RevocationQuery]: RevocationQuery[K] } = { subject: principal.id }
  if (principal.issuer !== undefined) query.issuer = principal.issuer
  if (principal.credentialId !== undefined) {
    if (principal.authenticator === 'api-key') query.apiKeyId = principal.credentialId
    else query.jti = principal.credentialId
  }
  if (principal.sessionId !== undefined) query.sessionId = principal.sessionId
  if (wardenSessionId !== undefined) query.wardenSessionId = wardenSessionId
  if (principal.tenant !== undefined) query.tenant = principal.tenant
  const issuedAt = principal.issuedAt ?? issuedAtFallback
  if (issuedAt !== undefined) query.issuedAt = issuedAt
  return query
}

function revokedError(revocation: Revocation): AuthenticationError {
  // the kind says what was revoked; the value is an identifier, but the message stays generic anyway
  return new AuthenticationError(`credential revoked (${revocation.kind})`, { reason: 'revoked' })
}

/**
 * Throws `AuthenticationError` (reason `revoked`) when a revocation applies; synchronous when the list is.
 * A list that fails is a deny (reason `revocation_unavailable`).
 *
 * @example
 * ```ts
 * await assertNotRevoked(revocations, revocationQueryOf(principal), Date.now())
 * ```
 */
export function assertNotRevoked(list: RevocationList, query: RevocationQuery, now: number): void | Promise<void> {
  let found: Revocation | undefined | Promise<Revocation | undefined>
  try {
    found = list.find(query, now)
  } catch (error) {
    throw new AuthenticationError('revocation list unavailable', { reason: 'revocation_unavailable', cause: error })
  }
  if (found instanceof Promise) {
    return found.then(
      (revocation) => {
        if (revocation !== undefined) throw revokedError(revocation)
      },
      (error: unknown) => {
        throw new AuthenticationError('revocation list unavailable', { reason: 'revocation_unavailable', cause: error })
      },
    )
  }
  if (found !== undefined) throw revokedError(found)
}

/**
 * A continuous check that denies the next call of any session whose credential, subject, session or tenant has
 * been revoked.
 *
 * @example
 * ```ts
 * const revocations = memoryRevocationList()
 * const warden = createWarden({ adapter, policy, authenticators, checks: [revocationCheck(revocations)] })
 * revocations.revoke({ kind: 'subject', value: 'alice' }) // alice's open sessions fail their next call
 * ```
 */
export function revocationCheck(list: RevocationList): ContinuousCheck {
  if (typeof list?.find !== 'function') throw new TypeError('revocationCheck needs a RevocationList')
  return {
    name: 'revocation',
    // a credential without an issue time counts as issued before every revocation: opening a new session with it
    // must not escape an "issued before" entry (mTLS principals carry the time of the handshake they rest on)
    check: (session, _context, now) => assertNotRevoked(list, revocationQueryOf(session.principal, session.id), now),
  }
}
