// name patterns for collections and namespaces: exact names, `*` and `?` globs, compiled once at load

/** A compiled name pattern. */
export type NamePattern = (name: string) => boolean

const matchAny: NamePattern = () => true

/**
 * Compiles a glob (`*` any run of characters, `?` one character; every other character literal).
 *
 * @example
 * ```ts
 * compileGlob('hr-*')('hr-2024') // true
 * ```
 */
export function compileGlob(pattern: string): NamePattern {
  if (pattern === '*') return matchAny
  if (!pattern.includes('*') && !pattern.includes('?')) return (name) => name === pattern
  let source = '^'
  for (const character of pattern) {
    if (character === '*') source += '[\\s\\S]*'
    else if (character === '?') source += '[\\s\\S]'
    else source += character.replace(/[\\^$.|*+?()[\]{}]/g, '\\$&')
  }
  const expression = new RegExp(`${source}$`, 'u')
  return (name) => expression.test(name)
}

/**
 * Compiles a list of globs into one matcher (any of them); `undefined` matches every name.
 *
 * @example
 * ```ts
 * compileGlobs(['docs', 'kb-*'])('kb-eu') // true
 * ```
 */
export function compileGlobs(patterns: readonly string[] | undefined): NamePattern {
  if (patterns === undefined || patterns.includes('*')) return matchAny
  const compiled = patterns.map(compileGlob)
  if (compiled.length === 1) return compiled[0] as NamePattern
  return (name) => {
    for (const pattern of compiled) if (pattern(name)) return true
    return false
  }
}

/** Whether a pattern list covers every name (so it also applies to requests that name no collection). */
export function coversEverything(patterns: readonly string[] | undefined): boolean {
  return patterns === undefined || patterns.includes('*')
}
