// encryption in transit: an adapter refuses plain HTTP to anything but loopback unless the configuration says otherwise

import { ConfigError } from '../../errors.js'

/**
 * Whether a host name is a loopback address (traffic never leaves the machine).
 *
 * @example
 * ```ts
 * isLoopbackHost('127.0.0.1') // true
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  // only the name itself: a subdomain of localhost may be sent to a DNS server that answers it with anything
  if (host === 'localhost') return true
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true
  if (/^127(\.\d{1,3}){3}$/.test(host)) return true
  return /^::ffff:127(\.\d{1,3}){3}$/.test(host)
}

/**
 * The verdict on one endpoint.
 *
 * @example
 * ```ts
 * const verdict: TransportVerdict = checkTransport('https://db.example.com', { allowInsecureTransport: false, provider: 'x' })
 * ```
 */
export interface TransportVerdict {
  /** True for https, and for http on loopback. */
  readonly secure: boolean
}

/**
 * Checks one endpoint URL. Plain HTTP to a non-loopback host throws `ConfigError` unless `allowInsecureTransport`.
 * The message names the host, never the URL's credentials or query.
 *
 * @example
 * ```ts
 * checkTransport('http://10.0.0.5:6333', { allowInsecureTransport: false, provider: 'qdrant' }) // throws
 * ```
 */
export function checkTransport(
  url: string,
  options: { readonly allowInsecureTransport: boolean; readonly provider: string },
): TransportVerdict {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`${options.provider}: the client's endpoint is not a valid URL`, { reason: 'invalid_endpoint' })
  }
  if (parsed.protocol === 'https:') return { secure: true }
  if (parsed.protocol !== 'http:') {
    throw new ConfigError(`${options.provider}: unsupported endpoint scheme ${parsed.protocol}`, { reason: 'invalid_endpoint' })
  }
  if (isLoopbackHost(parsed.hostname)) return { secure: true }
  if (options.allowInsecureTransport) return { secure: false }
  throw new ConfigError(
    `${options.provider}: refusing plain HTTP to ${parsed.hostname}; use https or set allowInsecureTransport: true`,
    { reason: 'insecure_transport' },
  )
}
