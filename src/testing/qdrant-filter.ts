// the Qdrant fake's own filter evaluator, written from Qdrant's filtering documentation and OpenAPI schema; it never
// calls vectorwarden's AST evaluator, so a translation slip in the adapter shows up as a different result

import { HttpFailure, isObject } from './http.js'

/**
 * A Qdrant point id: unsigned integer or UUID (stored lowercase, hyphenated).
 *
 * @example
 * ```ts
 * const id: QdrantPointId = 42
 * ```
 */
export type QdrantPointId = number | string

type Payload = Record<string, unknown>

function formatError(message: string): never {
  throw new HttpFailure(400, `Format error in JSON body: ${message}`)
}

function validationError(message: string): never {
  throw new HttpFailure(422, `Validation error in JSON body: ${message}`)
}

const uuidPattern = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/**
 * Parses an `ExtendedPointId`; throws a 400 like Qdrant for anything else.
 *
 * @example
 * ```ts
 * parsePointId('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11') // 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
 * ```
 */
export function parsePointId(value: unknown): QdrantPointId {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0) return value
    formatError('point id must be an unsigned integer or a UUID')
  }
  if (typeof value === 'string') {
    const bare = value.replace(/^urn:uuid:/i, '').replace(/^\{|\}$/g, '')
    if (uuidPattern.test(bare)) {
      const hex = bare.replace(/-/g, '').toLowerCase()
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    }
  }
  return formatError('point id must be an unsigned integer or a UUID')
}

/**
 * Orders ids as Qdrant scrolls them: integers first, ascending, then UUIDs.
 *
 * @example
 * ```ts
 * [uuid, 7, 3].sort(comparePointIds) // [3, 7, uuid]
 * ```
 */
export function comparePointIds(a: QdrantPointId, b: QdrantPointId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The values found at a payload key; a dotted key walks nested objects, flattening arrays on the way.
 *
 * @example
 * ```ts
 * payloadValues({ a: [{ b: 1 }, { b: 2 }] }, 'a.b') // [1, 2]
 * ```
 */
export function payloadValues(payload: Payload, key: string): unknown[] {
  if (key.length === 0) return []
  const parts = key.split('.')
  let current: unknown[] = [payload]
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index] as string
    const next: unknown[] = []
    for (const value of current) {
      const holders = Array.isArray(value) && index > 0 ? value : [value]
      for (const holder of holders) {
        if (isObject(holder) && Object.hasOwn(holder, part)) next.push(holder[part])
      }
    }
    current = next
  }
  return current
}

// serde_json's `as_i64`: a number written without fraction or exponent that fits in 64 bits
function asInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? value : undefined
}

type Checker = (payload: Payload, id: QdrantPointId) => boolean

function oneOrMany(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value
  if (isObject(value)) return [value]
  return formatError(`${where} must be a condition or a list of conditions`)
}

function compileMatch(match: unknown): (value: unknown) => boolean {
  if (!isObject(match)) return formatError('match must be an object')
  if ('value' in match) {
    const expected = match.value
    if (typeof expected === 'string') return (value) => value === expected
    if (typeof expected === 'boolean') return (value) => value === expected
    if (typeof expected === 'number') {
      // ValueVariants is string | int64 | bool: a float does not deserialize
      if (asInteger(expected) === undefined) formatError('match.value must be a string, an integer or a boolean')
      return (value) => asInteger(value) === expected
    }
    return formatError('match.value must be a string, an integer or a boolean')
  }
  if ('any' in match || 'except' in match) {
    const isExcept = 'except' in match
    const list = isExcept ? match.except : match.any
    if (!Array.isArray(list)) return formatError('match.any / match.except must be a list')
    // AnyVariants is untagged: an empty list deserializes as the string variant
    const mode = list.every((item) => typeof item === 'string') ? 'strings' : list.every((item) => asInteger(item) !== undefined) ? 'integers' : undefined
    if (mode === undefined) return formatError('match.any / match.except must hold only strings or only integers')
    const set = new Set<unknown>(list)
    if (!isExcept) {
      return (value) => (mode === 'strings' ? typeof value === 'string' && set.has(value) : asInteger(value) !== undefined && set.has(value))
    }
    // except: a value of the other type counts as "not one of them"; null never matches
    return (value) => {
      if (mode === 'strings' && typeof value === 'string') return !set.has(value)
      if (mode === 'integers' && typeof value === 'number') return asInteger(value) === undefined || !set.has(value)
      return value !== null
    }
  }
  if ('text' in match || 'phrase' in match) {
    const text = 'text' in match ? match.text : match.phrase
    if (typeof text !== 'string') return formatError('match.text must be a string')
    return (value) => typeof value === 'string' && value.includes(text)
  }
  if ('text_any' in match) {
    const tokens = typeof match.text_any === 'string' ? match.text_any.split(/\s+/).filter(Boolean) : formatError('match.text_any must be a string')
    return (value) => typeof value === 'string' && tokens.some((token) => value.includes(token))
  }
  if ('prefix' in match) {
    const prefix = match.prefix
    if (typeof prefix !== 'string') return formatError('match.prefix must be a string')
    return (value) => typeof value === 'string' && value.startsWith(prefix)
  }
  return formatError('unknown match variant')
}

