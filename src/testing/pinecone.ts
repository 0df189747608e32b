// an in-process Pinecone for tests: the control plane (indexes) and every index's data plane on one loopback server,
// with request and response shapes from the client's generated models and its own metadata-filter evaluator

import { type FakeRequest, type FakeServer, HttpFailure, type InjectedFault, isObject, startFakeServer } from './http.js'
import { compilePineconeFilter } from './pinecone-filter.js'

type Metadata = Record<string, unknown>
type Metric = 'cosine' | 'euclidean' | 'dotproduct'

interface PineconeVector {
  readonly id: string
  values: number[]
  metadata?: Metadata
}

interface PineconeIndex {
  readonly name: string
  readonly dimension: number
  readonly metric: Metric
  readonly cloud: string
  readonly region: string
  readonly deletionProtection: string
  readonly tags: Record<string, string> | null
  readonly namespaces: Map<string, Map<string, PineconeVector>>
}

/**
 * Options of {@link startPineconeFake}.
 *
 * @example
 * ```ts
 * await startPineconeFake({ apiKey: 'test-key' })
 * ```
 */
export interface PineconeFakeOptions {
  /** When set, every request must carry this `Api-Key` header (else 401, like Pinecone). */
  readonly apiKey?: string
}

/**
 * A running Pinecone fake: `controllerHostUrl` is its `url`; each index's host is `<url>/data/<index>`.
 *
 * @example
 * ```ts
 * const fake: PineconeFake = await startPineconeFake()
 * fake.namespaces('docs')
 * ```
 */
export interface PineconeFake extends FakeServer {
  /** Records in one namespace of an index, or undefined when the index does not exist. */
  recordCount(index: string, namespace?: string): number | undefined
  /** Namespaces of an index that hold records. */
  namespaces(index: string): readonly string[]
  /** Overwrites a record's metadata as a compromised database would (for re-verification tests). */
  tamperMetadata(index: string, namespace: string, id: string, metadata: Metadata): void
}

const defaultNamespace = '__default__'
const indexNamePattern = /^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$/
const maxMetadataBytes = 40 * 1024
const maxRequestBytes = 2 * 1024 * 1024
const encoder = new TextEncoder()

function failure(status: number, code: string, message: string): HttpFailure {
  return new HttpFailure(status, message, code)
}

function statusCode(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT'
    case 401:
      return 'UNAUTHENTICATED'
    case 404:
      return 'NOT_FOUND'
    case 409:
      return 'ALREADY_EXISTS'
    case 429:
      return 'RESOURCE_EXHAUSTED'
    case 503:
      return 'UNAVAILABLE'
    default:
      return status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT'
  }
}

function checkMetadata(metadata: unknown, id: string): Metadata | undefined {
  if (metadata === undefined) return undefined
  if (!isObject(metadata)) throw failure(400, 'INVALID_ARGUMENT', `Metadata of vector ${id} must be an object`)
  for (const [key, value] of Object.entries(metadata)) {
    const valid =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    if (!valid) {
      throw failure(400, 'INVALID_ARGUMENT', `Metadata value for field ${key} must be a string, number, boolean or list of strings; null is not supported`)
    }
  }
  const size = encoder.encode(JSON.stringify(metadata)).length
  if (size > maxMetadataBytes) throw failure(400, 'INVALID_ARGUMENT', `Metadata size is ${size} bytes, which exceeds the limit of ${maxMetadataBytes} bytes per vector`)
  return metadata
}

function checkValues(values: unknown, dimension: number): number[] {
  if (!Array.isArray(values) || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) {
    throw failure(400, 'INVALID_ARGUMENT', 'Vector values must be a list of numbers')
  }
  if (values.length !== dimension) throw failure(400, 'INVALID_ARGUMENT', `Vector dimension ${values.length} does not match the dimension of the index ${dimension}`)
  if (values.every((value) => value === 0)) throw failure(400, 'INVALID_ARGUMENT', 'Dense vectors must contain at least one non-zero value')
  return values as number[]
}

