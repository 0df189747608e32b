// the JWT authenticator on jose: strict RFC 8725 / RFC 9068 defaults, claim mapping and a verified-token cache

import type { JWTPayload, JWTVerifyOptions } from 'jose'
import { jwtVerify } from 'jose'
import type { Authenticator, NormalizedCredential, Principal, RequestContext } from '../spec/auth.js'
import { type JwtClaimMapping, looksLikeJwt, peekClaims, principalMapper } from './_jwt-claims.js'
import {
  configError,
  fail,
  type JwtAlgorithm,
  type KeyResolver,
  type KeySourceOptions,
  mapJoseError,
  resolveAlgorithms,
  resolveKeySource,
} from './_jwt-keys.js'
import { VerifiedTokenCache } from './_token-cache.js'
import { assertNotRevoked, type RevocationList, revocationQueryOf } from './revocation.js'

export type { JwtClaimMapping } from './_jwt-claims.js'
export type { JwtAlgorithm, KeyObjectLike, KeySourceOptions, StaticJwtKey } from './_jwt-keys.js'

/** Options of {@link jwtAuthenticator}. Exactly one of `jwksUrl`, `jwks`, `keys`. */
export interface JwtAuthenticatorOptions extends KeySourceOptions {
  /** `Principal.authenticator` and the authenticator's name. Default `jwt`. */
  name?: string
  /** Required: the exact `iss` (no prefix or case folding). */
  issuer: string
  /** Required: this service's audience; a token must name one of them in `aud`. */
  audience: string | readonly string[]
  /** Required: the allow-list. HMAC and asymmetric algorithms cannot be mixed. */
  algorithms: readonly JwtAlgorithm[]
  /** Expected `typ` header. Default `at+jwt` (RFC 9068). `false` turns the check off (not recommended). */
  typ?: string | false
  /** Claims that must be present in addition to `exp`, `iat` and `sub`. */
  requiredClaims?: readonly string[]
  /** Allowed clock skew, 0–60 seconds. Default 30. */
  clockToleranceSeconds?: number
  /** Oldest acceptable `iat`, in seconds. Default 86400 (one day). */
  maxTokenAgeSeconds?: number
  claims?: JwtClaimMapping
  /** Verified-token cache; `false` turns it off. Default 10 000 entries. */
  cache?: { maxEntries?: number } | false
  /** Checked when a session opens and on every call (cached or not). */
  revocations?: RevocationList
  /**
   * Recognise only bearer tokens whose (not yet verified) `iss` is this issuer, so several JWT authenticators can
   * share one chain. Routing on an unverified claim is safe: the authenticator it routes to verifies everything.
   */
  routeByIssuer?: boolean
  /** Longest token accepted, in characters. Default 16 384. */
  maxTokenLength?: number
  /** ms since the epoch; for tests. Default `Date.now`. */
  clock?: () => number
}


const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Whether each segment is canonical base64url: a final character that carries unused bits must have them zero,
 * and a length of 4n+1 is impossible. Lenient decoders map several strings to the same bytes (Wycheproof tcId 375).
 */
function isCanonicalSegments(token: string): boolean {
  let start = 0
  while (start <= token.length) {
    let end = token.indexOf('.', start)
    if (end < 0) end = token.length
    const length = end - start
    const remainder = length % 4
    if (remainder === 1) return false
    if (remainder !== 0) {
      const last = BASE64URL.indexOf(token[end - 1]!)
      if ((last & (remainder === 2 ? 0x0f : 0x03)) !== 0) return false
    }
    start = end + 1
  }
  return true
}


/** @internal Resolved settings of a JWT authenticator; built by {@link jwtAuthenticator} and the JWT-SVID authenticator. */
export interface JwtCoreSettings {
  name: string
  issuer: string | undefined
  audience: readonly string[]
  algorithms: readonly JwtAlgorithm[]
  resolveKey: KeyResolver
  typ: string | undefined
  requiredClaims: readonly string[]
  clockToleranceSeconds: number
  maxTokenAgeSeconds: number
  /** `iat` may be absent (JWT-SVID); when present the maximum age still applies. */
  optionalIssuedAt?: boolean
  /** With `typ` undefined: the header `typ` must be absent or one of these (case-insensitive). */
  allowedTyp?: readonly string[]
  toPrincipal: (claims: JWTPayload) => Principal
  cacheEntries: number
  revocations: RevocationList | undefined
  recognizesToken: (token: string) => boolean
  maxTokenLength: number
  clock: (() => number) | undefined
}

