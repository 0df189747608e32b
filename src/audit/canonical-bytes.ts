// RFC 8785 canonical JSON written straight to UTF-8 bytes: the log's hot path, with no intermediate strings to flatten

import { sortKeys } from './canonical-json.js'

/**
 * A growable byte buffer that log lines are assembled in: canonical events, chain fields and checkpoint lines go in
 * as UTF-8, and the file sink writes `bytes.subarray(0, length)` with one system call per group.
 *
 * @example
 * ```ts
 * const out = new ByteWriter()
 * writeCanonical(out, { b: 1, a: 'x' })
 * new TextDecoder().decode(out.bytes.subarray(0, out.length)) // '{"a":"x","b":1}'
 * ```
 */
export class ByteWriter {
  /** The buffer; only `0 … length-1` is meaningful. Replaced (not resized in place) when it grows. */
  bytes: Uint8Array
  length = 0

  constructor(capacity = 64 * 1024) {
    if (!Number.isSafeInteger(capacity) || capacity < 16) throw new TypeError('ByteWriter: capacity must be an integer ≥ 16')
    this.bytes = this.allocate(capacity)
  }

  /** A new backing buffer; a runtime may return its own byte type (node: an unzeroed `Buffer`). */
  protected allocate(capacity: number): Uint8Array {
    return new Uint8Array(capacity)
  }

  /**
   * Encodes `text` as UTF-8 at `at` (room is reserved) and returns the bytes written; lone surrogates become U+FFFD.
   * Called for long strings only, where a native encoder beats a loop; a runtime may override it.
   */
  protected encodeAt(text: string, at: number): number {
    return encoder.encodeInto(text, this.bytes.subarray(at)).written
  }

  /** {@link encodeAt} for text known to be ASCII; a runtime may override it with a plain copy. */
  protected encodeAsciiAt(text: string, at: number): number {
    return this.encodeAt(text, at)
  }

  /** Makes room for `extra` more bytes. */
  reserve(extra: number): void {
    const needed = this.length + extra
    if (needed <= this.bytes.length) return
    let capacity = this.bytes.length * 2
    while (capacity < needed) capacity *= 2
    const grown = this.allocate(capacity)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }

  /** Appends one byte. */
  byte(value: number): void {
    if (this.length === this.bytes.length) this.reserve(1)
    this.bytes[this.length++] = value
  }

  /** Appends text known to be ASCII (digits, hex, fixed punctuation): one byte per character. */
  ascii(text: string): void {
    const length = text.length
    if (this.length + length > this.bytes.length) this.reserve(length)
    if (length >= NATIVE_FROM) {
      this.length += this.encodeAsciiAt(text, this.length)
      return
    }
    const bytes = this.bytes
    let at = this.length
    for (let index = 0; index < length; index++) bytes[at++] = text.charCodeAt(index)
    this.length = at
  }

  /** Appends `source[from … to-1]` as they are. */
  append(source: Uint8Array, from = 0, to = source.length): void {
    const length = to - from
    if (this.length + length > this.bytes.length) this.reserve(length)
    this.bytes.set(source.subarray(from, to), this.length)
    this.length += length
  }

  /** Appends any string as UTF-8, unquoted and unescaped (lone surrogates become U+FFFD, as `TextEncoder` does). */
  utf8(text: string): void {
    this.reserve(text.length * 3)
    this.length += this.encodeAt(text, this.length)
  }

  /** Appends a string as an RFC 8785 JSON string (quoted, minimal escapes); `TypeError` on a lone surrogate. */
  jsonString(text: string): void {
    writeString(this, text)
  }

  /** Empties the buffer for reuse (keeps its capacity). */
  clear(): void {
    this.length = 0
  }
}

const encoder = new TextEncoder()

// from this length on a native encoder (after a regular-expression check for escapes) beats a per-character loop
const NATIVE_FROM = 48

// characters that need an escape, and surrogates (which need a well-formedness check)
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/

// nesting deeper than this is a cycle or an attack; audit events are a few levels deep
const MAX_DEPTH = 256

/**
 * Appends the RFC 8785 form of `value` to `out` as UTF-8: byte for byte the UTF-8 encoding of `canonicalize(value)`,
 * with the same `TypeError`s (non-finite numbers, bigints, lone surrogates, cycles). On a `TypeError` the bytes
 * written so far stay in `out`; callers reset `out.length`.
 *
 * @example
 * ```ts
 * const out = new ByteWriter()
 * writeCanonical(out, event)
 * ```
 */
export function writeCanonical(out: ByteWriter, value: unknown): void {
  writeValue(out, value, 0)
}

function writeValue(out: ByteWriter, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      writeString(out, value)
      return
    case 'number':
      // ECMAScript Number::toString is the algorithm RFC 8785 §3.2.2.3 adopts; -0 serializes as 0
      if (value === 0) out.byte(0x30)
      else if (value - value !== 0) throw new TypeError('canonicalize: NaN and Infinity are not JSON')
      else out.ascii(String(value))
      return
    case 'boolean':
      out.ascii(value ? 'true' : 'false')
      return
    case 'object': {
      if (value === null) {
        out.ascii('null')
        return
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        writeValue(out, (value as { toJSON: () => unknown }).toJSON(), depth)
        return
      }
      if (depth >= MAX_DEPTH) throw new TypeError('canonicalize: structure is cyclic or nested too deeply')
      if (Array.isArray(value)) writeArray(out, value, depth)
      else writeObject(out, value, depth)
      return
    }
    case 'bigint':
      throw new TypeError('canonicalize: bigint is not JSON')
    default:
      throw new TypeError(`canonicalize: ${typeof value} is not JSON`)
  }
}

