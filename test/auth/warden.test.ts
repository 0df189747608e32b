// revocations and CAEP signals through createWarden: each takes effect on the next call of an open session

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { apiKeyAuthenticator, generateApiKey, memoryApiKeyStore } from '../../src/auth/api-key.js'
import { jwtAuthenticator } from '../../src/auth/jwt.js'
import { memoryRevocationList, revocationCheck } from '../../src/auth/revocation.js'
import { jwtSvidAuthenticator, serviceIdentityAuthenticator } from '../../src/auth/service-identity.js'
import { createSignalHub } from '../../src/auth/signals.js'
import { createWarden } from '../../src/core/index.js'
import { AuthenticationError } from '../../src/errors.js'
import type { Authenticator, RequestContext } from '../../src/spec/auth.js'
import { AUDIENCE, claims, compact, ISSUER, NOW, NOW_SECONDS, signers, staticKeys, token } from './_jwt-fixtures.js'
import { allowAll, reasonOf } from './_helpers.js'


async function setup(extra: { authenticators?: Authenticator[] } = {}) {
  let now = NOW
  const clock = () => now
  const revocations = memoryRevocationList()
  const signals = createSignalHub({ revocations, clock })
  const sink = memoryAuditSink()
  const store = memoryApiKeyStore()
  const key = await generateApiKey({ clientId: 'indexer', tenant: 'acme', now: NOW })
  store.add(key.record, NOW)
  const warden = createWarden({
    adapter: memoryAdapter(),
    authenticators: [
      ...(extra.authenticators ?? []),
      apiKeyAuthenticator({ keys: store }),
      jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], keys: [staticKeys.RS256], clock, revocations }),
      serviceIdentityAuthenticator({ allow: [{ id: 'spiffe://example.org/ns/prod/sa/indexer', tenant: 'acme' }] }),
    ],
    policy: allowAll,
    audit: sink,
    checks: [revocationCheck(revocations), signals.check],
    now: clock,
  })
  const admin = await warden.session(`ApiKey ${key.apiKey}`)
  await admin.createCollection('docs', { dimension: 3 })
  const open = (credential: Parameters<typeof warden.session>[0], context: RequestContext = {}) => warden.session(credential, context)
  const call = (session: Awaited<ReturnType<typeof open>>) => session.query('docs', { vector: [1, 0, 0], topK: 1 })
  return { warden, revocations, signals, sink, store, key, open, call, advance: (ms: number) => (now += ms) }
}


const jwt = (claims: Record<string, unknown> = {}) => `Bearer ${token({ claims: { sid: 'idp-sid-1', tenant: 'acme', ...claims } })}`

describe('revocation through the warden', () => {
  it.each([
    ['jti', () => ({ kind: 'jti' as const, value: 'jti-alice-1' })],
    ['subject', () => ({ kind: 'subject' as const, value: 'alice', issuer: ISSUER })],
    ['idp session', () => ({ kind: 'session' as const, value: 'idp-sid-1' })],
    ['tenant', () => ({ kind: 'tenant' as const, value: 'acme' })],
  ])('revoking the %s denies the next call of an open JWT session', async (_name, revocation) => {
    const { revocations, open, call, sink } = await setup()
    const session = await open(jwt())
    await expect(call(session)).resolves.toBeDefined()
    revocations.revoke(revocation())
    expect(await reasonOf(call(session))).toBe('revoked')
    const last = sink.events.at(-1)
    expect(last?.data.outcome).toBe('denied')
    expect(last?.data.error?.reason).toBe('revoked')
  })

  it('revoking the warden session id ends that session only', async () => {
    const { revocations, open, call } = await setup()
    const first = await open(jwt())
    const second = await open(jwt())
    revocations.revoke({ kind: 'warden-session', value: first.id })
    expect(await reasonOf(call(first))).toBe('revoked')
    await expect(call(second)).resolves.toBeDefined()
  })

  it('revoking an API key id denies its open session, and removing the key does too', async () => {
    const { revocations, open, call, key, store } = await setup()
    const session = await open(`ApiKey ${key.apiKey}`)
    await expect(call(session)).resolves.toBeDefined()
    revocations.revoke({ kind: 'api-key', value: key.record.keyId })
    expect(await reasonOf(call(session))).toBe('revoked')
    revocations.restore('api-key', key.record.keyId)
    await expect(call(session)).resolves.toBeDefined()
    store.remove(key.record.keyId)
    expect(await reasonOf(call(session))).toBe('key_removed')
  })

  it('a revoked token cannot open a new session', async () => {
    const { revocations, open } = await setup()
    revocations.revoke({ kind: 'jti', value: 'jti-alice-1' })
    expect(await reasonOf(open(jwt()))).toBe('revoked')
  })

  it('a token that expires mid-session denies the next call', async () => {
    const { open, call, advance } = await setup()
    const session = await open(jwt({ exp: NOW_SECONDS + 60 }))
    await expect(call(session)).resolves.toBeDefined()
    advance(61_000)
    await expect(call(session)).rejects.toSatisfy(AuthenticationError.isInstance)
  })
})

