// API keys: generation, a scanner-friendly format with a checksum, hash-only storage and the api-key authenticator

import { canonicalize } from '../audit/canonical-json.js'
import { ConfigError, AuthenticationError } from '../errors.js'
import { platform } from '../platform/index.js'
import type { Authenticator, NormalizedCredential, Principal, RequestContext } from '../spec/auth.js'

/**
 * What to store for an API key: its id, whose it is and what it may do, and a keyed hash of the key — never the
 * key itself.
 */
export interface ApiKeyRecord {
  /** Public id embedded in the key; safe to log (it becomes `Principal.credentialId`). */
  keyId: string
  /** The client (user or workload) the key belongs to; becomes `Principal.id`. */
  clientId: string
  /** `hmac-sha256:<base64url>` of the whole key string. */
  hash: string
  tenant?: string
  roles: string[]
  scopes: string[]
  /** ms since the epoch; absent means no expiry. */
  expiresAt?: number
  /** ms since the epoch. */
  createdAt: number
  attributes?: Record<string, unknown>
  /** `service` unless stated: API keys are mostly held by workloads. */
  kind?: 'user' | 'service'
}

/**
 * Where API key records live. `get` may be async so the records can sit in a database; it is called once when a
 * session opens and, unless `recheckOnEachCall` is false, on each call to see that the key is still there.
 */
export interface ApiKeyStore {
  get(keyId: string): ApiKeyRecord | undefined | Promise<ApiKeyRecord | undefined>
}

/** Options of {@link generateApiKey}. */
export interface GenerateApiKeyOptions {
  clientId: string
  /** Lowercase letters and digits, 2–16 characters, starting with a letter. Default `vw`. */
  prefix?: string
  tenant?: string
  roles?: string[]
  scopes?: string[]
  /** ms since the epoch. */
  expiresAt?: number
  attributes?: Record<string, unknown>
  kind?: 'user' | 'service'
  /**
   * Server-side secret mixed into the stored hash (at least 32 bytes). With a pepper, a leaked table of records
   * cannot even be used to test guesses. The authenticator must be given the same pepper.
   */
  pepper?: Uint8Array
  /** ms since the epoch, for tests; default `Date.now()`. */
  now?: number
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const KEY_ID_LENGTH = 12 // 71 bits: ids need only be unique, not secret
const SECRET_LENGTH = 32 // 190 bits
const CHECKSUM_LENGTH = 6 // 62^6 > 2^32, so a CRC-32 always fits
const PREFIX_PATTERN = /^[a-z][a-z0-9]{1,15}$/
const HASH_SCHEME = 'hmac-sha256:'
// domain separation when no pepper is configured: the hash is then a plain, unkeyed commitment to the key
const DEFAULT_PEPPER = platform.utf8Encode('vectorwarden/api-key/v1')
const BASE62_INDEX = new Int16Array(128).fill(-1)
for (let index = 0; index < BASE62.length; index++) BASE62_INDEX[BASE62.charCodeAt(index)] = index

function randomBase62(length: number): string {
  let text = ''
  while (text.length < length) {
    for (const byte of platform.randomBytes(length * 2)) {
      // rejection sampling keeps every character equally likely (248 = 4 × 62)
      if (byte < 248 && text.length < length) text += BASE62[byte % 62]
    }
  }
  return text
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32 (IEEE 802.3) of an ASCII string, as used by zip and by GitHub's token checksums. */
function crc32(text: string): number {
  let crc = 0xffffffff
  for (let index = 0; index < text.length; index++) {
    crc = CRC_TABLE[(crc ^ text.charCodeAt(index)) & 0xff]! ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) >>> 0
}

function checksumOf(body: string): string {
  let value = crc32(body)
  let text = ''
  for (let index = 0; index < CHECKSUM_LENGTH; index++) {
    text = BASE62[value % 62] + text
    value = Math.floor(value / 62)
  }
  return text
}

function isBase62(text: string, length: number): boolean {
  if (text.length !== length) return false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code > 127 || BASE62_INDEX[code] === -1) return false
  }
  return true
}

