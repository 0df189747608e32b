// the pieces both vendor adapters share: bounded retries with backoff, transport checks, error mapping, constant folding

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toAdapterError } from '../../src/adapters/shared/errors.js'
import { pinnedValues, simplifyFilter } from '../../src/adapters/shared/filter.js'
import { breakTiesById, topKWithTies } from '../../src/adapters/shared/ranking.js'
import { callWithRetry, resolveRetryPolicy } from '../../src/adapters/shared/retry.js'
import { checkTransport, isLoopbackHost } from '../../src/adapters/shared/transport.js'
import { AdapterError, ConfigError } from '../../src/errors.js'
import { evaluateFilter } from '../../src/filter/index.js'
import type { FilterNode } from '../../src/spec/filter.js'

const toError = (error: unknown, timedOut: boolean) =>
  toAdapterError('test', 'call', error, { status: (error as { status?: number }).status, timeout: timedOut })

describe('callWithRetry', () => {
  it('makes exactly maxRetries + 1 attempts for a failure that stays retryable, and 1 for one that is not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.constantFrom(429, 500, 503, 400, 404), async (maxRetries, status) => {
        let attempts = 0
        const policy = resolveRetryPolicy({ maxRetries, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 0 })
        const error = await callWithRetry(
          async () => {
            attempts++
            throw Object.assign(new Error('vendor said: secret-body'), { status })
          },
          { policy, toError },
        ).catch((caught: unknown) => caught)
        const retryable = status === 429 || status >= 500
        expect(attempts).toBe(retryable ? maxRetries + 1 : 1)
        expect(AdapterError.isInstance(error) && error.status === status && error.isRetryable === retryable).toBe(true)
        expect(String(error)).not.toContain('secret-body')
      }),
      { numRuns: 30 },
    )
  })

  it('returns the first success after transient failures', async () => {
    let attempts = 0
    const policy = resolveRetryPolicy({ maxRetries: 3, baseDelayMs: 0, maxDelayMs: 0 })
    const value = await callWithRetry(
      async () => {
        attempts++
        if (attempts < 3) throw Object.assign(new Error('busy'), { status: 503 })
        return 'ok'
      },
      { policy, toError },
    )
    expect([value, attempts]).toEqual(['ok', 3])
  })

  it('waits a jittered, capped exponential backoff between attempts', async () => {
    const delays: number[] = []
    const realSetTimeout = globalThis.setTimeout
    const policy = resolveRetryPolicy({ maxRetries: 4, baseDelayMs: 10, maxDelayMs: 25, timeoutMs: 0 })
    globalThis.setTimeout = ((callback: () => void, ms?: number) => {
      delays.push(ms ?? 0)
      return realSetTimeout(callback, 0)
    }) as typeof setTimeout
    try {
      await callWithRetry(
        async () => {
          throw Object.assign(new Error('busy'), { status: 503 })
        },
        { policy, toError, random: () => 0.999 },
      ).catch(() => undefined)
    } finally {
      globalThis.setTimeout = realSetTimeout
    }
    expect(delays).toEqual([9, 19, 24, 24])
  })

  it('turns a slow attempt into a retryable timeout and a caller abort into a non-retryable one', async () => {
    const policy = resolveRetryPolicy({ maxRetries: 0, timeoutMs: 20 })
    const slow = await callWithRetry(() => new Promise((resolve) => setTimeout(resolve, 500)), { policy, toError }).catch((error: unknown) => error)
    expect(AdapterError.isInstance(slow) && slow.reason === 'timeout' && slow.isRetryable).toBe(true)
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 10)
    const aborted = await callWithRetry(() => new Promise((resolve) => setTimeout(resolve, 500)), {
      policy: resolveRetryPolicy({ maxRetries: 3, timeoutMs: 0 }),
      toError,
      signal: controller.signal,
    }).catch((error: unknown) => error)
    expect(AdapterError.isInstance(aborted) && aborted.reason === 'aborted' && !aborted.isRetryable).toBe(true)
  })

  it('refuses out-of-range retry options with ConfigError', () => {
    for (const options of [{ maxRetries: -1 }, { maxRetries: 11 }, { timeoutMs: 1.5 }, { unknown: 1 }]) {
      expect(() => resolveRetryPolicy(options as never)).toThrow(ConfigError)
    }
  })
})

