import { describe, expect, it } from 'vitest'
import { isSpiffeId, jwtSvidAuthenticator, serviceIdentityAuthenticator } from '../../src/auth/service-identity.js'
import type { RequestContext } from '../../src/spec/auth.js'
import { reasonOf } from './_helpers.js'
import { claims, clock, compact, ec, NOW_SECONDS, publicJwk, signers } from './_jwt-fixtures.js'

const peer = { scheme: 'peer' as const }


describe('isSpiffeId', () => {
  it.each([
    ['spiffe://example.org/ns/prod/sa/indexer', true],
    ['spiffe://example.org', true],
    ['spiffe://Example.org/x', false],
    ['spiffe://example.org/', false],
    ['spiffe://example.org/a//b', false],
    ['spiffe://example.org/a/../b', false],
    ['spiffe://example.org/a/./b', false],
    ['spiffe://example.org/a%2Fb', false],
    ['spiffe://example.org/a?x=1', false],
    ['spiffe://example.org/a#f', false],
    ['spiffe://user@example.org/a', false],
    ['spiffe://example.org:8443/a', false],
    ['https://example.org/a', false],
  ])('%s → %s', (value, expected) => {
    expect(isSpiffeId(value)).toBe(expected)
  })
})

describe('serviceIdentityAuthenticator', () => {
  const authenticator = serviceIdentityAuthenticator({
    allow: [
      { id: 'spiffe://example.org/ns/prod/sa/indexer', roles: ['writer'], tenant: 'acme' },
      { idPrefix: 'spiffe://example.org/ns/batch/', roles: ['reader'] },
      { id: 'urn:example:legacy-worker', roles: ['reader'] },
    ],
  })

  it('authenticates an allowed SPIFFE ID as a service with the entry\'s roles', async () => {
    const principal = await authenticator.authenticate(peer, { peer: { spiffeId: 'spiffe://example.org/ns/prod/sa/indexer' } })
    expect(principal).toMatchObject({
      id: 'spiffe://example.org/ns/prod/sa/indexer',
      kind: 'service',
      tenant: 'acme',
      roles: ['writer'],
      authenticator: 'mtls',
      attributes: { trustDomain: 'example.org' },
    })
  })

  it('accepts a single URI SAN, and identities under a prefix', async () => {
    await expect(authenticator.authenticate(peer, { peer: { uriSans: ['urn:example:legacy-worker'] } })).resolves.toMatchObject({ roles: ['reader'] })
    await expect(authenticator.authenticate(peer, { peer: { spiffeId: 'spiffe://example.org/ns/batch/job-1' } })).resolves.toMatchObject({ roles: ['reader'] })
  })

  it.each([
    ['no peer', {}, 'no_peer_identity'],
    ['an unlisted workload', { peer: { spiffeId: 'spiffe://example.org/ns/dev/sa/x' } }, 'peer_not_allowed'],
    ['a prefix look-alike', { peer: { spiffeId: 'spiffe://example.org/ns/batchx/job' } }, 'peer_not_allowed'],
    ['another trust domain', { peer: { spiffeId: 'spiffe://evil.org/ns/prod/sa/indexer' } }, 'peer_not_allowed'],
    ['a path traversal', { peer: { spiffeId: 'spiffe://example.org/ns/batch/../prod/sa/indexer' } }, 'invalid_peer_identity'],
    ['several URI SANs', { peer: { uriSans: ['urn:example:legacy-worker', 'urn:x'] } }, 'ambiguous_peer_identity'],
  ] as const)('rejects %s', async (_name, context, reason) => {
    expect(await reasonOf(authenticator.authenticate(peer, context as RequestContext))).toBe(reason)
  })

  it('recognises only the peer credential', () => {
    expect(authenticator.recognizes(peer, {})).toBe(true)
    expect(authenticator.recognizes({ scheme: 'bearer', value: 'x' }, {})).toBe(false)
  })

  it('ends trust when a call comes from another peer', async () => {
    const context = { peer: { spiffeId: 'spiffe://example.org/ns/prod/sa/indexer' } }
    const principal = await authenticator.authenticate(peer, context)
    expect(() => authenticator.verify!(principal, context, 0)).not.toThrow()
    expect(() => authenticator.verify!(principal, { peer: { spiffeId: 'spiffe://example.org/ns/batch/x' } }, 0)).toThrow(
      expect.objectContaining({ reason: 'peer_changed' }),
    )
  })

  it('refuses an idPrefix without a trailing slash and an empty allow-list', () => {
    expect(() => serviceIdentityAuthenticator({ allow: [{ idPrefix: 'spiffe://example.org/ns/prod' }] })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
    expect(() => serviceIdentityAuthenticator({ allow: [] })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })
})

describe('jwtSvidAuthenticator', () => {
  const svid = (overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    compact(
      { alg: 'ES256', typ: 'JWT', kid: 'bundle-1', ...header },
      claims({ iss: undefined, jti: undefined, sub: 'spiffe://example.org/ns/prod/sa/indexer', aud: ['rag-api'], ...overrides }),
      signers.ES256,
    )
  const authenticator = jwtSvidAuthenticator({
    trustDomain: 'example.org',
    audience: 'rag-api',
    algorithms: ['ES256'],
    jwks: { keys: [publicJwk(ec.publicKey, { kid: 'bundle-1', alg: 'ES256', use: 'sig' })] },
    allow: [{ idPrefix: 'spiffe://example.org/ns/prod/', roles: ['writer'] }],
    clock,
  })

  it('authenticates a JWT-SVID of an allowed workload', async () => {
    await expect(authenticator.authenticate({ scheme: 'bearer', value: svid() }, {})).resolves.toMatchObject({
      id: 'spiffe://example.org/ns/prod/sa/indexer',
      kind: 'service',
      roles: ['writer'],
      authenticator: 'jwt-svid',
    })
    // iat is optional for JWT-SVIDs and typ may be absent
    await expect(authenticator.authenticate({ scheme: 'bearer', value: svid({ iat: undefined }, { typ: undefined }) }, {})).resolves.toBeDefined()
  })

  it('recognises only tokens whose subject is in its trust domain', () => {
    expect(authenticator.recognizes({ scheme: 'bearer', value: svid() }, {})).toBe(true)
    expect(authenticator.recognizes({ scheme: 'bearer', value: svid({ sub: 'alice' }) }, {})).toBe(false)
  })

  it.each([
    ['a workload outside the allow-list', { sub: 'spiffe://example.org/ns/dev/sa/x' }, {}, 'peer_not_allowed'],
    ['a subject of another trust domain', { sub: 'spiffe://evil.org/ns/prod/sa/indexer' }, {}, 'invalid_claim'],
    ['a wrong audience', { aud: ['other'] }, {}, 'audience_mismatch'],
    ['no audience', { aud: undefined }, {}, 'missing_claim'],
    ['no exp', { exp: undefined }, {}, 'missing_claim'],
    ['an expired SVID', { exp: NOW_SECONDS - 3600 }, {}, 'token_expired'],
    ['an access-token typ', {}, { typ: 'at+jwt' }, 'typ_mismatch'],
    ['an SVID issued in the future', { iat: NOW_SECONDS + 600 }, {}, 'token_issued_in_future'],
    ['an old SVID', { iat: NOW_SECONDS - 7200 }, {}, 'token_too_old'],
    ['alg none', {}, { alg: 'none' }, 'alg_not_allowed'],
  ] as const)('rejects %s', async (_name, overrides, header, reason) => {
    expect(await reasonOf(authenticator.authenticate({ scheme: 'bearer', value: svid(overrides, header) }, {}))).toBe(reason)
  })

  it('refuses HMAC algorithms and allow entries outside the trust domain', () => {
    const base = { trustDomain: 'example.org', audience: 'rag-api', jwks: { keys: [] } }
    expect(() => jwtSvidAuthenticator({ ...base, algorithms: ['HS256'] })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
    expect(() => jwtSvidAuthenticator({ ...base, algorithms: ['ES256'], allow: [{ idPrefix: 'spiffe://evil.org/' }] })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    )
  })
})
