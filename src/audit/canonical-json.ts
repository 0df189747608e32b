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
      if (!Number.isFinite(value)) throw new TypeError('canonicalize: NaN and Infinity are not JSON')
      // ECMAScript Number::toString is the algorithm RFC 8785 §3.2.2.3 adopts; -0 serializes as 0
      return value === 0 ? '0' : String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      const withJson = value as { toJSON?: () => unknown }
      if (typeof withJson.toJSON === 'function') return serialize(withJson.toJSON(), depth)
      if (depth >= MAX_DEPTH) throw new TypeError('canonicalize: structure is cyclic or nested too deeply')
      let out: string
      if (Array.isArray(value)) {
        out = '['
        for (let index = 0; index < value.length; index++) {
          if (index > 0) out += ','
          const item: unknown = value[index]
          out += item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : serialize(item, depth + 1)
        }
        out += ']'
      } else {
        const keys = sortedKeys(value)
        out = '{'
        let first = true
        for (const key of keys) {
          const member: unknown = (value as Record<string, unknown>)[key]
          if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue
          if (!first) out += ','
          first = false
          out += quote(key) + ':' + serialize(member, depth + 1)
        }
        out += '}'
      }
      return out
    }
    case 'bigint':
      throw new TypeError('canonicalize: bigint is not JSON')
    default:
      throw new TypeError(`canonicalize: ${typeof value} is not JSON`)
  }
}

/**
 * Member names in UTF-16 code-unit order, the order §3.2.3 asks for (`<` on strings and the default sort both compare
 * code units). Events have small objects, where an insertion sort is about twice as fast as `Array.prototype.sort`.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value)
  if (keys.length > 16) return keys.sort()
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string
    let at = index - 1
    while (at >= 0 && (keys[at] as string) > key) {
      keys[at + 1] = keys[at] as string
      at--
    }
    keys[at + 1] = key
  }
  return keys
}

const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed()

// characters that need an escape, and surrogates (which need a well-formedness check)
const SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/

function quote(text: string): string {
  if (!SPECIAL.test(text)) return '"' + text + '"'
  if (!isWellFormed(text)) throw new TypeError('canonicalize: string holds a lone surrogate')
  // for well-formed strings JSON.stringify emits exactly §3.2.2.2: \" \\ \b \f \n \r \t, other controls as
  // lowercase \u00xx, everything else verbatim
  return JSON.stringify(text)
}
