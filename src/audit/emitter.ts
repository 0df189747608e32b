// the audit emitter: hands each event to the sinks in one of three modes (sync, batched group commit, async)

import { type Deferred, deferred } from './deferred.js'
import { AuditError, ConfigError } from '../errors.js'
import type { AuditEvent, AuditSink } from '../spec/audit.js'
import { isThenable } from '../spec/values.js'

/** How the emitter trades latency for durability. */
export type AuditMode = 'sync' | 'batched' | 'async'

/** Something the operator must look at: events dropped, a sink failing. Never carries event contents. */
export interface AuditAlarm {
  /** `dropped` (async queue full or sink failed), `sink_failed`, `closed`. */
  readonly kind: string
  readonly detail: string
}

/** Options of {@link createAuditEmitter}. */
export interface AuditEmitterOptions {
  readonly sinks: AuditSink | readonly AuditSink[]
  /**
   * `sync` (default): `emit` resolves when every sink has made the event durable.
   * `batched`: events are grouped and committed together (one flush per group); `emit` resolves at that commit.
   * `async`: `emit` returns at once; events that do not fit the queue or whose sink fails are counted and alarmed.
   */
  readonly mode?: AuditMode
  /** Reject the operation with an `AuditError` when its event cannot be recorded. Default true for sync/batched. */
  readonly failClosed?: boolean
  /**
   * batched/async: events waiting to be committed before backpressure (batched) or dropping (async) sets in. Default
   * 10 000. In sync mode each caller waits for its own event, so callers bound the queue.
   */
  readonly maxQueue?: number
  /** batched/async: how long a group waits for company before it commits, in ms. Default 2. */
  readonly batchMs?: number
  /** batched/async: a group commits as soon as it holds this many events. Default 512. */
  readonly maxBatch?: number
  /** Called when events are dropped or a sink fails. Default: one line on `console.error`. */
  readonly onAlarm?: (alarm: AuditAlarm) => void
}

/** Hands audit events to sinks. Create one per warden; `close()` flushes everything. */
export interface AuditEmitter {
  /**
   * sync/batched: resolves when the event is durable in every sink (batched: at the next group commit); rejects with
   * `AuditError` when it cannot be recorded and `failClosed`. async: returns void at once.
   * When every sink's `write` returns void, sync mode returns void too (no promise is allocated).
   */
  emit(event: AuditEvent): void | Promise<void>
  /** Events that were not recorded (async mode drops, and failures when not fail-closed). */
  readonly dropped: number
  readonly mode: AuditMode
  /** Commits everything queued and flushes every sink. */
  flush(): Promise<void>
  /** Flushes, then closes every sink. Later events are rejected (or dropped when not fail-closed). */
  close(): Promise<void>
}

interface Group extends Deferred {
  readonly events: AuditEvent[]
  /** Settles when every sink has taken the group's events (set when the group is handed over). */
  written?: Promise<unknown>
}

const newGroup = (): Group => ({ events: [], ...deferred() })

function describe(error: unknown): string {
  // only the class and code: a sink's message could quote the event
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    return `${(error as Error).name ?? 'Error'}${typeof code === 'string' ? ` ${code}` : ''}`
  }
  return typeof error
}

/**
 * Creates the emitter the pipeline hands every outcome's event to.
 *
 * @example
 * ```ts
 * const memory = memoryAuditSink()
 * const emitter = createAuditEmitter({ sinks: [memory, consoleAuditSink()], mode: 'sync' })
 * await emitter.emit(event) // durable in both sinks, or AuditError
 * await emitter.close()
 * ```
 */
