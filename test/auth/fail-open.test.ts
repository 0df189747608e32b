// regressions from a security review of authentication: each case here was a way to be served when the design says
// deny (a credential escaping a revocation, a check nobody awaited, a record field of the wrong type, ...)

import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { type ApiKeyRecord, apiKeyAuthenticator, generateApiKey } from '../../src/auth/api-key.js'
import { memoryRevocationList, revocationCheck } from '../../src/auth/revocation.js'
import { jwtSvidAuthenticator, serviceIdentityAuthenticator } from '../../src/auth/service-identity.js'
import { createSignalHub } from '../../src/auth/signals.js'
import { createWarden } from '../../src/core/index.js'
import { AuthenticationError } from '../../src/errors.js'
import type { Authenticator, ContinuousCheck, Principal, } from '../../src/spec/auth.js'
import { allowAll, reasonOf } from './_helpers.js'
import { claims, compact, NOW, NOW_SECONDS, signers, staticKeys } from './_jwt-fixtures.js'


const WORKLOAD = 'spiffe://example.org/ns/prod/sa/indexer'
// a JWT-SVID may omit iat (and then no maximum age applies either)
const undatedSvid = (overrides: Record<string, unknown> = {}) =>
  compact({ alg: 'ES256', typ: 'JWT', kid: 'es256-1' }, claims({ iss: undefined, jti: undefined, iat: undefined, sub: WORKLOAD, aud: 'rag-api', ...overrides }), signers.ES256)

const svidAuthenticator = (clock: () => number, allow?: Parameters<typeof jwtSvidAuthenticator>[0]['allow']) =>
  jwtSvidAuthenticator({ trustDomain: 'example.org', audience: 'rag-api', algorithms: ['ES256'], keys: [staticKeys.ES256], clock, ...(allow === undefined ? {} : { allow }) })

function wardenWith(authenticators: Authenticator[], checks: ContinuousCheck[], clock: () => number) {
  return createWarden({ adapter: memoryAdapter(), authenticators, policy: allowAll, audit: memoryAuditSink(), checks, now: clock })
}

describe('a credential without an issue time and an "issued before" revocation', () => {
  it('stays revoked in a new session opened after the revocation (revocation list)', async () => {
    let now = NOW
    const clock = () => now
    const revocations = memoryRevocationList()
    const warden = wardenWith([svidAuthenticator(clock)], [revocationCheck(revocations)], clock)
    const stolen = undatedSvid()
    const first = await warden.session(`Bearer ${stolen}`)
    await first.createCollection('docs', { dimension: 3 })
    now += 1000
    revocations.revoke({ kind: 'subject', value: WORKLOAD, issuedBefore: now })
    expect(await reasonOf(first.query('docs', { vector: [1, 0, 0], topK: 1 }))).toBe('revoked')
    now += 1000
    const again = await warden.session(`Bearer ${stolen}`)
    expect(await reasonOf(again.query('docs', { vector: [1, 0, 0], topK: 1 }))).toBe('revoked')
  })

  it('stays revoked in a new session opened after the revocation (signal hub, session-revoked)', async () => {
    let now = NOW
    const clock = () => now
    const signals = createSignalHub({ revocations: memoryRevocationList(), clock })
    const warden = wardenWith([svidAuthenticator(clock)], [signals.check], clock)
    const stolen = undatedSvid()
    const first = await warden.session(`Bearer ${stolen}`)
    await first.createCollection('docs', { dimension: 3 })
    now += 1000
    await signals.apply({ type: 'session-revoked', subject: { subject: WORKLOAD } })
    expect(await reasonOf(first.query('docs', { vector: [1, 0, 0], topK: 1 }))).toBe('revoked')
    now += 1000
    const again = await warden.session(`Bearer ${stolen}`)
    expect(await reasonOf(again.query('docs', { vector: [1, 0, 0], topK: 1 }))).toBe('revoked')
  })

  it('does not stop an mTLS peer whose handshake came after the revocation (it is dated by the handshake)', async () => {
    let now = NOW
    const clock = () => now
    const revocations = memoryRevocationList()
    const warden = wardenWith([serviceIdentityAuthenticator({ allow: [{ id: WORKLOAD }], clock })], [revocationCheck(revocations)], clock)
    const before = await warden.session({ peer: true }, { peer: { spiffeId: WORKLOAD } })
    now += 1000
    revocations.revoke({ kind: 'subject', value: WORKLOAD, issuedBefore: now })
    expect(await reasonOf(before.listCollections())).toBe('revoked')
    now += 1000
    const after = await warden.session({ peer: true }, { peer: { spiffeId: WORKLOAD } })
    expect(after.principal.issuedAt).toBe(now)
    await expect(after.listCollections()).resolves.toEqual([])
  })
})

