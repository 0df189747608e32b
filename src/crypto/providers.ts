// key providers: data keys wrapped by a key-encryption key (built-in local provider; the shape a KMS implements)

import { z } from 'zod'
import { ConfigError, IntegrityError } from '../errors.js'
import { type Platform, platform as defaultPlatform } from '../platform/index.js'
import { framed, KEY_ID_PATTERN } from './bytes.js'

/** What a wrapped key is bound to; a provider must refuse to unwrap under another context. */
export interface KeyContext {
  readonly keyId: string
  readonly tenant?: string
  /**
   * In version 2 documents: {@link keyringDocumentDigest} of the document's metadata (every key's id, tenant, state
   * and creation time, the shredded tenants). Binding it into every wrap means the metadata cannot be edited without
   * the KEK: a retired key made primary again, or a shred undone, no longer unwraps.
   */
  readonly document?: string
}

/**
 * Wraps and unwraps data keys with a key-encryption key (KEK) the provider holds. The built-in
 * {@link localKeyProvider} keeps the KEK in memory; a cloud KMS or Vault Transit provider implements the same two
 * methods with the service's encrypt/decrypt calls, passing `context` as the encryption context (AWS KMS
 * `EncryptionContext`, GCP `additionalAuthenticatedData`, Vault `context`), so that a wrapped key cannot be
 * unwrapped as another key or tenant.
 *
 * @example
 * ```ts
 * const kmsProvider: KeyProvider = {
 *   name: 'aws-kms',
 *   async wrapKey(key, context) {
 *     const out = await kms.encrypt({ KeyId: kekArn, Plaintext: key, EncryptionContext: { ...context } })
 *     return Buffer.from(out.CiphertextBlob!).toString('base64url')
 *   },
 *   async unwrapKey(wrapped, context) {
 *     const out = await kms.decrypt({ CiphertextBlob: Buffer.from(wrapped, 'base64url'), EncryptionContext: { ...context } })
 *     return new Uint8Array(out.Plaintext!)
 *   },
 * }
 * ```
 */
export interface KeyProvider {
  /** Recorded in keyring documents, e.g. `local`, `aws-kms`. */
  readonly name: string
  /** Returns the wrapped key as a string safe to store. */
  wrapKey(key: Uint8Array, context: KeyContext): Promise<string>
  /** Throws when the wrapped key does not verify under the KEK and the context. */
  unwrapKey(wrapped: string, context: KeyContext): Promise<Uint8Array>
}

/** A keyring at rest: every key wrapped by a key provider, nothing in clear. */
export interface KeyringDocument {
  readonly format: 'vectorwarden-keyring'
  /** 2 (written): the metadata is bound into every wrap; 1 (read only): only each key's id and tenant are. */
  readonly version: 1 | 2
  readonly provider: string
  readonly keys: readonly {
    readonly id: string
    readonly tenant?: string
    readonly state: 'primary' | 'active' | 'retired'
    readonly createdAt: number
    readonly wrapped: string
  }[]
  readonly shreddedTenants: readonly string[]
}

const documentSchema = z.object({
  format: z.literal('vectorwarden-keyring'),
  version: z.union([z.literal(1), z.literal(2)]),
  provider: z.string(),
  keys: z.array(
    z.object({
      id: z.string().regex(KEY_ID_PATTERN),
      tenant: z.string().min(1).optional(),
      state: z.enum(['primary', 'active', 'retired']),
      createdAt: z.number().int().nonnegative(),
      wrapped: z.string().min(1),
    }),
  ),
  shreddedTenants: z.array(z.string().min(1)),
})

/**
 * Checks the shape of a keyring document; throws `ConfigError` naming the first problem (never key material).
 *
 * @example
 * ```ts
 * const document = parseKeyringDocument(JSON.parse(text))
 * ```
 */
export function parseKeyringDocument(document: unknown): KeyringDocument {
  const result = documentSchema.safeParse(document)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new ConfigError(`not a keyring document: ${issue?.path.join('.') || 'document'} ${issue?.message ?? ''}`.trim(), { reason: 'keyring_document' })
  }
  return result.data as KeyringDocument
}

const WRAP_PREFIX = 'vwk1.'
const WRAP_LABEL = 'vectorwarden/wrap/v1'
const WRAP_LABEL_DOCUMENT = 'vectorwarden/wrap/v2'

/**
 * The digest (SHA-256, hex) of a keyring document's metadata: its provider, every key's id, tenant, state and
 * creation time (sorted by id), and the shredded tenants (sorted). Version 2 documents bind it into every wrapped
 * key ({@link KeyContext.document}).
 *
 * @example
 * ```ts
 * const digest = keyringDocumentDigest(platform, document)
 * ```
 */
