// the primitives the core needs from its runtime; node:crypto on Node, @noble elsewhere, same bytes either way

import type { GcmKeystreamBatch } from './gcm-keystream.js'

/** The AEAD algorithms the platform provides; both with 16-byte tags. */
export type AeadAlgorithm = 'aes-256-gcm' | 'xchacha20-poly1305'

/** Nonce length in bytes of each AEAD algorithm. */
export const AEAD_NONCE_LENGTH: { readonly [algorithm in AeadAlgorithm]: number } = {
  'aes-256-gcm': 12,
  'xchacha20-poly1305': 24,
}

/** Runtime primitives. Both implementations must produce identical bytes. */
export interface Platform {
  readonly name: 'node' | 'web'
  sha256(data: Uint8Array): Uint8Array
  /** SHA-256 of a string's UTF-8 bytes, as lowercase hex (the audit trail's id and filter hashes). */
  sha256Hex(text: string): string
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array
  randomBytes(length: number): Uint8Array
  /** Constant-time comparison; false when the lengths differ. */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
  base64urlEncode(data: Uint8Array): string
  base64urlDecode(text: string): Uint8Array
  /**
   * Strict base64url decoding like {@link Platform.base64urlDecode}, for hot paths that only read the bytes: the
   * result may be a view into a shared pool, so its `.buffer` must not be used.
   */
  base64urlDecodeView(text: string): Uint8Array
  utf8Encode(text: string): Uint8Array
  /** UTF-8 decoding of `data`, from byte `start` (default 0) to byte `end` (default the end). */
  utf8Decode(data: Uint8Array, start?: number, end?: number): string
  hex(data: Uint8Array): string
  /**
   * AEAD encryption with a 32-byte key and the algorithm's nonce length; returns ciphertext ‖ 16-byte tag.
   * Throws `TypeError` on a wrong key or nonce length.
   */
  aeadSeal(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array
  /** AEAD decryption of ciphertext ‖ tag; `undefined` when authentication fails (never partial plaintext). */
  aeadOpen(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined
  /**
   * AEAD encryption of a string's UTF-8 bytes, returned as base64url (no padding) of `head ‖ ciphertext ‖ tag`: the
   * envelope writer's path, one output buffer instead of three. Throws `TypeError` like {@link Platform.aeadSeal}.
   */
  aeadSealText(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, plaintext: string, aad: Uint8Array, head: Uint8Array): string
  /**
   * A batch of AES-256-GCM decryptions under `key` (32 bytes) **that checks no tags** — unauthenticated, the
   * counter-mode half of GCM: one call of the native block function per batch instead of one cipher per message,
   * only for envelopes a verified record MAC binds byte for byte (the field protector's batched reads). Absent where
   * the runtime has no fast AES block function. Meant to be cached per key (it holds a reused AES cipher).
   *
   * @internal
   */
  unauthenticatedAesGcmBatch?(key: Uint8Array): GcmKeystreamBatch
  /** HKDF-SHA256 (RFC 5869): extract with `salt` (empty = zeros), expand with `info` to `length` bytes (≤ 8160). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array
}
