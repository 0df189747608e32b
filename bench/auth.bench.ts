// authentication costs: JWT verify (ours vs bare jose, cached and not), API keys, per-call revocation and signal checks

import { createHash, createHmac, generateKeyPairSync, sign } from 'node:crypto'
import { importJWK, type JWK, jwtVerify } from 'jose'
import { apiKeyAuthenticator, generateApiKey } from '../src/auth/api-key.js'
import { jwtAuthenticator } from '../src/auth/jwt.js'
import { memoryRevocationList, revocationCheck } from '../src/auth/revocation.js'
import { createSignalHub } from '../src/auth/signals.js'
import type { SessionInfo } from '../src/spec/auth.js'
import { compare, quick, ratio, report, us } from './harness.js'

const ISSUER = 'https://idp.example.com/'
const AUDIENCE = 'https://rag.example.com'

function makeToken(alg: 'RS256' | 'ES256', privateKey: Parameters<typeof sign>[2]): string {
  const now = Math.floor(Date.now() / 1000)
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${encode({ alg, typ: 'at+jwt', kid: 'k1' })}.${encode({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    iat: now - 10,
    exp: now + 3600,
    jti: 'bench-1',
    scope: 'docs:read docs:write',
    roles: ['reader'],
    tenant: 'acme',
  })}`
  return `${input}.${Buffer.from(sign('sha256', Buffer.from(input), privateKey)).toString('base64url')}`
}

async function jwtFigures(alg: 'RS256' | 'ES256'): Promise<void> {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const privateKey = alg === 'ES256' ? { key: pair.privateKey, dsaEncoding: 'ieee-p1363' as const } : pair.privateKey
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK
  const token = makeToken(alg, privateKey)
  const cryptoKey = await importJWK(jwk, alg)
  const options = {
    algorithms: [alg],
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'at+jwt',
    requiredClaims: ['exp', 'iat', 'sub'],
    clockTolerance: 30,
    maxTokenAge: 86_400,
  }
  const common = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], keys: [{ kid: 'k1', alg, key: jwk }] }
  const uncached = jwtAuthenticator({ ...common, cache: false })
  const cached = jwtAuthenticator(common)
  const credential = { scheme: 'bearer' as const, value: token }
  await uncached.authenticate(credential, {})
  await cached.authenticate(credential, {})

  const side = await compare(
    {
      bare: () => jwtVerify(token, cryptoKey, options),
      ours: () => uncached.authenticate(credential, {}),
    },
    // one call each per round, alternating: at ~100 µs a call, longer batches let machine load drift between them
    { batch: 1, rounds: 1500, warmup: 100 },
  )
  const overhead = side.ours!.medianUs / side.bare!.medianUs
  report({ group: 'auth', label: `${alg} bare jose.jwtVerify (pre-imported key)`, value: us(side.bare!.medianUs) })
  report({ group: 'auth', label: `${alg} jwtAuthenticator, uncached`, value: us(side.ours!.medianUs) })
  report({ group: 'auth', label: `${alg} uncached / bare`, value: ratio(overhead), target: '≤ 1.20×', pass: overhead <= 1.2 })

  const hit = await compare(
    {
      'sha256 of the token': () => createHash('sha256').update(token).digest(),
      cached: () => cached.authenticate(credential, {}),
    },
    { batch: 20, rounds: quick ? 3 : 500 },
  )
  report({ group: 'auth', label: `${alg} reference: bare node SHA-256 of the token`, value: us(hit['sha256 of the token']!.medianUs) })
  report({ group: 'auth', label: `${alg} jwtAuthenticator, cached (same token again)`, value: us(hit.cached!.medianUs), target: '≤ 5 µs', pass: hit.cached!.medianUs <= 5 })
  const principal = await cached.authenticate(credential, {})
  const perCall = await compare({ verify: () => cached.verify!(principal, {}, Date.now()) }, { batch: 200, rounds: quick ? 3 : 200 })
  report({ group: 'auth', label: `${alg} authenticator.verify per call`, value: us(perCall.verify!.medianUs) })
}

async function apiKeyFigures(): Promise<void> {
  const { apiKey, record } = await generateApiKey({ clientId: 'indexer', tenant: 'acme', roles: ['writer'] })
  const authenticator = apiKeyAuthenticator({ keys: [record] })
  const credential = { scheme: 'api-key' as const, value: apiKey }
  const principal = await authenticator.authenticate(credential, {})
  const hmacKey = Buffer.from('vectorwarden/api-key/v1')
  const side = await compare(
    {
      'bare HMAC': () => createHmac('sha256', hmacKey).update(apiKey).digest(),
      authenticate: () => authenticator.authenticate(credential, {}),
      verify: () => authenticator.verify!(principal, {}, Date.now()),
    },
    { batch: 20, rounds: quick ? 3 : 500 },
  )
  report({ group: 'auth', label: 'API key: bare node HMAC-SHA256 of the key', value: us(side['bare HMAC']!.medianUs) })
  report({ group: 'auth', label: 'API key: authenticate (parse, checksum, lookup, HMAC, compare)', value: us(side.authenticate!.medianUs), target: '≤ 12.5 µs, half the 25 µs per-query budget', pass: side.authenticate!.medianUs <= 12.5 })
  report({ group: 'auth', label: 'API key: verify per call', value: us(side.verify!.medianUs), target: '≤ 1 µs', pass: side.verify!.medianUs <= 1 })
}

async function continuousFigures(): Promise<void> {
  const revocations = memoryRevocationList()
  for (let index = 0; index < (quick ? 100 : 10_000); index++) revocations.revoke({ kind: 'jti', value: `revoked-${index}` })
  const hub = createSignalHub({ revocations })
  await hub.apply({ type: 'risk-level-change', subject: { subject: 'bob' }, currentLevel: 'medium' })
  const session: SessionInfo = {
    id: 'w-1',
    principal: {
      id: 'alice',
      kind: 'user',
      roles: [],
      scopes: [],
      attributes: {},
      authenticator: 'jwt',
      issuer: ISSUER,
      credentialId: 'jti-1',
      sessionId: 'sid-1',
      tenant: 'acme',
      issuedAt: Date.now() - 1000,
    },
    openedAt: Date.now(),
    lastActivityAt: Date.now(),
    openedContext: {},
  }
  const check = revocationCheck(revocations)
  const side = await compare(
    {
      revocation: () => check.check(session, {}, Date.now()),
      signals: () => hub.check.check(session, {}, Date.now()),
    },
    { batch: 100, rounds: quick ? 3 : 300 },
  )
  report({ group: 'auth', label: `revocationCheck per call (${quick ? 100 : 10_000} entries)`, value: us(side.revocation!.medianUs), target: '≤ 1 µs', pass: side.revocation!.medianUs <= 1 })
  report({ group: 'auth', label: 'signal hub check per call (revocations + state)', value: us(side.signals!.medianUs), target: '≤ 1.5 µs', pass: side.signals!.medianUs <= 1.5 })
}

export default async function (): Promise<void> {
  await jwtFigures('RS256')
  await jwtFigures('ES256')
  await apiKeyFigures()
  await continuousFigures()
}
