// canonical JSON (sorted keys, RFC 8785 style for plain data) and the content hash that versions a policy

import { platform } from '../platform/index.js'

/**
 * Serializes plain data deterministically: object keys sorted, no whitespace, `undefined` members dropped.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map((element) => canonicalJson(element ?? null)).join(',')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(',')}}`
  }
  throw new TypeError(`canonicalJson: unsupported value of type ${typeof value}`)
}

/**
 * The version of a policy document: `sha256:` and the first 32 hex digits of SHA-256 over its canonical JSON.
 *
 * @example
 * ```ts
 * contentVersion({ id: 'p', roles: {} }) // 'sha256:…'
 * ```
 */
export function contentVersion(document: unknown): string {
  const digest = platform.sha256(platform.utf8Encode(canonicalJson(document)))
  return `sha256:${platform.hex(digest).slice(0, 32)}`
}
