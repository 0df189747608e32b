// the reference filter evaluator (the oracle every adapter must agree with) and a compiled fast equivalent

import type { FilterNode, FilterScalar } from '../spec/filter.js'
import type { Metadata, MetadataValue } from '../spec/records.js'

// own properties only: a field named `constructor` or `__proto__` must never see what the prototype holds
function fieldValue(metadata: Metadata | undefined, field: string): MetadataValue | undefined {
  if (metadata === undefined || !Object.hasOwn(metadata, field)) return undefined
  return metadata[field]
}

function equals(stored: MetadataValue | undefined, value: FilterScalar): boolean {
  if (stored === undefined) return false
  if (Array.isArray(stored)) return stored.some((element) => element === value)
  return stored === value
}

function compareRange(stored: MetadataValue | undefined, op: '$gt' | '$gte' | '$lt' | '$lte', value: number): boolean {
  if (typeof stored !== 'number') return false
  switch (op) {
    case '$gt':
      return stored > value
    case '$gte':
      return stored >= value
    case '$lt':
      return stored < value
    case '$lte':
      return stored <= value
  }
}

/**
 * Decides whether a record's metadata matches a filter, exactly as `src/spec/filter.ts` defines it. Written for
 * obviousness rather than speed: it is the oracle of differential tests and re-verifies every result.
 *
 * @example
 * ```ts
 * evaluateFilter(parseFilter({ tags: 'a' }), { tags: ['a', 'b'] }) // true: a list field matches if any element does
 * evaluateFilter(parseFilter({ owner: { $ne: 'eve' } }), {})       // true: $ne matches a record without the field
 * ```
 */
export function evaluateFilter(node: FilterNode, metadata: Metadata | undefined): boolean {
  switch (node.kind) {
    case 'all':
      return true
    case 'none':
      return false
    case 'and':
      return node.children.every((child) => evaluateFilter(child, metadata))
    case 'or':
      return node.children.some((child) => evaluateFilter(child, metadata))
    case 'exists':
      return (fieldValue(metadata, node.field) !== undefined) === node.value
    case 'in': {
      const stored = fieldValue(metadata, node.field)
      const found = node.values.some((value) => equals(stored, value))
      return node.op === '$in' ? found : !found
    }
    case 'cmp': {
      const stored = fieldValue(metadata, node.field)
      switch (node.op) {
        case '$eq':
          return equals(stored, node.value)
        case '$ne':
          return !equals(stored, node.value)
        default:
          // a range with a non-number value is impossible after parsing; treat it as no match (fail closed)
          return typeof node.value === 'number' && compareRange(stored, node.op, node.value)
      }
    }
    default:
      // an unknown node kind matches nothing (fail closed)
      return false
  }
}

type Predicate = (metadata: Metadata | undefined) => boolean

const always: Predicate = () => true
const never: Predicate = () => false

// a list of values becomes a Set when long enough for hashing to beat a scan. Set.has and includes use
// SameValueZero, which differs from === only on NaN; NaN is excluded so hand-built ASTs agree with the reference
function membership(values: readonly FilterScalar[]): (value: unknown) => boolean {
  if (values.length <= 8) {
    return (value) => {
      for (let index = 0; index < values.length; index++) if (values[index] === value) return true
      return false
    }
  }
  const set = new Set<unknown>(values)
  // biome-ignore lint/suspicious/noSelfCompare: the NaN test
  return (value) => value === value && set.has(value)
}

function compileValueTest(field: string, test: (value: unknown) => boolean, negate: boolean): Predicate {
  return (metadata) => {
    let found = false
    if (metadata !== undefined && Object.hasOwn(metadata, field)) {
      const stored = metadata[field]
      if (Array.isArray(stored)) {
        for (let index = 0; index < stored.length; index++) {
          if (test(stored[index])) {
            found = true
            break
          }
        }
      } else {
        found = test(stored)
      }
    }
    return negate ? !found : found
  }
}

function compileRange(field: string, op: string, value: number): Predicate {
  const numberAt = (metadata: Metadata | undefined): number | undefined => {
    if (metadata === undefined || !Object.hasOwn(metadata, field)) return undefined
    const stored = metadata[field]
    return typeof stored === 'number' ? stored : undefined
  }
  switch (op) {
    case '$gt':
      return (metadata) => {
        const stored = numberAt(metadata)
        return stored !== undefined && stored > value
      }
    case '$gte':
      return (metadata) => {
        const stored = numberAt(metadata)
        return stored !== undefined && stored >= value
      }
    case '$lt':
      return (metadata) => {
        const stored = numberAt(metadata)
        return stored !== undefined && stored < value
      }
    case '$lte':
      return (metadata) => {
        const stored = numberAt(metadata)
        return stored !== undefined && stored <= value
      }
    default:
      return never
  }
}

function compileNode(node: FilterNode): Predicate {
  switch (node.kind) {
    case 'all':
      return always
    case 'none':
      return never
    case 'and': {
      const children = node.children.map(compileNode)
      if (children.length === 0) return always
      if (children.length === 1) return children[0] as Predicate
      if (children.length === 2) {
        const [left, right] = children as [Predicate, Predicate]
        return (metadata) => left(metadata) && right(metadata)
      }
      return (metadata) => {
        for (let index = 0; index < children.length; index++) if (!(children[index] as Predicate)(metadata)) return false
        return true
      }
    }
    case 'or': {
      const children = node.children.map(compileNode)
      if (children.length === 0) return never
      if (children.length === 1) return children[0] as Predicate
      return (metadata) => {
        for (let index = 0; index < children.length; index++) if ((children[index] as Predicate)(metadata)) return true
        return false
      }
    }
    case 'exists': {
      const { field, value } = node
      return (metadata) => (metadata !== undefined && Object.hasOwn(metadata, field) && metadata[field] !== undefined) === value
    }
    case 'in':
      return compileValueTest(node.field, membership(node.values), node.op === '$nin')
    case 'cmp': {
      const target = node.value
      if (node.op === '$eq' || node.op === '$ne') {
        return compileValueTest(node.field, (value) => value === target, node.op === '$ne')
      }
      if (typeof target !== 'number') return never
      return compileRange(node.field, node.op, target)
    }
    default:
      return never
  }
}

/**
 * Compiles a filter into a closure that gives the same answers as {@link evaluateFilter}, faster: the tree is walked
 * once, long `$in` lists become sets. Use it to scan many records with one filter.
 *
 * @example
 * ```ts
 * const matches = compileFilter(parseFilter({ year: { $gte: 2020 } }))
 * records.filter((record) => matches(record.metadata))
 * ```
 */
export function compileFilter(node: FilterNode): (metadata: Metadata | undefined) => boolean {
  return compileNode(node)
}
