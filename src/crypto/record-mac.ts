// record integrity: a MAC over the record's place and its signed fields, so changes made inside the database show

import type { Platform } from '../platform/index.js'
import type { Metadata } from '../spec/records.js'
import { base64urlValue as sextet, isWellFormed } from './bytes.js'
import { ENVELOPE_PREFIX } from './envelope.js'
import { padToBlock } from './sha256.js'

/** The reserved field that holds the record MAC. */
export const RECORD_MAC_FIELD = '_vw_mac'

/** What MAC strings written today start with: version 2, which binds every byte of every envelope. */
export const RECORD_MAC_PREFIX = 'vwm2.'

/** What MAC strings of version 1 start with (an envelope contributed its last 24 characters); still verified. */
export const RECORD_MAC_PREFIX_V1 = 'vwm1.'

/** The record MAC versions: 1 (read only) and 2 (written). */
export type RecordMacVersion = 1 | 2

const LABELS = { 1: 'vectorwarden/record/v1', 2: 'vectorwarden/record/v2' } as const

/** Whether a string starts like a record MAC of any version (a clear field must not, so none can pose as one). */
export function looksLikeRecordMac(text: string): boolean {
  return text.startsWith(RECORD_MAC_PREFIX) || text.startsWith(RECORD_MAC_PREFIX_V1)
}

/** What a MAC string says: the scope kind and key of the MAC key, the tag, and the fields it covers. */
export interface ParsedRecordMac {
  readonly version: RecordMacVersion
  readonly scopeKind: 'collection' | 'tenant'
  readonly keyId: string
  readonly tag: string
  readonly fields: readonly string[]
  /** The same fields as a set. */
  readonly fieldSet: ReadonlySet<string>
  /** The encoded field list, as bound into the MAC. */
  readonly fieldsToken: string
}

/**
 * Encodes a MAC text: UTF-8 when well-formed (UTF-8 is injective on well-formed text), else the byte 0xff followed
 * by its UTF-16LE code units (UTF-8 would merge strings that differ only in lone surrogates; no UTF-8 output
 * contains 0xff).
 *
 * @example
 * ```ts
 * encodeMacText(platform, '5:doc-1') // UTF-8 bytes
 * ```
 */
export function encodeMacText(platform: Platform, text: string): Uint8Array {
  if (isWellFormed(text)) return platform.utf8Encode(text)
  const out = new Uint8Array(1 + text.length * 2)
  out[0] = 0xff
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    out[1 + 2 * i] = code & 0xff
    out[2 + 2 * i] = code >>> 8
  }
  return out
}

/**
 * The part of a record MAC's input shared by every record of one scope, key, tenant, collection and covered-field
 * list: `frame(label) frame(scope kind) frame(key id) frame(tenant) frame(collection) frame(fieldsToken)`, where
 * `frame(s)` = decimal length of `s` in UTF-16 units, `:`, `s`; encoded by {@link encodeMacText} and zero-padded
 * to a multiple of 64 bytes so that HMAC absorbs it once (the text is self-delimiting: the zeros are unambiguous).
 *
 * @example
 * ```ts
 * const prefix = recordMacPrefix(platform, 2, 'tenant', 'k1', 'acme', 'docs', token)
 * ```
 */
export function recordMacPrefix(platform: Platform, version: RecordMacVersion, scopeKind: 'collection' | 'tenant', keyId: string, tenant: string, collection: string, fieldsToken: string): Uint8Array {
  const label = LABELS[version]
  const text = `${label.length}:${label}${scopeKind.length}:${scopeKind}${keyId.length}:${keyId}${tenant.length}:${tenant}${collection.length}:${collection}${fieldsToken.length}:${fieldsToken}`
  return padToBlock(encodeMacText(platform, text))
}

/**
 * The SHA-256 (lowercase hex) of the covered envelopes of a record, concatenated in the order of `fields`: what a
 * version 2 MAC binds them by; `''` when no covered field holds an envelope. The platform hashes the text as UTF-8,
 * which maps lone surrogates to U+FFFD; that loses nothing that matters: envelopes written by `protect` are ASCII,
 * and a string that is not ASCII has UTF-8 that is not ASCII, so no other text digests like honest envelopes (and
 * the MAC binds each envelope's length too).
 *
 * @example
 * ```ts
 * const digest = envelopeDigest(platform, ['body', 'tenant', 'title'], metadata)
 * ```
 */
export function envelopeDigest(platform: Platform, fields: readonly string[], metadata: Metadata): string {
  let envelopes = ''
  let any = false
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f] as string
    const value = Object.hasOwn(metadata, field) ? metadata[field] : undefined
    if (typeof value === 'string' && value.startsWith(ENVELOPE_PREFIX)) {
      envelopes += value
      any = true
    }
  }
  return any ? platform.sha256Hex(envelopes) : ''
}

