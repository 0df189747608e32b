// checks and copies what enters the memory adapter: names, ids, vectors, metadata; every failure is an InputError

import { InputError } from '../../errors.js'
import type { Metadata, MetadataValue } from '../../spec/records.js'

/** Longest record id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 512
/** Longest metadata field name, in UTF-16 code units. */
export const MAX_METADATA_FIELD_LENGTH = 256
/** Longest collection or namespace name. */
export const MAX_NAME_LENGTH = 255

const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/

function fail(message: string, path: string, reason = 'invalid_input'): never {
  throw new InputError(message, { path, reason })
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

// the UTF-8 length without allocating, for the ids of large batches
function utf8Length(text: string): number {
  let bytes = 0
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        index += 1
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** A collection or namespace name: non-empty (namespaces may be empty), short, no control characters. */
export function checkName(value: unknown, path: string, allowEmpty = false): string {
  if (typeof value !== 'string') return fail(`${path} must be a string, not ${typeName(value)}`, path)
  if (value.length === 0 && !allowEmpty) fail(`${path} must not be empty`, path)
  if (value.length > MAX_NAME_LENGTH) fail(`${path} is longer than ${MAX_NAME_LENGTH} characters`, path)
  if (controlCharacters.test(value)) fail(`${path} must not contain control characters`, path)
  return value
}

/** A record id: a non-empty string of at most {@link MAX_ID_BYTES} UTF-8 bytes. */
export function checkId(value: unknown, path: string): string {
  if (typeof value !== 'string') return fail(`id must be a string, not ${typeName(value)}`, path)
  if (value.length === 0) fail('id must not be empty', path)
  if (value.length * 3 > MAX_ID_BYTES && utf8Length(value) > MAX_ID_BYTES) {
    fail(`id is longer than ${MAX_ID_BYTES} UTF-8 bytes`, path)
  }
  return value
}

/** A list of ids, at most `max` of them. */
export function checkIds(value: unknown, max: number, path: string): readonly string[] {
  if (!Array.isArray(value)) return fail(`${path} must be an array of ids`, path)
  if (value.length > max) fail(`${path} has more than ${max} ids`, path)
  for (let index = 0; index < value.length; index++) checkId(value[index], `${path}[${index}]`)
  return value as readonly string[]
}

/**
 * Copies a vector into `target` at `offset` as float32, checking its length and that every component stays finite
 * once rounded to float32 (1e39 would become Infinity). Returns the squared norm. The message never holds a component.
 */
export function copyVector(
  value: unknown,
  dimension: number,
  target: Float32Array,
  offset: number,
  path: string,
): number {
  if (!(value instanceof Float32Array) && !Array.isArray(value)) {
    fail(`vector must be a Float32Array or an array of numbers, not ${typeName(value)}`, path)
  }
  const source = value as ArrayLike<unknown>
  if (source.length !== dimension) {
    fail(`vector has dimension ${source.length}, the collection has ${dimension}`, path, 'dimension_mismatch')
  }
  let squared = 0
  for (let index = 0; index < dimension; index++) {
    const component = source[index]
    if (typeof component !== 'number') fail('vector components must be numbers', path)
    const stored = Math.fround(component)
    if (!Number.isFinite(stored)) fail('vector components must be finite float32 numbers', path, 'non_finite_vector')
    target[offset + index] = stored
    squared += stored * stored
  }
  return squared
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** Checks a metadata field name. */
export function checkFieldName(field: string, path: string): void {
  if (field.length === 0) fail('metadata field name must not be empty', path)
  if (field.length > MAX_METADATA_FIELD_LENGTH) {
    fail(`metadata field name is longer than ${MAX_METADATA_FIELD_LENGTH} characters`, path)
  }
  if (controlCharacters.test(field)) fail('metadata field name must not contain control characters', path)
}

/** Checks one metadata value and returns a copy that shares nothing with the caller. */
export function copyMetadataValue(value: unknown, path: string): MetadataValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) fail('metadata numbers must be finite', path)
      return value
  }
  if (Array.isArray(value)) {
    const copy: string[] = new Array(value.length)
    for (let index = 0; index < value.length; index++) {
      const element: unknown = value[index]
      if (typeof element !== 'string') fail('metadata lists hold strings only', `${path}[${index}]`)
      copy[index] = element
    }
    return copy
  }
  return fail(`metadata values are strings, finite numbers, booleans or lists of strings, not ${typeName(value)}`, path)
}

function pathOf(base: string, field: string): string {
  return /^[$\w-]{1,64}$/.test(field) ? `${base}.${field}` : `${base}[${JSON.stringify(field.slice(0, 64))}]`
}

/** Checks a whole metadata object and returns a frozen deep copy (or `undefined` for none). */
export function copyMetadata(value: unknown, path: string): Metadata | undefined {
  if (value === undefined) return undefined
  if (!isPlainObject(value)) return fail(`metadata must be an object, not ${typeName(value)}`, path)
  const entries: [string, MetadataValue][] = []
  for (const field of Object.keys(value)) {
    const fieldPath = pathOf(path, field)
    checkFieldName(field, fieldPath)
    entries.push([field, copyMetadataValue(value[field], fieldPath)])
  }
  // Object.fromEntries defines own properties, so a field named __proto__ stays a plain field
  return Object.freeze(Object.fromEntries(entries))
}

/** Applies a metadata patch (a `null` value removes the field) and returns a new frozen object. */
export function mergeMetadata(current: Metadata | undefined, patch: unknown, path: string): Metadata {
  if (!isPlainObject(patch)) return fail(`metadata must be an object, not ${typeName(patch)}`, path)
  const merged = new Map<string, MetadataValue>(current === undefined ? [] : Object.entries(current))
  for (const field of Object.keys(patch)) {
    const fieldPath = pathOf(path, field)
    checkFieldName(field, fieldPath)
    const value = patch[field]
    if (value === null) merged.delete(field)
    else merged.set(field, copyMetadataValue(value, fieldPath))
  }
  return Object.freeze(Object.fromEntries(merged))
}

/** A copy of stored metadata for a caller, all fields or the listed ones. */
export function projectMetadata(stored: Metadata | undefined, include: boolean | readonly string[]): Metadata {
  const out: Record<string, MetadataValue> = {}
  if (stored !== undefined) {
    const fields = include === true ? Object.keys(stored) : (include as readonly string[])
    for (const field of fields) {
      if (!Object.hasOwn(stored, field)) continue
      const value = stored[field] as MetadataValue
      const copy = Array.isArray(value) ? value.slice() : value
      // an own property even for __proto__ (assignment would set the prototype instead)
      if (field === '__proto__') Object.defineProperty(out, field, { value: copy, enumerable: true, writable: true, configurable: true })
      else out[field] = copy
    }
  }
  return out
}

/** Checks an `includeMetadata` value: a boolean or a list of field names. */
export function checkIncludeMetadata(value: unknown, path: string): boolean | readonly string[] {
  if (typeof value === 'boolean') return value
  if (value === undefined) return false
  if (!Array.isArray(value)) return fail('includeMetadata must be a boolean or a list of field names', path)
  for (let index = 0; index < value.length; index++) {
    if (typeof value[index] !== 'string') fail('includeMetadata lists field names (strings)', `${path}[${index}]`)
  }
  return value as readonly string[]
}

/** Checks an integer in a range. */
export function checkInteger(value: unknown, min: number, max: number, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${path} must be an integer from ${min} to ${max}`, path)
  }
  return value
}
