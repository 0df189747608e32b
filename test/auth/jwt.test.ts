import { describe, expect, it } from 'vitest'
import { type JwtAuthenticatorOptions, jwtAuthenticator } from '../../src/auth/jwt.js'
import { memoryRevocationList } from '../../src/auth/revocation.js'
import { ConfigError } from '../../src/errors.js'
import type { Authenticator, Principal } from '../../src/spec/auth.js'
import {
  AUDIENCE,
  claims,
  clock,
  compact,
  ec,
  hmacSecret,
  ISSUER,
  NOW,
  NOW_SECONDS,
  publicJwk,
  rsa,
  rsaWeak,
  signers,
  staticKeys,
  token,
} from './_jwt-fixtures.js'
import { reasonOf } from './_helpers.js'

const bearer = (value: string) => ({ scheme: 'bearer' as const, value })

function rsAuthenticator(overrides: Partial<JwtAuthenticatorOptions> = {}): Authenticator {
  return jwtAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['RS256'],
    keys: [staticKeys.RS256],
    clock,
    ...overrides,
  })
}


function configReason(build: () => unknown): string {
  try {
    build()
  } catch (error) {
    if (ConfigError.isInstance(error)) return error.reason
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('jwtAuthenticator configuration', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], keys: [staticKeys.RS256] } as const

  it.each([
    ['no algorithms', { ...base, algorithms: undefined }, 'missing_algorithms'],
    ['an empty allow-list', { ...base, algorithms: [] }, 'missing_algorithms'],
    ['alg none', { ...base, algorithms: ['none'] }, 'alg_not_allowed'],
    ['alg NONE', { ...base, algorithms: ['RS256', 'NONE'] }, 'alg_not_allowed'],
    ['mixed HMAC and RSA', { ...base, algorithms: ['RS256', 'HS256'] }, 'mixed_algorithms'],
    ['no issuer', { ...base, issuer: undefined }, 'missing_issuer'],
    ['no audience', { ...base, audience: undefined }, 'missing_audience'],
    ['an empty audience list', { ...base, audience: [] }, 'missing_audience'],
    ['no key source', { ...base, keys: undefined }, 'missing_keys'],
    ['two key sources', { ...base, jwks: { keys: [] } }, 'missing_keys'],
    ['clock tolerance over 60 s', { ...base, clockToleranceSeconds: 61 }, 'clock_tolerance'],
    ['an HMAC secret of 31 bytes', { ...base, algorithms: ['HS256'], keys: [{ alg: 'HS256', key: new Uint8Array(31) }] }, 'weak_key'],
    ['an empty HMAC secret', { ...base, algorithms: ['HS256'], keys: [{ alg: 'HS256', key: new Uint8Array(0) }] }, 'weak_key'],
    ['an RSA key of 1024 bits', { ...base, keys: [{ alg: 'RS256', key: publicJwk(rsaWeak.publicKey) }] }, 'weak_key'],
    ['a 1024-bit RSA key object', { ...base, keys: [{ alg: 'RS256', key: rsaWeak.publicKey }] }, 'weak_key'],
    ['a 1024-bit RSA key in a JWKS', { ...base, keys: undefined, jwks: { keys: [publicJwk(rsaWeak.publicKey)] } }, 'weak_key'],
    ['a JWK whose alg disagrees', { ...base, keys: [{ alg: 'RS256', key: publicJwk(rsa.publicKey, { alg: 'PS256' }) }] }, 'key_alg_mismatch'],
    ['a JWK for encryption', { ...base, keys: [{ alg: 'RS256', key: publicJwk(rsa.publicKey, { use: 'enc' }) }] }, 'key_use_mismatch'],
    ['a private key', { ...base, keys: [{ alg: 'RS256', key: rsa.privateKey.export({ format: 'jwk' }) }] }, 'private_key'],
    ['an EC key for RS256', { ...base, keys: [{ alg: 'RS256', key: publicJwk(ec.publicKey) }] }, 'key_alg_mismatch'],
    ['a key outside the allow-list', { ...base, keys: [staticKeys.ES256] }, 'invalid_config'],
    ['HMAC with a key set', { ...base, algorithms: ['HS256'], keys: undefined, jwks: { keys: [] } }, 'key_alg_mismatch'],
    ['a symmetric key in a JWKS', { ...base, keys: undefined, jwks: { keys: [{ kty: 'oct', k: 'A'.repeat(43) }] } }, 'key_alg_mismatch'],
    ['a JWKS key without alg under RS256 and PS256', { ...base, algorithms: ['RS256', 'PS256'], keys: undefined, jwks: { keys: [publicJwk(rsa.publicKey)] } }, 'key_alg_mismatch'],
    ['a plain-http JWKS URL', { ...base, keys: undefined, jwksUrl: 'http://idp.example.com/jwks' }, 'insecure_jwks_url'],
  ])('refuses %s with a ConfigError', (_name, options, reason) => {
    expect(configReason(() => jwtAuthenticator(options as unknown as JwtAuthenticatorOptions))).toBe(reason)
  })

  it('accepts each supported key form', () => {
    expect(() => rsAuthenticator({ keys: [{ alg: 'RS256', key: rsa.publicKey }] })).not.toThrow()
    expect(() => rsAuthenticator({ keys: undefined, jwks: { keys: [publicJwk(rsa.publicKey, { kid: 'a' })] } })).not.toThrow()
    expect(() => rsAuthenticator({ keys: undefined, jwksUrl: 'https://idp.example.com/jwks' })).not.toThrow()
    expect(() => jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], keys: [staticKeys.HS256] })).not.toThrow()
  })
})

