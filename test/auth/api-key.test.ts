import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ApiKeyRecord,
  type ApiKeyStore,
  apiKeyAuthenticator,
  generateApiKey,
  memoryApiKeyStore,
  parseApiKey,
} from '../../src/auth/api-key.js'
import { AuthenticationError, ConfigError } from '../../src/errors.js'
import type { NormalizedCredential } from '../../src/spec/auth.js'

const apiKeyCredential = (value: string): NormalizedCredential => ({ scheme: 'api-key', value })

async function rejection(promise: Promise<unknown>): Promise<AuthenticationError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(AuthenticationError.isInstance(error)).toBe(true)
  return error as AuthenticationError
}

describe('generateApiKey', () => {
  it('produces keys in the documented scanner-friendly format', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'indexer' })
    expect(apiKey).toMatch(/^vw_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/)
    expect(parseApiKey(apiKey)).toEqual({ prefix: 'vw', keyId: record.keyId, checksumValid: true })
  })

  it('stores only a hash: the record never contains the key or its secret part', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'indexer', roles: ['reader'] })
    const secret = apiKey.split('_')[2]!
    const serialized = JSON.stringify(record)
    expect(serialized).not.toContain(apiKey)
    expect(serialized).not.toContain(secret)
    expect(record.hash).toMatch(/^hmac-sha256:[A-Za-z0-9_-]{43}$/)
  })

  it('detects any single-character change through the checksum', async () => {
    const { apiKey } = await generateApiKey({ clientId: 'c' })
    await fc.assert(
      fc.property(fc.integer({ min: 3, max: apiKey.length - 8 }), fc.constantFrom(...'0123456789abcXYZ'), (i, ch) => {
        if (apiKey[i] === '_' || apiKey[i] === ch) return
        const altered = apiKey.slice(0, i) + ch + apiKey.slice(i + 1)
        expect(parseApiKey(altered)?.checksumValid).toBe(false)
      }),
    )
  })

  it('refuses a pepper shorter than 32 bytes', async () => {
    await expect(generateApiKey({ clientId: 'c', pepper: new Uint8Array(16) })).rejects.toSatisfy(ConfigError.isInstance)
  })

  it('throws TypeError on a missing clientId', async () => {
    await expect(generateApiKey({} as never)).rejects.toBeInstanceOf(TypeError)
  })
})

