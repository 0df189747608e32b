import { describe, expect, it, vi } from 'vitest'
import { consoleAuditSink } from '../../src/audit/console-sink.js'
import { fanOutAuditSink } from '../../src/audit/fan-out.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { otelAuditSink } from '../../src/audit/otel-sink.js'
import { securityEvent } from '../../src/audit/security-event.js'
import type { AuditSink } from '../../src/spec/audit.js'
import { sampleEvent } from './helpers.js'

describe('memoryAuditSink', () => {
  it('keeps at most limit events, dropping the oldest', () => {
    const sink = memoryAuditSink({ limit: 3 })
    for (let index = 0; index < 5; index++) sink.write(sampleEvent(index))
    expect(sink.events.map((event) => event.id)).toEqual([2, 3, 4].map((index) => sampleEvent(index).id))
    sink.clear()
    expect(sink.events).toEqual([])
  })
})

describe('consoleAuditSink', () => {
  it('writes each event as one parseable JSON line', () => {
    const lines: string[] = []
    const sink = consoleAuditSink({ write: (line) => lines.push(line) })
    sink.write(sampleEvent(1))
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toContain('\n')
    expect(JSON.parse(lines[0] as string)).toEqual(sampleEvent(1))
  })
})

describe('fanOutAuditSink', () => {
  it('writes every event to every sink and stays synchronous over synchronous sinks', () => {
    const a = memoryAuditSink()
    const b = memoryAuditSink()
    const sink = fanOutAuditSink([a, b])
    expect(sink.write(sampleEvent(1))).toBeUndefined()
    expect(a.events).toHaveLength(1)
    expect(b.events).toHaveLength(1)
  })

  it('fails when a required sink fails, and tolerates an optional one', async () => {
    const broken: AuditSink = { name: 'broken', write: () => Promise.reject(new Error('down')) }
    await expect(fanOutAuditSink([memoryAuditSink(), broken]).write(sampleEvent(1))).rejects.toThrow()
    const onError = vi.fn()
    await fanOutAuditSink([memoryAuditSink(), broken], { optional: [broken], onError }).write(sampleEvent(1))
    expect(onError).toHaveBeenCalledTimes(1)
  })
})

describe('securityEvent', () => {
  it.each(['integrity', 'revocation', 'grant', 'key-rotation', 'anomaly'] as const)(
    'builds a CloudEvents 1.0 event of type dev.vectorwarden.security.%s',
    (kind) => {
      const event = securityEvent(kind, { reason: 'test_reason', keys: ['k1'] }, { subject: 'docs', now: 0 })
      expect(event).toMatchObject({
        specversion: '1.0',
        type: `dev.vectorwarden.security.${kind}`,
        subject: 'docs',
        time: '1970-01-01T00:00:00.000Z',
        datacontenttype: 'application/json',
        data: { schema: 'vectorwarden.audit/v1', operation: `security.${kind}`, security: { kind, reason: 'test_reason' } },
      })
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/)
    },
  )

  it('marks integrity alarms as errors of high severity by default', () => {
    expect(securityEvent('integrity', { reason: 'record_outside_filter' }).data).toMatchObject({
      outcome: 'error',
      security: { severity: 'high' },
    })
  })

  it('refuses an unknown kind and a missing reason with TypeError', () => {
    expect(() => securityEvent('weird' as never, { reason: 'x' })).toThrow(TypeError)
    expect(() => securityEvent('grant', {} as never)).toThrow(TypeError)
  })
})

describe('otelAuditSink', () => {
  it('emits a log record named by the event type, with CloudEvents attributes and the data as body', () => {
    const emit = vi.fn()
    const sink = otelAuditSink({ logger: { emit } as never })
    sink.write(sampleEvent(3, 'denied'))
    const record = emit.mock.calls[0]?.[0]
    expect(record).toMatchObject({
      eventName: 'dev.vectorwarden.decision',
      severityText: 'WARN',
      attributes: { 'cloudevents.event_id': sampleEvent(3).id, 'vectorwarden.outcome': 'denied', 'vectorwarden.actor.id': 'user-3' },
      body: { operation: 'query', outcome: 'denied' },
    })
  })

  it('maps security severities to OpenTelemetry severities', () => {
    const emit = vi.fn()
    const sink = otelAuditSink({ logger: { emit } as never })
    sink.write(securityEvent('integrity', { reason: 'x', severity: 'critical' }))
    expect(emit.mock.calls[0]?.[0]).toMatchObject({ severityNumber: 21, severityText: 'FATAL' })
  })
})
