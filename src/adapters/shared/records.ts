// checks a record against a backend's rules before anything is sent, so a bad batch fails whole and early

import { InputError } from '../../errors.js'
import type { Metadata, StoredRecord } from '../../spec/records.js'

/**
 * A backend's rules for metadata.
 *
 * @example
 * ```ts
 * const rules: MetadataRules = { reservedFields: new Set(['_vw_id']), checkFieldName: () => undefined }
 * ```
 */
export interface MetadataRules {
  /** Field names the adapter keeps for itself. */
  readonly reservedFields: ReadonlySet<string>
  /** Returns why a field name cannot be stored, or undefined when it can. */
  readonly checkFieldName: (name: string) => string | undefined
  /** Largest JSON-serialized metadata per record, in UTF-8 bytes. */
  readonly maxMetadataBytes?: number
}

const encoder = new TextEncoder()

/**
 * Throws `InputError` (with a `path`) when a value is not a string, a finite number, a boolean or a non-empty list
 * of strings, when a name is reserved or unsupported, or when the serialized metadata is too large. Empty lists are
 * refused because neither backend can tell an empty list from a missing field in a filter.
 *
 * @example
 * ```ts
 * checkMetadata(record.metadata, rules, 'records[0].metadata')
 * ```
 */
export function checkMetadata(metadata: Metadata | undefined, rules: MetadataRules, path: string): void {
  if (metadata === undefined) return
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InputError('metadata must be an object', { path, reason: 'invalid_metadata' })
  }
  for (const [field, value] of Object.entries(metadata)) {
    const fieldPath = `${path}.${field}`
    if (rules.reservedFields.has(field)) {
      throw new InputError('metadata field name is reserved by the adapter', { path: fieldPath, reason: 'reserved_field' })
    }
    const problem = field.length === 0 ? 'metadata field name is empty' : rules.checkFieldName(field)
    if (problem !== undefined) throw new InputError(problem, { path: fieldPath, reason: 'invalid_field_name' })
    if (typeof value === 'string' || typeof value === 'boolean') continue
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new InputError('metadata numbers must be finite', { path: fieldPath, reason: 'invalid_metadata' })
      continue
    }
    if (Array.isArray(value)) {
      if (!value.every((item) => typeof item === 'string')) {
        throw new InputError('metadata lists may hold strings only', { path: fieldPath, reason: 'invalid_metadata' })
      }
      continue
    }
    throw new InputError(value === null ? 'metadata values cannot be null' : 'unsupported metadata value type', {
      path: fieldPath,
      reason: 'invalid_metadata',
    })
  }
  if (rules.maxMetadataBytes !== undefined) {
    const size = encoder.encode(JSON.stringify(metadata)).length
    if (size > rules.maxMetadataBytes) {
      throw new InputError(`metadata is ${size} bytes, over the limit of ${rules.maxMetadataBytes}`, {
        path,
        reason: 'metadata_too_large',
      })
    }
  }
}

/**
 * Throws `InputError` when a vector is empty, has another length than `dimension`, or holds a non-finite value.
 *
 * @example
 * ```ts
 * checkVector(record.vector, 'records[0].vector')
 * ```
 */
export function checkVector(vector: StoredRecord['vector'], path: string, dimension?: number): void {
  if (vector === null || typeof vector !== 'object' || typeof vector.length !== 'number') {
    throw new InputError('vector must be a list of numbers', { path, reason: 'invalid_vector' })
  }
  if (vector.length === 0) throw new InputError('vector is empty', { path, reason: 'invalid_vector' })
  if (dimension !== undefined && vector.length !== dimension) {
    throw new InputError(`vector has ${vector.length} values, the collection has dimension ${dimension}`, { path, reason: 'dimension_mismatch' })
  }
  for (let index = 0; index < vector.length; index++) {
    if (!Number.isFinite(vector[index])) throw new InputError('vector values must be finite numbers', { path, reason: 'invalid_vector' })
  }
}

/**
 * Copies a vector to a plain array (JSON cannot carry a Float32Array as a list).
 *
 * @example
 * ```ts
 * vectorToArray(new Float32Array([1, 2])) // [1, 2]
 * ```
 */
export function vectorToArray(vector: StoredRecord['vector']): number[] {
  return Array.from(vector)
}

/**
 * Keeps only the named fields when `include` is a list, all when `true`, none when `false`.
 *
 * @example
 * ```ts
 * projectMetadata({ a: 1, b: 2 }, ['a']) // { a: 1 }
 * ```
 */
export function projectMetadata(metadata: Metadata, include: boolean | readonly string[]): Metadata | undefined {
  if (include === false) return undefined
  if (include === true) return metadata
  const out: Record<string, Metadata[string]> = {}
  for (const field of include) {
    const value = metadata[field]
    if (value !== undefined) out[field] = value
  }
  return out
}
