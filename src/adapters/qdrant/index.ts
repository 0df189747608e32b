// the Qdrant adapter: VectorStoreAdapterV1 over the official @qdrant/js-client-rest client, which the caller passes in

import type { QdrantClient } from '@qdrant/js-client-rest'
import { z } from 'zod'
import { AdapterError, ConfigError, InputError, IntegrityError } from '../../errors.js'
import type {
  AdapterCapabilitiesV1,
  CreateCollectionParams,
  DeleteParams,
  FetchParams,
  IncludeMetadata,
  QueryParams,
  RecordScope,
  ScrollPage,
  ScrollParams,
  UpdateParams,
  VectorStoreAdapterV1,
} from '../../spec/adapter.js'
import type { FilterNode } from '../../spec/filter.js'
import type { CollectionInfo, Distance, FetchedRecord, Metadata, QueryMatch, StoredRecord } from '../../spec/records.js'
import { toAdapterError } from '../shared/errors.js'
import { simplifyFilter } from '../shared/filter.js'
import { checkMetadata, checkVector, type MetadataRules, vectorToArray } from '../shared/records.js'
import { callWithRetry, type RetryOptions, resolveRetryPolicy } from '../shared/retry.js'
import { topKWithTies } from '../shared/ranking.js'
import { checkTransport } from '../shared/transport.js'
import { qdrantFieldProblem, type QdrantFilter, toQdrantFilter } from './filter.js'
import { DEFAULT_ID_NAMESPACE, EMPTY_LISTS_FIELD, MAX_ID_BYTES, ORIGINAL_ID_FIELD, pointKey, toPointId, uuidV5 } from './ids.js'

export { EMPTY_LISTS_FIELD, ORIGINAL_ID_FIELD, uuidV5 } from './ids.js'
export { toQdrantFilter } from './filter.js'

/**
 * Options of {@link qdrantAdapter}.
 *
 * @example
 * ```ts
 * qdrantAdapter(client, { retry: { maxRetries: 3 }, maxBatchSize: 512 })
 * ```
 */
export interface QdrantAdapterOptions {
  /** Accept a client that talks plain HTTP to a host other than loopback; audit events then say the transport is insecure. */
  readonly allowInsecureTransport?: boolean
  /** Retries, backoff and per-attempt timeout. */
  readonly retry?: RetryOptions
  /** Points per upsert request (default 256, at most 10000). */
  readonly maxBatchSize?: number
  /** UUIDv5 namespace for ids Qdrant cannot store natively (default: vectorwarden's). Never change it on live data. */
  readonly idNamespace?: string
  /**
   * The client's endpoint, needed only when the client does not expose it (a wrapped or future client). When the
   * client does expose it, the two must agree.
   */
  readonly endpoint?: string
}

const optionsSchema = z
  .object({
    allowInsecureTransport: z.boolean().default(false),
    retry: z.unknown().optional(),
    maxBatchSize: z.number().int().min(1).max(10_000).default(256),
    idNamespace: z.uuid().default(DEFAULT_ID_NAMESPACE),
    endpoint: z.string().optional(),
  })
  .strict()

const toQdrantDistance = { cosine: 'Cosine', dot: 'Dot', euclidean: 'Euclid' } as const
const fromQdrantDistance: Record<string, Distance> = { Cosine: 'cosine', Dot: 'dot', Euclid: 'euclidean' }

const requiredMethods = ['query', 'retrieve', 'upsert', 'scroll', 'count', 'delete', 'setPayload', 'deletePayload', 'getCollection', 'getCollections', 'createCollection', 'deleteCollection', 'createPayloadIndex'] as const

type PointId = number | string
interface QdrantPointLike {
  readonly id: PointId | bigint
  readonly payload?: Record<string, unknown> | null
  readonly vector?: unknown
  readonly score?: number
}

function clientEndpoint(client: QdrantClient): string | undefined {
  // the client keeps its base URL in a private field; read it to check the transport, never to change it
  const value = (client as unknown as { _restUri?: unknown })._restUri
  return typeof value === 'string' ? value : undefined
}

