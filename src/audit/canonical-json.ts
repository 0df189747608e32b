// RFC 8785 JSON Canonicalization Scheme (JCS): the one serialization the hash chain is computed over

/**
 * Serializes a JSON value per RFC 8785: object members sorted by their names' UTF-16 code units, no whitespace,
 * numbers in ECMAScript's shortest round-trip form (RFC 8785 §3.2.2.3), strings with the minimal escapes of
 * §3.2.2.2. Throws `TypeError` for what JSON cannot carry: non-finite numbers, bigints, lone surrogates (§3.2.2.2
 * says they must be rejected) and cycles (or nesting deeper than 256). Like `JSON.stringify`, honours `toJSON` and skips `undefined` members.
 *
 * @example
 * ```ts
 * canonicalize({ b: 1, a: [true, null, 1e21] }) // '{"a":[true,null,1e+21],"b":1}'
 * ```
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0)
}

// nesting deeper than this is a cycle or an attack; audit events are a few levels deep
const MAX_DEPTH = 256

function serialize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      // ECMAScript Number::toString is the algorithm RFC 8785 §3.2.2.3 adopts; -0 serializes as 0. Integers hit V8's
      // number-to-string cache, so they need no fast path of their own
      if (value === 0) return '0'
      if (value - value !== 0) throw new TypeError('canonicalize: NaN and Infinity are not JSON')
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        return serialize((value as { toJSON: () => unknown }).toJSON(), depth)
      }
      if (depth >= MAX_DEPTH) throw new TypeError('canonicalize: structure is cyclic or nested too deeply')
      if (Array.isArray(value)) return serializeArray(value, depth)
      return serializeObject(value, depth)
    }
    case 'bigint':
      throw new TypeError('canonicalize: bigint is not JSON')
    default:
      throw new TypeError(`canonicalize: ${typeof value} is not JSON`)
  }
}

function serializeArray(value: readonly unknown[], depth: number): string {
  const length = value.length
  if (length === 0) return '[]'
  let out = '['
  for (let index = 0; index < length; index++) {
    if (index > 0) out += ','
    const item: unknown = value[index]
    out += item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : serialize(item, depth + 1)
  }
  return out + ']'
}

function serializeObject(value: object, depth: number): string {
  const keys = Object.keys(value)
  // most objects arrive unsorted (built in a readable order), but nested ones often are sorted: check before sorting
  let sorted = true
  for (let index = 1; index < keys.length; index++) {
    if ((keys[index - 1] as string) > (keys[index] as string)) {
      sorted = false
      break
    }
  }
  if (!sorted) sortKeys(keys)
  let out = '{'
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string
    const member: unknown = (value as Record<string, unknown>)[key]
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue
    out += (out.length === 1 ? '' : ',') + memberName(key) + serialize(member, depth + 1)
  }
  return out + '}'
}

/**
 * Sorts member names in UTF-16 code-unit order, the order §3.2.3 asks for (`<` on strings and the default sort both
 * compare code units). Events have small objects, where an insertion sort is about twice as fast as `Array#sort`.
 */
export function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort()
    return
  }
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string
    let at = index - 1
    while (at >= 0 && (keys[at] as string) > key) {
      keys[at + 1] = keys[at] as string
      at--
    }
    keys[at + 1] = key
  }
}

// Member names repeat from event to event, so their quoted form (`"name":`) is kept. Bounded, so objects keyed by
// caller-chosen names (metadata, maps) cannot grow it without limit: once full, new names are quoted each time.
const NAME_CACHE_LIMIT = 2048
const quotedNames = new Map<string, string>()

function memberName(key: string): string {
  let quoted = quotedNames.get(key)
  if (quoted === undefined) {
    quoted = quote(key) + ':'
    if (quotedNames.size < NAME_CACHE_LIMIT) quotedNames.set(key, quoted)
  }
  return quoted
}

const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed()

// characters that need an escape, and surrogates (which need a well-formedness check)
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/

// below this length a plain loop is cheaper than a call into the regular expression engine
const SHORT_STRING = 96

function quote(text: string): string {
  const length = text.length
  if (length <= SHORT_STRING) {
    for (let index = 0; index < length; index++) {
      const code = text.charCodeAt(index)
      // a control character, '"', '\' or a surrogate half
      if (code < 0x20 || code === 0x22 || code === 0x5c || (code & 0xf800) === 0xd800) return escapeString(text)
    }
    return '"' + text + '"'
  }
  return SPECIAL.test(text) ? escapeString(text) : '"' + text + '"'
}

function escapeString(text: string): string {
  if (!isWellFormed(text)) throw new TypeError('canonicalize: string holds a lone surrogate')
  // for well-formed strings JSON.stringify emits exactly §3.2.2.2: \" \\ \b \f \n \r \t, other controls as
  // lowercase \u00xx, everything else verbatim
  return JSON.stringify(text)
}
