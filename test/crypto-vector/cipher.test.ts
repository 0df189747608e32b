import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createVectorCipher, reencryptVector, type VectorCipher, type VectorMetric } from '../../src/crypto/vector/index.js'
import { ConfigError, InputError, IntegrityError } from '../../src/errors.js'

const keyA = Uint8Array.from({ length: 32 }, (_, index) => index + 1)
const keyB = Uint8Array.from({ length: 32 }, (_, index) => 200 - index)

/** A small deterministic generator (mulberry32), so data-driven tests are reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function gaussianVector(random: () => number, dimension: number): Float32Array {
  return Float32Array.from({ length: dimension }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))
}

const norm = (vector: ArrayLike<number>): number => Math.sqrt(Array.from(vector).reduce((sum, value) => sum + value * value, 0))
const distance = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let sum = 0
  for (let index = 0; index < a.length; index++) sum += ((a[index] as number) - (b[index] as number)) ** 2
  return Math.sqrt(sum)
}
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let sum = 0
  for (let index = 0; index < a.length; index++) sum += (a[index] as number) * (b[index] as number)
  return sum
}
const unit = (vector: ArrayLike<number>): Float32Array => {
  const length = norm(vector)
  return Float32Array.from(vector, (value) => value / length)
}

const vectorArbitrary = (dimension: number, bound = 100) =>
  fc.array(fc.float({ min: Math.fround(-bound), max: Math.fround(bound), noNaN: true, noDefaultInfinity: true }), {
    minLength: dimension,
    maxLength: dimension,
  })

describe('vector cipher: decryption', () => {
  it('recovers the vector within 2^-22 · (max|x| + β) per element, for euclidean and dot', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 48 }).chain((dimension) =>
          fc.record({
            dimension: fc.constant(dimension),
            vector: vectorArbitrary(dimension),
            metric: fc.constantFrom<VectorMetric>('euclidean', 'dot'),
            factor: fc.double({ min: 0.01, max: 20, noNaN: true }),
          }),
        ),
        ({ dimension, vector, metric, factor }) => {
          const cipher = createVectorCipher({ key: keyA, metric, dimension, approximationFactor: factor })
          const plain = Float32Array.from(vector)
          const decrypted = cipher.decrypt(cipher.encrypt(plain))
          const largest = Math.max(...Array.from(plain, Math.abs))
          const bound = 2 ** -22 * (largest + factor)
          for (let index = 0; index < dimension; index++) {
            expect(Math.abs((decrypted[index] as number) - (plain[index] as number))).toBeLessThanOrEqual(bound)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('recovers the unit-length vector within 2^-20 · (1 + β) per element, for cosine', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 48 }).chain((dimension) =>
          fc.record({
            vector: vectorArbitrary(dimension).filter((values) => norm(values) > 1e-3),
            factor: fc.double({ min: 0.01, max: 3.9, noNaN: true }),
          }),
        ),
        ({ vector, factor }) => {
          const cipher = createVectorCipher({ key: keyA, metric: 'cosine', dimension: vector.length, approximationFactor: factor })
          const expected = unit(vector)
          const decrypted = cipher.decrypt(cipher.encrypt(vector))
          for (let index = 0; index < vector.length; index++) {
            expect(Math.abs((decrypted[index] as number) - (expected[index] as number))).toBeLessThanOrEqual(2 ** -20 * (1 + factor))
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('emits unit-length ciphertexts for cosine, so a store that normalises leaves them unchanged', () => {
    const random = seededRandom(5)
    const cipher = createVectorCipher({ key: keyA, metric: 'cosine', dimension: 64, approximationFactor: 1 })
    for (let trial = 0; trial < 50; trial++) {
      const { vector } = cipher.encrypt(gaussianVector(random, 64))
      expect(Math.abs(norm(vector) - 1)).toBeLessThan(1e-6)
      expect(Math.abs(norm(cipher.encryptQuery(gaussianVector(random, 64))) - 1)).toBeLessThan(1e-6)
    }
  })

  it('decrypts a vector read back as JSON numbers, as Pinecone and Qdrant return it', () => {
    const cipher = createVectorCipher({ key: keyA, metric: 'euclidean', dimension: 16, approximationFactor: 1 })
    const plain = gaussianVector(seededRandom(9), 16)
    const stored = cipher.encrypt(plain)
    const roundTripped = JSON.parse(JSON.stringify({ vector: Array.from(stored.vector), nonce: stored.nonce, tag: stored.tag }))
    const decrypted = cipher.decrypt(roundTripped)
    expect(distance(decrypted, plain)).toBeLessThan(1e-5)
  })

  it('accepts a stored zero written back with its sign dropped (-0 read as 0)', () => {
    const cipher = createVectorCipher({ key: keyA, metric: 'euclidean', dimension: 4, approximationFactor: 1 })
    const stored = cipher.encrypt([1, 2, 3, 4])
    const flipped = Float32Array.from(stored.vector)
    // the tag is over canonical zeros: -0 and 0 tag alike
    expect(() => cipher.decrypt({ ...stored, vector: Array.from(flipped, (value) => (value === 0 ? -0 : value)) })).not.toThrow()
  })

  it('encrypts the same query differently each time, so repeated queries are not linkable by their vectors', () => {
    const cipher = createVectorCipher({ key: keyA, metric: 'cosine', dimension: 8, approximationFactor: 0.5 })
    const seen = new Set<string>()
    for (let trial = 0; trial < 100; trial++) seen.add(Array.from(cipher.encryptQuery([1, 2, 3, 4, 5, 6, 7, 8])).join(','))
    expect(seen.size).toBe(100)
  })

  it('encrypts the same vector differently each time (fresh nonce) yet decrypts both', () => {
    const cipher = createVectorCipher({ key: keyA, metric: 'dot', dimension: 8, approximationFactor: 1 })
    const first = cipher.encrypt([1, 2, 3, 4, 5, 6, 7, 8])
    const second = cipher.encrypt([1, 2, 3, 4, 5, 6, 7, 8])
    expect(first.nonce).not.toBe(second.nonce)
    expect(Array.from(first.vector)).not.toEqual(Array.from(second.vector))
    expect(distance(cipher.decrypt(first), cipher.decrypt(second))).toBeLessThan(1e-5)
  })
})

describe('vector cipher: distance comparisons', () => {
  /** x, y at distance a and z at distance a + gap from x, in random directions: the tightest triples that matter. */
  const tightTriple = (dimension: number, random: () => number, near: number, gap: number) => {
    const x = gaussianVector(random, dimension)
    const towardY = unit(gaussianVector(random, dimension))
    const towardZ = unit(gaussianVector(random, dimension))
    const y = Float64Array.from(x, (value, index) => value + near * (towardY[index] as number))
    const z = Float64Array.from(x, (value, index) => value + (near + gap) * (towardZ[index] as number))
    return { x: Array.from(x), y: Array.from(y), z: Array.from(z) }
  }

  it('keeps the order of euclidean distances whenever the gap exceeds β (β-DCP), even for the tightest triples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 2, max: 40 }),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        (seed, dimension, factor, near) => {
          const random = seededRandom(seed)
          const cipher = createVectorCipher({ key: keyA, metric: 'euclidean', dimension, approximationFactor: factor })
          // a 0.1 % margin above β absorbs f32 rounding of the ciphertexts
          const { x, y, z } = tightTriple(dimension, random, near, factor * 1.001 + 1e-4)
          expect(distance(x, y)).toBeLessThan(distance(x, z) - factor)
          const query = cipher.encryptQuery(x)
          const stored = cipher.encrypt(x).vector
          const [cy, cz] = [cipher.encrypt(y).vector, cipher.encrypt(z).vector]
          expect(distance(query, cy)).toBeLessThan(distance(query, cz))
          expect(distance(stored, cy)).toBeLessThan(distance(stored, cz))
        },
      ),
      { numRuns: 500 },
    )
  })

  /** A unit vector at angle `angle` from unit `x`, in a random direction. */
  const atAngle = (x: Float32Array, angle: number, random: () => number) => {
    const raw = gaussianVector(random, x.length)
    const along = dot(raw, x)
    const perpendicular = unit(Float64Array.from(raw, (value, index) => value - along * (x[index] as number)))
    return Array.from(x, (value, index) => Math.cos(angle) * value + Math.sin(angle) * (perpendicular[index] as number))
  }
  const chordAngle = (chord: number) => 2 * Math.asin(Math.min(1, chord / 2))

  // a unit x moved by at most β/4 and renormalised lands within chord 2·sin(asin(β/4)/2) of itself
  const cosineBound = (factor: number) => 4 * Math.sqrt(2 - 2 * Math.sqrt(1 - (factor * factor) / 16))

  it('keeps the order of cosine similarities whenever the chord gap of the unit vectors exceeds 4·√(2 − 2√(1 − β²/16)) ≈ β, even for the tightest triples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 2, max: 24 }),
        fc.double({ min: 0.005, max: 1.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (seed, dimension, factor, share) => {
          const random = seededRandom(seed)
          const cipher = createVectorCipher({ key: keyA, metric: 'cosine', dimension, approximationFactor: factor })
          const gap = cosineBound(factor) * 1.001 + 1e-5
          fc.pre(gap < 2)
          const nearChord = share * (2 - gap)
          const x = unit(gaussianVector(random, dimension))
          const near = atAngle(x, chordAngle(nearChord), random)
          const far = atAngle(x, chordAngle(nearChord + gap), random)
          expect(distance(x, near)).toBeLessThan(distance(x, far) - cosineBound(factor))
          const query = cipher.encryptQuery(x)
          expect(dot(query, cipher.encrypt(near).vector)).toBeGreaterThan(dot(query, cipher.encrypt(far).vector))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('keeps the order of dot products whenever ⟨q,y⟩ − ⟨q,z⟩ > β‖q‖/2 + β‖y−z‖/4 + β²/8, even for the tightest pairs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 2, max: 24 }), fc.double({ min: 0.005, max: 1, noNaN: true }), (seed, dimension, factor) => {
        const random = seededRandom(seed)
        const cipher = createVectorCipher({ key: keyA, metric: 'dot', dimension, approximationFactor: factor })
        const q = gaussianVector(random, dimension)
        const length = norm(q)
        fc.pre(length > factor)
        // z = y − t·q/‖q‖: then ⟨q,y⟩ − ⟨q,z⟩ = t‖q‖ and ‖y − z‖ = t; t is the smallest step the bound allows
        const step = (((factor * length) / 2 + (factor * factor) / 8) / (length - factor / 4)) * 1.001 + 1e-5
        const high = gaussianVector(random, dimension)
        const low = Float64Array.from(high, (value, index) => value - (step * (q[index] as number)) / length)
        const bound = (factor * length) / 2 + (factor * distance(high, low)) / 4 + (factor * factor) / 8
        expect(dot(q, high) - dot(q, low)).toBeGreaterThan(bound)
        const query = cipher.encryptQuery(q)
        expect(dot(query, cipher.encrypt(high).vector)).toBeGreaterThan(dot(query, cipher.encrypt(Array.from(low)).vector))
      }),
      { numRuns: 500 },
    )
  })

  it('ranks nearest neighbours almost as plaintext does under the same key, and near chance under another tenant key', () => {
    const random = seededRandom(42)
    const dimension = 32
    // clustered data, so that neighbours exist to be found
    const centres = Array.from({ length: 20 }, () => gaussianVector(random, dimension))
    const base = Array.from({ length: 400 }, (_, index) => {
      const centre = centres[index % centres.length] as Float32Array
      return Float32Array.from(gaussianVector(random, dimension), (value, dim) => (centre[dim] as number) + 0.5 * value)
    })
    const owner = createVectorCipher({ key: keyA, metric: 'cosine', dimension, approximationFactor: 0.2 })
    const stranger = createVectorCipher({ key: keyB, metric: 'cosine', dimension, approximationFactor: 0.2 })
    const stored = base.map((vector) => owner.encrypt(vector).vector)
    const top = (query: Float32Array, vectors: readonly Float32Array[]) =>
      vectors
        .map((vector, id) => ({ id, similarity: dot(query, vector) / (norm(query) * norm(vector)) }))
        .sort((first, second) => second.similarity - first.similarity)
        .slice(0, 10)
        .map((hit) => hit.id)
    let ownHits = 0
    let strangerHits = 0
    const queries = 40
    for (let trial = 0; trial < queries; trial++) {
      const query = base[(trial * 7) % base.length] as Float32Array
      const truth = new Set(top(query, base))
      ownHits += top(owner.encryptQuery(query), stored).filter((id) => truth.has(id)).length
      strangerHits += top(stranger.encryptQuery(query), stored).filter((id) => truth.has(id)).length
    }
    expect(ownHits / (queries * 10)).toBeGreaterThan(0.8)
    // chance is 10/400 = 2.5 %; clustered data lifts chance a little, a working key would be near 100 %
    expect(strangerHits / (queries * 10)).toBeLessThan(0.15)
  })
})

