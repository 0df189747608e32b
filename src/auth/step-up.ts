// step-up: does the principal hold a fresh, strong authentication for a sensitive action? (a value, not a throw)

import { AuthorizationError } from '../errors.js'
import type { Principal } from '../spec/auth.js'

/**
 * Authentication methods (RFC 8176 `amr` values) that count as a second factor or a phishing-resistant method.
 * `mfa` is the provider saying that several factors were used.
 *
 * @example
 * ```ts
 * checkStepUp(principal, { maxAgeSeconds: 300, methods: SECOND_FACTOR_METHODS.filter((m) => m !== 'sms') }, now)
 * ```
 */
export const SECOND_FACTOR_METHODS: readonly string[] = Object.freeze([
  'mfa',
  'otp',
  'hwk',
  'swk',
  'sc',
  'sms',
  'tel',
  'fpt',
  'face',
  'iris',
  'retina',
  'vbm',
])

const MAX_CLOCK_SKEW_MS = 60_000

/** What an action demands. */
export interface StepUpRequirement {
  /** The last authentication must be at most this old. */
  maxAgeSeconds: number
  /** `amr` values, one of which must be present. Default {@link SECOND_FACTOR_METHODS}. */
  methods?: readonly string[]
  /** Acceptable `acr` values; when given, the principal's `acr` must be one of them. */
  acrValues?: readonly string[]
}

/** Why a step-up is needed. */
export type StepUpMissing = 'auth_time' | 'fresh_authentication' | 'second_factor' | 'acr'

/** The outcome: satisfied, or what is missing and the RFC 9470 challenge to send back. */
export type StepUpResult =
  | { readonly satisfied: true }
  | {
      readonly satisfied: false
      readonly reason: 'step_up_required'
      readonly missing: StepUpMissing
      readonly maxAgeSeconds: number
      /** A `WWW-Authenticate` value per RFC 9470 (OAuth 2.0 Step-Up Authentication Challenge). */
      readonly challenge: string
    }

function challengeFor(requirement: StepUpRequirement): string {
  const parts = ['Bearer error="insufficient_user_authentication"', `max_age=${Math.floor(requirement.maxAgeSeconds)}`]
  if (requirement.acrValues !== undefined && requirement.acrValues.length > 0) {
    parts.push(`acr_values="${requirement.acrValues.join(' ')}"`)
  }
  return parts.join(', ')
}

/**
 * Checks that the principal authenticated with a second factor within `maxAgeSeconds` (and, if asked, at an
 * accepted `acr`). Returns a value; the policy engine turns an unsatisfied result into a deny with reason
 * `step_up_required` (see {@link stepUpError}). A principal without `auth_time` never satisfies it.
 *
 * @example
 * ```ts
 * const result = checkStepUp(principal, { maxAgeSeconds: 300, methods: ['otp', 'hwk'] }, Date.now())
 * if (!result.satisfied) return { effect: 'deny', reasons: [result.reason] }
 * ```
 */
export function checkStepUp(principal: Principal, requirement: StepUpRequirement, now: number): StepUpResult {
  if (typeof requirement !== 'object' || requirement === null) throw new TypeError('requirement must be an object')
  const { maxAgeSeconds } = requirement
  if (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds < 0) throw new TypeError('maxAgeSeconds must be a non-negative number')
  if (!Number.isFinite(now)) throw new TypeError('now must be ms since the epoch')
  const unsatisfied = (missing: StepUpMissing): StepUpResult => ({
    satisfied: false,
    reason: 'step_up_required',
    missing,
    maxAgeSeconds,
    challenge: challengeFor(requirement),
  })
  const methods = requirement.methods ?? SECOND_FACTOR_METHODS
  const amr = principal.amr ?? []
  if (!amr.some((method) => methods.includes(method))) return unsatisfied('second_factor')
  if (requirement.acrValues !== undefined && (principal.acr === undefined || !requirement.acrValues.includes(principal.acr))) {
    return unsatisfied('acr')
  }
  const authTime = principal.authTime
  if (authTime === undefined || !Number.isFinite(authTime)) return unsatisfied('auth_time')
  // an auth_time further in the future than clock skew explains is not fresh, it is wrong
  if (authTime - now > MAX_CLOCK_SKEW_MS || now - authTime > maxAgeSeconds * 1000) return unsatisfied('fresh_authentication')
  return { satisfied: true }
}

/**
 * The error for an unsatisfied step-up: `AuthorizationError` with reason `step_up_required` and the missing part
 * in `reasons`. Safe to show the caller.
 *
 * @example
 * ```ts
 * const result = checkStepUp(principal, { maxAgeSeconds: 300 }, Date.now())
 * if (!result.satisfied) throw stepUpError(result)
 * ```
 */
export function stepUpError(result: Extract<StepUpResult, { satisfied: false }>): AuthorizationError {
  return new AuthorizationError(`a fresh strong authentication is required (${result.missing})`, {
    reason: 'step_up_required',
    reasons: ['step_up_required', `step_up:${result.missing}`],
  })
}
