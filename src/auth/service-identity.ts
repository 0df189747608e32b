// workload identities: the mTLS peer (SPIFFE ID or URI SAN) against an allow-list, and JWT-SVIDs through the JWT core

import { AuthenticationError, ConfigError } from '../errors.js'
import type { Authenticator, NormalizedCredential, Principal, RequestContext } from '../spec/auth.js'
import { looksLikeJwt, peekClaims, principalMapper } from './_jwt-claims.js'
import { type JwtAlgorithm, resolveAlgorithms, resolveKeySource } from './_jwt-keys.js'
import { createJwtAuthenticator, type JwtAuthenticatorOptions, resolveCacheEntries, resolveTimes } from './jwt.js'
import type { RevocationList } from './revocation.js'

/** One allowed workload: an exact identity, or every SPIFFE ID under a path prefix ending in `/`. */
export interface ServiceIdentityRule {
  /** An exact SPIFFE ID (`spiffe://example.org/ns/prod/sa/indexer`) or certificate URI SAN. */
  id?: string
  /** Every SPIFFE ID under this prefix, e.g. `spiffe://example.org/ns/prod/`. Must end with `/`. */
  idPrefix?: string
  tenant?: string
  roles?: readonly string[]
  scopes?: readonly string[]
  attributes?: Readonly<Record<string, unknown>>
}

/** Options of {@link serviceIdentityAuthenticator}. */
export interface ServiceIdentityAuthenticatorOptions {
  /** First match wins. */
  allow: readonly ServiceIdentityRule[]
  /** Principal's `authenticator`. Default `mtls`. */
  name?: string
  /**
   * ms since the epoch. The principal's `issuedAt` is the time of the handshake it rests on, so that a revocation
   * "issued before" a time ends sessions opened before it. Default `Date.now`.
   */
  clock?: () => number
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/

/**
 * Whether a string is a SPIFFE ID per the SPIFFE ID specification §2 (lowercase trust domain, clean path).
 *
 * @example
 * ```ts
 * isSpiffeId('spiffe://example.org/ns/prod/sa/indexer') // true
 * isSpiffeId('spiffe://example.org/a/../b')             // false
 * ```
 */
export function isSpiffeId(value: string): boolean {
  if (typeof value !== 'string' || !value.startsWith('spiffe://') || value.length > 2048) return false
  const rest = value.slice('spiffe://'.length)
  const slash = rest.indexOf('/')
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash)
  if (trustDomain.length === 0 || trustDomain.length > 255 || !TRUST_DOMAIN.test(trustDomain)) return false
  if (slash < 0) return true
  const segments = rest.slice(slash + 1).split('/')
  return segments.every((segment) => PATH_SEGMENT.test(segment) && segment !== '.' && segment !== '..')
}

/**
 * The trust domain of a SPIFFE ID, or undefined.
 *
 * @example
 * ```ts
 * trustDomainOf('spiffe://example.org/ns/prod') // 'example.org'
 * ```
 */
export function trustDomainOf(spiffeId: string): string | undefined {
  if (!isSpiffeId(spiffeId)) return undefined
  const rest = spiffeId.slice('spiffe://'.length)
  const slash = rest.indexOf('/')
  return slash < 0 ? rest : rest.slice(0, slash)
}

interface CompiledRule {
  readonly matches: (identity: string) => boolean
  readonly rule: ServiceIdentityRule
}

function compileRules(rules: readonly ServiceIdentityRule[]): CompiledRule[] {
  if (!Array.isArray(rules) || rules.length === 0) throw new ConfigError('allow must list at least one identity', { reason: 'missing_allow_list' })
  return rules.map((rule, index) => {
    const where = `allow[${index}]`
    if (typeof rule !== 'object' || rule === null) throw new TypeError(`${where} must be an object`)
    if ((rule.id === undefined) === (rule.idPrefix === undefined)) {
      throw new ConfigError(`${where}: give exactly one of id or idPrefix`, { reason: 'invalid_config' })
    }
    if (rule.id !== undefined) {
      if (typeof rule.id !== 'string' || rule.id.length === 0) throw new TypeError(`${where}.id must be a string`)
      if (rule.id.startsWith('spiffe://') && !isSpiffeId(rule.id)) {
        throw new ConfigError(`${where}: ${rule.id} is not a valid SPIFFE ID`, { reason: 'invalid_config' })
      }
      const id = rule.id
      return { rule, matches: (identity: string) => identity === id }
    }
    const prefix = rule.idPrefix!
    // without the trailing slash, spiffe://td/ns/prod would also admit spiffe://td/ns/production
    if (typeof prefix !== 'string' || !prefix.endsWith('/') || !isSpiffeId(prefix.slice(0, -1))) {
      throw new ConfigError(`${where}: idPrefix must be a SPIFFE ID ending with "/"`, { reason: 'invalid_config' })
    }
    return { rule, matches: (identity: string) => identity.startsWith(prefix) && isSpiffeId(identity) }
  })
}

