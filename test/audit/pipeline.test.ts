import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { consoleAuditSink } from '../../src/audit/console-sink.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { otelAuditSink } from '../../src/audit/otel-sink.js'
import { apiKeyAuthenticator, generateApiKey } from '../../src/auth/api-key.js'
import { createWarden, type Session, type Warden } from '../../src/core/index.js'
import { AdapterError, AuthenticationError } from '../../src/errors.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { AuditEvent } from '../../src/spec/audit.js'
import type { Authenticator, Principal } from '../../src/spec/auth.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { scanForSecrets, temporaryDirectory } from './helpers.js'

// secrets that must never reach an audit sink
const TOKEN = 'tok-alice-3f9a2c7e5b1d4086'
const STALE_TOKEN = 'tok-stale-8c1e4f2a9d7b3650'
const VECTOR = [0.1234567891, 0.9876543219, 0.5555555551]

const principal: Principal = { id: 'alice', kind: 'user', tenant: 'acme', roles: ['writer'], scopes: [], attributes: {}, authenticator: 'table', credentialId: 'jti-alice-1' }

function tableAuthenticator(): Authenticator {
  return {
    name: 'table',
    recognizes: (credential) => credential.scheme === 'bearer' && credential.value.startsWith('tok-'),
    async authenticate(credential) {
      if (credential.scheme === 'bearer' && credential.value === TOKEN) return principal
      throw new AuthenticationError('unknown token', { reason: 'unknown_token' })
    },
  }
}

/** Allows record operations on `docs` confined to the tenant; `deny-me` is denied; `explode` makes the policy throw. */
function policy(): PolicyDecisionPoint {
  return {
    id: 'audit-test',
    version: 'v1',
    decide(request): Decision {
      if (request.resource.collection === 'explode') throw new Error('policy engine crashed')
      if (request.resource.collection === 'deny-me') return { effect: 'deny', code: 'no_matching_rule', reasons: ['no rule allows this'], matchedRules: [] }
      return {
        effect: 'allow',
        matchedRules: ['writer'],
        obligations: {
          rowFilter: { kind: 'cmp', field: 'tenant', op: '$eq', value: request.principal.tenant ?? '' },
          stamp: request.principal.tenant ? { tenant: request.principal.tenant } : {},
          tenantField: 'tenant',
          readableFields: '*',
          writableFields: '*',
          decryptableFields: '*',
          readVectors: true,
        },
      }
    },
  }
}