/**
 * The parts of a well-formed key, or undefined. Checks shape and checksum, nothing secret: secret scanners and
 * support tools can use it to confirm a match.
 *
 * @example
 * ```ts
 * const parsed = parseApiKey(candidate)
 * if (parsed?.checksumValid) reportLeakedKey(parsed.keyId)
 * ```
 */
export function parseApiKey(apiKey: string): { prefix: string; keyId: string; checksumValid: boolean } | undefined {
  if (typeof apiKey !== 'string' || apiKey.length > 128) return undefined
  const parts = apiKey.split('_')
  if (parts.length !== 4) return undefined
  const [prefix, keyId, secret, checksum] = parts as [string, string, string, string]
  if (!PREFIX_PATTERN.test(prefix) || !isBase62(keyId, KEY_ID_LENGTH) || !isBase62(secret, SECRET_LENGTH)) {
    return undefined
  }
  if (!isBase62(checksum, CHECKSUM_LENGTH)) return undefined
  const body = apiKey.slice(0, apiKey.length - CHECKSUM_LENGTH - 1)
  return { prefix, keyId, checksumValid: checksumOf(body) === checksum }
}

function resolvePepper(pepper: Uint8Array | undefined): Uint8Array {
  if (pepper === undefined) return DEFAULT_PEPPER
  if (!(pepper instanceof Uint8Array)) throw new TypeError('pepper must be a Uint8Array')
  if (pepper.length < 32) throw new ConfigError('API key pepper must be at least 32 bytes', { reason: 'weak_secret' })
  return pepper
}

function hashKey(pepper: Uint8Array, apiKey: string): Uint8Array {
  return platform.hmacSha256(pepper, platform.utf8Encode(apiKey))
}

function decodeHash(hash: string): Uint8Array | undefined {
  if (typeof hash !== 'string' || !hash.startsWith(HASH_SCHEME)) return undefined
  try {
    const bytes = platform.base64urlDecode(hash.slice(HASH_SCHEME.length))
    return bytes.length === 32 ? bytes : undefined
  } catch {
    return undefined
  }
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new TypeError(`${name} must be an array of strings`)
  }
  return [...value]
}

/**
 * Creates a new API key. Show `apiKey` to its owner once and store only `record`.
 *
 * Format: `<prefix>_<keyId>_<secret>_<checksum>` — prefix (default `vw`), a 12-character base62 key id, a
 * 32-character base62 secret (190 bits) and a 6-character base62 CRC-32 of everything before it. Secret scanners
 * match `\bvw_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}\b` and confirm with the checksum.
 *
 * @example
 * ```ts
 * const { apiKey, record } = await generateApiKey({ clientId: 'indexer', tenant: 'acme', roles: ['writer'] })
 * await database.insert('api_keys', record) // the hash only
 * console.log(apiKey)                       // shown once
 * ```
 */
export async function generateApiKey(
  options: GenerateApiKeyOptions,
): Promise<{ apiKey: string; record: ApiKeyRecord }> {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const { clientId, tenant, expiresAt, attributes, kind } = options
  if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('clientId must be a non-empty string')
  const prefix = options.prefix ?? 'vw'
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new TypeError('prefix must be 2–16 lowercase letters or digits, starting with a letter')
  }
  if (tenant !== undefined && typeof tenant !== 'string') throw new TypeError('tenant must be a string')
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be ms since epoch')
  if (kind !== undefined && kind !== 'user' && kind !== 'service') throw new TypeError("kind must be 'user' or 'service'")
  const pepper = resolvePepper(options.pepper)
  const keyId = randomBase62(KEY_ID_LENGTH)
  const body = `${prefix}_${keyId}_${randomBase62(SECRET_LENGTH)}`
  const apiKey = `${body}_${checksumOf(body)}`
  const record: ApiKeyRecord = {
    keyId,
    clientId,
    hash: HASH_SCHEME + platform.base64urlEncode(hashKey(pepper, apiKey)),
    roles: stringList(options.roles, 'roles'),
    scopes: stringList(options.scopes, 'scopes'),
    createdAt: options.now ?? Date.now(),
  }
  if (tenant !== undefined) record.tenant = tenant
  if (expiresAt !== undefined) record.expiresAt = expiresAt
  if (attributes !== undefined) record.attributes = { ...attributes }
  if (kind !== undefined) record.kind = kind
  return { apiKey, record }
}

