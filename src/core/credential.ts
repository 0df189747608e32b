// turns what a host server hands over (a header value or an object) into a credential with a known scheme

import { AuthenticationError } from '../errors.js'
import type { Credential, NormalizedCredential } from '../spec/auth.js'

const MAX_CREDENTIAL_LENGTH = 16 * 1024

function checked(value: string): string {
  if (value.length === 0) throw new AuthenticationError('the credential is empty', { reason: 'malformed_credential' })
  if (value.length > MAX_CREDENTIAL_LENGTH) throw new AuthenticationError('the credential is too long', { reason: 'malformed_credential' })
  return value
}

/**
 * Normalizes a credential. Header values: `Bearer <token>` and `ApiKey <key>` (scheme case-insensitive, RFC 7235).
 * Throws `AuthenticationError` (`malformed_credential`) for anything else; never echoes the value.
 */
export function normalizeCredential(credential: Credential): NormalizedCredential {
  if (typeof credential === 'string') {
    const match = /^([A-Za-z][A-Za-z0-9-]*) +(\S+)\s*$/.exec(credential)
    if (!match) throw new AuthenticationError('the Authorization value is not "<scheme> <credential>"', { reason: 'malformed_credential' })
    const scheme = (match[1] as string).toLowerCase()
    const value = match[2] as string
    if (scheme === 'bearer') return { scheme: 'bearer', value: checked(value) }
    if (scheme === 'apikey' || scheme === 'api-key') return { scheme: 'api-key', value: checked(value) }
    throw new AuthenticationError('unsupported Authorization scheme', { reason: 'unsupported_scheme' })
  }
  if (typeof credential !== 'object' || credential === null) {
    throw new TypeError('credential must be an Authorization header value, { apiKey }, { bearer } or { peer: true }')
  }
  if ('apiKey' in credential && typeof credential.apiKey === 'string') return { scheme: 'api-key', value: checked(credential.apiKey) }
  if ('bearer' in credential && typeof credential.bearer === 'string') return { scheme: 'bearer', value: checked(credential.bearer) }
  if ('peer' in credential && credential.peer === true) return { scheme: 'peer' }
  throw new TypeError('credential must be an Authorization header value, { apiKey }, { bearer } or { peer: true }')
}
