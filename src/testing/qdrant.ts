// an in-process Qdrant for tests: the REST endpoints the official client calls for collections, points, query,
// scroll, count and payload, with request and response shapes from Qdrant's OpenAPI spec and its own filter evaluator

import { type FakeRequest, type FakeServer, HttpFailure, type InjectedFault, isObject, startFakeServer } from './http.js'
import { compileQdrantFilter, comparePointIds, parsePointId, type QdrantPointId } from './qdrant-filter.js'

type Payload = Record<string, unknown>

interface QdrantPoint {
  readonly id: QdrantPointId
  vector: number[]
  payload: Payload
  version: number
}

type QdrantDistance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan'

interface QdrantCollection {
  readonly size: number
  readonly distance: QdrantDistance
  readonly points: Map<string, QdrantPoint>
  readonly payloadSchema: Map<string, unknown>
  operationId: number
}

/**
 * Options of {@link startQdrantFake}.
 *
 * @example
 * ```ts
 * await startQdrantFake({ apiKey: 'test-key' })
 * ```
 */
export interface QdrantFakeOptions {
  /** When set, every request must carry this `api-key` header (else 401/403, like Qdrant). */
  readonly apiKey?: string
  /** Version reported by `GET /` (default `1.19.0`). */
  readonly version?: string
}

/**
 * A running Qdrant fake.
 *
 * @example
 * ```ts
 * const fake: QdrantFake = await startQdrantFake()
 * fake.pointCount('docs')
 * ```
 */
export interface QdrantFake extends FakeServer {
  /** Number of points stored in a collection, or undefined when it does not exist. */
  pointCount(collection: string): number | undefined
  /** The raw payload of a point (as Qdrant stores it), for tests that inspect what an adapter wrote. */
  rawPoint(collection: string, id: number | string): { readonly vector: readonly number[]; readonly payload: Payload } | undefined
  /** Overwrites a stored payload as a compromised database would (for re-verification tests). */
  tamperPayload(collection: string, id: number | string, payload: Payload): void
}

const distances: readonly QdrantDistance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan']
const collectionNamePattern = /^[^/\\:*?"<>|\0]{1,255}$/

function ok(result: unknown): { status: number; body: unknown } {
  return { status: 200, body: { result, status: 'ok', time: 0.0001 } }
}

function idKey(id: QdrantPointId): string {
  return typeof id === 'number' ? `n:${id}` : `u:${id}`
}

function normalize(vector: readonly number[]): number[] {
  let norm = 0
  for (const value of vector) norm += value * value
  norm = Math.sqrt(norm)
  // Qdrant leaves a zero vector as it is
  return norm === 0 ? [...vector] : vector.map((value) => value / norm)
}

function score(distance: QdrantDistance, stored: readonly number[], query: readonly number[]): number {
  let total = 0
  for (let index = 0; index < stored.length; index++) {
    const a = stored[index] as number
    const b = query[index] as number
    if (distance === 'Euclid') total += (a - b) ** 2
    else if (distance === 'Manhattan') total += Math.abs(a - b)
    else total += a * b
  }
  return distance === 'Euclid' ? Math.sqrt(total) : total
}

function selectPayload(payload: Payload, selector: unknown, defaultValue: boolean): Payload | undefined {
  const spec = selector === undefined || selector === null ? defaultValue : selector
  if (spec === true) return payload
  if (spec === false) return undefined
  const pick = (keys: readonly unknown[]): Payload => {
    const out: Payload = {}
    for (const key of keys) if (typeof key === 'string' && Object.hasOwn(payload, key)) out[key] = payload[key]
    return out
  }
  if (Array.isArray(spec)) return pick(spec)
  if (isObject(spec) && Array.isArray(spec.include)) return pick(spec.include)
  if (isObject(spec) && Array.isArray(spec.exclude)) {
    const excluded = new Set(spec.exclude)
    return Object.fromEntries(Object.entries(payload).filter(([key]) => !excluded.has(key)))
  }
  throw new HttpFailure(400, 'Format error in JSON body: with_payload must be a boolean, a list of keys or a selector')
}

function parseVector(value: unknown, size: number): number[] {
  // a single unnamed dense vector; named vectors are outside what the fake serves
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'number' && Number.isFinite(item))) {
    throw new HttpFailure(400, 'Format error in JSON body: vector must be a list of numbers')
  }
  if (value.length !== size) {
    throw new HttpFailure(400, `Wrong input: Vector dimension error: expected dim: ${size}, got ${value.length}`)
  }
  return value as number[]
}

