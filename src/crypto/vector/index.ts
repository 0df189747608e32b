// distance-comparison-preserving vector encryption: public surface of the module

export {
  createVectorCipher,
  DEFAULT_APPROXIMATION_FACTOR,
  type EncryptedVector,
  MAX_VECTOR_DIMENSION,
  reencryptVector,
  type StoredEncryptedVector,
  type VectorCipher,
  type VectorCipherCallOptions,
  type VectorCipherOptions,
  type VectorMetric,
} from './cipher.js'
export {
  type CollectionVectorConfig,
  type KeyedVectorCipher,
  VECTOR_METADATA_FIELDS,
  type VectorCipherSource,
  type VectorKeyScope,
  vectorBinding,
  vectorCipherSource,
} from './keys.js'
export { type VectorEncryptionOptions, vectorEncryption } from './protector.js'
