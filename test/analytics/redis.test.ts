// Redis tests: skipped (and said so) without REDIS_URL, a failure when VECTORWARDEN_REQUIRE_REDIS=1

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type AnalyticsVerdict, createAnalytics } from '../../src/analytics/index.js'
import { assertNotRevoked, revocationQueryOf } from '../../src/auth/revocation.js'
import { AdapterError, AuthenticationError, ConfigError } from '../../src/errors.js'
import type { Principal } from '../../src/spec/auth.js'
import { memoryStateStore } from '../../src/state/memory.js'
import { type RedisStateStore, redisStateStore } from '../../src/state/redis.js'
import { stateRevocationList } from '../../src/state/revocation.js'
import type { BaselineParameters, StateOperation, StateResult } from '../../src/state/types.js'

const url = process.env.REDIS_URL
const required = process.env.VECTORWARDEN_REQUIRE_REDIS === '1'
const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

if (url === undefined) {
  if (required) {
    it('REDIS_URL is set (VECTORWARDEN_REQUIRE_REDIS=1)', () => {
      expect.fail('VECTORWARDEN_REQUIRE_REDIS=1 but REDIS_URL is not set: start Redis with `eval "$(.ci/redis.sh)"`')
    })
  } else {
    console.warn('Redis tests skipped: REDIS_URL is not set (run `eval "$(.ci/redis.sh)"` to include them)')
  }
}

const run = url === undefined ? describe.skip : describe
const stores: RedisStateStore[] = []
const prefix = `vwtest:${process.pid}:${Date.now()}:`
const connect = (name: string): RedisStateStore => {
  const store = redisStateStore({ url: url as string, prefix: `${prefix}${name}:`, timeoutMs: 2000 })
  stores.push(store)
  return store
}

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()))
})

const MONDAY = Date.UTC(2026, 0, 5, 10)
const principal = (id: string, extra: Partial<Principal> = {}): Principal => ({
  id,
  kind: 'user',
  tenant: 'acme',
  roles: [],
  scopes: [],
  attributes: {},
  authenticator: 'jwt',
  credentialId: `jti-${id}`,
  ...extra,
})

const parameters: BaselineParameters = {
  windowMs: 1000,
  lambda: 0.2,
  alarmK: 3,
  guardK: 2,
  maxRise: 0.1,
  minSamples: 3,
  minSigma: 1,
  relativeSigma: 0.3,
  floor: 2,
  ceiling: 0,
}

