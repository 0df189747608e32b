// the in-process state store: the default for one instance, and the local fallback when Redis cannot be reached

import {
  advanceBaseline,
  BASELINE_QUIET,
  BASELINE_SLOTS,
  addScore,
  newBaselines,
  newBucket,
  takeTokens,
  updateBaseline,
} from './algorithms.js'
import {
  type BaselineInput,
  type BaselineParameters,
  type BaselineState,
  type BucketParameters,
  type StateOperation,
  type StateResult,
  type StateStore,
  TALLY_TOTAL,
  type TakeResult,
  type TallyResult,
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

/** A key and, once looked up, its entry. */
interface Slot {
  key: string
  entry: Entry | undefined
}

/** Where a principal was last seen, for `travel`. The time sits in a typed array: no heap number per update. */
interface Whereabouts {
  place: string
  readonly at: Float64Array
}

const isWhereabouts = (value: unknown): value is Whereabouts =>
  typeof value === 'object' && value !== null && (value as Partial<Whereabouts>).at instanceof Float64Array && typeof (value as Partial<Whereabouts>).place === 'string'

interface LevelRecord {
  level: number
  until: number
}

interface BaselineEntry {
  readonly state: Float64Array
  /** Distinct members of the current window, for the metric that counts them. */
  members: Set<string> | undefined
}

/**
 * A key of one memory store that remembers its entry, so a caller that reuses it (the analytics keep one per
 * principal) skips the map lookup while the entry lives. Made by `direct.slot`; use it only with that store.
 *
 * @example
 * ```ts
 * const hours = store.direct.slot('p{acme|idp|alice}:h')
 * store.direct.tally(hours, '9', 86_400_000, store.direct.wallClock())
 * ```
 */
export interface MemoryStateKey {
  readonly key: string
}

/**
 * The operations of a {@link MemoryStateStore} one at a time, synchronously and without operation objects, for the
 * analytics' hot path. Each has the semantics of the batch operation of the same name; `wallNow` is the store's
 * clock for key expiry, read once per call with `wallClock()`.
 *
 * @example
 * ```ts
 * const store = memoryStateStore()
 * const risk = store.direct.slot('p{alice}:r')
 * const score = store.direct.score(risk, 0, 3_600_000, 100, Date.now(), 86_400_000, store.direct.wallClock())
 * ```
 */
export interface MemoryStateDirect {
  /** The store's clock (ms since the epoch), for the `wallNow` of the other methods. */
  wallClock(): number
  /** A reusable handle on `key` for the other methods. */
  slot(key: string): MemoryStateKey
  /** The `raise` operation. */
  raise(key: MemoryStateKey, level: number, now: number, durationMs: number, wallNow: number): number
  /** The `score` operation. */
  score(key: MemoryStateKey, add: number, halfLifeMs: number, max: number, now: number, ttlMs: number, wallNow: number): number
  /** The `take` operation. */
  take(key: MemoryStateKey, bucket: BucketParameters, cost: number, now: number, ttlMs: number, wallNow: number): TakeResult
  /** The `tally` operation. */
  tally(key: MemoryStateKey, field: string, ttlMs: number, wallNow: number): TallyResult
  /** The `add` operation. */
  add(key: MemoryStateKey, member: string, ttlMs: number, wallNow: number): boolean
  /** The `swap` operation. */
  swap(key: MemoryStateKey, value: string, ttlMs: number, wallNow: number): string | null
  /**
   * `swap` of a last-seen location, `place` being `latitude,longitude,` and the value `place` + `now`, without
   * printing `now` per call: returns the previous value when it was somewhere else, and null when there was none
   * or it was the same place (no jump to judge). The key then holds a private record: use only `travel` on it.
   */
  travel(key: MemoryStateKey, place: string, now: number, ttlMs: number, wallNow: number): string | null
  /**
   * The `baseline` operation with the metrics given as parallel lists (`member` belongs to the metric at
   * `memberIndex`, -1 for none). Returns which windows are in alarm: bit `i` for metric `i`.
   */
  baseline(
    key: MemoryStateKey,
    parameters: readonly BaselineParameters[],
    values: ArrayLike<number>,
    memberIndex: number,
    member: string | undefined,
    now: number,
    ttlMs: number,
    wallNow: number,
  ): number
}

/** The in-memory store, with a synchronous `executeSync` and `direct` operations for callers on a hot path. */
export interface MemoryStateStore extends StateStore {
  /** Same as `execute`, without the promise. */
  executeSync(operations: readonly StateOperation[]): StateResult[]
  /** The operations one at a time, without operation objects or promises. */
  readonly direct: MemoryStateDirect
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

  // a slot caches its key's entry so a hot caller skips the map lookup; an entry taken out of the map is marked
  // dead (expiresAt -1), so a slot never acts on an entry the map no longer holds
  const remove = (key: string, entry: Entry): void => {
    entries.delete(key)
    entry.expiresAt = -1
  }

  const live = (slot: Slot, wallNow: number): Entry | undefined => {
    let entry = slot.entry
    if (entry === undefined || entry.expiresAt < 0) {
      entry = entries.get(slot.key)
      slot.entry = entry
      if (entry === undefined) return undefined
    }
    if (entry.expiresAt !== 0 && entry.expiresAt <= wallNow) {
      remove(slot.key, entry)
      slot.entry = undefined
      return undefined
    }
    return entry
  }

  const put = (slot: Slot, value: unknown, ttlMs: number, wallNow: number): Entry => {
    let entry = slot.entry
    if (entry === undefined || entry.expiresAt < 0) {
      entry = entries.get(slot.key)
      if (entry === undefined) {
        if (entries.size >= maxKeys) evict(wallNow)
        entry = { value, expiresAt: 0 }
        entries.set(slot.key, entry)
      }
      slot.entry = entry
    }
    entry.value = value
    entry.expiresAt = ttlMs > 0 ? wallNow + ttlMs : 0
    return entry
  }

  // the batch path names keys by string: one scratch slot serves it, since a batch runs synchronously
  const scratch: Slot = { key: '', entry: undefined }
  const at = (key: string): Slot => {
    scratch.key = key
    scratch.entry = undefined
    return scratch
  }

  const touch = (entry: Entry, ttlMs: number, wallNow: number): void => {
    entry.expiresAt = ttlMs > 0 ? wallNow + ttlMs : 0
  }

  /** Whether an entry holds a containment level still in force (a `raise` record above 0 that has not ended). */
  const inForce = (entry: Entry, wallNow: number): boolean => {
    const value = entry.value as Partial<LevelRecord> | null
    return typeof value === 'object' && value !== null && typeof value.level === 'number' && value.level > 0 && (entry.expiresAt === 0 || entry.expiresAt > wallNow)
  }

  function evict(wallNow: number): void {
    for (const [key, entry] of entries) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= wallNow) remove(key, entry)
    }
    // maps iterate in insertion order, so the first keys are the oldest; a containment still in force is never
    // evicted (other principals' calls would otherwise lift it)
    const excess = entries.size - Math.floor(maxKeys * 0.9)
    if (excess > 0) {
      let removed = 0
      for (const [key, entry] of entries) {
        if (removed >= excess) break
        if (inForce(entry, wallNow)) continue
        remove(key, entry)
        removed++
      }
    }
  }

  const raise = (slot: Slot, level: number, now: number, durationMs: number, wallNow: number): number => {
    const entry = live(slot, wallNow)
    const record = entry !== undefined && typeof entry.value === 'object' && entry.value !== null ? (entry.value as LevelRecord) : undefined
    const current = record !== undefined && record.until > now ? record.level : 0
    if (level > current) {
      put(slot, { level, until: now + durationMs }, durationMs, wallNow)
      return level
    }
    if (record !== undefined && entry !== undefined && level === current && current > 0) {
      const until = now + durationMs
      if (until > record.until) {
        record.until = until
        touch(entry, durationMs, wallNow)
      }
    }
    return current
  }

  const score = (slot: Slot, add: number, halfLifeMs: number, max: number, now: number, ttlMs: number, wallNow: number): number => {
    let entry = live(slot, wallNow)
    if (entry === undefined || !(entry.value instanceof Float64Array)) {
      const state = new Float64Array(2)
      state[1] = now
      entry = put(slot, state, 0, wallNow)
    }
    const result = addScore(entry.value as Float64Array, add, now, halfLifeMs, max)
    touch(entry, ttlMs, wallNow)
    return result
  }

  const take = (slot: Slot, bucket: BucketParameters, cost: number, now: number, ttlMs: number, wallNow: number): TakeResult => {
    let entry = live(slot, wallNow)
    if (entry === undefined || !(entry.value instanceof Float64Array)) entry = put(slot, newBucket(bucket.capacity, now), 0, wallNow)
    const result = takeTokens(entry.value as Float64Array, bucket, cost, now)
    touch(entry, ttlMs, wallNow)
    return result
  }

  const tally = (slot: Slot, field: string, ttlMs: number, wallNow: number): TallyResult => {
    let entry = live(slot, wallNow)
    if (entry === undefined || !(entry.value instanceof Map)) entry = put(slot, new Map<string, number>(), 0, wallNow)
    const counts = entry.value as Map<string, number>
    const count = counts.get(field) ?? 0
    const total = counts.get(TALLY_TOTAL) ?? 0
    counts.set(field, count + 1)
    counts.set(TALLY_TOTAL, total + 1)
    touch(entry, ttlMs, wallNow)
    return { field: count, total }
  }

  const add = (slot: Slot, member: string, ttlMs: number, wallNow: number): boolean => {
    let entry = live(slot, wallNow)
    if (entry === undefined || !(entry.value instanceof Set)) entry = put(slot, new Set<string>(), 0, wallNow)
    const members = entry.value as Set<string>
    const isNew = !members.has(member)
    if (isNew) members.add(member)
    if (ttlMs === 0) entry.expiresAt = 0
    else if (isNew && members.size === 1) entry.expiresAt = wallNow + ttlMs
    else if (entry.expiresAt !== 0 && entry.expiresAt < wallNow + ttlMs) entry.expiresAt = wallNow + ttlMs
    return isNew
  }

  const swap = (slot: Slot, value: string, ttlMs: number, wallNow: number): string | null => {
    const entry = live(slot, wallNow)
    const previous = entry !== undefined && typeof entry.value === 'string' ? entry.value : null
    put(slot, value, ttlMs, wallNow)
    return previous
  }

  const travel = (slot: Slot, place: string, now: number, ttlMs: number, wallNow: number): string | null => {
    const entry = live(slot, wallNow)
    const value = entry?.value
    if (entry !== undefined && isWhereabouts(value)) {
      const previous = value.place === place ? null : value.place + String(value.at[0])
      value.place = place
      value.at[0] = now
      touch(entry, ttlMs, wallNow)
      return previous
    }
    // a value written by `swap` reads the same way
    const previous = typeof value === 'string' && !value.startsWith(place) ? value : null
    const at = new Float64Array(1)
    at[0] = now
    put(slot, { place, at } satisfies Whereabouts, ttlMs, wallNow)
    return previous
  }

  /** The baselines under `key`, or undefined when missing or shaped for another number of metrics. */
  const baselinesAt = (entry: Entry | undefined, count: number): BaselineEntry | undefined => {
    const baselines = entry?.value as BaselineEntry | undefined
    return typeof baselines === 'object' &&
      baselines !== null &&
      baselines.state instanceof Float64Array &&
      baselines.state.length === count * BASELINE_SLOTS
      ? baselines
      : undefined
  }

  /** Distinct counting: whether `member` is new in the current window of the metric at `offset`. */
  const isNewMember = (baselines: BaselineEntry, offset: number, member: string, now: number, windowMs: number): boolean => {
    // the member set belongs to the current window
    if (baselines.members === undefined || Math.floor(now / windowMs) > (baselines.state[offset] as number)) {
      baselines.members = new Set()
    }
    if (baselines.members.has(member)) return false
    baselines.members.add(member)
    return true
  }

  const baseline = (
    slot: Slot,
    parameters: readonly BaselineParameters[],
    values: ArrayLike<number>,
    memberIndex: number,
    member: string | undefined,
    now: number,
    ttlMs: number,
    wallNow: number,
  ): number => {
    const count = parameters.length
    let entry = live(slot, wallNow)
    let baselines = baselinesAt(entry, count)
    if (entry === undefined || baselines === undefined) {
      const windows: number[] = new Array(count)
      for (let index = 0; index < count; index++) windows[index] = (parameters[index] as BaselineParameters).windowMs
      baselines = { state: newBaselines(windows, now), members: undefined }
      entry = put(slot, baselines, 0, wallNow)
    }
    const state = baselines.state
    let alarms = 0
    for (let index = 0; index < count; index++) {
      const metric = parameters[index] as BaselineParameters
      const offset = index * BASELINE_SLOTS
      let value = values[index] as number
      if (index === memberIndex && member !== undefined && !isNewMember(baselines, offset, member, now, metric.windowMs)) value = 0
      if (advanceBaseline(state, offset, value, now, metric) !== BASELINE_QUIET) alarms |= 1 << index
    }
    touch(entry, ttlMs, wallNow)
    return alarms
  }

  function run(operation: StateOperation, wallNow: number): StateResult {
    switch (operation.kind) {
      case 'get': {
        const entry = live(at(operation.key), wallNow)
        if (entry === undefined) return null
        // counters read back as text, as Redis returns them
        return typeof entry.value === 'string' ? entry.value : typeof entry.value === 'number' ? String(entry.value) : null
      }
      case 'set':
        put(at(operation.key), operation.value, operation.ttlMs, wallNow)
        return null
      case 'delete': {
        const entry = entries.get(operation.key)
        if (entry !== undefined) remove(operation.key, entry)
        return null
      }
      case 'increment': {
        const entry = live(at(operation.key), wallNow)
        const previous = entry !== undefined && typeof entry.value === 'number' ? entry.value : 0
        const next = previous + operation.by
        if (entry === undefined) put(at(operation.key), next, operation.ttlMs, wallNow)
        else {
          entry.value = next
          touch(entry, operation.ttlMs, wallNow)
        }
        return next
      }
      case 'swap':
        return swap(at(operation.key), operation.value, operation.ttlMs, wallNow)
      case 'add':
        return add(at(operation.key), operation.member, operation.ttlMs, wallNow)
      case 'raise':
        return raise(at(operation.key), operation.level, operation.now, operation.durationMs, wallNow)
      case 'members': {
        const entry = live(at(operation.key), wallNow)
        return entry !== undefined && entry.value instanceof Set ? [...(entry.value as Set<string>)] : []
      }
      case 'tally':
        return tally(at(operation.key), operation.field, operation.ttlMs, wallNow)
      case 'take':
        return take(at(operation.key), operation.bucket, operation.cost, operation.now, operation.ttlMs, wallNow)
      case 'baseline': {
        const metrics = operation.metrics
        const now = operation.now
        let entry = live(at(operation.key), wallNow)
        let baselines = baselinesAt(entry, metrics.length)
        if (entry === undefined || baselines === undefined) {
          baselines = { state: newBaselines(metrics.map((metric) => metric.parameters.windowMs), now), members: undefined }
          entry = put(at(operation.key), baselines, 0, wallNow)
        }
        const results: BaselineState[] = new Array(metrics.length)
        for (let index = 0; index < metrics.length; index++) {
          const metric = metrics[index] as BaselineInput
          const offset = index * BASELINE_SLOTS
          let value = metric.value
          if (metric.member !== undefined && !isNewMember(baselines, offset, metric.member, now, metric.parameters.windowMs)) value = 0
          results[index] = updateBaseline(baselines.state, offset, value, now, metric.parameters)
        }
        touch(entry, operation.ttlMs, wallNow)
        return results
      }
      case 'score':
        return score(at(operation.key), operation.add, operation.halfLifeMs, operation.max, operation.now, operation.ttlMs, wallNow)
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
    direct: { wallClock: clock, slot: (key: string): Slot => ({ key, entry: undefined }), raise, score, take, tally, add, swap, travel, baseline },
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
      for (const entry of entries.values()) entry.expiresAt = -1
      entries.clear()
    },
  }
}
