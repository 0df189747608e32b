// blind indexes: truncated HMAC tokens of a field's plaintext, so equality filters work on encrypted fields

import type { Platform } from '../platform/index.js'
import type { FilterScalar } from '../spec/filter.js'
import type { JsonValue } from '../spec/records.js'
import { framed } from './bytes.js'

/** Prefix of the reserved sibling field holding a field's blind index: `_vw_bi_<field>`. */
export const BLIND_INDEX_PREFIX = '_vw_bi_'

/** Bits of a token when the configuration does not say. */
export const DEFAULT_BLIND_INDEX_BITS = 32

const LABEL = 'vectorwarden/blind-index/v1'

/** The typed text of a scalar: its type and value, so `1`, `'1'` and `true` index differently. */
function scalarText(value: FilterScalar): string {
  if (typeof value === 'string') return `s${value}`
  if (typeof value === 'number') return `n${String(value === 0 ? 0 : value)}`
  return value ? 'b1' : 'b0'
}

/**
 * Computes tokens for one field under one key: `keyId.base64url(HMAC-SHA256(key, frame(label, collection,
 * field) ‖ frame(type ‖ value)) truncated to bits)`. The key id in the token keeps tokens of two keys apart
 * during a rotation.
 *
 * @example
 * ```ts
 * const tokens = blindIndexer(platform, key, 'k1', 'docs', 'email', 32)
 * tokens('ada@example.com') // 'k1.3q2-7w'
 * ```
 */
export function blindIndexer(platform: Platform, key: Uint8Array, keyId: string, collection: string, field: string, bits: number): (value: FilterScalar) => string {
  const prefix = framed([platform.utf8Encode(LABEL), platform.utf8Encode(collection), platform.utf8Encode(field)])
  const length = Math.ceil(bits / 8)
  const mask = (0xff << (length * 8 - bits)) & 0xff
  return (value) => {
    const text = platform.utf8Encode(scalarText(value))
    const data = new Uint8Array(prefix.length + 4 + text.length)
    data.set(prefix, 0)
    new DataView(data.buffer).setUint32(prefix.length, text.length)
    data.set(text, prefix.length + 4)
    const token = platform.hmacSha256(key, data).slice(0, length)
    token[length - 1] = (token[length - 1] as number) & mask
    return `${keyId}.${platform.base64urlEncode(token)}`
  }
}

/**
 * The scalars a plaintext is indexed under: itself when a scalar, its scalar elements when a list (so `$eq`
 * matches an element, as on clear list fields); objects and `null` are not indexed.
 *
 * @example
 * ```ts
 * indexedScalars(['a', 'b', 'a']) // ['a', 'b']
 * ```
 */
export function indexedScalars(value: JsonValue): readonly FilterScalar[] {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [value]
  if (Array.isArray(value)) {
    const out: FilterScalar[] = []
    for (const element of value as readonly JsonValue[]) {
      if ((typeof element === 'string' || typeof element === 'number' || typeof element === 'boolean') && !out.includes(element)) out.push(element)
    }
    return out
  }
  return []
}
