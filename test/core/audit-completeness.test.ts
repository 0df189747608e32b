// regressions from a security review of the audit path: every call the store saw is in the trail, whatever the
// caller's context objects do, and however the warden is closed

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { createAuditEmitter } from '../../src/audit/emitter.js'
import { isWellFormed } from '../../src/crypto/bytes.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { AuthenticationError, InputError } from '../../src/errors.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import type { AuditSink } from '../../src/spec/audit.js'
import type { Authenticator, Principal } from '../../src/spec/auth.js'
import type { Decision, PolicyDecisionPoint } from '../../src/spec/policy.js'
import { sampleEvent, temporaryDirectory } from '../audit/helpers.js'

const alice: Principal = { id: 'alice', kind: 'user', tenant: 'acme', roles: [], scopes: [], attributes: {}, authenticator: 'table' }
const authenticator: Authenticator = {
  name: 'table',
  recognizes: (credential) => credential.scheme === 'bearer',
  async authenticate(credential) {
    if (credential.scheme === 'bearer' && credential.value === 'tok-good') return alice
    throw new AuthenticationError('unknown token', { reason: 'unknown_token' })
  },
}
const policy: PolicyDecisionPoint = {
  id: 'p',
  version: 'v1',
  decide: (): Decision => ({
    effect: 'allow',
    matchedRules: ['w'],
    obligations: {
      rowFilter: { kind: 'cmp', field: 'tenant', op: '$eq', value: 'acme' },
      stamp: { tenant: 'acme' },
      readableFields: '*',
      writableFields: '*',
      decryptableFields: '*',
      readVectors: true,
    },
  }),
}

async function world() {
  const store = memoryAdapter()
  await store.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
  const memory = memoryAuditSink()
  const warden = createWarden({ adapter: store, authenticators: [authenticator], policy, audit: memory })
  return { store, memory, warden }
}

const throwing = { get id(): string {
  throw new Error('boom')
} }

describe('a caller context the audit event cannot hold', () => {
  it('fails the call before the store is touched, and the failed call is still in the trail', async () => {
    const { store, memory, warden } = await world()
    const session = await warden.session('Bearer tok-good')
    memory.clear()
    await expect(session.upsert('docs', [{ id: 'r1', vector: [1, 0, 0], metadata: {} }], { context: { device: throwing } })).rejects.toThrow('boom')
    expect((await store.doFetch({ collection: 'docs', ids: ['r1'], includeMetadata: false, includeVectors: false })).records).toEqual([])
    expect(memory.events.map((event) => [event.data.operation, event.data.outcome])).toEqual([['upsert', 'error']])
    // a value that is not a string, or not well-formed text, is refused the same way
    for (const context of [{ ip: 42 as unknown as string }, { userAgent: 'x\uD800' }, { traceparent: { toString: () => 'x' } as unknown as string }]) {
      await expect(session.upsert('docs', [{ id: 'r1', vector: [1, 0, 0], metadata: {} }], { context })).rejects.toThrow(TypeError)
    }
    expect(memory.events).toHaveLength(4)
  })

  it('records a call whose options.context getter throws', async () => {
    const { memory, warden } = await world()
    const session = await warden.session('Bearer tok-good')
    memory.clear()
    const options = {
      vector: [1, 0, 0],
      topK: 1,
      get context(): never {
        throw new Error('boom')
      },
    }
    await expect(session.query('docs', options)).rejects.toThrow('boom')
    expect(memory.events).toHaveLength(1)
  })

  it('records a refused session opening whose context getter throws', async () => {
    const { memory, warden } = await world()
    memory.clear()
    const context = {
      ip: '203.0.113.9',
      get userAgent(): string {
        throw new Error('boom')
      },
    }
    await expect(warden.session('Bearer tok-bad', context)).rejects.toThrow()
    expect(memory.events.map((event) => event.data.operation)).toEqual(['session.open'])
  })
})