const keyArbitrary = fc.constantFrom('a', 'b', 'c')
const operationArbitrary: fc.Arbitrary<StateOperation> = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key: keyArbitrary.map((key) => `s:${key}`) }),
  fc.record({
    kind: fc.constant('set' as const),
    key: keyArbitrary.map((key) => `s:${key}`),
    value: fc.string({ maxLength: 8 }),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('increment' as const),
    key: keyArbitrary.map((key) => `i:${key}`),
    by: fc.integer({ min: -5, max: 5 }),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('add' as const),
    key: keyArbitrary.map((key) => `m:${key}`),
    member: fc.constantFrom('x', 'y', 'z'),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({ kind: fc.constant('members' as const), key: keyArbitrary.map((key) => `m:${key}`) }),
  fc.record({
    kind: fc.constant('tally' as const),
    key: keyArbitrary.map((key) => `h:${key}`),
    field: fc.constantFrom('1', '2', '3'),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('take' as const),
    key: keyArbitrary.map((key) => `t:${key}`),
    bucket: fc.constant({ capacity: 3, refillPerSecond: 2.5 }),
    cost: fc.constant(1),
    now: fc.integer({ min: 0, max: 5000 }),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('baseline' as const),
    key: keyArbitrary.map((key) => `b:${key}`),
    metrics: fc.tuple(
      fc.double({ min: 0, max: 500, noNaN: true }),
      fc.constantFrom('docs', 'hr', 'payroll'),
      fc.integer({ min: 0, max: 3 }),
    ).map(([value, member, denies]) => [
      { value, parameters },
      { value: 1, member, parameters },
      { value: denies, parameters: { ...parameters, ceiling: 5 } },
    ]),
    now: fc.integer({ min: 0, max: 20_000 }),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('score' as const),
    key: keyArbitrary.map((key) => `r:${key}`),
    add: fc.integer({ min: 0, max: 40 }),
    halfLifeMs: fc.constant(1000),
    max: fc.constant(100),
    now: fc.integer({ min: 0, max: 5000 }),
    ttlMs: fc.constant(3_600_000),
  }),
  fc.record({
    kind: fc.constant('raise' as const),
    key: keyArbitrary.map((key) => `l:${key}`),
    level: fc.integer({ min: 0, max: 4 }),
    now: fc.integer({ min: 0, max: 5000 }),
    durationMs: fc.integer({ min: 1, max: 3000 }),
  }),
)

/** Numbers compared to 12 significant digits: Lua's pow and V8's may differ in the last bit. */
function normalize(result: StateResult): unknown {
  if (typeof result === 'number') return Number.isFinite(result) ? Number(result.toPrecision(12)) : result
  if (Array.isArray(result)) return [...result].sort()
  if (typeof result === 'object' && result !== null) {
    return Object.fromEntries(Object.entries(result).map(([key, value]) => [key, normalize(value as StateResult)]))
  }
  return result
}

run('Redis state store', () => {
  it('gives the same results as the in-memory store for any sequence of operations (differential)', async () => {
    let round = 0
    await fc.assert(
      fc.asyncProperty(fc.array(operationArbitrary, { minLength: 1, maxLength: 25 }), async (operations) => {
        // per round: a fresh key space in both stores; time moves forward per key, as it does for callers
        round++
        const memory = memoryStateStore()
        const redis = redisStateStore({ url: url as string, prefix: `${prefix}diff${round}:`, timeoutMs: 2000 })
        try {
          const clock = new Map<string, number>()
          const ordered = operations.map((operation) => {
            if (!('now' in operation)) return operation
            const now = Math.max(operation.now, clock.get(operation.key) ?? 0)
            clock.set(operation.key, now)
            return { ...operation, now }
          })
          const expected = await memory.execute(ordered)
          const actual = await redis.execute(ordered)
          expect(actual.map(normalize)).toEqual(expected.map(normalize))
        } finally {
          await redis.close()
        }
      }),
      { numRuns: 40 },
    )
  })

  it('answers a ping and reports the round trip', async () => {
    const store = connect('ping')
    expect(await store.ping()).toBeGreaterThan(0)
  })
})

run('two warden instances sharing one Redis', () => {
  it('a rate limit applied through one instance holds on the other’s next call', async () => {
    const options = { rateLimits: [{ scope: 'principal' as const, capacity: 3, refillPerSecond: 0.001 }], onAlarm: () => {} }
    const first = createAnalytics({ ...options, store: connect('rl') })
    const second = createAnalytics({ ...options, store: connect('rl') })
    const alice = principal('alice')
    const call = (analytics: ReturnType<typeof createAnalytics>) =>
      analytics.before({ principal: alice, action: 'record.query', context: {}, now: MONDAY })
    expect((await call(first)).response).toBe('allow')
    expect((await call(first)).response).toBe('allow')
    expect((await call(first)).response).toBe('allow')
    const other = await call(second)
    expect(other.response).toBe('throttle')
    expect(other.flags).toContain('rate_limited:principal')
  })

  it('a revocation decided by one instance denies the next call on the other, through analytics and the revocation list', async () => {
    const storeA = connect('rv')
    const storeB = connect('rv')
    const listA = stateRevocationList(storeA)
    const listB = stateRevocationList(storeB)
    const first = createAnalytics({ store: storeA, revocations: listA, responses: { probing: 'revoke' }, onAlarm: () => {} })
    const second = createAnalytics({ store: storeB, revocations: listB, responses: { probing: 'revoke' }, onAlarm: () => {} })
    const mallory = principal('mallory')
    // real time: the revocation entries expire by the wall clock in Redis
    const now = Date.now()
    expect((await second.before({ principal: mallory, action: 'record.query', context: {}, now })).response).toBe('allow')
    let verdict: AnalyticsVerdict | undefined
    for (let call = 0; call < 21; call++) {
      verdict = await first.after({ principal: mallory, action: 'record.query', outcome: 'denied', now: now + call })
    }
    expect(verdict?.revoked).toBe(true)
    const next = await second.before({ principal: mallory, action: 'record.query', context: {}, now: now + 100 })
    expect(next.response).toBe('deny')
    expect(next.revoked).toBe(true)
    await expect(Promise.resolve(assertNotRevoked(listB, revocationQueryOf(mallory), now + 200))).rejects.toSatisfy(
      (error: unknown) => AuthenticationError.isInstance(error) && (error as AuthenticationError).reason === 'revoked',
    )
  })

  it('shares baselines: a spike split across instances is seen as one window', async () => {
    const options = { metrics: { records: { ceiling: 100 } }, responses: { volume: 'deny' as const }, onAlarm: () => {} }
    const first = createAnalytics({ ...options, store: connect('bl') })
    const second = createAnalytics({ ...options, store: connect('bl') })
    const alice = principal('alice')
    const a = await first.after({ principal: alice, action: 'record.query', outcome: 'allowed', recordCount: 60, now: MONDAY })
    const b = await second.after({ principal: alice, action: 'record.query', outcome: 'allowed', recordCount: 60, now: MONDAY + 1 })
    expect(a.flags).not.toContain('volume_spike:records')
    expect(b.flags).toContain('volume_spike:records')
    expect((await first.before({ principal: alice, action: 'record.query', context: {}, now: MONDAY + 2 })).response).toBe('deny')
  })
})

const runStop = url !== undefined || required ? describe : describe.skip

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const probe = redisStateStore({ url: `redis://127.0.0.1:${port}`, timeoutMs: 200 })
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await probe.ping()
        return child
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    throw new Error('redis-server did not start')
  } finally {
    await probe.close()
  }
}

