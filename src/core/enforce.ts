// request and result enforcement helpers: input validation, field permissions, projection

import { AuthorizationError, InputError } from '../errors.js'
import type { FieldSet } from '../spec/policy.js'
import type { PlainRecord } from '../spec/protection.js'
import type { JsonValue, Metadata, MetadataValue } from '../spec/records.js'
import { isWellFormed } from '../crypto/bytes.js'
import { isJsonValue, isMetadataValue } from '../spec/values.js'

/** Every field whose name starts with this prefix belongs to the warden (blind indexes, MACs, mapped ids). */
export const RESERVED_PREFIX = '_vw_'

// no '.', '[', ']', '"' or '\\': backends read such names as paths (Qdrant parses a quoted key `"tenant"` as tenant),
// which would let a name that differs from a reserved or stamped field address it
const FIELD_NAME = /^[^$.[\]"\\\u0000-\u001f\u007f][^.[\]"\\\u0000-\u001f\u007f]{0,255}$/
const ID_CONTROL = /[\u0000-\u001f\u007f]/

export function inSet(set: FieldSet, field: string): boolean {
  return set === '*' || set.includes(field)
}

export function checkFieldName(field: string, path: string): void {
  // well-formed text too: a lone surrogate cannot be written to the audit trail (RFC 8785 refuses it)
  if (!FIELD_NAME.test(field) || !isWellFormed(field)) throw new InputError(`invalid metadata field name at ${path}`, { path, reason: 'invalid_field_name' })
}

export function checkId(id: unknown, maxLength: number, path: string): string {
  if (typeof id !== 'string') throw new TypeError(`${path} must be a string`)
  if (id.length === 0 || id.length > maxLength || ID_CONTROL.test(id) || !isWellFormed(id)) {
    throw new InputError(`invalid record id at ${path}: ids are 1..${maxLength} characters of well-formed text without control characters`, {
      path,
      reason: 'invalid_id',
    })
  }
  return id
}

export function checkIds(ids: unknown, limit: number, maxLength: number): string[] {
  if (!Array.isArray(ids)) throw new TypeError('ids must be an array of strings')
  if (ids.length > limit) throw new InputError(`too many ids: ${ids.length} > ${limit}`, { path: 'ids', reason: 'too_many_ids' })
  const seen = new Set<string>()
  for (let i = 0; i < ids.length; i++) seen.add(checkId(ids[i], maxLength, `ids[${i}]`))
  return [...seen]
}

/** Checks a vector's values and (when known) its dimension, without reporting any value. */
export function checkVector(vector: unknown, dimension: number | undefined, path: string): Float32Array | readonly number[] {
  if (!(vector instanceof Float32Array) && !Array.isArray(vector)) throw new TypeError(`${path} must be a Float32Array or an array of numbers`)
  const values = vector as ArrayLike<unknown>
  if (values.length === 0) throw new InputError(`${path} is empty`, { path, reason: 'invalid_vector' })
  if (dimension !== undefined && values.length !== dimension) {
    throw new InputError(`${path} has dimension ${values.length}, the collection has ${dimension}`, { path, reason: 'dimension_mismatch' })
  }
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InputError(`${path} holds a value that is not a finite number (index ${i})`, { path, reason: 'invalid_vector' })
    }
  }
  return vector as Float32Array | readonly number[]
}

/** What a write may touch, from the decision and the protector. */
export interface WriteRules {
  readonly writable: FieldSet
  readonly stamp: { readonly [field: string]: MetadataValue }
  readonly isReserved: (field: string) => boolean
  readonly isProtected: (field: string) => boolean
}

function sameValue(a: MetadataValue, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => item === b[i])
  return a === b
}

/**
 * Validates caller metadata and stamps the ACL fields. A caller may repeat a stamped value unchanged; any other
 * value for an ACL field, or any reserved field, is refused (the agno #8912 lesson).
 */