describe('vector cipher: integrity', () => {
  const dimension = 12
  const cipher = createVectorCipher({ key: keyA, metric: 'euclidean', dimension, approximationFactor: 1 })
  const plain = gaussianVector(seededRandom(3), dimension)

  const expectIntegrityError = (action: () => unknown, reason: string) => {
    try {
      action()
    } catch (error) {
      expect(IntegrityError.isInstance(error)).toBe(true)
      expect((error as IntegrityError).reason).toBe(reason)
      return
    }
    throw new Error('expected an IntegrityError')
  }

  it('rejects a vector with any element changed, by as little as one ulp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: dimension - 1 }), fc.constantFrom(-1, 1), fc.integer({ min: 1, max: 1000 }), (index, direction, ulps) => {
        const stored = cipher.encrypt(plain)
        const altered = Float32Array.from(stored.vector)
        const bits = new Int32Array(altered.buffer)
        bits[index] = (bits[index] as number) + direction * ulps
        fc.pre(Number.isFinite(altered[index]) && altered[index] !== stored.vector[index])
        expectIntegrityError(() => cipher.decrypt({ ...stored, vector: altered }), 'vector_tag_mismatch')
      }),
    )
  })

  it('rejects a changed nonce, a changed tag and a nonce taken from another record', () => {
    const stored = cipher.encrypt(plain)
    const other = cipher.encrypt(plain)
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1)
    expectIntegrityError(() => cipher.decrypt({ ...stored, nonce: flip(stored.nonce) }), 'vector_tag_mismatch')
    expectIntegrityError(() => cipher.decrypt({ ...stored, tag: flip(stored.tag) }), 'vector_tag_mismatch')
    expectIntegrityError(() => cipher.decrypt({ ...stored, nonce: other.nonce }), 'vector_tag_mismatch')
    expectIntegrityError(() => cipher.decrypt({ ...stored, tag: other.tag }), 'vector_tag_mismatch')
  })

  it('rejects malformed nonce, tag and vector fields as malformed', () => {
    const stored = cipher.encrypt(plain)
    expectIntegrityError(() => cipher.decrypt({ ...stored, nonce: 'short' }), 'vector_malformed')
    expectIntegrityError(() => cipher.decrypt({ ...stored, tag: `${stored.tag.slice(0, -1)}!` }), 'vector_malformed')
    expectIntegrityError(() => cipher.decrypt({ ...stored, vector: stored.vector.subarray(1) }), 'vector_malformed')
    expectIntegrityError(() => cipher.decrypt({ ...stored, vector: Array.from(stored.vector, (value, index) => (index === 0 ? Number.NaN : value)) }), 'vector_malformed')
  })

  it('rejects a vector moved to another record when associated data binds it to its place', () => {
    const bound = (id: string) => ({ associatedData: new TextEncoder().encode(`docs\u0000${id}`) })
    const stored = cipher.encrypt(plain, bound('record-1'))
    expect(distance(cipher.decrypt(stored, bound('record-1')), plain)).toBeLessThan(1e-5)
    expectIntegrityError(() => cipher.decrypt(stored, bound('record-2')), 'vector_tag_mismatch')
    expectIntegrityError(() => cipher.decrypt(stored), 'vector_tag_mismatch')
  })

  it('rejects a vector encrypted under another key or another configuration', () => {
    const stored = cipher.encrypt(plain)
    const otherKey = createVectorCipher({ key: keyB, metric: 'euclidean', dimension, approximationFactor: 1 })
    const otherFactor = createVectorCipher({ key: keyA, metric: 'euclidean', dimension, approximationFactor: 2 })
    const otherMetric = createVectorCipher({ key: keyA, metric: 'dot', dimension, approximationFactor: 1 })
    expectIntegrityError(() => otherKey.decrypt(stored), 'vector_tag_mismatch')
    expectIntegrityError(() => otherFactor.decrypt(stored), 'vector_tag_mismatch')
    expectIntegrityError(() => otherMetric.decrypt(stored), 'vector_tag_mismatch')
  })
})