/** An API key store held in memory, enforcing at most `maxActivePerClient` unexpired keys per client. */
export interface MemoryApiKeyStore extends ApiKeyStore {
  get(keyId: string): ApiKeyRecord | undefined
  /** Adds a key; throws `ConfigError` (reason `too_many_keys`) when the client already has its maximum of active keys. */
  add(record: ApiKeyRecord, now?: number): void
  /** Removes a key at once; sessions opened with it fail their next call. */
  remove(keyId: string): boolean
  list(): ApiKeyRecord[]
}

/**
 * What is wrong with a record as the authenticator uses it, or undefined: every field it reads must have its type
 * (a time given as an ISO string, say, would compare as NaN and never expire).
 */
function recordProblem(record: ApiKeyRecord): string | undefined {
  if (typeof record.clientId !== 'string' || record.clientId.length === 0) return 'no clientId'
  for (const field of ['roles', 'scopes'] as const) {
    const value: unknown = record[field]
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) return `${field} must be an array of strings`
  }
  if (typeof record.createdAt !== 'number' || !Number.isFinite(record.createdAt)) return 'createdAt must be ms since the epoch'
  if (record.expiresAt !== undefined && (typeof record.expiresAt !== 'number' || !Number.isFinite(record.expiresAt))) {
    return 'expiresAt must be ms since the epoch'
  }
  if (record.tenant !== undefined && (typeof record.tenant !== 'string' || record.tenant.length === 0)) return 'tenant must be a non-empty string'
  if (record.kind !== undefined && record.kind !== 'user' && record.kind !== 'service') return 'kind must be user or service'
  if (record.attributes !== undefined && (typeof record.attributes !== 'object' || record.attributes === null || Array.isArray(record.attributes))) {
    return 'attributes must be an object'
  }
  return undefined
}

function validateRecord(record: ApiKeyRecord): void {
  if (typeof record !== 'object' || record === null) throw new TypeError('an API key record must be an object')
  if (!isBase62(record.keyId, KEY_ID_LENGTH)) throw new ConfigError('API key record has a malformed keyId')
  const problem = recordProblem(record)
  if (problem !== undefined) throw new ConfigError(`API key record ${record.keyId}: ${problem}`)
  if (decodeHash(record.hash) === undefined) {
    throw new ConfigError(`API key record ${record.keyId} has no valid ${HASH_SCHEME} hash`)
  }
}

/**
 * An in-memory {@link ApiKeyStore}. Two active keys per client let a client rotate: add the new key, deploy it,
 * remove the old one.
 *
 * @example
 * ```ts
 * const store = memoryApiKeyStore([current.record])
 * store.add(next.record)      // rotation: both work
 * store.remove(current.record.keyId)
 * ```
 */
export function memoryApiKeyStore(
  records: readonly ApiKeyRecord[] = [],
  options: { maxActivePerClient?: number } = {},
): MemoryApiKeyStore {
  const maxActivePerClient = options.maxActivePerClient ?? 2
  if (!Number.isInteger(maxActivePerClient) || maxActivePerClient < 1) {
    throw new TypeError('maxActivePerClient must be a positive integer')
  }
  const byId = new Map<string, ApiKeyRecord>()
  const store: MemoryApiKeyStore = {
    get: (keyId) => byId.get(keyId),
    add(record, now = Date.now()) {
      validateRecord(record)
      if (byId.has(record.keyId)) throw new ConfigError(`API key ${record.keyId} is already present`)
      let active = 0
      for (const other of byId.values()) {
        if (other.clientId === record.clientId && (other.expiresAt === undefined || other.expiresAt > now)) active++
      }
      if (active >= maxActivePerClient) {
        throw new ConfigError(
          `client ${record.clientId} already has ${active} active API keys; remove one before adding another`,
          { reason: 'too_many_keys' },
        )
      }
      // a deep enough copy that later changes to the caller's arrays cannot alter a stored key's permissions
      byId.set(
        record.keyId,
        Object.freeze({
          ...record,
          roles: Object.freeze([...record.roles]) as string[],
          scopes: Object.freeze([...record.scopes]) as string[],
          ...(record.attributes === undefined ? {} : { attributes: Object.freeze({ ...record.attributes }) }),
        }),
      )
    },
    remove: (keyId) => byId.delete(keyId),
    list: () => [...byId.values()],
  }
  for (const record of records) store.add(record)
  return store
}

