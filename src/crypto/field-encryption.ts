// the field protector: encrypts configured metadata fields, keeps blind indexes and record MACs, undoes it on read

import { z } from 'zod'
import { ConfigError, InputError, IntegrityError } from '../errors.js'
import type { GcmKeystreamBatch, OpenedBatch } from '../platform/gcm-keystream.js'
import { type Platform, platform as defaultPlatform } from '../platform/index.js'
import type { FilterNode, FilterScalar } from '../spec/filter.js'
import type { FieldSet } from '../spec/policy.js'
import type { FieldProtector, PlainRecord, ProtectionContext, UnprotectedRecord, UnprotectResult } from '../spec/protection.js'
import type { FetchedRecord, JsonValue, Metadata, MetadataValue } from '../spec/records.js'
import { isJsonValue, isMetadataValue } from '../spec/values.js'
import { BLIND_INDEX_PREFIX, blindIndexer, DEFAULT_BLIND_INDEX_BITS, indexedScalars } from './blind-index.js'
import { framed, isWellFormed, writeLength, writeText } from './bytes.js'
import {
  ENVELOPE_KEY_CHARS,
  ENVELOPE_KEY_ID_AT,
  ENVELOPE_PREFIX,
  envelopeHeader,
  envelopeHeaderProblem,
  envelopeNonceAt,
  envelopePlacePrefix,
  envelopeScopeKind,
  envelopeSuite,
  parseEnvelope,
  readEnvelopeKeyId,
  SALT_LENGTH,
} from './envelope.js'
import { type KeyScope, Keyring } from './keyring.js'
import {
  decodeMacTag,
  encodeMacText,
  envelopeDigest,
  fieldsToken as encodeFieldsToken,
  looksLikeRecordMac,
  parseRecordMac,
  RECORD_MAC_FIELD,
  RECORD_MAC_PREFIX,
  RECORD_MAC_PREFIX_V1,
  type RecordMacVersion,
  recordMacPrefix,
  recordMacSuffix,
  writeMacSuffix,
} from './record-mac.js'
import { PrefixedHmac } from './sha256.js'
import { SUITES, type SuiteName } from './suites.js'

/** Where an envelope belongs: what its AAD binds besides its own header. */
export interface EnvelopePlace {
  readonly collection: string
  /** The tenant of the record; absent or empty when it has none. */
  readonly tenant?: string
  readonly recordId: string
  /** The field path (the metadata field name). */
  readonly field: string
}

/** Prefix of every field name the protector reserves for itself. */
export const RESERVED_PREFIX = '_vw_'

/** How fields the caller may not decrypt are returned: left out, or replaced by a marker value. */
export type RedactionMode = 'omit' | { readonly marker: JsonValue }

/** Field encryption of one collection. */
export interface CollectionEncryptionConfig {
  /** Metadata fields stored encrypted; they may hold any JSON value. */
  readonly encrypt: readonly string[]
  /** Encrypted fields that `$eq` / `$in` filters may use, with the token size in bits (8..64, default 32). */
  readonly blindIndex?: readonly string[] | { readonly [field: string]: { readonly bits?: number } }
  /** Fields that stay in clear but are covered by the record MAC: the tenant and ACL fields. */
  readonly sign?: readonly string[]
  /** `tenant` (default): subkeys per tenant, so tenants can be shredded; `collection`: one set per collection. */
  readonly keyScope?: 'tenant' | 'collection'
  /** Where a record's tenant is read when the context has none (operators re-encrypting across tenants). */
  readonly tenantField?: string
  readonly suite?: SuiteName
  readonly redaction?: RedactionMode
}

/** Options of {@link fieldEncryption}. */
export interface FieldEncryptionConfig {
  readonly keyring: Keyring
  /** Collections with protected fields; others pass through untouched. */
  readonly collections: { readonly [collection: string]: CollectionEncryptionConfig }
  /** Suite of new envelopes; default `aes-256-gcm` (see docs/encryption.md for why). Reading accepts every suite. */
  readonly suite?: SuiteName
  /** Default `omit`. */
  readonly redaction?: RedactionMode
  /** Runtime primitives; tests pass the portable one to prove both produce and read the same bytes. */
  readonly platform?: Platform
  /** Encryptions under one writer salt before a fresh salt (and so a fresh subkey) is drawn; default 2^24. */
  readonly encryptionsPerSalt?: number
  /**
   * How AES-256-GCM envelopes of a read are opened. `auto` (default): the envelopes of a record whose MAC is of
   * version 2 — which binds every byte of every envelope, and has verified before any of them is opened — are
   * decrypted in batches per subkey: one call of the AES block function for all their counter blocks (native on
   * Node), with no GCM tag check of their own (the MAC's HMAC-SHA256 is the check; see "Batched decryption" in
   * docs/encryption.md). `off`: every envelope is opened on its own by the platform's AEAD, tag included. Records
   * with a version 1 MAC, XChaCha20-Poly1305 envelopes and single-envelope calls are opened one by one either way.
   */
  readonly batchDecryption?: 'auto' | 'off'
  /**
   * Whether records whose MAC is of version 1 (written by earlier builds; it binds each envelope's tag, not its
   * bytes) still verify; default `true`. Set it to `false` once `vectorwarden reencrypt` has rewritten a collection,
   * so that a store cannot serve an old version 1 copy of a record: such records then fail with
   * `record_mac_version`.
   */
  readonly acceptRecordMacV1?: boolean
}

/** Subkeys whose batch (a reused AES cipher each) is kept; the oldest is dropped beyond this. */
const GCM_BATCH_KEYS = 32

/**
 * The envelopes of the current read queued in batches, settled once every record of the read has been walked:
 * parallel lists rather than an object per field, reused from read to read.
 */
class PendingFields {
  readonly slots: number[] = []
  readonly fields: string[] = []
  readonly batches: GcmKeystreamBatch[] = []
  readonly jobs: number[] = []
  readonly keyIds: string[] = []
  length = 0

  push(slot: number, field: string, batch: GcmKeystreamBatch, job: number, keyId: string): void {
    const at = this.length++
    this.slots[at] = slot
    this.fields[at] = field
    this.batches[at] = batch
    this.jobs[at] = job
    this.keyIds[at] = keyId
  }

  clear(): void {
    // drop the references to batches and strings of the read before
    this.slots.length = this.fields.length = this.batches.length = this.jobs.length = this.keyIds.length = 0
    this.length = 0
  }
}

interface Resolved {
  readonly name: string
  readonly encrypt: ReadonlySet<string>
  readonly indexes: ReadonlyMap<string, { readonly bits: number; readonly field: string }>
  readonly sign: readonly string[]
  readonly scope: 'tenant' | 'collection'
  readonly tenantField: string | undefined
  readonly suite: SuiteName
  readonly redaction: RedactionMode
  readonly reserved: readonly string[]
  /** Fields a new MAC covers, sorted, and their token. */
  readonly covered: readonly string[]
  readonly coveredToken: string
}