/** @internal Validates the time settings. */
export function resolveTimes(options: { clockToleranceSeconds?: number; maxTokenAgeSeconds?: number }): {
  clockToleranceSeconds: number
  maxTokenAgeSeconds: number
} {
  const clockToleranceSeconds = options.clockToleranceSeconds ?? 30
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0 || clockToleranceSeconds > 60) {
    throw configError('clockToleranceSeconds must be between 0 and 60', 'clock_tolerance')
  }
  const maxTokenAgeSeconds = options.maxTokenAgeSeconds ?? 86_400
  if (!Number.isFinite(maxTokenAgeSeconds) || maxTokenAgeSeconds <= 0) {
    throw configError('maxTokenAgeSeconds must be a positive number of seconds', 'max_token_age')
  }
  return { clockToleranceSeconds, maxTokenAgeSeconds }
}

/** @internal Validates the cache option and returns its size (0: off). */
export function resolveCacheEntries(cache: JwtAuthenticatorOptions['cache']): number {
  if (cache === false) return 0
  const entries = cache?.maxEntries ?? 10_000
  if (!Number.isInteger(entries) || entries < 0) throw new TypeError('cache.maxEntries must be a non-negative integer')
  return entries
}

/** @internal Builds an authenticator from resolved settings. */
export function createJwtAuthenticator(settings: JwtCoreSettings): Authenticator {
  const {
    name,
    resolveKey,
    toPrincipal,
    revocations,
    recognizesToken,
    maxTokenLength,
    clock,
    clockToleranceSeconds,
    maxTokenAgeSeconds,
  } = settings
  const baseOptions: JWTVerifyOptions = Object.freeze({
    algorithms: [...settings.algorithms],
    ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
    audience: [...settings.audience],
    ...(settings.typ === undefined ? {} : { typ: settings.typ }),
    requiredClaims: [...settings.requiredClaims],
    clockTolerance: clockToleranceSeconds,
    ...(settings.optionalIssuedAt ? {} : { maxTokenAge: maxTokenAgeSeconds }),
  })
  const allowedTyp = settings.allowedTyp?.map((typ) => typ.toLowerCase())
  const toleranceMs = clockToleranceSeconds * 1000
  const maxAgeMs = maxTokenAgeSeconds * 1000
  const cache = settings.cacheEntries > 0 ? new VerifiedTokenCache<Principal>(settings.cacheEntries) : undefined

  // a principal may be trusted until its token expires or grows too old, whichever comes first (plus the skew)
  const trustedUntil = (principal: Principal): number =>
    Math.min(
      principal.expiresAt === undefined ? Number.POSITIVE_INFINITY : principal.expiresAt + toleranceMs,
      principal.issuedAt === undefined ? Number.POSITIVE_INFINITY : principal.issuedAt + maxAgeMs + toleranceMs,
    )

  const checkTime = (principal: Principal, now: number): void => {
    if (principal.expiresAt !== undefined && now >= principal.expiresAt + toleranceMs) {
      throw fail('token has expired', 'token_expired')
    }
    if (principal.issuedAt !== undefined && now >= principal.issuedAt + maxAgeMs + toleranceMs) {
      throw fail('token is older than the maximum token age', 'token_too_old')
    }
  }

  const verifyUncached = async (token: string, now: number): Promise<Principal> => {
    // base64url decoders skip whitespace and stray characters; a token is exactly three base64url segments
    if (!COMPACT_JWS.test(token) || !isCanonicalSegments(token)) throw fail('token is not a compact JWS', 'malformed_token')
    let payload: JWTPayload
    let typ: unknown
    try {
      const options = clock === undefined ? baseOptions : { ...baseOptions, currentDate: new Date(now) }
      const verified = await jwtVerify(token, resolveKey, options)
      payload = verified.payload
      typ = verified.protectedHeader.typ
    } catch (error) {
      throw mapJoseError(error)
    }
    if (allowedTyp !== undefined && typ !== undefined && (typeof typ !== 'string' || !allowedTyp.includes(typ.toLowerCase()))) {
      throw fail('unexpected "typ" header', 'typ_mismatch')
    }
    if (settings.optionalIssuedAt && payload.iat !== undefined) {
      const issuedAt = payload.iat * 1000
      if (issuedAt > now + toleranceMs) throw fail('"iat" is in the future', 'token_issued_in_future')
    }
    const principal = toPrincipal(payload)
    checkTime(principal, now)
    return principal
  }

  return {
    name,
    recognizes(credential: NormalizedCredential): boolean {
      return credential.scheme === 'bearer' && recognizesToken(credential.value)
    },
    async authenticate(credential: NormalizedCredential, _context: RequestContext): Promise<Principal> {
      if (credential.scheme !== 'bearer') throw fail('not a bearer token', 'malformed_token')
      const token = credential.value
      if (typeof token !== 'string' || token.length === 0 || token.length > maxTokenLength) {
        throw fail('token is empty or too long', 'malformed_token')
      }
      const now = clock === undefined ? Date.now() : clock()
      const key = cache === undefined ? '' : VerifiedTokenCache.keyOf(token)
      let principal = cache?.get(key, now)
      if (principal === undefined) {
        principal = await verifyUncached(token, now)
        cache?.set(key, principal, trustedUntil(principal))
      } else {
        // the cache entry is bounded by the same instant, but the check is cheap and keeps the rule in one place
        checkTime(principal, now)
      }
      if (revocations !== undefined) await assertNotRevoked(revocations, revocationQueryOf(principal), now)
      return principal
    },
    verify(principal: Principal, _context: RequestContext, now: number): void | Promise<void> {
      checkTime(principal, now)
      if (revocations !== undefined) return assertNotRevoked(revocations, revocationQueryOf(principal), now)
    },
  }
}