function writeArray(out: ByteWriter, value: readonly unknown[], depth: number): void {
  out.byte(0x5b) // [
  const length = value.length
  for (let index = 0; index < length; index++) {
    if (index > 0) out.byte(0x2c) // ,
    const item: unknown = value[index]
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') out.ascii('null')
    else writeValue(out, item, depth + 1)
  }
  out.byte(0x5d) // ]
}

function writeObject(out: ByteWriter, value: object, depth: number): void {
  const keys = Object.keys(value)
  // objects are usually built in a readable order, nested ones often already sorted: check before sorting
  for (let index = 1; index < keys.length; index++) {
    if ((keys[index - 1] as string) > (keys[index] as string)) {
      sortKeys(keys)
      break
    }
  }
  out.byte(0x7b) // {
  let first = true
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string
    const member: unknown = (value as Record<string, unknown>)[key]
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue
    if (!first) out.byte(0x2c) // ,
    first = false
    writeString(out, key)
    out.byte(0x3a) // :
    writeValue(out, member, depth + 1)
  }
  out.byte(0x7d) // }
}

const HEX_DIGITS = '0123456789abcdef'

// 1 for the ASCII characters a JSON string carries verbatim: printable, neither a quote nor a backslash
const PLAIN = new Uint8Array(128)
for (let code = 0x20; code < 0x80; code++) if (code !== 0x22 && code !== 0x5c) PLAIN[code] = 1

/**
 * Writes a string as a quoted UTF-8 JSON string with the escapes of RFC 8785 §3.2.2.2 (\" \\ \b \f \n \r \t, other
 * controls as lowercase \u00xx, everything else verbatim); lone surrogates are rejected.
 */
function writeString(out: ByteWriter, text: string): void {
  const length = text.length
  // worst case: 6 bytes per code unit (\u00xx), plus the quotes
  if (out.length + length * 6 + 2 > out.bytes.length) out.reserve(length * 6 + 2)
  if (length >= NATIVE_FROM && !SPECIAL.test(text)) {
    // nothing to escape and no surrogate: UTF-8 as is
    out.byte(0x22)
    out.utf8(text)
    out.byte(0x22)
    return
  }
  const bytes = out.bytes
  let at = out.length
  bytes[at++] = 0x22
  // the common case, printable ASCII with nothing to escape, in a tight loop; the general one takes over from the
  // first other character
  let plain = 0
  for (; plain < length; plain++) {
    const code = text.charCodeAt(plain)
    if (code >= 0x80 || PLAIN[code] !== 1) break
    bytes[at++] = code
  }
  for (let index = plain; index < length; index++) {
    let code = text.charCodeAt(index)
    if (code < 0x80) {
      if (code >= 0x20 && code !== 0x22 && code !== 0x5c) {
        bytes[at++] = code
        continue
      }
      bytes[at++] = 0x5c // backslash
      switch (code) {
        case 0x22:
          bytes[at++] = 0x22
          break
        case 0x5c:
          bytes[at++] = 0x5c
          break
        case 0x08:
          bytes[at++] = 0x62 // b
          break
        case 0x0c:
          bytes[at++] = 0x66 // f
          break
        case 0x0a:
          bytes[at++] = 0x6e // n
          break
        case 0x0d:
          bytes[at++] = 0x72 // r
          break
        case 0x09:
          bytes[at++] = 0x74 // t
          break
        default:
          bytes[at++] = 0x75 // u
          bytes[at++] = 0x30
          bytes[at++] = 0x30
          bytes[at++] = HEX_DIGITS.charCodeAt(code >> 4)
          bytes[at++] = HEX_DIGITS.charCodeAt(code & 0xf)
      }
    } else if (code < 0x800) {
      bytes[at++] = 0xc0 | (code >> 6)
      bytes[at++] = 0x80 | (code & 0x3f)
    } else if ((code & 0xf800) !== 0xd800) {
      bytes[at++] = 0xe0 | (code >> 12)
      bytes[at++] = 0x80 | ((code >> 6) & 0x3f)
      bytes[at++] = 0x80 | (code & 0x3f)
    } else {
      // a surrogate: a high one followed by a low one is one code point in four bytes; anything else is lone
      const next = index + 1 < length ? text.charCodeAt(index + 1) : 0
      if (code >= 0xdc00 || (next & 0xfc00) !== 0xdc00) {
        out.length = at
        throw new TypeError('canonicalize: string holds a lone surrogate')
      }
      code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00)
      index++
      bytes[at++] = 0xf0 | (code >> 18)
      bytes[at++] = 0x80 | ((code >> 12) & 0x3f)
      bytes[at++] = 0x80 | ((code >> 6) & 0x3f)
      bytes[at++] = 0x80 | (code & 0x3f)
    }
  }
  bytes[at++] = 0x22
  out.length = at
}
