// re-encryption: walks a collection through the adapter's scroll and rewrites records not under the primary keys

import { ConfigError } from '../errors.js'
import type { VectorStoreAdapterV1 } from '../spec/adapter.js'
import type { Principal } from '../spec/auth.js'
import type { FilterNode } from '../spec/filter.js'
import type { JsonValue, Metadata, MetadataValue } from '../spec/records.js'
import { FieldEncryption } from './field-encryption.js'
import { ENVELOPE_PREFIX } from './envelope.js'
import { RECORD_MAC_FIELD } from './record-mac.js'
import { BLIND_INDEX_PREFIX } from './blind-index.js'

/** How far a re-encryption got; `cursor` resumes it. */
export interface ReencryptProgress {
  /** Records read so far. */
  readonly scanned: number
  /** Records rewritten under the primary keys. */
  readonly rewritten: number
  /** Records already current. */
  readonly current: number
  /** Records changed by someone else between read and write (left as the writer left them). */
  readonly raced: number
  /** Records that failed verification: never rewritten (that would launder tampered data). */
  readonly failed: number
  /** The first 100 failures, for the operator; reasons only, never content. */
  readonly failures: readonly { readonly id: string; readonly reason: string }[]
  /** Pass as `cursor` to continue after this page; absent at the end. */
  readonly cursor?: string
  readonly done: boolean
}

/** Options of {@link reencryptCollection}. */
export interface ReencryptOptions {
  readonly adapter: VectorStoreAdapterV1
  /** The protector from {@link fieldEncryption}, whose keyring has the new primary key. */
  readonly protector: FieldEncryption
  readonly collection: string
  readonly namespace?: string
  /** Records per page; default 100, at most the adapter's batch size. */
  readonly batchSize?: number
  /** Resume after a previous run's `cursor`. */
  readonly cursor?: string
  /** Called after every page. */
  readonly onProgress?: (progress: ReencryptProgress) => void | Promise<void>
  /** Count what would be rewritten, write nothing. */
  readonly dryRun?: boolean
  /**
   * Also protect records that carry no record MAC and no envelope at all: the first encryption of a collection
   * that was written in clear. Off by default, because whoever can write to the store can plant such records and
   * this run would sign them; use it once, right after turning encryption on.
   */
  readonly adoptUnprotected?: boolean
  readonly signal?: AbortSignal
}

function stripReserved(metadata: Metadata): Metadata {
  const out: { [field: string]: MetadataValue } = {}
  for (const [field, value] of Object.entries(metadata)) if (!field.startsWith('_vw_')) out[field] = value
  return out
}

const operator: Principal = { id: 'vectorwarden-reencrypt', kind: 'service', roles: [], scopes: [], attributes: {}, authenticator: 'operator' }

/**
 * Rewrites every record of a collection that is not under the primary keys and today's configuration (suite,
 * signed fields, blind indexes), page by page through `doScroll`, then `doUpdate` guarded by the old record MAC
 * (so a concurrent write is never overwritten with older data). Verifies every record first; records that fail
 * are reported and left alone. Idempotent and resumable: a second run rewrites nothing, and `cursor` continues
 * where a stopped run ended. Tenant-scoped collections need `tenantField` in their configuration (the operator
 * reads across tenants). Works on the adapter directly, not through a warden session (it needs every record).
 *
 * @example
 * ```ts
 * keyring.add({ id: 'k2', material: generateKey() })
 * keyring.promote('k2')
 * const result = await reencryptCollection({ adapter, protector, collection: 'docs', onProgress: (p) => console.log(p.scanned) })
 * if (result.failed === 0) keyring.retire('k1')
 * ```
 */