/**
 * The part of a record MAC's input that is the record's own, as text (encoded by {@link encodeMacText}):
 * `frame(record id)` then, per covered field in the order of the list (which the prefix binds through the fields
 * token, so names are not repeated), its value: `x` (absent), an envelope, `s` + frame(string), `n` + number + `;`,
 * `t` / `f` (booleans) or `l` + count + `:` + frame(each). An envelope is `e` + its length + `;` in version 2, and
 * the text then ends with `h` + {@link envelopeDigest} (every byte of every envelope); in version 1 it is `e` + its
 * last 24 characters (its tag). Every value is self-delimiting, so the text is unambiguous.
 *
 * @example
 * ```ts
 * const text = recordMacSuffix(platform, 2, 'doc-1', ['acl', 'tenant'], metadata)
 * ```
 */
export function recordMacSuffix(platform: Platform, version: RecordMacVersion, recordId: string, fields: readonly string[], metadata: Metadata): string {
  let text = `${recordId.length}:${recordId}`
  for (const field of fields) {
    const value = Object.hasOwn(metadata, field) ? metadata[field] : undefined
    if (value === undefined) text += 'x'
    else if (typeof value === 'string') {
      if (!value.startsWith(ENVELOPE_PREFIX)) text += `s${value.length}:${value}`
      else text += version === 1 ? `e${value.slice(-24)}` : `e${value.length};`
    } else if (typeof value === 'number') text += `n${value === 0 ? 0 : value};`
    else if (typeof value === 'boolean') text += value ? 't' : 'f'
    else {
      text += `l${value.length}:`
      for (const element of value) text += `${String(element).length}:${String(element)}`
    }
  }
  const digest = version === 2 ? envelopeDigest(platform, fields, metadata) : ''
  return digest === '' ? text : `${text}h${digest}`
}

/**
 * Writes {@link recordMacSuffix} straight into `out` as bytes when it is all ASCII (then UTF-8 is the text itself)
 * and fits; returns the length, or -1 when it does not (the caller then encodes the text). `digest` is the
 * record's {@link envelopeDigest} for version 2 (the caller computes it once), ignored for version 1.
 *
 * @example
 * ```ts
 * const length = writeMacSuffix(scratch, 2, 'doc-1', fields, metadata, envelopeDigest(platform, fields, metadata))
 * ```
 */
export function writeMacSuffix(out: Uint8Array, version: RecordMacVersion, recordId: string, fields: readonly string[], metadata: Metadata, digest: string): number {
  let offset = writeFrame(out, 0, recordId)
  for (let f = 0; f < fields.length && offset >= 0; f++) {
    const field = fields[f] as string
    const value = Object.hasOwn(metadata, field) ? metadata[field] : undefined
    if (offset + 1 > out.length) return -1
    if (value === undefined) out[offset++] = 0x78
    else if (typeof value === 'string') {
      if (value.startsWith(ENVELOPE_PREFIX)) {
        out[offset++] = 0x65
        if (version === 2) {
          offset = writeAscii(out, offset, String(value.length), 0)
          if (offset < 0 || offset + 1 > out.length) return -1
          out[offset++] = 0x3b
        } else {
          // the text form slices the last 24 characters; an envelope shorter than that is malformed and fails later
          if (value.length < 24) return -1
          offset = writeAscii(out, offset, value, value.length - 24)
        }
      } else {
        out[offset++] = 0x73
        offset = writeFrame(out, offset, value)
      }
    } else if (typeof value === 'number') {
      out[offset++] = 0x6e
      offset = writeAscii(out, offset, String(value === 0 ? 0 : value), 0)
      if (offset < 0 || offset + 1 > out.length) return -1
      out[offset++] = 0x3b
    } else if (typeof value === 'boolean') out[offset++] = value ? 0x74 : 0x66
    else {
      out[offset++] = 0x6c
      offset = writeAscii(out, offset, String(value.length), 0)
      if (offset < 0 || offset + 1 > out.length) return -1
      out[offset++] = 0x3a
      for (let i = 0; i < value.length && offset >= 0; i++) offset = writeFrame(out, offset, String(value[i]))
    }
  }
  if (version === 1 || digest === '' || offset < 0) return offset
  if (offset + 1 > out.length) return -1
  out[offset++] = 0x68
  return writeAscii(out, offset, digest, 0)
}

/** Writes `frame(text)` (decimal UTF-16 length, `:`, text) as ASCII; -1 when not ASCII or out of room. */
function writeFrame(out: Uint8Array, offset: number, text: string): number {
  const at = writeAscii(out, offset, String(text.length), 0)
  if (at < 0 || at + 1 > out.length) return -1
  out[at] = 0x3a
  return writeAscii(out, at + 1, text, 0)
}

/** Writes `text[from ..]` as ASCII bytes; -1 when a character is not ASCII or there is no room. */
function writeAscii(out: Uint8Array, offset: number, text: string, from: number): number {
  if (offset < 0 || offset + text.length - from > out.length) return -1
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) return -1
    out[offset++] = code
  }
  return offset
}