const fieldName = z.string().min(1).max(512).refine((name) => !name.startsWith(RESERVED_PREFIX), { message: `must not start with ${RESERVED_PREFIX}` })
const suiteSchema = z.enum(['aes-256-gcm', 'xchacha20-poly1305'])
const redactionSchema = z.union([z.literal('omit'), z.object({ marker: z.custom<JsonValue>((value) => isJsonValue(value)) }).strict()])
const collectionSchema = z
  .object({
    encrypt: z.array(fieldName).min(1),
    blindIndex: z.union([z.array(fieldName), z.record(fieldName, z.object({ bits: z.number().int().min(8).max(64).optional() }).strict())]).optional(),
    sign: z.array(fieldName).optional(),
    keyScope: z.enum(['tenant', 'collection']).optional(),
    tenantField: fieldName.optional(),
    suite: suiteSchema.optional(),
    redaction: redactionSchema.optional(),
  })
  .strict()
const configSchema = z
  .object({
    keyring: z.instanceof(Keyring, { message: 'keyring must be a Keyring' }),
    collections: z.record(z.string().min(1), collectionSchema),
    suite: suiteSchema.optional(),
    redaction: redactionSchema.optional(),
    platform: z.custom<Platform>((value) => typeof value === 'object' && value !== null && 'aeadSeal' in value).optional(),
    encryptionsPerSalt: z.number().int().min(1).max(2 ** 32).optional(),
    batchDecryption: z.enum(['auto', 'off']).optional(),
    acceptRecordMacV1: z.boolean().optional(),
  })
  .strict()

function resolveCollection(name: string, config: z.infer<typeof collectionSchema>, defaults: { suite: SuiteName; redaction: RedactionMode }, platform: Platform): Resolved {
  const encrypt = new Set(config.encrypt)
  const indexes = new Map<string, { bits: number; field: string }>()
  const blindIndex = config.blindIndex ?? []
  const entries: [string, number | undefined][] = Array.isArray(blindIndex) ? blindIndex.map((field) => [field, undefined]) : Object.entries(blindIndex).map(([field, options]) => [field, options.bits])
  for (const [field, bits] of entries) {
    if (!encrypt.has(field)) throw new ConfigError(`collection ${name}: blind-indexed field ${field} is not encrypted`, { reason: 'blind_index_field' })
    indexes.set(field, { bits: bits ?? DEFAULT_BLIND_INDEX_BITS, field: `${BLIND_INDEX_PREFIX}${field}` })
  }
  const sign = [...new Set(config.sign ?? [])]
  for (const field of sign) {
    if (encrypt.has(field)) throw new ConfigError(`collection ${name}: field ${field} is both encrypted and signed in clear`, { reason: 'sign_field' })
  }
  if (config.tenantField !== undefined && encrypt.has(config.tenantField)) throw new ConfigError(`collection ${name}: the tenant field cannot be encrypted`, { reason: 'tenant_field' })
  const reserved = [RECORD_MAC_FIELD, ...[...indexes.values()].map((index) => index.field)]
  const covered = [...new Set([...sign, ...encrypt, ...[...indexes.values()].map((index) => index.field)])].sort()
  return {
    name,
    encrypt,
    indexes,
    sign,
    scope: config.keyScope ?? 'tenant',
    tenantField: config.tenantField,
    suite: config.suite ?? defaults.suite,
    redaction: (config.redaction as RedactionMode | undefined) ?? defaults.redaction,
    reserved,
    covered,
    coveredToken: encodeFieldsToken(platform, covered),
  }
}

