// the data-driven JWT attack corpus (RESEARCH.md "JWT attack catalog"): every case must be an AuthenticationError

import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import type { JSONWebKeySet } from 'jose'
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest'
import { jwtAuthenticator } from '../../src/auth/jwt.js'
import { memoryRevocationList } from '../../src/auth/revocation.js'
import { AuthenticationError } from '../../src/errors.js'
import type { Authenticator } from '../../src/spec/auth.js'
import {
  AUDIENCE,
  claims,
  clock,
  compact,
  ec,
  hmacSigner,
  ISSUER,
  NOW_SECONDS,
  publicJwk,
  rsa,
  rsaOther,
  rsaSigner,
  rsaWeak,
  signers,
  staticKeys,
  token,
} from './_jwt-fixtures.js'

type Target = 'rs' | 'es' | 'hs' | 'jwks' | 'remote' | 'revoking'

interface AttackCase {
  readonly name: string
  readonly target: Target
  readonly token: () => string
  /** Any of these reasons is a correct rejection. */
  readonly reasons: readonly string[]
}

const revocations = memoryRevocationList([
  { kind: 'jti', value: 'revoked-jti' },
  { kind: 'session', value: 'revoked-sid' },
  { kind: 'subject', value: 'mallory', issuer: ISSUER },
])

const JWKS_URL = 'https://idp.example.com/.well-known/jwks.json'
const remoteKeySet: JSONWebKeySet = {
  keys: [
    publicJwk(rsa.publicKey, { kid: 'rs256-1', alg: 'RS256', use: 'sig' }),
    publicJwk(rsaOther.publicKey, { kid: 'rs384-only', alg: 'RS384' }),
    publicJwk(rsaOther.publicKey, { kid: 'for-encryption', use: 'enc' }),
    publicJwk(rsaWeak.publicKey, { kid: 'weak', alg: 'RS256' }),
  ],
}
const localKeySet: JSONWebKeySet = { keys: remoteKeySet.keys.filter((key) => key.kid !== 'weak') }

function authenticators(): Record<Target, Authenticator> {
  const common = { issuer: ISSUER, audience: AUDIENCE, clock, cache: false as const }
  return {
    rs: jwtAuthenticator({ ...common, algorithms: ['RS256'], keys: [staticKeys.RS256] }),
    es: jwtAuthenticator({ ...common, algorithms: ['ES256'], keys: [staticKeys.ES256] }),
    hs: jwtAuthenticator({ ...common, algorithms: ['HS256'], keys: [staticKeys.HS256] }),
    jwks: jwtAuthenticator({ ...common, algorithms: ['RS256'], jwks: localKeySet }),
    remote: jwtAuthenticator({ ...common, algorithms: ['RS256'], jwksUrl: JWKS_URL }),
    revoking: jwtAuthenticator({ ...common, algorithms: ['RS256'], keys: [staticKeys.RS256], revocations }),
  }
}

const good = (overrides: Record<string, unknown> = {}) => token({ claims: overrides })
const header = (extra: Record<string, unknown> = {}) => ({ alg: 'RS256', typ: 'at+jwt', kid: 'rs256-1', ...extra })
const replaceSegment = (value: string, index: number, segment: string) => {
  const parts = value.split('.')
  parts[index] = segment
  return parts.join('.')
}
const flipCharacter = (text: string, index: number) =>
  text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1)
const b64 = (text: string) => Buffer.from(text).toString('base64url')

const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const rsaPublicDer = new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' }))
const rsaModulus = Buffer.from(publicJwk(rsa.publicKey).n!, 'base64url')
const ecPublicPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
const attackerJwk = publicJwk(attacker.publicKey)
const signAsAttacker = rsaSigner(attacker.privateKey)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** A token whose header or payload segment sets the unused low bits of its last character, signed over that text. */
function nonCanonical(segment: 0 | 1): string {
  for (let pad = 0; ; pad++) {
    const parts = [b64(JSON.stringify(header({ pad: 'h'.repeat(segment === 0 ? pad : 0) }))), b64(JSON.stringify(claims({ pad: 'p'.repeat(pad) })))]
    const target = parts[segment]!
    if (target.length % 4 !== 2) continue
    const last = ALPHABET.indexOf(target.at(-1)!)
    parts[segment] = target.slice(0, -1) + ALPHABET[last | 1]
    const input = parts.join('.')
    return `${input}.${Buffer.from(signers.RS256(input)).toString('base64url')}`
  }
}