describe('jwtAuthenticator verification', () => {
  it('accepts a good token for each algorithm family', async () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA', 'HS256'] as const) {
      const authenticator = jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], keys: [staticKeys[alg]], clock })
      await expect(authenticator.authenticate(bearer(token({ alg })), {})).resolves.toMatchObject({ id: 'alice' })
    }
  })

  it('maps claims to the principal', async () => {
    const authenticator = rsAuthenticator({
      claims: { tenant: 'org', roles: 'realm_access.roles', attributes: ['department', 'ext.clearance'] },
    })
    const principal = await authenticator.authenticate(
      bearer(
        token({
          claims: {
            org: 'acme',
            realm_access: { roles: ['reader', 'writer'] },
            scope: 'docs:read docs:write',
            department: 'legal',
            ext: { clearance: 3 },
            amr: ['pwd', 'otp'],
            acr: 'urn:mace:incommon:iap:silver',
            auth_time: NOW_SECONDS - 120,
            sid: 'idp-session-9',
          },
        }),
      ),
      {},
    )
    expect(principal).toEqual({
      id: 'alice',
      kind: 'user',
      tenant: 'acme',
      roles: ['reader', 'writer'],
      scopes: ['docs:read', 'docs:write'],
      attributes: { department: 'legal', clearance: 3 },
      authenticator: 'jwt',
      issuer: ISSUER,
      credentialId: 'jti-alice-1',
      sessionId: 'idp-session-9',
      amr: ['pwd', 'otp'],
      acr: 'urn:mace:incommon:iap:silver',
      authTime: (NOW_SECONDS - 120) * 1000,
      expiresAt: (NOW_SECONDS + 600) * 1000,
      issuedAt: (NOW_SECONDS - 60) * 1000,
    } satisfies Principal)
    expect(Object.isFrozen(principal)).toBe(true)
  })

  it('marks client-credentials and SPIFFE subjects as services', async () => {
    const authenticator = rsAuthenticator()
    const client = await authenticator.authenticate(bearer(token({ claims: { sub: 'svc-1', client_id: 'svc-1' } })), {})
    const workload = await authenticator.authenticate(bearer(token({ claims: { sub: 'spiffe://example.org/indexer', jti: 'j2' } })), {})
    expect([client.kind, workload.kind]).toEqual(['service', 'service'])
  })

  it('rejects claims of the wrong shape with invalid_claim', async () => {
    const authenticator = rsAuthenticator({ cache: false })
    for (const bad of [{ roles: 'a b', amr: 'pwd' }, { roles: [1] }, { tenant: 7 }, { auth_time: '1' }, { sub: '' }]) {
      expect(await reasonOf(authenticator.authenticate(bearer(token({ claims: bad })), {}))).toBe('invalid_claim')
    }
  })

  it('recognises only JWT-shaped bearer credentials', () => {
    const authenticator = rsAuthenticator()
    expect(authenticator.recognizes(bearer(token()), {})).toBe(true)
    expect(authenticator.recognizes(bearer('vw_abc_def_ghi'), {})).toBe(false)
    expect(authenticator.recognizes({ scheme: 'api-key', value: token() }, {})).toBe(false)
  })

  it('routes by issuer when asked, so two issuers can share a chain', () => {
    const authenticator = rsAuthenticator({ routeByIssuer: true })
    expect(authenticator.recognizes(bearer(token()), {})).toBe(true)
    expect(authenticator.recognizes(bearer(token({ claims: { iss: 'https://other.example/' } })), {})).toBe(false)
  })

  it('accepts the typ the configuration names, and no typ check only when turned off', async () => {
    const idToken = compact({ alg: 'RS256', typ: 'JWT', kid: 'rs256-1' }, claims(), signers.RS256)
    expect(await reasonOf(rsAuthenticator().authenticate(bearer(idToken), {}))).toBe('typ_mismatch')
    await expect(rsAuthenticator({ typ: 'JWT' }).authenticate(bearer(idToken), {})).resolves.toBeDefined()
    await expect(rsAuthenticator({ typ: false }).authenticate(bearer(idToken), {})).resolves.toBeDefined()
  })

  it('accepts a token expired by less than the clock tolerance and not more', async () => {
    const within = token({ claims: { exp: NOW_SECONDS - 20 } })
    const beyond = token({ claims: { exp: NOW_SECONDS - 31, jti: 'j3' } })
    await expect(rsAuthenticator({ clockToleranceSeconds: 30 }).authenticate(bearer(within), {})).resolves.toBeDefined()
    expect(await reasonOf(rsAuthenticator({ clockToleranceSeconds: 30 }).authenticate(bearer(beyond), {}))).toBe('token_expired')
  })
})