describe('apiKeyAuthenticator', () => {
  it('authenticates a generated key and maps the record to the principal', async () => {
    const { apiKey, record } = await generateApiKey({
      clientId: 'indexer',
      tenant: 'acme',
      roles: ['writer'],
      scopes: ['docs:write'],
      attributes: { department: 'search' },
    })
    const authenticator = apiKeyAuthenticator({ keys: [record] })
    const principal = await authenticator.authenticate(apiKeyCredential(apiKey), {})
    expect(principal).toMatchObject({
      id: 'indexer',
      kind: 'service',
      tenant: 'acme',
      roles: ['writer'],
      scopes: ['docs:write'],
      attributes: { department: 'search' },
      authenticator: 'api-key',
      credentialId: record.keyId,
    })
  })

  it('recognises api-key credentials and bearer values with its prefix, not JWTs', () => {
    const authenticator = apiKeyAuthenticator({ keys: [] })
    expect(authenticator.recognizes({ scheme: 'api-key', value: 'x' }, {})).toBe(true)
    expect(authenticator.recognizes({ scheme: 'bearer', value: 'vw_abc' }, {})).toBe(true)
    expect(authenticator.recognizes({ scheme: 'bearer', value: 'eyJhbGciOi.x.y' }, {})).toBe(false)
    expect(authenticator.recognizes({ scheme: 'peer' }, {})).toBe(false)
  })

  it('rejects a key with a wrong secret but a valid checksum (invalid_api_key)', async () => {
    const { record } = await generateApiKey({ clientId: 'a' })
    const { apiKey: other } = await generateApiKey({ clientId: 'b' })
    // graft the other key's secret onto this key id and fix the checksum: only the hash can catch it
    const parts = other.split('_')
    const { checksumOf } = await import('./_checksum.js')
    const body = `vw_${record.keyId}_${parts[2]}`
    const forged = `${body}_${checksumOf(body)}`
    const error = await rejection(apiKeyAuthenticator({ keys: [record] }).authenticate(apiKeyCredential(forged), {}))
    expect(error.reason).toBe('invalid_api_key')
  })

  it('rejects malformed keys, bad checksums, unknown ids and expired keys with distinct reasons', async () => {
    const now = Date.now()
    const live = await generateApiKey({ clientId: 'a' })
    const expired = await generateApiKey({ clientId: 'a', expiresAt: now - 1, now: now - 10 })
    const stranger = await generateApiKey({ clientId: 'z' })
    const authenticator = apiKeyAuthenticator({ keys: [live.record, expired.record] })
    const flipped = live.apiKey.slice(0, -1) + (live.apiKey.endsWith('A') ? 'B' : 'A')
    const cases: Array<[string, string]> = [
      ['', 'malformed_api_key'],
      ['vw_short_x_y', 'malformed_api_key'],
      [live.apiKey.replace(/^vw/, 'xx'), 'malformed_api_key'],
      [flipped, 'bad_checksum'],
      [stranger.apiKey, 'unknown_key'],
      [expired.apiKey, 'key_expired'],
    ]
    for (const [value, reason] of cases) {
      const error = await rejection(authenticator.authenticate(apiKeyCredential(value), {}))
      expect(error.reason, value).toBe(reason)
    }
  })

  it('never puts the key or its secret into an error', async () => {
    const live = await generateApiKey({ clientId: 'a' })
    const stranger = await generateApiKey({ clientId: 'z' })
    const authenticator = apiKeyAuthenticator({ keys: [live.record] })
    // the last character changed (to '1' when it is '0': a key ending in '0' would otherwise stay the live key)
    const changed = live.apiKey.slice(0, -1) + (live.apiKey.endsWith('0') ? '1' : '0')
    for (const value of [stranger.apiKey, changed, `${live.apiKey}x`]) {
      const error = await rejection(authenticator.authenticate(apiKeyCredential(value), {}))
      const text = `${error.message} ${error.reason} ${String(error.cause)} ${JSON.stringify(error)}`
      expect(text).not.toContain(value.split('_')[2]!)
    }
  })

  it('requires the same pepper for generation and authentication', async () => {
    const pepper = new Uint8Array(32).fill(7)
    const { apiKey, record } = await generateApiKey({ clientId: 'a', pepper })
    await expect(apiKeyAuthenticator({ keys: [record], pepper }).authenticate(apiKeyCredential(apiKey), {})).resolves.toBeDefined()
    const error = await rejection(apiKeyAuthenticator({ keys: [record] }).authenticate(apiKeyCredential(apiKey), {}))
    expect(error.reason).toBe('invalid_api_key')
  })

  it('allows two active keys per client for rotation and refuses a third', async () => {
    const first = await generateApiKey({ clientId: 'rotating' })
    const second = await generateApiKey({ clientId: 'rotating' })
    const third = await generateApiKey({ clientId: 'rotating' })
    const store = memoryApiKeyStore([first.record, second.record])
    const authenticator = apiKeyAuthenticator({ keys: store })
    await expect(authenticator.authenticate(apiKeyCredential(first.apiKey), {})).resolves.toBeDefined()
    await expect(authenticator.authenticate(apiKeyCredential(second.apiKey), {})).resolves.toBeDefined()
    expect(() => store.add(third.record)).toThrow(expect.objectContaining({ reason: 'too_many_keys' }))
    expect(() => apiKeyAuthenticator({ keys: [first.record, second.record, third.record] })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    )
    store.remove(first.record.keyId)
    store.add(third.record)
    await expect(authenticator.authenticate(apiKeyCredential(third.apiKey), {})).resolves.toBeDefined()
  })

  it('fails the next call of a session once its key is removed or has expired', async () => {
    const now = Date.now()
    const { apiKey, record } = await generateApiKey({ clientId: 'a', expiresAt: now + 60_000 })
    const store = memoryApiKeyStore([record])
    const authenticator = apiKeyAuthenticator({ keys: store })
    const principal = await authenticator.authenticate(apiKeyCredential(apiKey), {})
    expect(() => authenticator.verify!(principal, {}, now)).not.toThrow()
    expect(() => authenticator.verify!(principal, {}, now + 60_000)).toThrow(expect.objectContaining({ reason: 'key_expired' }))
    store.remove(record.keyId)
    expect(() => authenticator.verify!(principal, {}, now)).toThrow(expect.objectContaining({ reason: 'key_removed' }))
  })

  it('works with an async store and denies when the store fails', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'a' })
    const asyncStore: ApiKeyStore = { get: async (keyId) => (keyId === record.keyId ? record : undefined) }
    await expect(apiKeyAuthenticator({ keys: asyncStore }).authenticate(apiKeyCredential(apiKey), {})).resolves.toMatchObject({ id: 'a' })
    const failing: ApiKeyStore = {
      get: async () => {
        throw new Error('database down')
      },
    }
    const error = await rejection(apiKeyAuthenticator({ keys: failing }).authenticate(apiKeyCredential(apiKey), {}))
    expect(error.reason).toBe('key_store_unavailable')
  })

  it('keeps a stored key\'s permissions even if the caller later changes its record arrays', async () => {
    const { apiKey, record } = await generateApiKey({ clientId: 'a', roles: ['reader'] })
    const authenticator = apiKeyAuthenticator({ keys: [record] })
    record.roles.push('admin')
    const principal = await authenticator.authenticate(apiKeyCredential(apiKey), {})
    expect(principal.roles).toEqual(['reader'])
    expect(Object.isFrozen(principal.roles)).toBe(true)
  })

  it('refuses malformed records at construction', () => {
    const bad = { keyId: 'short', clientId: 'a', hash: 'x', roles: [], scopes: [], createdAt: 0 } as ApiKeyRecord
    expect(() => apiKeyAuthenticator({ keys: [bad] })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
    const badRoles = { keyId: 'A'.repeat(12), clientId: 'a', hash: `hmac-sha256:${'A'.repeat(43)}`, roles: 'admin', scopes: [], createdAt: 0 }
    expect(() => apiKeyAuthenticator({ keys: [badRoles as unknown as ApiKeyRecord] })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })
})
