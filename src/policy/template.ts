// `${principal.…}` placeholders in row filters, stamps and labels: bound per request as data, never parsed as syntax

import { ConfigError } from '../errors.js'
import type { Principal, RequestContext } from '../spec/auth.js'
import type { FilterScalar } from '../spec/filter.js'

/** What a placeholder resolves to: a scalar, a list of scalars, or `undefined` when missing or of the wrong type. */
export type Bound = FilterScalar | readonly FilterScalar[] | undefined

/** A compiled placeholder. */
export interface Placeholder {
  readonly kind: 'placeholder'
  /** The source text, for explanations. */
  readonly source: string
  resolve(principal: Principal, context: RequestContext): Bound
}

const PLACEHOLDER = /^\$\{([A-Za-z0-9_.-]+)\}$/
const FORBIDDEN_SEGMENT = new Set(['__proto__', 'prototype', 'constructor'])

function toBound(value: unknown): Bound {
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (Array.isArray(value)) {
    for (const element of value) {
      if (typeof element === 'string' || typeof element === 'boolean') continue
      if (typeof element === 'number' && Number.isFinite(element)) continue
      return undefined
    }
    return value as readonly FilterScalar[]
  }
  return undefined
}

function readPath(root: unknown, segments: readonly string[]): unknown {
  let current = root
  for (const segment of segments) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined
    if (!Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}

/** Whether a string is meant as a placeholder (contains `${`). */
export function looksLikePlaceholder(value: unknown): value is string {
  return typeof value === 'string' && value.includes('${')
}

/**
 * Compiles `${principal.id}`, `${principal.tenant}`, `${principal.kind}`, `${principal.attributes.a.b}` or
 * `${context.attributes.a}`. The whole string must be one placeholder: no interpolation into larger strings.
 *
 * @example
 * ```ts
 * compilePlaceholder('${principal.attributes.departments}', 'roles.hr.allow[0].rowFilter.department')
 * ```
 */
export function compilePlaceholder(text: string, where: string): Placeholder {
  const match = PLACEHOLDER.exec(text)
  if (match === null) {
    throw new ConfigError(`${where}: a placeholder must be the whole value, like '\${principal.attributes.name}'`, {
      reason: 'invalid_placeholder',
    })
  }
  const segments = (match[1] as string).split('.')
  if (segments.some((segment) => segment === '' || FORBIDDEN_SEGMENT.has(segment))) {
    throw new ConfigError(`${where}: invalid placeholder path`, { reason: 'invalid_placeholder' })
  }
  const source = text
  const [root, second, ...rest] = segments
  if (root === 'principal' && rest.length === 0 && (second === 'id' || second === 'tenant' || second === 'kind')) {
    const key = second
    return {
      kind: 'placeholder',
      source,
      resolve: (principal) => {
        const value = principal[key]
        return typeof value === 'string' && value !== '' ? value : undefined
      },
    }
  }
  if (root === 'principal' && second === 'attributes' && rest.length > 0) {
    return { kind: 'placeholder', source, resolve: (principal) => toBound(readPath(principal.attributes, rest)) }
  }
  if (root === 'context' && second === 'attributes' && rest.length > 0) {
    return { kind: 'placeholder', source, resolve: (_principal, context) => toBound(readPath(context.attributes, rest)) }
  }
  throw new ConfigError(
    `${where}: unknown placeholder; use principal.id, principal.tenant, principal.kind, principal.attributes.… or context.attributes.…`,
    { reason: 'invalid_placeholder' },
  )
}