function withPayloadFor(include: IncludeMetadata): boolean | string[] {
  // the original id field is always asked for: without it a mapped id could not be given back
  if (include === true) return true
  return [ORIGINAL_ID_FIELD, ...(include === false ? [] : include)]
}

/**
 * Wraps a Qdrant client as a `VectorStoreAdapterV1`. The client is the caller's; the adapter never builds one and
 * never reads its API key.
 *
 * Ids: unsigned integers and canonical lowercase UUIDs (not version 5) are stored as they are; any other string is
 * stored as a UUIDv5 point id and kept in the payload field `_vw_id`, which callers cannot set.
 *
 * @example
 * ```ts
 * import { QdrantClient } from '@qdrant/js-client-rest'
 * import { qdrantAdapter } from 'vectorwarden/qdrant'
 *
 * const adapter = qdrantAdapter(new QdrantClient({ url: 'https://qdrant.internal:6333', apiKey }))
 * ```
 */
export function qdrantAdapter(client: QdrantClient, options: QdrantAdapterOptions = {}): VectorStoreAdapterV1 {
  if (typeof client !== 'object' || client === null || requiredMethods.some((name) => typeof (client as unknown as Record<string, unknown>)[name] !== 'function')) {
    throw new TypeError('qdrantAdapter expects a QdrantClient from @qdrant/js-client-rest')
  }
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`invalid qdrant adapter option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, { reason: 'invalid_options' })
  }
  const settings = parsed.data
  const policy = resolveRetryPolicy(options.retry)
  const exposed = clientEndpoint(client)
  const origin = (url: string): string => {
    try {
      return new URL(url).origin
    } catch {
      throw new ConfigError('qdrant: the endpoint option is not a valid URL', { reason: 'invalid_endpoint' })
    }
  }
  if (exposed !== undefined && settings.endpoint !== undefined && origin(exposed) !== origin(settings.endpoint)) {
    throw new ConfigError('qdrant: the endpoint option does not match the client', { reason: 'endpoint_mismatch' })
  }
  const endpoint = exposed ?? settings.endpoint
  if (endpoint === undefined) {
    throw new ConfigError('qdrant: cannot tell which endpoint the client talks to; pass options.endpoint', { reason: 'unknown_endpoint' })
  }
  const transport = checkTransport(endpoint, { allowInsecureTransport: settings.allowInsecureTransport, provider: 'qdrant' })
  const namespace = settings.idNamespace

  // frozen: the pipeline reads these to plan every call, so nobody may flip them later
  const capabilities: AdapterCapabilitiesV1 = Object.freeze({
    filterOperators: Object.freeze(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$and', '$or'] as const),
    namespaces: false,
    maxBatchSize: settings.maxBatchSize,
    maxTopK: 10_000,
    maxIdsPerCall: 1_000,
    count: 'exact',
    filterWithIds: true,
    deleteByFilter: true,
    atomicUpsert: false,
    distances: Object.freeze(['cosine', 'dot', 'euclidean'] as const),
    idFormat: Object.freeze({ kind: 'uuid-or-uint', maxLength: MAX_ID_BYTES, mapsForeignIds: true } as const),
    projectsFields: true,
    transportSecure: transport.secure,
  })

  const rules: MetadataRules = { reservedFields: new Set([ORIGINAL_ID_FIELD, EMPTY_LISTS_FIELD]), checkFieldName: qdrantFieldProblem }
  const dimensions = new Map<string, Promise<number>>()

  /** The collection's dimension, looked up once, so a wrong-sized vector fails as InputError before anything is sent. */
  const dimensionOf = (collection: string, signal: AbortSignal | undefined): Promise<number> => {
    let dimension = dimensions.get(collection)
    if (dimension === undefined) {
      dimension = (async () => {
        const info = await call('describe collection', signal, () => client.getCollection(collection))
        const size = (info.config.params.vectors as { size?: unknown } | undefined)?.size
        if (typeof size !== 'number') throw new AdapterError('qdrant collection uses named vectors, which the adapter does not support', { reason: 'unsupported_collection' })
        return size
      })()
      dimensions.set(collection, dimension)
      dimension.catch(() => dimensions.delete(collection))
    }
    return dimension
  }

  const call = <T>(operation: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> =>
    callWithRetry(run, {
      policy,
      signal,
      toError: (error, timedOut) => toAdapterError('qdrant', operation, error, { status: statusOf(error), timeout: timedOut || isTimeout(error) }),
    })

  const noNamespace = (scope: { readonly namespace?: string }): void => {
    if (scope.namespace !== undefined && scope.namespace !== '') throw new InputError('qdrant has no namespaces', { path: 'namespace', reason: 'namespaces_unsupported' })
  }

  /** The record a point holds; `score` is set when given (query matches), so no second object is built for it. */
  const recordFromPoint = (point: QdrantPointLike, include: IncludeMetadata, includeVectors: boolean, score?: number): FetchedRecord => {
    const payload = point.payload ?? {}
    const original = payload[ORIGINAL_ID_FIELD]
    const pointId = typeof point.id === 'bigint' ? point.id.toString() : point.id
    let id: string
    if (typeof original === 'string') {
      // a stored original id must hash to the point it sits on, or the database moved or forged it
      if (uuidV5(original, namespace) !== pointId) {
        throw new IntegrityError('qdrant returned a point whose original id does not match its point id', { reason: 'id_mismatch' })
      }
      id = original
    } else {
      id = String(pointId)
    }
    const record: { id: string; score?: number; metadata?: Metadata; vector?: number[] } = score === undefined ? { id } : { id, score }
    if (include !== false) {
      const metadata: Record<string, Metadata[string]> = {}
      for (const field of Object.keys(payload)) {
        if (field === ORIGINAL_ID_FIELD || field === EMPTY_LISTS_FIELD) continue
        if (include !== true && !include.includes(field)) continue
        const value = payload[field] as Metadata[string]
        // an own property even for __proto__, as JSON.parse made it
        if (field === '__proto__') Object.defineProperty(metadata, field, { value, enumerable: true, writable: true, configurable: true })
        else metadata[field] = value
      }
      record.metadata = metadata
    }
    if (includeVectors && Array.isArray(point.vector)) record.vector = point.vector as number[]
    return record
  }

  /** The native filter, `undefined` for "everything", or `null` when nothing can match (no call is made). */
  const nativeFilter = (filter: FilterNode | undefined): QdrantFilter | undefined | null => {
    if (filter === undefined) return undefined
    const simple = simplifyFilter(filter)
    if (simple.kind === 'none') return null
    if (simple.kind === 'all') return undefined
    return toQdrantFilter(simple)
  }

  const withIds = (pointIds: readonly PointId[], filter: QdrantFilter | undefined): QdrantFilter => ({
    must: [{ has_id: [...pointIds] }, ...(filter === undefined ? [] : [filter])],
  })

  const pointIdsOf = (ids: readonly string[]): PointId[] => {
    const seen = new Set<string>()
    const out: PointId[] = []
    ids.forEach((id, index) => {
      let pointId: PointId
      try {
        pointId = toPointId(id, namespace).pointId
      } catch (error) {
        if (InputError.isInstance(error)) throw new InputError(error.message, { path: `ids[${index}]`, reason: error.reason })
        throw error
      }
      const key = pointKey(pointId)
      if (!seen.has(key)) {
        seen.add(key)
        out.push(pointId)
      }
    })
    return out
  }

  const inOrderOf = (ids: readonly string[], records: readonly FetchedRecord[]): FetchedRecord[] => {
    const byId = new Map(records.map((record) => [record.id, record]))
    const out: FetchedRecord[] = []
    const seen = new Set<string>()
    for (const id of ids) {
      const record = byId.get(id)
      if (record !== undefined && !seen.has(id)) {
        seen.add(id)
        out.push(record)
      }
    }
    return out
  }

  const describeCollection = async (params: { readonly name: string; readonly signal?: AbortSignal }): Promise<CollectionInfo> => {
    const info = await call('describe collection', params.signal, () => client.getCollection(params.name))
    const vectors = info.config.params.vectors as { size?: unknown; distance?: unknown } | undefined
    const distance = typeof vectors?.distance === 'string' ? fromQdrantDistance[vectors.distance] : undefined
    if (typeof vectors?.size !== 'number' || distance === undefined) {
      throw new AdapterError('qdrant collection uses named vectors or a distance the adapter does not support', { reason: 'unsupported_collection' })
    }
    return {
      name: params.name,
      dimension: vectors.size,
      distance,
      ...(typeof info.points_count === 'number' ? { recordCount: info.points_count } : {}),
    }
  }

  return {
    specificationVersion: 'v1',
    provider: 'qdrant',
    capabilities,

    async doCreateCollection(params: CreateCollectionParams) {
      const distance = toQdrantDistance[params.distance]
      if (distance === undefined) throw new InputError('unsupported distance', { path: 'distance', reason: 'invalid_distance' })
      if (!Number.isInteger(params.dimension) || params.dimension < 1) throw new InputError('dimension must be a positive integer', { path: 'dimension', reason: 'invalid_dimension' })
      for (const field of [...(params.indexedFields ?? []), ...(params.tenantField === undefined ? [] : [params.tenantField])]) {
        const problem = qdrantFieldProblem(field)
        if (problem !== undefined) throw new InputError(problem, { path: 'indexedFields', reason: 'invalid_field_name' })
      }
      dimensions.delete(params.name)
      await call('create collection', params.signal, () => client.createCollection(params.name, { vectors: { size: params.dimension, distance } }))
      if (params.tenantField !== undefined) {
        const field = params.tenantField
        // is_tenant co-locates each tenant's points, so a tenant-filtered search reads only that tenant's segment
        await call('create payload index', params.signal, () =>
          client.createPayloadIndex(params.name, { field_name: field, field_schema: { type: 'keyword', is_tenant: true }, wait: true }),
        )
      }
      for (const field of params.indexedFields ?? []) {
        if (field === params.tenantField) continue
        await call('create payload index', params.signal, () => client.createPayloadIndex(params.name, { field_name: field, field_schema: 'keyword', wait: true }))
      }
    },

    async doDeleteCollection(params) {
      dimensions.delete(params.name)
      const existed = await call('delete collection', params.signal, () => client.deleteCollection(params.name))
      if (existed === false) throw new AdapterError('qdrant collection does not exist', { reason: 'not_found', status: 404 })
    },

    async doListCollections(params) {
      const listed = await call('list collections', params?.signal, () => client.getCollections())
      const out: CollectionInfo[] = []
      for (const { name } of listed.collections) {
        out.push(await describeCollection({ name, signal: params?.signal }))
      }
      return out
    },

    doDescribeCollection: describeCollection,

    async doUpsert(params: RecordScope & { readonly records: readonly StoredRecord[] }) {
      noNamespace(params)
      if (params.records.length === 0) return
      const dimension = await dimensionOf(params.collection, params.signal)
      // check the whole batch before sending any of it
      const points = params.records.map((record, index) => {
        const { pointId, mapped } = (() => {
          try {
            return toPointId(record.id, namespace)
          } catch (error) {
            if (InputError.isInstance(error)) throw new InputError(error.message, { path: `records[${index}].id`, reason: error.reason })
            throw error
          }
        })()
        checkVector(record.vector, `records[${index}].vector`, dimension)
        checkMetadata(record.metadata, rules, `records[${index}].metadata`)
        const payload: Record<string, unknown> = { ...record.metadata }
        if (mapped) payload[ORIGINAL_ID_FIELD] = record.id
        const empties = Object.entries(record.metadata ?? {}).flatMap(([field, value]) => (Array.isArray(value) && value.length === 0 ? [field] : []))
        if (empties.length > 0) payload[EMPTY_LISTS_FIELD] = empties
        return { id: pointId, vector: vectorToArray(record.vector), payload }
      })
      for (let start = 0; start < points.length; start += settings.maxBatchSize) {
        const batch = points.slice(start, start + settings.maxBatchSize)
        await call('upsert', params.signal, () => client.upsert(params.collection, { wait: true, points: batch }))
      }
    },

    async doUpdate(params: UpdateParams) {
      noNamespace(params)
      const [pointId] = pointIdsOf([params.id])
      const sets: Record<string, Metadata[string]> = {}
      const removals: string[] = []
      for (const [field, value] of Object.entries(params.metadata)) {
        if (value === null) removals.push(field)
        else sets[field] = value
      }
      checkMetadata(sets, rules, 'metadata')
      for (const field of removals) {
        if (rules.reservedFields.has(field)) throw new InputError('metadata field name is reserved by the adapter', { path: `metadata.${field}`, reason: 'reserved_field' })
        // removal keys are JSON paths to Qdrant: a quoted name ("tenant") would remove another field than it names
        const problem = qdrantFieldProblem(field)
        if (problem !== undefined) throw new InputError(problem, { path: 'metadata', reason: 'invalid_field_name' })
      }
      const filter = nativeFilter(params.filter)
      if (filter === null || pointId === undefined) return { updated: false }
      // the id and the filter travel together in every call, so a write can never land outside the filter
      const target = withIds([pointId], filter)
      const found = await call('scroll', params.signal, () =>
        client.scroll(params.collection, { filter: target, limit: 1, with_payload: [EMPTY_LISTS_FIELD], with_vector: false }),
      )
      const current = found.points[0]
      if (current === undefined) return { updated: false }
      // keep the list of empty-list fields in step with the patch
      const marked = current.payload?.[EMPTY_LISTS_FIELD]
      const empties = new Set(Array.isArray(marked) ? marked.filter((field): field is string => typeof field === 'string') : [])
      const before = empties.size
      for (const [field, value] of Object.entries(sets)) {
        if (Array.isArray(value) && value.length === 0) empties.add(field)
        else empties.delete(field)
      }
      for (const field of removals) empties.delete(field)
      const payload: Record<string, unknown> = { ...sets }
      if (empties.size > 0) payload[EMPTY_LISTS_FIELD] = [...empties]
      else if (before > 0) removals.push(EMPTY_LISTS_FIELD)
      if (Object.keys(payload).length > 0) {
        await call('set payload', params.signal, () => client.setPayload(params.collection, { payload, filter: target, wait: true }))
      }
      if (removals.length > 0) {
        await call('delete payload', params.signal, () => client.deletePayload(params.collection, { keys: removals, filter: target, wait: true }))
      }
      return { updated: true }
    },

    async doQuery(params: QueryParams) {
      noNamespace(params)
      if (!Number.isInteger(params.topK) || params.topK < 1 || params.topK > capabilities.maxTopK) {
        throw new InputError(`topK must be an integer between 1 and ${capabilities.maxTopK}`, { path: 'topK', reason: 'invalid_top_k' })
      }
      checkVector(params.vector, 'vector', await dimensionOf(params.collection, params.signal))
      const filter = nativeFilter(params.filter)
      if (filter === null) return { matches: [] }
      const vector = vectorToArray(params.vector)
      const matches = await topKWithTies(params.topK, capabilities.maxTopK + 1, async (limit) => {
        const response = await call('query', params.signal, () =>
          client.query(params.collection, {
            query: vector,
            limit,
            ...(filter === undefined ? {} : { filter }),
            with_payload: withPayloadFor(params.includeMetadata),
            with_vector: params.includeVectors,
          }),
        )
        return response.points.map(
          (point): QueryMatch => recordFromPoint(point as QdrantPointLike, params.includeMetadata, params.includeVectors, point.score) as QueryMatch,
        )
      })
      return { matches }
    },

    async doFetch(params: FetchParams) {
      noNamespace(params)
      if (params.ids.length === 0) return { records: [] }
      const pointIds = pointIdsOf(params.ids)
      const filter = nativeFilter(params.filter)
      if (filter === null) return { records: [] }
      let points: readonly QdrantPointLike[]
      if (filter === undefined) {
        points = await call('retrieve', params.signal, () =>
          client.retrieve(params.collection, { ids: pointIds, with_payload: withPayloadFor(params.includeMetadata), with_vector: params.includeVectors }),
        )
      } else {
        // retrieve cannot filter; a scroll restricted to the ids applies `ids AND filter` at the backend
        const page = await call('scroll', params.signal, () =>
          client.scroll(params.collection, {
            filter: withIds(pointIds, filter),
            limit: pointIds.length,
            with_payload: withPayloadFor(params.includeMetadata),
            with_vector: params.includeVectors,
          }),
        )
        points = page.points
      }
      const records = points.map((point) => recordFromPoint(point, params.includeMetadata, params.includeVectors))
      return { records: inOrderOf(params.ids, records) }
    },

    async doDelete(params: DeleteParams) {
      noNamespace(params)
      if (params.ids === undefined && params.filter === undefined) throw new InputError('delete needs ids, a filter, or both', { reason: 'invalid_delete' })
      const filter = nativeFilter(params.filter)
      if (filter === null) return { deleted: 0 }
      if (params.ids !== undefined) {
        if (params.ids.length === 0) return { deleted: 0 }
        const pointIds = pointIdsOf(params.ids)
        if (filter === undefined) {
          await call('delete', params.signal, () => client.delete(params.collection, { wait: true, points: pointIds }))
        } else {
          await call('delete', params.signal, () => client.delete(params.collection, { wait: true, filter: withIds(pointIds, filter) }))
        }
        return {}
      }
      await call('delete', params.signal, () => client.delete(params.collection, { wait: true, filter: filter ?? {} }))
      return {}
    },

    async doCount(params) {
      noNamespace(params)
      const filter = nativeFilter(params.filter)
      if (filter === null) return { count: 0, exact: true }
      const result = await call('count', params.signal, () => client.count(params.collection, { ...(filter === undefined ? {} : { filter }), exact: true }))
      return { count: result.count, exact: true }
    },

    async doScroll(params: ScrollParams): Promise<ScrollPage> {
      noNamespace(params)
      if (!Number.isInteger(params.limit) || params.limit < 1) throw new InputError('limit must be a positive integer', { path: 'limit', reason: 'invalid_limit' })
      const filter = nativeFilter(params.filter)
      if (filter === null) return { records: [] }
      const offset = params.cursor === undefined ? undefined : decodeCursor(params.cursor)
      const page = await call('scroll', params.signal, () =>
        client.scroll(params.collection, {
          limit: params.limit,
          ...(offset === undefined ? {} : { offset }),
          ...(filter === undefined ? {} : { filter }),
          with_payload: withPayloadFor(params.includeMetadata),
          with_vector: params.includeVectors,
        }),
      )
      const records = page.points.map((point) => recordFromPoint(point, params.includeMetadata, params.includeVectors))
      const next = page.next_page_offset
      return next === undefined || next === null ? { records } : { records, nextCursor: encodeCursor(next as PointId) }
    },
  }
}

function encodeCursor(offset: PointId | bigint): string {
  return typeof offset === 'string' ? `u:${offset}` : `n:${String(offset)}`
}

function decodeCursor(cursor: string): PointId {
  if (/^n:(0|[1-9][0-9]{0,15})$/.test(cursor)) {
    const value = Number(cursor.slice(2))
    if (Number.isSafeInteger(value)) return value
  }
  if (/^u:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(cursor)) return cursor.slice(2)
  throw new InputError('invalid scroll cursor', { path: 'cursor', reason: 'invalid_cursor' })
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const status = (error as { status?: unknown }).status
  if (typeof status === 'number') return status
  const name = (error as { name?: unknown }).name
  if (name === 'QdrantClientResourceExhaustedError') return 429
  const message = (error as { message?: unknown }).message
  if (typeof message === 'string') {
    const found = /^Unexpected Response: (\d{3})/.exec(message)
    if (found) return Number(found[1])
  }
  return undefined
}

function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QdrantClientTimeoutError'
}
