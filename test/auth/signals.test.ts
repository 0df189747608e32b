import { describe, expect, it } from 'vitest'
import { memoryRevocationList } from '../../src/auth/revocation.js'
import { CAEP_EVENT_TYPE_PREFIX, createSignalHub } from '../../src/auth/signals.js'
import type { Principal, RequestContext, SessionInfo } from '../../src/spec/auth.js'

const NOW = 1_800_000_000_000
const ISSUER = 'https://idp.example/'

const alice: Principal = Object.freeze({
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
  issuedAt: NOW - 60_000,
})

const session = (principal: Principal = alice, context: RequestContext = {}): SessionInfo => ({
  id: 'w-1',
  principal,
  openedAt: NOW - 30_000,
  lastActivityAt: NOW - 1000,
  openedContext: context,
})

function reasonOf(run: () => unknown): string | undefined {
  try {
    const result = run()
    if (result instanceof Promise) throw new Error('expected a synchronous check')
    return undefined
  } catch (error) {
    return (error as { reason?: string }).reason
  }
}

function setup() {
  const revocations = memoryRevocationList()
  const hub = createSignalHub({ revocations, clock: () => NOW })
  return { revocations, hub, check: (s = session(), context: RequestContext = {}) => reasonOf(() => hub.check.check(s, context, NOW)) }
}

describe('signal hub', () => {
  it('lets calls through when nothing was signalled', () => {
    expect(setup().check()).toBeUndefined()
  })

  it('session-revoked for the idp session denies the next call', async () => {
    const { hub, check } = setup()
    const outcome = await hub.apply({ type: 'session-revoked', subject: { sessionId: 'sid-1' } })
    expect(outcome.revoked).toEqual([{ kind: 'session', value: 'sid-1' }])
    expect(check()).toBe('revoked')
  })

  it('session-revoked for the warden session denies only that session', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: `${CAEP_EVENT_TYPE_PREFIX}session-revoked`, subject: { wardenSessionId: 'w-1' } })
    expect(check()).toBe('revoked')
    expect(check({ ...session(), id: 'w-2' })).toBeUndefined()
  })

  it('session-revoked for a subject ends credentials issued before it, not later ones', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'session-revoked', subject: { subject: 'alice', issuer: ISSUER }, eventTimestamp: NOW - 1000 })
    expect(check()).toBe('revoked')
    expect(check(session({ ...alice, issuedAt: NOW }))).toBeUndefined()
    expect(check(session({ ...alice, issuer: 'https://other.example/' }))).toBeUndefined()
  })

  it('credential-change revoke ends the named API key; create takes nothing away', async () => {
    const { hub, check } = setup()
    const keyPrincipal: Principal = { ...alice, authenticator: 'api-key', credentialId: 'key-1', issuer: undefined }
    await hub.apply({ type: 'credential-change', changeType: 'create', subject: { apiKeyId: 'key-1' } })
    expect(check(session(keyPrincipal))).toBeUndefined()
    await hub.apply({ type: 'credential-change', changeType: 'revoke', credentialType: 'api-key', subject: { apiKeyId: 'key-1' } })
    expect(check(session(keyPrincipal))).toBe('revoked')
  })

  it('token-claims-change asks older credentials to authenticate again and keeps the claims for policies', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'token-claims-change', subject: { subject: 'alice', issuer: ISSUER }, claims: { role: 'viewer' } })
    expect(check()).toBe('token_claims_changed')
    expect(check(session({ ...alice, issuedAt: NOW + 1 }))).toBeUndefined()
    expect(hub.stateOf(alice)?.claims).toEqual({ role: 'viewer' })
  })

  it('only records claim changes when configured to', async () => {
    const hub = createSignalHub({ revocations: memoryRevocationList(), onClaimsChange: 'record', clock: () => NOW })
    await hub.apply({ type: 'token-claims-change', subject: { subject: 'alice' }, claims: { x: 1 } })
    expect(reasonOf(() => hub.check.check(session(), {}, NOW))).toBeUndefined()
  })

  it('assurance-level-change denies older credentials on a decrease, never on an increase', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'assurance-level-change', subject: { subject: 'alice' }, currentLevel: 'aal2', changeDirection: 'increase' })
    expect(check()).toBeUndefined()
    await hub.apply({ type: 'assurance-level-change', subject: { subject: 'alice' }, currentLevel: 'aal1', changeDirection: 'decrease' })
    expect(check()).toBe('assurance_level_decreased')
    expect(hub.stateOf(alice)?.assuranceLevel).toBe('aal1')
  })

  it('device-compliance-change denies calls from the non-compliant device until it is compliant again', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'device-compliance-change', subject: { subject: 'alice' }, deviceId: 'laptop-1', currentStatus: 'not-compliant' })
    expect(check(session(), { device: { id: 'laptop-1' } })).toBe('device_not_compliant')
    expect(check(session(alice, { device: { id: 'laptop-1' } }))).toBe('device_not_compliant')
    expect(check(session(), { device: { id: 'phone-2' } })).toBeUndefined()
    await hub.apply({ type: 'device-compliance-change', subject: { subject: 'alice' }, deviceId: 'laptop-1', currentStatus: 'compliant' })
    expect(check(session(), { device: { id: 'laptop-1' } })).toBeUndefined()
  })

  it('a subject-wide non-compliance denies every device', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'device-compliance-change', subject: { subject: 'alice' }, currentStatus: 'not-compliant' })
    expect(check(session(), { device: { id: 'anything' } })).toBe('device_not_compliant')
    expect(check()).toBe('device_not_compliant')
  })

  it('risk-level-change denies at high by default and records lower levels', async () => {
    const { hub, check } = setup()
    await hub.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'MEDIUM', riskReason: 'new-country' })
    expect(check()).toBeUndefined()
    expect(hub.stateOf(alice)).toMatchObject({ riskLevel: 'medium', riskReason: 'new-country' })
    await hub.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'high' })
    expect(check()).toBe('risk_too_high')
    await hub.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'low' })
    expect(check()).toBeUndefined()
  })

  it('rejects malformed events with TypeError and changes nothing', async () => {
    const { hub, check } = setup()
    await expect(hub.apply({ type: 'bogus', subject: { subject: 'alice' } } as never)).rejects.toBeInstanceOf(TypeError)
    await expect(hub.apply({ type: 'session-revoked', subject: {} })).rejects.toBeInstanceOf(TypeError)
    await expect(hub.apply({ type: 'risk-level-change', subject: { subject: 'alice' }, currentLevel: 'extreme' } as never)).rejects.toBeInstanceOf(TypeError)
    await expect(hub.apply({ type: 'risk-level-change', subject: { jti: 'x' }, currentLevel: 'high' })).rejects.toBeInstanceOf(TypeError)
    expect(check()).toBeUndefined()
  })
})