/** The identity the host server verified: the SPIFFE ID, else the single URI SAN. */
function peerIdentity(context: RequestContext): string | undefined {
  const peer = context.peer
  if (peer === undefined) return undefined
  if (typeof peer.spiffeId === 'string' && peer.spiffeId.length > 0) return peer.spiffeId
  const sans = peer.uriSans
  if (Array.isArray(sans) && sans.length > 0) {
    // an X.509-SVID carries exactly one URI SAN; several make the identity ambiguous
    if (sans.length > 1) throw new AuthenticationError('the peer certificate has several URI SANs', { reason: 'ambiguous_peer_identity' })
    return typeof sans[0] === 'string' && sans[0].length > 0 ? sans[0] : undefined
  }
  return undefined
}

/**
 * Authenticates workloads by the mTLS peer identity the host server verified and passed in `context.peer`
 * (`{ peer: true }` as the credential). The identity must match an allow-list entry; the principal is a
 * `service` whose id is the SPIFFE ID or URI SAN. On every call, a different peer in the call's context ends
 * the session's trust (`peer_changed`).
 *
 * The warden does not terminate TLS: the host server must have verified the certificate chain against the
 * trust bundle before it fills `context.peer`.
 *
 * @example
 * ```ts
 * const workloads = serviceIdentityAuthenticator({
 *   allow: [{ id: 'spiffe://example.org/ns/prod/sa/indexer', roles: ['writer'], tenant: 'acme' }],
 * })
 * const session = await warden.session({ peer: true }, { peer: { spiffeId: socket.peerSpiffeId } })
 * ```
 */
export function serviceIdentityAuthenticator(options: ServiceIdentityAuthenticatorOptions): Authenticator {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const rules = compileRules(options.allow)
  const name = options.name ?? 'mtls'
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') throw new TypeError('clock must be a function')
  return {
    name,
    recognizes: (credential: NormalizedCredential) => credential.scheme === 'peer',
    async authenticate(credential: NormalizedCredential, context: RequestContext): Promise<Principal> {
      if (credential.scheme !== 'peer') throw new AuthenticationError('not a peer credential', { reason: 'malformed_credential' })
      const identity = peerIdentity(context)
      if (identity === undefined) throw new AuthenticationError('no verified peer identity in the context', { reason: 'no_peer_identity' })
      if (identity.startsWith('spiffe://') && !isSpiffeId(identity)) {
        throw new AuthenticationError('the peer SPIFFE ID is malformed', { reason: 'invalid_peer_identity' })
      }
      const match = rules.find((candidate) => candidate.matches(identity))
      if (match === undefined) throw new AuthenticationError(`peer ${identity} is not allowed`, { reason: 'peer_not_allowed' })
      const { rule } = match
      const trustDomain = trustDomainOf(identity)
      return Object.freeze({
        id: identity,
        kind: 'service' as const,
        ...(rule.tenant === undefined ? {} : { tenant: rule.tenant }),
        roles: Object.freeze([...(rule.roles ?? [])]),
        scopes: Object.freeze([...(rule.scopes ?? [])]),
        attributes: Object.freeze({ ...(rule.attributes ?? {}), ...(trustDomain === undefined ? {} : { trustDomain }) }),
        authenticator: name,
        issuedAt: clock(),
      })
    },
    verify(principal: Principal, context: RequestContext): void {
      // every call must come from the peer the session was opened for: a call context that drops the peer (say
      // `peer: undefined` from a connection without a client certificate) is another peer too
      const identity = peerIdentity(context)
      if (identity !== principal.id) {
        throw new AuthenticationError('the call comes from another peer than the session', { reason: 'peer_changed' })
      }
    },
  }
}

/** Options of {@link jwtSvidAuthenticator}. Keys come from the SPIFFE bundle's JWT authorities. */
export interface JwtSvidAuthenticatorOptions {
  /** The trust domain whose JWT-SVIDs are accepted, e.g. `example.org`. */
  trustDomain: string
  /** Required: this service's audience (JWT-SVIDs must carry one, SPIFFE JWT-SVID §3). */
  audience: string | readonly string[]
  /** Required allow-list; SPIFFE recommends RS256, ES256 and friends. HMAC is refused. */
  algorithms: readonly JwtAlgorithm[]
  jwksUrl?: string | URL
  jwks?: JwtAuthenticatorOptions['jwks']
  keys?: JwtAuthenticatorOptions['keys']
  jwksFetch?: JwtAuthenticatorOptions['jwksFetch']
  /** Which workloads may call, and what they get. Default: every SPIFFE ID of the trust domain, no roles. */
  allow?: readonly ServiceIdentityRule[]
  /** When set, `iss` must equal it; JWT-SVIDs need not carry one. */
  issuer?: string
  clockToleranceSeconds?: number
  /** Default 3600: SVIDs are short-lived. */
  maxTokenAgeSeconds?: number
  cache?: JwtAuthenticatorOptions['cache']
  revocations?: RevocationList
  /** Principal's `authenticator`. Default `jwt-svid`. */
  name?: string
  clock?: () => number
}

