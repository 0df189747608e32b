// shared helpers of the authentication tests: the reason of a refusal, and a policy that allows everything

import { AuthenticationError } from '../../src/errors.js'
import type { PolicyDecisionPoint } from '../../src/spec/policy.js'

/** The reason of the AuthenticationError a call fails with (anything else fails the test). */
export async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!AuthenticationError.isInstance(error)) throw new Error(`expected an AuthenticationError, got ${String(error)}`)
  return error.reason
}

/** A decision point that allows every call with no obligations beyond the defaults: authentication is under test. */
export const allowAll: PolicyDecisionPoint = {
  id: 'allow-all',
  version: '1',
  decide: () => ({
    effect: 'allow',
    matchedRules: ['all'],
    obligations: { rowFilter: null, stamp: {}, readableFields: '*', writableFields: '*', decryptableFields: '*', readVectors: true },
  }),
}
