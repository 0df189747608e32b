// distance-comparison-preserving encryption of embeddings: scale-and-perturb with a key-derived shuffle and a tag

import { ConfigError, InputError, IntegrityError } from '../../errors.js'
import { platform } from '../../platform/index.js'
import { NoiseGenerator, NONCE_BYTES } from './noise.js'
import { derivePermutation } from './permutation.js'

/**
 * The similarity the vector database computes over the stored (encrypted) vectors.
 *
 * @example
 * ```ts
 * const metric: VectorMetric = 'cosine' // the store may use cosine or dot: ciphertexts are unit length
 * ```
 */
export type VectorMetric = 'euclidean' | 'cosine' | 'dot'

/**
 * The approximation factor β used when none is given, chosen from the measurements in `docs/vector-encryption.md`
 * (bench `vector`): on unit-length vectors in 768 dimensions β = 1 costs about 9 % of recall@10, inside the 3–13 %
 * Cloaked AI reports at its factor 1.5, with a noise norm up to a quarter of the signal's. Lower it for models of
 * 128 dimensions or fewer (β = 1 costs 22 % there), and set it in data units for euclidean and dot.
 *
 * @example
 * ```ts
 * createVectorCipher({ key, metric: 'cosine', dimension: 384, approximationFactor: DEFAULT_APPROXIMATION_FACTOR / 2 })
 * ```
 */
export const DEFAULT_APPROXIMATION_FACTOR = 1

/**
 * Largest dimension accepted; beyond any embedding model in use and keeps scratch buffers bounded.
 *
 * @example
 * ```ts
 * if (embedding.length > MAX_VECTOR_DIMENSION) throw new Error('model too large')
 * ```
 */
export const MAX_VECTOR_DIMENSION = 65_536

/**
 * Options of {@link createVectorCipher}.
 *
 * @example
 * ```ts
 * const options: VectorCipherOptions = { key, metric: 'euclidean', dimension: 384, approximationFactor: 0.5 }
 * ```
 */
export interface VectorCipherOptions {
  /** 32 bytes of key material, e.g. a per-tenant `vector` purpose key from the keyring. Never logged. */
  readonly key: Uint8Array
  /**
   * β of β-distance-comparison preservation (Fuchsbauer et al. 2022), in the units of the vectors (for `cosine`: of
   * the unit-normalised vectors). The noise is uniform in a ball of radius s·β/4, which guarantees:
   * - euclidean: dist(x,y) < dist(x,z) − β implies the ciphertexts keep that order;
   * - cosine: the same for chord distances with gap 4·√(2 − 2√(1 − β²/16)) (1.008·β at β = 1);
   * - dot: ⟨q,y⟩ − ⟨q,z⟩ > β‖q‖/2 + β‖y−z‖/4 + β²/8 implies the order of the ciphertexts' dot products.
   * Larger hides more and ranks worse. Defaults to {@link DEFAULT_APPROXIMATION_FACTOR}.
   */
  readonly approximationFactor?: number
  /** The metric of the collection: `cosine` normalises vectors and emits unit-length ciphertexts. */
  readonly metric: VectorMetric
  /** The number of dimensions of every vector. */
  readonly dimension: number
}

/**
 * An encrypted vector: the vector goes to the database, nonce and tag into reserved metadata fields.
 *
 * @example
 * ```ts
 * const { vector, nonce, tag }: EncryptedVector = cipher.encrypt(embedding)
 * ```
 */
export interface EncryptedVector {
  readonly vector: Float32Array
  /** base64url of 24 random bytes; the noise is regenerated from it. */
  readonly nonce: string
  /** base64url HMAC-SHA256 over format, configuration, nonce, the ciphertext's f32 bytes and associated data. */
  readonly tag: string
}

/**
 * A stored vector as read back from the database.
 *
 * @example
 * ```ts
 * const stored: StoredEncryptedVector = { vector: hit.vector, nonce: hit.metadata._vw_vn, tag: hit.metadata._vw_vt }
 * ```
 */
export interface StoredEncryptedVector {
  readonly vector: Float32Array | readonly number[]
  readonly nonce: string
  readonly tag: string
}

/**
 * Per-call options of encryption and decryption.
 *
 * @example
 * ```ts
 * const binding: VectorCipherCallOptions = { associatedData: new TextEncoder().encode(`docs\u0000${id}`) }
 * ```
 */
export interface VectorCipherCallOptions {
  /**
   * Bytes the tag binds the vector to, e.g. collection and record id, so a vector moved to another record fails
   * integrity. Decrypt with the same bytes.
   */
  readonly associatedData?: Uint8Array
}

/**
 * Encrypts and decrypts vectors of one collection under one key.
 *
 * @example
 * ```ts
 * const cipher: VectorCipher = createVectorCipher({ key, metric: 'cosine', dimension: 768 })
 * ```
 */
