// the Pinecone adapter: VectorStoreAdapterV1 over the official @pinecone-database/pinecone client, which the caller passes in

import type { Index, Pinecone } from '@pinecone-database/pinecone'
import { z } from 'zod'
import { AdapterError, ConfigError, InputError } from '../../errors.js'
import { compileFilter } from '../../filter/index.js'
import { platform } from '../../platform/index.js'
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
import { pinnedValues, simplifyFilter } from '../shared/filter.js'
import { checkMetadata, checkVector, type MetadataRules, projectMetadata, vectorToArray } from '../shared/records.js'
import { callWithRetry, type RetryOptions, resolveRetryPolicy } from '../shared/retry.js'
import { topKWithTies } from '../shared/ranking.js'
import { checkTransport } from '../shared/transport.js'
import { type PineconeFilter, pineconeFieldProblem, toPineconeFilter } from './filter.js'

export { toPineconeFilter } from './filter.js'

/**
 * Options of {@link pineconeAdapter}.
 *
 * @example
 * ```ts
 * pineconeAdapter(client, { tenantNamespaces: { field: 'tenant', prefix: 'tenant-' } })
 * ```
 */
export interface PineconeAdapterOptions {
  /** Accept plain HTTP to a host other than loopback; the capabilities then say the transport is insecure. */
  readonly allowInsecureTransport?: boolean
  /** Retries, backoff and per-attempt timeout (pass `maxRetries: 0` to the client so only one layer retries). */
  readonly retry?: RetryOptions
  /** Records per upsert request (default and maximum 1000; requests are also kept under 2 MB). */
  readonly maxBatchSize?: number
  /**
   * One namespace per tenant, as a second wall behind the row filter: a record lives in the namespace named after
   * its `field` value (with `prefix`), and every read must carry a filter that pins `field` to known values.
   */
  readonly tenantNamespaces?: { readonly field: string; readonly prefix?: string }
  /** Where `doCreateCollection` creates serverless indexes (default aws / us-east-1). */
  readonly deployment?: { readonly cloud: string; readonly region: string }
}

const optionsSchema = z
  .object({
    allowInsecureTransport: z.boolean().default(false),
    retry: z.unknown().optional(),
    maxBatchSize: z.number().int().min(1).max(1000).default(1000),
    tenantNamespaces: z.object({ field: z.string().min(1), prefix: z.string().max(256).default('') }).strict().optional(),
    deployment: z.object({ cloud: z.string().min(1), region: z.string().min(1) }).strict().default({ cloud: 'aws', region: 'us-east-1' }),
  })
  .strict()

const toMetric = { cosine: 'cosine', dot: 'dotproduct', euclidean: 'euclidean' } as const
const fromMetric: Record<string, Distance> = { cosine: 'cosine', dotproduct: 'dot', euclidean: 'euclidean' }
// the client and the API call the unnamed namespace this
const defaultNamespace = '__default__'
const indexNamePattern = /^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$/
const maxRequestBytes = 1_900_000
const maxIdBytes = 512
const encoder = new TextEncoder()
const requiredMethods = ['index', 'describeIndex', 'createIndex', 'deleteIndex', 'listIndexes', 'getConfig'] as const

interface IndexHandle {
  readonly index: Index
  readonly distance: Distance
  readonly dimension: number
}

interface PineconeRecordLike {
  readonly id: string
  readonly values?: readonly number[]
  readonly metadata?: Record<string, unknown>
  readonly score?: number
}

const statusByName: Record<string, number> = {
  PineconeBadRequestError: 400,
  PineconeAuthorizationError: 401,
  PineconePaymentRequiredError: 402,
  PineconeNotFoundError: 404,
  PineconeMethodNotAllowedError: 405,
  PineconeConflictError: 409,
  PineconeFailedPreconditionError: 412,
  PineconeUnprocessableEntityError: 422,
  PineconeInternalServerError: 500,
  PineconeNotImplementedError: 501,
  PineconeUnavailableError: 503,
  PineconeMaxRetriesExceededError: 503,
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const name = (error as { name?: unknown }).name
  if (typeof name === 'string' && statusByName[name] !== undefined) return statusByName[name]
  const message = (error as { message?: unknown }).message
  if (name === 'PineconeUnmappedHttpError' && typeof message === 'string') {
    const found = /Status: (\d{3})/.exec(message)
    if (found) return Number(found[1])
  }
  return undefined
}