export function stampMetadata(
  metadata: unknown,
  rules: WriteRules,
  path: string,
  allowNull: boolean,
): { [field: string]: JsonValue } {
  if (metadata === undefined) return { ...rules.stamp } as { [field: string]: JsonValue }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new TypeError(`${path} must be a plain object`)
  const out: { [field: string]: JsonValue } = {}
  for (const [field, value] of Object.entries(metadata)) {
    const fieldPath = `${path}.${field}`
    checkFieldName(field, fieldPath)
    if (rules.isReserved(field)) {
      throw new AuthorizationError(`${fieldPath} is reserved for the warden and cannot be set`, { reason: 'reserved_field' })
    }
    const stamped = rules.stamp[field]
    if (stamped !== undefined) {
      if (!sameValue(stamped, value)) {
        throw new AuthorizationError(`${fieldPath} is an access-control field set by the warden; a caller cannot change it`, {
          reason: 'acl_field',
        })
      }
      continue
    }
    if (!inSet(rules.writable, field)) throw new AuthorizationError(`${fieldPath} is not writable for this principal`, { reason: 'field_not_writable' })
    if (value === null && allowNull) {
      out[field] = null
      continue
    }
    const valid = rules.isProtected(field) ? isJsonValue(value) : isMetadataValue(value)
    if (!valid) {
      throw new InputError(
        `${fieldPath} has an unsupported value type (clear fields hold strings, finite numbers, booleans or lists of strings)`,
        { path: fieldPath, reason: 'invalid_metadata' },
      )
    }
    out[field] = value as JsonValue
  }
  for (const [field, value] of Object.entries(rules.stamp)) out[field] = value as JsonValue
  return out
}

/** Input records validated completely (ids, vectors, metadata) before anything is written. */
export function validateRecords(
  records: unknown,
  rules: WriteRules,
  options: { readonly maxRecords: number; readonly maxIdLength: number; readonly dimension: number | undefined },
): PlainRecord[] {
  if (!Array.isArray(records)) throw new TypeError('records must be an array')
  if (records.length > options.maxRecords) {
    throw new InputError(`too many records in one upsert: ${records.length} > ${options.maxRecords}`, { path: 'records', reason: 'too_many_records' })
  }
  const seen = new Set<string>()
  const out: PlainRecord[] = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as unknown
    const path = `records[${i}]`
    if (typeof record !== 'object' || record === null) throw new TypeError(`${path} must be an object`)
    const { id, vector, metadata } = record as { id?: unknown; vector?: unknown; metadata?: unknown }
    const checkedId = checkId(id, options.maxIdLength, `${path}.id`)
    if (seen.has(checkedId)) throw new InputError(`${path}.id repeats an id of the same batch`, { path: `${path}.id`, reason: 'duplicate_id' })
    seen.add(checkedId)
    out.push({
      id: checkedId,
      vector: checkVector(vector, options.dimension, `${path}.vector`),
      metadata: stampMetadata(metadata, rules, `${path}.metadata`, false),
    })
  }
  return out
}

/** Metadata as the caller may see it: readable, requested, never reserved. */
export function projectMetadata(
  metadata: { readonly [field: string]: JsonValue } | Metadata | undefined,
  include: boolean | readonly string[],
  readable: FieldSet,
  isReserved: (field: string) => boolean,
): { [field: string]: JsonValue } | undefined {
  if (include === false || metadata === undefined) return undefined
  if (include === true && readable === '*') {
    // the common case: every field readable; copy only when a reserved field has to go
    let clean = true
    for (const field in metadata) {
      if (isReserved(field)) {
        clean = false
        break
      }
    }
    if (clean) return metadata as { [field: string]: JsonValue }
  }
  const out: { [field: string]: JsonValue } = {}
  if (include === true) {
    for (const field in metadata) {
      if (!isReserved(field) && inSet(readable, field)) out[field] = metadata[field] as JsonValue
    }
  } else {
    for (const field of include) {
      if (Object.hasOwn(metadata, field) && !isReserved(field) && inSet(readable, field)) out[field] = metadata[field] as JsonValue
    }
  }
  return out
}