export interface VectorCipher {
  readonly metric: VectorMetric
  readonly dimension: number
  readonly approximationFactor: number
  /** Encrypts a vector for storage, with a fresh nonce. Throws `InputError` for a wrong length or non-finite value. */
  encrypt(vector: Float32Array | readonly number[], options?: VectorCipherCallOptions): EncryptedVector
  /**
   * Checks the tag and decrypts. Throws `IntegrityError` when vector, nonce, tag or associated data was altered.
   * For `cosine` the result is the unit-length plaintext (the norm is not kept).
   */
  decrypt(encrypted: StoredEncryptedVector, options?: VectorCipherCallOptions): Float32Array
  /** Encrypts a query vector with a fresh nonce; nothing is kept to decrypt it. */
  encryptQuery(vector: Float32Array | readonly number[]): Float32Array
}

const FORMAT_LABEL = 'vectorwarden/vector/v1'
const TAG_BYTES = 32
const NONCE_TEXT_LENGTH = 32
const TAG_TEXT_LENGTH = 43
const METRIC_CODES: Record<VectorMetric, number> = { euclidean: 1, cosine: 2, dot: 3 }
const MIN_SCALE_LOG2 = 0
const MAX_SCALE_LOG2 = 10
const F32_MAX = 3.4028234663852886e38
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const NONCES_PER_DRAW = 64
let noncePool: Uint8Array = new Uint8Array(0)
let noncePoolOffset = 0

/** A fresh random nonce; drawn 64 at a time because one system call per vector costs more than the arithmetic. */
function freshNonce(): Uint8Array {
  if (noncePoolOffset >= noncePool.length) {
    noncePool = platform.randomBytes(NONCE_BYTES * NONCES_PER_DRAW)
    noncePoolOffset = 0
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES)
  noncePoolOffset += NONCE_BYTES
  return nonce
}

function subkey(key: Uint8Array, purpose: string): Uint8Array {
  return platform.hmacSha256(key, platform.utf8Encode(`${FORMAT_LABEL}/${purpose}`))
}

/** The secret scale s, log-uniform in [1, 1024): hides the absolute size of distances from the database. */
function deriveScale(key: Uint8Array): number {
  const bytes = subkey(key, 'scale')
  let fraction = 0
  for (let index = 5; index >= 0; index--) fraction = fraction * 256 + (bytes[index] as number)
  fraction /= 2 ** 48
  return 2 ** (MIN_SCALE_LOG2 + fraction * (MAX_SCALE_LOG2 - MIN_SCALE_LOG2))
}

function checkOptions(options: VectorCipherOptions): Required<VectorCipherOptions> {
  if (typeof options !== 'object' || options === null) throw new TypeError('createVectorCipher expects an options object')
  const { key, metric, dimension } = options
  const approximationFactor = options.approximationFactor ?? DEFAULT_APPROXIMATION_FACTOR
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array')
  if (typeof dimension !== 'number' || typeof approximationFactor !== 'number') {
    throw new TypeError('dimension and approximationFactor must be numbers')
  }
  if (key.length !== 32) throw new ConfigError('the vector key must be 32 bytes', { reason: 'vector_key_length' })
  if (typeof metric !== 'string' || !Object.hasOwn(METRIC_CODES, metric)) throw new ConfigError('metric must be euclidean, cosine or dot', { reason: 'vector_metric' })
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_VECTOR_DIMENSION) {
    throw new ConfigError(`dimension must be an integer in 1..${MAX_VECTOR_DIMENSION}`, { reason: 'vector_dimension' })
  }
  if (!Number.isFinite(approximationFactor) || approximationFactor <= 0) {
    throw new ConfigError('approximationFactor must be a positive number', { reason: 'vector_approximation_factor' })
  }
  // cosine decryption recovers the norm from ‖noise‖ < s, which needs β < 4; beyond 2 nothing is preserved anyway
  if (metric === 'cosine' && approximationFactor >= 4) {
    throw new ConfigError('approximationFactor must be below 4 for cosine', { reason: 'vector_approximation_factor' })
  }
  return { key, metric, dimension, approximationFactor }
}

function readVector(vector: unknown, dimension: number, fail: (message: string) => Error): Float32Array | readonly number[] {
  if (!(vector instanceof Float32Array) && !Array.isArray(vector)) {
    throw new TypeError('vector must be a Float32Array or an array of numbers')
  }
  const values = vector as Float32Array | readonly number[]
  if (values.length !== dimension) throw fail(`vector has ${values.length} dimensions, expected ${dimension}`)
  if (values instanceof Float32Array) {
    // x − x is NaN exactly for NaN and ±Infinity; one pass without branches per element
    let probe = 0
    for (let index = 0; index < dimension; index++) probe += (values[index] as number) - (values[index] as number)
    if (probe === 0) return values
  }
  for (let index = 0; index < dimension; index++) {
    const value = values[index]
    if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`vector element ${index} is not a finite number`)
  }
  return values
}

