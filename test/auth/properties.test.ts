// properties over many generated inputs: tampering never verifies, claim mapping is faithful

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { apiKeyAuthenticator, generateApiKey } from '../../src/auth/api-key.js'
import { jwtAuthenticator } from '../../src/auth/jwt.js'
import { AuthenticationError } from '../../src/errors.js'
import { AUDIENCE, clock, ISSUER, staticKeys, token } from './_jwt-fixtures.js'

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'

describe('tampering', () => {
  const authenticator = jwtAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    keys: [staticKeys.ES256],
    clock,
    cache: false,
  })
  const good = token({ alg: 'ES256' })

  it('rejects every single-character change of a valid token, including changes to unused bits', async () => {
    await expect(authenticator.authenticate({ scheme: 'bearer', value: good }, {})).resolves.toBeDefined()
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.constantFrom(...BASE64URL), async (index, character) => {
        fc.pre(good[index] !== character)
        const tampered = good.slice(0, index) + character + good.slice(index + 1)
        const error = await authenticator.authenticate({ scheme: 'bearer', value: tampered }, {}).catch((caught: unknown) => caught)
        expect(AuthenticationError.isInstance(error)).toBe(true)
      }),
      { numRuns: 150 },
    )
  })

  it('rejects every single-character change of a valid API key', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'c' })
    const keys = apiKeyAuthenticator({ keys: [record] })
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: apiKey.length - 1 }), fc.constantFrom(...BASE64URL), async (index, character) => {
        fc.pre(apiKey[index] !== character)
        const tampered = apiKey.slice(0, index) + character + apiKey.slice(index + 1)
        const error = await keys.authenticate({ scheme: 'api-key', value: tampered }, {}).catch((caught: unknown) => caught)
        expect(AuthenticationError.isInstance(error)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })
})

describe('claim mapping', () => {
  const authenticator = jwtAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['HS256'],
    keys: [staticKeys.HS256],
    clock,
    cache: false,
    claims: { tenant: 'org', attributes: ['department'] },
  })
  const word = fc.stringMatching(/^[a-z][a-z0-9:_-]{0,11}$/)

  it('maps roles, scopes, tenant and attributes exactly as the token states them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 5 }), fc.uniqueArray(word, { maxLength: 5 }), word, fc.string(), async (roles, scopes, org, department) => {
        const value = token({ alg: 'HS256', claims: { roles, scope: scopes.join(' '), org, department } })
        const principal = await authenticator.authenticate({ scheme: 'bearer', value }, {})
        expect(principal.roles).toEqual(roles)
        expect(principal.scopes).toEqual(scopes)
        expect(principal.tenant).toBe(org)
        expect(principal.attributes).toEqual({ department })
      }),
      { numRuns: 60 },
    )
  })
})
