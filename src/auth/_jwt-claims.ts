// JWT claims to principal: the claim mapping, and an unverified peek used only to route tokens

import type { JWTPayload } from 'jose'
import { platform } from '../platform/index.js'
import type { Principal } from '../spec/auth.js'
import { fail } from './_jwt-keys.js'

/** How claims become the principal. Claim names may be dotted paths (`realm_access.roles`). */
export interface JwtClaimMapping {
  /** Claim for `Principal.id`. Default `sub`. */
  id?: string
  /** Claim for `Principal.tenant`. Default `tenant`. */
  tenant?: string
  /** Claim holding roles: an array of strings or a space-separated string. Default `roles`. */
  roles?: string
  /** Claim holding scopes. Default `scope` (space-separated, RFC 9068), then `scp` (array). */
  scopes?: string
  /** Claims copied into `Principal.attributes` under the same name (last path segment). */
  attributes?: readonly string[]
  /**
   * `user` or `service`, or a function of the claims. Default: `service` when `sub` is a SPIFFE ID or equals
   * `client_id` (RFC 9068 client-credentials tokens), else `user`.
   */
  kind?: 'user' | 'service' | ((claims: JWTPayload) => 'user' | 'service')
}

function claimPath(name: string): (claims: JWTPayload) => unknown {
  const path = name.split('.')
  if (path.length === 1) return (claims) => claims[name]
  return (claims) => {
    let value: unknown = claims
    for (const step of path) {
      if (typeof value !== 'object' || value === null) return undefined
      value = (value as Record<string, unknown>)[step]
    }
    return value
  }
}

function stringListClaim(value: unknown, name: string): readonly string[] {
  if (value === undefined) return Object.freeze([])
  if (typeof value === 'string') return Object.freeze(value.split(' ').filter((item) => item.length > 0))
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return Object.freeze([...value])
  throw fail(`claim "${name}" must be a string or an array of strings`, 'invalid_claim')
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw fail(`claim "${name}" must be a string`, 'invalid_claim')
  return value
}

function optionalSeconds(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`claim "${name}" must be a number`, 'invalid_claim')
  return value * 1000
}

function defaultKind(claims: JWTPayload): 'user' | 'service' {
  const { sub } = claims
  if (typeof sub === 'string' && sub.startsWith('spiffe://')) return 'service'
  return claims['client_id'] !== undefined && claims['client_id'] === sub ? 'service' : 'user'
}

/** @internal Builds the function that maps verified claims to a frozen principal. */
export function principalMapper(
  mapping: JwtClaimMapping,
  authenticatorName: string,
): (claims: JWTPayload) => Principal {
  const idName = mapping.id ?? 'sub'
  const id = claimPath(idName)
  const tenantName = mapping.tenant ?? 'tenant'
  const tenant = claimPath(tenantName)
  const rolesName = mapping.roles ?? 'roles'
  const roles = claimPath(rolesName)
  const scopesName = mapping.scopes
  const scopes = scopesName === undefined ? undefined : claimPath(scopesName)
  const attributes = (mapping.attributes ?? []).map((name) => [name.split('.').pop()!, claimPath(name)] as const)
  const kind = mapping.kind ?? defaultKind
  if (kind !== 'user' && kind !== 'service' && typeof kind !== 'function') {
    throw new TypeError("claims.kind must be 'user', 'service' or a function")
  }
  return (claims) => {
    const principalId = id(claims)
    if (typeof principalId !== 'string' || principalId.length === 0) {
      throw fail(`claim "${idName}" must be a non-empty string`, 'invalid_claim')
    }
    const scopeList =
      scopes === undefined
        ? claims['scope'] !== undefined
          ? stringListClaim(claims['scope'], 'scope')
          : stringListClaim(claims['scp'], 'scp')
        : stringListClaim(scopes(claims), scopesName!)
    const attributeValues: Record<string, unknown> = {}
    for (const [name, read] of attributes) {
      const value = read(claims)
      if (value !== undefined) attributeValues[name] = value
    }
    const resolvedKind = typeof kind === 'function' ? kind(claims) : kind
    if (resolvedKind !== 'user' && resolvedKind !== 'service') throw fail('claims.kind returned neither user nor service', 'invalid_claim')
    const principal: { -readonly [K in keyof Principal]: Principal[K] } = {
      id: principalId,
      kind: resolvedKind,
      roles: stringListClaim(roles(claims), rolesName),
      scopes: scopeList,
      attributes: Object.freeze(attributeValues),
      authenticator: authenticatorName,
    }
    const tenantValue = optionalString(tenant(claims), tenantName)
    if (tenantValue !== undefined) principal.tenant = tenantValue
    const issuer = optionalString(claims.iss, 'iss')
    if (issuer !== undefined) principal.issuer = issuer
    const jti = optionalString(claims.jti, 'jti')
    if (jti !== undefined) principal.credentialId = jti
    const sid = optionalString(claims['sid'], 'sid')
    if (sid !== undefined) principal.sessionId = sid
    if (claims['amr'] !== undefined) {
      const amr = claims['amr']
      if (!Array.isArray(amr) || !amr.every((item) => typeof item === 'string')) {
        throw fail('claim "amr" must be an array of strings', 'invalid_claim')
      }
      principal.amr = Object.freeze([...amr])
    }
    const acr = optionalString(claims['acr'], 'acr')
    if (acr !== undefined) principal.acr = acr
    const authTime = optionalSeconds(claims['auth_time'], 'auth_time')
    if (authTime !== undefined) principal.authTime = authTime
    const expiresAt = optionalSeconds(claims.exp, 'exp')
    if (expiresAt !== undefined) principal.expiresAt = expiresAt
    const issuedAt = optionalSeconds(claims.iat, 'iat')
    if (issuedAt !== undefined) principal.issuedAt = issuedAt
    return Object.freeze(principal)
  }
}

/** @internal The payload of a compact JWT, not verified; for routing only. */
export function peekClaims(token: string): Record<string, unknown> | undefined {
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  if (second < 0) return undefined
  try {
    const claims: unknown = JSON.parse(platform.utf8Decode(platform.base64urlDecode(token.slice(first + 1, second))))
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** @internal A bearer value shaped like a compact JWS (an API key with a prefix has no dots). */
export const looksLikeJwt = (token: string): boolean => token.startsWith('eyJ') || token.includes('.')