/**
 * Creates a cipher for the vectors of one collection: c = s·π(x) + λ, with s a key-derived scale, π a key-derived
 * shuffle of the dimensions and λ uniform in the ball of radius s·β/4 regenerated from a per-vector nonce
 * (scale-and-perturb, Fuchsbauer, Ghosal, Hauke and O'Neill 2022). The database ranks ciphertexts nearly as it
 * would rank plaintexts; only the key holder can undo the noise.
 *
 * @example
 * ```ts
 * const cipher = createVectorCipher({ key: tenantVectorKey, metric: 'cosine', dimension: 768 })
 * const { vector, nonce, tag } = cipher.encrypt(embedding)          // store vector; nonce, tag in metadata
 * const hits = await db.query({ vector: cipher.encryptQuery(question), topK: 10 })
 * const plain = cipher.decrypt({ vector: hits[0].vector, nonce, tag })
 * ```
 */
export function createVectorCipher(options: VectorCipherOptions): VectorCipher {
  const { key, metric, dimension, approximationFactor } = checkOptions(options)
  const scale = deriveScale(key)
  const inverseScale = 1 / scale
  const permutation = derivePermutation(subkey(key, 'shuffle'), dimension)
  const noise = new NoiseGenerator(subkey(key, 'noise'), dimension, (scale * approximationFactor) / 4)
  const tagKey = subkey(key, 'tag')
  const normalise = metric === 'cosine'

  // tag input: header (padded to 4 bytes so the f32 view is aligned) | nonce | ciphertext f32 LE | [ad | ad length]
  const label = platform.utf8Encode(FORMAT_LABEL)
  const headerLength = Math.ceil((label.length + 1 + 8 + 4) / 4) * 4
  const header = new Uint8Array(headerLength)
  header.set(label, 0)
  const headerView = new DataView(header.buffer)
  headerView.setUint8(label.length, METRIC_CODES[metric])
  headerView.setFloat64(label.length + 1, approximationFactor, true)
  headerView.setUint32(label.length + 9, dimension, true)
  const vectorOffset = headerLength + NONCE_BYTES
  const macInput = new Uint8Array(vectorOffset + dimension * 4)
  macInput.set(header, 0)
  const macVector = new Float32Array(macInput.buffer, vectorOffset, dimension)
  const macView = new DataView(macInput.buffer)
  const work = new Float64Array(dimension)

  function computeTag(nonce: Uint8Array, vector: Float32Array | readonly number[], associatedData: Uint8Array | undefined): Uint8Array {
    macInput.set(nonce, headerLength)
    // + 0 turns -0 into +0, so a store that drops the sign of zero does not break the tag
    if (littleEndianHost) for (let index = 0; index < dimension; index++) macVector[index] = (vector[index] as number) + 0
    else for (let index = 0; index < dimension; index++) macView.setFloat32(vectorOffset + index * 4, (vector[index] as number) + 0, true)
    if (associatedData === undefined) return platform.hmacSha256(tagKey, macInput)
    const extended = new Uint8Array(macInput.length + associatedData.length + 4)
    extended.set(macInput, 0)
    extended.set(associatedData, macInput.length)
    new DataView(extended.buffer).setUint32(extended.length - 4, associatedData.length, true)
    return platform.hmacSha256(tagKey, extended)
  }

  /** c = s·π(x) + λ in f64 into `work`; the plaintext is normalised first for cosine. */
  function perturb(vector: Float32Array | readonly number[], nonce: Uint8Array): void {
    let inputScale = scale
    if (normalise) {
      let sumOfSquares = 0
      for (let index = 0; index < dimension; index++) sumOfSquares += (vector[index] as number) ** 2
      if (sumOfSquares === 0) throw new InputError('a zero vector has no direction to compare by cosine', { path: 'vector', reason: 'vector_zero' })
      if (!Number.isFinite(sumOfSquares)) throw new InputError('vector elements are too large to normalise', { path: 'vector', reason: 'vector_out_of_range' })
      inputScale = scale / Math.sqrt(sumOfSquares)
    }
    const factor = noise.generate(nonce)
    const gaussian = noise.gaussian
    for (let index = 0; index < dimension; index++) {
      work[index] = inputScale * (vector[permutation[index] as number] as number) + factor * (gaussian[index] as number)
    }
  }

  /** Writes `work` to a fresh Float32Array, unit length for cosine so a store that normalises changes nothing. */
  function emit(): Float32Array {
    const output = new Float32Array(dimension)
    let multiplier = 1
    if (normalise) {
      let sumOfSquares = 0
      for (let index = 0; index < dimension; index++) sumOfSquares += (work[index] as number) ** 2
      multiplier = 1 / Math.sqrt(sumOfSquares)
    }
    let largest = 0
    for (let index = 0; index < dimension; index++) {
      const value = (work[index] as number) * multiplier
      output[index] = value
      largest = Math.max(largest, Math.abs(value))
    }
    // a plaintext beyond f32 range after scaling would be stored as Infinity and could never be decrypted
    if (!(largest < F32_MAX)) throw new InputError('vector elements are too large to encrypt', { path: 'vector', reason: 'vector_out_of_range' })
    return output
  }

  function checkCallOptions(callOptions: VectorCipherCallOptions | undefined): Uint8Array | undefined {
    const associatedData = callOptions?.associatedData
    if (associatedData !== undefined && !(associatedData instanceof Uint8Array)) throw new TypeError('associatedData must be a Uint8Array')
    return associatedData
  }

  const inputFailure = (message: string) => new InputError(message, { path: 'vector', reason: 'vector_invalid' })
  const integrityFailure = (message: string) => new IntegrityError(message, { reason: 'vector_malformed' })

  return {
    metric,
    dimension,
    approximationFactor,

    encrypt(vector, callOptions) {
      const associatedData = checkCallOptions(callOptions)
      const plain = readVector(vector, dimension, inputFailure)
      const nonce = freshNonce()
      perturb(plain, nonce)
      const output = emit()
      const tag = computeTag(nonce, output, associatedData)
      return { vector: output, nonce: platform.base64urlEncode(nonce), tag: platform.base64urlEncode(tag) }
    },

    decrypt(encrypted, callOptions) {
      if (typeof encrypted !== 'object' || encrypted === null) throw new TypeError('decrypt expects { vector, nonce, tag }')
      const associatedData = checkCallOptions(callOptions)
      if (typeof encrypted.nonce !== 'string' || typeof encrypted.tag !== 'string') throw new TypeError('nonce and tag must be strings')
      const stored = readVector(encrypted.vector, dimension, integrityFailure)
      if (encrypted.nonce.length !== NONCE_TEXT_LENGTH || encrypted.tag.length !== TAG_TEXT_LENGTH) {
        throw integrityFailure('vector nonce or tag is malformed')
      }
      let nonce: Uint8Array
      let tag: Uint8Array
      try {
        nonce = platform.base64urlDecode(encrypted.nonce)
        tag = platform.base64urlDecode(encrypted.tag)
      } catch {
        throw integrityFailure('vector nonce or tag is malformed')
      }
      if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw integrityFailure('vector nonce or tag is malformed')
      // stored numbers are read as f32, as the database holds them, before the tag is checked
      const ciphertext = stored instanceof Float32Array ? stored : Float32Array.from(stored)
      if (!platform.timingSafeEqual(computeTag(nonce, ciphertext, associatedData), tag)) {
        throw new IntegrityError('the vector does not match its tag: altered in storage or under another key', { reason: 'vector_tag_mismatch' })
      }
      const factor = noise.generate(nonce)
      const gaussian = noise.gaussian
      const output = new Float32Array(dimension)
      let stretch = 1
      if (normalise) {
        // the ciphertext was scaled to unit length; recover the scale k from ‖k·c − λ‖ = s (positive root, as ‖λ‖ < s)
        let cross = 0
        let squared = 0
        let noiseSquared = 0
        for (let index = 0; index < dimension; index++) {
          const value = ciphertext[index] as number
          const noiseValue = factor * (gaussian[index] as number)
          cross += value * noiseValue
          squared += value * value
          noiseSquared += noiseValue * noiseValue
        }
        stretch = (cross + Math.sqrt(Math.max(0, cross * cross - squared * (noiseSquared - scale * scale)))) / squared
      }
      for (let index = 0; index < dimension; index++) {
        output[permutation[index] as number] = (stretch * (ciphertext[index] as number) - factor * (gaussian[index] as number)) * inverseScale
      }
      return output
    },

    encryptQuery(vector) {
      const plain = readVector(vector, dimension, inputFailure)
      perturb(plain, freshNonce())
      return emit()
    },
  }
}

/**
 * Moves a stored vector from one key to another (rotation, tenant re-keying): decrypts under `from` and encrypts
 * under `to` with a fresh nonce. The plaintext drifts only by float rounding (measured in the tests: below 1e-6 per
 * element relative to the vector's largest element).
 *
 * @example
 * ```ts
 * const next = reencryptVector(oldCipher, newCipher, { vector, nonce, tag }, { associatedData })
 * ```
 */
export function reencryptVector(
  from: VectorCipher,
  to: VectorCipher,
  encrypted: StoredEncryptedVector,
  options?: VectorCipherCallOptions,
): EncryptedVector {
  return to.encrypt(from.decrypt(encrypted, options), options)
}
