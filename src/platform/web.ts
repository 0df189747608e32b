// portable implementations of the platform primitives for browsers and edge runtimes

import { ecb, gcm } from '@noble/ciphers/aes.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { gcmKeystreamBatch } from './gcm-keystream.js'
import { AEAD_NONCE_LENGTH, type AeadAlgorithm, type Platform } from './types.js'

const encoder = new TextEncoder()
// ignoreBOM: a plaintext that starts with U+FEFF keeps it, as Node's decoder does (the platforms give the same text)
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })

function base64urlEncode(data: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function base64urlDecode(text: string): Uint8Array {
  // a length of 4n+1 cannot be base64 (atob would throw a DOMException instead)
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new TypeError('not base64url')
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}

function aead(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
  if (key.length !== 32) throw new TypeError(`${algorithm} needs a 32-byte key`)
  if (nonce.length !== AEAD_NONCE_LENGTH[algorithm]) throw new TypeError(`${algorithm} needs a ${AEAD_NONCE_LENGTH[algorithm]}-byte nonce`)
  if (algorithm === 'aes-256-gcm') return gcm(key, nonce, aad)
  if (algorithm === 'xchacha20-poly1305') return xchacha20poly1305(key, nonce, aad)
  throw new TypeError('unknown AEAD algorithm')
}

export const platform: Platform = {
  name: 'web',
  sha256: (data) => sha256(data),
  sha256Hex: (text) => bytesToHex(sha256(encoder.encode(text))),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
  timingSafeEqual: (a, b) => {
    if (a.length !== b.length) return false
    let diff = 0
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
    return diff === 0
  },
  base64urlEncode,
  base64urlDecode,
  base64urlDecodeView: base64urlDecode,
  utf8Encode: (text) => encoder.encode(text),
  utf8Decode: (data, start = 0, end = data.length) => decoder.decode(start === 0 && end === data.length ? data : data.subarray(start, end)),
  hex: (data) => bytesToHex(data),
  aeadSeal: (algorithm, key, nonce, plaintext, aad) => aead(algorithm, key, nonce, aad).encrypt(plaintext),
  aeadSealText: (algorithm, key, nonce, plaintext, aad, head) => {
    const sealed = aead(algorithm, key, nonce, aad).encrypt(encoder.encode(plaintext))
    const out = new Uint8Array(head.length + sealed.length)
    out.set(head, 0)
    out.set(sealed, head.length)
    return base64urlEncode(out)
  },
  aeadOpen: (algorithm, key, nonce, sealed, aad) => {
    const cipher = aead(algorithm, key, nonce, aad)
    if (sealed.length < 16) return undefined
    try {
      return cipher.decrypt(sealed)
    } catch {
      return undefined
    }
  },
  unauthenticatedAesGcmBatch: (key) => {
    if (key.length !== 32) throw new TypeError('aes-256-gcm needs a 32-byte key')
    // the AES block function over counter blocks the batch builds itself, never over data
    const own = Uint8Array.from(key)
    return gcmKeystreamBatch((blocks) => ecb(own, { disablePadding: true }).encrypt(blocks))
  },
  hkdfSha256: (ikm, salt, info, length) => {
    if (length < 1 || length > 255 * 32) throw new TypeError('HKDF length out of range')
    return hkdf(sha256, ikm, salt.length > 0 ? salt : undefined, info, length)
  },
}