const NONE_CASINGS = ['none', 'None', 'NONE', 'nOnE', 'NoNe', 'nONE']
const COMMON_SECRETS = ['', 'secret', 'password', 'your-256-bit-secret', '123456', 'changeme', 'jwt', 'key', 'test']

const corpus: AttackCase[] = [
  // alg:none in every casing, with and without a signature
  ...NONE_CASINGS.flatMap((alg): AttackCase[] => [
    { name: `alg ${alg}, empty signature`, target: 'rs', token: () => compact(header({ alg }), claims()), reasons: ['alg_not_allowed'] },
    { name: `alg ${alg}, with a signature`, target: 'rs', token: () => compact(header({ alg }), claims(), signers.RS256), reasons: ['alg_not_allowed'] },
    { name: `alg ${alg} against HMAC`, target: 'hs', token: () => compact(header({ alg }), claims()), reasons: ['alg_not_allowed'] },
  ]),
  // stripped and altered signatures
  { name: 'stripped signature', target: 'rs', token: () => replaceSegment(good(), 2, ''), reasons: ['bad_signature', 'malformed_token'] },
  { name: 'stripped signature and separator', target: 'rs', token: () => good().split('.').slice(0, 2).join('.'), reasons: ['malformed_token'] },
  { name: 'flipped bit in the signature', target: 'rs', token: () => { const t = good(); return replaceSegment(t, 2, flipCharacter(t.split('.')[2]!, 10)) }, reasons: ['bad_signature'] },
  { name: 'altered payload, original signature', target: 'rs', token: () => replaceSegment(good(), 1, b64(JSON.stringify(claims({ sub: 'admin' })))), reasons: ['bad_signature'] },
  { name: 'altered header, original signature', target: 'rs', token: () => replaceSegment(good(), 0, b64(JSON.stringify(header({ typ: 'AT+JWT' })))), reasons: ['bad_signature'] },
  { name: 'signature of another token', target: 'rs', token: () => replaceSegment(good(), 2, good({ jti: 'other' }).split('.')[2]!), reasons: ['bad_signature'] },
  { name: 'signed by another RSA key under our kid', target: 'rs', token: () => compact(header(), claims(), signAsAttacker), reasons: ['bad_signature'] },
  { name: 'ES signature flipped', target: 'es', token: () => { const t = token({ alg: 'ES256' }); return replaceSegment(t, 2, flipCharacter(t.split('.')[2]!, 5)) }, reasons: ['bad_signature'] },
  // HS/RS and HS/ES key confusion
  { name: 'HS256 keyed with the RSA public key (PEM)', target: 'rs', token: () => compact(header({ alg: 'HS256' }), claims(), hmacSigner(rsaPublicPem)), reasons: ['alg_not_allowed'] },
  { name: 'HS256 keyed with the RSA public key (DER)', target: 'rs', token: () => compact(header({ alg: 'HS256' }), claims(), hmacSigner(rsaPublicDer)), reasons: ['alg_not_allowed'] },
  { name: 'HS256 keyed with the RSA modulus', target: 'rs', token: () => compact(header({ alg: 'HS256' }), claims(), hmacSigner(rsaModulus)), reasons: ['alg_not_allowed'] },
  { name: 'HS256 keyed with the RSA public key, against a key set', target: 'jwks', token: () => compact(header({ alg: 'HS256' }), claims(), hmacSigner(rsaPublicPem)), reasons: ['alg_not_allowed'] },
  { name: 'HS256 keyed with the EC public key (PEM)', target: 'es', token: () => compact({ alg: 'HS256', typ: 'at+jwt', kid: 'es256-1' }, claims(), hmacSigner(ecPublicPem)), reasons: ['alg_not_allowed'] },
  { name: 'HS256 keyed with the RSA public key, against HMAC', target: 'hs', token: () => compact({ alg: 'HS256', typ: 'at+jwt', kid: 'hs256-1' }, claims(), hmacSigner(rsaPublicPem)), reasons: ['bad_signature'] },
  { name: 'PS256 header on an RS256 signature', target: 'rs', token: () => compact(header({ alg: 'PS256' }), claims(), signers.RS256), reasons: ['alg_not_allowed'] },
  { name: 'HS512 header against an HS256 allow-list', target: 'hs', token: () => compact({ alg: 'HS512', typ: 'at+jwt' }, claims(), hmacSigner('x')), reasons: ['alg_not_allowed'] },
  // empty and common HMAC secrets
  ...COMMON_SECRETS.map((secret): AttackCase => ({
    name: `HMAC secret ${JSON.stringify(secret)}`,
    target: 'hs',
    token: () => compact({ alg: 'HS256', typ: 'at+jwt', kid: 'hs256-1' }, claims(), hmacSigner(secret)),
    reasons: ['bad_signature'],
  })),
  { name: 'HMAC without kid, common secret', target: 'hs', token: () => compact({ alg: 'HS256', typ: 'at+jwt' }, claims(), hmacSigner('secret')), reasons: ['bad_signature'] },
  // embedded jwk (CVE-2018-0114), jku, x5u, x5c
  { name: 'embedded attacker jwk', target: 'rs', token: () => compact(header({ jwk: attackerJwk }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'embedded attacker jwk, no kid', target: 'jwks', token: () => compact({ alg: 'RS256', typ: 'at+jwt', jwk: attackerJwk }, claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'jku to an attacker key set', target: 'rs', token: () => compact(header({ jku: 'https://attacker.example/jwks.json', kid: 'attacker' }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'jku to an attacker key set, remote JWKS configured', target: 'remote', token: () => compact(header({ jku: 'https://attacker.example/jwks.json' }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'jku to the real key set host', target: 'jwks', token: () => compact(header({ jku: JWKS_URL }), claims(), signers.RS256), reasons: ['untrusted_key_reference'] },
  { name: 'x5u to an attacker certificate', target: 'rs', token: () => compact(header({ x5u: 'https://attacker.example/cert.pem' }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'x5u, remote JWKS configured', target: 'remote', token: () => compact(header({ x5u: 'https://attacker.example/cert.pem' }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  { name: 'x5c with an attacker certificate chain', target: 'jwks', token: () => compact(header({ x5c: ['MIIBattacker'] }), claims(), signAsAttacker), reasons: ['untrusted_key_reference'] },
  // kid tricks: path traversal, injection, unknown kid without fallback
  ...['../../../../../../dev/null', '/etc/passwd', "' UNION SELECT 'secret' --", 'rs256-1\u0000', 'rs256-1 ', 'RS256-1', '*'].map(
    (kid): AttackCase => ({ name: `kid ${JSON.stringify(kid)}`, target: 'rs', token: () => compact(header({ kid }), claims(), hmacSigner('')), reasons: ['unknown_key'] }),
  ),
  { name: 'kid path traversal, HMAC with an empty key', target: 'hs', token: () => compact({ alg: 'HS256', typ: 'at+jwt', kid: '../../dev/null' }, claims(), hmacSigner('')), reasons: ['unknown_key'] },
  { name: 'unknown kid, real signature', target: 'rs', token: () => compact(header({ kid: 'rs256-2' }), claims(), signers.RS256), reasons: ['unknown_key'] },
  { name: 'unknown kid against a key set', target: 'jwks', token: () => compact(header({ kid: 'rs256-2' }), claims(), signers.RS256), reasons: ['unknown_key'] },
  { name: 'kid too long', target: 'rs', token: () => compact(header({ kid: 'k'.repeat(1000) }), claims(), signers.RS256), reasons: ['invalid_kid'] },
  { name: 'kid a number', target: 'rs', token: () => compact(header({ kid: 42 }), claims(), signers.RS256), reasons: ['invalid_kid'] },
  { name: 'kid an array', target: 'jwks', token: () => compact(header({ kid: ['rs256-1'] }), claims(), signers.RS256), reasons: ['invalid_kid'] },
  { name: 'kid empty', target: 'rs', token: () => compact(header({ kid: '' }), claims(), signers.RS256), reasons: ['invalid_kid'] },
  // ECDSA r = s = 0 (CVE-2022-21449, "psychic signatures") and malformed ECDSA signatures
  { name: 'ECDSA r=s=0', target: 'es', token: () => compact({ alg: 'ES256', typ: 'at+jwt', kid: 'es256-1' }, claims(), undefined, Buffer.alloc(64).toString('base64url')), reasons: ['bad_signature'] },
  { name: 'ECDSA r=s=0, DER encoded', target: 'es', token: () => compact({ alg: 'ES256', typ: 'at+jwt', kid: 'es256-1' }, claims(), undefined, Buffer.from('3006020100020100', 'hex').toString('base64url')), reasons: ['bad_signature'] },
  { name: 'ECDSA signature of one byte', target: 'es', token: () => compact({ alg: 'ES256', typ: 'at+jwt', kid: 'es256-1' }, claims(), undefined, 'AA'), reasons: ['bad_signature'] },
  // every time-claim case
  { name: 'expired', target: 'rs', token: () => good({ exp: NOW_SECONDS - 3600 }), reasons: ['token_expired'] },
  { name: 'expired just beyond the tolerance', target: 'rs', token: () => good({ exp: NOW_SECONDS - 31 }), reasons: ['token_expired'] },
  { name: 'not yet valid (nbf)', target: 'rs', token: () => good({ nbf: NOW_SECONDS + 120 }), reasons: ['token_not_yet_valid'] },
  { name: 'issued in the future (iat)', target: 'rs', token: () => good({ iat: NOW_SECONDS + 120 }), reasons: ['token_issued_in_future'] },
  { name: 'too old (iat beyond the maximum age)', target: 'rs', token: () => good({ iat: NOW_SECONDS - 2 * 86_400 }), reasons: ['token_too_old'] },
  { name: 'no exp', target: 'rs', token: () => good({ exp: undefined }), reasons: ['missing_claim'] },
  { name: 'no iat', target: 'rs', token: () => good({ iat: undefined }), reasons: ['missing_claim'] },
  { name: 'exp as a string', target: 'rs', token: () => good({ exp: String(NOW_SECONDS + 600) }), reasons: ['invalid_claim'] },
  { name: 'iat as a string', target: 'rs', token: () => good({ iat: String(NOW_SECONDS - 60) }), reasons: ['invalid_claim'] },
  { name: 'nbf as a string', target: 'rs', token: () => good({ nbf: String(NOW_SECONDS - 60) }), reasons: ['invalid_claim'] },
  { name: 'exp null', target: 'rs', token: () => good({ exp: null }), reasons: ['invalid_claim'] },
  { name: 'exp an array', target: 'rs', token: () => good({ exp: [NOW_SECONDS + 600] }), reasons: ['invalid_claim'] },
  { name: 'exp infinite (1e309)', target: 'rs', token: () => compact(header(), JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e309'), signers.RS256), reasons: ['invalid_claim'] },
  { name: 'exp in milliseconds, iat in seconds', target: 'rs', token: () => good({ iat: NOW_SECONDS * 1000 }), reasons: ['token_issued_in_future'] },
  // issuer, audience, subject and typ confusions
  { name: 'wrong iss', target: 'rs', token: () => good({ iss: 'https://evil.example/' }), reasons: ['issuer_mismatch'] },
  { name: 'missing iss', target: 'rs', token: () => good({ iss: undefined }), reasons: ['missing_claim'] },
  { name: 'case-changed iss', target: 'rs', token: () => good({ iss: ISSUER.toUpperCase() }), reasons: ['issuer_mismatch'] },
  { name: 'iss without its trailing slash', target: 'rs', token: () => good({ iss: ISSUER.slice(0, -1) }), reasons: ['issuer_mismatch'] },
  { name: 'iss with a suffix', target: 'rs', token: () => good({ iss: `${ISSUER}evil` }), reasons: ['issuer_mismatch'] },
  { name: 'iss as an array', target: 'rs', token: () => good({ iss: [ISSUER] }), reasons: ['issuer_mismatch', 'invalid_claim'] },
  { name: 'wrong aud', target: 'rs', token: () => good({ aud: 'https://other-service.example' }), reasons: ['audience_mismatch'] },
  { name: 'missing aud', target: 'rs', token: () => good({ aud: undefined }), reasons: ['missing_claim'] },
  { name: 'case-changed aud', target: 'rs', token: () => good({ aud: AUDIENCE.toUpperCase() }), reasons: ['audience_mismatch'] },
  { name: 'aud list without us', target: 'rs', token: () => good({ aud: ['https://a.example', 'https://b.example'] }), reasons: ['audience_mismatch'] },
  { name: 'missing sub', target: 'rs', token: () => good({ sub: undefined }), reasons: ['missing_claim'] },
  { name: 'ID token (typ JWT) as an access token', target: 'rs', token: () => compact(header({ typ: 'JWT' }), claims({ nonce: 'n-1' }), signers.RS256), reasons: ['typ_mismatch'] },
  { name: 'no typ', target: 'rs', token: () => compact({ alg: 'RS256', kid: 'rs256-1' }, claims(), signers.RS256), reasons: ['typ_mismatch'] },
  { name: 'typ of a logout token', target: 'rs', token: () => compact(header({ typ: 'logout+jwt' }), claims(), signers.RS256), reasons: ['typ_mismatch'] },
  { name: 'typ of a DPoP proof', target: 'jwks', token: () => compact(header({ typ: 'dpop+jwt' }), claims(), signers.RS256), reasons: ['typ_mismatch'] },
  // crit
  { name: 'unknown crit extension', target: 'rs', token: () => compact(header({ crit: ['x-unknown'], 'x-unknown': true }), claims(), signers.RS256), reasons: ['unsupported_header'] },
  { name: 'crit naming a registered claim', target: 'rs', token: () => compact(header({ crit: ['exp'], exp: 1 }), claims(), signers.RS256), reasons: ['unsupported_header'] },
  { name: 'crit empty', target: 'rs', token: () => compact(header({ crit: [] }), claims(), signers.RS256), reasons: ['malformed_token'] },
  { name: 'crit not an array', target: 'rs', token: () => compact(header({ crit: 'b64' }), claims(), signers.RS256), reasons: ['malformed_token'] },
  { name: 'crit b64=false (unencoded payload)', target: 'rs', token: () => compact(header({ crit: ['b64'], b64: false }), claims(), signers.RS256), reasons: ['bad_signature', 'invalid_claims', 'malformed_token'] },
  // malformed segments
  ...['', 'a', 'a.b', 'a.b.c.d', '..', '...', '!!!.x.y', `${b64('not json')}.${b64('{}')}.AA`, `${b64('[]')}.${b64('{}')}.AA`, `${b64('null')}.${b64('{}')}.AA`, `${b64('{"alg":"RS256"')}.${b64('{}')}.AA`].map(
    (value): AttackCase => ({ name: `malformed ${JSON.stringify(value.slice(0, 40))}`, target: 'rs', token: () => value, reasons: ['malformed_token'] }),
  ),
  { name: 'leading whitespace', target: 'rs', token: () => ` ${good()}`, reasons: ['malformed_token'] },
  { name: 'a line break inside', target: 'rs', token: () => { const t = good(); return `${t.slice(0, 20)}\n${t.slice(20)}` }, reasons: ['malformed_token'] },
  { name: 'non-ASCII in the signature', target: 'rs', token: () => `${good()}é`, reasons: ['malformed_token', 'bad_signature'] },
  { name: 'a token of 20 000 characters', target: 'rs', token: () => compact(header(), claims({ pad: 'x'.repeat(20_000) }), signers.RS256), reasons: ['malformed_token'] },
  { name: 'signed payload that is not JSON', target: 'rs', token: () => compact(header(), 'not json', signers.RS256), reasons: ['invalid_claims'] },
  { name: 'signed payload that is a JSON array', target: 'rs', token: () => compact(header(), '[1,2]', signers.RS256), reasons: ['invalid_claims'] },
  { name: 'non-canonical base64url payload, signed as sent', target: 'rs', token: () => nonCanonical(1), reasons: ['malformed_token'] },
  { name: 'non-canonical base64url header, signed as sent', target: 'rs', token: () => nonCanonical(0), reasons: ['malformed_token'] },
  { name: 'JWS JSON serialization', target: 'rs', token: () => JSON.stringify({ protected: good().split('.')[0], payload: good().split('.')[1], signature: good().split('.')[2] }), reasons: ['malformed_token'] },
  // weak RSA served by a key set, JWK alg/use mismatch
  { name: '1024-bit RSA key served by the remote key set', target: 'remote', token: () => compact(header({ kid: 'weak' }), claims(), rsaSigner(rsaWeak.privateKey)), reasons: ['weak_key'] },
  { name: 'JWK alg RS384 used for an RS256 token (remote)', target: 'remote', token: () => compact(header({ kid: 'rs384-only' }), claims(), rsaSigner(rsaOther.privateKey)), reasons: ['unknown_key'] },
  { name: 'JWK alg RS384 used for an RS256 token (local)', target: 'jwks', token: () => compact(header({ kid: 'rs384-only' }), claims(), rsaSigner(rsaOther.privateKey)), reasons: ['unknown_key'] },
  { name: 'JWK with use enc used to verify', target: 'jwks', token: () => compact(header({ kid: 'for-encryption' }), claims(), rsaSigner(rsaOther.privateKey)), reasons: ['unknown_key'] },
  { name: 'JWK with use enc used to verify (remote)', target: 'remote', token: () => compact(header({ kid: 'for-encryption' }), claims(), rsaSigner(rsaOther.privateKey)), reasons: ['unknown_key'] },
  // revoked jti, session, subject
  { name: 'revoked jti', target: 'revoking', token: () => good({ jti: 'revoked-jti' }), reasons: ['revoked'] },
  { name: 'revoked idp session', target: 'revoking', token: () => good({ sid: 'revoked-sid' }), reasons: ['revoked'] },
  { name: 'revoked subject', target: 'revoking', token: () => good({ sub: 'mallory' }), reasons: ['revoked'] },
]

let fetchSpy: MockInstance<typeof fetch>
let targets: Record<Target, Authenticator>

beforeEach(() => {
  fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    if (String(input) !== JWKS_URL) throw new Error(`unexpected request to ${String(input)}`)
    return new Response(JSON.stringify(remoteKeySet), { status: 200, headers: { 'content-type': 'application/json' } })
  })
  targets = authenticators()
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('JWT attack corpus', () => {
  it('covers every attack class of the catalog', () => {
    expect(corpus.length).toBeGreaterThan(100)
    expect(new Set(corpus.map((entry) => entry.name)).size).toBe(corpus.length)
  })

  it.each(corpus.map((entry) => [entry.name, entry] as const))('rejects: %s', async (_name, entry) => {
    const value = entry.token()
    const error = await targets[entry.target].authenticate({ scheme: 'bearer', value }, {}).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(AuthenticationError.isInstance(error), `accepted or threw ${String(error)}`).toBe(true)
    expect(entry.reasons).toContain((error as AuthenticationError).reason)
    // no request ever goes anywhere but the configured key set URL
    for (const call of fetchSpy.mock.calls) expect(String(call[0])).toBe(JWKS_URL)
    if (entry.target !== 'remote') expect(fetchSpy).not.toHaveBeenCalled()
  })

  it('makes no request for jku or x5u even when the remote key set is configured', async () => {
    for (const name of ['jku', 'x5u']) {
      const value = compact(header({ [name]: 'https://attacker.example/keys' }), claims(), signAsAttacker)
      await expect(targets.remote.authenticate({ scheme: 'bearer', value }, {})).rejects.toSatisfy(AuthenticationError.isInstance)
    }
    expect(fetchSpy).not.toHaveBeenCalled()
  })

  it('fetches only the configured key set for a good token, once, then serves it from jose\'s cache', async () => {
    await expect(targets.remote.authenticate({ scheme: 'bearer', value: good() }, {})).resolves.toMatchObject({ id: 'alice' })
    await expect(targets.remote.authenticate({ scheme: 'bearer', value: good({ jti: 'second' }) }, {})).resolves.toBeDefined()
    expect(fetchSpy).toHaveBeenCalledTimes(1)
    expect(String(fetchSpy.mock.calls[0]![0])).toBe(JWKS_URL)
  })

  it('denies with jwks_unavailable when the key set cannot be fetched', async () => {
    fetchSpy.mockImplementation(async () => new Response('oops', { status: 503 }))
    const error = await targets.remote.authenticate({ scheme: 'bearer', value: good() }, {}).catch((caught: unknown) => caught)
    expect((error as AuthenticationError).reason).toBe('jwks_unavailable')
  })

  it('accepts the good token on every target (so the rejections above are not vacuous)', async () => {
    for (const target of ['rs', 'jwks', 'remote', 'revoking'] as const) {
      await expect(targets[target].authenticate({ scheme: 'bearer', value: good() }, {}), target).resolves.toMatchObject({ id: 'alice' })
    }
    await expect(targets.es.authenticate({ scheme: 'bearer', value: token({ alg: 'ES256' }) }, {})).resolves.toBeDefined()
    await expect(targets.hs.authenticate({ scheme: 'bearer', value: token({ alg: 'HS256' }) }, {})).resolves.toBeDefined()
  })
})

it('refuses a key set public key given as a KeyObject under HMAC (HS/RS confusion at configuration)', () => {
  expect(() =>
    jwtAuthenticator({
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
      keys: [{ alg: 'HS256', key: createPublicKey(rsaPublicPem) }],
    }),
  ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
})
