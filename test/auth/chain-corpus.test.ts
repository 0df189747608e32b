// one corpus of hostile credentials against every authenticator: each is either not recognised or rejected with an
// AuthenticationError — never accepted, never another kind of error

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { apiKeyAuthenticator, generateApiKey } from '../../src/auth/api-key.js'
import { jwtAuthenticator } from '../../src/auth/jwt.js'
import { jwtSvidAuthenticator, serviceIdentityAuthenticator } from '../../src/auth/service-identity.js'
import { AuthenticationError } from '../../src/errors.js'
import type { Authenticator, NormalizedCredential, RequestContext } from '../../src/spec/auth.js'
import { AUDIENCE, clock, ec, ISSUER, publicJwk, staticKeys, token } from './_jwt-fixtures.js'

const { record } = await generateApiKey({ clientId: 'c' })
const authenticators: Record<string, Authenticator> = {
  'api-key': apiKeyAuthenticator({ keys: [record] }),
  jwt: jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], keys: [staticKeys.RS256], clock }),
  'jwt-svid': jwtSvidAuthenticator({
    trustDomain: 'example.org',
    audience: 'rag-api',
    algorithms: ['ES256'],
    jwks: { keys: [publicJwk(ec.publicKey, { kid: 'b', alg: 'ES256' })] },
    clock,
  }),
  mtls: serviceIdentityAuthenticator({ allow: [{ idPrefix: 'spiffe://example.org/' }] }),
}

const fixed: string[] = [
  '',
  ' ',
  '\u0000',
  'null',
  'undefined',
  '{}',
  'vw_',
  'vw____',
  `vw_${'A'.repeat(12)}_${'B'.repeat(32)}_${'C'.repeat(6)}`,
  'eyJ',
  'eyJhbGciOiJub25lIn0.e30.',
  '.'.repeat(3),
  'a'.repeat(20_000),
  '𝕧𝕨_ｅｙＪ.漢字.🙂',
  token().replace(/\./g, '..'),
  `${token()}.${token()}`,
]

async function outcome(authenticator: Authenticator, credential: NormalizedCredential, context: RequestContext) {
  if (!authenticator.recognizes(credential, context)) return 'not recognised'
  const error = await authenticator.authenticate(credential, context).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (error === undefined) return 'accepted'
  return AuthenticationError.isInstance(error) ? 'rejected' : `threw ${String(error)}`
}

describe('hostile credentials against every authenticator', () => {
  it.each(Object.keys(authenticators))('%s never accepts and never throws anything but AuthenticationError (fixed corpus)', async (name) => {
    const authenticator = authenticators[name]!
    for (const value of fixed) {
      for (const scheme of ['bearer', 'api-key'] as const) {
        const result = await outcome(authenticator, { scheme, value }, {})
        expect(['not recognised', 'rejected'], `${scheme} ${JSON.stringify(value.slice(0, 30))}`).toContain(result)
      }
    }
  })

  it.each(Object.keys(authenticators))('%s never accepts and never throws anything but AuthenticationError (generated)', async (name) => {
    const authenticator = authenticators[name]!
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('bearer' as const, 'api-key' as const), fc.oneof(fc.string(), fc.stringMatching(/^[\w.-]{0,200}$/)), async (scheme, value) => {
        expect(['not recognised', 'rejected']).toContain(await outcome(authenticator, { scheme, value }, {}))
      }),
      { numRuns: 200 },
    )
  })

  it('the peer authenticator rejects hostile peer contexts with AuthenticationError', async () => {
    const contexts = [
      {},
      { peer: {} },
      { peer: { spiffeId: '' } },
      { peer: { spiffeId: 'spiffe://example.org/../../etc' } },
      { peer: { uriSans: [] } },
      { peer: { uriSans: ['spiffe://example.org/a', 'spiffe://example.org/b'] } },
      { peer: { spiffeId: 'SPIFFE://EXAMPLE.ORG/a' } },
    ] as RequestContext[]
    for (const context of contexts) {
      expect(await outcome(authenticators.mtls!, { scheme: 'peer' }, context), JSON.stringify(context)).toBe('rejected')
    }
  })
})
