// byte framing shared by envelopes, key derivation, blind indexes and record MACs: every component length-prefixed

import type { Platform } from '../platform/types.js'

/**
 * Concatenates the parts, each preceded by its length as a 4-byte big-endian integer, so that no two different
 * lists of parts frame to the same bytes (the ambiguity of `"{tenant}-{path}"` style labels).
 *
 * @example
 * ```ts
 * framed([utf8('ab'), utf8('c')]) // 00000002 6162 00000001 63 — not the framing of ['a', 'bc']
 * ```
 */
export function framed(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += 4 + part.length
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  let offset = 0
  for (const part of parts) {
    view.setUint32(offset, part.length)
    out.set(part, offset + 4)
    offset += 4 + part.length
  }
  return out
}

/**
 * Writes `length` as a 4-byte big-endian integer at `offset`: the frame header of {@link framed}, for callers that
 * assemble frames in place.
 *
 * @example
 * ```ts
 * writeLength(scratch, 0, 3) // scratch[0..4] = 00 00 00 03
 * ```
 */
export function writeLength(target: Uint8Array, offset: number, length: number): void {
  target[offset] = length >>> 24
  target[offset + 1] = (length >>> 16) & 0xff
  target[offset + 2] = (length >>> 8) & 0xff
  target[offset + 3] = length & 0xff
}

/**
 * Writes `text` as UTF-8 at `offset` and returns the number of bytes written. ASCII, its own UTF-8, is copied
 * directly; anything else goes through the platform's encoder. The caller leaves room for 3 bytes per character.
 *
 * @example
 * ```ts
 * const written = writeText(platform, scratch, 4, 'doc-1') // 5
 * ```
 */
export function writeText(platform: Platform, target: Uint8Array, offset: number, text: string): number {
  const length = text.length
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) {
      const encoded = platform.utf8Encode(text)
      target.set(encoded, offset)
      return encoded.length
    }
    target[offset + i] = code
  }
  return length
}

/**
 * Whether a string has no lone surrogate (UTF-8 would map such strings onto others, breaking injectivity).
 *
 * @example
 * ```ts
 * isWellFormed('a\uD800') // false
 * ```
 */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed()
}

/** Strings that name keys: short, printable, no `.` (the separator of MAC and blind-index strings). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

const SEXTETS = (() => {
  const table = new Int16Array(128).fill(256)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
})()

/**
 * The value of a base64url character, or 256 (a bit no value has) when the code is not one.
 *
 * @example
 * ```ts
 * base64urlValue('_'.charCodeAt(0)) // 63
 * ```
 */
export function base64urlValue(code: number): number {
  return code < 128 ? (SEXTETS[code] as number) : 256
}