describe('names a caller gives that the trail cannot hold', () => {
  it('are refused as input before anything happens: a lone surrogate in a field name or an id', async () => {
    const { memory, warden } = await world()
    const session = await warden.session('Bearer tok-good')
    memory.clear()
    await expect(session.query('docs', { vector: [1, 0, 0], topK: 1, includeMetadata: ['x\uD800'] })).rejects.toSatisfy(InputError.isInstance)
    await expect(session.fetch('docs', ['a\uDC00'])).rejects.toSatisfy(InputError.isInstance)
    await expect(session.upsert('docs', [{ id: 'ok', vector: [1, 0, 0], metadata: { 'bad\uD800': 1 } }])).rejects.toSatisfy(InputError.isInstance)
    // each refusal is recorded, its message in well-formed text
    expect(memory.events).toHaveLength(3)
    for (const event of memory.events) expect(isWellFormed(JSON.stringify(event))).toBe(true)
  })
})

describe('warden.close()', () => {
  it('waits for calls in flight: a write the store saw is in the trail', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const store = memoryAdapter()
      await store.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const slow = Object.assign(Object.create(store) as typeof store, {
        doUpsert: async (params: Parameters<typeof store.doUpsert>[0]) => {
          await gate
          return store.doUpsert(params)
        },
      })
      const warden = createWarden({ adapter: slow, authenticators: [authenticator], policy, audit: fileAuditSink({ path, onAlarm: () => {} }) })
      const session = await warden.session('Bearer tok-good')
      const call = session.upsert('docs', [{ id: 'r1', vector: [1, 0, 0], metadata: {} }])
      await new Promise((resolve) => setTimeout(resolve, 10))
      const closing = warden.close()
      release()
      const [result] = await Promise.allSettled([call, closing])
      expect(result.status).toBe('fulfilled')
      expect((await store.doFetch({ collection: 'docs', ids: ['r1'], includeMetadata: false, includeVectors: false })).records).toHaveLength(1)
      expect(readFileSync(path, 'utf8')).toContain('"operation":"upsert"')
      await expect(session.listCollections()).rejects.toSatisfy(AuthenticationError.isInstance)
    } finally {
      directory.remove()
    }
  })
})

describe('an audit emitter whose emit returns a thenable that is not a native promise', () => {
  it('is awaited: a record that fails fails the call', async () => {
    const store = memoryAdapter()
    await store.doCreateCollection({ name: 'docs', dimension: 3, distance: 'cosine' })
    let failing = false
    const emitter = {
      mode: 'sync' as const,
      dropped: 0,
      emit: () =>
        failing
          ? {
              // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native promise is the case under test
              then: (_resolve: unknown, reject: (error: unknown) => void) => reject(new Error('sink down')),
            }
          : undefined,
      flush: async () => {},
      close: async () => {},
    }
    const warden = createWarden({ adapter: store, authenticators: [authenticator], policy, audit: emitter as never })
    const session = await warden.session('Bearer tok-good')
    failing = true
    await expect(session.upsert('docs', [{ id: 'r1', vector: [1, 0, 0], metadata: {} }])).rejects.toThrow()
  })
})

describe('the emitter with several sinks', () => {
  it('leaves no unhandled rejection when one sink rejects and a later one throws', async () => {
    const unhandled: unknown[] = []
    const listener = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', listener)
    try {
      const rejecting: AuditSink = { name: 'rejecting', write: () => Promise.reject(new Error('disk gone')) }
      const throwing: AuditSink = {
        name: 'throwing',
        write: () => {
          throw new Error('exporter down')
        },
      }
      for (const mode of ['sync', 'batched'] as const) {
        const emitter = createAuditEmitter({ sinks: [rejecting, throwing], mode, onAlarm: () => {} })
        await expect(Promise.resolve(emitter.emit(sampleEvent(1)))).rejects.toThrow()
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', listener)
    }
  })
})
