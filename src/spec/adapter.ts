// the adapter specification v1: the one interface every vector store implements; the core reads capabilities, never names

import type { FilterNode, FilterOperator } from './filter.js'
import type { CollectionInfo, Distance, FetchedRecord, Metadata, QueryMatch, StoredRecord } from './records.js'

/** The id rules of a backend. */
export interface IdFormat {
  /** `string`: any non-empty string up to `maxLength`; `uuid-or-uint`: only UUIDs and unsigned integers are native. */
  readonly kind: 'string' | 'uuid-or-uint'
  /** Longest id accepted, in UTF-8 bytes. */
  readonly maxLength: number
  /** Whether the adapter maps ids it cannot store natively (e.g. UUIDv5) and returns the original. */
  readonly mapsForeignIds: boolean
}

/**
 * What a backend can do, as data. The core reads these fields to plan a call; it never asks which backend it is.
 */
export interface AdapterCapabilitiesV1 {
  /** Filter operators the adapter translates natively; the core refuses a filter that uses any other. */
  readonly filterOperators: readonly FilterOperator[]
  /** Whether namespaces (partitions inside a collection) exist. */
  readonly namespaces: boolean
  /** Most records per `doUpsert` call; the core splits larger batches. */
  readonly maxBatchSize: number
  /** Largest `topK` the backend answers. */
  readonly maxTopK: number
  /** Most ids per `doFetch` / `doDelete` call. */
  readonly maxIdsPerCall: number
  /** Whether `doCount` is exact or an estimate (e.g. from index statistics). */
  readonly count: 'exact' | 'approximate'
  /** Whether `doFetch` and `doDelete` apply `ids AND filter` themselves; if not, the core checks record by record. */
  readonly filterWithIds: boolean
  /** Whether `doDelete` accepts a filter without ids. */
  readonly deleteByFilter: boolean
  /** Whether a batch upsert is atomic (all or nothing) at the backend. */
  readonly atomicUpsert: boolean
  /** Distance metrics the backend supports. */
  readonly distances: readonly Distance[]
  /** Id rules. */
  readonly idFormat: IdFormat
  /** Largest serialized metadata per record in bytes, when the backend has a limit. */
  readonly maxMetadataBytes?: number
  /** Whether `includeMetadata` as a list of fields is projected by the backend (otherwise the core projects). */
  readonly projectsFields: boolean
  /** Whether the transport to the backend is encrypted or on loopback; audit events record it when false. */
  readonly transportSecure: boolean
}

/** Which metadata to return: all, none, or the named fields. */
export type IncludeMetadata = boolean | readonly string[]

/** Parameters shared by record operations. */
export interface RecordScope {
  readonly collection: string
  /** A namespace inside the collection, where the backend has them. */
  readonly namespace?: string
  /** Aborts the backend call (timeouts). */
  readonly signal?: AbortSignal
}

/** `doCreateCollection` parameters. */
export interface CreateCollectionParams {
  readonly name: string
  readonly dimension: number
  readonly distance: Distance
  /** Metadata fields the backend should index for filtering; `tenantField` is marked as the tenant key where supported. */
  readonly indexedFields?: readonly string[]
  readonly tenantField?: string
  readonly signal?: AbortSignal
}

/** `doQuery` parameters. `filter` is already the enforced conjunction; the adapter only translates it. */
export interface QueryParams extends RecordScope {
  readonly vector: Float32Array | readonly number[]
  readonly topK: number
  readonly filter?: FilterNode
  readonly includeMetadata: IncludeMetadata
  readonly includeVectors: boolean
}

/** `doFetch` parameters. With `filterWithIds`, records outside `filter` must not be returned. */
export interface FetchParams extends RecordScope {
  readonly ids: readonly string[]
  readonly filter?: FilterNode
  readonly includeMetadata: IncludeMetadata
  readonly includeVectors: boolean
}

/**
 * `doDelete` parameters: `ids`, `filter`, or both (`ids AND filter`). With ids, `filter` is the enforced filter: an
 * adapter with `filterWithIds` applies it natively; one without may check it record by record, never widen it (the
 * core has already narrowed the ids to records inside it).
 */
export interface DeleteParams extends RecordScope {
  readonly ids?: readonly string[]
  readonly filter?: FilterNode
}

/** `doUpdate` parameters: merge `metadata` into the record `id` (a field set to `null` is removed). */
export interface UpdateParams extends RecordScope {
  readonly id: string
  readonly metadata: { readonly [field: string]: Metadata[string] | null }
  /** The enforced filter: the update applies only if the record matches (natively with `filterWithIds`, else checked by the adapter or already by the core). */
  readonly filter?: FilterNode
}

/** `doScroll` parameters: one page of records in a stable order. */
export interface ScrollParams extends RecordScope {
  readonly filter?: FilterNode
  readonly cursor?: string
  readonly limit: number
  readonly includeMetadata: IncludeMetadata
  readonly includeVectors: boolean
}

/** One page of a scroll; no `nextCursor` means the end. */
export interface ScrollPage {
  readonly records: readonly FetchedRecord[]
  readonly nextCursor?: string
}

/**
 * A vector store behind the warden. Implementations translate; they hold no policy.
 *
 * Contract for every method: throw `AdapterError` for backend faults (with `isRetryable`), `InputError` for data the
 * backend cannot accept (checked before anything is sent); never put credentials, vectors or metadata values in an
 * error message.
 *
 * @example
 * ```ts
 * const adapter: VectorStoreAdapterV1 = memoryAdapter()
 * await adapter.doCreateCollection({ name: 'docs', dimension: 384, distance: 'cosine' })
 * ```
 */
export interface VectorStoreAdapterV1 {
  readonly specificationVersion: 'v1'
  /** A label for audit events and logs; the core never branches on it. */
  readonly provider: string
  readonly capabilities: AdapterCapabilitiesV1

  doCreateCollection(params: CreateCollectionParams): Promise<void>
  doDeleteCollection(params: { readonly name: string; readonly signal?: AbortSignal }): Promise<void>
  doListCollections(params?: { readonly signal?: AbortSignal }): Promise<readonly CollectionInfo[]>
  /** Throws `AdapterError` with reason `not_found` when the collection does not exist. */
  doDescribeCollection(params: { readonly name: string; readonly signal?: AbortSignal }): Promise<CollectionInfo>

  doUpsert(params: RecordScope & { readonly records: readonly StoredRecord[] }): Promise<void>
  /** Returns whether a record was updated. */
  doUpdate(params: UpdateParams): Promise<{ readonly updated: boolean }>
  /** Matches ordered best first; ties broken by id ascending. */
  doQuery(params: QueryParams): Promise<{ readonly matches: readonly QueryMatch[] }>
  /** Records that exist among `ids`, in the order of `ids`. */
  doFetch(params: FetchParams): Promise<{ readonly records: readonly FetchedRecord[] }>
  doDelete(params: DeleteParams): Promise<{ readonly deleted?: number }>
  doCount(params: RecordScope & { readonly filter?: FilterNode }): Promise<{ readonly count: number; readonly exact: boolean }>
  doScroll(params: ScrollParams): Promise<ScrollPage>

  /** Releases connections. */
  close?(): Promise<void>
}
