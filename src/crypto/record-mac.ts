// record integrity: a MAC over the record's place and its signed fields, so changes made inside the database show

import type { Platform } from '../platform/index.js'
import type { Metadata } from '../spec/records.js'
import { isWellFormed } from './bytes.js'
import { ENVELOPE_PREFIX } from './envelope.js'

/** The reserved field that holds the record MAC. */
export const RECORD_MAC_FIELD = '_vw_mac'

/** Every MAC string starts with this. */
export const RECORD_MAC_PREFIX = 'vwm1.'

const LABEL = 'vectorwarden/record/v1'

/** What a MAC string says: the scope kind and key of the MAC key, the tag, and the fields it covers. */
export interface ParsedRecordMac {
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
 * The bytes a record MAC is computed over: a self-delimiting text, encoded as UTF-8 when well-formed, else as 0xff
 * followed by its UTF-16LE code units (UTF-8 would merge strings that differ only in lone surrogates):
 * `frame(label) frame(scope kind) frame(key id) frame(tenant) frame(collection) frame(record id) frame(fieldsToken)`
 * then, per covered field, `frame(field) value`, where `frame(s)` = decimal length of `s` in UTF-16 units, `:`, `s`,
 * and `value` is `x` (absent), `e` + the last 24 characters (an envelope: they hold its tag, itself a MAC of the
 * whole envelope), `s` + frame(string), `n` + number + `;`, `t` / `f` (booleans) or `l` + count + `:` + frame(each).
 *
 * @example
 * ```ts
 * const data = recordMacInput(platform, 'tenant', 'k1', 'acme', 'docs', 'doc-1', token, fields, metadata)
 * ```
 */
export function recordMacInput(
  platform: Platform,
  scopeKind: 'collection' | 'tenant',
  keyId: string,
  tenant: string,
  collection: string,
  recordId: string,
  fieldsToken: string,
  fields: readonly string[],
  metadata: Metadata,
): Uint8Array {
  let text = `${LABEL.length}:${LABEL}${scopeKind.length}:${scopeKind}${keyId.length}:${keyId}${tenant.length}:${tenant}${collection.length}:${collection}${recordId.length}:${recordId}${fieldsToken.length}:${fieldsToken}`
  for (const field of fields) {
    text += `${field.length}:${field}`
    const value = Object.hasOwn(metadata, field) ? metadata[field] : undefined
    if (value === undefined) text += 'x'
    else if (typeof value === 'string') text += value.startsWith(ENVELOPE_PREFIX) ? `e${value.slice(-24)}` : `s${value.length}:${value}`
    else if (typeof value === 'number') text += `n${value === 0 ? 0 : value};`
    else if (typeof value === 'boolean') text += value ? 't' : 'f'
    else {
      text += `l${value.length}:`
      for (const element of value) text += `${String(element).length}:${String(element)}`
    }
  }
  // UTF-8 is injective on well-formed text (the common case, encoded natively); text with a lone surrogate is
  // encoded as UTF-16LE code units after a 0xff byte, which no UTF-8 output contains
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
 * Parses a MAC string `vwm1.<c|t>.<key id>.<tag>.<fields token>`; `undefined` when malformed.
 *
 * @example
 * ```ts
 * const mac = parseRecordMac(platform, metadata._vw_mac, cache)
 * ```
 */
export function parseRecordMac(platform: Platform, text: unknown, cache: Map<string, { readonly fields: readonly string[]; readonly fieldSet: ReadonlySet<string> }>): ParsedRecordMac | undefined {
  if (typeof text !== 'string' || !text.startsWith(RECORD_MAC_PREFIX)) return undefined
  const parts = text.slice(RECORD_MAC_PREFIX.length).split('.')
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
  return { scopeKind, keyId, tag, fields: entry.fields, fieldSet: entry.fieldSet, fieldsToken: token }
}
