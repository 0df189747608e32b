// the AEAD suites an envelope can name, by their one-byte ids; the suite layer over the platform primitives

import type { Platform } from '../platform/index.js'

/** Suites an envelope can be made with. */
export type SuiteName = 'aes-256-gcm' | 'xchacha20-poly1305'

/** What an envelope's suite byte means. Ids never change once released. */
export const SUITES: { readonly [name in SuiteName]: { readonly id: number; readonly nonceLength: number } } = {
  'aes-256-gcm': { id: 0x01, nonceLength: 12 },
  'xchacha20-poly1305': { id: 0x02, nonceLength: 24 },
}

/** Length of the authentication tag of every suite. */
export const TAG_LENGTH = 16

/**
 * The suite an envelope's suite byte names, or `undefined` for an unknown byte.
 *
 * @example
 * ```ts
 * suiteById(0x02) // 'xchacha20-poly1305'
 * ```
 */
export function suiteById(id: number): SuiteName | undefined {
  if (id === SUITES['aes-256-gcm'].id) return 'aes-256-gcm'
  if (id === SUITES['xchacha20-poly1305'].id) return 'xchacha20-poly1305'
  return undefined
}

/**
 * Encrypts with a suite on the given platform; returns ciphertext ‖ tag.
 *
 * @example
 * ```ts
 * const sealed = seal(platform, 'aes-256-gcm', key, platform.randomBytes(12), plaintext, aad)
 * ```
 */
export function seal(platform: Platform, suite: SuiteName, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return platform.aeadSeal(suite, key, nonce, plaintext, aad)
}

/**
 * Decrypts ciphertext ‖ tag with a suite; `undefined` when the tag does not verify.
 *
 * @example
 * ```ts
 * const plaintext = open(platform, 'aes-256-gcm', key, nonce, sealed, aad)
 * if (plaintext === undefined) throw new IntegrityError('envelope did not verify')
 * ```
 */
export function open(platform: Platform, suite: SuiteName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  return platform.aeadOpen(suite, key, nonce, sealed, aad)
}
