// Wycheproof json_web_signature_test.json through jwtAuthenticator: valid signatures pass the signature stage,
// invalid ones never do

import { readFileSync } from 'node:fs'
import type { JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { type JwtAlgorithm, jwtAuthenticator } from '../../src/auth/jwt.js'
import { AuthenticationError, ConfigError } from '../../src/errors.js'

interface WycheproofTest {
  tcId: number
  comment: string
  jws: string
  result: 'valid' | 'invalid' | 'acceptable'
  flags: string[]
}
interface WycheproofGroup {
  comment?: string
  public?: JWK
  private?: JWK
  tests: WycheproofTest[]
}

const suite = JSON.parse(readFileSync(new URL('../vectors/json_web_signature_test.json', import.meta.url), 'utf8')) as {
  testGroups: WycheproofGroup[]
}

// reasons that only arise after the signature was verified: the Wycheproof payloads are not JWT claim sets
const AFTER_SIGNATURE = new Set(['invalid_claims', 'missing_claim', 'invalid_claim', 'typ_mismatch'])

function headerAlg(jws: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown }
    return typeof header.alg === 'string' ? header.alg : undefined
  } catch {
    return undefined
  }
}

type Outcome = { stage: 'config' } | { stage: 'signature' | 'claims'; reason: string } | { stage: 'accepted' }

async function run(group: WycheproofGroup, test: WycheproofTest): Promise<Outcome> {
  const jwk = { ...(group.public ?? group.private!) }
  // the key is bound to the algorithm it declares, else to the token's (as a configuration would bind it)
  const alg = (jwk.alg ?? headerAlg(test.jws) ?? 'RS256') as JwtAlgorithm
  let authenticator: ReturnType<typeof jwtAuthenticator>
  try {
    authenticator = jwtAuthenticator({
      issuer: 'https://wycheproof.example/',
      audience: 'wycheproof',
      algorithms: [alg],
      keys: [{ ...(jwk.kid === undefined ? {} : { kid: jwk.kid }), alg, key: jwk }],
      typ: false,
      cache: false,
    })
  } catch (error) {
    if (ConfigError.isInstance(error)) return { stage: 'config' }
    throw error
  }
  try {
    await authenticator.authenticate({ scheme: 'bearer', value: test.jws }, {})
    return { stage: 'accepted' }
  } catch (error) {
    if (!AuthenticationError.isInstance(error)) throw error
    return { stage: AFTER_SIGNATURE.has(error.reason) ? 'claims' : 'signature', reason: error.reason }
  }
}

const cases = suite.testGroups.flatMap((group) => group.tests.map((test) => [group, test] as const))

// valid vectors that the stricter JWT rules refuse, each with its reason and the rejection expected
// tcIds whose token is byte-for-byte a token the same group marks valid: a defect of the vector file, since one
// string cannot be both; they are checked as valid
const validTokens = new Map<string, number>()
for (const group of suite.testGroups) {
  for (const test of group.tests) if (test.result === 'valid') validTokens.set(`${group.comment}|${test.jws}`, test.tcId)
}
const duplicateOfValid = (group: WycheproofGroup, test: WycheproofTest): number | undefined =>
  test.result === 'invalid' ? validTokens.get(`${group.comment}|${test.jws}`) : undefined

function refusal(group: WycheproofGroup, test: WycheproofTest): { why: string; expected: 'config' | string } | undefined {
  if (test.result !== 'valid') return undefined
  const jwk = group.public ?? group.private!
  // RFC 7520 figure 27 keys declare `alg: ES521`, which is not a JWS algorithm (ES512 is)
  if (jwk.alg === 'ES521') return { why: 'JWK alg ES521 is not a JWS algorithm', expected: 'config' }
  if (jwk.alg !== undefined && jwk.alg !== headerAlg(test.jws)) {
    return { why: 'a key is bound to the one algorithm it declares (RFC 8725 §3.1)', expected: 'alg_not_allowed' }
  }
  if (test.jws.split('.')[1] === '') return { why: 'a JWT payload is a JSON object, never empty', expected: 'malformed_token' }
  if (!/^[\w.-]*$/.test(test.jws)) return { why: 'a compact JWS is base64url only', expected: 'malformed_token' }
  return undefined
}

describe('Wycheproof json_web_signature_test.json', () => {
  it('has the expected number of vectors, and only the two known duplicates of valid tokens', () => {
    expect(cases.length).toBeGreaterThan(350)
    const duplicates = cases.filter(([group, test]) => duplicateOfValid(group, test) !== undefined)
    expect(duplicates.map(([, test]) => test.tcId)).toEqual([367, 370])
  })

  it.each(cases.map(([group, test]) => [test.tcId, test.comment, test.result, group, test] as const))(
    'tcId %i %s (%s)',
    async (_tcId, _comment, result, group, test) => {
      const outcome = await run(group, test)
      // no vector is a valid JWT access token, so nothing is ever accepted
      expect(outcome.stage).not.toBe('accepted')
      const refused = refusal(group, test)
      if (refused?.expected === 'config') {
        expect(outcome.stage, refused.why).toBe('config')
      } else if (refused !== undefined) {
        expect(outcome, refused.why).toEqual({ stage: 'signature', reason: refused.expected })
      } else if (result === 'valid' || duplicateOfValid(group, test) !== undefined) {
        // a valid signature must get past the signature stage and fail only on the (non-JWT) payload
        expect(outcome).toMatchObject({ stage: 'claims' })
      } else {
        // an invalid vector never reaches the claims: refused at configuration or at the signature stage
        expect(outcome.stage).not.toBe('claims')
      }
    },
  )
})