function compileRange(range: unknown): (value: unknown) => boolean {
  if (!isObject(range)) return formatError('range must be an object')
  const bounds = ['gt', 'gte', 'lt', 'lte'] as const
  const isDatetime = bounds.some((bound) => typeof range[bound] === 'string')
  const read = (bound: (typeof bounds)[number]): number | undefined => {
    const raw = range[bound]
    if (raw === undefined || raw === null) return undefined
    if (isDatetime) {
      const parsed = typeof raw === 'string' ? Date.parse(raw) : Number.NaN
      return Number.isNaN(parsed) ? formatError('datetime range bounds must be RFC 3339 strings') : parsed
    }
    return typeof raw === 'number' ? raw : formatError('range bounds must be numbers')
  }
  const gt = read('gt')
  const gte = read('gte')
  const lt = read('lt')
  const lte = read('lte')
  const inRange = (number: number): boolean =>
    (gt === undefined || number > gt) && (gte === undefined || number >= gte) && (lt === undefined || number < lt) && (lte === undefined || number <= lte)
  if (isDatetime) {
    return (value) => {
      if (typeof value !== 'string') return false
      const parsed = Date.parse(value)
      return !Number.isNaN(parsed) && inRange(parsed)
    }
  }
  // numbers only: strings, booleans and null are never in a numeric range
  return (value) => typeof value === 'number' && inRange(value)
}

function isEmptyValues(values: readonly unknown[]): boolean {
  return values.every((value) => value === null || (Array.isArray(value) && value.length === 0))
}

function isNullValues(values: readonly unknown[]): boolean {
  return values.some((value) => value === null || (Array.isArray(value) && value.some((item) => item === null)))
}

function payloadKey(value: unknown, where: string): string {
  if (isObject(value) && typeof value.key === 'string') return value.key
  return formatError(`${where} must be { key: string }`)
}

function compileFieldCondition(condition: Record<string, unknown>): Checker {
  const key = condition.key
  if (typeof key !== 'string') return formatError('key must be a string')
  const known = new Set(['key', 'match', 'range', 'geo_bounding_box', 'geo_radius', 'geo_polygon', 'values_count', 'is_empty', 'is_null'])
  for (const property of Object.keys(condition)) if (!known.has(property)) formatError(`unknown field condition property ${property}`)
  const present = (property: string): boolean => condition[property] !== undefined && condition[property] !== null
  if (!['match', 'range', 'geo_bounding_box', 'geo_radius', 'geo_polygon', 'values_count', 'is_empty', 'is_null'].some(present)) {
    validationError('At least one field condition must be specified')
  }
  if (present('geo_bounding_box') || present('geo_radius') || present('geo_polygon')) {
    throw new HttpFailure(501, 'the fake does not implement geo conditions')
  }
  const match = present('match') ? compileMatch(condition.match) : undefined
  const range = present('range') ? compileRange(condition.range) : undefined
  const valuesCount = present('values_count') ? compileValuesCount(condition.values_count) : undefined
  const isEmpty = present('is_empty') ? Boolean(condition.is_empty) : undefined
  const isNull = present('is_null') ? Boolean(condition.is_null) : undefined

  // a scalar is one value; a list is checked element by element ("any element matches")
  const checkOne = (value: unknown): boolean => (match?.(value) ?? false) || (range?.(value) ?? false)
  return (payload) => {
    const values = payloadValues(payload, key)
    if (values.length === 0) {
      if (valuesCount !== undefined) return valuesCount(0)
      if (isEmpty !== undefined) return isEmpty
      if (isNull !== undefined) return !isNull
      return false
    }
    return values.some((value) => {
      if (valuesCount !== undefined) return valuesCount(Array.isArray(value) ? value.length : 1)
      if (isEmpty !== undefined) return (value === null || (Array.isArray(value) && value.length === 0)) === isEmpty
      if (isNull !== undefined) return (value === null || (Array.isArray(value) && value.some((item) => item === null))) === isNull
      return Array.isArray(value) ? value.some(checkOne) : checkOne(value)
    })
  }
}

