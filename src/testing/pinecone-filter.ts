// the Pinecone fake's own metadata-filter evaluator, written from Pinecone's "filter by metadata" documentation; it
// never calls vectorwarden's AST evaluator, so a translation slip in the adapter shows up as a different result

import { HttpFailure, isObject } from './http.js'

type Metadata = Record<string, unknown>
type Checker = (metadata: Metadata) => boolean

function invalid(message: string): never {
  throw new HttpFailure(400, `Invalid filter: ${message}`)
}

const comparisonOperators = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists'])

// documented value types: $eq/$ne number, string, boolean; ranges number; $in/$nin lists of strings or numbers
function scalar(value: unknown, operator: string): string | number | boolean {
  if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value
  return invalid(`${operator} takes a number, a string or a boolean`)
}

// a stored list of strings matches an equality when one of its elements does
function anyElement(stored: unknown, test: (value: unknown) => boolean): boolean {
  return Array.isArray(stored) ? stored.some(test) : test(stored)
}

function compileOperator(field: string, operator: string, operand: unknown): Checker {
  const has = (metadata: Metadata): boolean => Object.hasOwn(metadata, field)
  switch (operator) {
    case '$eq': {
      const expected = scalar(operand, operator)
      return (metadata) => has(metadata) && anyElement(metadata[field], (value) => value === expected)
    }
    case '$ne': {
      const expected = scalar(operand, operator)
      // read as "a metadata value that is not equal": a record without the field has no value to compare
      return (metadata) => has(metadata) && !anyElement(metadata[field], (value) => value === expected)
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      if (typeof operand !== 'number' || !Number.isFinite(operand)) return invalid(`${operator} takes a number`)
      const compare =
        operator === '$gt' ? (value: number) => value > operand : operator === '$gte' ? (value: number) => value >= operand : operator === '$lt' ? (value: number) => value < operand : (value: number) => value <= operand
      return (metadata) => {
        const value = metadata[field]
        return typeof value === 'number' && compare(value)
      }
    }
    case '$in':
    case '$nin': {
      if (!Array.isArray(operand)) return invalid(`${operator} takes a list`)
      if (operand.length === 0) return invalid(`${operator} takes a non-empty list`)
      if (operand.length > 10_000) return invalid(`${operator} takes at most 10000 values`)
      for (const value of operand) {
        if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) invalid(`${operator} takes strings and numbers`)
      }
      const set = new Set<unknown>(operand)
      const member = (metadata: Metadata): boolean => anyElement(metadata[field], (value) => set.has(value))
      return operator === '$in' ? (metadata) => has(metadata) && member(metadata) : (metadata) => has(metadata) && !member(metadata)
    }
    case '$exists': {
      if (typeof operand !== 'boolean') return invalid('$exists takes a boolean')
      return (metadata) => has(metadata) === operand
    }
    default:
      return invalid(`unsupported operator ${operator}`)
  }
}

function compileField(field: string, condition: unknown): Checker {
  if (field.startsWith('$')) return invalid(`unsupported operator ${field}`)
  // `{ genre: "drama" }` is shorthand for `{ genre: { $eq: "drama" } }`
  if (!isObject(condition)) {
    if (Array.isArray(condition)) return invalid(`a list is not a value for ${field}; use $in`)
    return compileOperator(field, '$eq', condition)
  }
  const operators = Object.entries(condition)
  if (operators.length === 0) return invalid(`empty condition for ${field}`)
  const checks = operators.map(([operator, operand]) => {
    if (!comparisonOperators.has(operator)) invalid(`unsupported operator ${operator}`)
    return compileOperator(field, operator, operand)
  })
  return (metadata) => checks.every((check) => check(metadata))
}

/**
 * Compiles a Pinecone metadata filter into a predicate, or throws a 400 for a malformed one. Keys of one object are
 * ANDed; `$and`/`$or` take non-empty lists of filters; list-valued metadata matches `$eq`/`$in` when an element does
 * and `$ne`/`$nin` when none does; `$ne`/`$nin` need the field to be present.
 *
 * @example
 * ```ts
 * const check = compilePineconeFilter({ genre: { $in: ['comedy', 'drama'] }, year: { $gte: 2020 } })
 * check({ genre: ['drama'], year: 2021 }) // true
 * ```
 */
export function compilePineconeFilter(filter: unknown): Checker {
  if (filter === undefined || filter === null) return () => true
  if (!isObject(filter)) return invalid('a filter must be an object')
  const clauses = Object.entries(filter)
  if (clauses.length === 0) return invalid('a filter must not be empty')
  const checks = clauses.map(([key, value]): Checker => {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) invalid(`${key} takes a non-empty list of filters`)
      const children = (value as unknown[]).map(compilePineconeFilter)
      return key === '$and' ? (metadata) => children.every((child) => child(metadata)) : (metadata) => children.some((child) => child(metadata))
    }
    return compileField(key, value)
  })
  return (metadata) => checks.every((check) => check(metadata))
}
