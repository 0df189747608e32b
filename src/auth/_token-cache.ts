// a bounded cache of verified tokens, keyed by a hash of the token so the token itself is never held

import { platform } from '../platform/index.js'


/** A verified token's outcome and until when it may be reused (ms since the epoch). */
export interface CachedVerification<T> {
  readonly value: T
  readonly validUntil: number
}

/** @internal A map from token hash to verification, bounded in entries (oldest inserted goes first) and by each entry's validity. */
export class VerifiedTokenCache<T> {
  readonly #entries = new Map<string, CachedVerification<T>>()
  readonly #maxEntries: number

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  /** The cache key of a token: its SHA-256, hex (one native hash of the string, no intermediate bytes). */
  static keyOf(token: string): string {
    return platform.sha256Hex(token)
  }

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (now >= entry.validUntil) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: string, value: T, validUntil: number): void {
    if (this.#maxEntries === 0) return
    this.#entries.delete(key)
    if (this.#entries.size >= this.#maxEntries) {
      // Map iterates in insertion order: the first key is the oldest entry
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, validUntil })
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }

  get size(): number {
    return this.#entries.size
  }
}