describe('CAEP signals through the warden', () => {
  it('session-revoked by idp session id denies the next call', async () => {
    const { signals, open, call } = await setup()
    const session = await open(jwt())
    await expect(call(session)).resolves.toBeDefined()
    await signals.apply({ type: 'session-revoked', subject: { sessionId: 'idp-sid-1' } })
    expect(await reasonOf(call(session))).toBe('revoked')
  })

  it('credential-change for the subject denies sessions of tokens issued before it; a fresh token works', async () => {
    const { signals, open, call } = await setup()
    const session = await open(jwt())
    await signals.apply({ type: 'credential-change', changeType: 'update', credentialType: 'password', subject: { subject: 'alice', issuer: ISSUER } })
    expect(await reasonOf(call(session))).toBe('revoked')
    const fresh = await open(jwt({ iat: NOW_SECONDS + 1, jti: 'jti-alice-2' }))
    await expect(call(fresh)).resolves.toBeDefined()
  })

  it('token-claims-change, assurance decrease, device non-compliance and high risk each deny the next call', async () => {
    const events = [
      { type: 'token-claims-change', subject: { subject: 'alice' }, claims: { roles: [] } },
      { type: 'assurance-level-change', subject: { subject: 'alice' }, currentLevel: 'aal1', changeDirection: 'decrease' },
      { type: 'device-compliance-change', subject: { subject: 'alice' }, deviceId: 'laptop-1', currentStatus: 'not-compliant' },
      { type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'high' },
    ] as const
    const reasons = ['token_claims_changed', 'assurance_level_decreased', 'device_not_compliant', 'risk_too_high']
    for (const [index, event] of events.entries()) {
      const { signals, open, call } = await setup()
      const session = await open(jwt(), { device: { id: 'laptop-1', managed: true } })
      await expect(call(session)).resolves.toBeDefined()
      await signals.apply(event)
      expect(await reasonOf(call(session)), event.type).toBe(reasons[index])
    }
  })

  it('a risk that falls back to low lets the same session through again', async () => {
    const { signals, open, call } = await setup()
    const session = await open(jwt())
    await signals.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'high' })
    expect(await reasonOf(call(session))).toBe('risk_too_high')
    await signals.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'low' })
    await expect(call(session)).resolves.toBeDefined()
  })

  it('signals about one subject leave other subjects alone', async () => {
    const { signals, open, call } = await setup()
    const bob = await open(jwt({ sub: 'bob', jti: 'jti-bob', sid: 'idp-sid-bob' }))
    await signals.apply({ type: 'session-revoked', subject: { subject: 'alice', issuer: ISSUER } })
    await signals.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'high' })
    await expect(call(bob)).resolves.toBeDefined()
  })

  it('a workload session ends when the call comes from another peer', async () => {
    const { open, warden } = await setup()
    const context = { peer: { spiffeId: 'spiffe://example.org/ns/prod/sa/indexer' } }
    const session = await open({ peer: true }, context)
    expect(session.principal).toMatchObject({ kind: 'service', authenticator: 'mtls' })
    await expect(session.query('docs', { vector: [1, 0, 0], topK: 1, context })).resolves.toBeDefined()
    const elsewhere = { peer: { spiffeId: 'spiffe://example.org/ns/prod/sa/other' } }
    expect(await reasonOf(session.query('docs', { vector: [1, 0, 0], topK: 1, context: elsewhere }))).toBe('peer_changed')
    await warden.close()
  })
})

