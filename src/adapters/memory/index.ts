// the embedded in-memory vector store: exact k-NN over contiguous float32 storage, the warden's zero-dependency default

import { z } from 'zod'
import { AdapterError, ConfigError, InputError } from '../../errors.js'
import { compileFilter } from '../../filter/evaluate.js'
import type {
  AdapterCapabilitiesV1,
  CreateCollectionParams,
  DeleteParams,
  FetchParams,
  QueryParams,
  RecordScope,
  ScrollPage,
  ScrollParams,
  UpdateParams,
  VectorStoreAdapterV1,
} from '../../spec/adapter.js'
import type { FilterNode, FilterOperator } from '../../spec/filter.js'
import type { CollectionInfo, Distance, FetchedRecord, Metadata, QueryMatch, StoredRecord } from '../../spec/records.js'
import { Partition, type PreparedRecord } from './partition.js'
import {
  checkId,
  checkIds,
  checkIncludeMetadata,
  checkInteger,
  checkName,
  copyMetadata,
  copyVector,
  MAX_ID_BYTES,
  mergeMetadata,
  projectMetadata,
} from './validate.js'

/** Limits of a memory adapter. */
export interface MemoryAdapterOptions {
  /** Largest `topK` answered; default 10 000. */
  maxTopK?: number
  /** Most records per upsert call; default 10 000. */
  maxBatchSize?: number
}

const optionsSchema = z.strictObject({
  maxTopK: z.number().int().min(1).max(1_000_000).optional(),
  maxBatchSize: z.number().int().min(1).max(10_000_000).optional(),
})

const MAX_IDS_PER_CALL = 10_000
const MAX_SCROLL_LIMIT = 10_000
const MAX_DIMENSION = 65_536
const DISTANCES: readonly Distance[] = ['cosine', 'dot', 'euclidean']
const OPERATORS: readonly FilterOperator[] = [
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$and',
  '$or',
]
const CURSOR_PREFIX = 'mv1:'

interface Collection {
  readonly name: string
  readonly dimension: number
  readonly distance: Distance
  readonly partitions: Map<string, Partition>
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AdapterError('the operation was aborted', { reason: 'aborted', isRetryable: true })
}

function compile(filter: FilterNode | undefined): ((metadata: Metadata | undefined) => boolean) | undefined {
  if (filter === undefined) return undefined
  if (typeof filter !== 'object' || filter === null) {
    throw new InputError('filter must be a parsed filter node', { path: 'filter', reason: 'invalid_filter' })
  }
  return filter.kind === 'all' ? undefined : compileFilter(filter)
}

// a cursor is the last id returned, base64url over UTF-8; TextEncoder, btoa and atob exist on every runtime we target
function encodeCursor(id: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(CURSOR_PREFIX + id)) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

function decodeCursor(cursor: unknown): string {
  const invalid = () => new InputError('cursor is not a cursor this adapter returned', { path: 'cursor', reason: 'invalid_cursor' })
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048 || !/^[\w-]+$/.test(cursor)) throw invalid()
  let text: string
  try {
    const binary = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'))
    const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0))
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw invalid()
  }
  if (!text.startsWith(CURSOR_PREFIX)) throw invalid()
  return text.slice(CURSOR_PREFIX.length)
}

