// field-level encryption of metadata: keyring, key providers, envelopes, blind indexes, record MACs, re-encryption

export { BLIND_INDEX_PREFIX, DEFAULT_BLIND_INDEX_BITS } from './blind-index.js'
export { ENVELOPE_PREFIX } from './envelope.js'
export {
  type CollectionEncryptionConfig,
  type EnvelopePlace,
  FieldEncryption,
  type FieldEncryptionConfig,
  fieldEncryption,
  type RedactionMode,
  RESERVED_PREFIX,
} from './field-encryption.js'
export { type DerivedKey, type DeriveOptions, generateKey, type KeyInfo, type KeyInput, type KeyPurpose, Keyring, type KeyScope, type KeyState } from './keyring.js'
export { generateKeyText, type KeyContext, type KeyProvider, type KeyringDocument, keyringDocumentDigest, localKeyProvider, parseKeyringDocument } from './providers.js'
export { RECORD_MAC_FIELD } from './record-mac.js'
export { type ReencryptOptions, type ReencryptProgress, reencryptCollection } from './reencrypt.js'
export { SUITES, type SuiteName } from './suites.js'
