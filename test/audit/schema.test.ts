import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { securityEvent } from '../../src/audit/security-event.js'
import type { DecisionEventData } from '../../src/spec/audit.js'
import { sampleEvent } from './helpers.js'

// the named members of a type (without its index signature): a new field in src/spec/audit.ts fails type-checking
// here until the schema and this list have it too
type Named<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] }
type Block<K extends keyof DecisionEventData> = NonNullable<DecisionEventData[K]>
const members = {
  data: {
    schema: 1, operation: 1, outcome: 1, decision: 1, actor: 1, request: 1, result: 1, error: 1, context: 1,
    transport: 1, keys: 1, anomalies: 1, trace: 1, security: 1,
  } satisfies Record<Named<DecisionEventData>, 1>,
  decision: { action: 1, code: 1, reasons: 1, matchedRules: 1, policy: 1 } satisfies Record<Named<Block<'decision'>>, 1>,
  actor: {
    id: 1, kind: 1, tenant: 1, issuer: 1, authenticator: 1, session: 1, idpSession: 1, credentialId: 1,
  } satisfies Record<Named<Block<'actor'>>, 1>,
  request: {
    collection: 1, namespace: 1, topK: 1, requestedTopK: 1, idCount: 1, recordCount: 1, filterHash: 1, fields: 1,
    includeVectors: 1,
  } satisfies Record<Named<Block<'request'>>, 1>,
  result: { count: 1, idsHash: 1, dropped: 1, latencyMs: 1 } satisfies Record<Named<Block<'result'>>, 1>,
  security: { kind: 1, reason: 1, severity: 1, detail: 1, target: 1, expires: 1 } satisfies Record<Named<Block<'security'>>, 1>,
}

const schemaText = readFileSync(new URL('../../docs/audit-event.schema.json', import.meta.url), 'utf8')
const schema = JSON.parse(schemaText) as Record<string, unknown>
const validator = z.fromJSONSchema(schema as never)

describe('docs/audit-event.schema.json', () => {
  it('is versioned: its $id names v1 and data.schema is pinned to vectorwarden.audit/v1', () => {
    expect(schema.$id).toMatch(/\/v1\.json$/)
    expect(schemaText).toContain('"const": "vectorwarden.audit/v1"')
  })

  it('describes every member of DecisionEventData and its blocks, and nothing else', () => {
    const data = (schema.$defs as Record<string, { properties: Record<string, { properties?: Record<string, unknown> }> }>).data
    const names = (record: object | undefined) => Object.keys(record ?? {}).sort()
    expect(names(data?.properties)).toEqual(names(members.data))
    for (const block of ['decision', 'actor', 'request', 'result', 'security'] as const) {
      expect(names(data?.properties[block]?.properties), block).toEqual(names(members[block]))
    }
  })

  it.each(['allowed', 'denied', 'error'] as const)('accepts a %s decision event', (outcome) => {
    const result = validator.safeParse(sampleEvent(1, outcome))
    expect(result.error).toBeUndefined()
  })

  it.each(['integrity', 'revocation', 'grant', 'key-rotation', 'anomaly'] as const)('accepts a %s security event', (kind) => {
    const event = securityEvent(kind, {
      reason: 'r',
      detail: 'd',
      target: { id: 'u1' },
      expires: '2030-01-01T00:00:00.000Z',
      trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) },
    })
    expect(validator.safeParse(event).error).toBeUndefined()
  })

  it.each([
    ['an unknown outcome', (event: Record<string, unknown>) => ((event.data as Record<string, unknown>).outcome = 'maybe')],
    ['another spec version', (event: Record<string, unknown>) => (event.specversion = '0.3')],
    ['an unknown event type', (event: Record<string, unknown>) => (event.type = 'com.example.other')],
    ['a filter hash that is not SHA-256 hex', (event: Record<string, unknown>) => {
      ;((event.data as Record<string, unknown>).request as Record<string, unknown>).filterHash = 'nope'
    }],
    ['a missing data.schema', (event: Record<string, unknown>) => delete (event.data as Record<string, unknown>).schema],
  ])('rejects %s', (_name, change) => {
    const event = structuredClone(sampleEvent(1)) as unknown as Record<string, unknown>
    change(event)
    expect(validator.safeParse(event).success).toBe(false)
  })
})
