// an audit sink that emits each event as an OpenTelemetry log record (needs the optional peer @opentelemetry/api-logs)

import { type Logger, logs } from '@opentelemetry/api-logs'
import type { AuditEvent, AuditSink } from '../spec/audit.js'

/** Options of {@link otelAuditSink}. */
export interface OtelAuditSinkOptions {
  /** The logger to emit to. Default: `logs.getLogger('vectorwarden.audit')` from the global provider. */
  readonly logger?: Logger
}

// OpenTelemetry SeverityNumber values (log data model): INFO, WARN, ERROR, FATAL
const INFO = 9
const WARN = 13
const ERROR = 17
const FATAL = 21

function severityOf(event: AuditEvent): { number: number; text: string } {
  const severity = event.data.security?.severity
  if (severity === 'critical') return { number: FATAL, text: 'FATAL' }
  if (severity === 'high') return { number: ERROR, text: 'ERROR' }
  if (severity === 'medium') return { number: WARN, text: 'WARN' }
  if (severity !== undefined) return { number: INFO, text: 'INFO' }
  if (event.data.outcome === 'error') return { number: ERROR, text: 'ERROR' }
  if (event.data.outcome === 'denied') return { number: WARN, text: 'WARN' }
  return { number: INFO, text: 'INFO' }
}

/**
 * Emits each audit event as an OpenTelemetry log record: `eventName` is the CloudEvents type, the body is the event
 * data, and attributes carry the CloudEvents semantic conventions (`cloudevents.event_id`, …) plus the fields a SIEM
 * filters on. Export them with any OTLP log exporter. Best effort: OpenTelemetry's batch processor may drop records
 * under load, so pair it with the file sink (`fanOutAuditSink`) when events must not be lost.
 *
 * @example
 * ```ts
 * import { otelAuditSink } from 'vectorwarden/otel'
 * const warden = createWarden({ ..., audit: { sinks: [fileSink, otelAuditSink()], mode: 'batched' } })
 * ```
 */
export function otelAuditSink(options: OtelAuditSinkOptions = {}): AuditSink {
  const logger = options.logger ?? logs.getLogger('vectorwarden.audit')
  if (typeof logger?.emit !== 'function') throw new TypeError('otelAuditSink: logger must have emit(record)')
  return {
    name: 'otel',
    write(event: AuditEvent): void {
      const severity = severityOf(event)
      const data = event.data
      const attributes: Record<string, string | number | boolean> = {
        'cloudevents.event_id': event.id,
        'cloudevents.event_source': event.source,
        'cloudevents.event_spec_version': event.specversion,
        'cloudevents.event_type': event.type,
        'vectorwarden.schema': data.schema,
        'vectorwarden.operation': data.operation,
        'vectorwarden.outcome': data.outcome,
      }
      if (event.subject !== undefined) attributes['cloudevents.event_subject'] = event.subject
      if (data.actor !== undefined) {
        attributes['vectorwarden.actor.id'] = data.actor.id
        attributes['vectorwarden.actor.kind'] = data.actor.kind
        if (data.actor.tenant !== undefined) attributes['vectorwarden.actor.tenant'] = data.actor.tenant
      }
      if (data.decision?.code !== undefined) attributes['vectorwarden.decision.code'] = data.decision.code
      if (data.error !== undefined) attributes['vectorwarden.error.code'] = data.error.code
      if (data.trace !== undefined) {
        attributes.trace_id = data.trace.traceId
        attributes.span_id = data.trace.spanId
      }
      logger.emit({
        eventName: event.type,
        timestamp: new Date(event.time),
        severityNumber: severity.number,
        severityText: severity.text,
        // the data is plain JSON, which the log data model's AnyValue carries as is
        body: JSON.parse(JSON.stringify(data)),
        attributes,
      })
    },
  }
}