function distanceOfModel(model: unknown): { distance: Distance; dimension: number } | undefined {
  const fields = (model as { schema?: { fields?: Record<string, unknown> } }).schema?.fields
  const dense = fields?._values as { type?: unknown; dimension?: unknown; metric?: unknown } | undefined
  if (dense?.type !== 'dense_vector' || typeof dense.dimension !== 'number' || typeof dense.metric !== 'string') return undefined
  const distance = fromMetric[dense.metric]
  return distance === undefined ? undefined : { distance, dimension: dense.dimension }
}

function hostUrl(host: string): string {
  return host.startsWith('http://') || host.startsWith('https://') ? host : `https://${host}`
}

function isZeroVector(vector: StoredRecord['vector']): boolean {
  for (let index = 0; index < vector.length; index++) if (vector[index] !== 0) return false
  return true
}

/**
 * Wraps a Pinecone client as a `VectorStoreAdapterV1`. The client is the caller's; the adapter never builds one.
 * Collections are serverless indexes; `namespace` selects a namespace, or `tenantNamespaces` derives it per tenant.
 *
 * @example
 * ```ts
 * import { Pinecone } from '@pinecone-database/pinecone'
 * import { pineconeAdapter } from 'vectorwarden/pinecone'
 *
 * const adapter = pineconeAdapter(new Pinecone({ apiKey, maxRetries: 0 }), { tenantNamespaces: { field: 'tenant' } })
 * ```
 */
