// an in-memory audit sink for tests, demos and in-process inspection

import type { AuditEvent, AuditSink } from '../spec/audit.js'

/** A sink that keeps events in an array, oldest first. */
export interface MemoryAuditSink extends AuditSink {
  /** The retained events, oldest first (at most `limit`). */
  readonly events: readonly AuditEvent[]
  /** Forgets every retained event. */
  clear(): void
}

/**
 * Keeps the last `limit` events (default 100 000) in memory. `write` never allocates a promise.
 *
 * @example
 * ```ts
 * const sink = memoryAuditSink()
 * const warden = createWarden({ adapter, authenticators, policy, audit: { sinks: sink } })
 * // ...
 * console.log(sink.events.at(-1)?.data.outcome)
 * ```
 */
export function memoryAuditSink(options: { limit?: number } = {}): MemoryAuditSink {
  const limit = options.limit ?? 100_000
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError('memoryAuditSink: limit must be a positive integer')
  let events: AuditEvent[] = []
  return {
    name: 'memory',
    get events() {
      return events
    },
    write(event: AuditEvent): void {
      events.push(event)
      // shift is O(1) amortised in V8 (left-trimming), so a full ring costs nothing extra per event
      if (events.length > limit) events.shift()
    },
    clear() {
      events = []
    },
  }
}
