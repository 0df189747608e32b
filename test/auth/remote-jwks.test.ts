// the remote key set: fetched only from its URL, rotated keys picked up, outages fail closed

import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { jwtAuthenticator } from '../../src/auth/jwt.js'
import { AUDIENCE, claims, clock, compact, ISSUER, publicJwk, rsa, rsaSigner, signers } from './_jwt-fixtures.js'

const URL_ = 'https://idp.example.com/jwks'
const next = generateKeyPairSync('rsa', { modulusLength: 2048 })
const header = (kid: string) => ({ alg: 'RS256', typ: 'at+jwt', kid })

afterEach(() => {
  vi.restoreAllMocks()
})

function serve(keys: () => object[]) {
  return vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response(JSON.stringify({ keys: keys() }), { status: 200 }))
}

describe('remote JWKS', () => {
  it('picks up a key the provider rotated in, refetching after the cooldown', async () => {
    let published = [publicJwk(rsa.publicKey, { kid: 'old', alg: 'RS256' })]
    const spy = serve(() => published)
    const authenticator = jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], jwksUrl: URL_, jwksFetch: { cooldownMs: 0 }, clock, cache: false })
    await expect(authenticator.authenticate({ scheme: 'bearer', value: compact(header('old'), claims(), signers.RS256) }, {})).resolves.toBeDefined()
    published = [...published, publicJwk(next.publicKey, { kid: 'new', alg: 'RS256' })]
    const rotated = compact(header('new'), claims({ jti: 'j2' }), rsaSigner(next.privateKey))
    await expect(authenticator.authenticate({ scheme: 'bearer', value: rotated }, {})).resolves.toBeDefined()
    expect(spy.mock.calls.every((call) => String(call[0]) === URL_)).toBe(true)
  })

  it('does not refetch within the cooldown for unknown kids (no request amplification)', async () => {
    const spy = serve(() => [publicJwk(rsa.publicKey, { kid: 'old', alg: 'RS256' })])
    const authenticator = jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], jwksUrl: URL_, clock, cache: false })
    await authenticator.authenticate({ scheme: 'bearer', value: compact(header('old'), claims(), signers.RS256) }, {})
    for (let index = 0; index < 20; index++) {
      const value = compact(header(`random-${index}`), claims(), signers.RS256)
      await expect(authenticator.authenticate({ scheme: 'bearer', value }, {})).rejects.toMatchObject({ reason: 'unknown_key' })
    }
    expect(spy).toHaveBeenCalledTimes(1)
  })

  it('fails closed with jwks_unavailable when the key set does not answer in time', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(
      (_input, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
        }),
    )
    const authenticator = jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], jwksUrl: URL_, jwksFetch: { timeoutMs: 50 }, clock })
    await expect(authenticator.authenticate({ scheme: 'bearer', value: compact(header('old'), claims(), signers.RS256) }, {})).rejects.toMatchObject({
      code: 'ERR_AUTHENTICATION',
      reason: 'jwks_unavailable',
    })
  })

  it('fails closed when the key set is not JSON or the request fails', async () => {
    for (const respond of [async () => new Response('<html>', { status: 200 }), async () => Promise.reject(new TypeError('fetch failed'))]) {
      vi.spyOn(globalThis, 'fetch').mockImplementation(respond)
      const authenticator = jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], jwksUrl: URL_, clock })
      await expect(authenticator.authenticate({ scheme: 'bearer', value: compact(header('old'), claims(), signers.RS256) }, {})).rejects.toMatchObject({
        reason: 'jwks_unavailable',
      })
      vi.restoreAllMocks()
    }
  })
})
