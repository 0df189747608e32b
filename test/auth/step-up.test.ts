import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkStepUp, SECOND_FACTOR_METHODS, stepUpError } from '../../src/auth/step-up.js'
import { AuthorizationError } from '../../src/errors.js'
import type { Principal } from '../../src/spec/auth.js'

const NOW = 1_800_000_000_000
const principal = (overrides: Partial<Principal>): Principal => ({
  id: 'alice',
  kind: 'user',
  roles: [],
  scopes: [],
  attributes: {},
  authenticator: 'jwt',
  ...overrides,
})

describe('checkStepUp', () => {
  it('is satisfied by a second factor within the maximum age', () => {
    expect(checkStepUp(principal({ amr: ['pwd', 'otp'], authTime: NOW - 60_000 }), { maxAgeSeconds: 300 }, NOW)).toEqual({ satisfied: true })
  })

  it.each([
    ['no amr', { authTime: NOW }, 'second_factor'],
    ['a password only', { amr: ['pwd'], authTime: NOW }, 'second_factor'],
    ['no auth_time', { amr: ['mfa'] }, 'auth_time'],
    ['an old authentication', { amr: ['hwk'], authTime: NOW - 301_000 }, 'fresh_authentication'],
    ['an auth_time far in the future', { amr: ['otp'], authTime: NOW + 3_600_000 }, 'fresh_authentication'],
  ] as const)('asks for step-up on %s', (_name, overrides, missing) => {
    const result = checkStepUp(principal(overrides), { maxAgeSeconds: 300 }, NOW)
    expect(result).toMatchObject({ satisfied: false, reason: 'step_up_required', missing })
  })

  it('is satisfied exactly when a listed method is present and auth_time is fresh (property)', () => {
    fc.assert(
      fc.property(
        fc.subarray(['pwd', 'otp', 'hwk', 'kba', 'mfa', 'pin']),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 0, max: 900 }),
        (amr, offset, maxAgeSeconds) => {
          const result = checkStepUp(principal({ amr, authTime: NOW - offset }), { maxAgeSeconds, methods: ['otp', 'hwk', 'mfa'] }, NOW)
          const expected = amr.some((m) => ['otp', 'hwk', 'mfa'].includes(m)) && offset >= -60_000 && offset <= maxAgeSeconds * 1000
          expect(result.satisfied).toBe(expected)
        },
      ),
    )
  })

  it('checks acr values when asked', () => {
    const p = principal({ amr: ['mfa'], authTime: NOW, acr: 'silver' })
    expect(checkStepUp(p, { maxAgeSeconds: 60, acrValues: ['gold'] }, NOW)).toMatchObject({ missing: 'acr' })
    expect(checkStepUp(p, { maxAgeSeconds: 60, acrValues: ['silver', 'gold'] }, NOW)).toEqual({ satisfied: true })
  })

  it('gives an RFC 9470 challenge', () => {
    const result = checkStepUp(principal({}), { maxAgeSeconds: 120, acrValues: ['gold'] }, NOW)
    expect(result.satisfied === false && result.challenge).toBe('Bearer error="insufficient_user_authentication", max_age=120, acr_values="gold"')
  })

  it('turns an unsatisfied result into an AuthorizationError with reason step_up_required', () => {
    const result = checkStepUp(principal({}), { maxAgeSeconds: 60 }, NOW)
    if (result.satisfied) throw new Error('expected unsatisfied')
    const error = stepUpError(result)
    expect(AuthorizationError.isInstance(error)).toBe(true)
    expect(error.reason).toBe('step_up_required')
    expect(error.reasons).toContain('step_up:second_factor')
  })

  it('rejects a malformed requirement with TypeError', () => {
    expect(() => checkStepUp(principal({}), { maxAgeSeconds: Number.NaN }, NOW)).toThrow(TypeError)
    expect(SECOND_FACTOR_METHODS).not.toContain('pwd')
  })
})