/**
 * Authenticates JWT-SVIDs (SPIFFE JWT-SVID spec): bearer JWTs whose `sub` is a SPIFFE ID of the trust domain,
 * with `aud` and `exp` required, `typ` `JWT` or absent, verified by the JWT core with the same attack defences.
 * It recognises only bearer tokens whose unverified `sub` lies in the trust domain, so it can sit beside a user
 * `jwtAuthenticator` in one chain.
 *
 * @example
 * ```ts
 * const svids = jwtSvidAuthenticator({
 *   trustDomain: 'example.org', audience: 'rag-api', algorithms: ['ES256'], jwks: bundle.jwtAuthorities,
 *   allow: [{ idPrefix: 'spiffe://example.org/ns/prod/', roles: ['reader'] }],
 * })
 * ```
 */
export function jwtSvidAuthenticator(options: JwtSvidAuthenticatorOptions): Authenticator {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  if (typeof options.trustDomain !== 'string' || !isSpiffeId(`spiffe://${options.trustDomain}`) || options.trustDomain.includes('/')) {
    throw new ConfigError('trustDomain must be a SPIFFE trust domain such as example.org', { reason: 'invalid_config' })
  }
  const algorithms = resolveAlgorithms(options.algorithms)
  if (algorithms.some((alg) => alg.startsWith('HS'))) {
    throw new ConfigError('JWT-SVIDs are signed with asymmetric keys; HMAC is refused', { reason: 'alg_not_allowed' })
  }
  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience
  if (!Array.isArray(audience) || audience.length === 0 || !audience.every((item) => typeof item === 'string' && item)) {
    throw new ConfigError('audience is required', { reason: 'missing_audience' })
  }
  if (options.issuer !== undefined && (typeof options.issuer !== 'string' || options.issuer.length === 0)) {
    throw new TypeError('issuer must be a non-empty string')
  }
  const prefix = `spiffe://${options.trustDomain}/`
  const rules = compileRules(options.allow ?? [{ idPrefix: prefix }])
  for (const { rule } of rules) {
    const id = rule.id ?? rule.idPrefix!
    if (!id.startsWith(prefix)) throw new ConfigError(`allow entry ${id} is outside trust domain ${options.trustDomain}`, { reason: 'invalid_config' })
  }
  const name = options.name ?? 'jwt-svid'
  const baseMapper = principalMapper({ kind: 'service' }, name)
  const toPrincipal: ReturnType<typeof principalMapper> = (claims) => {
    const sub = claims.sub
    if (typeof sub !== 'string' || !isSpiffeId(sub) || !sub.startsWith(prefix)) {
      throw new AuthenticationError('the JWT-SVID subject is not a SPIFFE ID of the trust domain', { reason: 'invalid_claim' })
    }
    const match = rules.find((candidate) => candidate.matches(sub))
    if (match === undefined) throw new AuthenticationError(`workload ${sub} is not allowed`, { reason: 'peer_not_allowed' })
    const mapped = baseMapper(claims)
    const { rule } = match
    // the allow rule defines the workload's principal: from the token only its identity and times (and its id, for
    // revocation); a tenant, session id or authentication methods claimed by the token are not taken
    return Object.freeze({
      id: mapped.id,
      kind: 'service' as const,
      authenticator: mapped.authenticator,
      ...(mapped.issuer === undefined ? {} : { issuer: mapped.issuer }),
      ...(mapped.credentialId === undefined ? {} : { credentialId: mapped.credentialId }),
      ...(mapped.issuedAt === undefined ? {} : { issuedAt: mapped.issuedAt }),
      ...(mapped.expiresAt === undefined ? {} : { expiresAt: mapped.expiresAt }),
      ...(rule.tenant === undefined ? {} : { tenant: rule.tenant }),
      roles: Object.freeze([...(rule.roles ?? [])]),
      scopes: Object.freeze([...(rule.scopes ?? [])]),
      attributes: Object.freeze({ ...(rule.attributes ?? {}), trustDomain: options.trustDomain }),
    })
  }
  const times = resolveTimes({
    ...(options.clockToleranceSeconds === undefined ? {} : { clockToleranceSeconds: options.clockToleranceSeconds }),
    maxTokenAgeSeconds: options.maxTokenAgeSeconds ?? 3600,
  })
  // JWT-SVIDs need not carry iat; the maximum age then cannot apply, so it is enforced only when iat is present
  return createJwtAuthenticator({
    name,
    issuer: options.issuer,
    audience: Object.freeze([...audience]),
    algorithms,
    resolveKey: resolveKeySource(options, algorithms),
    typ: undefined,
    requiredClaims: ['exp', 'sub', 'aud'],
    ...times,
    optionalIssuedAt: true,
    allowedTyp: ['JWT', 'JOSE'],
    toPrincipal,
    cacheEntries: resolveCacheEntries(options.cache),
    revocations: options.revocations,
    recognizesToken: (token) => {
      if (!looksLikeJwt(token)) return false
      const sub = peekClaims(token)?.['sub']
      return typeof sub === 'string' && sub.startsWith(prefix)
    },
    maxTokenLength: 16_384,
    clock: options.clock,
  })
}
