// the keyring: key ids, one primary per group and older decrypt-only keys, per-tenant keys, shredding, HKDF subkeys

import { ConfigError, InputError, IntegrityError } from '../errors.js'
import { type Platform, platform as defaultPlatform } from '../platform/index.js'
import { framed, isWellFormed, KEY_ID_PATTERN } from './bytes.js'
import { type KeyProvider, type KeyringDocument, keyringDocumentDigest, parseKeyringDocument } from './providers.js'

/** The length of a derived subkey unless asked otherwise (bytes); the only one not bound into the HKDF info. */
const DEFAULT_SUBKEY_LENGTH = 32

/**
 * What a subkey is for. One subkey per purpose: a key is never used for two algorithms.
 * `vector` is reserved for vector encryption (`src/crypto/vector/`).
 */
export type KeyPurpose = 'field-encryption' | 'blind-index' | 'record-mac' | 'vector'

/** Whom subkeys are bound to: every record of a collection, or one tenant (across collections). */
export type KeyScope = { readonly kind: 'collection'; readonly collection: string } | { readonly kind: 'tenant'; readonly tenant: string }

/** `primary`: encrypts and decrypts; `active`: decrypts only (just added, or demoted by a rotation); `retired`: unusable. */
export type KeyState = 'primary' | 'active' | 'retired'

/** What the keyring tells about a key; never its material. */
export interface KeyInfo {
  readonly id: string
  /** The tenant that owns the key; absent for shared keys. */
  readonly tenant?: string
  readonly state: KeyState
  /** Milliseconds since the epoch. */
  readonly createdAt: number
}

/** A key to put into a keyring. `material` is 32 random bytes (see {@link generateKey}). */
export interface KeyInput {
  readonly id: string
  readonly material: Uint8Array
  /** Makes it a tenant's own key: shredding the tenant destroys it. */
  readonly tenant?: string
  /** Defaults to `active` (decrypt-only) so that every reader has a key before it is promoted. */
  readonly state?: KeyState
  readonly createdAt?: number
}

/** A subkey and the id of the key it was derived from (which envelopes, tokens and MACs record). */
export interface DerivedKey {
  readonly keyId: string
  readonly key: Uint8Array
}

/** Options of {@link Keyring.deriveKey}. */
export interface DeriveOptions {
  /** Derive from this key instead of the scope's primary (reading data written under an older key). */
  readonly keyId?: string
  /** Extra context bound into the subkey, e.g. the per-writer salt of field encryption. */
  readonly salt?: Uint8Array
  /** Subkey length in bytes, 16..64; default 32. */
  readonly length?: number
}

interface Entry {
  id: string
  tenant: string | undefined
  state: KeyState
  createdAt: number
  material: Uint8Array
}

const DERIVE_LABEL = 'vectorwarden/derive/v1'
const CACHE_LIMIT = 4096

/**
 * 32 bytes from the platform's CSPRNG: a data key, a key-encryption key, or keyring key material.
 *
 * @example
 * ```ts
 * keyring.add({ id: 'k2', material: generateKey() })
 * ```
 */
export function generateKey(platform: Platform = defaultPlatform): Uint8Array {
  return platform.randomBytes(32)
}

function checkTenant(tenant: string): void {
  if (typeof tenant !== 'string' || tenant.length === 0 || tenant.length > 1024 || !isWellFormed(tenant)) {
    throw new TypeError('a tenant must be a non-empty well-formed string of at most 1024 characters')
  }
}

/**
 * Holds key material and derives every subkey the library uses. Keys form groups: the shared group and one group
 * per tenant that has its own keys; each group has one primary (encrypts) and any number of active keys
 * (decrypt only). Rotation is `add` → `promote` → (re-encrypt) → `retire`.
 *
 * A tenant-scoped subkey comes from the tenant's own keys when it has any, else from the shared keys with the
 * tenant bound into the derivation. Only data under a tenant's own keys can be crypto-shredded.
 *
 * Material never leaves except wrapped by a key provider ({@link Keyring.export}); `JSON.stringify` and
 * `console.log` show no key bytes.
 *
 * @example
 * ```ts
 * const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
 * keyring.add({ id: 'k2', material: generateKey() }) // every reader can now decrypt k2
 * keyring.promote('k2') // new data under k2; k1 still decrypts
 * // ... reencryptCollection(...) ...
 * keyring.retire('k1')
 * ```
 */
export class Keyring {
  readonly #entries = new Map<string, Entry>()
  readonly #shredded = new Set<string>()
  readonly #cache = new Map<string, Uint8Array>()
  readonly #platform: Platform
  #revision = 0