/** Options of {@link apiKeyAuthenticator}. */
export interface ApiKeyAuthenticatorOptions {
  /** The records (validated and indexed once here) or a store to look them up in. */
  keys: readonly ApiKeyRecord[] | ApiKeyStore
  /** Only keys with this prefix are recognised. Default `vw`. */
  prefix?: string
  /** The pepper the keys were generated with. */
  pepper?: Uint8Array
  /**
   * Look the key up again on each call of a session, so deleting a record ends its sessions at once. Default true;
   * a database-backed store may turn it off and revoke through a `RevocationList` instead.
   */
  recheckOnEachCall?: boolean
  /** ms since the epoch, for tests. Default `Date.now`. */
  clock?: () => number
}

const authenticationError = (message: string, reason: string) => new AuthenticationError(message, { reason })

/**
 * Authenticates `ApiKey <key>` (or `Bearer <key>` when the key has this prefix) against stored hashes, in
 * constant time. The principal's `id` is the client id and `credentialId` the key id.
 *
 * Reasons: `malformed_api_key`, `bad_checksum`, `unknown_key`, `invalid_api_key`, `key_expired`, `key_removed`,
 * `key_store_unavailable`. Key ids are public, so an unknown id may be answered faster than a wrong secret.
 *
 * @example
 * ```ts
 * const warden = createWarden({ adapter, policy, authenticators: [apiKeyAuthenticator({ keys: [record] })] })
 * const session = await warden.session(`ApiKey ${apiKey}`)
 * ```
 */