describe('verified-token cache', () => {
  it('returns the same principal for a repeated token without verifying the signature again', async () => {
    const authenticator = rsAuthenticator()
    const good = token()
    const first = await authenticator.authenticate(bearer(good), {})
    const second = await authenticator.authenticate(bearer(good), {})
    expect(second).toBe(first)
  })

  it('never serves an entry past the token expiry', async () => {
    let now = NOW
    const authenticator = rsAuthenticator({ clock: () => now, clockToleranceSeconds: 0 })
    const good = token({ claims: { exp: NOW_SECONDS + 10 } })
    await authenticator.authenticate(bearer(good), {})
    now = NOW + 10_000
    expect(await reasonOf(authenticator.authenticate(bearer(good), {}))).toBe('token_expired')
  })

  it('never serves an entry past the maximum token age', async () => {
    let now = NOW
    const authenticator = rsAuthenticator({ clock: () => now, clockToleranceSeconds: 0, maxTokenAgeSeconds: 120 })
    const good = token({ claims: { iat: NOW_SECONDS - 60, exp: NOW_SECONDS + 3600 } })
    await authenticator.authenticate(bearer(good), {})
    now = NOW + 61_000
    expect(await reasonOf(authenticator.authenticate(bearer(good), {}))).toBe('token_too_old')
  })

  it('never skips revocation for a cached token', async () => {
    const revocations = memoryRevocationList()
    const authenticator = rsAuthenticator({ revocations })
    const good = token()
    await authenticator.authenticate(bearer(good), {})
    revocations.revoke({ kind: 'jti', value: 'jti-alice-1' })
    expect(await reasonOf(authenticator.authenticate(bearer(good), {}))).toBe('revoked')
  })

  it('caches nothing for a token that fails', async () => {
    const authenticator = rsAuthenticator()
    const bad = `${token().slice(0, -4)}AAAA`
    expect(await reasonOf(authenticator.authenticate(bearer(bad), {}))).toBe('bad_signature')
    expect(await reasonOf(authenticator.authenticate(bearer(bad), {}))).toBe('bad_signature')
  })

  it('stays within its size bound', async () => {
    const authenticator = rsAuthenticator({ cache: { maxEntries: 2 } })
    const tokens = ['a', 'b', 'c'].map((jti) => token({ claims: { jti } }))
    const principals = []
    for (const value of tokens) principals.push(await authenticator.authenticate(bearer(value), {}))
    // the first entry was evicted: a fresh verification builds a new principal object
    expect(await authenticator.authenticate(bearer(tokens[0]!), {})).not.toBe(principals[0])
    expect(await authenticator.authenticate(bearer(tokens[2]!), {})).toBe(principals[2])
  })
})

