// maps whatever a vendor client throws to an AdapterError that says whether a retry may help, without echoing the vendor's text

import { AdapterError, WardenError } from '../../errors.js'

/**
 * Statuses after which the same call may succeed: throttling and server-side faults.
 *
 * @example
 * ```ts
 * isRetryableStatus(503) // true
 * ```
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

// error codes of node sockets and undici that mean the connection, not the request, failed
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
])

function errorCode(error: unknown): string | undefined {
  let current: unknown = error
  // the code sits on the error or on one of its causes (fetch wraps socket errors in a TypeError)
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Whether an error looks like a failed connection rather than a refused request.
 *
 * @example
 * ```ts
 * isNetworkError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })) // true
 * ```
 */
export function isNetworkError(error: unknown): boolean {
  const code = errorCode(error)
  if (code !== undefined && networkCodes.has(code)) return true
  if (error instanceof TypeError && /fetch failed|network/i.test(error.message)) return true
  const name = (error as { name?: unknown } | null)?.name
  return name === 'PineconeConnectionError'
}

/**
 * What a vendor-specific reader extracted from an error.
 *
 * @example
 * ```ts
 * const classified: ClassifiedError = { status: 429 }
 * ```
 */
export interface ClassifiedError {
  readonly status?: number
  readonly timeout?: boolean
}

/**
 * Wraps a vendor error in an `AdapterError`. The message names the provider, the operation and the status only:
 * vendor messages can quote request URLs, ids or payload fragments, so they are never copied, nor attached as cause.
 *
 * @example
 * ```ts
 * throw toAdapterError('qdrant', 'query', error, { status: 503 })
 * ```
 */
export function toAdapterError(
  provider: string,
  operation: string,
  error: unknown,
  classified: ClassifiedError = {},
): WardenError {
  if (WardenError.isInstance(error)) return error
  const { status, timeout } = classified
  if (timeout === true) {
    return new AdapterError(`${provider} ${operation} timed out`, { reason: 'timeout', isRetryable: true })
  }
  if (status !== undefined) {
    const reason = status === 404 ? 'not_found' : status === 409 ? 'already_exists' : status === 429 ? 'rate_limited' : status === 401 || status === 403 ? 'unauthorized' : status >= 500 ? 'backend_unavailable' : 'backend_rejected'
    return new AdapterError(`${provider} ${operation} failed with status ${status}`, {
      reason,
      status,
      isRetryable: isRetryableStatus(status),
    })
  }
  if (isNetworkError(error)) {
    return new AdapterError(`${provider} ${operation} failed: connection error`, { reason: 'network', isRetryable: true })
  }
  const name = (error as { name?: unknown } | null)?.name
  const label = typeof name === 'string' && /^[A-Za-z]{1,64}$/.test(name) ? name : 'unknown error'
  return new AdapterError(`${provider} ${operation} failed: ${label}`, { reason: 'backend_error', isRetryable: false })
}
