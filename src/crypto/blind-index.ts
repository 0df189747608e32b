// blind indexes: truncated HMAC tokens of a field's plaintext, so equality filters work on encrypted fields

import type { Platform } from '../platform/index.js'
import type { FilterScalar } from '../spec/filter.js'
import type { JsonValue } from '../spec/records.js'
import { framed, writeLength, writeText } from './bytes.js'
import { PrefixedHmac, padToBlock } from './sha256.js'

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

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** base64url without padding of `bytes[0 .. length)`; tokens are at most 8 bytes, too short for a native call to pay. */
function shortBase64url(bytes: Uint8Array, length: number): string {
  let out = ''
  for (let i = 0; i < length; i += 3) {
    const a = bytes[i] as number
    const b = i + 1 < length ? (bytes[i + 1] as number) : 0
    const c = i + 2 < length ? (bytes[i + 2] as number) : 0
    out += BASE64URL[a >>> 2] as string
    out += BASE64URL[((a & 0x03) << 4) | (b >>> 4)] as string
    if (i + 1 < length) out += BASE64URL[((b & 0x0f) << 2) | (c >>> 6)] as string
    if (i + 2 < length) out += BASE64URL[c & 0x3f] as string
  }
  return out
}

/**
 * The message prefix of one field's tokens: frame(label) ‖ frame(collection) ‖ frame(field), zero-padded to a
 * multiple of 64 bytes (the prefix is self-delimiting, so the zeros are unambiguous) so that HMAC can absorb it once.
 *
 * @example
 * ```ts
 * const prefix = blindIndexPrefix(platform, 'docs', 'email') // 64 bytes
 * ```
 */
export function blindIndexPrefix(platform: Platform, collection: string, field: string): Uint8Array {
  return padToBlock(framed([platform.utf8Encode(LABEL), platform.utf8Encode(collection), platform.utf8Encode(field)]))
}

/**
 * Computes tokens for one field under one key: `keyId.base64url(HMAC-SHA256(key, pad64(frame(label, collection,
 * field)) ‖ frame(type ‖ value)) truncated to bits)`. The key id in the token keeps tokens of two keys apart
 * during a rotation. The key and the prefix are absorbed once per indexer; a token then costs three SHA-256 blocks
 * for values up to 51 bytes, computed in JavaScript so every runtime produces the same token.
 *
 * @example
 * ```ts
 * const tokens = blindIndexer(platform, key, 'k1', 'docs', 'email', 32)
 * tokens('ada@example.com') // 'k1.3q2-7w'
 * ```
 */
export function blindIndexer(platform: Platform, key: Uint8Array, keyId: string, collection: string, field: string, bits: number): (value: FilterScalar) => string {
  const hmac = new PrefixedHmac(key, blindIndexPrefix(platform, collection, field))
  const length = Math.ceil(bits / 8)
  const mask = (0xff << (length * 8 - bits)) & 0xff
  const head = `${keyId}.`
  const digest = new Uint8Array(32)
  let scratch = new Uint8Array(256)
  return (value) => {
    const text = scalarText(value)
    if (4 + 3 * text.length > scratch.length) scratch = new Uint8Array(4 + 3 * text.length)
    const size = writeText(platform, scratch, 4, text)
    writeLength(scratch, 0, size)
    hmac.mac(scratch, 4 + size, digest, 0)
    digest[length - 1] = (digest[length - 1] as number) & mask
    return head + shortBase64url(digest, length)
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