describe('transport checks', () => {
  it('treats localhost, 127/8 and ::1 as loopback and nothing else', () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.255.0.9', '[::1]', '::1']) expect(isLoopbackHost(host)).toBe(true)
    // a subdomain of localhost is not resolved locally everywhere: the name may go to a DNS server that answers it
    for (const host of ['api.localhost', 'qdrant.localhost', '10.0.0.1', '128.0.0.1', 'localhost.evil.com', '127.0.0.1.nip.io', '0.0.0.0', '::2', 'example.com']) {
      expect(isLoopbackHost(host)).toBe(false)
    }
  })

  it('refuses http to any non-loopback host unless allowed, never echoing credentials in the URL', () => {
    fc.assert(
      fc.property(fc.domain(), fc.boolean(), (domain, allow) => {
        fc.pre(!isLoopbackHost(domain))
        const url = `http://user:hunter2@${domain}:6333/?api-key=hunter2`
        if (allow) {
          expect(checkTransport(url, { allowInsecureTransport: true, provider: 'x' }).secure).toBe(false)
        } else {
          let caught: unknown
          try {
            checkTransport(url, { allowInsecureTransport: false, provider: 'x' })
          } catch (error) {
            caught = error
          }
          expect(ConfigError.isInstance(caught)).toBe(true)
          expect(String(caught)).not.toContain('hunter2')
        }
        expect(checkTransport(`https://${domain}`, { allowInsecureTransport: false, provider: 'x' }).secure).toBe(true)
      }),
    )
  })
})

describe('constant folding and pinned values', () => {
  const leaf = fc.oneof(
    fc.record({ kind: fc.constant('cmp' as const), field: fc.constantFrom('a', 'b'), op: fc.constantFrom('$eq' as const, '$ne' as const), value: fc.constantFrom(1, 'x', true) }),
    fc.record({ kind: fc.constant('in' as const), field: fc.constantFrom('a', 'b'), op: fc.constantFrom('$in' as const, '$nin' as const), values: fc.array(fc.constantFrom(1, 'x', true), { maxLength: 2 }) }),
    fc.constantFrom<FilterNode>({ kind: 'all' }, { kind: 'none' }),
  )
  const node: fc.Arbitrary<FilterNode> = fc.letrec<{ node: FilterNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.record({ kind: fc.constant('and' as const), children: fc.array(tie('node'), { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('or' as const), children: fc.array(tie('node'), { maxLength: 3 }) }),
    ),
  })).node
  const metadata = fc.record({ a: fc.constantFrom(1, 'x', true, 2), b: fc.constantFrom(1, 'y') }, { requiredKeys: [] })

  it('simplifyFilter keeps the meaning and leaves all/none only at the root', () => {
    const hasConstantBelowRoot = (filter: FilterNode, root: boolean): boolean =>
      (!root && (filter.kind === 'all' || filter.kind === 'none')) ||
      ((filter.kind === 'and' || filter.kind === 'or') && (filter.children.length === 0 || filter.children.some((child) => hasConstantBelowRoot(child, false))))
    fc.assert(
      fc.property(node, metadata, (filter, record) => {
        const simple = simplifyFilter(filter)
        expect(evaluateFilter(simple, record)).toBe(evaluateFilter(filter, record))
        expect(hasConstantBelowRoot(simple, true)).toBe(false)
      }),
      { numRuns: 300 },
    )
  })

  it('pinnedValues is sound: a record outside the pinned set never matches', () => {
    fc.assert(
      fc.property(node, metadata, (filter, record) => {
        const pinned = pinnedValues(simplifyFilter(filter), 'a')
        if (pinned !== undefined && evaluateFilter(filter, record)) {
          expect(record.a !== undefined && pinned.has(record.a)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('topKWithTies cuts after ordering every tie by id, whatever order the backend used', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(1, 2, 3), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 30 }), async (scores, topK) => {
        const hits = scores.map((score, index) => ({ id: `id-${String(index).padStart(2, '0')}`, score }))
        // a backend that orders by score but breaks ties backwards
        const backend = hits.slice().sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1))
        const expected = breakTiesById(hits.slice().sort((a, b) => b.score - a.score)).slice(0, topK)
        expect(await topKWithTies(topK, 1000, async (limit) => backend.slice(0, limit))).toEqual(expected)
      }),
    )
  })
})
