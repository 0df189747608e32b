// one namespace of one collection: vectors in a contiguous growable Float32Array, an id→slot map, swap-remove

import type { Distance, Metadata } from '../../spec/records.js'

/** A record ready to be written: the vector already checked and rounded to float32. */
export interface PreparedRecord {
  readonly id: string
  readonly vector: Float32Array
  readonly squaredNorm: number
  readonly metadata: Metadata | undefined
}

/** A scored slot; `key` is higher-is-better for every distance (euclidean uses the negated squared distance). */
interface Candidate {
  key: number
  slot: number
}

const INITIAL_CAPACITY = 64

/**
 * The storage of one namespace. Slots are dense (0..size-1); deleting moves the last record into the hole, so a scan
 * never meets a gap.
 */
export class Partition {
  readonly dimension: number
  private vectors: Float32Array
  private norms: Float64Array
  private readonly ids: string[] = []
  private readonly metadata: (Metadata | undefined)[] = []
  private readonly slots = new Map<string, number>()
  private sortedIds: string[] | undefined

  constructor(dimension: number) {
    this.dimension = dimension
    this.vectors = new Float32Array(INITIAL_CAPACITY * dimension)
    this.norms = new Float64Array(INITIAL_CAPACITY)
  }

  get size(): number {
    return this.ids.length
  }

  has(id: string): boolean {
    return this.slots.has(id)
  }

  slotOf(id: string): number | undefined {
    return this.slots.get(id)
  }

  idAt(slot: number): string {
    return this.ids[slot] as string
  }

  metadataAt(slot: number): Metadata | undefined {
    return this.metadata[slot]
  }

  setMetadata(slot: number, metadata: Metadata | undefined): void {
    this.metadata[slot] = metadata
  }

  /** A copy of the stored vector (never a view: the caller may keep or change it). */
  vectorAt(slot: number): Float32Array {
    const start = slot * this.dimension
    return this.vectors.slice(start, start + this.dimension)
  }

  private grow(needed: number): void {
    let capacity = this.norms.length
    if (needed <= capacity) return
    while (capacity < needed) capacity *= 2
    const vectors = new Float32Array(capacity * this.dimension)
    vectors.set(this.vectors.subarray(0, this.ids.length * this.dimension))
    const norms = new Float64Array(capacity)
    norms.set(this.norms.subarray(0, this.ids.length))
    this.vectors = vectors
    this.norms = norms
  }

  /** Writes a record, replacing the one with the same id in place. */
  put(record: PreparedRecord): void {
    let slot = this.slots.get(record.id)
    if (slot === undefined) {
      slot = this.ids.length
      this.grow(slot + 1)
      this.ids.push(record.id)
      this.metadata.push(record.metadata)
      this.slots.set(record.id, slot)
      this.sortedIds = undefined
    } else {
      this.metadata[slot] = record.metadata
    }
    this.vectors.set(record.vector, slot * this.dimension)
    this.norms[slot] = Math.sqrt(record.squaredNorm)
  }

  /** Removes a record; the last record moves into its slot. */
  remove(id: string): boolean {
    const slot = this.slots.get(id)
    if (slot === undefined) return false
    const last = this.ids.length - 1
    if (slot !== last) {
      const lastId = this.ids[last] as string
      this.vectors.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension)
      this.norms[slot] = this.norms[last] as number
      this.ids[slot] = lastId
      this.metadata[slot] = this.metadata[last]
      this.slots.set(lastId, slot)
    }
    this.ids.pop()
    this.metadata.pop()
    this.slots.delete(id)
    this.sortedIds = undefined
    return true
  }

  /** Every id in ascending code-unit order; cached until the set of ids changes. */
  idsInOrder(): readonly string[] {
    if (this.sortedIds === undefined) this.sortedIds = this.ids.slice().sort(compareIds)
    return this.sortedIds
  }

  /**
   * The `topK` best slots among those `accept` lets through, best first, ties broken by id ascending.
   * Exact: every accepted slot is scored. Returns slots with their scores in the distance's own unit.
   */
  search(
    query: Float32Array,
    distance: Distance,
    topK: number,
    accept: ((metadata: Metadata | undefined) => boolean) | undefined,
  ): { slot: number; score: number }[] {
    const dimension = this.dimension
    const vectors = this.vectors
    const norms = this.norms
    const metadata = this.metadata
    const size = this.ids.length
    const heap = new BoundedHeap(topK, this.ids)
    // one loop per metric, so each stays monomorphic and the dot product inlines
    if (distance === 'euclidean') {
      for (let slot = 0; slot < size; slot++) {
        if (accept !== undefined && !accept(metadata[slot])) continue
        heap.offer(-squaredDistance(query, vectors, slot * dimension, dimension), slot)
      }
    } else if (distance === 'dot') {
      for (let slot = 0; slot < size; slot++) {
        if (accept !== undefined && !accept(metadata[slot])) continue
        heap.offer(dotProduct(query, vectors, slot * dimension, dimension), slot)
      }
    } else {
      const queryNorm = Math.sqrt(dotProduct(query, query, 0, dimension))
      for (let slot = 0; slot < size; slot++) {
        if (accept !== undefined && !accept(metadata[slot])) continue
        heap.offer(dotProduct(query, vectors, slot * dimension, dimension) / (queryNorm * (norms[slot] as number)), slot)
      }
    }
    return heap.drain().map(({ key, slot }) => ({ slot, score: distance === 'euclidean' ? Math.sqrt(-key) : key }))
  }
}