/**
 * Authenticates bearer JWT access tokens with jose. Refuses, at construction, a configuration without an
 * algorithm allow-list, issuer or audience; HMAC secrets shorter than the hash; RSA keys under 2048 bits;
 * `none`. Checks `typ` (`at+jwt`), `exp`, `iat`, `sub`, `nbf`, the token age and the clock skew; never follows
 * `jku`/`x5u`/embedded keys. Verified tokens are cached by their SHA-256 until they expire; the cache never
 * skips expiry or revocation, and policy runs on every call regardless.
 *
 * Failure reasons: `malformed_token`, `alg_not_allowed`, `bad_signature`, `unknown_key`, `key_alg_mismatch`,
 * `ambiguous_key`, `untrusted_key_reference`, `invalid_kid`, `weak_key`, `invalid_key`, `jwks_unavailable`,
 * `unsupported_header`, `token_expired`, `token_too_old`, `token_not_yet_valid`, `token_issued_in_future`,
 * `issuer_mismatch`, `audience_mismatch`, `typ_mismatch`, `missing_claim`, `invalid_claim`, `invalid_claims`,
 * `revoked`, `revocation_unavailable`.
 *
 * @example
 * ```ts
 * const authenticator = jwtAuthenticator({
 *   issuer: 'https://login.example.com/',
 *   audience: 'https://rag.example.com',
 *   algorithms: ['RS256'],
 *   jwksUrl: 'https://login.example.com/.well-known/jwks.json',
 *   claims: { tenant: 'org_id', roles: 'realm_access.roles', attributes: ['department'] },
 * })
 * ```
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): Authenticator {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const algorithms = resolveAlgorithms(options.algorithms)
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw configError('issuer is required (exact match)', 'missing_issuer')
  }
  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience
  if (!Array.isArray(audience) || audience.length === 0 || !audience.every((item) => typeof item === 'string' && item)) {
    throw configError('audience is required', 'missing_audience')
  }
  const typ = options.typ === undefined ? 'at+jwt' : options.typ === false ? undefined : options.typ
  if (typ !== undefined && (typeof typ !== 'string' || typ.length === 0)) throw new TypeError('typ must be a string or false')
  const requiredClaims = [...new Set(['exp', 'iat', 'sub', ...(options.requiredClaims ?? [])])]
  const name = options.name ?? 'jwt'
  const maxTokenLength = options.maxTokenLength ?? 16_384
  if (!Number.isInteger(maxTokenLength) || maxTokenLength <= 0) throw new TypeError('maxTokenLength must be a positive integer')
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new TypeError('clock must be a function')
  if (options.revocations !== undefined && typeof options.revocations.find !== 'function') {
    throw new TypeError('revocations must be a RevocationList')
  }
  const issuer = options.issuer
  const recognizesToken = options.routeByIssuer
    ? (token: string) => looksLikeJwt(token) && peekClaims(token)?.['iss'] === issuer
    : looksLikeJwt
  return createJwtAuthenticator({
    name,
    issuer,
    audience: Object.freeze([...audience]),
    algorithms,
    resolveKey: resolveKeySource(options, algorithms),
    typ,
    requiredClaims,
    ...resolveTimes(options),
    toPrincipal: principalMapper(options.claims ?? {}, name),
    cacheEntries: resolveCacheEntries(options.cache),
    revocations: options.revocations,
    recognizesToken,
    maxTokenLength,
    clock: options.clock,
  })
}