function compileValuesCount(spec: unknown): (count: number) => boolean {
  if (!isObject(spec)) return formatError('values_count must be an object')
  const bound = (name: string): number | undefined => {
    const value = spec[name]
    if (value === undefined || value === null) return undefined
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : formatError('values_count bounds must be unsigned integers')
  }
  const gt = bound('gt')
  const gte = bound('gte')
  const lt = bound('lt')
  const lte = bound('lte')
  return (count) => (gt === undefined || count > gt) && (gte === undefined || count >= gte) && (lt === undefined || count < lt) && (lte === undefined || count <= lte)
}

function compileCondition(condition: unknown): Checker {
  if (!isObject(condition)) return formatError('a condition must be an object')
  if ('key' in condition) return compileFieldCondition(condition)
  if ('is_empty' in condition) {
    const key = payloadKey(condition.is_empty, 'is_empty')
    return (payload) => isEmptyValues(payloadValues(payload, key))
  }
  if ('is_null' in condition) {
    const key = payloadKey(condition.is_null, 'is_null')
    return (payload) => isNullValues(payloadValues(payload, key))
  }
  if ('has_id' in condition) {
    if (!Array.isArray(condition.has_id)) return formatError('has_id must be a list of point ids')
    const ids = new Set(condition.has_id.map(parsePointId))
    return (_payload, id) => ids.has(id)
  }
  if ('nested' in condition) {
    const nested = condition.nested
    if (!isObject(nested) || typeof nested.key !== 'string') return formatError('nested must be { key, filter }')
    const key = nested.key
    const inner = compileQdrantFilter(nested.filter)
    // each element of the array at `key` is checked on its own; has_id is meaningless inside and ignored by the id
    return (payload, id) =>
      payloadValues(payload, key).some((value) => {
        const elements = Array.isArray(value) ? value : [value]
        return elements.some((element) => isObject(element) && inner(element, id))
      })
  }
  if ('has_vector' in condition) throw new HttpFailure(501, 'the fake does not implement has_vector')
  return compileQdrantFilter(condition)
}

/**
 * Compiles a Qdrant `Filter` into a predicate over (payload, id), or throws a 400 for a malformed filter.
 * Semantics: `must` all match (absent or empty: true), `should` at least one matches (absent: true, empty: false),
 * `must_not` none matches, `min_should` at least `min_count` of its conditions match.
 *
 * @example
 * ```ts
 * const check = compileQdrantFilter({ must: [{ key: 'tenant', match: { value: 'acme' } }] })
 * check({ tenant: 'acme' }, 1) // true
 * ```
 */
export function compileQdrantFilter(filter: unknown): Checker {
  if (filter === undefined || filter === null) return () => true
  if (!isObject(filter)) return formatError('filter must be an object')
  for (const property of Object.keys(filter)) {
    if (!['must', 'should', 'must_not', 'min_should'].includes(property)) formatError(`unknown filter property ${property}`)
  }
  const must = filter.must === undefined || filter.must === null ? undefined : oneOrMany(filter.must, 'must').map(compileCondition)
  const should = filter.should === undefined || filter.should === null ? undefined : oneOrMany(filter.should, 'should').map(compileCondition)
  const mustNot = filter.must_not === undefined || filter.must_not === null ? undefined : oneOrMany(filter.must_not, 'must_not').map(compileCondition)
  let minShould: { conditions: Checker[]; minCount: number } | undefined
  if (filter.min_should !== undefined && filter.min_should !== null) {
    const spec = filter.min_should
    if (!isObject(spec) || !Array.isArray(spec.conditions) || typeof spec.min_count !== 'number' || !Number.isInteger(spec.min_count)) {
      formatError('min_should must be { conditions: [...], min_count: integer }')
    }
    if ((spec.min_count as number) < 1) validationError('min_should.min_count must be at least 1')
    minShould = { conditions: (spec.conditions as unknown[]).map(compileCondition), minCount: spec.min_count as number }
  }
  return (payload, id) => {
    if (should !== undefined && !should.some((check) => check(payload, id))) return false
    if (minShould !== undefined) {
      let matched = 0
      for (const check of minShould.conditions) if (check(payload, id)) matched++
      if (matched < minShould.minCount) return false
    }
    if (must !== undefined && !must.every((check) => check(payload, id))) return false
    if (mustNot?.some((check) => check(payload, id))) return false
    return true
  }
}