// the first index whose id is greater than `after`
function firstAfter(sorted: readonly string[], after: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >> 1
    if ((sorted[middle] as string) <= after) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * The embedded vector store: exact k-nearest-neighbour search (cosine, dot, euclidean) over one contiguous
 * `Float32Array` per collection and namespace, filters by the compiled reference evaluator, ties broken by id
 * ascending. Everything is copied in and out, so callers never share arrays with the store. Records live in the
 * process and vanish with it.
 *
 * Wrong option types throw `ConfigError`.
 *
 * @example
 * ```ts
 * const adapter = memoryAdapter()
 * await adapter.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
 * await adapter.doUpsert({ collection: 'docs', records: [{ id: 'a', vector: [1, 0, 0], metadata: { tenant: 'acme' } }] })
 * const { matches } = await adapter.doQuery({
 *   collection: 'docs', vector: [1, 0, 0], topK: 5, includeMetadata: true, includeVectors: false,
 * })
 * ```
 */
export function memoryAdapter(options: MemoryAdapterOptions = {}): VectorStoreAdapterV1 {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    throw new ConfigError('memoryAdapter: maxTopK and maxBatchSize must be positive integers', { reason: 'invalid_options' })
  }
  const maxTopK = parsed.data.maxTopK ?? 10_000
  const maxBatchSize = parsed.data.maxBatchSize ?? 10_000
  const collections = new Map<string, Collection>()

  const capabilities: AdapterCapabilitiesV1 = Object.freeze({
    filterOperators: Object.freeze([...OPERATORS]),
    namespaces: true,
    maxBatchSize,
    maxTopK,
    maxIdsPerCall: MAX_IDS_PER_CALL,
    count: 'exact',
    filterWithIds: true,
    deleteByFilter: true,
    atomicUpsert: true,
    distances: Object.freeze([...DISTANCES]),
    idFormat: Object.freeze({ kind: 'string', maxLength: MAX_ID_BYTES, mapsForeignIds: false }),
    projectsFields: true,
    transportSecure: true,
  })

  function collectionNamed(name: unknown, path = 'collection'): Collection {
    const checked = checkName(name, path)
    const collection = collections.get(checked)
    if (collection === undefined) {
      throw new AdapterError('collection not found', { reason: 'not_found', status: 404 })
    }
    return collection
  }

  function namespaceOf(scope: RecordScope): string {
    return scope.namespace === undefined ? '' : checkName(scope.namespace, 'namespace', true)
  }

  // the partition of a scope, or undefined when nothing was ever written there (reads then see an empty namespace)
  function partitionOf(scope: RecordScope): { collection: Collection; partition: Partition | undefined } {
    const collection = collectionNamed(scope.collection)
    return { collection, partition: collection.partitions.get(namespaceOf(scope)) }
  }

  function info(collection: Collection): CollectionInfo {
    let recordCount = 0
    for (const partition of collection.partitions.values()) recordCount += partition.size
    return { name: collection.name, dimension: collection.dimension, distance: collection.distance, recordCount }
  }

  function present(
    partition: Partition,
    slot: number,
    includeMetadata: boolean | readonly string[],
    includeVectors: boolean,
  ): FetchedRecord {
    const record: { id: string; vector?: Float32Array; metadata?: Metadata } = { id: partition.idAt(slot) }
    if (includeVectors) record.vector = partition.vectorAt(slot)
    if (includeMetadata !== false) record.metadata = projectMetadata(partition.metadataAt(slot), includeMetadata)
    return record
  }

  // the slots of `ids` (first occurrence, in order) that exist and pass `accept`
  function slotsOf(
    partition: Partition | undefined,
    ids: readonly string[],
    accept: ((metadata: Metadata | undefined) => boolean) | undefined,
  ): number[] {
    if (partition === undefined) return []
    const seen = new Set<string>()
    const slots: number[] = []
    for (const id of ids) {
      if (seen.has(id)) continue
      seen.add(id)
      const slot = partition.slotOf(id)
      if (slot === undefined) continue
      if (accept !== undefined && !accept(partition.metadataAt(slot))) continue
      slots.push(slot)
    }
    return slots
  }

  return {
    specificationVersion: 'v1',
    provider: 'memory',
    capabilities,

    async doCreateCollection(params: CreateCollectionParams): Promise<void> {
      checkSignal(params.signal)
      const name = checkName(params.name, 'name')
      const dimension = checkInteger(params.dimension, 1, MAX_DIMENSION, 'dimension')
      if (!DISTANCES.includes(params.distance)) {
        throw new InputError('distance must be cosine, dot or euclidean', { path: 'distance', reason: 'invalid_input' })
      }
      if (collections.has(name)) {
        throw new AdapterError('collection already exists', { reason: 'already_exists', status: 409 })
      }
      collections.set(name, { name, dimension, distance: params.distance, partitions: new Map() })
    },

    async doDeleteCollection(params): Promise<void> {
      checkSignal(params.signal)
      const collection = collectionNamed(params.name, 'name')
      collections.delete(collection.name)
    },

    async doListCollections(params): Promise<readonly CollectionInfo[]> {
      checkSignal(params?.signal)
      return [...collections.values()].map(info).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    },

    async doDescribeCollection(params): Promise<CollectionInfo> {
      checkSignal(params.signal)
      return info(collectionNamed(params.name, 'name'))
    },

    async doUpsert(params): Promise<void> {
      checkSignal(params.signal)
      const collection = collectionNamed(params.collection)
      const namespace = namespaceOf(params)
      const records: readonly StoredRecord[] = params.records
      if (!Array.isArray(records)) throw new InputError('records must be an array', { path: 'records', reason: 'invalid_input' })
      if (records.length > maxBatchSize) {
        throw new InputError(`a batch holds at most ${maxBatchSize} records`, { path: 'records', reason: 'batch_too_large' })
      }
      // the whole batch is checked and copied before anything is written: all or nothing
      const { dimension, distance } = collection
      const vectors = new Float32Array(records.length * dimension)
      const prepared: PreparedRecord[] = []
      for (let index = 0; index < records.length; index++) {
        const path = `records[${index}]`
        const record = records[index]
        if (typeof record !== 'object' || record === null) {
          throw new InputError('a record is an object with id, vector and metadata', { path, reason: 'invalid_input' })
        }
        const id = checkId(record.id, `${path}.id`)
        const squaredNorm = copyVector(record.vector, dimension, vectors, index * dimension, `${path}.vector`)
        if (distance === 'cosine' && squaredNorm === 0) {
          throw new InputError('a zero vector has no cosine similarity', { path: `${path}.vector`, reason: 'zero_vector' })
        }
        prepared.push({
          id,
          vector: vectors.subarray(index * dimension, (index + 1) * dimension),
          squaredNorm,
          metadata: copyMetadata(record.metadata, `${path}.metadata`),
        })
      }
      if (prepared.length === 0) return
      let partition = collection.partitions.get(namespace)
      if (partition === undefined) {
        partition = new Partition(dimension)
        collection.partitions.set(namespace, partition)
      }
      for (const record of prepared) partition.put(record)
    },

    async doUpdate(params: UpdateParams): Promise<{ readonly updated: boolean }> {
      checkSignal(params.signal)
      const { partition } = partitionOf(params)
      const id = checkId(params.id, 'id')
      const accept = compile(params.filter)
      const slot = partition?.slotOf(id)
      if (partition === undefined || slot === undefined) {
        mergeMetadata(undefined, params.metadata, 'metadata') // still reject a malformed patch
        return { updated: false }
      }
      const merged = mergeMetadata(partition.metadataAt(slot), params.metadata, 'metadata')
      if (accept !== undefined && !accept(partition.metadataAt(slot))) return { updated: false }
      partition.setMetadata(slot, merged)
      return { updated: true }
    },

    async doQuery(params: QueryParams): Promise<{ readonly matches: readonly QueryMatch[] }> {
      checkSignal(params.signal)
      const { collection, partition } = partitionOf(params)
      const topK = checkInteger(params.topK, 1, maxTopK, 'topK')
      const includeMetadata = checkIncludeMetadata(params.includeMetadata, 'includeMetadata')
      const query = new Float32Array(collection.dimension)
      const squaredNorm = copyVector(params.vector, collection.dimension, query, 0, 'vector')
      if (collection.distance === 'cosine' && squaredNorm === 0) {
        throw new InputError('a zero vector has no cosine similarity', { path: 'vector', reason: 'zero_vector' })
      }
      const accept = compile(params.filter)
      if (partition === undefined) return { matches: [] }
      const hits = partition.search(query, collection.distance, topK, accept)
      return {
        matches: hits.map(({ slot, score }) => ({
          ...present(partition, slot, includeMetadata, params.includeVectors === true),
          score,
        })),
      }
    },

    async doFetch(params: FetchParams): Promise<{ readonly records: readonly FetchedRecord[] }> {
      checkSignal(params.signal)
      const { partition } = partitionOf(params)
      const ids = checkIds(params.ids, MAX_IDS_PER_CALL, 'ids')
      const includeMetadata = checkIncludeMetadata(params.includeMetadata, 'includeMetadata')
      const accept = compile(params.filter)
      const slots = slotsOf(partition, ids, accept)
      return {
        records: slots.map((slot) => present(partition as Partition, slot, includeMetadata, params.includeVectors === true)),
      }
    },

    async doDelete(params: DeleteParams): Promise<{ readonly deleted?: number }> {
      checkSignal(params.signal)
      const { partition } = partitionOf(params)
      if (params.ids === undefined && params.filter === undefined) {
        throw new InputError('delete needs ids, a filter, or both', { path: 'ids', reason: 'invalid_input' })
      }
      const ids = params.ids === undefined ? undefined : checkIds(params.ids, MAX_IDS_PER_CALL, 'ids')
      const accept = compile(params.filter)
      if (partition === undefined) return { deleted: 0 }
      let doomed: string[]
      if (ids !== undefined) {
        doomed = slotsOf(partition, ids, accept).map((slot) => partition.idAt(slot))
      } else {
        doomed = []
        for (let slot = 0; slot < partition.size; slot++) {
          if (accept === undefined || accept(partition.metadataAt(slot))) doomed.push(partition.idAt(slot))
        }
      }
      let deleted = 0
      for (const id of doomed) if (partition.remove(id)) deleted += 1
      return { deleted }
    },

    async doCount(params): Promise<{ readonly count: number; readonly exact: boolean }> {
      checkSignal(params.signal)
      const { partition } = partitionOf(params)
      const accept = compile(params.filter)
      if (partition === undefined) return { count: 0, exact: true }
      if (accept === undefined) return { count: partition.size, exact: true }
      let count = 0
      for (let slot = 0; slot < partition.size; slot++) if (accept(partition.metadataAt(slot))) count += 1
      return { count, exact: true }
    },

    async doScroll(params: ScrollParams): Promise<ScrollPage> {
      checkSignal(params.signal)
      const { partition } = partitionOf(params)
      const limit = checkInteger(params.limit, 1, MAX_SCROLL_LIMIT, 'limit')
      const includeMetadata = checkIncludeMetadata(params.includeMetadata, 'includeMetadata')
      const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor)
      const accept = compile(params.filter)
      if (partition === undefined) return { records: [] }
      const sorted = partition.idsInOrder()
      const records: FetchedRecord[] = []
      let index = after === undefined ? 0 : firstAfter(sorted, after)
      for (; index < sorted.length; index++) {
        const slot = partition.slotOf(sorted[index] as string) as number
        if (accept !== undefined && !accept(partition.metadataAt(slot))) continue
        if (records.length === limit) {
          // one more match exists: the page is full and there is a next one
          return { records, nextCursor: encodeCursor(records[records.length - 1]?.id as string) }
        }
        records.push(present(partition, slot, includeMetadata, params.includeVectors === true))
      }
      return { records }
    },
  }
}