/** Random bytes drawn in blocks: one CSPRNG call per 4 KiB instead of one per nonce. */
class RandomPool {
  #pool: Uint8Array = new Uint8Array(0)
  #offset = 0
  constructor(private readonly platform: Platform) {}
  take(length: number): Uint8Array {
    if (this.#offset + length > this.#pool.length) {
      this.#pool = this.platform.randomBytes(4096)
      this.#offset = 0
    }
    const out = this.#pool.slice(this.#offset, this.#offset + length)
    this.#pool.fill(0, this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }
  /** Writes `length` fresh random bytes into `target` at `offset`, without an intermediate array. */
  takeInto(target: Uint8Array, offset: number, length: number): void {
    if (this.#offset + length > this.#pool.length) {
      this.#pool = this.platform.randomBytes(4096)
      this.#offset = 0
    }
    target.set(this.#pool.subarray(this.#offset, this.#offset + length), offset)
    this.#pool.fill(0, this.#offset, this.#offset + length)
    this.#offset += length
  }
}

const ENCODED_FIELD_CACHE_LIMIT = 4096

/**
 * The field protector behind {@link fieldEncryption}. Use the factory; the class is exported for `instanceof`
 * and for {@link reencryptCollection}.
 *
 * @example
 * ```ts
 * const protector = fieldEncryption({ keyring, collections: { docs: { encrypt: ['email'] } } })
 * protector instanceof FieldEncryption // true
 * ```
 */
export class FieldEncryption implements FieldProtector {
  readonly keyring: Keyring
  readonly #collections: ReadonlyMap<string, Resolved>
  readonly #platform: Platform
  readonly #random: RandomPool
  readonly #encryptionsPerSalt: number
  #salt: Uint8Array
  #saltUses = 0
  readonly #fieldFrames = new Map<string, Uint8Array>()
  readonly #macFieldLists = new Map<string, { readonly fields: readonly string[]; readonly fieldSet: ReadonlySet<string> }>()
  /** Field-encryption subkeys by scope value + envelope head (scope kind, salt) + key id; cleared on key changes. */
  readonly #subkeys = new Map<string, Uint8Array>()
  #subkeysRevision = -1
  /** The current write subkey of each scope under the current salt. */
  readonly #writeKeys = new Map<string, { readonly keyId: string; readonly key: Uint8Array; readonly header: Uint8Array; readonly nonceLength: number }>()
  #writeKeysRevision = -1
  /** Record MAC states (key and shared prefix absorbed) and blind indexers; dropped with the subkeys. */
  readonly #macStates = new Map<string, MacState>()
  readonly #indexers = new Map<string, (value: FilterScalar) => string>()
  /** The subkey of the envelope read last: the envelopes of a batch nearly always share it. */
  #lastRead: { readonly keyId: string; readonly key: Uint8Array; readonly revision: number; readonly scopeValue: string; readonly head: string } | undefined
  /**
   * Scratch buffers of the per-record work: the AAD (the record's place, then one field's frame and header), the
   * record MAC's input and tags. Protecting and unprotecting run synchronously, so one set per protector suffices.
   */
  #aad = new Uint8Array(1024)
  readonly #macScratch = new Uint8Array(1024)
  readonly #macOut = new Uint8Array(32)
  /** Results of the last #open / #decrypt, handed over in fields rather than in an object per field. */
  #openedString = ''
  #openedValue: JsonValue = null
  #failure = ''
  #lastMac: VerifiedMac | undefined
  readonly #storedTag = new Uint8Array(32)
  /** Whether reads batch (`batchDecryption` and a platform that can), and the batches per subkey, oldest first. */
  readonly #batchReads: boolean
  readonly #acceptMacV1: boolean
  readonly #batches = new Map<Uint8Array, GcmKeystreamBatch>()
  /** Envelopes of the current read queued in batches; `#batching` is false outside a batched read. */
  readonly #pending = new PendingFields()
  #batching = false

  constructor(config: FieldEncryptionConfig) {
    const parsed = configSchema.safeParse(config)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new ConfigError(`field encryption: ${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`, { reason: 'encryption_config' })
    }
    this.keyring = config.keyring
    this.#platform = config.platform ?? defaultPlatform
    this.#random = new RandomPool(this.#platform)
    this.#encryptionsPerSalt = config.encryptionsPerSalt ?? 2 ** 24
    this.#batchReads = config.batchDecryption !== 'off' && this.#platform.unauthenticatedAesGcmBatch !== undefined
    this.#acceptMacV1 = config.acceptRecordMacV1 ?? true
    this.#salt = this.#random.take(SALT_LENGTH)
    const defaults = { suite: config.suite ?? 'aes-256-gcm', redaction: config.redaction ?? 'omit' } as const
    const collections = new Map<string, Resolved>()
    for (const [name, collection] of Object.entries(parsed.data.collections)) {
      collections.set(name, resolveCollection(name, collection, defaults, this.#platform))
    }
    this.#collections = collections
  }

  covers(collection: string): boolean {
    return this.#collections.has(collection)
  }

  reservedFields(collection: string): readonly string[] {
    return this.#collections.get(collection)?.reserved ?? []
  }

  protectedFields(collection: string): readonly string[] {
    const resolved = this.#collections.get(collection)
    return resolved === undefined ? [] : [...resolved.encrypt]
  }

  /** A collection's key scope and tenant field, or `undefined` when the collection is not configured. */
  collectionScope(collection: string): { readonly keyScope: 'tenant' | 'collection'; readonly tenantField?: string } | undefined {
    const resolved = this.#collections.get(collection)
    if (resolved === undefined) return undefined
    return resolved.tenantField === undefined ? { keyScope: resolved.scope } : { keyScope: resolved.scope, tenantField: resolved.tenantField }
  }

  /** Blind-indexed fields of a collection and their reserved index fields. */
  indexedFields(collection: string): ReadonlyMap<string, string> {
    const resolved = this.#collections.get(collection)
    return new Map([...(resolved?.indexes ?? new Map())].map(([field, index]) => [field, index.field]))
  }

  async protect(records: readonly PlainRecord[], context: ProtectionContext): Promise<readonly { id: string; vector: Float32Array | readonly number[]; metadata?: Metadata }[]> {
    if (!Array.isArray(records)) throw new TypeError('protect needs an array of records')
    const resolved = this.#collections.get(context.collection)
    if (resolved === undefined) return records.map((record) => ({ id: record.id, vector: record.vector, ...(record.metadata ? { metadata: record.metadata as Metadata } : {}) }))
    return records.map((record, index) => this.#protectRecord(resolved, record, context, `records[${index}]`))
  }

  #protectRecord(resolved: Resolved, record: PlainRecord, context: ProtectionContext, path: string): { id: string; vector: Float32Array | readonly number[]; metadata: Metadata } {
    if (typeof record !== 'object' || record === null || typeof record.id !== 'string') throw new TypeError('a record needs a string id')
    if (!isWellFormed(record.id)) throw new InputError('the record id is not well-formed Unicode', { path: `${path}.id`, reason: 'record_id' })
    const input = record.metadata ?? {}
    const tenant = this.#tenantOf(resolved, context, input as Metadata)
    if (resolved.scope === 'tenant' && tenant === undefined) throw new InputError('a tenant-scoped collection needs the tenant of the record', { path: `${path}.metadata`, reason: 'tenant_required' })
    const scope = this.#scope(resolved, context.collection, tenant)
    let placeLength = -1
    const metadata: Record<string, MetadataValue> = {}
    for (const field of Object.keys(input)) {
      const value = input[field]
      const fieldPath = `${path}.metadata.${field}`
      if (field.startsWith(RESERVED_PREFIX)) throw new InputError(`field ${field} is reserved`, { path: fieldPath, reason: 'reserved_field' })
      if (value === undefined) continue
      if (resolved.encrypt.has(field)) {
        if (!isJsonValue(value)) throw new InputError('an encrypted field must hold JSON (finite numbers, plain objects)', { path: fieldPath, reason: 'metadata_type' })
        if (placeLength < 0) placeLength = this.#writePlace(tenant ?? '', context.collection, record.id)
        metadata[field] = this.#encrypt(resolved, scope, placeLength, field, value)
        const index = resolved.indexes.get(field)
        if (index !== undefined) {
          const tokenOf = this.#indexer(resolved, scope, undefined, field, index.bits)
          const tokens = indexedScalars(value).map(tokenOf)
          if (tokens.length > 0) metadata[index.field] = Array.isArray(value) ? tokens : (tokens[0] as string)
        }
      } else {
        if (!isMetadataValue(value)) throw new InputError('a clear field must hold a string, finite number, boolean or list of strings', { path: fieldPath, reason: 'metadata_type' })
        if (typeof value === 'string' && (value.startsWith(ENVELOPE_PREFIX) || looksLikeRecordMac(value))) {
          throw new InputError('a clear field cannot hold a value that looks like an envelope', { path: fieldPath, reason: 'envelope_lookalike' })
        }
        metadata[field] = value
      }
    }
    metadata[RECORD_MAC_FIELD] = this.#mac(scope, tenant, context.collection, record.id, resolved.covered, resolved.coveredToken, metadata)
    return { id: record.id, vector: record.vector, metadata }
  }

  rewriteFilter(filter: FilterNode, context: ProtectionContext): FilterNode {
    const resolved = this.#collections.get(context.collection)
    if (resolved === undefined) return filter
    const reserved = new Set(resolved.reserved)
    let scope: KeyScope | undefined
    let keyIds: readonly string[] | undefined
    const tokensFor = (field: string, values: readonly FilterScalar[], path: string): string[] => {
      const index = resolved.indexes.get(field)
      if (index === undefined) throw new InputError(`field ${field} is encrypted without a blind index: it cannot be filtered on`, { path, reason: 'encrypted_field_not_indexed' })
      if (scope === undefined) {
        const tenant = context.tenant
        if (resolved.scope === 'tenant' && tenant === undefined) throw new InputError('filtering on an encrypted field of a tenant-scoped collection needs a tenant', { path, reason: 'tenant_required' })
        scope = this.#scope(resolved, context.collection, tenant)
        keyIds = this.keyring.readableKeyIds(scope)
      }
      const tokens: string[] = []
      for (const keyId of keyIds ?? []) {
        const tokenOf = this.#indexer(resolved, scope, keyId, field, index.bits)
        for (const value of values) {
          const token = tokenOf(value)
          if (!tokens.includes(token)) tokens.push(token)
        }
      }
      return tokens
    }
    const walk = (node: FilterNode, path: string): FilterNode => {
      switch (node.kind) {
        case 'and':
        case 'or':
          return { kind: node.kind, children: node.children.map((child, i) => walk(child, `${path}.$${node.kind}[${i}]`)) }
        case 'all':
        case 'none':
          return node
        default: {
          const field = node.field
          const fieldPath = `${path}.${field}`
          if (field.startsWith(RESERVED_PREFIX) || reserved.has(field)) throw new InputError(`field ${field} is reserved`, { path: fieldPath, reason: 'reserved_field' })
          if (!resolved.encrypt.has(field)) return node
          if (node.kind === 'exists') return node
          const index = resolved.indexes.get(field)
          if (node.kind === 'cmp' && node.op === '$eq') return { kind: 'in', field: index?.field ?? field, op: '$in', values: tokensFor(field, [node.value], `${fieldPath}.$eq`) }
          if (node.kind === 'in' && node.op === '$in') return { kind: 'in', field: index?.field ?? field, op: '$in', values: tokensFor(field, node.values, `${fieldPath}.$in`) }
          throw new InputError(`operator ${node.op} cannot be used on encrypted field ${field}; only $eq, $in and $exists can`, {
            path: `${fieldPath}.${node.op}`,
            reason: 'encrypted_field_operator',
          })
        }
      }
    }
    return walk(filter, 'filter')
  }

  async unprotect(records: readonly FetchedRecord[], context: ProtectionContext & { readonly decryptable: FieldSet; readonly includeVectors: boolean }): Promise<UnprotectResult> {
    if (!Array.isArray(records)) throw new TypeError('unprotect needs an array of records')
    const resolved = this.#collections.get(context.collection)
    const keys = new Set<string>()
    const results: (UnprotectedRecord | string)[] = new Array(records.length)
    if (this.#batching || !this.#batchReads) {
      // batching off, or called again from inside a batched read (a getter on the metadata, a platform calling
      // back): one by one, leaving any outer read's queue alone
      for (let slot = 0; slot < records.length; slot++) results[slot] = this.#unprotectRecord(resolved, records[slot] as FetchedRecord, context, context.decryptable, keys, -1)
      return this.#result(records, results, keys)
    }
    const pending = this.#pending
    pending.clear()
    this.#batching = true
    try {
      for (let slot = 0; slot < records.length; slot++) results[slot] = this.#unprotectRecord(resolved, records[slot] as FetchedRecord, context, context.decryptable, keys, slot)
    } finally {
      try {
        // opened even when the walk threw, so that no batch keeps jobs of this read; still flagged as batching, so
        // that a platform calling back into the protector while the batches open reads one by one
        this.#settle(pending, results, keys)
      } finally {
        pending.clear()
        this.#batching = false
      }
    }
    return this.#result(records, results, keys)
  }

  /** The records that verified, in order, and the failures of the others. */
  #result(records: readonly FetchedRecord[], results: readonly (UnprotectedRecord | string)[], keys: Set<string>): UnprotectResult {
    const out: UnprotectedRecord[] = []
    const failures: { id: string; reason: string }[] = []
    for (let slot = 0; slot < records.length; slot++) {
      const result = results[slot] as UnprotectedRecord | string
      if (typeof result === 'string') failures.push({ id: (records[slot] as FetchedRecord).id, reason: result })
      else out.push(result)
    }
    return { records: out, failures, keys: [...keys] }
  }

  /**
   * Opens the batches the read queued envelopes in and puts each plaintext in its record, in the place the walk
   * reserved for it; a record with an envelope that fails becomes that failure.
   */
  #settle(pending: PendingFields, results: (UnprotectedRecord | string)[], keys: Set<string>): void {
    if (pending.length === 0) return
    // nearly always one batch (one subkey per read): a map only when there are more
    const only = pending.batches[0] as GcmKeystreamBatch
    let onlyOpened: OpenedBatch | undefined
    let opened: Map<GcmKeystreamBatch, OpenedBatch> | undefined
    for (let i = 0; i < pending.length; i++) {
      const batch = pending.batches[i] as GcmKeystreamBatch
      if (batch === only) onlyOpened ??= only.open()
      else if (!(opened ??= new Map()).has(batch)) opened.set(batch, batch.open())
    }
    for (let i = 0; i < pending.length; i++) {
      const slot = pending.slots[i] as number
      const record = results[slot]
      if (typeof record !== 'object' || record === null) continue
      const batch = pending.batches[i] as GcmKeystreamBatch
      const result = (batch === only ? onlyOpened : opened?.get(batch)) as OpenedBatch
      const job = pending.jobs[i] as number
      const offset = result.offsets[job] as number
      const decoded = this.#decode(result.buffers[job] as Uint8Array, offset, offset + (result.lengths[job] as number))
      if (typeof decoded === 'string') {
        results[slot] = decoded
        continue
      }
      keys.add(pending.keyIds[i] as string)
      ;(record.metadata as Record<string, JsonValue>)[pending.fields[i] as string] = decoded === OPENED_STRING ? this.#openedString : this.#openedValue
    }
  }

  /** The batch of a subkey, made on first use; beyond {@link GCM_BATCH_KEYS} subkeys the oldest batch is dropped. */
  #batchFor(key: Uint8Array): GcmKeystreamBatch {
    let batch = this.#batches.get(key)
    if (batch === undefined) {
      batch = (this.#platform.unauthenticatedAesGcmBatch as NonNullable<Platform['unauthenticatedAesGcmBatch']>)(key)
      if (this.#batches.size >= GCM_BATCH_KEYS) this.#batches.delete(this.#batches.keys().next().value as Uint8Array)
      this.#batches.set(key, batch)
    }
    return batch
  }

  /**
   * Encrypts one value for one place (collection, tenant, record id, field) with the collection's suite and key
   * scope: the envelope `protect` would store, without the blind index and the record MAC.
   *
   * @example
   * ```ts
   * const envelope = protector.encryptValue({ a: 1 }, { collection: 'docs', tenant: 'acme', recordId: 'doc-1', field: 'body' })
   * ```
   */
  encryptValue(value: JsonValue, place: EnvelopePlace): string {
    const resolved = this.#collections.get(place.collection)
    if (resolved === undefined) throw new TypeError('encryptValue needs a configured collection')
    if (!isJsonValue(value)) throw new InputError('the value must be JSON (finite numbers, plain objects)', { path: place.field, reason: 'metadata_type' })
    const tenant = place.tenant === '' ? undefined : place.tenant
    if (resolved.scope === 'tenant' && tenant === undefined) throw new InputError('a tenant-scoped collection needs a tenant', { path: place.field, reason: 'tenant_required' })
    const scope = this.#scope(resolved, place.collection, tenant)
    return this.#encrypt(resolved, scope, this.#writePlace(tenant ?? '', place.collection, place.recordId), place.field, value)
  }

  /**
   * Decrypts one envelope bound to one place. Needs only the envelope, the keyring and the place, never today's
   * configuration. Throws `IntegrityError` (reason `envelope_malformed`, `envelope_authentication_failed`,
   * `unknown_key`, `tenant_shredded`, ...) when it does not verify there.
   *
   * @example
   * ```ts
   * protector.decryptValue(envelope, { collection: 'docs', tenant: 'acme', recordId: 'doc-1', field: 'body' }) // { a: 1 }
   * ```
   */
  decryptValue(envelope: string, place: EnvelopePlace): JsonValue {
    if (typeof envelope !== 'string') throw new TypeError('decryptValue needs an envelope string')
    if (!envelope.startsWith(ENVELOPE_PREFIX)) throw new IntegrityError('not an envelope', { reason: 'envelope_malformed' })
    const tenant = place.tenant === '' ? undefined : place.tenant
    const result = this.#decrypt(envelope, this.#writePlace(tenant ?? '', place.collection, place.recordId), place.field, place.collection, tenant, new Set(), -1)
    if (result === FAILED || result === DEFERRED) throw new IntegrityError('the envelope does not verify at this place', { reason: this.#failure })
    return result
  }

  /** Unprotects one record; a failure reason instead when any check fails. Used by re-encryption too. */
  unprotectRecord(record: FetchedRecord, context: ProtectionContext, decryptable: FieldSet, keys: Set<string>): UnprotectedRecord | string {
    return this.#unprotectRecord(this.#collections.get(context.collection), record, context, decryptable, keys, -1)
  }

  /** Whether a stored record is already all under the primary keys and today's configuration. */
  isCurrent(record: FetchedRecord, context: ProtectionContext): boolean {
    const resolved = this.#collections.get(context.collection)
    const metadata = record.metadata
    if (resolved === undefined || metadata === undefined) return true
    const tenant = this.#tenantOf(resolved, context, metadata)
    let scope: KeyScope
    let primary: string
    try {
      scope = this.#scope(resolved, context.collection, tenant)
      primary = this.keyring.primaryKeyId(scope)
    } catch {
      return false
    }
    const mac = parseRecordMac(this.#platform, metadata[RECORD_MAC_FIELD], this.#macFieldLists)
    if (mac === undefined || mac.version !== 2 || mac.keyId !== primary || mac.scopeKind !== resolved.scope || mac.fieldsToken !== resolved.coveredToken) return false
    for (const field of resolved.encrypt) {
      const value = metadata[field]
      if (value === undefined) continue
      if (typeof value !== 'string' || !value.startsWith(ENVELOPE_PREFIX)) return false
      let parsed: ReturnType<typeof parseEnvelope>
      try {
        parsed = parseEnvelope(this.#platform.base64urlDecode(value.slice(ENVELOPE_PREFIX.length)))
      } catch {
        return false
      }
      if (typeof parsed === 'string' || parsed.keyId !== primary || parsed.suite !== resolved.suite || parsed.scopeKind !== resolved.scope) return false
      const index = resolved.indexes.get(field)
      const tokens = index === undefined ? undefined : metadata[index.field]
      if (index !== undefined && tokens !== undefined && !(Array.isArray(tokens) ? tokens : [tokens]).every((token) => typeof token === 'string' && token.startsWith(`${primary}.`))) return false
    }
    return true
  }

  /** Unprotects one record; `slot` is its index in a batched read (its envelopes may then be queued), -1 outside one. */
  #unprotectRecord(resolved: Resolved | undefined, record: FetchedRecord, context: ProtectionContext, decryptable: FieldSet, keys: Set<string>, slot: number): UnprotectedRecord | string {
    if (resolved === undefined || record.metadata === undefined) return record as UnprotectedRecord
    // read once: the MAC, the digest of the envelopes and their decryption must all see the same values, even if the
    // metadata is not plain data (getters, a proxy)
    const metadata: Metadata = { ...record.metadata }
    const tenant = this.#tenantOf(resolved, context, metadata)
    const mac = this.#verifyMac(metadata[RECORD_MAC_FIELD], tenant, context.collection, record.id, metadata)
    if (typeof mac === 'string') return mac
    keys.add(mac.keyId)
    const covered = mac.fieldSet
    let placeLength = -1
    const out: Record<string, JsonValue> = {}
    for (const field of Object.keys(metadata)) {
      const value = metadata[field] as MetadataValue
      if (field.startsWith(RESERVED_PREFIX)) continue
      const isEnvelope = typeof value === 'string' && value.startsWith(ENVELOPE_PREFIX)
      if (!isEnvelope) {
        // a field today's configuration encrypts must not come back in clear: the store cannot inject plaintext
        if (resolved.encrypt.has(field)) return 'field_not_encrypted'
        out[field] = value
        continue
      }
      if (!covered.has(field)) return 'envelope_not_signed'
      if (decryptable !== '*' && !decryptable.includes(field)) {
        if (resolved.redaction !== 'omit') out[field] = resolved.redaction.marker
        continue
      }
      if (placeLength < 0) placeLength = this.#writePlace(tenant ?? '', context.collection, record.id)
      // only a version 2 MAC binds every byte of the envelopes, which is what lets a batch skip their GCM tags
      const plain = this.#decrypt(value as string, placeLength, field, context.collection, tenant, keys, mac.version === 2 ? slot : -1)
      if (plain === FAILED) return this.#failure
      // a queued envelope keeps its field's place in the key order; settling fills it in
      out[field] = plain === DEFERRED ? null : plain
    }
    // a query match keeps its score, so the pipeline need not copy every record to put it back
    const score = (record as { readonly score?: unknown }).score
    if (typeof score === 'number') {
      return record.vector !== undefined ? { id: record.id, score, vector: record.vector, metadata: out } : { id: record.id, score, metadata: out }
    }
    return record.vector !== undefined ? { id: record.id, vector: record.vector, metadata: out } : { id: record.id, metadata: out }
  }

  /**
   * Verifies a record's MAC string; the parsed MAC, or the failure reason. The parse and the HMAC state of the
   * MAC before are reused when this one has the same scope, key, tenant, collection and field list (the text
   * around the tag is then identical), which is nearly always the case within a batch.
   */
  #verifyMac(text: MetadataValue | undefined, tenant: string | undefined, collection: string, recordId: string, metadata: Metadata): VerifiedMac | string {
    if (typeof text !== 'string') return text === undefined ? 'record_mac_missing' : 'record_mac_malformed'
    let verified = this.#lastMac
    if (
      verified === undefined ||
      verified.revision !== this.keyring.revision ||
      verified.tenant !== tenant ||
      verified.collection !== collection ||
      text.length !== verified.length ||
      !text.startsWith(verified.head) ||
      !text.endsWith(verified.tail)
    ) {
      const mac = parseRecordMac(this.#platform, text, this.#macFieldLists)
      if (mac === undefined) return 'record_mac_malformed'
      if (mac.version === 1 && !this.#acceptMacV1) return 'record_mac_version'
      try {
        const state = this.#macState(mac.version, this.#scopeOfKind(mac.scopeKind, collection, tenant), tenant ?? '', collection, mac.fieldsToken, mac.keyId)
        const head = `${mac.version === 2 ? RECORD_MAC_PREFIX : RECORD_MAC_PREFIX_V1}${mac.scopeKind === 'tenant' ? 't' : 'c'}.${mac.keyId}.`
        const tail = `.${mac.fieldsToken}`
        verified = { version: mac.version, head, tail, length: text.length, revision: this.keyring.revision, tenant, collection, keyId: mac.keyId, fields: mac.fields, fieldSet: mac.fieldSet, state }
      } catch (error) {
        return IntegrityError.isInstance(error) ? error.reason : 'record_mac_mismatch'
      }
      this.#lastMac = verified
    }
    const fields = verified.fields
    for (let f = 0; f < fields.length; f++) {
      // a covered value of a type protect never writes must not verify as the value that was signed
      const field = fields[f] as string
      if (Object.hasOwn(metadata, field) && !isMetadataValue(metadata[field])) return 'record_mac_mismatch'
    }
    const expected = this.#macOf(verified.state, verified.version, recordId, fields, metadata)
    if (!decodeMacTag(text, verified.head.length, this.#storedTag) || !equalTags(expected, this.#storedTag)) return 'record_mac_mismatch'
    return verified
  }

  #tenantOf(resolved: Resolved, context: ProtectionContext, metadata: { readonly [field: string]: unknown }): string | undefined {
    if (context.tenant !== undefined && context.tenant !== '') return context.tenant
    if (resolved.tenantField === undefined) return undefined
    const value = metadata[resolved.tenantField]
    return typeof value === 'string' && value !== '' ? value : undefined
  }

  #scope(resolved: Resolved, collection: string, tenant: string | undefined): KeyScope {
    return this.#scopeOfKind(resolved.scope, collection, tenant)
  }

  #scopeOfKind(kind: 'collection' | 'tenant', collection: string, tenant: string | undefined): KeyScope {
    if (kind === 'collection') return { kind: 'collection', collection }
    if (tenant === undefined) throw new IntegrityError('the record has no tenant to derive its key from', { reason: 'tenant_unknown' })
    return { kind: 'tenant', tenant }
  }

  #fieldFrame(field: string): Uint8Array {
    let frame = this.#fieldFrames.get(field)
    if (frame === undefined) {
      frame = framed([this.#platform.utf8Encode(field)])
      if (this.#fieldFrames.size >= ENCODED_FIELD_CACHE_LIMIT) this.#fieldFrames.clear()
      this.#fieldFrames.set(field, frame)
    }
    return frame
  }

  /** The AAD scratch with room for `length` bytes, keeping what it holds (the place of the record being worked on). */
  #aadRoom(length: number): Uint8Array {
    if (length > this.#aad.length) {
      const grown = new Uint8Array(Math.max(length, 2 * this.#aad.length))
      grown.set(this.#aad)
      this.#aad = grown
    }
    return this.#aad
  }

  /**
   * Writes a record's place ({@link envelopePlace}: label, tenant, collection, record id, each framed) at the start
   * of the AAD scratch; returns its length. The envelopes of the record then append field and header after it.
   */
  #writePlace(tenant: string, collection: string, recordId: string): number {
    const prefix = envelopePlacePrefix(this.#platform, tenant, collection)
    const aad = this.#aadRoom(prefix.length + 4 + 3 * recordId.length)
    aad.set(prefix, 0)
    const start = prefix.length + 4
    const length = writeText(this.#platform, aad, start, recordId)
    writeLength(aad, prefix.length, length)
    return start + length
  }

  /** Appends frame(field) ‖ frame(header) after the place in the AAD scratch; returns the AAD ({@link envelopeAad}). */
  #fieldAad(placeLength: number, field: string, header: Uint8Array, headerLength: number): Uint8Array {
    const frame = this.#fieldFrame(field)
    const length = placeLength + frame.length + 4 + headerLength
    const aad = this.#aadRoom(length)
    aad.set(frame, placeLength)
    writeLength(aad, placeLength + frame.length, headerLength)
    const at = placeLength + frame.length + 4
    for (let i = 0; i < headerLength; i++) aad[at + i] = header[i] as number
    return aad.subarray(0, length)
  }

  #encrypt(resolved: Resolved, scope: KeyScope, placeLength: number, field: string, value: JsonValue): string {
    if (++this.#saltUses > this.#encryptionsPerSalt) {
      // a fresh salt means a fresh subkey: no subkey ever sees more random nonces than this bound
      this.#salt = this.#random.take(SALT_LENGTH)
      this.#saltUses = 1
      this.#writeKeys.clear()
    }
    if (this.#writeKeysRevision !== this.keyring.revision || this.#writeKeys.size >= 4096) {
      this.#writeKeys.clear()
      this.#writeKeysRevision = this.keyring.revision
    }
    // the header cached with the subkey holds the suite: collections of one scope with different suites differ here
    const scopeKey = `${resolved.suite}\u0000${scope.kind === 'tenant' ? `t${scope.tenant}` : `c${scope.collection}`}`
    let derived = this.#writeKeys.get(scopeKey)
    if (derived === undefined) {
      const { keyId, key } = this.keyring.deriveKey('field-encryption', scope, { salt: this.#salt })
      const nonceLength = SUITES[resolved.suite].nonceLength
      // the header up to the nonce is the same for every envelope under this subkey; the nonce is drawn into it
      derived = { keyId, key, header: envelopeHeader(resolved.suite, scope.kind, keyId, this.#salt, new Uint8Array(nonceLength)), nonceLength }
      this.#writeKeys.set(scopeKey, derived)
    }
    const { key, header, nonceLength } = derived
    const nonceStart = header.length - nonceLength
    this.#random.takeInto(header, nonceStart, nonceLength)
    const aad = this.#fieldAad(placeLength, field, header, header.length)
    return ENVELOPE_PREFIX + this.#platform.aeadSealText(resolved.suite, key, header.subarray(nonceStart), encodeValue(value), aad, header)
  }

  /** Decrypts one envelope of the record whose place is at the start of the AAD scratch. */
  /** Decrypts one envelope; {@link FAILED} with the reason in `#failure` when it does not verify (no wrapper object per field). */
  #decrypt(text: string, placeLength: number, field: string, collection: string, tenant: string | undefined, keys: Set<string>, slot: number): JsonValue | typeof FAILED | typeof DEFERRED {
    const value = this.#open(text, placeLength, field, collection, tenant, keys, slot)
    if (typeof value === 'string') {
      this.#failure = value
      return FAILED
    }
    if (value === DEFERRED) return DEFERRED
    return value === OPENED_STRING ? this.#openedString : this.#openedValue
  }

  #open(text: string, placeLength: number, field: string, collection: string, tenant: string | undefined, keys: Set<string>, slot: number): string | typeof OPENED_STRING | typeof OPENED_VALUE | typeof DEFERRED {
    let bytes: Uint8Array
    try {
      bytes = this.#platform.base64urlDecodeView(text.slice(ENVELOPE_PREFIX.length))
    } catch {
      return 'envelope_malformed'
    }
    // the checks of parseEnvelope, without building its result object on this per-field path
    const problem = envelopeHeaderProblem(bytes)
    if (problem !== undefined) return problem
    const suite = envelopeSuite(bytes)
    const scopeKind = envelopeScopeKind(bytes)
    const keyIdStart = ENVELOPE_KEY_ID_AT
    const nonceStart = envelopeNonceAt(bytes)
    const keyIdLength = nonceStart - keyIdStart
    const headerLength = nonceStart + SUITES[suite].nonceLength
    if (scopeKind === 'tenant' && tenant === undefined) return 'tenant_unknown'
    const scopeValue = (scopeKind === 'tenant' ? tenant : collection) as string
    let subkey: { readonly keyId: string; readonly key: Uint8Array }
    const last = this.#lastRead
    if (
      last !== undefined &&
      last.revision === this.keyring.revision &&
      last.scopeValue === scopeValue &&
      text.startsWith(last.head, ENVELOPE_PREFIX.length) &&
      sameKeyId(bytes, keyIdStart, keyIdLength, last.keyId)
    ) {
      // same scope, salt (the first 28 characters) and key id as the envelope before: the same subkey
      subkey = last
    } else {
      const keyId = readEnvelopeKeyId(bytes, keyIdStart, keyIdLength)
      if (keyId === undefined) return 'envelope_malformed'
      const head = text.slice(ENVELOPE_PREFIX.length, ENVELOPE_PREFIX.length + ENVELOPE_KEY_CHARS)
      const cacheKey = `f${scopeValue}\u0000${head}\u0000${keyId}`
      let key = this.#cachedSubkey(cacheKey)
      if (key === undefined) {
        try {
          key = this.keyring.deriveKey('field-encryption', this.#scopeOfKind(scopeKind, collection, tenant), { keyId, salt: bytes.subarray(3, 3 + SALT_LENGTH) }).key
        } catch (error) {
          return IntegrityError.isInstance(error) ? error.reason : 'unknown_key'
        }
        this.#subkeys.set(cacheKey, key)
      }
      subkey = { keyId, key }
      this.#lastRead = { keyId, key, revision: this.keyring.revision, scopeValue, head }
    }
    if (slot >= 0 && suite === 'aes-256-gcm' && this.#batching) {
      // the record's version 2 MAC has verified and binds these bytes (its place too): counter mode is all that is left
      const batch = this.#batchFor(subkey.key)
      const job = batch.add(bytes, nonceStart, headerLength)
      if (job >= 0) {
        this.#pending.push(slot, field, batch, job, subkey.keyId)
        return DEFERRED
      }
    }
    const aad = this.#fieldAad(placeLength, field, bytes, headerLength)
    // plain views rather than subarray(): Buffer's subarray is a JavaScript constructor call per view
    const nonce = new Uint8Array(bytes.buffer, bytes.byteOffset + nonceStart, headerLength - nonceStart)
    const sealed = new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, bytes.length - headerLength)
    const plaintext = this.#platform.aeadOpen(suite, subkey.key, nonce, sealed, aad)
    if (plaintext === undefined) return 'envelope_authentication_failed'
    const decoded = this.#decode(plaintext, 0, plaintext.length)
    if (typeof decoded !== 'string') keys.add(subkey.keyId)
    return decoded
  }

  /**
   * Decodes a plaintext, bytes `start` to `end` (a marked string, or JSON), into `#openedString` / `#openedValue`;
   * the failure reason otherwise.
   */
  #decode(bytes: Uint8Array, start: number, end: number): string | typeof OPENED_STRING | typeof OPENED_VALUE {
    if (end > start && bytes[start] === STRING_MARKER) {
      this.#openedString = this.#platform.utf8Decode(bytes, start + 1, end)
      return OPENED_STRING
    }
    try {
      this.#openedValue = JSON.parse(this.#platform.utf8Decode(bytes, start, end)) as JsonValue
      return OPENED_VALUE
    } catch {
      return 'envelope_malformed'
    }
  }

  #macKey(scope: KeyScope, keyId: string | undefined): { readonly keyId: string; readonly key: Uint8Array } {
    if (keyId === undefined) return this.keyring.deriveKey('record-mac', scope)
    const cacheKey = `m${scope.kind === 'tenant' ? `t${scope.tenant}` : `c${scope.collection}`}\u0000${keyId}`
    const cached = this.#cachedSubkey(cacheKey)
    if (cached !== undefined) return { keyId, key: cached }
    const derived = this.keyring.deriveKey('record-mac', scope, { keyId })
    this.#subkeys.set(cacheKey, derived.key)
    return derived
  }

  #cachedSubkey(cacheKey: string): Uint8Array | undefined {
    this.#refreshCaches()
    return this.#subkeys.get(cacheKey)
  }

  /** Drops every derived-key cache when the keyring changed (rotation, retirement, shredding) or they grew large. */
  #refreshCaches(): void {
    if (this.#subkeysRevision !== this.keyring.revision || this.#subkeys.size >= 4096) {
      this.#subkeys.clear()
      this.#macStates.clear()
      this.#indexers.clear()
      // a batch holds its key's AES schedule: a retired or shredded key must not live on in one
      this.#batches.clear()
      this.#subkeysRevision = this.keyring.revision
    }
  }

  /** A blind indexer, cached per scope, key (the primary when `keyId` is undefined), field and size. */
  #indexer(resolved: Resolved, scope: KeyScope, keyId: string | undefined, field: string, bits: number): (value: FilterScalar) => string {
    // a lookup that misses only clears stale entries; the indexers are dropped with the subkeys on key changes
    this.#refreshCaches()
    const cacheKey = `${scope.kind === 'tenant' ? `t${scope.tenant}` : `c${scope.collection}`}\u0000${keyId ?? ''}\u0000${resolved.name}\u0000${field}\u0000${bits}`
    let indexer = this.#indexers.get(cacheKey)
    if (indexer === undefined) {
      const derived = this.keyring.deriveKey('blind-index', scope, keyId === undefined ? {} : { keyId })
      indexer = blindIndexer(this.#platform, derived.key, derived.keyId, resolved.name, field, bits)
      if (this.#indexers.size >= 4096) this.#indexers.clear()
      this.#indexers.set(cacheKey, indexer)
    }
    return indexer
  }

  /**
   * The HMAC state of a record MAC: the MAC key and the shared prefix of the input ({@link recordMacPrefix})
   * absorbed once per scope, key, tenant, collection and covered-field list.
   */
  #macState(version: RecordMacVersion, scope: KeyScope, tenant: string, collection: string, fieldsToken: string, keyId: string | undefined): MacState {
    this.#refreshCaches()
    const cacheKey = `${version}${scope.kind === 'tenant' ? 't' : 'c'}\u0000${keyId ?? ''}\u0000${tenant}\u0000${collection}\u0000${fieldsToken}`
    let state = this.#macStates.get(cacheKey)
    if (state === undefined) {
      const derived = this.#macKey(scope, keyId)
      const prefix = recordMacPrefix(this.#platform, version, scope.kind, derived.keyId, tenant, collection, fieldsToken)
      state = { keyId: derived.keyId, key: derived.key, prefix, hmac: new PrefixedHmac(derived.key, prefix) }
      if (this.#macStates.size >= 4096) this.#macStates.clear()
      this.#macStates.set(cacheKey, state)
    }
    return state
  }

  /** A record MAC's tag (in the MAC output scratch); short inputs in JavaScript from the cached midstate, long ones natively. */
  #macOf(state: MacState, version: RecordMacVersion, recordId: string, fields: readonly string[], metadata: Metadata): Uint8Array {
    let suffix: Uint8Array = this.#macScratch
    // version 2: one native SHA-256 over all the record's envelopes
    let length = writeMacSuffix(suffix, version, recordId, fields, metadata, version === 2 ? envelopeDigest(this.#platform, fields, metadata) : '')
    if (length < 0) {
      // not all ASCII, or longer than the scratch: the text form, encoded (the reference writeMacSuffix matches)
      suffix = encodeMacText(this.#platform, recordMacSuffix(this.#platform, version, recordId, fields, metadata))
      length = suffix.length
    }
    if (length <= JS_MAC_LIMIT) return state.hmac.mac(suffix, length, this.#macOut, 0)
    const data = new Uint8Array(state.prefix.length + length)
    data.set(state.prefix, 0)
    data.set(suffix.subarray(0, length), state.prefix.length)
    return this.#platform.hmacSha256(state.key, data)
  }

  #mac(scope: KeyScope, tenant: string | undefined, collection: string, recordId: string, fields: readonly string[], fieldsToken: string, metadata: Metadata): string {
    const state = this.#macState(2, scope, tenant ?? '', collection, fieldsToken, undefined)
    const tag = this.#macOf(state, 2, recordId, fields, metadata)
    return `${RECORD_MAC_PREFIX}${scope.kind === 'tenant' ? 't' : 'c'}.${state.keyId}.${this.#platform.base64urlEncode(tag)}.${fieldsToken}`
  }
}

/** What #decrypt returns when an envelope does not verify; the reason is in the protector's `#failure`. */
const FAILED: unique symbol = Symbol('failed')
const OPENED_STRING: unique symbol = Symbol('string')
const OPENED_VALUE: unique symbol = Symbol('value')
/** What #open returns when the envelope was queued in a batch of the current read. */
const DEFERRED: unique symbol = Symbol('deferred')

/**
 * The first plaintext byte of a string value stored as its UTF-8 bytes; no JSON text starts with it. Strings with a
 * lone surrogate (which UTF-8 cannot carry) and every other value are stored as their JSON text.
 */
const STRING_MARKER = 0x00

/** The plaintext text of a value: `\u0000` + the string for well-formed strings, else the JSON text. */
function encodeValue(value: JsonValue): string {
  return typeof value === 'string' && isWellFormed(value) ? `\u0000${value}` : JSON.stringify(value)
}

/** Suffix bytes up to which the record MAC is computed in JavaScript from its midstate; native HMAC beyond. */
const JS_MAC_LIMIT = 247

/** A parsed and cached record MAC string, minus its tag: what a MAC with the same text around the tag shares. */
interface VerifiedMac {
  readonly version: RecordMacVersion
  readonly head: string
  readonly tail: string
  readonly length: number
  readonly revision: number
  readonly tenant: string | undefined
  readonly collection: string
  readonly keyId: string
  readonly fields: readonly string[]
  readonly fieldSet: ReadonlySet<string>
  readonly state: MacState
}

interface MacState {
  readonly keyId: string
  readonly key: Uint8Array
  readonly prefix: Uint8Array
  readonly hmac: PrefixedHmac
}

/** Whether the key id bytes of an envelope spell `keyId` (ASCII, one byte per character). */
function sameKeyId(bytes: Uint8Array, start: number, length: number, keyId: string): boolean {
  if (length !== keyId.length) return false
  for (let i = 0; i < length; i++) if (bytes[start + i] !== keyId.charCodeAt(i)) return false
  return true
}

/** Constant-time equality of two 32-byte tags. */
function equalTags(a: Uint8Array, b: Uint8Array): boolean {
  let difference = 0
  for (let i = 0; i < 32; i++) difference |= (a[i] as number) ^ (b[i] as number)
  return difference === 0
}

/**
 * Field-level encryption of metadata as a {@link FieldProtector} for `createWarden({ encryption })`: per-field
 * envelopes bound to their place, blind indexes for `$eq`/`$in`, a record MAC over the tenant and ACL fields,
 * redaction of fields the caller may not decrypt. Throws `ConfigError` on a bad configuration.
 *
 * @example
 * ```ts
 * const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
 * const encryption = fieldEncryption({
 *   keyring,
 *   collections: {
 *     patients: { encrypt: ['name', 'diagnosis'], blindIndex: { name: { bits: 32 } }, sign: ['tenant', 'acl'], keyScope: 'tenant' },
 *   },
 * })
 * const warden = createWarden({ adapter, authenticators, policy, encryption })
 * ```
 */
export function fieldEncryption(config: FieldEncryptionConfig): FieldEncryption {
  if (typeof config !== 'object' || config === null) throw new TypeError('fieldEncryption needs a configuration object')
  return new FieldEncryption(config)
}
