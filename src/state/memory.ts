// the in-process state store: the default for one instance, and the local fallback when Redis cannot be reached

import { BASELINE_SLOTS, addScore, newBaselines, newBucket, takeTokens, updateBaseline } from './algorithms.js'
import {
  type BaselineInput,
  type BaselineState,
  type StateOperation,
  type StateResult,
  type StateStore,
  TALLY_TOTAL,
} from './types.js'

/** Options of {@link memoryStateStore}. */
export interface MemoryStateStoreOptions {
  /** Clock for key expiry, ms since the epoch. Default `Date.now`. */
  readonly clock?: () => number
  /** Most keys kept; past it, expired keys are swept, then the oldest keys are dropped. Default 1 000 000. */
  readonly maxKeys?: number
}

interface Entry {
  value: unknown
  expiresAt: number
}

interface LevelRecord {
  level: number
  until: number
}

interface BaselineEntry {
  readonly state: Float64Array
  /** Distinct members of the current window, for the metric that counts them. */
  members: Set<string> | undefined
}

/** The in-memory store, with a synchronous `executeSync` for callers on a hot path. */
export interface MemoryStateStore extends StateStore {
  /** Same as `execute`, without the promise. */
  executeSync(operations: readonly StateOperation[]): StateResult[]
  /** Number of live keys (expired keys may be counted until swept). */
  readonly size: number
}

/**
 * Creates an in-process {@link StateStore}. State is lost on restart and not shared between instances: use
 * `redisStateStore` from `vectorwarden/redis` for a fleet.
 *
 * @example
 * ```ts
 * const analytics = createAnalytics({ store: memoryStateStore() })
 * ```
 */
