// the vector-encryption stage: encrypts embeddings on write and queries, checks and decrypts them on read

import { ConfigError, InputError, IntegrityError, WardenError } from '../../errors.js'
import type { FilterNode } from '../../spec/filter.js'
import type { FieldProtector, PlainRecord, ProtectionContext, UnprotectedRecord, UnprotectResult } from '../../spec/protection.js'
import type { Distance, FetchedRecord, Metadata } from '../../spec/records.js'
import type { Keyring } from '../keyring.js'
import { type CollectionVectorConfig, VECTOR_METADATA_FIELDS, type VectorCipherSource, vectorBinding, vectorCipherSource } from './keys.js'
import { isWellFormed } from '../bytes.js'

/** Options of {@link vectorEncryption}. */
export interface VectorEncryptionOptions {
  /** The keyring whose `vector` subkeys (per tenant, else per collection) encrypt the vectors. */
  readonly keyring: Keyring
  /** Which collections have encrypted vectors, and how. */
  readonly collections: { readonly [collection: string]: CollectionVectorConfig }
  /**
   * The metadata field that holds a record's tenant. Readers without a tenant of their own (operators, rotation jobs)
   * find each record's key through it; without it they can read only vectors written without a tenant.
   */
  readonly tenantField?: string
}

const RESERVED: readonly string[] = [VECTOR_METADATA_FIELDS.keyId, VECTOR_METADATA_FIELDS.nonce, VECTOR_METADATA_FIELDS.tag]

function stripReserved(metadata: Metadata | undefined): Metadata | undefined {
  if (metadata === undefined) return undefined
  const out: { [field: string]: Metadata[string] } = {}
  for (const field in metadata) if (!RESERVED.includes(field)) out[field] = metadata[field] as Metadata[string]
  return out
}

/**
 * Encrypts the embeddings of the configured collections with distance-comparison-preserving encryption
 * (`createVectorCipher`): the store ranks ciphertexts as it would rank plaintexts, approximately, while an operator of
 * the store never sees an embedding. Each vector carries its key id, nonce and tag in reserved fields (`_vw_vk`,
 * `_vw_vn`, `_vw_vt`); the tag binds it to tenant, collection, namespace and record id, so a vector altered or moved
 * inside the store fails on read (the record is dropped and an integrity alarm is audited). Queries are encrypted under
 * the caller tenant's key, so a query under one tenant's key ranks another tenant's vectors at random.
 *
 * Vectors are checked when they are read (`includeVectors`, updates, re-encryption); a query that returns no vectors
 * cannot check them. Combine with field encryption by passing both: `encryption: [fieldEncryption(...),
 * vectorEncryption(...)]`.
 *
 * @example
 * ```ts
 * const warden = createWarden({
 *   adapter, authenticators, policy, audit,
 *   encryption: vectorEncryption({ keyring, tenantField: 'tenant', collections: { docs: { metric: 'cosine', dimension: 768 } } }),
 * })
 * ```
 */
