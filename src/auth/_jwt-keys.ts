// JWT keys: allow-list, key binding and weak-key refusal at construction, key resolution, jose error mapping

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  importJWK,
} from 'jose'
import { AuthenticationError, ConfigError } from '../errors.js'
import { platform } from '../platform/index.js'

/** JWS algorithms the authenticator can be allowed to accept. `none` is never one of them. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'

/** The structural part of a node `KeyObject` the authenticator reads; no `node:` import needed. */
export interface KeyObjectLike {
  readonly type: 'secret' | 'public' | 'private'
  readonly asymmetricKeyType?: string
  readonly asymmetricKeyDetails?: { readonly modulusLength?: number; readonly namedCurve?: string }
  readonly symmetricKeySize?: number
  export(options: { format: 'jwk' }): JWK
}

/** A verification key bound to exactly one algorithm (RFC 8725 §3.1). */
export interface StaticJwtKey {
  /** Matched against the token's `kid`; needed when several keys share an algorithm. */
  kid?: string
  alg: JwtAlgorithm
  /** A public key or an HMAC secret (`Uint8Array`, at least the hash length: 32 bytes for HS256). */
  key: CryptoKey | Uint8Array | JWK | KeyObjectLike
}

/** Where the verification keys come from: exactly one of `jwksUrl`, `jwks`, `keys`. */
export interface KeySourceOptions {
  /** Remote JWKS (https), fetched and cached by jose with a cooldown between refetches. */
  jwksUrl?: string | URL
  /** A local JWKS of public keys. */
  jwks?: JSONWebKeySet
  /** Static keys, each bound to one algorithm. */
  keys?: readonly StaticJwtKey[]
  /** Remote JWKS tuning: cooldown between refetches (default 30 s), cache max age (10 min), timeout (5 s). */
  jwksFetch?: {
    cooldownMs?: number
    cacheMaxAgeMs?: number
    timeoutMs?: number
    headers?: Record<string, string>
  }
}

const HMAC_BYTES: Partial<Record<JwtAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 }
const HASH_NAMES: Partial<Record<JwtAlgorithm, string>> = {
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
}
const ALGORITHMS: readonly JwtAlgorithm[] = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]
const CURVES: Partial<Record<JwtAlgorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }
const MIN_RSA_BITS = 2048
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv']
const UNTRUSTED_KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c']
const MAX_KID_LENGTH = 256

const isHmac = (alg: JwtAlgorithm): boolean => alg.startsWith('HS')
const isRsa = (alg: JwtAlgorithm): boolean => alg.startsWith('RS') || alg.startsWith('PS')
const isEdwards = (alg: JwtAlgorithm): boolean => alg === 'EdDSA' || alg === 'Ed25519'

/** @internal An `AuthenticationError` with a reason. */
export const fail = (message: string, reason: string): AuthenticationError => new AuthenticationError(message, { reason })
/** @internal A `ConfigError` with a reason. */
export const configError = (message: string, reason = 'invalid_config'): ConfigError => new ConfigError(message, { reason })

/** Length in bytes of a base64url member; for an RSA modulus, without its leading zero bytes. */
function base64urlLength(text: unknown, stripLeadingZeros = false): number {
  if (typeof text !== 'string') return 0
  try {
    const bytes = platform.base64urlDecode(text)
    let start = 0
    while (stripLeadingZeros && start < bytes.length && bytes[start] === 0) start++
    return bytes.length - start
  } catch {
    return 0
  }
}

/** A key the resolver can hand to jose, imported once on first use. */
interface PreparedKey {
  readonly kid: string | undefined
  readonly alg: JwtAlgorithm
  load(): CryptoKey | Promise<CryptoKey>
}

function memoize(load: () => Promise<CryptoKey>): () => CryptoKey | Promise<CryptoKey> {
  let ready: CryptoKey | undefined
  let pending: Promise<CryptoKey> | undefined
  return () => {
    if (ready !== undefined) return ready
    pending ??= load().then(
      (key) => (ready = key),
      (error: unknown) => {
        pending = undefined
        throw new AuthenticationError('verification key could not be imported', { reason: 'invalid_key', cause: error })
      },
    )
    return pending
  }
}