export function keyringDocumentDigest(
  platform: Platform,
  document: Pick<KeyringDocument, 'provider' | 'shreddedTenants'> & { readonly keys: readonly Omit<KeyringDocument['keys'][number], 'wrapped'>[] },
): string {
  const keys = [...document.keys]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((key) => [key.id, key.tenant ?? null, key.state, key.createdAt])
  const shredded = [...document.shreddedTenants].sort()
  return platform.sha256Hex(JSON.stringify(['vectorwarden-keyring/v2', document.provider, keys, shredded]))
}

function decodeKey(key: Uint8Array | string, platform: Platform, what: string): Uint8Array {
  let bytes: Uint8Array
  if (typeof key === 'string') {
    try {
      bytes = platform.base64urlDecode(key.trim())
    } catch {
      throw new ConfigError(`${what} is not base64url`, { reason: 'key_encoding' })
    }
  } else if (key instanceof Uint8Array) bytes = key
  else throw new TypeError(`${what} must be a Uint8Array or a base64url string`)
  if (bytes.length !== 32) throw new ConfigError(`${what} must be 32 bytes`, { reason: 'key_length' })
  if (bytes.every((byte) => byte === 0)) throw new ConfigError(`${what} is all zeros`, { reason: 'key_weak' })
  return bytes.slice()
}

/**
 * A key provider whose key-encryption key is held in this process (from a secret manager or an environment
 * variable). Wraps with XChaCha20-Poly1305 under a random 24-byte nonce, the context in the associated data:
 * `vwk1.` + base64url(nonce ‖ ciphertext ‖ tag).
 *
 * @example
 * ```ts
 * const provider = localKeyProvider({ kek: process.env.VECTORWARDEN_KEK! })
 * const keyring = await Keyring.load(document, provider)
 * ```
 */
export function localKeyProvider(options: { readonly kek: Uint8Array | string; readonly platform?: Platform }): KeyProvider {
  if (typeof options !== 'object' || options === null) throw new TypeError('localKeyProvider options must be an object')
  const platform = options.platform ?? defaultPlatform
  const kek = decodeKey(options.kek, platform, 'the key-encryption key')
  const aad = (context: KeyContext): Uint8Array =>
    context.document === undefined
      ? framed([platform.utf8Encode(WRAP_LABEL), platform.utf8Encode(context.keyId), platform.utf8Encode(context.tenant ?? '')])
      : framed([platform.utf8Encode(WRAP_LABEL_DOCUMENT), platform.utf8Encode(context.keyId), platform.utf8Encode(context.tenant ?? ''), platform.utf8Encode(context.document)])
  return {
    name: 'local',
    async wrapKey(key, context) {
      if (!(key instanceof Uint8Array)) throw new TypeError('wrapKey needs the key as a Uint8Array')
      const nonce = platform.randomBytes(24)
      const sealed = platform.aeadSeal('xchacha20-poly1305', kek, nonce, key, aad(context))
      const out = new Uint8Array(24 + sealed.length)
      out.set(nonce)
      out.set(sealed, 24)
      return WRAP_PREFIX + platform.base64urlEncode(out)
    },
    async unwrapKey(wrapped, context) {
      if (typeof wrapped !== 'string' || !wrapped.startsWith(WRAP_PREFIX)) throw new IntegrityError('not a wrapped key', { reason: 'wrapped_key_malformed' })
      let bytes: Uint8Array
      try {
        bytes = platform.base64urlDecode(wrapped.slice(WRAP_PREFIX.length))
      } catch {
        throw new IntegrityError('not a wrapped key', { reason: 'wrapped_key_malformed' })
      }
      if (bytes.length < 24 + 16) throw new IntegrityError('not a wrapped key', { reason: 'wrapped_key_malformed' })
      const key = platform.aeadOpen('xchacha20-poly1305', kek, bytes.subarray(0, 24), bytes.subarray(24), aad(context))
      if (key === undefined) throw new IntegrityError('the wrapped key did not verify under this key-encryption key and context', { reason: 'wrapped_key_invalid' })
      return key
    },
  }
}

/**
 * A new random 32-byte key as base64url text: for a key-encryption key in a secret manager, or keyring material.
 *
 * @example
 * ```ts
 * const kek = generateKeyText() // store it in your secret manager
 * ```
 */
export function generateKeyText(platform: Platform = defaultPlatform): string {
  return platform.base64urlEncode(platform.randomBytes(32))
}
