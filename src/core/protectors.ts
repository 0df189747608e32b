// several protection stages as one: field encryption and vector encryption side by side

import { ConfigError } from '../errors.js'
import type { FieldProtector, UnprotectedRecord } from '../spec/protection.js'
import type { FetchedRecord } from '../spec/records.js'

/**
 * Chains protectors: `protect` and `protectQueryVector` run in the given order, `rewriteFilter` too, and `unprotect`
 * in the reverse order, each stage seeing only the records the stages before it kept. Reserved and protected fields
 * are the union of all stages'.
 */
export function composeProtectors(protectors: readonly FieldProtector[]): FieldProtector {
  if (protectors.length === 1) return protectors[0] as FieldProtector
  // field encryption refuses reserved fields in what it protects, and vector encryption adds its own: a vector stage
  // first would make every write fail (field encryption is recognised by its encryptValue)
  const firstField = protectors.findIndex((protector) => typeof (protector as { encryptValue?: unknown }).encryptValue === 'function')
  const firstVector = protectors.findIndex((protector) => typeof protector.protectQueryVector === 'function')
  if (firstField >= 0 && firstVector >= 0 && firstVector < firstField) {
    throw new ConfigError('encryption: give field encryption before vector encryption ([fieldEncryption(...), vectorEncryption(...)])', {
      reason: 'invalid_encryption_order',
    })
  }
  const reversed = [...protectors].reverse()
  const covering = (collection: string) => protectors.filter((protector) => protector.covers(collection))
  return {
    covers: (collection) => protectors.some((protector) => protector.covers(collection)),
    reservedFields: (collection) => covering(collection).flatMap((protector) => protector.reservedFields(collection)),
    protectedFields: (collection) => covering(collection).flatMap((protector) => protector.protectedFields(collection)),
    storeDistance: (collection, requested) => {
      let distance = requested
      for (const protector of covering(collection)) distance = protector.storeDistance?.(collection, distance) ?? distance
      return distance
    },
    async protect(records, context) {
      let current = records
      for (const protector of covering(context.collection)) current = await protector.protect(current, context)
      return current as Awaited<ReturnType<FieldProtector['protect']>>
    },
    rewriteFilter(filter, context) {
      let current = filter
      for (const protector of covering(context.collection)) current = protector.rewriteFilter(current, context)
      return current
    },
    protectQueryVector(vector, context) {
      let current = vector
      for (const protector of covering(context.collection)) current = protector.protectQueryVector?.(current, context) ?? current
      return current
    },
    async unprotect(records, context) {
      let current: readonly (FetchedRecord | UnprotectedRecord)[] = records
      const failures: { id: string; reason: string }[] = []
      const keys: string[] = []
      for (const protector of reversed) {
        if (!protector.covers(context.collection) || current.length === 0) continue
        const result = await protector.unprotect(current as readonly FetchedRecord[], context)
        failures.push(...result.failures)
        if (result.keys !== undefined) keys.push(...result.keys)
        current = result.records
      }
      return { records: current as readonly UnprotectedRecord[], failures, keys: [...new Set(keys)] }
    },
  }
}