function importHmac(secret: Uint8Array, alg: JwtAlgorithm): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    'raw',
    new Uint8Array(secret),
    { name: 'HMAC', hash: HASH_NAMES[alg]! },
    false,
    ['verify'],
  )
}

function checkJwk(jwk: JWK, alg: JwtAlgorithm, where: string): void {
  if (jwk.use !== undefined && jwk.use !== 'sig') {
    throw configError(`${where}: JWK "use" is "${jwk.use}", not "sig"`, 'key_use_mismatch')
  }
  if (jwk.key_ops !== undefined && (!Array.isArray(jwk.key_ops) || !jwk.key_ops.includes('verify'))) {
    throw configError(`${where}: JWK "key_ops" does not allow "verify"`, 'key_use_mismatch')
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw configError(`${where}: JWK "alg" is "${jwk.alg}" but the key is bound to ${alg}`, 'key_alg_mismatch')
  }
  if (isHmac(alg)) {
    if (jwk.kty !== 'oct') throw configError(`${where}: ${alg} needs an "oct" key`, 'key_alg_mismatch')
    if (base64urlLength(jwk.k) < HMAC_BYTES[alg]!) {
      throw configError(`${where}: ${alg} secret must be at least ${HMAC_BYTES[alg]} bytes`, 'weak_key')
    }
    return
  }
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
    throw configError(`${where}: a private key was given; configure the public key only`, 'private_key')
  }
  if (isRsa(alg)) {
    if (jwk.kty !== 'RSA') throw configError(`${where}: ${alg} needs an RSA key`, 'key_alg_mismatch')
    if (base64urlLength(jwk.n, true) * 8 < MIN_RSA_BITS) {
      throw configError(`${where}: RSA keys under ${MIN_RSA_BITS} bits are refused`, 'weak_key')
    }
  } else if (isEdwards(alg)) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') {
      throw configError(`${where}: ${alg} needs an Ed25519 OKP key`, 'key_alg_mismatch')
    }
  } else if (jwk.kty !== 'EC' || jwk.crv !== CURVES[alg]) {
    throw configError(`${where}: ${alg} needs an EC ${CURVES[alg]} key`, 'key_alg_mismatch')
  }
}

function checkCryptoKey(key: CryptoKey, alg: JwtAlgorithm, where: string): void {
  const algorithm = key.algorithm as KeyAlgorithm & {
    hash?: { name?: string }
    length?: number
    modulusLength?: number
    namedCurve?: string
  }
  if (!key.usages.includes('verify')) throw configError(`${where}: the key does not allow "verify"`, 'key_use_mismatch')
  if (isHmac(alg)) {
    if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== HASH_NAMES[alg]) {
      throw configError(`${where}: ${alg} needs an HMAC ${HASH_NAMES[alg]} key`, 'key_alg_mismatch')
    }
    if ((algorithm.length ?? 0) < HMAC_BYTES[alg]! * 8) {
      throw configError(`${where}: ${alg} secret must be at least ${HMAC_BYTES[alg]} bytes`, 'weak_key')
    }
    return
  }
  if (key.type !== 'public') throw configError(`${where}: configure the public key only`, 'private_key')
  if (isRsa(alg)) {
    const expected = alg.startsWith('PS') ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5'
    if (algorithm.name !== expected) throw configError(`${where}: ${alg} needs an ${expected} key`, 'key_alg_mismatch')
    if ((algorithm.modulusLength ?? 0) < MIN_RSA_BITS) {
      throw configError(`${where}: RSA keys under ${MIN_RSA_BITS} bits are refused`, 'weak_key')
    }
  } else if (isEdwards(alg)) {
    if (algorithm.name !== 'Ed25519') throw configError(`${where}: ${alg} needs an Ed25519 key`, 'key_alg_mismatch')
  } else if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== CURVES[alg]) {
    throw configError(`${where}: ${alg} needs an ECDSA ${CURVES[alg]} key`, 'key_alg_mismatch')
  }
}

