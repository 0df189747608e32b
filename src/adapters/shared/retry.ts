// bounded retries with exponential backoff and full jitter, and a per-attempt timeout that also honours the caller's signal

import { z } from 'zod'
import { AdapterError, ConfigError, type WardenError } from '../../errors.js'

/**
 * How an adapter retries and times out backend calls.
 *
 * @example
 * ```ts
 * qdrantAdapter(client, { retry: { maxRetries: 3, timeoutMs: 5_000 } })
 * ```
 */
export interface RetryOptions {
  /** Retries after the first attempt, for retryable failures only (default 2, at most 10). */
  readonly maxRetries?: number
  /** First backoff step in milliseconds (default 100); doubles each retry, capped by `maxDelayMs`. */
  readonly baseDelayMs?: number
  /** Longest backoff in milliseconds (default 2000). */
  readonly maxDelayMs?: number
  /** Per-attempt timeout in milliseconds (default 30000); 0 disables it. */
  readonly timeoutMs?: number
}

/**
 * A validated {@link RetryOptions}.
 *
 * @example
 * ```ts
 * const policy: RetryPolicy = resolveRetryPolicy({})
 * ```
 */
export type RetryPolicy = Required<RetryOptions>

const retrySchema = z
  .object({
    maxRetries: z.number().int().min(0).max(10).default(2),
    baseDelayMs: z.number().min(0).max(60_000).default(100),
    maxDelayMs: z.number().min(0).max(300_000).default(2_000),
    timeoutMs: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .strict()

/**
 * Validates retry options once, at adapter construction.
 *
 * @example
 * ```ts
 * const policy = resolveRetryPolicy({ maxRetries: 3 })
 * ```
 */
export function resolveRetryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const parsed = retrySchema.safeParse(options ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`invalid retry option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, {
      reason: 'invalid_retry_options',
    })
  }
  return parsed.data
}

/**
 * What {@link callWithRetry} needs besides the call itself.
 *
 * @example
 * ```ts
 * const context: CallContext = { policy, toError: (error) => toAdapterError('x', 'call', error) }
 * ```
 */
export interface CallContext {
  readonly policy: RetryPolicy
  /** Turns anything thrown by the call into a typed error (see `toAdapterError`). */
  readonly toError: (error: unknown, timedOut: boolean) => WardenError
  /** The caller's abort signal. */
  readonly signal?: AbortSignal | undefined
  /** Source of jitter in [0, 1); tests make it deterministic. */
  readonly random?: () => number
}

class AttemptTimeout extends Error {}

function abortedError(): AdapterError {
  return new AdapterError('backend call aborted by the caller', { reason: 'aborted', isRetryable: false })
}

function attempt<T>(run: () => Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  if (timeoutMs === 0 && signal === undefined) return run()
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const onAbort = (): void => finish(() => reject(abortedError()))
    const finish = (action: () => void): void => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      action()
    }
    if (timeoutMs > 0) timer = setTimeout(() => finish(() => reject(new AttemptTimeout())), timeoutMs)
    signal?.addEventListener('abort', onAbort, { once: true })
    // the vendor clients take no per-call signal, so a timed-out request is abandoned, not cancelled
    run().then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    )
  })
}

function sleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(abortedError())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, milliseconds)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs a backend call with a timeout per attempt and bounded retries (exponential backoff, full jitter) for
 * failures whose typed error says `isRetryable`. Anything thrown leaves as a typed error.
 *
 * @example
 * ```ts
 * const points = await callWithRetry(() => client.query('docs', body), { policy, toError })
 * ```
 */
export async function callWithRetry<T>(run: () => Promise<T>, context: CallContext): Promise<T> {
  const { policy, signal } = context
  const random = context.random ?? Math.random
  for (let attemptNumber = 0; ; attemptNumber++) {
    if (signal?.aborted === true) throw abortedError()
    try {
      return await attempt(run, policy.timeoutMs, signal)
    } catch (error) {
      const typed = AdapterError.isInstance(error) && error.reason === 'aborted' ? error : context.toError(error, error instanceof AttemptTimeout)
      const retryable = AdapterError.isInstance(typed) && typed.isRetryable
      if (!retryable || attemptNumber >= policy.maxRetries) throw typed
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attemptNumber)
      await sleep(Math.floor(random() * ceiling), signal)
    }
  }
}
