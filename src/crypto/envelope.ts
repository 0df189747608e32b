// envelope format v1: a self-describing, place-bound ciphertext of one metadata field, stored as a string

import type { Platform } from '../platform/index.js'
import { framed, writeLength } from './bytes.js'
import { SUITES, type SuiteName, suiteById, TAG_LENGTH } from './suites.js'

/** Every envelope string starts with this; base64url never contains `.`, so the prefix cannot occur by accident. */
export const ENVELOPE_PREFIX = 'vwe1.'

/** Format version byte of this layout. */
export const ENVELOPE_VERSION = 0x01

/** Length of the per-writer salt bound into the field-encryption subkey (18: bytes 0..20 fill 28 base64 chars). */
export const SALT_LENGTH = 18

/** Characters of an envelope string (after the prefix) that encode version, suite, scope kind and salt exactly. */
export const ENVELOPE_KEY_CHARS = 28

/** Scope-kind byte: which scope value the field-encryption subkey was derived for. */
export const SCOPE_KIND_BYTE = { collection: 0x01, tenant: 0x02 } as const

const AAD_LABEL = 'vectorwarden/envelope/v1'

/** The parsed header of an envelope and its sealed part (ciphertext ‖ tag). */
export interface ParsedEnvelope {
  readonly suite: SuiteName
  readonly scopeKind: 'collection' | 'tenant'
  readonly keyId: string
  readonly salt: Uint8Array
  readonly nonce: Uint8Array
  /** Bytes 0 .. end of nonce: what the AAD binds as the header. */
  readonly header: Uint8Array
  readonly sealed: Uint8Array
}

/** Why an envelope string could not be parsed; never says anything about its content. */
export type EnvelopeProblem = 'envelope_malformed' | 'envelope_version' | 'envelope_suite'

/**
 * Writes the header: version, suite, scope kind, salt, key id length, key id, nonce.
 *
 * @example
 * ```ts
 * const header = envelopeHeader('aes-256-gcm', 'tenant', 'k1', salt, nonce)
 * ```
 */
/** Where the key id starts in an envelope's bytes: after version, suite, scope kind, salt and the key id length. */
export const ENVELOPE_KEY_ID_AT = 4 + SALT_LENGTH

/**
 * The key id at `bytes[start .. start + length)`, or `undefined` when a byte is outside `A-Z a-z 0-9 _ -` (key ids
 * are ASCII, one byte per character).
 *
 * @example
 * ```ts
 * const keyId = readEnvelopeKeyId(bytes, ENVELOPE_KEY_ID_AT, bytes[ENVELOPE_KEY_ID_AT - 1])
 * ```
 */
export function readEnvelopeKeyId(bytes: Uint8Array, start: number, length: number): string | undefined {
  let keyId = ''
  for (let i = start; i < start + length; i++) {
    const code = bytes[i] as number
    const ok = (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x2d
    if (!ok) return undefined
    keyId += String.fromCharCode(code)
  }
  return keyId
}

export function envelopeHeader(suite: SuiteName, scopeKind: 'collection' | 'tenant', keyId: string, salt: Uint8Array, nonce: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + SALT_LENGTH + keyId.length + nonce.length)
  header[0] = ENVELOPE_VERSION
  header[1] = SUITES[suite].id
  header[2] = SCOPE_KIND_BYTE[scopeKind]
  header.set(salt, 3)
  header[3 + SALT_LENGTH] = keyId.length
  // key ids are ASCII (KEY_ID_PATTERN), one byte per character
  for (let i = 0; i < keyId.length; i++) header[4 + SALT_LENGTH + i] = keyId.charCodeAt(i)
  header.set(nonce, 4 + SALT_LENGTH + keyId.length)
  return header
}

/**
 * The structural checks of a v1 envelope header, without building anything: a problem code, or undefined when the
 * version, suite, scope byte, key id length and overall length are sound. Shared by `parseEnvelope` and the
 * per-field read path.
 *
 * @example
 * ```ts
 * if (envelopeHeaderProblem(bytes) !== undefined) drop(record)
 * ```
 */
export function envelopeHeaderProblem(bytes: Uint8Array): EnvelopeProblem | undefined {
  if (bytes.length < 4 + SALT_LENGTH) return 'envelope_malformed'
  if (bytes[0] !== ENVELOPE_VERSION) return 'envelope_version'
  const suite = suiteById(bytes[1] as number)
  if (suite === undefined) return 'envelope_suite'
  const scopeByte = bytes[2]
  if (scopeByte !== SCOPE_KIND_BYTE.collection && scopeByte !== SCOPE_KIND_BYTE.tenant) return 'envelope_malformed'
  const keyIdLength = bytes[3 + SALT_LENGTH] as number
  if (keyIdLength < 1 || keyIdLength > 64) return 'envelope_malformed'
  if (bytes.length < 4 + SALT_LENGTH + keyIdLength + SUITES[suite].nonceLength + TAG_LENGTH) return 'envelope_malformed'
  return undefined
}