describe('the authenticator chain and the audit trail', () => {
  it('routes user tokens and JWT-SVIDs of one chain to their own authenticators', async () => {
    const chained = createWarden({
      adapter: memoryAdapter(),
      authenticators: [
        jwtSvidAuthenticator({
          trustDomain: 'example.org',
          audience: 'rag-api',
          algorithms: ['ES256'],
          keys: [staticKeys.ES256],
          clock: () => NOW,
        }),
        jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], keys: [staticKeys.RS256], clock: () => NOW, routeByIssuer: true }),
      ],
      policy: allowAll,
      audit: memoryAuditSink(),
      now: () => NOW,
    })
    const user = await chained.session(jwt())
    expect(user.principal).toMatchObject({ id: 'alice', authenticator: 'jwt' })
    const svid = compact(
      { alg: 'ES256', typ: 'JWT', kid: 'es256-1' },
      claims({ iss: undefined, sub: 'spiffe://example.org/ns/prod/sa/indexer', aud: 'rag-api' }),
      signers.ES256,
    )
    const workload = await chained.session(`Bearer ${svid}`)
    expect(workload.principal).toMatchObject({ id: 'spiffe://example.org/ns/prod/sa/indexer', kind: 'service', authenticator: 'jwt-svid' })
    // a token of an unknown issuer is recognised by neither and refused
    expect(await reasonOf(chained.session(jwt({ iss: 'https://other.example/' })))).toBe('unrecognized_credential')
    await chained.close()
  })

  it('denies a forged JWT instead of passing it to a later, weaker authenticator', async () => {
    let consulted = false
    const permissive: Authenticator = {
      name: 'permissive',
      recognizes: () => true,
      async authenticate() {
        consulted = true
        return { id: 'anyone', kind: 'user', roles: ['admin'], scopes: [], attributes: {}, authenticator: 'permissive' }
      },
    }
    // the JWT authenticator first, the permissive one after it
    const forged = token().slice(0, -6) + 'AAAAAA'
    const chained = createWarden({
      adapter: memoryAdapter(),
      authenticators: [jwtAuthenticator({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], keys: [staticKeys.RS256], clock: () => NOW }), permissive],
      policy: allowAll,
      audit: memoryAuditSink(),
      now: () => NOW,
    })
    expect(await reasonOf(chained.session(`Bearer ${forged}`))).toBe('bad_signature')
    expect(consulted).toBe(false)
    await chained.close()
  })

  it('audits authentication failures with their reason and never with the credential', async () => {
    const { open, sink, key } = await setup()
    const good = token()
    const forged = `${good.slice(0, -6)}AAAAAA`
    const wrongKey = `${key.apiKey.slice(0, -1)}${key.apiKey.endsWith('0') ? '1' : '0'}`
    await open(`Bearer ${forged}`).catch(() => undefined)
    await open(`ApiKey ${wrongKey}`).catch(() => undefined)
    await open(jwt({ exp: NOW_SECONDS - 3600 })).catch(() => undefined)
    const reasons = sink.events.map((event) => event.data.error?.reason).filter(Boolean)
    expect(reasons).toEqual(expect.arrayContaining(['bad_signature', 'bad_checksum', 'token_expired']))
    const everything = JSON.stringify(sink.events)
    for (const secret of [good.split('.')[2]!, forged.split('.')[2]!, key.apiKey, key.apiKey.split('_')[2]!, wrongKey]) {
      expect(everything).not.toContain(secret)
    }
  })
})