// four accumulators let the CPU overlap the multiply-adds; the tail loop handles dimensions not divisible by four
function dotProduct(query: Float32Array, vectors: Float32Array, offset: number, dimension: number): number {
  let sum0 = 0
  let sum1 = 0
  let sum2 = 0
  let sum3 = 0
  let index = 0
  const end = dimension - 3
  for (; index < end; index += 4) {
    sum0 += (query[index] as number) * (vectors[offset + index] as number)
    sum1 += (query[index + 1] as number) * (vectors[offset + index + 1] as number)
    sum2 += (query[index + 2] as number) * (vectors[offset + index + 2] as number)
    sum3 += (query[index + 3] as number) * (vectors[offset + index + 3] as number)
  }
  for (; index < dimension; index++) sum0 += (query[index] as number) * (vectors[offset + index] as number)
  return sum0 + sum1 + sum2 + sum3
}

function squaredDistance(query: Float32Array, vectors: Float32Array, offset: number, dimension: number): number {
  let sum0 = 0
  let sum1 = 0
  let index = 0
  const end = dimension - 1
  for (; index < end; index += 2) {
    const difference0 = (query[index] as number) - (vectors[offset + index] as number)
    const difference1 = (query[index + 1] as number) - (vectors[offset + index + 1] as number)
    sum0 += difference0 * difference0
    sum1 += difference1 * difference1
  }
  for (; index < dimension; index++) {
    const difference = (query[index] as number) - (vectors[offset + index] as number)
    sum0 += difference * difference
  }
  return sum0 + sum1
}

/** Ascending UTF-16 code-unit order, the order of ties and of scrolls. */
export function compareIds(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0
}

/**
 * Keeps the `capacity` best candidates seen; the root is the worst kept, so a new candidate costs one comparison
 * unless it beats it.
 */
class BoundedHeap {
  private readonly items: Candidate[] = []
  constructor(
    private readonly capacity: number,
    private readonly ids: readonly string[],
  ) {}

  // a is worse than b: lower key, or same key and larger id
  private worse(a: Candidate, b: Candidate): boolean {
    if (a.key !== b.key) return a.key < b.key
    return (this.ids[a.slot] as string) > (this.ids[b.slot] as string)
  }

  offer(key: number, slot: number): void {
    const items = this.items
    if (items.length < this.capacity) {
      items.push({ key, slot })
      let index = items.length - 1
      while (index > 0) {
        const parent = (index - 1) >> 1
        if (!this.worse(items[index] as Candidate, items[parent] as Candidate)) break
        ;[items[index], items[parent]] = [items[parent] as Candidate, items[index] as Candidate]
        index = parent
      }
      return
    }
    const root = items[0] as Candidate
    // most candidates of a large scan lose to the root on the key alone; only then is an object made
    if (key < root.key) return
    const candidate = { key, slot }
    if (!this.worse(root, candidate)) return
    items[0] = candidate
    let index = 0
    for (;;) {
      const left = 2 * index + 1
      const right = left + 1
      let smallest = index
      if (left < items.length && this.worse(items[left] as Candidate, items[smallest] as Candidate)) smallest = left
      if (right < items.length && this.worse(items[right] as Candidate, items[smallest] as Candidate)) smallest = right
      if (smallest === index) break
      ;[items[index], items[smallest]] = [items[smallest] as Candidate, items[index] as Candidate]
      index = smallest
    }
  }

  /** The kept candidates, best first. */
  drain(): Candidate[] {
    return this.items.sort((a, b) => (this.worse(a, b) ? 1 : this.worse(b, a) ? -1 : 0))
  }
}