function isKeyObjectLike(key: unknown): key is KeyObjectLike {
  return (
    typeof key === 'object' &&
    key !== null &&
    typeof (key as KeyObjectLike).export === 'function' &&
    typeof (key as KeyObjectLike).type === 'string' &&
    !(key instanceof Uint8Array)
  )
}

function prepareStaticKey(entry: StaticJwtKey, index: number, algorithms: ReadonlySet<JwtAlgorithm>): PreparedKey {
  const where = `keys[${index}]`
  if (typeof entry !== 'object' || entry === null) throw new TypeError(`${where} must be an object`)
  const { alg, key } = entry
  if (!algorithms.has(alg)) throw configError(`${where}: alg ${String(alg)} is not in the algorithms allow-list`)
  if (entry.kid !== undefined && (typeof entry.kid !== 'string' || entry.kid.length === 0)) {
    throw new TypeError(`${where}.kid must be a non-empty string`)
  }
  let load: () => Promise<CryptoKey>
  if (key instanceof Uint8Array) {
    if (!isHmac(alg)) throw configError(`${where}: a Uint8Array is an HMAC secret, but alg is ${alg}`, 'key_alg_mismatch')
    if (key.length < HMAC_BYTES[alg]!) {
      throw configError(`${where}: ${alg} secret must be at least ${HMAC_BYTES[alg]} bytes`, 'weak_key')
    }
    const copy = new Uint8Array(key)
    load = () => importHmac(copy, alg)
  } else if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) {
    checkCryptoKey(key, alg, where)
    load = async () => key
  } else if (isKeyObjectLike(key)) {
    if (key.type === 'private') throw configError(`${where}: configure the public key only`, 'private_key')
    let jwk: JWK
    try {
      jwk = key.export({ format: 'jwk' })
    } catch (error) {
      throw new ConfigError(`${where}: the key could not be exported`, { reason: 'invalid_key', cause: error })
    }
    checkJwk({ ...jwk, alg }, alg, where)
    load = () => jwkToCryptoKey(jwk, alg)
  } else if (typeof key === 'object' && key !== null && typeof (key as JWK).kty === 'string') {
    const jwk = { ...(key as JWK) }
    checkJwk(jwk, alg, where)
    load = () => jwkToCryptoKey(jwk, alg)
  } else {
    throw new TypeError(`${where}.key must be a CryptoKey, KeyObject, JWK or Uint8Array`)
  }
  return { kid: entry.kid, alg, load: memoize(load) }
}

async function jwkToCryptoKey(jwk: JWK, alg: JwtAlgorithm): Promise<CryptoKey> {
  if (jwk.kty === 'oct') return importHmac(platform.base64urlDecode(jwk.k ?? ''), alg)
  const { use: _use, key_ops: _keyOps, ext: _ext, ...bare } = jwk
  const key = await importJWK(bare, alg)
  if (key instanceof Uint8Array) throw new TypeError('expected an asymmetric key')
  return key
}

/** RFC 8725 §3.10, §3.2: the key comes from configuration only; header hints are never followed. */
function checkHeader(header: JWTHeaderParameters): void {
  for (const name of UNTRUSTED_KEY_HEADERS) {
    if (name in header) throw fail(`token header carries "${name}", which is never trusted`, 'untrusted_key_reference')
  }
  const { kid } = header
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
    throw fail('token "kid" is malformed', 'invalid_kid')
  }
}

/** Resolves the verification key of a token from its protected header. */
export type KeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => CryptoKey | Promise<CryptoKey>