/**
 * The whole input of a record MAC: {@link recordMacPrefix} ‖ encoded {@link recordMacSuffix}. The protector
 * computes the same HMAC from a cached midstate of the prefix; this is the reference the tests compare it with.
 *
 * @example
 * ```ts
 * const data = recordMacInput(platform, 2, 'tenant', 'k1', 'acme', 'docs', 'doc-1', token, fields, metadata)
 * ```
 */
export function recordMacInput(
  platform: Platform,
  version: RecordMacVersion,
  scopeKind: 'collection' | 'tenant',
  keyId: string,
  tenant: string,
  collection: string,
  recordId: string,
  fieldsToken: string,
  fields: readonly string[],
  metadata: Metadata,
): Uint8Array {
  const prefix = recordMacPrefix(platform, version, scopeKind, keyId, tenant, collection, fieldsToken)
  const suffix = encodeMacText(platform, recordMacSuffix(platform, version, recordId, fields, metadata))
  const out = new Uint8Array(prefix.length + suffix.length)
  out.set(prefix, 0)
  out.set(suffix, prefix.length)
  return out
}

/**
 * Decodes the 43-character tag at `offset` of a MAC string into `out` (32 bytes), strictly: only the base64url
 * alphabet, and the last character's unused low bits zero. False when it is not such a tag.
 *
 * @example
 * ```ts
 * if (!decodeMacTag(text, tagStart, scratch)) return 'record_mac_mismatch'
 * ```
 */
export function decodeMacTag(text: string, offset: number, out: Uint8Array): boolean {
  if (offset < 0 || text.length < offset + 43 || out.length < 32) return false
  let bad = 0
  let o = 0
  let i = offset
  for (; i < offset + 40; i += 4) {
    const a = sextet(text.charCodeAt(i))
    const b = sextet(text.charCodeAt(i + 1))
    const c = sextet(text.charCodeAt(i + 2))
    const d = sextet(text.charCodeAt(i + 3))
    bad |= a | b | c | d
    out[o++] = ((a << 2) | (b >>> 4)) & 0xff
    out[o++] = ((b << 4) | (c >>> 2)) & 0xff
    out[o++] = ((c << 6) | d) & 0xff
  }
  const a = sextet(text.charCodeAt(i))
  const b = sextet(text.charCodeAt(i + 1))
  const c = sextet(text.charCodeAt(i + 2))
  bad |= a | b | c
  out[o++] = ((a << 2) | (b >>> 4)) & 0xff
  out[o] = ((b << 4) | (c >>> 2)) & 0xff
  // an invalid character maps to 256, a bit no valid sextet has; the last character carries 4 bits of the tag
  return (bad & 0x100) === 0 && (c & 0x03) === 0
}

/**
 * Encodes a covered-field list for a MAC string (base64url of its JSON).
 *
 * @example
 * ```ts
 * const token = fieldsToken(platform, ['acl', 'email', 'tenant'])
 * ```
 */
export function fieldsToken(platform: Platform, fields: readonly string[]): string {
  return platform.base64urlEncode(platform.utf8Encode(JSON.stringify(fields)))
}

/**
 * Parses a MAC string `vwm2.<c|t>.<key id>.<tag>.<fields token>` (or `vwm1.…`); `undefined` when malformed.
 *
 * @example
 * ```ts
 * const mac = parseRecordMac(platform, metadata._vw_mac, cache)
 * ```
 */
export function parseRecordMac(platform: Platform, text: unknown, cache: Map<string, { readonly fields: readonly string[]; readonly fieldSet: ReadonlySet<string> }>): ParsedRecordMac | undefined {
  if (typeof text !== 'string') return undefined
  const prefix = text.startsWith(RECORD_MAC_PREFIX) ? RECORD_MAC_PREFIX : text.startsWith(RECORD_MAC_PREFIX_V1) ? RECORD_MAC_PREFIX_V1 : undefined
  if (prefix === undefined) return undefined
  const version = prefix === RECORD_MAC_PREFIX ? 2 : 1
  const parts = text.slice(prefix.length).split('.')
  if (parts.length !== 4) return undefined
  const [kind, keyId, tag, token] = parts as [string, string, string, string]
  const scopeKind = kind === 't' ? 'tenant' : kind === 'c' ? 'collection' : undefined
  if (scopeKind === undefined || keyId.length === 0 || tag.length !== 43) return undefined
  let entry = cache.get(token)
  if (entry === undefined) {
    try {
      const parsed: unknown = JSON.parse(platform.utf8Decode(platform.base64urlDecode(token)))
      if (!Array.isArray(parsed) || !parsed.every((field) => typeof field === 'string')) return undefined
      entry = { fields: parsed as string[], fieldSet: new Set(parsed as string[]) }
    } catch {
      return undefined
    }
    if (cache.size > 1024) cache.clear()
    cache.set(token, entry)
  }
  return { version, scopeKind, keyId, tag, fields: entry.fields, fieldSet: entry.fieldSet, fieldsToken: token }
}