export function createAuditEmitter(options: AuditEmitterOptions): AuditEmitter {
  if (typeof options !== 'object' || options === null) throw new TypeError('createAuditEmitter: options required')
  const sinks: readonly AuditSink[] = Array.isArray(options.sinks)
    ? [...(options.sinks as readonly AuditSink[])]
    : [options.sinks as AuditSink]
  if (sinks.length === 0) throw new ConfigError('audit: at least one sink is required', { reason: 'no_sink' })
  for (const sink of sinks) {
    if (typeof sink !== 'object' || sink === null || typeof sink.write !== 'function') {
      throw new TypeError('createAuditEmitter: every sink needs a write(event) method')
    }
  }
  const mode: AuditMode = options.mode ?? 'sync'
  if (mode !== 'sync' && mode !== 'batched' && mode !== 'async') {
    throw new ConfigError(`audit: unknown mode ${String(mode)}`, { reason: 'bad_mode' })
  }
  if (mode === 'async' && options.failClosed === true) {
    throw new ConfigError('audit: async mode returns before the event is recorded, so it cannot fail closed', {
      reason: 'async_fail_closed',
    })
  }
  const failClosed = options.failClosed ?? mode !== 'async'
  const maxQueue = positiveInteger(options.maxQueue ?? 10_000, 'maxQueue')
  const maxBatch = positiveInteger(options.maxBatch ?? 512, 'maxBatch')
  const batchMs = options.batchMs ?? 2
  if (typeof batchMs !== 'number' || !(batchMs >= 0)) throw new ConfigError('audit: batchMs must be ≥ 0')
  const onAlarm =
    options.onAlarm ??
    ((alarm: AuditAlarm) => console.error(`[vectorwarden] audit alarm ${alarm.kind}: ${alarm.detail}`))

  let dropped = 0
  let closed = false
  let closing: Promise<void> | undefined
  // raising one alarm per episode of loss, not one per event
  let lossEpisode = false

  const alarm = (kind: string, detail: string): void => {
    try {
      onAlarm({ kind, detail })
    } catch {
      // an alarm handler that throws must not break the pipeline
    }
  }

  const lose = (count: number, kind: string, detail: string): void => {
    dropped += count
    if (!lossEpisode) {
      lossEpisode = true
      alarm(kind, detail)
    }
  }

  const failure = (reason: string, message: string, cause?: unknown): AuditError =>
    new AuditError(message, cause === undefined ? { reason } : { reason, cause })

  // ---- sync mode ------------------------------------------------------------------------------------------------

  const syncFailed = (sink: AuditSink, error: unknown): void | Promise<void> => {
    const detail = `sink ${sink.name ?? 'unnamed'} failed: ${describe(error)}`
    if (failClosed) {
      alarm('sink_failed', detail)
      return Promise.reject(failure('sink_failed', `audit event could not be recorded (${detail})`, error))
    }
    lose(1, 'sink_failed', detail)
  }

  const settle = (pending: Promise<void>[], names: string[]): Promise<void> =>
    Promise.all(pending).then(
      () => {
        lossEpisode = false
      },
      (error: unknown) => {
        const detail = `sink ${names.join(',')} failed: ${describe(error)}`
        if (failClosed) {
          alarm('sink_failed', detail)
          throw failure('sink_failed', `audit event could not be recorded (${detail})`, error)
        }
        lose(1, 'sink_failed', detail)
      },
    )

  const emitSync = (event: AuditEvent): void | Promise<void> => {
    if (closed) return rejectClosed()
    let pending: Promise<void>[] | undefined
    let names: string[] | undefined
    for (let index = 0; index < sinks.length; index++) {
      const sink = sinks[index] as AuditSink
      let result: void | Promise<void>
      try {
        result = sink.write(event)
      } catch (error) {
        // the earlier sinks' promises are not awaited now: their rejections must not go unhandled
        for (const earlier of pending ?? []) Promise.resolve(earlier).catch(() => {})
        return syncFailed(sink, error)
      }
      if (isThenable(result)) {
        ;(pending ??= []).push(result)
        ;(names ??= []).push(sink.name ?? 'unnamed')
      }
    }
    if (pending === undefined) return
    return settle(pending, names as string[])
  }

  const rejectClosed = (): void | Promise<void> => {
    if (failClosed) return Promise.reject(failure('closed', 'audit emitter is closed'))
    lose(1, 'closed', 'event emitted after close')
  }

  // ---- batched and async modes: groups committed one after another -------------------------------------------------

  let current: Group | undefined
  let queued = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let tail: Promise<void> = Promise.resolve()

  // A sealed group is handed to the sinks at once, and committed (awaited, flushed) after the groups before it. So
  // the sinks chain and encode the next group while the previous one is still being synced: CPU and disk overlap.
  // Sinks see events in emission order either way.
  const handOver = (group: Group): void => {
    const pending: Promise<void>[] = []
    try {
      for (const sink of sinks) {
        let last: unknown
        for (const event of group.events) {
          const result = sink.write(event)
          // a group-committing sink hands every event of a group the same promise: wait for it once
          if (result !== last && isThenable(result)) pending.push(result)
          last = result
        }
      }
      group.written = pending.length === 0 ? undefined : Promise.all(pending)
    } catch (error) {
      // the promises of the events before are not awaited now: their rejections must not go unhandled
      for (const earlier of pending) Promise.resolve(earlier).catch(() => {})
      group.written = Promise.reject(error)
    }
    // awaited in commit, possibly after other groups: not an unhandled rejection meanwhile
    group.written?.catch(() => {})
  }

  const commit = async (group: Group): Promise<void> => {
    try {
      if (group.written !== undefined) await group.written
      // a durable sink's write promise already means durable; flushing it would also wait for later groups
      const flushes: Promise<void>[] = []
      for (const sink of sinks) if (sink.flush && sink.durable !== true) flushes.push(sink.flush())
      await Promise.all(flushes)
      lossEpisode = false
      group.resolve()
    } catch (error) {
      const detail = `group of ${group.events.length} events failed: ${describe(error)}`
      if (failClosed) {
        alarm('sink_failed', detail)
        group.reject(failure('sink_failed', `audit events could not be recorded (${detail})`, error))
      } else {
        lose(group.events.length, 'dropped', detail)
        group.resolve()
      }
    } finally {
      queued -= group.events.length
      admitWaiting()
    }
  }

  const schedule = (group: Group): void => {
    handOver(group)
    tail = tail.then(() => commit(group))
  }

  const seal = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    const group = current
    if (group === undefined) return
    current = undefined
    schedule(group)
  }

  const enqueue = (event: AuditEvent): Group => {
    let group = current
    if (group === undefined) {
      group = current = newGroup()
      timer = setTimeout(seal, batchMs)
    }
    group.events.push(event)
    queued++
    if (group.events.length >= maxBatch) seal()
    return group
  }

  // groups accepted while the queue was full, in order: admitted one by one as groups ahead commit, so the sinks
  // encode the next group while the previous ones sync. One promise per waiting group, not per event, so a burst far
  // beyond maxQueue stays cheap
  const waiting: Group[] = []

  const admitWaiting = (): void => {
    while (waiting.length > 0 && queued < maxQueue) {
      const group = waiting.shift() as Group
      queued += group.events.length
      schedule(group)
    }
  }

  const wait = (event: AuditEvent): Promise<void> => {
    let group = waiting[waiting.length - 1]
    if (group === undefined) {
      // backpressure: commit what is queued; everything emitted from now on waits behind it, in order
      seal()
      group = newGroup()
      waiting.push(group)
    } else if (group.events.length >= maxBatch) {
      group = newGroup()
      waiting.push(group)
    }
    group.events.push(event)
    return group.done
  }

  const emitBatched = (event: AuditEvent): Promise<void> => {
    if (closed) return rejectClosed() ?? Promise.resolve()
    if (waiting.length > 0 || queued >= maxQueue) return wait(event)
    return enqueue(event).done
  }

  const emitAsync = (event: AuditEvent): void => {
    if (closed) {
      lose(1, 'closed', 'event emitted after close')
      return
    }
    if (queued >= maxQueue) {
      lose(1, 'dropped', `async audit queue full (${maxQueue}); events are being dropped`)
      return
    }
    enqueue(event)
  }

  const flush = async (): Promise<void> => {
    // waiting groups join the tail when it settles: follow it until nothing is left behind it
    for (;;) {
      seal()
      const settled = tail
      await settled
      if (settled !== tail) continue
      if (waiting.length === 0) break
      admitWaiting()
    }
    const flushes: Promise<void>[] = []
    for (const sink of sinks) if (sink.flush) flushes.push(sink.flush())
    await Promise.all(flushes)
  }

  const emit = mode === 'sync' ? emitSync : mode === 'batched' ? emitBatched : emitAsync

  return {
    emit,
    mode,
    get dropped() {
      return dropped
    },
    flush,
    close() {
      if (closing === undefined) {
        closed = true
        closing = (async () => {
          try {
            await flush()
          } finally {
            const closes: Promise<void>[] = []
            for (const sink of sinks) if (sink.close) closes.push(sink.close())
            await Promise.all(closes)
          }
        })()
      }
      return closing
    },
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`audit: ${name} must be a positive integer`)
  return value
}