const stopped = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })

runStop('Redis stopped mid-test', () => {
  const children: ChildProcess[] = []
  afterAll(async () => {
    await Promise.all(children.map(stopped))
  })

  it('failClosed (default): calls are denied once Redis is gone, and allowed again when it is back', async () => {
    expect(hasRedisServer).toBe(true)
    const port = await freePort()
    const child = await startRedis(port)
    children.push(child)
    const alarms: string[] = []
    const store = redisStateStore({ url: `redis://127.0.0.1:${port}`, timeoutMs: 300 })
    stores.push(store)
    const analytics = createAnalytics({ store, retryStoreMs: 100, onAlarm: (alarm) => alarms.push(alarm.kind) })
    const alice = principal('alice')
    const call = () => analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.now() })
    expect((await call()).response).toBe('allow')
    await stopped(child)
    const during = await call()
    expect(during.response).toBe('deny')
    expect(during.flags).toEqual(['state_unavailable'])
    expect((await call()).response).toBe('deny')
    expect(alarms).toEqual(['state_degraded'])

    children.push(await startRedis(port))
    let back = await call()
    for (let attempt = 0; attempt < 60 && back.response !== 'allow'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      back = await call()
    }
    expect(back.response).toBe('allow')
    expect(alarms).toEqual(['state_degraded', 'state_restored'])
  })

  it('degrade: calls carry on with local state and a flag, with one alarm', async () => {
    expect(hasRedisServer).toBe(true)
    const port = await freePort()
    const child = await startRedis(port)
    children.push(child)
    const alarms: string[] = []
    const store = redisStateStore({ url: `redis://127.0.0.1:${port}`, timeoutMs: 300 })
    stores.push(store)
    const analytics = createAnalytics({
      store,
      onStoreFailure: 'degrade',
      rateLimits: [{ scope: 'principal', capacity: 3, refillPerSecond: 0.001 }],
      onAlarm: (alarm) => alarms.push(alarm.kind),
    })
    const alice = principal('alice')
    const call = () => analytics.before({ principal: alice, action: 'record.query', context: {}, now: Date.now() })
    expect((await call()).response).toBe('allow')
    await stopped(child)
    const responses = []
    for (let attempt = 0; attempt < 4; attempt++) {
      const verdict = await call()
      expect(verdict.flags).toContain('state_degraded')
      responses.push(verdict.response)
    }
    // local buckets start full: the fleet-wide count is lost, the local limit still holds
    expect(responses).toEqual(['allow', 'allow', 'allow', 'throttle'])
    expect(alarms).toEqual(['state_degraded'])
  })
})

describe('Redis store errors', () => {
  it('never quote the connection URL or its password, and are retryable AdapterErrors', async () => {
    const store = redisStateStore({ url: 'redis://:hunter2-secret@127.0.0.1:1', timeoutMs: 200 })
    try {
      const error = await store.execute([{ kind: 'get', key: 'x' }]).then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(AdapterError.isInstance(error)).toBe(true)
      expect((error as AdapterError).isRetryable).toBe(true)
      expect(JSON.stringify({ message: (error as Error).message, cause: String((error as Error).cause) })).not.toContain('hunter2')
    } finally {
      await store.close()
    }
  })

  it('refuses a configuration with neither or both of client and url', () => {
    expect(() => redisStateStore({} as never)).toThrow(ConfigError)
    expect(() => redisStateStore({ url: 'http://example.com' })).toThrow(ConfigError)
  })
})