export function memoryStateStore(options: MemoryStateStoreOptions = {}): MemoryStateStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('memoryStateStore: options must be an object')
  const clock = options.clock ?? Date.now
  const maxKeys = options.maxKeys ?? 1_000_000
  if (typeof clock !== 'function') throw new TypeError('memoryStateStore: clock must be a function')
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('memoryStateStore: maxKeys must be a positive integer')
  const entries = new Map<string, Entry>()

  const live = (key: string, wallNow: number): Entry | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== 0 && entry.expiresAt <= wallNow) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  const put = (key: string, value: unknown, ttlMs: number, wallNow: number): Entry => {
    let entry = entries.get(key)
    if (entry === undefined) {
      if (entries.size >= maxKeys) evict(wallNow)
      entry = { value, expiresAt: 0 }
      entries.set(key, entry)
    }
    entry.value = value
    entry.expiresAt = ttlMs > 0 ? wallNow + ttlMs : 0
    return entry
  }

  const touch = (entry: Entry, ttlMs: number, wallNow: number): void => {
    entry.expiresAt = ttlMs > 0 ? wallNow + ttlMs : 0
  }

  function evict(wallNow: number): void {
    for (const [key, entry] of entries) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= wallNow) entries.delete(key)
    }
    // maps iterate in insertion order, so the first keys are the oldest
    const excess = entries.size - Math.floor(maxKeys * 0.9)
    if (excess > 0) {
      let removed = 0
      for (const key of entries.keys()) {
        if (removed++ >= excess) break
        entries.delete(key)
      }
    }
  }

  function run(operation: StateOperation, wallNow: number): StateResult {
    switch (operation.kind) {
      case 'get': {
        const entry = live(operation.key, wallNow)
        if (entry === undefined) return null
        // counters read back as text, as Redis returns them
        return typeof entry.value === 'string' ? entry.value : typeof entry.value === 'number' ? String(entry.value) : null
      }
      case 'set':
        put(operation.key, operation.value, operation.ttlMs, wallNow)
        return null
      case 'delete':
        entries.delete(operation.key)
        return null
      case 'increment': {
        const entry = live(operation.key, wallNow)
        const previous = entry !== undefined && typeof entry.value === 'number' ? entry.value : 0
        const next = previous + operation.by
        if (entry === undefined) put(operation.key, next, operation.ttlMs, wallNow)
        else {
          entry.value = next
          touch(entry, operation.ttlMs, wallNow)
        }
        return next
      }
      case 'swap': {
        const entry = live(operation.key, wallNow)
        const previous = entry !== undefined && typeof entry.value === 'string' ? entry.value : null
        put(operation.key, operation.value, operation.ttlMs, wallNow)
        return previous
      }
      case 'add': {
        let entry = live(operation.key, wallNow)
        if (entry === undefined || !(entry.value instanceof Set)) entry = put(operation.key, new Set<string>(), 0, wallNow)
        const members = entry.value as Set<string>
        const isNew = !members.has(operation.member)
        if (isNew) members.add(operation.member)
        if (operation.ttlMs === 0) entry.expiresAt = 0
        else if (isNew && members.size === 1) entry.expiresAt = wallNow + operation.ttlMs
        else if (entry.expiresAt !== 0 && entry.expiresAt < wallNow + operation.ttlMs) entry.expiresAt = wallNow + operation.ttlMs
        return isNew
      }
      case 'raise': {
        const entry = live(operation.key, wallNow)
        const record = entry !== undefined && typeof entry.value === 'object' && entry.value !== null ? (entry.value as LevelRecord) : undefined
        const current = record !== undefined && record.until > operation.now ? record.level : 0
        if (operation.level > current) {
          put(operation.key, { level: operation.level, until: operation.now + operation.durationMs }, operation.durationMs, wallNow)
          return operation.level
        }
        if (record !== undefined && entry !== undefined && operation.level === current && current > 0) {
          const until = operation.now + operation.durationMs
          if (until > record.until) {
            record.until = until
            touch(entry, operation.durationMs, wallNow)
          }
        }
        return current
      }
      case 'members': {
        const entry = live(operation.key, wallNow)
        return entry !== undefined && entry.value instanceof Set ? [...(entry.value as Set<string>)] : []
      }
      case 'tally': {
        let entry = live(operation.key, wallNow)
        if (entry === undefined || !(entry.value instanceof Map)) entry = put(operation.key, new Map<string, number>(), 0, wallNow)
        const counts = entry.value as Map<string, number>
        const field = counts.get(operation.field) ?? 0
        const total = counts.get(TALLY_TOTAL) ?? 0
        counts.set(operation.field, field + 1)
        counts.set(TALLY_TOTAL, total + 1)
        touch(entry, operation.ttlMs, wallNow)
        return { field, total }
      }
      case 'take': {
        let entry = live(operation.key, wallNow)
        if (entry === undefined || !(entry.value instanceof Float64Array)) {
          entry = put(operation.key, newBucket(operation.bucket.capacity, operation.now), 0, wallNow)
        }
        const result = takeTokens(entry.value as Float64Array, operation.bucket, operation.cost, operation.now)
        touch(entry, operation.ttlMs, wallNow)
        return result
      }
      case 'baseline': {
        const metrics = operation.metrics
        let entry = live(operation.key, wallNow)
        let baselines = entry?.value as BaselineEntry | undefined
        if (
          entry === undefined ||
          typeof baselines !== 'object' ||
          baselines === null ||
          !(baselines.state instanceof Float64Array) ||
          baselines.state.length !== metrics.length * BASELINE_SLOTS
        ) {
          const windows = metrics.map((metric) => metric.parameters.windowMs)
          baselines = { state: newBaselines(windows, operation.now), members: undefined }
          entry = put(operation.key, baselines, 0, wallNow)
        }
        const state = baselines.state
        const results: BaselineState[] = new Array(metrics.length)
        for (let index = 0; index < metrics.length; index++) {
          const metric = metrics[index] as BaselineInput
          const offset = index * BASELINE_SLOTS
          let value = metric.value
          if (metric.member !== undefined) {
            // distinct counting: the member set belongs to the current window
            if (baselines.members === undefined || Math.floor(operation.now / metric.parameters.windowMs) > (state[offset] as number)) {
              baselines.members = new Set()
            }
            if (baselines.members.has(metric.member)) value = 0
            else baselines.members.add(metric.member)
          }
          results[index] = updateBaseline(state, offset, value, operation.now, metric.parameters)
        }
        touch(entry, operation.ttlMs, wallNow)
        return results
      }
      case 'score': {
        let entry = live(operation.key, wallNow)
        if (entry === undefined || !(entry.value instanceof Float64Array)) {
          const state = new Float64Array(2)
          state[1] = operation.now
          entry = put(operation.key, state, 0, wallNow)
        }
        const score = addScore(entry.value as Float64Array, operation.add, operation.now, operation.halfLifeMs, operation.max)
        touch(entry, operation.ttlMs, wallNow)
        return score
      }
      default:
        throw new TypeError(`memoryStateStore: unknown operation ${String((operation as { kind?: unknown }).kind)}`)
    }
  }

  const executeSync = (operations: readonly StateOperation[]): StateResult[] => {
    const wallNow = clock()
    const results: StateResult[] = new Array(operations.length)
    for (let index = 0; index < operations.length; index++) results[index] = run(operations[index] as StateOperation, wallNow)
    return results
  }

  return {
    name: 'memory',
    executeSync,
    execute: (operations) => {
      try {
        return Promise.resolve(executeSync(operations))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    get size() {
      return entries.size
    },
    close: async () => {
      entries.clear()
    },
  }
}