/** The memory adapter, with switches to make the store fail or misbehave. */
function switchableAdapter() {
  const store = memoryAdapter()
  const state = { fail: false, leak: false }
  const adapter = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (property === 'doQuery') {
        return async (params: Parameters<VectorStoreAdapterV1['doQuery']>[0]) => {
          if (state.fail) throw new AdapterError('store unavailable', { isRetryable: true, status: 503 })
          // a store that ignores the filter: returns other tenants' records too
          if (state.leak) return target.doQuery({ ...params, filter: undefined })
          return target.doQuery(params)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { adapter, state, store }
}

let directory: ReturnType<typeof temporaryDirectory>
let warden: Warden
let alice: Session
let memory: ReturnType<typeof memoryAuditSink>
let consoleLines: string[]
let otelRecords: unknown[]
let apiKey: string
let switches: { fail: boolean; leak: boolean }
let now: number
let filePath: string

beforeEach(async () => {
  directory = temporaryDirectory()
  filePath = join(directory.path, 'audit.log')
  memory = memoryAuditSink()
  consoleLines = []
  otelRecords = []
  const generated = await generateApiKey({ clientId: 'svc', tenant: 'acme', roles: ['writer'] })
  apiKey = generated.apiKey
  const { adapter, state, store } = switchableAdapter()
  switches = state
  now = Date.parse('2026-11-29T08:00:00Z')
  await store.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
  await store.doUpsert({ collection: 'docs', records: [{ id: 'other', vector: [1, 0, 0], metadata: { tenant: 'globex', title: 'not yours' } }] })
  warden = createWarden({
    adapter,
    authenticators: [tableAuthenticator(), apiKeyAuthenticator({ keys: [generated.record] })],
    policy: policy(),
    audit: [
      memory,
      consoleAuditSink({ write: (line) => consoleLines.push(line) }),
      fileAuditSink({ path: filePath, onAlarm: () => {} }),
      otelAuditSink({ logger: { emit: (record: unknown) => otelRecords.push(record) } as never }),
    ],
    sessions: { maxAgeMs: 60_000, idleTimeoutMs: 60_000 },
    now: () => now,
  })
  alice = await warden.session(`Bearer ${TOKEN}`)
  memory.clear()
})

afterEach(async () => {
  await warden.close().catch(() => {})
  directory.remove()
})

const decisions = () => memory.events.filter((event) => event.type === 'dev.vectorwarden.decision')

/** Runs one call and returns its outcome and the decision events it produced. */
async function outcomeOf(call: () => Promise<unknown>): Promise<{ thrown: unknown; events: AuditEvent[] }> {
  memory.clear()
  let thrown: unknown
  try {
    await call()
  } catch (error) {
    thrown = error
  }
  return { thrown, events: decisions() }
}

describe('the pipeline records exactly one decision event per outcome', () => {
  const cases: [string, 'allowed' | 'denied' | 'error', () => Promise<unknown>][] = [
    ['an allowed upsert', 'allowed', () => alice.upsert('docs', [{ id: 'mine', vector: VECTOR, metadata: { title: 'hello' } }])],
    ['an allowed query', 'allowed', () => alice.query('docs', { vector: VECTOR, topK: 3 })],
    ['an allowed fetch', 'allowed', () => alice.fetch('docs', ['mine'])],
    ['an allowed session open (bearer)', 'allowed', () => warden.session(`Bearer ${TOKEN}`)],
    ['an allowed session open (API key)', 'allowed', () => warden.session(`ApiKey ${apiKey}`)],
    ['a session open with an unknown token', 'denied', () => warden.session(`Bearer ${STALE_TOKEN}`)],
    ['a session open with a tampered API key', 'denied', () => warden.session(`ApiKey ${apiKey.slice(0, -2)}xx`)],
    ['a session open with an unrecognised credential', 'denied', () => warden.session('Digest whatever-0123456789')],
    ['a policy deny', 'denied', () => alice.query('deny-me', { vector: VECTOR, topK: 3 })],
    ['a policy that throws (fails closed)', 'denied', () => alice.query('explode', { vector: VECTOR, topK: 3 })],
    ['a write into another tenant', 'denied', () => alice.upsert('docs', [{ id: 'planted', vector: VECTOR, metadata: { tenant: 'globex' } }])],
    ['an expired session', 'denied', async () => {
      now += 120_000
      return alice.query('docs', { vector: VECTOR, topK: 3 })
    }],
    ['a malformed filter', 'error', () => alice.query('docs', { vector: VECTOR, topK: 3, filter: { title: { $regex: '.*' } } as never })],
    ['a store failure', 'error', async () => {
      switches.fail = true
      return alice.query('docs', { vector: VECTOR, topK: 3 })
    }],
    ['a wrong vector dimension', 'error', () => alice.query('docs', { vector: [1, 2], topK: 3 })],
  ]

  it.each(cases)('%s', async (_name, outcome, call) => {
    const { thrown, events } = await outcomeOf(call)
    expect(thrown === undefined).toBe(outcome === 'allowed')
    expect(events).toHaveLength(1)
    expect(events[0]?.data.outcome).toBe(outcome)
  })

  it('a store that returns records outside the row filter: one decision event, plus an integrity alarm', async () => {
    switches.leak = true
    const { thrown, events } = await outcomeOf(() => alice.query('docs', { vector: [1, 0, 0], topK: 5 }))
    expect(thrown).toBeUndefined()
    expect(events).toHaveLength(1)
    expect(events[0]?.data.result?.dropped).toBeGreaterThan(0)
    expect(memory.events.some((event) => event.type === 'dev.vectorwarden.security.integrity')).toBe(true)
  })

  it('leaves no token, API key or vector in any sink, and the file log verifies', async () => {
    for (const [, , call] of cases) await outcomeOf(call).catch(() => {})
    await warden.close()
    const outputs = {
      memory: JSON.stringify(memory.events),
      console: consoleLines.join('\n'),
      file: readFileSync(filePath, 'utf8'),
      otel: JSON.stringify(otelRecords),
    }
    for (const [sink, text] of Object.entries(outputs)) {
      expect(text.length, sink).toBeGreaterThan(100)
      expect(scanForSecrets(text, [TOKEN, STALE_TOKEN, apiKey, apiKey.slice(0, -2) + 'xx']), sink).toEqual([])
      for (const component of VECTOR) expect(text, sink).not.toContain(String(component))
    }
    const report = await verifyAuditLog({ files: [filePath] })
    expect(report.problems).toEqual([])
  })

  it('produces only events that match docs/audit-event.schema.json', async () => {
    const schema = JSON.parse(readFileSync(new URL('../../docs/audit-event.schema.json', import.meta.url), 'utf8'))
    const validator = z.fromJSONSchema(schema)
    const all: AuditEvent[] = []
    for (const [, , call] of cases) {
      await outcomeOf(call)
      all.push(...memory.events)
    }
    switches.leak = true
    await outcomeOf(() => alice.query('docs', { vector: [1, 0, 0], topK: 5 }))
    all.push(...memory.events)
    expect(all.length).toBeGreaterThan(cases.length)
    for (const event of all) expect(validator.safeParse(event).error, `${event.type} ${event.data.operation}`).toBeUndefined()
  })
})
