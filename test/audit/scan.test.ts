import { describe, expect, it } from 'vitest'
import { scanForSecrets } from './helpers.js'

describe('scanForSecrets', () => {
  const secret = 'vw_live_8f3a9c2e7b1d4f6a0c5e'
  const bytes = new Uint8Array(32).map((_, index) => 255 - index)

  it.each([
    ['verbatim', `token=${secret}`],
    ['base64', Buffer.from(secret).toString('base64')],
    ['base64url', Buffer.from(secret).toString('base64url')],
    ['hex, upper case', Buffer.from(secret).toString('hex').toUpperCase()],
    ['a truncated copy', `message: bad key ${secret.slice(0, 18)}…`],
  ])('finds a string secret written %s', (_how, text) => {
    expect(scanForSecrets(text, [secret])).toEqual([secret])
  })

  it('finds key bytes written as hex or base64', () => {
    expect(scanForSecrets(Buffer.from(bytes).toString('hex'), [bytes])).toHaveLength(1)
    expect(scanForSecrets(`{"k":"${Buffer.from(bytes).toString('base64')}"}`, [bytes])).toHaveLength(1)
  })

  it('finds nothing in text without the secret', () => {
    expect(scanForSecrets('{"actor":{"id":"alice","credentialId":"key_123"}}', [secret, bytes])).toEqual([])
  })

  it('refuses secrets too short to scan for', () => {
    expect(() => scanForSecrets('x', ['abc'])).toThrow(TypeError)
  })
})
