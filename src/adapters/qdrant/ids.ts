// record ids on Qdrant: unsigned integers and UUIDs are native; every other string maps to a UUIDv5 (RFC 9562 §5.5)
// and the original travels in a reserved payload field

import { sha1 } from '@noble/hashes/legacy.js'
import { InputError } from '../../errors.js'

/**
 * The payload field that keeps an id Qdrant cannot store natively.
 *
 * @example
 * ```ts
 * point.payload[ORIGINAL_ID_FIELD] // 'doc-7#chunk-3'
 * ```
 */
export const ORIGINAL_ID_FIELD = '_vw_id'

/**
 * The payload field listing the fields that hold an empty list (Qdrant's `is_empty` cannot tell them from absent ones).
 *
 * @example
 * ```ts
 * point.payload[EMPTY_LISTS_FIELD] // ['labels']
 * ```
 */
export const EMPTY_LISTS_FIELD = '_vw_empty'

/**
 * The default UUIDv5 namespace of vectorwarden (fixed forever: changing it would orphan stored points).
 *
 * @example
 * ```ts
 * uuidV5('doc-1', DEFAULT_ID_NAMESPACE)
 * ```
 */
export const DEFAULT_ID_NAMESPACE = '0f4b8d52-7c3e-4f0a-9b61-2d5e8a7c1f93'

const canonicalUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const unsignedDecimal = /^(0|[1-9][0-9]{0,15})$/
const encoder = new TextEncoder()

/**
 * Longest id accepted, in UTF-8 bytes.
 *
 * @example
 * ```ts
 * new TextEncoder().encode(id).length <= MAX_ID_BYTES
 * ```
 */
export const MAX_ID_BYTES = 512

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '')
  const bytes = new Uint8Array(16)
  for (let index = 0; index < 16; index++) bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16)
  return bytes
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

function formatUuid(bytes: Uint8Array): string {
  const h = (i: number): string => HEX[bytes[i] as number] as string
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`
}

/** Parsed namespaces, and the ids mapped in each: the same ids come back query after query. */
const namespaces = new Map<string, { readonly bytes: Uint8Array; readonly mapped: Map<string, string> }>()

/** Ids remembered per namespace before the memo starts over (about 100 bytes each). */
const MEMO_LIMIT = 16_384

/**
 * UUIDv5 of `name` in `namespace` (SHA-1 of namespace bytes ‖ UTF-8 name, version 5, RFC 4122 variant).
 * Results are memoised per namespace (a pure function; the adapter maps the ids of every returned point).
 *
 * @example
 * ```ts
 * uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8') // '2ed6657d-e927-568b-95e1-2665a8aea6a2'
 * ```
 */
export function uuidV5(name: string, namespace: string): string {
  let known = namespaces.get(namespace)
  if (known === undefined) {
    if (namespaces.size >= 64) namespaces.clear()
    known = { bytes: uuidBytes(namespace), mapped: new Map() }
    namespaces.set(namespace, known)
  }
  const memo = known.mapped.get(name)
  if (memo !== undefined) return memo
  const nameBytes = encoder.encode(name)
  const input = new Uint8Array(16 + nameBytes.length)
  input.set(known.bytes, 0)
  input.set(nameBytes, 16)
  const hash = sha1(input)
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const uuid = formatUuid(hash)
  if (known.mapped.size >= MEMO_LIMIT) known.mapped.clear()
  known.mapped.set(name, uuid)
  return uuid
}

/**
 * A record id as it is stored in Qdrant.
 *
 * @example
 * ```ts
 * const mapped: MappedId = { pointId: 42, mapped: false }
 * ```
 */
export interface MappedId {
  readonly pointId: number | string
  /** True when the point id is a UUIDv5 of the original, which is then kept in the payload. */
  readonly mapped: boolean
}

/**
 * Maps a record id to a Qdrant point id. Native: decimal unsigned integers up to 2^53 - 1 without leading zeros, and
 * lowercase canonical UUIDs of any version but 5. Everything else, including version-5 UUIDs (so that a caller can
 * never pick the id another record maps to), becomes UUIDv5(id).
 *
 * @example
 * ```ts
 * toPointId('42', ns)            // { pointId: 42, mapped: false }
 * toPointId('doc-7#chunk-3', ns) // { pointId: '…-5…', mapped: true }
 * ```
 */
export function toPointId(id: string, namespace: string): MappedId {
  if (typeof id !== 'string' || id.length === 0) throw new InputError('record id must be a non-empty string', { reason: 'invalid_id' })
  if (encoder.encode(id).length > MAX_ID_BYTES) throw new InputError(`record id is longer than ${MAX_ID_BYTES} bytes`, { reason: 'invalid_id' })
  if (unsignedDecimal.test(id)) {
    const value = Number(id)
    if (Number.isSafeInteger(value)) return { pointId: value, mapped: false }
  }
  if (canonicalUuid.test(id) && id[14] !== '5') return { pointId: id, mapped: false }
  return { pointId: uuidV5(id, namespace), mapped: true }
}

/**
 * The key a point id is known by in maps (numbers and strings never collide).
 *
 * @example
 * ```ts
 * pointKey(42) // 'n:42'
 * ```
 */
export function pointKey(pointId: number | string | bigint): string {
  return typeof pointId === 'string' ? `u:${pointId}` : `n:${String(pointId)}`
}
