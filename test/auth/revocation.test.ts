import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  memoryRevocationList,
  REVOCATION_KINDS,
  type RevocationList,
  revocationCheck,
  revocationQueryOf,
} from '../../src/auth/revocation.js'
import type { Principal, SessionInfo } from '../../src/spec/auth.js'

const NOW = 1_800_000_000_000

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  id: 'alice',
  kind: 'user',
  roles: [],
  scopes: [],
  attributes: {},
  authenticator: 'jwt',
  issuer: 'https://idp.example/',
  credentialId: 'jti-1',
  sessionId: 'sid-1',
  tenant: 'acme',
  issuedAt: NOW - 60_000,
  ...overrides,
})

const session = (p: Principal, id = 'w-1'): SessionInfo => ({
  id,
  principal: p,
  openedAt: NOW - 1000,
  lastActivityAt: NOW - 500,
  openedContext: {},
})

describe('memoryRevocationList', () => {
  it('finds a revocation of each kind for the principal that carries that value', () => {
    const p = principal()
    const values = {
      jti: 'jti-1',
      subject: 'alice',
      session: 'sid-1',
      'warden-session': 'w-1',
      'api-key': 'key-1',
      tenant: 'acme',
    } as const
    for (const kind of REVOCATION_KINDS) {
      const list = memoryRevocationList([{ kind, value: values[kind] }])
      const target = kind === 'api-key' ? principal({ authenticator: 'api-key', credentialId: 'key-1' }) : p
      expect(list.find(revocationQueryOf(target, 'w-1'), NOW)?.kind, kind).toBe(kind)
    }
  })

  it('never matches a different value (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REVOCATION_KINDS), fc.string({ minLength: 1 }), (kind, value) => {
        fc.pre(!['jti-1', 'alice', 'sid-1', 'w-1', 'acme'].includes(value))
        const list = memoryRevocationList([{ kind, value }])
        expect(list.find(revocationQueryOf(principal(), 'w-1'), NOW)).toBeUndefined()
      }),
    )
  })

  it('applies issuedBefore only to credentials issued before it (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: -1e6, max: 1e6 }), (issued, cutoff) => {
        const list = memoryRevocationList([{ kind: 'subject', value: 'alice', issuedBefore: NOW + cutoff }])
        const found = list.find(revocationQueryOf(principal({ issuedAt: NOW + issued })), NOW)
        expect(found !== undefined).toBe(issued < cutoff)
      }),
    )
  })

  it('matches issuedBefore when the issue time is unknown (fail closed)', () => {
    const list = memoryRevocationList([{ kind: 'subject', value: 'alice', issuedBefore: NOW }])
    expect(list.find(revocationQueryOf(principal({ issuedAt: undefined })), NOW)).toBeDefined()
  })

  it('scopes a subject revocation to its issuer', () => {
    const list = memoryRevocationList([{ kind: 'subject', value: 'alice', issuer: 'https://other.example/' }])
    expect(list.find(revocationQueryOf(principal()), NOW)).toBeUndefined()
    expect(list.find(revocationQueryOf(principal({ issuer: 'https://other.example/' })), NOW)).toBeDefined()
  })

  it('forgets an entry once it expires, and restore lifts it at once', () => {
    const list = memoryRevocationList([{ kind: 'jti', value: 'jti-1', expiresAt: NOW + 10 }])
    expect(list.find(revocationQueryOf(principal()), NOW)).toBeDefined()
    expect(list.find(revocationQueryOf(principal()), NOW + 10)).toBeUndefined()
    expect(list.list(NOW + 10)).toEqual([])
    list.revoke({ kind: 'tenant', value: 'acme' })
    expect(list.restore('tenant', 'acme')).toBe(1)
    expect(list.find(revocationQueryOf(principal()), NOW)).toBeUndefined()
  })

  it('rejects malformed revocations with TypeError', () => {
    const list = memoryRevocationList()
    expect(() => list.revoke({ kind: 'nope' as never, value: 'x' })).toThrow(TypeError)
    expect(() => list.revoke({ kind: 'jti', value: '' })).toThrow(TypeError)
    expect(() => list.revoke({ kind: 'jti', value: 'x', expiresAt: Number.NaN })).toThrow(TypeError)
  })
})

describe('revocationCheck', () => {
  it('denies with reason revoked, naming the kind but not the value', () => {
    const list = memoryRevocationList([{ kind: 'warden-session', value: 'w-1' }])
    const check = revocationCheck(list)
    expect(() => check.check(session(principal(), 'w-2'), {}, NOW)).not.toThrow()
    let error: unknown
    try {
      check.check(session(principal(), 'w-1'), {}, NOW)
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ code: 'ERR_AUTHENTICATION', reason: 'revoked' })
    expect((error as Error).message).not.toContain('w-1')
  })

  it('treats a credential without an issue time as issued before every revocation, whenever its session opened', () => {
    // a bearer token without iat: a new session opened with it after the revocation must not escape it
    const undated = principal({ authenticator: 'jwt-svid', issuedAt: undefined, credentialId: undefined })
    const check = revocationCheck(memoryRevocationList([{ kind: 'subject', value: 'alice', issuedBefore: NOW - 500 }]))
    expect(() => check.check(session(undated), {}, NOW)).toThrow(expect.objectContaining({ reason: 'revoked' }))
    expect(() => check.check({ ...session(undated), openedAt: NOW - 100 }, {}, NOW)).toThrow(expect.objectContaining({ reason: 'revoked' }))
    // an mTLS principal is dated by the handshake it rests on: one made after the revocation is not refused
    const handshake = principal({ authenticator: 'mtls', issuedAt: NOW - 100, credentialId: undefined })
    expect(() => check.check({ ...session(handshake), openedAt: NOW - 100 }, {}, NOW)).not.toThrow()
    expect(() => check.check(session(principal({ authenticator: 'mtls', issuedAt: NOW - 1000, credentialId: undefined })), {}, NOW)).toThrow(
      expect.objectContaining({ reason: 'revoked' }),
    )
  })

  it('works with an async list and fails closed when the list fails', async () => {
    const inner = memoryRevocationList([{ kind: 'jti', value: 'jti-1' }])
    const asyncList: RevocationList = {
      revoke: async (entry) => inner.revoke(entry),
      restore: async (kind, value) => inner.restore(kind, value),
      find: async (query, now) => inner.find(query, now),
    }
    await expect(revocationCheck(asyncList).check(session(principal()), {}, NOW)).rejects.toMatchObject({ reason: 'revoked' })
    const broken: RevocationList = {
      revoke: () => undefined,
      restore: () => 0,
      find: async () => {
        throw new Error('redis down')
      },
    }
    await expect(revocationCheck(broken).check(session(principal()), {}, NOW)).rejects.toMatchObject({ reason: 'revocation_unavailable' })
    const throwing: RevocationList = {
      revoke: () => undefined,
      restore: () => 0,
      find: () => {
        throw new Error('boom')
      },
    }
    expect(() => revocationCheck(throwing).check(session(principal()), {}, NOW)).toThrow(expect.objectContaining({ reason: 'revocation_unavailable' }))
  })
})