export function vectorEncryption(options: VectorEncryptionOptions): FieldProtector & { storeDistance(collection: string, requested: Distance): Distance } {
  if (typeof options !== 'object' || options === null) throw new TypeError('vectorEncryption(options): options must be an object')
  if (typeof options.keyring?.deriveKey !== 'function') throw new ConfigError('vectorEncryption needs a keyring', { reason: 'invalid_config' })
  if (typeof options.collections !== 'object' || options.collections === null) {
    throw new ConfigError('vectorEncryption needs collections: { name: { metric, dimension } }', { reason: 'invalid_config' })
  }
  const sources = new Map<string, { source: VectorCipherSource; config: CollectionVectorConfig }>()
  for (const [collection, config] of Object.entries(options.collections)) {
    try {
      sources.set(collection, { source: vectorCipherSource(options.keyring, config), config })
    } catch (error) {
      if (WardenError.isInstance(error)) throw error
      throw new ConfigError(`vectorEncryption: collection ${collection}: ${(error as Error).message}`, { reason: 'invalid_config' })
    }
  }
  const tenantField = options.tenantField

  /** One rule for both directions: the record's tenant field when configured and set, else the caller's tenant. */
  const tenantOf = (context: ProtectionContext, metadata: Metadata | undefined): string | undefined => {
    const recordTenant = tenantField === undefined ? undefined : metadata?.[tenantField]
    return typeof recordTenant === 'string' && recordTenant !== '' ? recordTenant : context.tenant
  }

  const sourceOf = (collection: string) => {
    const entry = sources.get(collection)
    if (entry === undefined) throw new TypeError(`vectorEncryption does not cover collection ${collection}`)
    return entry.source
  }

  return {
    covers: (collection) => sources.has(collection),
    reservedFields: () => RESERVED,
    protectedFields: () => [],

    /** Cosine ciphertexts are unit length: the store must rank them by dot product and never re-normalise them. */
    storeDistance: (collection, requested) => (sources.get(collection)?.config.metric === 'cosine' && requested === 'cosine' ? 'dot' : requested),

    async protect(records: readonly PlainRecord[], context: ProtectionContext) {
      const source = sourceOf(context.collection)
      return records.map((record) => {
        const tenant = tenantOf(context, record.metadata as Metadata | undefined)
        if (context.tenant !== undefined && tenant !== context.tenant) {
          throw new InputError('a record of another tenant cannot be written under this tenant', { path: 'metadata', reason: 'tenant_mismatch' })
        }
        const { keyId, cipher } = source.forWrite({ collection: context.collection, tenant })
        const encrypted = cipher.encrypt(record.vector, {
          associatedData: vectorBinding({ tenant, collection: context.collection, namespace: context.namespace, id: record.id }),
        })
        const metadata = {
          ...(record.metadata as Metadata | undefined),
          [VECTOR_METADATA_FIELDS.keyId]: keyId,
          [VECTOR_METADATA_FIELDS.nonce]: encrypted.nonce,
          [VECTOR_METADATA_FIELDS.tag]: encrypted.tag,
        }
        return { id: record.id, vector: encrypted.vector, metadata }
      })
    },

    rewriteFilter: (filter: FilterNode) => filter,

    protectQueryVector(vector, context) {
      return sourceOf(context.collection).forWrite({ collection: context.collection, tenant: context.tenant }).cipher.encryptQuery(vector)
    },

    async unprotect(records: readonly FetchedRecord[], context): Promise<UnprotectResult> {
      const source = sourceOf(context.collection)
      const out: UnprotectedRecord[] = []
      const failures: { id: string; reason: string }[] = []
      const keys = new Set<string>()
      for (const record of records) {
        const metadata = record.metadata
        const keyId = metadata?.[VECTOR_METADATA_FIELDS.keyId]
        const nonce = metadata?.[VECTOR_METADATA_FIELDS.nonce]
        const tag = metadata?.[VECTOR_METADATA_FIELDS.tag]
        if (typeof keyId !== 'string' || typeof nonce !== 'string' || typeof tag !== 'string') {
          // a record in an encrypted collection without its vector protection was not written by the warden
          failures.push({ id: record.id, reason: 'vector_unprotected' })
          continue
        }
        let vector: Float32Array | undefined
        if (record.vector !== undefined) {
          // the binding encodes the id as UTF-8, which maps a lone surrogate to U+FFFD: such an id (the warden never
          // writes one) could carry another record's vector
          if (!isWellFormed(record.id)) {
            failures.push({ id: record.id, reason: 'vector_invalid_id' })
            continue
          }
          const tenant = tenantOf(context, metadata)
          try {
            vector = source.forRead({ collection: context.collection, tenant }, keyId).decrypt(
              { vector: record.vector, nonce, tag },
              { associatedData: vectorBinding({ tenant, collection: context.collection, namespace: context.namespace, id: record.id }) },
            )
          } catch (error) {
            if (!IntegrityError.isInstance(error) && !WardenError.isInstance(error)) throw error
            failures.push({ id: record.id, reason: WardenError.isInstance(error) ? `vector_${error.reason}` : 'vector_integrity' })
            continue
          }
          keys.add(keyId)
        }
        const plain: { id: string; vector?: Float32Array; metadata?: Metadata; score?: number } = { id: record.id }
        if (vector !== undefined && context.includeVectors) plain.vector = vector
        const stripped = stripReserved(metadata)
        if (stripped !== undefined) plain.metadata = stripped
        const score = (record as { score?: number }).score
        if (score !== undefined) plain.score = score
        out.push(plain as UnprotectedRecord)
      }
      return { records: out, failures, keys: [...keys] }
    },
  }
}
