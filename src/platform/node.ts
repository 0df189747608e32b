// node:crypto and Buffer implementations of the platform primitives

import * as nodeCrypto from 'node:crypto'
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomFillSync,
  timingSafeEqual as nodeTimingSafeEqual,
} from 'node:crypto'
import { hchacha } from '@noble/ciphers/chacha.js'
import { gcmKeystreamBatch } from './gcm-keystream.js'
import { AEAD_NONCE_LENGTH, type AeadAlgorithm, type Platform } from './types.js'

const view = (data: Uint8Array): Buffer => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))
// a plain Uint8Array with its own ArrayBuffer: small Buffers share Node's 8 KiB pool, and callers may use `.buffer`
const bytes = (data: Buffer): Uint8Array => new Uint8Array(data)

/**
 * Decodes strict base64url. Node's decoder skips characters outside the alphabet and stops at `=`, which always
 * shortens the output, so a length check replaces a regular expression over the whole text; it also accepts the
 * standard alphabet's `+` and `/`, which are refused explicitly.
 */
const NOT_BASE64URL = /[^A-Za-z0-9_-]/

function base64urlDecodeView(text: string): Buffer {
  if (typeof text !== 'string') throw new TypeError('not base64url')
  // one scan for the alphabet: Node's decoder would skip other characters, and read one above U+00FF by its low byte
  if (text.length % 4 === 1 || NOT_BASE64URL.test(text)) throw new TypeError('not base64url')
  const decoded = Buffer.from(text, 'base64url')
  if (decoded.length !== Math.floor((text.length * 3) / 4)) throw new TypeError('not base64url')
  return decoded
}

function base64urlDecode(text: string): Uint8Array {
  return bytes(base64urlDecodeView(text))
}

// "expand 32-byte k" (RFC 8439 §2.3), the constants HChaCha20 starts from
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574])
const TAG_LENGTH = 16

function words(bytes: Uint8Array): Uint32Array {
  // copy: the view must be 4-byte aligned; noble's hchacha reads the words as little-endian
  const copy = new Uint8Array(bytes.length)
  copy.set(bytes)
  return new Uint32Array(copy.buffer)
}

/** XChaCha20 (draft-irtf-cfrg-xchacha §2.3) as HChaCha20 subkey + IETF ChaCha20-Poly1305 with nonce 0⁴ ‖ n[16..24]. */
function nativeParameters(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array): [string, Uint8Array, Uint8Array] {
  if (key.length !== 32) throw new TypeError(`${algorithm} needs a 32-byte key`)
  if (nonce.length !== AEAD_NONCE_LENGTH[algorithm]) throw new TypeError(`${algorithm} needs a ${AEAD_NONCE_LENGTH[algorithm]}-byte nonce`)
  if (algorithm === 'aes-256-gcm') return ['aes-256-gcm', key, nonce]
  if (algorithm !== 'xchacha20-poly1305') throw new TypeError('unknown AEAD algorithm')
  const subkey = new Uint32Array(8)
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), subkey)
  const shortNonce = Buffer.alloc(12)
  shortNonce.set(nonce.subarray(16, 24), 4)
  return ['chacha20-poly1305', Buffer.from(subkey.buffer), shortNonce]
}

function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length < 1 || length > 255 * 32) throw new TypeError('HKDF length out of range')
  // OpenSSL caps info at 1024 bytes; longer infos take the RFC 5869 construction spelled out
  if (info.length <= 1024) return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))
  const prk = createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(32)).update(ikm).digest()
  const out = new Uint8Array(length)
  let previous: Buffer = Buffer.alloc(0)
  for (let block = 1, offset = 0; offset < length; block++) {
    previous = createHmac('sha256', prk).update(previous).update(info).update(Buffer.of(block)).digest()
    out.set(previous.subarray(0, Math.min(32, length - offset)), offset)
    offset += 32
  }
  return out
}

/** `crypto.hash`, one call for one digest (strings hash as their UTF-8 bytes). */
export type OneShotHash = {
  (algorithm: string, data: string | Uint8Array, encoding: 'buffer'): Buffer
  (algorithm: string, data: string | Uint8Array, encoding: 'hex'): string
}

/**
 * `crypto.hash` where the runtime has it (node ≥ 20.12): it hashes in one call without a Hash object, which is most of
 * the cost of short inputs. The audit log's hasher uses it too.
 */
