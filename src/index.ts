// vectorwarden: zero-trust enforcement around vector databases — re-exports only

export type * from './spec/index.js'
export { ACTIONS } from './spec/index.js'
export * from './errors.js'
export * from './core/index.js'
export { memoryAdapter, type MemoryAdapterOptions } from './adapters/memory/index.js'
export type { RetryOptions } from './adapters/shared/retry.js'
export * from './filter/index.js'
export * from './audit/index.js'
export * from './auth/index.js'
export * from './policy/index.js'
export {
  BLIND_INDEX_PREFIX,
  type CollectionEncryptionConfig,
  DEFAULT_BLIND_INDEX_BITS,
  type DerivedKey,
  type DeriveOptions,
  ENVELOPE_PREFIX,
  type EnvelopePlace,
  FieldEncryption,
  type FieldEncryptionConfig,
  fieldEncryption,
  generateKey,
  generateKeyText,
  type KeyContext,
  type KeyInfo,
  type KeyInput,
  type KeyPurpose,
  type KeyProvider,
  Keyring,
  type KeyringDocument,
  keyringDocumentDigest,
  type KeyScope,
  type KeyState,
  localKeyProvider,
  parseKeyringDocument,
  RECORD_MAC_FIELD,
  type ReencryptOptions,
  type ReencryptProgress,
  type RedactionMode,
  reencryptCollection,
  SUITES,
  type SuiteName,
} from './crypto/index.js'
export {
  type CollectionVectorConfig,
  createVectorCipher,
  DEFAULT_APPROXIMATION_FACTOR,
  type EncryptedVector,
  type KeyedVectorCipher,
  MAX_VECTOR_DIMENSION,
  reencryptVector,
  type StoredEncryptedVector,
  VECTOR_METADATA_FIELDS,
  type VectorCipher,
  type VectorCipherCallOptions,
  type VectorCipherOptions,
  type VectorCipherSource,
  type VectorEncryptionOptions,
  type VectorKeyScope,
  type VectorMetric,
  vectorBinding,
  vectorCipherSource,
  vectorEncryption,
} from './crypto/vector/index.js'
export * from './analytics/index.js'
export * from './state/index.js'