describe('vector cipher: rotation', () => {
  it('re-encrypts under a new key with drift below 2^-21 · (max|x| + β), and the old key no longer opens it', () => {
    const random = seededRandom(11)
    const before = createVectorCipher({ key: keyA, metric: 'euclidean', dimension: 64, approximationFactor: 1.5 })
    const after = createVectorCipher({ key: keyB, metric: 'euclidean', dimension: 64, approximationFactor: 1.5 })
    for (let trial = 0; trial < 50; trial++) {
      const plain = Float32Array.from(gaussianVector(random, 64), (value) => value * 3)
      const moved = reencryptVector(before, after, before.encrypt(plain))
      const back = after.decrypt(moved)
      const largest = Math.max(...Array.from(plain, Math.abs))
      for (let index = 0; index < 64; index++) expect(Math.abs((back[index] as number) - (plain[index] as number))).toBeLessThanOrEqual(2 ** -21 * (largest + 1.5))
      expect(() => before.decrypt(moved)).toThrow(IntegrityError)
    }
  })
})

describe('vector cipher: configuration and input', () => {
  const valid = { key: keyA, metric: 'cosine' as const, dimension: 8 }

  it('throws ConfigError for a key that is not 32 bytes, a bad dimension or factor, or an unknown metric', () => {
    const attempts: unknown[] = [
      { ...valid, key: new Uint8Array(16) },
      { ...valid, dimension: 0 },
      { ...valid, dimension: 1.5 },
      { ...valid, dimension: 70_000 },
      { ...valid, approximationFactor: 0 },
      { ...valid, approximationFactor: -1 },
      { ...valid, approximationFactor: Number.NaN },
      { ...valid, approximationFactor: Number.POSITIVE_INFINITY },
      { ...valid, approximationFactor: 4 },
      { ...valid, metric: 'manhattan' },
      { ...valid, metric: 'toString' },
      { ...valid, metric: 'constructor' },
    ]
    for (const options of attempts) {
      expect(() => createVectorCipher(options as Parameters<typeof createVectorCipher>[0])).toThrow(ConfigError)
    }
  })

  it('throws TypeError for arguments of the wrong type', () => {
    expect(() => createVectorCipher({ ...valid, key: 'secret' as unknown as Uint8Array })).toThrow(TypeError)
    expect(() => createVectorCipher({ ...valid, dimension: '8' as unknown as number })).toThrow(TypeError)
    const cipher = createVectorCipher(valid)
    expect(() => cipher.encrypt('vector' as unknown as number[])).toThrow(TypeError)
    expect(() => cipher.decrypt(null as unknown as { vector: number[]; nonce: string; tag: string })).toThrow(TypeError)
    expect(() => cipher.encrypt([1, 2, 3, 4, 5, 6, 7, 8], { associatedData: 'id' as unknown as Uint8Array })).toThrow(TypeError)
  })

  it('throws InputError with path "vector" for a wrong length, a non-finite element, a value beyond f32 range or a zero cosine vector', () => {
    const cipher = createVectorCipher(valid)
    const euclidean = createVectorCipher({ ...valid, metric: 'euclidean' })
    const attempts: (readonly number[])[] = [[1, 2, 3], [1, 2, 3, 4, 5, 6, 7, Number.NaN], [0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, Number.POSITIVE_INFINITY], [1e200, 1, 1, 1, 1, 1, 1, 1]]
    for (const vector of attempts) {
      for (const action of [() => cipher.encrypt(vector), () => cipher.encryptQuery(vector), () => euclidean.encrypt(vector.length === 8 && vector[0] !== 0 ? vector : [Number.NaN])]) {
        try {
          action()
          throw new Error('expected an InputError')
        } catch (error) {
          expect(InputError.isInstance(error)).toBe(true)
          expect((error as InputError).path).toBe('vector')
        }
      }
    }
  })
})

