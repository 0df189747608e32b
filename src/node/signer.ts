// checkpoint signers and verifiers on node:crypto: Ed25519 (the default) and HMAC-SHA256 (shared secret)

import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto'
import type { CheckpointSigner } from '../audit/log-format.js'

/** Checks checkpoint signatures. */
export interface CheckpointVerifier {
  readonly alg: string
  readonly keyId: string
  verify(body: Uint8Array, signature: Uint8Array): boolean
}

/** A private key as a KeyObject or PEM text. */
export type PrivateKeyInput = KeyObject | string
/** A public key as a KeyObject, PEM text, or the 32 raw bytes of an Ed25519 key. */
export type PublicKeyInput = KeyObject | string | Uint8Array

function rawEd25519(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' })
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError('checkpoint key must be an Ed25519 key')
  }
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'))
}

/** The C2SP signed-note key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), hex. */
function ed25519KeyId(name: string, raw: Uint8Array): string {
  return createHash('sha256')
    .update(name)
    .update(new Uint8Array([0x0a, 0x01]))
    .update(raw)
    .digest()
    .subarray(0, 4)
    .toString('hex')
}

function toPublicKey(input: PublicKeyInput): KeyObject {
  if (input instanceof Uint8Array) {
    if (input.length !== 32) throw new TypeError('an Ed25519 public key has 32 bytes')
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(input).toString('base64url') }, format: 'jwk' })
  }
  return typeof input === 'string' ? createPublicKey(input) : input.type === 'private' ? createPublicKey(input) : input
}

/**
 * Signs checkpoints with Ed25519 (node:crypto). `name` is the C2SP key name, normally the log's origin; the key id
 * in each checkpoint is the C2SP key hash of that name and the public key.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateKeyPairSync('ed25519')
 * const sink = fileAuditSink({ path: 'audit.log', checkpoint: { signer: ed25519CheckpointSigner(privateKey, 'prod') } })
 * ```
 */
export function ed25519CheckpointSigner(privateKey: PrivateKeyInput, name: string): CheckpointSigner {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new TypeError('expected an Ed25519 private key')
  const keyId = ed25519KeyId(name, rawEd25519(createPublicKey(key)))
  const signer: CheckpointSigner = { alg: 'Ed25519', keyId, sign: (body) => new Uint8Array(sign(null, body, key)) }
  workerSpecs.set(signer, { spec: { kind: 'ed25519', key, name }, sign: signer.sign, keyId, alg: signer.alg })
  return signer
}

/**
 * Verifies Ed25519 checkpoint signatures.
 *
 * @example
 * ```ts
 * const report = verifyAuditLog({ files, verifier: ed25519CheckpointVerifier(publicKeyPem, 'prod') })
 * ```
 */
export function ed25519CheckpointVerifier(publicKey: PublicKeyInput, name: string): CheckpointVerifier {
  const key = toPublicKey(publicKey)
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('expected an Ed25519 public key')
  const keyId = ed25519KeyId(name, rawEd25519(key))
  return {
    alg: 'Ed25519',
    keyId,
    verify: (body, signature) => {
      try {
        return verify(null, body, key, signature)
      } catch {
        return false
      }
    },
  }
}

function hmacKeyId(secret: Uint8Array): string {
  // an id derived from the key, never the key: a separate HMAC with a fixed label
  return createHmac('sha256', secret).update('vectorwarden checkpoint key id').digest().subarray(0, 4).toString('hex')
}

/**
 * Signs checkpoints with HMAC-SHA256. Anyone who can verify can also forge, so prefer Ed25519 unless the verifier
 * is the same trusted party. The secret must have at least 32 bytes.
 *
 * @example
 * ```ts
 * const signer = hmacCheckpointSigner(secretBytes)
 * ```
 */
export function hmacCheckpointSigner(secret: Uint8Array): CheckpointSigner & CheckpointVerifier {
  if (!(secret instanceof Uint8Array) || secret.length < 32) throw new TypeError('HMAC checkpoint secret needs ≥ 32 bytes')
  const key = new Uint8Array(secret)
  const mac = (body: Uint8Array) => new Uint8Array(createHmac('sha256', key).update(body).digest())
  const signer: CheckpointSigner & CheckpointVerifier = {
    alg: 'HMAC-SHA256',
    keyId: hmacKeyId(key),
    sign: mac,
    verify: (body, signature) => {
      const expected = mac(body)
      return signature.length === expected.length && timingSafeEqual(expected, signature)
    },
  }
  workerSpecs.set(signer, { spec: { kind: 'hmac', secret: key }, sign: signer.sign, keyId: signer.keyId, alg: signer.alg })
  return signer
}

/**
 * How a built-in signer is rebuilt in the file sink's worker thread: its key (a `KeyObject` or the HMAC secret),
 * which the structured clone of the worker's start data copies into the worker.
 *
 * @internal
 */
export type WorkerSignerSpec =
  | { readonly kind: 'ed25519'; readonly key: KeyObject; readonly name: string }
  | { readonly kind: 'hmac'; readonly secret: Uint8Array }

// the signers made here, their keys, and what they were made with; a signer written by the caller is not in it and
// cannot move to a worker
const workerSpecs = new WeakMap<
  CheckpointSigner,
  { readonly spec: WorkerSignerSpec; readonly sign: CheckpointSigner['sign']; readonly keyId: string; readonly alg: CheckpointSigner['alg'] }
>()

/**
 * The key of a signer made by {@link ed25519CheckpointSigner} or {@link hmacCheckpointSigner} and left as made;
 * `undefined` for any other signer.
 *
 * @internal
 */
export function workerSignerSpec(signer: CheckpointSigner): WorkerSignerSpec | undefined {
  const made = workerSpecs.get(signer)
  // one whose sign, key id or algorithm the caller replaced afterwards is theirs now: the worker would not sign as it does
  return made !== undefined && signer.sign === made.sign && signer.keyId === made.keyId && signer.alg === made.alg ? made.spec : undefined
}

/**
 * The signer a {@link WorkerSignerSpec} describes, rebuilt in the worker.
 *
 * @internal
 */
export function signerFromSpec(spec: WorkerSignerSpec): CheckpointSigner {
  return spec.kind === 'ed25519' ? ed25519CheckpointSigner(spec.key, spec.name) : hmacCheckpointSigner(spec.secret)
}