describe('event times and credentials of unknown age (regressions from a security review)', () => {
  it('refuses an event time in seconds (as a CAEP SET carries it), which would date the change to 1970', async () => {
    const hub = createSignalHub({ revocations: memoryRevocationList(), clock: () => NOW })
    const seconds = Math.floor(NOW / 1000)
    await expect(hub.apply({ type: 'session-revoked', subject: { subject: 'alice' }, eventTimestamp: seconds })).rejects.toThrow(TypeError)
    await expect(hub.apply({ type: 'token-claims-change', subject: { subject: 'alice' }, claims: { roles: [] }, eventTimestamp: seconds })).rejects.toThrow(TypeError)
    // in ms it applies
    await hub.apply({ type: 'session-revoked', subject: { subject: 'alice' }, eventTimestamp: NOW })
    expect(() => hub.check.check(session(), {}, NOW)).toThrow(expect.objectContaining({ reason: 'revoked' }))
  })

  it('asks a credential without an issue time to authenticate again after a claims change, in any session', async () => {
    const hub = createSignalHub({ revocations: memoryRevocationList(), clock: () => NOW })
    await hub.apply({ type: 'token-claims-change', subject: { subject: 'alice' }, claims: { roles: [] }, eventTimestamp: NOW - 10_000 })
    const undated: SessionInfo = { ...session({ ...alice, issuedAt: undefined }), openedAt: NOW - 1000 }
    expect(() => hub.check.check(undated, {}, NOW)).toThrow(expect.objectContaining({ reason: 'token_claims_changed' }))
  })
})