export async function reencryptCollection(options: ReencryptOptions): Promise<ReencryptProgress> {
  if (typeof options !== 'object' || options === null) throw new TypeError('reencryptCollection needs options')
  const { adapter, protector, collection } = options
  if (!(protector instanceof FieldEncryption)) throw new TypeError('protector must come from fieldEncryption()')
  if (typeof adapter?.doScroll !== 'function' || typeof adapter.doUpdate !== 'function') throw new TypeError('adapter must implement the adapter specification v1')
  const scope = protector.collectionScope(collection)
  if (scope === undefined) throw new ConfigError(`collection ${collection} has no field encryption configured`, { reason: 'collection_not_encrypted' })
  if (scope.keyScope === 'tenant' && scope.tenantField === undefined) {
    throw new ConfigError(`collection ${collection} is tenant-scoped: set tenantField in its encryption configuration to re-encrypt it`, { reason: 'tenant_field_required' })
  }
  const limit = Math.max(1, Math.min(options.batchSize ?? 100, adapter.capabilities.maxBatchSize))
  const context = { collection, ...(options.namespace === undefined ? {} : { namespace: options.namespace }), principal: operator }
  const reserved = new Set(protector.reservedFields(collection))
  const failures: { id: string; reason: string }[] = []
  let scanned = 0
  let rewritten = 0
  let current = 0
  let raced = 0
  let failed = 0
  let cursor = options.cursor
  for (;;) {
    options.signal?.throwIfAborted()
    const page = await adapter.doScroll({
      collection,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(cursor === undefined ? {} : { cursor }),
      limit,
      includeMetadata: true,
      includeVectors: false,
      ...(options.signal ? { signal: options.signal } : {}),
    })
    for (const record of page.records) {
      scanned++
      if (protector.isCurrent(record, context)) {
        current++
        continue
      }
      const metadata = record.metadata ?? {}
      const legacy =
        options.adoptUnprotected === true &&
        metadata[RECORD_MAC_FIELD] === undefined &&
        Object.values(metadata).every((value) => typeof value !== 'string' || !value.startsWith(ENVELOPE_PREFIX))
      const opened = legacy ? { id: record.id, metadata: stripReserved(metadata) } : protector.unprotectRecord(record, context, '*', new Set())
      if (typeof opened === 'string') {
        failed++
        if (failures.length < 100) failures.push({ id: record.id, reason: opened })
        continue
      }
      if (options.dryRun) {
        rewritten++
        continue
      }
      let next: Metadata | undefined
      try {
        const [protectedRecord] = await protector.protect([{ id: record.id, vector: [], metadata: (opened.metadata ?? {}) as { [field: string]: JsonValue } }], context)
        next = protectedRecord?.metadata
      } catch (error) {
        failed++
        if (failures.length < 100) failures.push({ id: record.id, reason: (error as { reason?: string }).reason ?? 'protect_failed' })
        continue
      }
      const update: { [field: string]: MetadataValue | null } = { ...next }
      // the field protector's reserved fields the new configuration no longer writes (a dropped blind index) are
      // removed; reserved fields of others (vector encryption's, the adapter's) are left as they are
      for (const field of Object.keys(record.metadata ?? {})) {
        if (!(field in update) && (reserved.has(field) || field === RECORD_MAC_FIELD || field.startsWith(BLIND_INDEX_PREFIX))) update[field] = null
      }
      const previousMac = record.metadata?.[RECORD_MAC_FIELD]
      const guard: FilterNode | undefined = typeof previousMac === 'string' ? { kind: 'cmp', field: RECORD_MAC_FIELD, op: '$eq', value: previousMac } : undefined
      const result = await adapter.doUpdate({
        collection,
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        id: record.id,
        metadata: update,
        ...(guard === undefined ? {} : { filter: guard }),
        ...(options.signal ? { signal: options.signal } : {}),
      })
      if (result.updated) rewritten++
      else raced++
    }
    cursor = page.nextCursor
    const progress: ReencryptProgress = { scanned, rewritten, current, raced, failed, failures: [...failures], ...(cursor === undefined ? {} : { cursor }), done: cursor === undefined }
    await options.onProgress?.(progress)
    if (cursor === undefined) return progress
  }
}