function staticResolver(keys: readonly PreparedKey[]): KeyResolver {
  const byKid = new Map<string, PreparedKey>()
  for (const key of keys) {
    if (key.kid === undefined) continue
    if (byKid.has(key.kid)) throw configError(`two keys share kid ${key.kid}`)
    byKid.set(key.kid, key)
  }
  const byAlg = new Map<string, PreparedKey[]>()
  for (const key of keys) byAlg.set(key.alg, [...(byAlg.get(key.alg) ?? []), key])
  return (header) => {
    checkHeader(header)
    if (header.kid !== undefined) {
      const key = byKid.get(header.kid)
      // an unknown kid never falls back to another key
      if (key === undefined) throw fail('no key with the token\'s "kid"', 'unknown_key')
      if (key.alg !== header.alg) throw fail('the key named by "kid" is bound to another algorithm', 'key_alg_mismatch')
      return key.load()
    }
    const candidates = byAlg.get(header.alg) ?? []
    if (candidates.length === 0) throw fail('no key for the token\'s algorithm', 'unknown_key')
    if (candidates.length > 1) throw fail('several keys fit and the token has no "kid"', 'ambiguous_key')
    return candidates[0]!.load()
  }
}

function checkResolvedKey(key: unknown): void {
  const algorithm = (key as CryptoKey | undefined)?.algorithm as { modulusLength?: number } | undefined
  if (algorithm?.modulusLength !== undefined && algorithm.modulusLength < MIN_RSA_BITS) {
    throw fail(`the key set offered an RSA key under ${MIN_RSA_BITS} bits`, 'weak_key')
  }
}

function jwksResolver(
  jwks: (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>,
  remote: boolean,
): KeyResolver {
  return async (header, token) => {
    checkHeader(header)
    let key: CryptoKey
    try {
      key = await jwks(header, token)
    } catch (error) {
      throw mapJoseError(error, remote ? 'jwks_unavailable' : 'unknown_key')
    }
    checkResolvedKey(key)
    return key
  }
}

function checkLocalJwks(jwks: JSONWebKeySet, algorithms: readonly JwtAlgorithm[]): void {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) {
    throw configError('jwks must be a JSON Web Key Set ({ keys: [...] })')
  }
  // a key without "alg" fits every algorithm of its type: with RS256 and PS256 both allowed, one RSA key would
  // verify under either (RFC 8725 §3.1 wants each key bound to one algorithm)
  const rsaAlgorithms = algorithms.filter(isRsa).length
  const ecAlgorithms = algorithms.filter((alg) => alg.startsWith('ES')).length
  jwks.keys.forEach((jwk, index) => {
    const where = `jwks.keys[${index}]`
    if (jwk.alg === undefined && ((jwk.kty === 'RSA' && rsaAlgorithms > 1) || (jwk.kty === 'EC' && ecAlgorithms > 1))) {
      throw configError(`${where}: a key without "alg" would fit several allowed algorithms; give it an alg`, 'key_alg_mismatch')
    }
    if (jwk.kty === 'oct') throw configError(`${where}: symmetric keys do not belong in a key set`, 'key_alg_mismatch')
    if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
      throw configError(`${where}: a private key was given; configure public keys only`, 'private_key')
    }
    if (jwk.kty === 'RSA' && base64urlLength(jwk.n, true) * 8 < MIN_RSA_BITS) {
      throw configError(`${where}: RSA keys under ${MIN_RSA_BITS} bits are refused`, 'weak_key')
    }
  })
}

const CLAIM_REASONS: Record<string, string> = {
  iss: 'issuer_mismatch',
  aud: 'audience_mismatch',
  typ: 'typ_mismatch',
  nbf: 'token_not_yet_valid',
  iat: 'token_issued_in_future',
  sub: 'subject_mismatch',
}

