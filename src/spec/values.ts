// runtime guards for the value types of records.ts: what the pipeline and the field protector accept, checked alike

import type { JsonValue, MetadataValue } from './records.js'

/** Nesting deeper than this is refused: metadata is a few levels deep, and a deep structure is a cycle or an attack. */
const MAX_JSON_DEPTH = 32

/**
 * Whether a value is a {@link MetadataValue}: a string, a finite number, a boolean or an array of strings.
 *
 * @example
 * ```ts
 * isMetadataValue(['team-a']) // true
 * isMetadataValue({ 0: 'team-a', length: 1 }) // false
 * ```
 */
export function isMetadataValue(value: unknown): value is MetadataValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    default:
      if (!Array.isArray(value)) return false
      for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false
      return true
  }
}

/**
 * Whether a value is JSON that survives a round trip with its type: finite numbers, arrays, plain objects (no class
 * instances), at most 32 levels deep (so no cycles).
 *
 * @example
 * ```ts
 * isJsonValue({ a: [1, 'two', null] }) // true
 * isJsonValue({ when: new Date() }) // false
 * ```
 */
export function isJsonValue(value: unknown): value is JsonValue {
  return isJsonAt(value, 0)
}

function isJsonAt(value: unknown, depth: number): boolean {
  if (depth > MAX_JSON_DEPTH) return false
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every((element) => isJsonAt(element, depth + 1))
  if (typeof value !== 'object') return false
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return false
  for (const key of Object.keys(value)) if (!isJsonAt((value as Record<string, unknown>)[key], depth + 1)) return false
  return true
}

/**
 * Whether a value is a thenable: a native promise, or any object with a `then` method (another library's promise,
 * a promise from another realm). What a hook returns is awaited whenever this holds, never only for `instanceof
 * Promise`, so that a rejection from any of them is seen.
 *
 * @example
 * ```ts
 * const result = check.check(session, context, now)
 * if (isThenable(result)) await result
 * ```
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