/** The suite of an envelope whose header passed {@link envelopeHeaderProblem}. */
export function envelopeSuite(bytes: Uint8Array): SuiteName {
  return suiteById(bytes[1] as number) as SuiteName
}

/** The key scope kind of an envelope whose header passed {@link envelopeHeaderProblem}. */
export function envelopeScopeKind(bytes: Uint8Array): 'tenant' | 'collection' {
  return bytes[2] === SCOPE_KIND_BYTE.tenant ? 'tenant' : 'collection'
}

/** Where the nonce of an envelope whose header passed {@link envelopeHeaderProblem} starts: after its key id. */
export function envelopeNonceAt(bytes: Uint8Array): number {
  return ENVELOPE_KEY_ID_AT + (bytes[ENVELOPE_KEY_ID_AT - 1] as number)
}

/**
 * Parses the binary form of an envelope (after base64url decoding); a problem code when it is not a v1 envelope.
 *
 * @example
 * ```ts
 * const parsed = parseEnvelope(bytes)
 * if (typeof parsed === 'string') fail(parsed)
 * ```
 */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope | EnvelopeProblem {
  const problem = envelopeHeaderProblem(bytes)
  if (problem !== undefined) return problem
  const suite = envelopeSuite(bytes)
  const nonceStart = envelopeNonceAt(bytes)
  const headerLength = nonceStart + SUITES[suite].nonceLength
  const keyId = readEnvelopeKeyId(bytes, ENVELOPE_KEY_ID_AT, nonceStart - ENVELOPE_KEY_ID_AT)
  if (keyId === undefined) return 'envelope_malformed'
  return {
    suite,
    scopeKind: envelopeScopeKind(bytes),
    keyId,
    salt: bytes.subarray(3, 3 + SALT_LENGTH),
    nonce: bytes.subarray(nonceStart, headerLength),
    header: bytes.subarray(0, headerLength),
    sealed: bytes.subarray(headerLength),
  }
}

/**
 * The AAD up to the field: frame(label) ‖ frame(tenant) ‖ frame(collection) ‖ frame(record id), every frame a
 * 4-byte big-endian length and the bytes; computed once per record. `tenant` is empty when the record has none.
 *
 * @example
 * ```ts
 * const place = envelopePlace(platform, 'acme', 'docs', 'doc-1')
 * ```
 */
export function envelopePlace(platform: Platform, tenant: string, collection: string, recordId: string): Uint8Array {
  const prefix = envelopePlacePrefix(platform, tenant, collection)
  const id = platform.utf8Encode(recordId)
  const place = new Uint8Array(prefix.length + 4 + id.length)
  place.set(prefix, 0)
  writeLength(place, prefix.length, id.length)
  place.set(id, prefix.length + 4)
  return place
}

/**
 * The place up to the record: frame(label) ‖ frame(tenant) ‖ frame(collection), cached per platform, tenant and
 * collection (at most 1024 entries).
 *
 * @example
 * ```ts
 * const prefix = envelopePlacePrefix(platform, 'acme', 'docs')
 * ```
 */
export function envelopePlacePrefix(platform: Platform, tenant: string, collection: string): Uint8Array {
  let byCollection = placePrefixes.get(platform)
  if (byCollection === undefined) {
    byCollection = new Map()
    placePrefixes.set(platform, byCollection)
  }
  const prefixKey = `${tenant}\u0000${collection}`
  let prefix = byCollection.get(prefixKey)
  if (prefix === undefined) {
    prefix = framed([platform.utf8Encode(AAD_LABEL), platform.utf8Encode(tenant), platform.utf8Encode(collection)])
    if (byCollection.size >= 1024) byCollection.clear()
    byCollection.set(prefixKey, prefix)
  }
  return prefix
}

const placePrefixes = new WeakMap<Platform, Map<string, Uint8Array>>()


/**
 * The AAD of one envelope: `place` ({@link envelopePlace}) ‖ `field` (`framed([utf8(field path)])`) ‖
 * frame(header). The header carries version, suite, scope kind, salt, key id and nonce, so all of them are bound.
 *
 * @example
 * ```ts
 * const aad = envelopeAad(header, place, framed([platform.utf8Encode('email')]))
 * ```
 */
export function envelopeAad(header: Uint8Array, place: Uint8Array, field: Uint8Array): Uint8Array {
  const aad = new Uint8Array(place.length + field.length + 4 + header.length)
  aad.set(place, 0)
  aad.set(field, place.length)
  writeLength(aad, place.length + field.length, header.length)
  aad.set(header, place.length + field.length + 4)
  return aad
}