function similarity(metric: Metric, stored: readonly number[], query: readonly number[]): number {
  let dot = 0
  let storedNorm = 0
  let queryNorm = 0
  let squared = 0
  for (let index = 0; index < stored.length; index++) {
    const a = stored[index] as number
    const b = query[index] as number
    dot += a * b
    storedNorm += a * a
    queryNorm += b * b
    squared += (a - b) ** 2
  }
  if (metric === 'dotproduct') return dot
  // euclidean scores are squared distances, lower is closer
  if (metric === 'euclidean') return squared
  const denominator = Math.sqrt(storedNorm) * Math.sqrt(queryNorm)
  return denominator === 0 ? 0 : dot / denominator
}

function token(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId }), 'utf8').toString('base64url')
}

function afterToken(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  try {
    const decoded = JSON.parse(Buffer.from(String(value), 'base64url').toString('utf8')) as { after?: unknown }
    if (typeof decoded.after === 'string') return decoded.after
  } catch {
    // fall through
  }
  throw failure(400, 'INVALID_ARGUMENT', 'Invalid pagination token')
}

function intParameter(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback
  const number = typeof value === 'number' ? value : Number(value)
  if (!Number.isInteger(number) || number < 1 || number > max) throw failure(400, 'INVALID_ARGUMENT', `${name} must be between 1 and ${max}`)
  return number
}

/**
 * Starts an in-process Pinecone fake on 127.0.0.1 (random port). Point `new Pinecone({ apiKey, controllerHostUrl:
 * fake.url, maxRetries: 0 })` at it; `describeIndex` hands the client each index's data-plane host. Node only.
 *
 * @example
 * ```ts
 * import { Pinecone } from '@pinecone-database/pinecone'
 * import { startPineconeFake } from 'vectorwarden/testing'
 *
 * const fake = await startPineconeFake()
 * const client = new Pinecone({ apiKey: 'test', controllerHostUrl: fake.url })
 * ```
 */
