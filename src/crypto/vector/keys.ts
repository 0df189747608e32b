// per-tenant vector ciphers from the keyring: the `vector` purpose subkey, bound to tenant and collection

import type { Keyring, KeyScope } from '../keyring.js'
import { createVectorCipher, type VectorCipher, type VectorMetric } from './cipher.js'

/**
 * How the vectors of one collection are encrypted.
 *
 * @example
 * ```ts
 * const config: CollectionVectorConfig = { metric: 'cosine', dimension: 768, approximationFactor: 1 }
 * ```
 */
export interface CollectionVectorConfig {
  readonly metric: VectorMetric
  readonly dimension: number
  /** β; defaults to `DEFAULT_APPROXIMATION_FACTOR`. */
  readonly approximationFactor?: number
}

/**
 * Where the vectors live: a collection, and the tenant whose key encrypts them when there is one.
 *
 * @example
 * ```ts
 * const scope: VectorKeyScope = { tenant: 'acme', collection: 'docs' }
 * ```
 */
export interface VectorKeyScope {
  readonly collection: string
  readonly tenant?: string
}

/**
 * A cipher and the id of the keyring key it derives from (store the id beside nonce and tag).
 *
 * @example
 * ```ts
 * const { keyId, cipher }: KeyedVectorCipher = vectors.forWrite(scope)
 * ```
 */
export interface KeyedVectorCipher {
  readonly keyId: string
  readonly cipher: VectorCipher
}

/**
 * Hands out vector ciphers for (tenant, collection, key id), derived from a keyring and cached.
 *
 * @example
 * ```ts
 * const vectors: VectorCipherSource = vectorCipherSource(keyring, { metric: 'cosine', dimension: 768 })
 * ```
 */
export interface VectorCipherSource {
  /** The cipher new vectors and queries are encrypted with: the scope's primary key. */
  forWrite(scope: VectorKeyScope): KeyedVectorCipher
  /** The cipher for vectors stored under `keyId`. Throws `IntegrityError` (`unknown_key`) for a key not readable here. */
  forRead(scope: VectorKeyScope, keyId: string): VectorCipher
  /**
   * One cipher per readable key, primary first. During a rotation, vectors under an older key only rank against a
   * query encrypted under that same key: query once per entry, restricted to records stored under its key id.
   */
  forQuery(scope: VectorKeyScope): readonly KeyedVectorCipher[]
}

const CACHE_LIMIT = 1024

function keyScope(scope: VectorKeyScope): KeyScope {
  return scope.tenant === undefined ? { kind: 'collection', collection: scope.collection } : { kind: 'tenant', tenant: scope.tenant }
}

/**
 * Creates the vector-cipher source of one collection. Each cipher's key is the keyring's `vector` purpose subkey of
 * the tenant (or of the collection when no tenant is given), with the collection name bound in as salt: a query
 * under one tenant's key is meaningless against another tenant's vectors, and one tenant's collections do not share
 * noise streams or shuffles. Ciphers are cached until the keyring changes (a retired key stops working at once).
 *
 * @example
 * ```ts
 * const vectors = vectorCipherSource(keyring, { metric: 'cosine', dimension: 768 })
 * const { keyId, cipher } = vectors.forWrite({ tenant: 'acme', collection: 'docs' })
 * const { vector, nonce, tag } = cipher.encrypt(embedding)
 * // store vector; keyId, nonce and tag in reserved metadata fields
 * const plain = vectors.forRead({ tenant: 'acme', collection: 'docs' }, keyId).decrypt({ vector, nonce, tag })
 * ```
 */
export function vectorCipherSource(keyring: Keyring, config: CollectionVectorConfig): VectorCipherSource {
  // fail at construction, not on the first write: a throwaway key checks the configuration
  createVectorCipher({ ...config, key: new Uint8Array(32) })
  const cache = new Map<string, VectorCipher>()
  let revision = keyring.revision
  const encoder = new TextEncoder()

  function cipherFor(scope: VectorKeyScope, keyId: string | undefined): KeyedVectorCipher {
    if (typeof scope !== 'object' || scope === null || typeof scope.collection !== 'string') throw new TypeError('scope needs a collection name')
    if (keyring.revision !== revision) {
      cache.clear()
      revision = keyring.revision
    }
    const resolvedScope = keyScope(scope)
    const resolvedKeyId = keyId ?? keyring.primaryKeyId(resolvedScope)
    const cacheKey = `${resolvedKeyId}\u0000${scope.tenant === undefined ? '' : `t:${scope.tenant}`}\u0000${scope.collection}`
    const cached = cache.get(cacheKey)
    if (cached !== undefined) return { keyId: resolvedKeyId, cipher: cached }
    const { key } = keyring.deriveKey('vector', resolvedScope, { keyId: resolvedKeyId, salt: encoder.encode(scope.collection) })
    const cipher = createVectorCipher({ ...config, key })
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(cacheKey, cipher)
    return { keyId: resolvedKeyId, cipher }
  }

  return {
    forWrite: (scope) => cipherFor(scope, undefined),
    forRead: (scope, keyId) => {
      if (typeof keyId !== 'string') throw new TypeError('keyId must be a string')
      return cipherFor(scope, keyId).cipher
    },
    forQuery: (scope) => keyring.readableKeyIds(keyScope(scope)).map((keyId) => cipherFor(scope, keyId)),
  }
}

/**
 * Reserved metadata fields for an encrypted vector's key id, nonce and tag (the `_vw_` prefix is the warden's).
 *
 * @example
 * ```ts
 * metadata[VECTOR_METADATA_FIELDS.nonce] = nonce
 * ```
 */
export const VECTOR_METADATA_FIELDS = { keyId: '_vw_vk', nonce: '_vw_vn', tag: '_vw_vt' } as const

/**
 * The associated data that binds a vector to its place: tenant, collection, namespace and record id, each
 * length-prefixed so that no two places encode alike. A vector copied to another record fails its tag.
 *
 * @example
 * ```ts
 * const associatedData = vectorBinding({ tenant: 'acme', collection: 'docs', id: 'doc-7' })
 * const stored = cipher.encrypt(embedding, { associatedData })
 * ```
 */
export function vectorBinding(place: { readonly tenant?: string; readonly collection: string; readonly namespace?: string; readonly id: string }): Uint8Array {
  const encoder = new TextEncoder()
  const parts = [place.tenant === undefined ? undefined : encoder.encode(place.tenant), encoder.encode(place.collection), place.namespace === undefined ? undefined : encoder.encode(place.namespace), encoder.encode(place.id)]
  let length = 0
  for (const part of parts) length += 5 + (part?.length ?? 0)
  const output = new Uint8Array(length)
  const view = new DataView(output.buffer)
  let offset = 0
  for (const part of parts) {
    // a presence byte keeps "absent" apart from "empty string"
    view.setUint8(offset, part === undefined ? 0 : 1)
    view.setUint32(offset + 1, part?.length ?? 0, true)
    if (part !== undefined) output.set(part, offset + 5)
    offset += 5 + (part?.length ?? 0)
  }
  return output
}