export function pineconeAdapter(client: Pinecone, options: PineconeAdapterOptions = {}): VectorStoreAdapterV1 {
  if (typeof client !== 'object' || client === null || requiredMethods.some((name) => typeof (client as unknown as Record<string, unknown>)[name] !== 'function')) {
    throw new TypeError('pineconeAdapter expects a Pinecone client from @pinecone-database/pinecone')
  }
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`invalid pinecone adapter option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, { reason: 'invalid_options' })
  }
  const settings = parsed.data
  const policy = resolveRetryPolicy(options.retry)
  const controller = client.getConfig().controllerHostUrl ?? 'https://api.pinecone.io'
  const controllerTransport = checkTransport(controller, { allowInsecureTransport: settings.allowInsecureTransport, provider: 'pinecone' })
  const tenancy = settings.tenantNamespaces

  // frozen: the pipeline reads these to plan every call, so nobody may flip them later
  const capabilities: AdapterCapabilitiesV1 = Object.freeze({
    filterOperators: Object.freeze(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$and', '$or'] as const),
    namespaces: true,
    maxBatchSize: settings.maxBatchSize,
    maxTopK: 1_000,
    maxIdsPerCall: 1_000,
    count: 'approximate',
    filterWithIds: false,
    deleteByFilter: true,
    atomicUpsert: false,
    distances: Object.freeze(['cosine', 'dot', 'euclidean'] as const),
    idFormat: Object.freeze({ kind: 'string', maxLength: maxIdBytes, mapsForeignIds: false } as const),
    maxMetadataBytes: 40 * 1024,
    projectsFields: false,
    // index hosts are only known later; once insecure hosts are allowed, the adapter cannot promise any call is secure
    transportSecure: controllerTransport.secure && !settings.allowInsecureTransport,
  })

  const rules: MetadataRules = { reservedFields: new Set(), checkFieldName: pineconeFieldProblem, maxMetadataBytes: 40 * 1024 }
  const handles = new Map<string, Promise<IndexHandle>>()

  const call = <T>(operation: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> =>
    callWithRetry(run, {
      policy,
      signal,
      toError: (error, timedOut) => toAdapterError('pinecone', operation, error, { status: statusOf(error), timeout: timedOut }),
    })

  const checkName = (name: string): void => {
    if (!indexNamePattern.test(name)) {
      throw new InputError('Pinecone index names are 1-45 lowercase letters, digits or "-", starting and ending with a letter or digit', { path: 'collection', reason: 'invalid_collection_name' })
    }
  }

  const handleFor = (collection: string, signal: AbortSignal | undefined): Promise<IndexHandle> => {
    checkName(collection)
    let handle = handles.get(collection)
    if (handle === undefined) {
      handle = (async () => {
        const model = await call('describe index', signal, () => client.describeIndex(collection))
        const shape = distanceOfModel(model)
        if (shape === undefined) throw new AdapterError('pinecone index is not a dense vector index', { reason: 'unsupported_collection' })
        const host = hostUrl(model.privateHost ?? model.host)
        checkTransport(host, { allowInsecureTransport: settings.allowInsecureTransport, provider: 'pinecone' })
        return { index: client.index({ name: collection, host }), ...shape }
      })()
      handles.set(collection, handle)
      // a failed lookup is not cached
      handle.catch(() => handles.delete(collection))
    }
    return handle
  }

  const nativeFilter = (filter: FilterNode | undefined): PineconeFilter | undefined | null => {
    if (filter === undefined) return undefined
    const simple = simplifyFilter(filter)
    if (simple.kind === 'none') return null
    if (simple.kind === 'all') return undefined
    return toPineconeFilter(simple)
  }

  /** The namespaces a read may touch: the caller's, or with tenant namespaces the ones the filter pins. */
  const readNamespaces = (scope: RecordScope, filter: FilterNode | undefined): string[] => {
    if (tenancy === undefined) return [scope.namespace === undefined || scope.namespace === '' ? defaultNamespace : scope.namespace]
    if (scope.namespace !== undefined) throw new InputError('namespace cannot be set when namespaces follow tenants', { path: 'namespace', reason: 'namespace_conflict' })
    const pinned = filter === undefined ? undefined : pinnedValues(simplifyFilter(filter), tenancy.field)
    if (pinned === undefined) {
      throw new InputError(`with tenant namespaces, the filter must pin ${tenancy.field}`, { path: 'filter', reason: 'tenant_namespace_unresolved' })
    }
    // records without a string tenant cannot have been written, so other values select no namespace
    return [...pinned].filter((value): value is string => typeof value === 'string').map((value) => tenancy.prefix + value).sort()
  }

  /**
   * Namespaces a fetch by ids looks in. With tenant namespaces and a filter that does not pin the tenant (the
   * pipeline's check for existing ids before a write), every namespace is read: ids may repeat across tenants, and the
   * caller re-checks each record against its row filter. Deletes never fan out like this.
   */
  const fetchNamespaces = async (handle: IndexHandle, params: FetchParams): Promise<string[]> => {
    if (tenancy === undefined || params.namespace !== undefined) return readNamespaces(params, params.filter)
    const pinned = params.filter === undefined ? undefined : pinnedValues(simplifyFilter(params.filter), tenancy.field)
    if (pinned !== undefined) return readNamespaces(params, params.filter)
    const stats = await call('describe index stats', params.signal, () => handle.index.describeIndexStats())
    return Object.keys(stats.namespaces ?? {})
      .filter((name) => name.startsWith(tenancy.prefix))
      .sort()
  }

  const toRecord = (raw: PineconeRecordLike, include: IncludeMetadata, includeVectors: boolean): FetchedRecord => {
    const record: { id: string; metadata?: Metadata; vector?: number[] } = { id: raw.id }
    if (include !== false) record.metadata = projectMetadata((raw.metadata ?? {}) as Metadata, include) ?? {}
    if (includeVectors && raw.values !== undefined) record.vector = [...raw.values]
    return record
  }

  const fetchRaw = async (handle: IndexHandle, namespace: string, ids: readonly string[], signal: AbortSignal | undefined): Promise<Map<string, PineconeRecordLike>> => {
    const found = new Map<string, PineconeRecordLike>()
    for (let start = 0; start < ids.length; start += 1000) {
      const chunk = ids.slice(start, start + 1000)
      const response = await call('fetch', signal, () => handle.index.namespace(namespace).fetch({ ids: chunk }))
      for (const [id, record] of Object.entries(response.records)) found.set(id, record as PineconeRecordLike)
    }
    return found
  }

  const checkIds = (ids: readonly string[], path: (index: number) => string = (index) => `ids[${index}]`): void => {
    ids.forEach((id, index) => {
      if (typeof id !== 'string' || id.length === 0 || encoder.encode(id).length > maxIdBytes) {
        throw new InputError(`record ids are non-empty strings of at most ${maxIdBytes} bytes`, { path: path(index), reason: 'invalid_id' })
      }
    })
  }

  return {
    specificationVersion: 'v1',
    provider: 'pinecone',
    capabilities,

    async doCreateCollection(params: CreateCollectionParams) {
      checkName(params.name)
      const metric = toMetric[params.distance]
      if (metric === undefined) throw new InputError('unsupported distance', { path: 'distance', reason: 'invalid_distance' })
      if (!Number.isInteger(params.dimension) || params.dimension < 1 || params.dimension > 20_000) {
        throw new InputError('dimension must be an integer between 1 and 20000', { path: 'dimension', reason: 'invalid_dimension' })
      }
      // serverless indexes index every metadata field, so indexedFields and tenantField need no call
      await call('create index', params.signal, () =>
        client.createIndex({
          name: params.name,
          schema: { fields: { _values: { type: 'dense_vector', dimension: params.dimension, metric } } },
          deployment: { deploymentType: 'managed', cloud: settings.deployment.cloud, region: settings.deployment.region },
          waitUntilReady: true,
        }),
      )
    },

    async doDeleteCollection(params) {
      checkName(params.name)
      handles.delete(params.name)
      await call('delete index', params.signal, () => client.deleteIndex(params.name))
    },

    async doListCollections(params) {
      const list = await call('list indexes', params?.signal, () => client.listIndexes())
      const out: CollectionInfo[] = []
      for (const model of list.indexes ?? []) {
        const shape = distanceOfModel(model)
        if (shape !== undefined) out.push({ name: model.name, ...shape })
      }
      return out
    },

    async doDescribeCollection(params) {
      handles.delete(params.name)
      const handle = await handleFor(params.name, params.signal)
      const stats = await call('describe index stats', params.signal, () => handle.index.describeIndexStats())
      return {
        name: params.name,
        dimension: handle.dimension,
        distance: handle.distance,
        ...(typeof stats.totalRecordCount === 'number' ? { recordCount: stats.totalRecordCount } : {}),
      }
    },

    async doUpsert(params: RecordScope & { readonly records: readonly StoredRecord[] }) {
      if (tenancy !== undefined && params.namespace !== undefined) {
        throw new InputError('namespace cannot be set when namespaces follow tenants', { path: 'namespace', reason: 'namespace_conflict' })
      }
      if (params.records.length === 0) return
      const handle = await handleFor(params.collection, params.signal)
      // check the whole batch before sending any of it
      const groups = new Map<string, Array<{ id: string; values: number[]; metadata?: Metadata }>>()
      params.records.forEach((record, index) => {
        checkIds([record.id], () => `records[${index}].id`)
        checkVector(record.vector, `records[${index}].vector`, handle.dimension)
        if (isZeroVector(record.vector)) throw new InputError('Pinecone refuses vectors whose values are all zero', { path: `records[${index}].vector`, reason: 'zero_vector' })
        checkMetadata(record.metadata, rules, `records[${index}].metadata`)
        let namespace = params.namespace === undefined || params.namespace === '' ? defaultNamespace : params.namespace
        if (tenancy !== undefined) {
          const tenant = record.metadata?.[tenancy.field]
          if (typeof tenant !== 'string' || tenant.length === 0) {
            throw new InputError(`with tenant namespaces, every record needs a string ${tenancy.field}`, { path: `records[${index}].metadata.${tenancy.field}`, reason: 'tenant_missing' })
          }
          namespace = tenancy.prefix + tenant
        }
        const group = groups.get(namespace) ?? []
        group.push({ id: record.id, values: vectorToArray(record.vector), ...(record.metadata === undefined ? {} : { metadata: record.metadata }) })
        groups.set(namespace, group)
      })
      for (const [namespace, records] of groups) {
        let batch: typeof records = []
        let bytes = 0
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return
          const sending = batch
          batch = []
          bytes = 0
          await call('upsert', params.signal, () => handle.index.namespace(namespace).upsert({ records: sending as never }))
        }
        for (const record of records) {
          const size = encoder.encode(JSON.stringify(record)).length
          if (batch.length >= settings.maxBatchSize || bytes + size > maxRequestBytes) await flush()
          batch.push(record)
          bytes += size
        }
        await flush()
      }
    },

    async doUpdate(params: UpdateParams) {
      checkIds([params.id], () => 'id')
      const sets: Record<string, Metadata[string]> = {}
      const removals: string[] = []
      for (const [field, value] of Object.entries(params.metadata)) {
        if (value === null) removals.push(field)
        else sets[field] = value
      }
      checkMetadata(sets, rules, 'metadata')
      if (tenancy !== undefined && (tenancy.field in params.metadata)) {
        throw new InputError('the tenant field decides the namespace and cannot be updated', { path: `metadata.${tenancy.field}`, reason: 'tenant_immutable' })
      }
      const simple = params.filter === undefined ? undefined : simplifyFilter(params.filter)
      if (simple?.kind === 'none') return { updated: false }
      const handle = await handleFor(params.collection, params.signal)
      const matches = simple === undefined ? () => true : compileFilter(simple)
      for (const namespace of readNamespaces(params, params.filter)) {
        const current = (await fetchRaw(handle, namespace, [params.id], params.signal)).get(params.id)
        // Pinecone cannot apply `id AND filter` itself: the record is checked here, just before the write
        if (current === undefined || !matches((current.metadata ?? {}) as Metadata)) continue
        if (removals.length === 0) {
          await call('update', params.signal, () => handle.index.namespace(namespace).update({ id: params.id, metadata: sets as never }))
        } else {
          // setMetadata cannot remove a field: rewrite the record (not atomic with concurrent writers)
          const metadata: Record<string, Metadata[string]> = { ...(current.metadata as Metadata), ...sets }
          for (const field of removals) delete metadata[field]
          checkMetadata(metadata, rules, 'metadata')
          await call('upsert', params.signal, () =>
            handle.index.namespace(namespace).upsert({ records: [{ id: params.id, values: [...(current.values ?? [])], metadata }] as never }),
          )
        }
        return { updated: true }
      }
      return { updated: false }
    },

    async doQuery(params: QueryParams) {
      if (!Number.isInteger(params.topK) || params.topK < 1 || params.topK > capabilities.maxTopK) {
        throw new InputError(`topK must be an integer between 1 and ${capabilities.maxTopK}`, { path: 'topK', reason: 'invalid_top_k' })
      }
      const handle = await handleFor(params.collection, params.signal)
      checkVector(params.vector, 'vector', handle.dimension)
      const filter = nativeFilter(params.filter)
      if (filter === null) return { matches: [] }
      const namespaces = readNamespaces(params, params.filter)
      if (namespaces.length === 0) return { matches: [] }
      const vector = vectorToArray(params.vector)
      const ascending = handle.distance === 'euclidean'
      const matches = await topKWithTies(params.topK, capabilities.maxTopK, async (limit) => {
        const hits: QueryMatch[] = []
        for (const namespace of namespaces) {
          const response = await call('query', params.signal, () =>
            handle.index.namespace(namespace).query({
              vector,
              topK: limit,
              ...(filter === undefined ? {} : { filter }),
              includeMetadata: params.includeMetadata !== false,
              includeValues: params.includeVectors,
            }),
          )
          for (const match of response.matches) {
            const raw = match as PineconeRecordLike
            // Pinecone's euclidean score is the squared distance
            const score = ascending ? Math.sqrt(Math.max(0, raw.score ?? 0)) : (raw.score ?? 0)
            hits.push({ ...toRecord(raw, params.includeMetadata, params.includeVectors), score })
          }
        }
        // several tenant namespaces: merge their best-first lists
        hits.sort((a, b) => (ascending ? a.score - b.score : b.score - a.score))
        return hits.slice(0, limit)
      })
      return { matches }
    },

    async doFetch(params: FetchParams) {
      checkIds(params.ids)
      if (params.ids.length === 0) return { records: [] }
      const simple = params.filter === undefined ? undefined : simplifyFilter(params.filter)
      if (simple?.kind === 'none') return { records: [] }
      const matches = simple === undefined || simple.kind === 'all' ? undefined : compileFilter(simple)
      const handle = await handleFor(params.collection, params.signal)
      const unique = [...new Set(params.ids)]
      const found = new Map<string, FetchedRecord>()
      for (const namespace of await fetchNamespaces(handle, params)) {
        for (const [id, raw] of await fetchRaw(handle, namespace, unique, params.signal)) {
          // fetch cannot filter at the backend; `ids AND filter` is applied here on the returned metadata
          if (matches !== undefined && !matches((raw.metadata ?? {}) as Metadata)) continue
          if (!found.has(id)) found.set(id, toRecord(raw, params.includeMetadata, params.includeVectors))
        }
      }
      return { records: unique.flatMap((id) => found.get(id) ?? []) }
    },

    async doDelete(params: DeleteParams) {
      if (params.ids === undefined && params.filter === undefined) throw new InputError('delete needs ids, a filter, or both', { reason: 'invalid_delete' })
      if (params.ids !== undefined) checkIds(params.ids)
      const simple = params.filter === undefined ? undefined : simplifyFilter(params.filter)
      if (simple?.kind === 'none') return { deleted: 0 }
      if (params.ids !== undefined && params.ids.length === 0) return { deleted: 0 }
      const handle = await handleFor(params.collection, params.signal)
      const namespaces = readNamespaces(params, params.filter)
      let deleted: number | undefined = 0
      for (const namespace of namespaces) {
        const target = handle.index.namespace(namespace)
        if (params.ids !== undefined) {
          let ids = [...new Set(params.ids)]
          if (simple !== undefined && simple.kind !== 'all') {
            // Pinecone cannot delete `ids AND filter`: keep the ids whose current metadata matches
            const matches = compileFilter(simple)
            const current = await fetchRaw(handle, namespace, ids, params.signal)
            ids = ids.filter((id) => {
              const record = current.get(id)
              return record !== undefined && matches((record.metadata ?? {}) as Metadata)
            })
            if (deleted !== undefined) deleted += ids.length
          } else {
            deleted = undefined
          }
          for (let start = 0; start < ids.length; start += 1000) {
            const chunk = ids.slice(start, start + 1000)
            await call('delete', params.signal, () => target.deleteMany({ ids: chunk }))
          }
        } else if (simple === undefined || simple.kind === 'all') {
          deleted = undefined
          await call('delete all', params.signal, () => target.deleteAll())
        } else {
          deleted = undefined
          const filter = toPineconeFilter(simple)
          await call('delete', params.signal, () => target.deleteMany({ filter }))
        }
      }
      return deleted === undefined ? {} : { deleted }
    },

    async doCount(params) {
      const filter = nativeFilter(params.filter)
      if (filter === null) return { count: 0, exact: true }
      const namespaces = readNamespaces(params, params.filter)
      const handle = await handleFor(params.collection, params.signal)
      if (filter === undefined) {
        // index statistics are eventually consistent: an estimate
        const stats = await call('describe index stats', params.signal, () => handle.index.describeIndexStats())
        const count = namespaces.reduce((total, namespace) => total + (stats.namespaces?.[namespace]?.recordCount ?? 0), 0)
        return { count, exact: false }
      }
      // serverless statistics take no filter: count the matching records page by page
      let count = 0
      for (const namespace of namespaces) {
        let token: string | undefined
        do {
          const page: { records: Record<string, unknown>; pagination?: { next?: string } } = await call('fetch by metadata', params.signal, () =>
            handle.index.namespace(namespace).fetchByMetadata({ filter, limit: 1000, ...(token === undefined ? {} : { paginationToken: token }) }),
          )
          count += Object.keys(page.records).length
          token = page.pagination?.next || undefined
        } while (token !== undefined)
      }
      return { count, exact: true }
    },

    async doScroll(params: ScrollParams): Promise<ScrollPage> {
      if (!Number.isInteger(params.limit) || params.limit < 1) throw new InputError('limit must be a positive integer', { path: 'limit', reason: 'invalid_limit' })
      const filter = nativeFilter(params.filter)
      if (filter === null) return { records: [] }
      const namespaces = readNamespaces(params, params.filter)
      const position = params.cursor === undefined ? { namespace: 0, token: undefined } : decodeCursor(params.cursor)
      const namespace = namespaces[position.namespace]
      if (namespace === undefined) return { records: [] }
      const handle = await handleFor(params.collection, params.signal)
      const target = handle.index.namespace(namespace)
      let records: FetchedRecord[]
      let next: string | undefined
      if (filter === undefined) {
        const listed = await call('list', params.signal, () =>
          target.listPaginated({ limit: Math.min(params.limit, 100), ...(position.token === undefined ? {} : { paginationToken: position.token }) }),
        )
        const ids = (listed.vectors ?? []).flatMap((item) => (typeof item.id === 'string' ? [item.id] : []))
        const found = ids.length === 0 ? new Map<string, PineconeRecordLike>() : await fetchRaw(handle, namespace, ids, params.signal)
        records = ids.flatMap((id) => {
          const raw = found.get(id)
          return raw === undefined ? [] : [toRecord(raw, params.includeMetadata, params.includeVectors)]
        })
        next = listed.pagination?.next || undefined
      } else {
        const page = await call('fetch by metadata', params.signal, () =>
          target.fetchByMetadata({ filter, limit: params.limit, ...(position.token === undefined ? {} : { paginationToken: position.token }) }),
        )
        records = Object.values(page.records)
          .map((raw) => toRecord(raw as PineconeRecordLike, params.includeMetadata, params.includeVectors))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        next = page.pagination?.next || undefined
      }
      if (next !== undefined) return { records, nextCursor: encodeCursor(position.namespace, next) }
      if (position.namespace + 1 < namespaces.length) return { records, nextCursor: encodeCursor(position.namespace + 1, undefined) }
      return { records }
    },
  }
}

function encodeCursor(namespace: number, token: string | undefined): string {
  return `${namespace}.${token === undefined ? '' : platform.base64urlEncode(platform.utf8Encode(token))}`
}

function decodeCursor(cursor: string): { namespace: number; token: string | undefined } {
  const found = /^(0|[1-9][0-9]{0,5})\.([A-Za-z0-9_-]*)$/.exec(cursor)
  if (found === null) throw new InputError('invalid scroll cursor', { path: 'cursor', reason: 'invalid_cursor' })
  const token = found[2] === '' ? undefined : platform.utf8Decode(platform.base64urlDecode(found[2] as string))
  return { namespace: Number(found[1]), token }
}