export async function startPineconeFake(options: PineconeFakeOptions = {}): Promise<PineconeFake> {
  const indexes = new Map<string, PineconeIndex>()
  let baseUrl = ''

  const model = (index: PineconeIndex): Record<string, unknown> => ({
    name: index.name,
    host: `${baseUrl}/data/${index.name}`,
    status: { ready: true, state: 'Ready' },
    deployment: { deployment_type: 'managed', cloud: index.cloud, region: index.region },
    schema: { fields: { _values: { type: 'dense_vector', dimension: index.dimension, metric: index.metric } } },
    deletion_protection: index.deletionProtection,
    tags: index.tags,
  })

  const getIndex = (name: string): PineconeIndex => {
    const index = indexes.get(name)
    if (index === undefined) throw failure(404, 'NOT_FOUND', `Resource ${name} not found`)
    return index
  }

  const namespaceOf = (index: PineconeIndex, name: unknown, create: boolean): Map<string, PineconeVector> | undefined => {
    // "" and "__default__" name the same default namespace
    const key = typeof name === 'string' && name !== '' ? name : defaultNamespace
    let namespace = index.namespaces.get(key)
    if (namespace === undefined && create) {
      namespace = new Map()
      index.namespaces.set(key, namespace)
    }
    return namespace
  }

  const toVector = (vector: PineconeVector, includeValues: boolean, includeMetadata: boolean): Record<string, unknown> => ({
    id: vector.id,
    values: includeValues ? [...vector.values] : [],
    ...(includeMetadata && vector.metadata !== undefined ? { metadata: structuredClone(vector.metadata) } : {}),
  })

  const controlPlane = (request: FakeRequest, body: Record<string, unknown>): { status: number; body: unknown } => {
    const { method, segments } = request
    if (segments.length === 1 && method === 'GET') return { status: 200, body: { indexes: [...indexes.values()].map(model) } }
    if (segments.length === 1 && method === 'POST') {
      const name = body.name
      if (typeof name !== 'string' || !indexNamePattern.test(name)) {
        throw failure(400, 'INVALID_ARGUMENT', 'Name must consist of lower case alphanumeric characters or "-", start and end with one, and be at most 45 characters')
      }
      if (indexes.has(name)) throw failure(409, 'ALREADY_EXISTS', `Resource ${name} already exists`)
      const fields = isObject(body.schema) && isObject(body.schema.fields) ? body.schema.fields : undefined
      const dense = fields?._values
      if (!isObject(dense) || dense.type !== 'dense_vector') throw failure(400, 'INVALID_ARGUMENT', 'schema must define the dense vector field _values')
      if (typeof dense.dimension !== 'number' || !Number.isInteger(dense.dimension) || dense.dimension < 1 || dense.dimension > 20_000) {
        throw failure(400, 'INVALID_ARGUMENT', 'dimension must be an integer between 1 and 20000')
      }
      const metric = dense.metric ?? 'cosine'
      if (metric !== 'cosine' && metric !== 'euclidean' && metric !== 'dotproduct') throw failure(400, 'INVALID_ARGUMENT', 'metric must be cosine, euclidean or dotproduct')
      const deployment = isObject(body.deployment) ? body.deployment : {}
      if (deployment.deployment_type !== 'managed') throw failure(400, 'INVALID_ARGUMENT', 'the fake serves managed (serverless) deployments only')
      const index: PineconeIndex = {
        name,
        dimension: dense.dimension,
        metric,
        cloud: typeof deployment.cloud === 'string' ? deployment.cloud : 'aws',
        region: typeof deployment.region === 'string' ? deployment.region : 'us-east-1',
        deletionProtection: typeof body.deletion_protection === 'string' ? body.deletion_protection : 'disabled',
        tags: isObject(body.tags) ? (body.tags as Record<string, string>) : null,
        namespaces: new Map(),
      }
      indexes.set(name, index)
      return { status: 201, body: model(index) }
    }
    const name = segments[1] as string
    if (segments.length === 2 && method === 'GET') return { status: 200, body: model(getIndex(name)) }
    if (segments.length === 2 && method === 'DELETE') {
      getIndex(name)
      indexes.delete(name)
      return { status: 202, body: undefined }
    }
    throw failure(404, 'NOT_FOUND', 'Not found')
  }

  const dataPlane = (request: FakeRequest, body: Record<string, unknown>): { status: number; body: unknown } => {
    const { method, segments, query } = request
    const index = getIndex(segments[1] as string)
    const path = segments.slice(2).join('/')
    const usage = { readUnits: 1 }

    if (path === 'vectors/upsert' && method === 'POST') {
      if (!Array.isArray(body.vectors)) throw failure(400, 'INVALID_ARGUMENT', 'vectors is required')
      if (body.vectors.length === 0 || body.vectors.length > 1000) throw failure(400, 'INVALID_ARGUMENT', 'an upsert carries between 1 and 1000 vectors')
      if (encoder.encode(JSON.stringify(body)).length > maxRequestBytes) throw failure(400, 'INVALID_ARGUMENT', 'Request size exceeds the limit of 2MB')
      const parsed = body.vectors.map((raw): PineconeVector => {
        if (!isObject(raw) || typeof raw.id !== 'string' || raw.id.length === 0 || raw.id.length > 512) {
          throw failure(400, 'INVALID_ARGUMENT', 'Vector ID must be a string of 1 to 512 characters')
        }
        const metadata = checkMetadata(raw.metadata, raw.id)
        return { id: raw.id, values: checkValues(raw.values, index.dimension), ...(metadata === undefined ? {} : { metadata: structuredClone(metadata) }) }
      })
      const namespace = namespaceOf(index, body.namespace, true) as Map<string, PineconeVector>
      for (const vector of parsed) namespace.set(vector.id, vector)
      return { status: 200, body: { upsertedCount: parsed.length } }
    }
    if (path === 'query' && method === 'POST') {
      const topK = body.topK
      if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > 10_000) throw failure(400, 'INVALID_ARGUMENT', 'topK must be between 1 and 10000')
      const includeValues = body.includeValues === true
      const includeMetadata = body.includeMetadata === true
      if ((includeValues || includeMetadata) && topK > 1000) throw failure(400, 'INVALID_ARGUMENT', 'topK must be at most 1000 when including values or metadata')
      const namespace = namespaceOf(index, body.namespace, false) ?? new Map<string, PineconeVector>()
      let queryVector: number[]
      if (typeof body.id === 'string') {
        const source = namespace.get(body.id)
        if (source === undefined) return { status: 200, body: { matches: [], namespace: body.namespace ?? '', usage } }
        queryVector = source.values
      } else {
        queryVector = checkValues(body.vector, index.dimension)
      }
      const check = compilePineconeFilter(body.filter)
      const ascending = index.metric === 'euclidean'
      const hits = [...namespace.values()]
        .filter((vector) => check(vector.metadata ?? {}))
        .map((vector) => ({ vector, score: similarity(index.metric, vector.values, queryVector) }))
        .sort((a, b) => (ascending ? a.score - b.score : b.score - a.score) || (a.vector.id < b.vector.id ? -1 : a.vector.id > b.vector.id ? 1 : 0))
        .slice(0, topK)
      return {
        status: 200,
        body: {
          matches: hits.map(({ vector, score }) => ({ ...toVector(vector, includeValues, includeMetadata), score })),
          namespace: body.namespace ?? '',
          usage,
        },
      }
    }
    if (path === 'vectors/fetch' && method === 'GET') {
      const ids = query.getAll('ids')
      if (ids.length === 0) throw failure(400, 'INVALID_ARGUMENT', 'ids is required')
      if (ids.length > 1000) throw failure(400, 'INVALID_ARGUMENT', 'at most 1000 ids per fetch')
      const namespace = namespaceOf(index, query.get('namespace') ?? '', false)
      const vectors: Record<string, unknown> = {}
      for (const id of ids) {
        const vector = namespace?.get(id)
        if (vector !== undefined) vectors[id] = toVector(vector, true, true)
      }
      return { status: 200, body: { vectors, namespace: query.get('namespace') ?? '', usage } }
    }
    if (path === 'vectors/delete' && method === 'POST') {
      const namespace = namespaceOf(index, body.namespace, false)
      const modes = [body.ids !== undefined, body.deleteAll === true, body.filter !== undefined].filter(Boolean).length
      if (modes !== 1) throw failure(400, 'INVALID_ARGUMENT', 'exactly one of ids, deleteAll or filter is required')
      if (body.ids !== undefined) {
        if (!Array.isArray(body.ids) || body.ids.length > 1000) throw failure(400, 'INVALID_ARGUMENT', 'ids must be a list of at most 1000 ids')
        for (const id of body.ids) namespace?.delete(String(id))
      } else if (body.deleteAll === true) {
        namespace?.clear()
      } else {
        const check = compilePineconeFilter(body.filter)
        if (namespace !== undefined) for (const [id, vector] of namespace) if (check(vector.metadata ?? {})) namespace.delete(id)
      }
      if (namespace !== undefined && namespace.size === 0) index.namespaces.delete(typeof body.namespace === 'string' && body.namespace !== '' ? body.namespace : defaultNamespace)
      return { status: 200, body: {} }
    }
    if (path === 'describe_index_stats' && method === 'POST') {
      // serverless indexes refuse a filter here
      if (body.filter !== undefined) throw failure(400, 'INVALID_ARGUMENT', 'Serverless and starter indexes do not support describing index stats with metadata filtering')
      const namespaces: Record<string, { vectorCount: number }> = {}
      let total = 0
      for (const [name, namespace] of index.namespaces) {
        if (namespace.size === 0) continue
        namespaces[name] = { vectorCount: namespace.size }
        total += namespace.size
      }
      return { status: 200, body: { namespaces, dimension: index.dimension, indexFullness: 0, totalVectorCount: total, metric: index.metric, vectorType: 'dense' } }
    }
    if (path === 'vectors/list' && method === 'GET') {
      const limit = intParameter(query.get('limit'), 'limit', 100, 100)
      const after = afterToken(query.get('paginationToken'))
      const prefix = query.get('prefix') ?? ''
      const namespace = namespaceOf(index, query.get('namespace') ?? '', false)
      const ids = [...(namespace?.keys() ?? [])].filter((id) => id.startsWith(prefix) && (after === undefined || id > after)).sort()
      const page = ids.slice(0, limit)
      return {
        status: 200,
        body: {
          vectors: page.map((id) => ({ id })),
          ...(ids.length > limit ? { pagination: { next: token(page[page.length - 1] as string) } } : {}),
          namespace: query.get('namespace') ?? '',
          usage,
        },
      }
    }
    if (path === 'vectors/fetch_by_metadata' && method === 'POST') {
      if (!isObject(body.filter)) throw failure(400, 'INVALID_ARGUMENT', 'filter is required')
      const check = compilePineconeFilter(body.filter)
      const limit = intParameter(body.limit, 'limit', 100, 10_000)
      const after = afterToken(body.paginationToken)
      const namespace = namespaceOf(index, body.namespace, false)
      const matching = [...(namespace?.values() ?? [])]
        .filter((vector) => (after === undefined || vector.id > after) && check(vector.metadata ?? {}))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
      const page = matching.slice(0, limit)
      return {
        status: 200,
        body: {
          vectors: Object.fromEntries(page.map((vector) => [vector.id, toVector(vector, true, true)])),
          namespace: body.namespace ?? '',
          usage,
          ...(matching.length > limit ? { pagination: { next: token(page[page.length - 1]?.id as string) } } : {}),
        },
      }
    }
    if (path === 'vectors/update' && method === 'POST') {
      const namespace = namespaceOf(index, body.namespace, false)
      if ((body.id === undefined) === (body.filter === undefined)) throw failure(400, 'INVALID_ARGUMENT', 'exactly one of id or filter is required')
      const setMetadata = checkMetadata(body.setMetadata, String(body.id ?? 'filter'))
      const values = body.values === undefined ? undefined : checkValues(body.values, index.dimension)
      let targets: PineconeVector[]
      if (body.id !== undefined) {
        const vector = namespace?.get(String(body.id))
        targets = vector === undefined ? [] : [vector]
      } else {
        const check = compilePineconeFilter(body.filter)
        targets = [...(namespace?.values() ?? [])].filter((vector) => check(vector.metadata ?? {}))
      }
      if (body.dryRun !== true) {
        for (const vector of targets) {
          if (values !== undefined) vector.values = values
          if (setMetadata !== undefined) {
            const merged = { ...vector.metadata, ...structuredClone(setMetadata) }
            checkMetadata(merged, vector.id)
            vector.metadata = merged
          }
        }
      }
      return { status: 200, body: { matchedRecords: targets.length } }
    }
    throw failure(404, 'NOT_FOUND', `Not found: ${method} /${segments.join('/')}`)
  }

  const route = (request: FakeRequest): { status: number; body: unknown } => {
    if (options.apiKey !== undefined && request.headers['api-key'] !== options.apiKey) {
      throw failure(401, 'UNAUTHENTICATED', 'Invalid API Key')
    }
    const body = isObject(request.body) ? request.body : {}
    if (request.segments[0] === 'indexes') return controlPlane(request, body)
    if (request.segments[0] === 'data' && request.segments.length >= 3) return dataPlane(request, body)
    throw failure(404, 'NOT_FOUND', 'Not found')
  }

  const server = await startFakeServer(route, (status, message, code) => ({ error: { code: code ?? statusCode(status), message }, status }))
  baseUrl = server.url

  return {
    get url() {
      return server.url
    },
    get requests() {
      return server.requests
    },
    injectFault: (fault: InjectedFault) => server.injectFault(fault),
    clearRequests: () => server.clearRequests(),
    close: () => server.close(),
    recordCount: (index, namespace = defaultNamespace) => {
      const found = indexes.get(index)
      return found === undefined ? undefined : (found.namespaces.get(namespace === '' ? defaultNamespace : namespace)?.size ?? 0)
    },
    namespaces: (index) => [...(indexes.get(index)?.namespaces ?? new Map<string, Map<string, PineconeVector>>())].filter(([, records]) => records.size > 0).map(([name]) => name),
    tamperMetadata(index, namespace, id, metadata) {
      const vector = indexes.get(index)?.namespaces.get(namespace === '' ? defaultNamespace : namespace)?.get(id)
      if (vector === undefined) throw new TypeError('no such record')
      vector.metadata = structuredClone(metadata)
    },
  }
}