/** @internal Turns a jose error into an `AuthenticationError` with a precise reason; never keeps the jose error (it holds claims). */
export function mapJoseError(error: unknown, fallback = 'verification_failed'): AuthenticationError {
  if (AuthenticationError.isInstance(error)) return error
  const { code, claim, reason } = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown
    claim?: unknown
    reason?: unknown
  }
  const message = error instanceof Error ? error.message : 'token verification failed'
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return fail(message, claim === 'iat' ? 'token_too_old' : 'token_expired')
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (reason === 'missing') return fail(message, 'missing_claim')
      if (reason === 'invalid') return fail(message, 'invalid_claim')
      return fail(message, CLAIM_REASONS[String(claim)] ?? 'invalid_claim')
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return fail(message, 'alg_not_allowed')
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('signature verification failed', 'bad_signature')
    case 'ERR_JWS_INVALID':
      return fail(message, 'malformed_token')
    case 'ERR_JWT_INVALID':
      return fail(message, 'invalid_claims')
    case 'ERR_JOSE_NOT_SUPPORTED':
      return fail(message, 'unsupported_header')
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return fail('no key in the key set matches the token', 'unknown_key')
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return fail('several keys in the key set match and none was chosen', 'ambiguous_key')
    case 'ERR_JWKS_TIMEOUT':
      return fail('the key set could not be fetched in time', 'jwks_unavailable')
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
      return fail(message, 'invalid_key')
    default:
      return fail('token verification failed', fallback)
  }
}

/** @internal Validates the key source options and returns the key resolver. */
export function resolveKeySource(
  options: KeySourceOptions,
  algorithms: readonly JwtAlgorithm[],
): KeyResolver {
  const sources = [options.jwksUrl, options.jwks, options.keys].filter((source) => source !== undefined)
  if (sources.length !== 1) throw configError('give exactly one of jwksUrl, jwks or keys', 'missing_keys')
  const hmac = algorithms.some(isHmac)
  if (options.keys !== undefined) {
    if (!Array.isArray(options.keys) || options.keys.length === 0) throw configError('keys must be a non-empty array', 'missing_keys')
    const allowed = new Set(algorithms)
    return staticResolver(options.keys.map((entry, index) => prepareStaticKey(entry, index, allowed)))
  }
  if (hmac) throw configError('HMAC algorithms need static keys; a key set holds public keys only', 'key_alg_mismatch')
  if (options.jwks !== undefined) {
    checkLocalJwks(options.jwks, algorithms)
    let local: ReturnType<typeof createLocalJWKSet>
    try {
      local = createLocalJWKSet(options.jwks)
    } catch (error) {
      throw new ConfigError('jwks is not a valid JSON Web Key Set', { reason: 'invalid_key', cause: error })
    }
    return jwksResolver(local, false)
  }
  let url: URL
  try {
    url = new URL(String(options.jwksUrl))
  } catch {
    throw configError('jwksUrl is not a URL')
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw configError('jwksUrl must use https', 'insecure_jwks_url')
  }
  const fetchOptions = options.jwksFetch ?? {}
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: fetchOptions.cooldownMs ?? 30_000,
    cacheMaxAge: fetchOptions.cacheMaxAgeMs ?? 600_000,
    timeoutDuration: fetchOptions.timeoutMs ?? 5_000,
    ...(fetchOptions.headers === undefined ? {} : { headers: fetchOptions.headers }),
  })
  return jwksResolver(remote, true)
}

/** @internal Validates the algorithm allow-list (RFC 8725 §3.1). */
export function resolveAlgorithms(algorithms: unknown): readonly JwtAlgorithm[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw configError('algorithms (an allow-list) is required', 'missing_algorithms')
  }
  for (const alg of algorithms) {
    if (!ALGORITHMS.includes(alg as JwtAlgorithm)) {
      throw configError(`algorithm ${String(alg)} is not allowed`, 'alg_not_allowed')
    }
  }
  const list = [...new Set(algorithms as JwtAlgorithm[])]
  // with both families allowed, a public key could be fed to HMAC: RFC 8725 §2.1 key confusion
  if (list.some(isHmac) && !list.every(isHmac)) {
    throw configError('HMAC and asymmetric algorithms cannot share one authenticator', 'mixed_algorithms')
  }
  return Object.freeze(list)
}

