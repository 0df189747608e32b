// the field-protection stage interface: encryption, blind indexes and record integrity plug in here

import type { Principal } from './auth.js'
import type { FilterNode } from './filter.js'
import type { FieldSet } from './policy.js'
import type { Distance, FetchedRecord, JsonValue, Metadata } from './records.js'

/** Where protected data lives: what ciphertexts and MACs are bound to. */
export interface ProtectionContext {
  readonly collection: string
  readonly namespace?: string
  /** The tenant the records belong to (per-tenant keys). */
  readonly tenant?: string
  readonly principal: Principal
}

/** A record on its way in, before protection: metadata may hold any JSON in encrypted fields. */
export interface PlainRecord {
  readonly id: string
  readonly vector: Float32Array | readonly number[]
  readonly metadata?: { readonly [field: string]: JsonValue }
}

/** A record on its way out, after protection is removed. */
export interface UnprotectedRecord {
  readonly id: string
  readonly vector?: Float32Array | readonly number[]
  readonly metadata?: { readonly [field: string]: JsonValue }
  /**
   * A query match's score, when the protector carries it through (the built-in one does). The pipeline puts the
   * scores back itself when a protector returns records without them.
   */
  readonly score?: number
}

/** The result of removing protection from a batch of records. */
export interface UnprotectResult {
  readonly records: readonly UnprotectedRecord[]
  /** Records dropped because a MAC, tag or envelope failed; the pipeline raises an integrity alarm for each. */
  readonly failures: readonly { readonly id: string; readonly reason: string }[]
  /** Key ids used, for the audit event. */
  readonly keys?: readonly string[]
}

/**
 * The field-protection stage. Called by the pipeline after the decision: `protect` on writes, `rewriteFilter` on
 * any filter that names a protected field, `unprotect` on every result.
 */
export interface FieldProtector {
  /** Whether the collection has protected fields or vectors at all (a fast path when not). */
  covers(collection: string): boolean
  /** Metadata fields the protector writes itself (blind indexes, MACs, nonces): callers may not set or read them. */
  reservedFields(collection: string): readonly string[]
  /** Fields of the collection stored encrypted. */
  protectedFields(collection: string): readonly string[]
  /** Encrypts fields, adds blind indexes and MACs. Throws `InputError` / `IntegrityError`; nothing is written then. */
  protect(records: readonly PlainRecord[], context: ProtectionContext): Promise<readonly { id: string; vector: Float32Array | readonly number[]; metadata?: Metadata }[]>
  /** Rewrites `$eq`/`$in` on protected fields to blind-index lookups; throws `InputError` for any other operator there. */
  rewriteFilter(filter: FilterNode, context: ProtectionContext): FilterNode
  /**
   * The distance the store must use for a collection the caller creates with `requested` (e.g. `dot` for cosine
   * vectors encrypted to unit length, so the store never re-normalises them). Absent: `requested`.
   */
  storeDistance?(collection: string, requested: Distance): Distance
  /** Encrypts a query vector when vectors are protected; identity otherwise. */
  protectQueryVector?(vector: Float32Array | readonly number[], context: ProtectionContext): Float32Array | readonly number[]
  /** Checks MACs, decrypts the fields in `decryptable`, redacts the rest. */
  unprotect(records: readonly FetchedRecord[], context: ProtectionContext & { readonly decryptable: FieldSet; readonly includeVectors: boolean }): Promise<UnprotectResult>
}