describe('vector cipher: secrets stay inside', () => {
  const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')

  it('never puts key material or vector values in errors, and does not expose the key on the cipher', () => {
    const secretValue = 0.123456789
    const cipher: VectorCipher = createVectorCipher({ key: keyA, metric: 'euclidean', dimension: 4, approximationFactor: 1 })
    const stored = cipher.encrypt([secretValue, 2, 3, 4])
    const messages: string[] = []
    const capture = (action: () => unknown) => {
      try {
        action()
      } catch (error) {
        messages.push(String(error), JSON.stringify(error), (error as Error).stack ?? '')
      }
    }
    capture(() => cipher.encrypt([secretValue, 2, 3]))
    capture(() => cipher.encrypt([secretValue, 2, 3, Number.NaN]))
    capture(() => cipher.decrypt({ ...stored, vector: Float32Array.from(stored.vector, (value) => value + 1) }))
    capture(() => cipher.decrypt({ ...stored, tag: 'x'.repeat(43) }))
    capture(() => createVectorCipher({ key: keyA.subarray(0, 31), metric: 'euclidean', dimension: 4 }))
    expect(messages.length).toBeGreaterThanOrEqual(15)
    const visible = `${messages.join('\n')}\n${JSON.stringify(cipher)}\n${Object.keys(cipher).join(',')}`
    expect(visible).not.toContain('0.1234')
    expect(visible).not.toContain(String(stored.vector[0]).slice(0, 6))
    expect(visible).not.toContain(hex(keyA).slice(0, 16))
    expect(visible).not.toContain(Buffer.from(keyA).toString('base64').slice(0, 12))
    expect(Object.keys(cipher).sort()).toEqual(['approximationFactor', 'decrypt', 'dimension', 'encrypt', 'encryptQuery', 'metric'])
  })
})