export function apiKeyAuthenticator(options: ApiKeyAuthenticatorOptions): Authenticator {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const prefix = options.prefix ?? 'vw'
  if (!PREFIX_PATTERN.test(prefix)) throw new ConfigError('API key prefix must be 2–16 lowercase letters or digits')
  const pepper = resolvePepper(options.pepper)
  const recheck = options.recheckOnEachCall ?? true
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') throw new TypeError('clock must be a function')
  const bearerPrefix = `${prefix}_`
  let store: ApiKeyStore
  // decoded hashes of a fixed key set are computed once here, not per call
  const decoded = new WeakMap<ApiKeyRecord, Uint8Array>()
  if (Array.isArray(options.keys)) {
    const memory = memoryApiKeyStore(options.keys as readonly ApiKeyRecord[])
    for (const record of memory.list()) decoded.set(record, decodeHash(record.hash)!)
    store = memory
  } else if (typeof (options.keys as ApiKeyStore | undefined)?.get === 'function') {
    store = options.keys as ApiKeyStore
  } else {
    throw new TypeError('keys must be an array of ApiKeyRecord or an ApiKeyStore')
  }
  const principals = new WeakMap<Principal, ApiKeyRecord>()
  // records from the store that passed recordProblem (a store may hand back the same objects every time)
  const checked = new WeakSet<ApiKeyRecord>()
  const usable = (record: ApiKeyRecord, keyId: string): void => {
    if (checked.has(record)) return
    if (typeof record !== 'object' || record === null || record.keyId !== keyId || recordProblem(record) !== undefined) {
      // a record the authenticator cannot read safely is not trusted: the store is wrong, and the call is denied
      throw authenticationError(`API key ${keyId} has an invalid record in the key store`, 'invalid_key_record')
    }
    checked.add(record)
  }
  // a record's principal holds nothing secret and never changes: build it once per record object
  const built = new WeakMap<ApiKeyRecord, Principal>()
  const principalOf = (record: ApiKeyRecord): Principal => {
    const cached = built.get(record)
    if (cached !== undefined) return cached
    const principal: Principal = Object.freeze({
      id: record.clientId,
      kind: record.kind ?? 'service',
      ...(record.tenant === undefined ? {} : { tenant: record.tenant }),
      roles: Object.freeze([...record.roles]),
      scopes: Object.freeze([...record.scopes]),
      attributes: Object.freeze({ ...(record.attributes ?? {}) }),
      authenticator: 'api-key',
      credentialId: record.keyId,
      issuedAt: record.createdAt,
      ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
    })
    built.set(record, principal)
    return principal
  }
  // what a record grants, as canonical JSON (a store may return the same record as a new object on every call)
  const grants = new WeakMap<ApiKeyRecord, string>()
  const grantsOf = (record: ApiKeyRecord): string => {
    let text = grants.get(record)
    if (text === undefined) {
      try {
        text = canonicalize([record.clientId, record.kind ?? 'service', record.tenant ?? null, record.roles, record.scopes, record.attributes ?? {}])
      } catch {
        // attributes that are not JSON: compared by identity only, so an equal-looking copy counts as changed
        text = `unreadable:${platform.hex(platform.randomBytes(16))}`
      }
      grants.set(record, text)
    }
    return text
  }
  const checkStillValid = (principal: Principal, keyId: string, current: ApiKeyRecord | undefined, now: number): void => {
    const original = principals.get(principal)
    // a record replaced under the same id (new hash) no longer vouches for this session
    if (current === undefined || (original !== undefined && current.hash !== original.hash)) {
      throw authenticationError(`API key ${keyId} was removed`, 'key_removed')
    }
    usable(current, keyId)
    // the same key with other grants (roles, tenant, ...) in the store: the session's principal is out of date
    if (original !== undefined && current !== original && grantsOf(current) !== grantsOf(original)) {
      throw authenticationError(`API key ${keyId} was changed; authenticate again`, 'key_changed')
    }
    if (current.expiresAt !== undefined && now >= current.expiresAt) {
      throw authenticationError(`API key ${keyId} has expired`, 'key_expired')
    }
  }

  return {
    name: 'api-key',
    recognizes(credential: NormalizedCredential): boolean {
      if (credential.scheme === 'api-key') return true
      // a JWT starts with `eyJ`, never with `<prefix>_`, so there is no ambiguity with the JWT authenticator
      return credential.scheme === 'bearer' && credential.value.startsWith(bearerPrefix)
    },
    async authenticate(credential: NormalizedCredential, _context: RequestContext): Promise<Principal> {
      if (credential.scheme === 'peer') throw authenticationError('not an API key', 'malformed_api_key')
      const parsed = parseApiKey(credential.value)
      if (parsed === undefined || parsed.prefix !== prefix) {
        throw authenticationError('malformed API key', 'malformed_api_key')
      }
      if (!parsed.checksumValid) throw authenticationError('API key checksum does not match', 'bad_checksum')
      let record: ApiKeyRecord | undefined
      try {
        record = await store.get(parsed.keyId)
      } catch (error) {
        throw new AuthenticationError('API key store failed', { reason: 'key_store_unavailable', cause: error })
      }
      const expected = record === undefined || record === null ? undefined : (decoded.get(record) ?? decodeHash(record.hash))
      if (record === undefined || record === null || expected === undefined) {
        throw authenticationError(`unknown API key ${parsed.keyId}`, 'unknown_key')
      }
      usable(record, parsed.keyId)
      if (!platform.timingSafeEqual(hashKey(pepper, credential.value), expected)) {
        throw authenticationError(`invalid API key ${parsed.keyId}`, 'invalid_api_key')
      }
      if (record.expiresAt !== undefined && clock() >= record.expiresAt) {
        throw authenticationError(`API key ${parsed.keyId} has expired`, 'key_expired')
      }
      const principal = principalOf(record)
      principals.set(principal, record)
      return principal
    },
    verify(principal: Principal, _context: RequestContext, now: number): void | Promise<void> {
      if (principal.expiresAt !== undefined && now >= principal.expiresAt) {
        throw authenticationError(`API key ${principal.credentialId} has expired`, 'key_expired')
      }
      if (!recheck) return
      const keyId = principal.credentialId
      if (keyId === undefined) throw authenticationError('principal has no API key id', 'unknown_key')
      const found = store.get(keyId)
      if (found instanceof Promise) {
        return found.then(
          (current) => checkStillValid(principal, keyId, current, now),
          (error: unknown) => {
            throw new AuthenticationError('API key store failed', { reason: 'key_store_unavailable', cause: error })
          },
        )
      }
      checkStillValid(principal, keyId, found, now)
    },
  }
}
