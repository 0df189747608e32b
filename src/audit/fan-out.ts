// a sink that writes every event to several sinks, so a composite (file + SIEM) can be handed around as one

import type { AuditEvent, AuditSink } from '../spec/audit.js'

/** Options of {@link fanOutAuditSink}. */
export interface FanOutOptions {
  /**
   * Sinks whose failure is tolerated: reported to `onError` and otherwise ignored (e.g. a best-effort SIEM beside a
   * durable file). By default every sink is required, and any failure fails the write.
   */
  readonly optional?: readonly AuditSink[]
  readonly onError?: (sink: AuditSink, error: unknown) => void
}

/**
 * Fans each event out to every sink. `write` returns void when every sink's `write` did, so it stays allocation-free
 * over synchronous sinks.
 *
 * @example
 * ```ts
 * const sink = fanOutAuditSink([fileAuditSink({ path: 'audit.log' }), otelAuditSink({ logger })], { optional: [otel] })
 * ```
 */
export function fanOutAuditSink(sinks: readonly AuditSink[], options: FanOutOptions = {}): AuditSink {
  if (!Array.isArray(sinks) || sinks.length === 0) throw new TypeError('fanOutAuditSink: at least one sink')
  for (const sink of sinks) {
    if (typeof sink?.write !== 'function') throw new TypeError('fanOutAuditSink: every sink needs write(event)')
  }
  const optional = new Set(options.optional ?? [])
  const onError = options.onError ?? (() => {})
  const guard = (sink: AuditSink, promise: Promise<void>): Promise<void> =>
    optional.has(sink) ? promise.catch((error: unknown) => onError(sink, error)) : promise
  const all = async (work: (sink: AuditSink) => Promise<void> | undefined): Promise<void> => {
    const pending: Promise<void>[] = []
    for (const sink of sinks) {
      try {
        const result = work(sink)
        if (result !== undefined) pending.push(guard(sink, result))
      } catch (error) {
        if (!optional.has(sink)) throw error
        onError(sink, error)
      }
    }
    await Promise.all(pending)
  }
  return {
    name: `fan-out(${sinks.map((sink) => sink.name ?? 'unnamed').join(',')})`,
    write(event: AuditEvent): void | Promise<void> {
      let pending: Promise<void>[] | undefined
      for (const sink of sinks) {
        let result: void | Promise<void>
        try {
          result = sink.write(event)
        } catch (error) {
          if (!optional.has(sink)) throw error
          onError(sink, error)
          continue
        }
        if (result !== undefined) (pending ??= []).push(guard(sink, result))
      }
      if (pending !== undefined) return Promise.all(pending).then(() => {})
    },
    flush: () => all((sink) => sink.flush?.()),
    close: () => all((sink) => sink.close?.()),
    // durable only if every write it waits for is
    durable: sinks.every((sink) => sink.durable === true),
  }
}