describe('an mTLS session', () => {
  it('refuses a call whose context drops the peer (peer: undefined)', async () => {
    const warden = wardenWith([serviceIdentityAuthenticator({ allow: [{ id: WORKLOAD }] })], [], () => NOW)
    const session = await warden.session({ peer: true }, { peer: { spiffeId: WORKLOAD } })
    await expect(session.listCollections()).resolves.toEqual([])
    // a host that fills context.peer per request, for a connection without a client certificate
    expect(await reasonOf(session.listCollections({ context: { peer: undefined } }))).toBe('peer_changed')
  })
})

describe('a JWT-SVID principal', () => {
  it('takes its tenant, session and authentication methods from the allow rule, never from the token', async () => {
    const authenticator = svidAuthenticator(() => NOW, [{ idPrefix: 'spiffe://example.org/ns/prod/', roles: ['reader'] }])
    const token = undatedSvid({ tenant: 'victim-corp', amr: ['hwk'], acr: 'high', auth_time: NOW_SECONDS, sid: 'sid-1' })
    const principal: Principal = await authenticator.authenticate({ scheme: 'bearer', value: token }, {})
    expect(principal.id).toBe(WORKLOAD)
    expect(principal.tenant).toBeUndefined()
    expect(principal.amr).toBeUndefined()
    expect(principal.acr).toBeUndefined()
    expect(principal.authTime).toBeUndefined()
    expect(principal.sessionId).toBeUndefined()
    expect(principal.roles).toEqual(['reader'])
    const tenanted = svidAuthenticator(() => NOW, [{ idPrefix: 'spiffe://example.org/ns/prod/', tenant: 'acme' }])
    expect((await tenanted.authenticate({ scheme: 'bearer', value: token }, {})).tenant).toBe('acme')
  })
})

describe('a continuous check that returns a thenable which is not a native promise', () => {
  it('is awaited: its rejection denies the call', async () => {
    const thenableCheck: ContinuousCheck = {
      name: 'remote-revocation',
      check: () =>
        ({
          // another library's promise, or one from another realm
          // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native promise is the case under test
          then(_resolve: () => void, reject: (error: unknown) => void) {
            reject(new AuthenticationError('revoked upstream', { reason: 'revoked' }))
          },
        }) as unknown as Promise<void>,
    }
    const warden = wardenWith([serviceIdentityAuthenticator({ allow: [{ id: WORKLOAD }] })], [thenableCheck], () => NOW)
    const session = await warden.session({ peer: true }, { peer: { spiffeId: WORKLOAD } })
    expect(await reasonOf(session.listCollections())).toBe('revoked')
  })
})

describe('API key records from a store', () => {
  it('deny a key whose record has a time of the wrong type (an ISO string from a database row never expires)', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'indexer', tenant: 'acme' })
    for (const row of [
      { ...record, expiresAt: '2020-01-01T00:00:00.000Z' as unknown as number },
      { ...record, createdAt: '2020-01-01T00:00:00.000Z' as unknown as number },
      { ...record, roles: 'admin' as unknown as string[] },
      { ...record, tenant: 42 as unknown as string },
    ]) {
      const authenticator = apiKeyAuthenticator({ keys: { get: async () => row } })
      expect(await reasonOf(authenticator.authenticate({ scheme: 'api-key', value: apiKey }, {}))).toBe('invalid_key_record')
    }
  })

  it('end an open session when the record under the same key changes what it grants (roles, tenant)', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'indexer', tenant: 'acme', roles: ['admin'], attributes: { team: 'a' } })
    let current: ApiKeyRecord = record
    // a database store: a new object on every read
    const authenticator = apiKeyAuthenticator({ keys: { get: async () => structuredClone(current) } })
    const principal = await authenticator.authenticate({ scheme: 'api-key', value: apiKey }, {})
    // an unchanged copy is the same grant
    await expect(Promise.resolve(authenticator.verify?.(principal, {}, Date.now()))).resolves.toBeUndefined()
    for (const changed of [{ ...record, roles: [] }, { ...record, tenant: 'other' }, { ...record, attributes: { team: 'b' } }, { ...record, kind: 'user' as const }]) {
      current = changed
      expect(await reasonOf(Promise.resolve(authenticator.verify?.(principal, {}, Date.now())))).toBe('key_changed')
    }
  })
})