describe('continuous verification', () => {
  it('fails verify once the token expires mid-session', async () => {
    const authenticator = rsAuthenticator({ clockToleranceSeconds: 0 })
    const principal = await authenticator.authenticate(bearer(token({ claims: { exp: NOW_SECONDS + 5 } })), {})
    expect(() => authenticator.verify!(principal, {}, NOW + 4_000)).not.toThrow()
    expect(() => authenticator.verify!(principal, {}, NOW + 5_000)).toThrow(expect.objectContaining({ reason: 'token_expired' }))
  })

  it('fails verify on the next call after a revocation by jti, subject, sid or tenant', async () => {
    for (const [kind, value] of [
      ['jti', 'jti-alice-1'],
      ['subject', 'alice'],
      ['session', 'sid-7'],
      ['tenant', 'acme'],
    ] as const) {
      const revocations = memoryRevocationList()
      const authenticator = rsAuthenticator({ revocations })
      const principal = await authenticator.authenticate(bearer(token({ claims: { sid: 'sid-7', tenant: 'acme' } })), {})
      expect(() => authenticator.verify!(principal, {}, NOW)).not.toThrow()
      revocations.revoke({ kind, value })
      expect(() => authenticator.verify!(principal, {}, NOW), kind).toThrow(expect.objectContaining({ reason: 'revoked' }))
    }
  })
})

describe('secrets never leave', () => {
  it('puts neither the token nor its signature into any error', async () => {
    const authenticator = rsAuthenticator()
    const good = token()
    const variants = [
      `${good.slice(0, -4)}AAAA`,
      token({ claims: { exp: NOW_SECONDS - 3600 } }),
      token({ claims: { iss: 'https://evil.example/' } }),
      token({ header: { jku: 'https://evil.example/jwks' } }),
      compact({ alg: 'HS256', typ: 'at+jwt' }, claims(), signers.HS256),
    ]
    for (const variant of variants) {
      const error = await authenticator.authenticate(bearer(variant), {}).catch((caught: unknown) => caught)
      const signature = variant.split('.')[2]!
      const text = `${String(error)} ${JSON.stringify(error)} ${String((error as Error).cause ?? '')}`
      expect(text).not.toContain(variant)
      if (signature.length > 0) expect(text).not.toContain(signature)
      expect((error as Error).cause).toBeUndefined()
    }
  })

  it('keeps no token in the cache, only its hash', async () => {
    const authenticator = rsAuthenticator()
    const good = token()
    await authenticator.authenticate(bearer(good), {})
    // the closure holds the cache; the principal is all the authenticator exposes, and it carries no token
    const principal = await authenticator.authenticate(bearer(good), {})
    expect(JSON.stringify(principal)).not.toContain(good.split('.')[2]!)
  })
})

it('uses the given key material only: an HMAC secret in a config is never echoed', () => {
  const error = (() => {
    try {
      jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], keys: [{ alg: 'HS256', key: hmacSecret.slice(0, 16) }] })
    } catch (caught) {
      return caught as Error
    }
  })()
  expect(ConfigError.isInstance(error)).toBe(true)
  expect(error?.message).not.toContain(Buffer.from(hmacSecret.slice(0, 16)).toString('base64url'))
  expect(error?.message).not.toContain(Buffer.from(hmacSecret.slice(0, 16)).toString('hex'))
})