  constructor(options: { readonly keys?: readonly KeyInput[]; readonly shreddedTenants?: readonly string[]; readonly platform?: Platform } = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('Keyring options must be an object')
    this.#platform = options.platform ?? defaultPlatform
    for (const tenant of options.shreddedTenants ?? []) {
      checkTenant(tenant)
      this.#shredded.add(tenant)
    }
    for (const key of options.keys ?? []) this.#insert(key)
    this.#checkGroups()
  }

  /** Changes whenever keys change; derived-key caches compare it. */
  get revision(): number {
    return this.#revision
  }

  /** The keys, without material. */
  keys(): readonly KeyInfo[] {
    return [...this.#entries.values()].map(({ id, tenant, state, createdAt }) => (tenant === undefined ? { id, state, createdAt } : { id, tenant, state, createdAt }))
  }

  /**
   * Adds a key, decrypt-only unless `state: 'primary'` is given for a group that has no primary yet.
   *
   * @example
   * ```ts
   * keyring.add({ id: 'acme-1', material: generateKey(), tenant: 'acme', state: 'primary' })
   * ```
   */
  add(key: KeyInput): void {
    this.#mutate(() => this.#insert(key))
  }

  /**
   * Makes a key the primary of its group; the previous primary becomes `active` (decrypt-only).
   *
   * @example
   * ```ts
   * keyring.promote('k2')
   * ```
   */
  promote(id: string): void {
    this.#mutate(() => {
      const entry = this.#entry(id)
      if (entry.state === 'retired') throw new ConfigError('a retired key cannot be promoted', { reason: 'key_retired' })
      for (const other of this.#entries.values()) {
        if (other.tenant === entry.tenant && other.state === 'primary') other.state = 'active'
      }
      entry.state = 'primary'
    })
  }

  /**
   * Retires a decrypt-only key: data still under it becomes unreadable. Re-encrypt first.
   *
   * @example
   * ```ts
   * keyring.retire('k1')
   * ```
   */
  retire(id: string): void {
    this.#mutate(() => {
      const entry = this.#entry(id)
      if (entry.state === 'primary') throw new ConfigError('promote another key before retiring the primary', { reason: 'key_is_primary' })
      entry.state = 'retired'
    })
  }

  /**
   * Crypto-shredding: destroys every key the tenant owns and refuses the tenant from now on, so its data cannot
   * be decrypted by anyone holding this keyring (or a later export of it).
   *
   * @example
   * ```ts
   * keyring.shredTenant('acme')
   * await saveKeyringDocument(await keyring.export(provider)) // and destroy older copies of the document
   * ```
   */
  shredTenant(tenant: string): void {
    checkTenant(tenant)
    this.#mutate(() => {
      for (const entry of [...this.#entries.values()]) {
        if (entry.tenant === tenant) {
          entry.material.fill(0)
          this.#entries.delete(entry.id)
        }
      }
      this.#shredded.add(tenant)
    })
  }

  /** Whether the tenant was shredded. */
  isShredded(tenant: string): boolean {
    return this.#shredded.has(tenant)
  }

  /** Tenants that were shredded (kept so that no later write can silently fall back to shared keys). */
  shreddedTenants(): readonly string[] {
    return [...this.#shredded]
  }

  /**
   * The id of the key new data of the scope is written under. Throws `IntegrityError` when there is none or the
   * tenant was shredded.
   *
   * @example
   * ```ts
   * keyring.primaryKeyId({ kind: 'tenant', tenant: 'acme' }) // 'acme-1'
   * ```
   */
  primaryKeyId(scope: KeyScope): string {
    const group = this.#group(scope)
    for (const entry of group) if (entry.state === 'primary') return entry.id
    throw new IntegrityError('no primary key for this scope', { reason: 'no_key' })
  }

  /**
   * Every key data of the scope may be under, primary first: what blind-index queries must look for during a
   * rotation.
   *
   * @example
   * ```ts
   * keyring.readableKeyIds({ kind: 'collection', collection: 'docs' }) // ['k2', 'k1']
   * ```
   */
  readableKeyIds(scope: KeyScope): readonly string[] {
    const primary = this.primaryKeyId(scope)
    const others = this.#group(scope).filter((entry) => entry.state !== 'retired' && entry.id !== primary)
    return [primary, ...others.map((entry) => entry.id)]
  }

  /**
   * Derives a subkey with HKDF-SHA256 from a key of the scope (its primary unless `keyId` is given), bound to the
   * purpose, the scope and the optional salt:
   * `info = frame("vectorwarden/derive/v1", purpose, scope kind, scope value, salt)`, each component
   * length-prefixed. Results are cached. Throws `IntegrityError` (`unknown_key`, `no_key`, `tenant_shredded`)
   * when the scope has no such usable key.
   *
   * @example
   * ```ts
   * // a vector-encryption key for one tenant, 64 bytes
   * const { keyId, key } = keyring.deriveKey('vector', { kind: 'tenant', tenant: 'acme' }, { length: 64 })
   * // later, reading data that recorded keyId
   * const again = keyring.deriveKey('vector', { kind: 'tenant', tenant: 'acme' }, { keyId, length: 64 })
   * ```
   */
  deriveKey(purpose: KeyPurpose, scope: KeyScope, options: DeriveOptions = {}): DerivedKey {
    const length = options.length ?? DEFAULT_SUBKEY_LENGTH
    if (!Number.isInteger(length) || length < 16 || length > 64) throw new TypeError('subkey length must be 16..64 bytes')
    const scopeValue = scope.kind === 'tenant' ? scope.tenant : scope.collection
    // UTF-8 maps every lone surrogate to U+FFFD: 'acme\uD800' and 'acme\uFFFD' would share keys (and a shred)
    if (typeof scopeValue !== 'string' || !isWellFormed(scopeValue)) {
      throw new InputError('a tenant or collection must be well-formed text (no lone surrogates) to derive keys for it', { reason: 'invalid_key_scope' })
    }
    if (scope.kind === 'tenant' && this.#shredded.has(scope.tenant)) throw new IntegrityError('the tenant was shredded', { reason: 'tenant_shredded' })
    const keyId = options.keyId ?? this.primaryKeyId(scope)
    const salt = options.salt ?? new Uint8Array(0)
    // the salt as one char per byte: cheaper than base64 on the per-field read path
    const cacheKey = `${purpose}\u0000${keyId}\u0000${scope.kind}\u0000${scopeValue}\u0000${length}\u0000${String.fromCharCode(...salt)}`
    const cached = this.#cache.get(cacheKey)
    if (cached !== undefined) return { keyId, key: cached }
    const entry = this.#entries.get(keyId)
    if (entry === undefined || entry.state === 'retired' || !this.#group(scope).includes(entry)) {
      throw new IntegrityError('no usable key with this id for this scope', { reason: 'unknown_key' })
    }
    const encode = this.#platform.utf8Encode
    // the default length is left out of the info (subkeys derived so far keep their bytes); any other length is bound,
    // so that a longer subkey never starts with the bytes of the 32-byte one (HKDF output is a prefix stream)
    const parts = [encode(DERIVE_LABEL), encode(purpose), encode(scope.kind), encode(scopeValue), salt]
    if (length !== DEFAULT_SUBKEY_LENGTH) parts.push(encode(`length=${length}`))
    const info = framed(parts)
    const key = this.#platform.hkdfSha256(entry.material, new Uint8Array(0), info, length)
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear()
    this.#cache.set(cacheKey, key)
    return { keyId, key }
  }

  /**
   * Wraps every key with the provider into a document safe to store (no key in clear).
   *
   * @example
   * ```ts
   * const document = await keyring.export(localKeyProvider({ kek }))
   * writeFileSync('keyring.json', JSON.stringify(document))
   * ```
   */
  async export(provider: KeyProvider): Promise<KeyringDocument> {
    const entries = [...this.#entries.values()]
    const shreddedTenants = [...this.#shredded]
    const metadata = entries.map((entry) => ({ id: entry.id, ...(entry.tenant === undefined ? {} : { tenant: entry.tenant }), state: entry.state, createdAt: entry.createdAt }))
    // version 2: every wrap binds the digest of all the metadata, so none of it can be edited without the KEK
    const digest = keyringDocumentDigest(this.#platform, { provider: provider.name, keys: metadata, shreddedTenants })
    const keys: KeyringDocument['keys'][number][] = []
    for (const [index, entry] of entries.entries()) {
      const context = entry.tenant === undefined ? { keyId: entry.id, document: digest } : { keyId: entry.id, tenant: entry.tenant, document: digest }
      const wrapped = await provider.wrapKey(entry.material, context)
      keys.push({ ...(metadata[index] as (typeof metadata)[number]), wrapped })
    }
    return { format: 'vectorwarden-keyring', version: 2, provider: provider.name, keys, shreddedTenants }
  }

  /**
   * Rebuilds a keyring from a document, unwrapping each key with the provider. Throws `ConfigError` when the
   * document is malformed or a key does not unwrap.
   *
   * @example
   * ```ts
   * const keyring = await Keyring.load(JSON.parse(readFileSync('keyring.json', 'utf8')), localKeyProvider({ kek }))
   * ```
   */
  static async load(document: unknown, provider: KeyProvider, options: { readonly platform?: Platform } = {}): Promise<Keyring> {
    const parsed = parseKeyringDocument(document)
    const platform = options.platform ?? defaultPlatform
    // version 2 binds the metadata into every wrap: an edited state, key set or shred list makes every key fail
    const digest = parsed.version === 2 ? keyringDocumentDigest(platform, parsed) : undefined
    const keys: KeyInput[] = []
    for (const key of parsed.keys) {
      const base = key.tenant === undefined ? { keyId: key.id } : { keyId: key.id, tenant: key.tenant }
      const context = digest === undefined ? base : { ...base, document: digest }
      let material: Uint8Array
      try {
        material = await provider.unwrapKey(key.wrapped, context)
      } catch (error) {
        throw new ConfigError(`key ${key.id} did not unwrap with the key provider`, { reason: 'key_unwrap_failed', cause: error })
      }
      keys.push({ ...(key.tenant === undefined ? {} : { tenant: key.tenant }), id: key.id, material, state: key.state, createdAt: key.createdAt })
    }
    return new Keyring({ keys, shreddedTenants: parsed.shreddedTenants, ...(options.platform ? { platform: options.platform } : {}) })
  }

  /** Never key bytes. */
  toJSON(): { readonly keys: readonly KeyInfo[] } {
    return { keys: this.keys() }
  }

  #insert(key: KeyInput): void {
    if (typeof key !== 'object' || key === null) throw new TypeError('a key must be an object')
    if (typeof key.id !== 'string' || !KEY_ID_PATTERN.test(key.id)) throw new ConfigError('a key id must be 1-64 characters of A-Z a-z 0-9 _ -', { reason: 'key_id_invalid' })
    if (!(key.material instanceof Uint8Array) || key.material.length !== 32) throw new ConfigError(`key ${key.id} must be 32 bytes`, { reason: 'key_length' })
    if (key.material.every((byte) => byte === 0)) throw new ConfigError(`key ${key.id} is all zeros`, { reason: 'key_weak' })
    if (this.#entries.has(key.id)) throw new ConfigError(`key id ${key.id} is already in the keyring`, { reason: 'key_id_taken' })
    if (key.tenant !== undefined) {
      checkTenant(key.tenant)
      if (this.#shredded.has(key.tenant)) throw new ConfigError('the tenant was shredded', { reason: 'tenant_shredded' })
    }
    const state = key.state ?? 'active'
    if (state !== 'primary' && state !== 'active' && state !== 'retired') throw new ConfigError(`key ${key.id} has an unknown state`, { reason: 'key_state' })
    this.#entries.set(key.id, { id: key.id, tenant: key.tenant, state, createdAt: key.createdAt ?? Date.now(), material: key.material.slice() })
  }

  #entry(id: string): Entry {
    const entry = this.#entries.get(id)
    if (entry === undefined) throw new ConfigError(`no key ${id} in the keyring`, { reason: 'key_unknown' })
    return entry
  }

  #group(scope: KeyScope): Entry[] {
    const shared: Entry[] = []
    const own: Entry[] = []
    const tenant = scope.kind === 'tenant' ? scope.tenant : undefined
    if (tenant !== undefined && this.#shredded.has(tenant)) throw new IntegrityError('the tenant was shredded', { reason: 'tenant_shredded' })
    for (const entry of this.#entries.values()) {
      if (entry.tenant === undefined) shared.push(entry)
      else if (entry.tenant === tenant) own.push(entry)
    }
    // a tenant with a usable key of its own writes under it (own keys come first, so its primary is found first);
    // older data under the shared keys stays readable
    return own.some((entry) => entry.state !== 'retired') ? [...own, ...shared] : shared
  }

  #checkGroups(): void {
    const primaries = new Map<string, number>()
    const usable = new Map<string, number>()
    for (const entry of this.#entries.values()) {
      const group = entry.tenant ?? '\u0000shared'
      if (entry.state === 'primary') primaries.set(group, (primaries.get(group) ?? 0) + 1)
      if (entry.state !== 'retired') usable.set(group, (usable.get(group) ?? 0) + 1)
    }
    for (const [group, count] of usable) {
      const primary = primaries.get(group) ?? 0
      const label = group === '\u0000shared' ? 'the shared keys' : 'a tenant'
      if (primary !== 1 && count > 0) throw new ConfigError(`${label} must have exactly one primary key (has ${primary})`, { reason: 'primary_count' })
    }
  }

  #mutate(change: () => void): void {
    const snapshot = new Map([...this.#entries].map(([id, entry]) => [id, { ...entry }]))
    const shredded = new Set(this.#shredded)
    try {
      change()
      this.#checkGroups()
    } catch (error) {
      this.#entries.clear()
      for (const [id, entry] of snapshot) this.#entries.set(id, entry)
      this.#shredded.clear()
      for (const tenant of shredded) this.#shredded.add(tenant)
      throw error
    }
    this.#cache.clear()
    this.#revision++
  }
}