/**
 * Starts an in-process Qdrant fake on 127.0.0.1 (random port). Point `new QdrantClient({ url: fake.url,
 * checkCompatibility: false })` at it. Node only.
 *
 * @example
 * ```ts
 * import { QdrantClient } from '@qdrant/js-client-rest'
 * import { startQdrantFake } from 'vectorwarden/testing'
 *
 * const fake = await startQdrantFake()
 * const client = new QdrantClient({ url: fake.url, checkCompatibility: false })
 * // ... run your service's tests ...
 * await fake.close()
 * ```
 */
export async function startQdrantFake(options: QdrantFakeOptions = {}): Promise<QdrantFake> {
  const collections = new Map<string, QdrantCollection>()
  const version = options.version ?? '1.19.0'

  const getCollection = (name: string): QdrantCollection => {
    const collection = collections.get(name)
    if (collection === undefined) throw new HttpFailure(404, `Not found: Collection \`${name}\` doesn't exist!`)
    return collection
  }

  const completed = (collection: QdrantCollection): { status: number; body: unknown } =>
    ok({ operation_id: collection.operationId++, status: 'completed' })

  const selectPoints = (collection: QdrantCollection, body: Record<string, unknown>): QdrantPoint[] => {
    if (Array.isArray(body.points)) {
      return body.points.map(parsePointId).flatMap((id) => {
        const point = collection.points.get(idKey(id))
        return point === undefined ? [] : [point]
      })
    }
    if (body.filter !== undefined) {
      const check = compileQdrantFilter(body.filter)
      return [...collection.points.values()].filter((point) => check(point.payload, point.id))
    }
    throw new HttpFailure(400, 'Format error in JSON body: expected `points` or `filter`')
  }

  const route = (request: FakeRequest): { status: number; body: unknown } => {
    if (options.apiKey !== undefined) {
      const provided = request.headers['api-key']
      if (provided === undefined) throw new HttpFailure(401, 'Must provide an API key or an Authorization bearer token')
      if (provided !== options.apiKey) throw new HttpFailure(403, 'Invalid API key or JWT')
    }
    const { method, segments } = request
    const body = isObject(request.body) ? request.body : {}
    if (segments.length === 0 && method === 'GET') return { status: 200, body: { title: 'qdrant - vector search engine', version, commit: 'fake' } }
    if (segments[0] !== 'collections') throw new HttpFailure(404, 'Not found')
    if (segments.length === 1 && method === 'GET') {
      return ok({ collections: [...collections.keys()].map((name) => ({ name })) })
    }
    const name = segments[1] as string
    const rest = segments.slice(2).join('/')

    if (rest === '') {
      if (method === 'PUT') {
        if (!collectionNamePattern.test(name)) throw new HttpFailure(422, 'Validation error in path parameters: collection name is invalid')
        if (collections.has(name)) throw new HttpFailure(409, `Wrong input: Collection \`${name}\` already exists!`)
        const vectors = body.vectors
        if (!isObject(vectors) || typeof vectors.size !== 'number' || !Number.isInteger(vectors.size) || vectors.size < 1) {
          throw new HttpFailure(400, 'Format error in JSON body: vectors must be { size, distance }')
        }
        if (!distances.includes(vectors.distance as QdrantDistance)) {
          throw new HttpFailure(400, 'Format error in JSON body: unknown distance')
        }
        collections.set(name, {
          size: vectors.size,
          distance: vectors.distance as QdrantDistance,
          points: new Map(),
          payloadSchema: new Map(),
          operationId: 0,
        })
        return ok(true)
      }
      if (method === 'DELETE') return ok(collections.delete(name))
      if (method === 'GET') {
        const collection = getCollection(name)
        return ok({
          status: 'green',
          optimizer_status: 'ok',
          indexed_vectors_count: 0,
          points_count: collection.points.size,
          segments_count: 1,
          config: {
            params: {
              vectors: { size: collection.size, distance: collection.distance },
              shard_number: 1,
              replication_factor: 1,
              write_consistency_factor: 1,
              on_disk_payload: true,
            },
            hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
            optimizer_config: {
              deleted_threshold: 0.2,
              vacuum_min_vector_number: 1000,
              default_segment_number: 0,
              flush_interval_sec: 5,
            },
            wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
          },
          payload_schema: Object.fromEntries(
            [...collection.payloadSchema].map(([field, schema]) => [field, { ...(isObject(schema) ? { data_type: schema.type, params: schema } : { data_type: schema }), points: collection.points.size }]),
          ),
        })
      }
    }
    if (rest === 'exists' && method === 'GET') return ok({ exists: collections.has(name) })

    const collection = getCollection(name)
    if (rest === 'index' && method === 'PUT') {
      if (typeof body.field_name !== 'string') throw new HttpFailure(400, 'Format error in JSON body: field_name is required')
      const schema = body.field_schema
      const type = isObject(schema) ? schema.type : schema
      if (!['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'].includes(type as string)) {
        throw new HttpFailure(400, 'Format error in JSON body: unknown field_schema')
      }
      collection.payloadSchema.set(body.field_name, schema)
      return completed(collection)
    }
    if (rest === 'points' && method === 'PUT') {
      if (!Array.isArray(body.points)) throw new HttpFailure(400, 'Format error in JSON body: the fake accepts the `points` list form only')
      // validate the whole batch before writing any of it
      const parsed = body.points.map((raw) => {
        if (!isObject(raw)) throw new HttpFailure(400, 'Format error in JSON body: a point must be an object')
        const id = parsePointId(raw.id)
        const vector = parseVector(raw.vector, collection.size)
        if (raw.payload !== undefined && raw.payload !== null && !isObject(raw.payload)) {
          throw new HttpFailure(400, 'Format error in JSON body: payload must be an object')
        }
        return { id, vector, payload: (raw.payload ?? {}) as Payload }
      })
      for (const point of parsed) {
        collection.points.set(idKey(point.id), {
          id: point.id,
          vector: collection.distance === 'Cosine' ? normalize(point.vector) : point.vector,
          payload: structuredClone(point.payload),
          version: collection.operationId,
        })
      }
      return completed(collection)
    }
    if (rest === 'points' && method === 'POST') {
      if (!Array.isArray(body.ids)) throw new HttpFailure(400, 'Format error in JSON body: ids is required')
      const found = body.ids.map(parsePointId).flatMap((id) => {
        const point = collection.points.get(idKey(id))
        return point === undefined ? [] : [point]
      })
      return ok(found.map((point) => toRecord(point, body.with_payload, body.with_vector, true)))
    }
    if (rest === 'points/delete' && method === 'POST') {
      for (const point of selectPoints(collection, body)) collection.points.delete(idKey(point.id))
      return completed(collection)
    }
    if (rest === 'points/query' && method === 'POST') {
      const raw = isObject(body.query) && 'nearest' in body.query ? body.query.nearest : body.query
      const limit = body.limit ?? 10
      const offset = body.offset ?? 0
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new HttpFailure(422, 'Validation error in JSON body: limit must be at least 1')
      if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new HttpFailure(400, 'Format error in JSON body: offset')
      const check = compileQdrantFilter(body.filter)
      const candidates = [...collection.points.values()].filter((point) => check(point.payload, point.id))
      let hits: Array<{ point: QdrantPoint; score: number }>
      if (raw === undefined || raw === null) {
        hits = candidates.sort((a, b) => comparePointIds(a.id, b.id)).map((point) => ({ point, score: 0 }))
      } else {
        const vector = parseVector(raw, collection.size)
        const query = collection.distance === 'Cosine' ? normalize(vector) : vector
        const ascending = collection.distance === 'Euclid' || collection.distance === 'Manhattan'
        hits = candidates.map((point) => ({ point, score: score(collection.distance, point.vector, query) }))
        hits.sort((a, b) => (ascending ? a.score - b.score : b.score - a.score) || comparePointIds(a.point.id, b.point.id))
        const threshold = body.score_threshold
        if (typeof threshold === 'number') hits = hits.filter((hit) => (ascending ? hit.score <= threshold : hit.score >= threshold))
      }
      const page = hits.slice(offset, offset + limit)
      return ok({
        points: page.map(({ point, score: value }) => ({ ...toRecord(point, body.with_payload, body.with_vector, false), version: point.version, score: value })),
      })
    }
    if (rest === 'points/scroll' && method === 'POST') {
      const limit = body.limit ?? 10
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new HttpFailure(422, 'Validation error in JSON body: limit must be at least 1')
      if (body.order_by !== undefined) throw new HttpFailure(501, 'the fake does not implement order_by')
      const check = compileQdrantFilter(body.filter)
      const start = body.offset === undefined || body.offset === null ? undefined : parsePointId(body.offset)
      const sorted = [...collection.points.values()]
        .filter((point) => (start === undefined || comparePointIds(point.id, start) >= 0) && check(point.payload, point.id))
        .sort((a, b) => comparePointIds(a.id, b.id))
      const page = sorted.slice(0, limit)
      return ok({
        points: page.map((point) => toRecord(point, body.with_payload, body.with_vector, true)),
        next_page_offset: sorted[limit]?.id ?? null,
      })
    }
    if (rest === 'points/count' && method === 'POST') {
      const check = compileQdrantFilter(body.filter)
      let count = 0
      for (const point of collection.points.values()) if (check(point.payload, point.id)) count++
      return ok({ count })
    }
    if (rest === 'points/payload' && (method === 'POST' || method === 'PUT')) {
      if (!isObject(body.payload)) throw new HttpFailure(400, 'Format error in JSON body: payload is required')
      if (body.key !== undefined && body.key !== null) throw new HttpFailure(501, 'the fake does not implement payload key paths')
      if ((body.points === undefined) === (body.filter === undefined)) {
        throw new HttpFailure(400, 'Format error in JSON body: exactly one of `points` or `filter` is required')
      }
      for (const point of selectPoints(collection, body)) {
        point.payload = method === 'PUT' ? structuredClone(body.payload) : { ...point.payload, ...structuredClone(body.payload) }
        point.version = collection.operationId
      }
      return completed(collection)
    }
    if (rest === 'points/payload/delete' && method === 'POST') {
      if (!Array.isArray(body.keys)) throw new HttpFailure(400, 'Format error in JSON body: keys is required')
      if ((body.points === undefined) === (body.filter === undefined)) {
        throw new HttpFailure(400, 'Format error in JSON body: exactly one of `points` or `filter` is required')
      }
      for (const point of selectPoints(collection, body)) {
        for (const key of body.keys) if (typeof key === 'string') delete point.payload[key]
        point.version = collection.operationId
      }
      return completed(collection)
    }
    throw new HttpFailure(404, `Not found: ${method} /${segments.join('/')}`)
  }

  const server = await startFakeServer(route, (_status, message) => ({ status: { error: message }, time: 0.0001 }))

  const lookup = (collection: string, id: number | string): QdrantPoint | undefined =>
    collections.get(collection)?.points.get(idKey(parsePointIdSafe(id)))

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
    pointCount: (collection) => collections.get(collection)?.points.size,
    rawPoint(collection, id) {
      const point = lookup(collection, id)
      return point === undefined ? undefined : { vector: [...point.vector], payload: structuredClone(point.payload) }
    },
    tamperPayload(collection, id, payload) {
      const point = lookup(collection, id)
      if (point === undefined) throw new TypeError('no such point')
      point.payload = structuredClone(payload)
    },
  }
}

function parsePointIdSafe(id: number | string): QdrantPointId {
  try {
    return parsePointId(id)
  } catch {
    throw new TypeError('not a Qdrant point id')
  }
}

function toRecord(point: QdrantPoint, withPayload: unknown, withVector: unknown, payloadByDefault: boolean): Record<string, unknown> {
  const record: Record<string, unknown> = { id: point.id }
  const payload = selectPayload(point.payload, withPayload, payloadByDefault)
  if (payload !== undefined) record.payload = structuredClone(payload)
  if (withVector === true) record.vector = [...point.vector]
  return record
}