export const oneShotHash = (nodeCrypto as { hash?: OneShotHash }).hash

export const platform: Platform = {
  name: 'node',
  sha256:
    oneShotHash === undefined
      ? (data) => new Uint8Array(createHash('sha256').update(data).digest())
      : (data) => new Uint8Array(oneShotHash('sha256', data, 'buffer')),
  // strings hash as their UTF-8 bytes either way
  sha256Hex: oneShotHash === undefined ? (text) => createHash('sha256').update(text, 'utf8').digest('hex') : (text) => oneShotHash('sha256', text, 'hex'),
  hmacSha256: (key, data) => bytes(createHmac('sha256', key).update(data).digest()),
  randomBytes: (length) => randomFillSync(new Uint8Array(length)),
  timingSafeEqual: (a, b) => a.length === b.length && nodeTimingSafeEqual(a, b),
  base64urlEncode: (data) => view(data).toString('base64url'),
  base64urlDecode,
  base64urlDecodeView,
  utf8Encode: (text) => bytes(Buffer.from(text, 'utf8')),
  // no encoding argument: Buffer#toString then goes straight to its UTF-8 slice
  utf8Decode: (data, start = 0, end = data.length) => view(data).toString(undefined, start, end),
  hex: (data) => view(data).toString('hex'),
  aeadSeal: (algorithm, key, nonce, plaintext, aad) => {
    const [name, nativeKey, nativeNonce] = nativeParameters(algorithm, key, nonce)
    const cipher = createCipheriv(name as 'aes-256-gcm', nativeKey, nativeNonce, { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    const head = cipher.update(plaintext)
    const tail = cipher.final()
    const out = new Uint8Array(head.length + tail.length + TAG_LENGTH)
    out.set(head, 0)
    out.set(tail, head.length)
    out.set(cipher.getAuthTag(), head.length + tail.length)
    return out
  },
  aeadSealText: (algorithm, key, nonce, plaintext, aad, head) => {
    const [name, nativeKey, nativeNonce] = nativeParameters(algorithm, key, nonce)
    const cipher = createCipheriv(name as 'aes-256-gcm', nativeKey, nativeNonce, { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    const body = cipher.update(plaintext, 'utf8')
    // both suites are stream modes: final() only computes the tag and returns no bytes
    if (cipher.final().length !== 0) throw new TypeError('unexpected AEAD output')
    const tag = cipher.getAuthTag()
    const out = Buffer.allocUnsafe(head.length + body.length + TAG_LENGTH)
    out.set(head, 0)
    out.set(body, head.length)
    out.set(tag, head.length + body.length)
    return out.toString('base64url')
  },
  aeadOpen: (algorithm, key, nonce, sealed, aad) => {
    let name = 'aes-256-gcm'
    let nativeKey = key
    let nativeNonce = nonce
    // AES-256-GCM, the read path of nearly every envelope, checks its lengths here rather than building a tuple
    if (algorithm !== 'aes-256-gcm' || key.length !== 32 || nonce.length !== AEAD_NONCE_LENGTH['aes-256-gcm']) {
      ;[name, nativeKey, nativeNonce] = nativeParameters(algorithm, key, nonce)
    }
    if (sealed.length < TAG_LENGTH) return undefined
    const split = sealed.length - TAG_LENGTH
    try {
      // no authTagLength option: the tag passed is always exactly TAG_LENGTH bytes, cut here
      const decipher = createDecipheriv(name as 'aes-256-gcm', nativeKey, nativeNonce)
      decipher.setAAD(aad)
      decipher.setAuthTag(new Uint8Array(sealed.buffer, sealed.byteOffset + split, TAG_LENGTH))
      const head = decipher.update(new Uint8Array(sealed.buffer, sealed.byteOffset, split))
      const tail = decipher.final()
      // a Buffer is a Uint8Array; returning it lets utf8Decode skip re-wrapping on the per-field read path
      return tail.length === 0 ? head : Buffer.concat([head, tail])
    } catch {
      return undefined
    }
  },
  unauthenticatedAesGcmBatch: (key) => {
    if (key.length !== 32) throw new TypeError('aes-256-gcm needs a 32-byte key')
    // ECB over counter blocks the batch builds itself: a block function, never used on data directly
    const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
    return gcmKeystreamBatch(
      (blocks) => ecb.update(blocks),
      (buffer) => Buffer.from(buffer),
    )
  },
  hkdfSha256,
}
