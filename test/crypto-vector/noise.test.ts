import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NoiseGenerator } from '../../src/crypto/vector/noise.js'
import { derivePermutation } from '../../src/crypto/vector/permutation.js'

const key = Uint8Array.from({ length: 32 }, (_, index) => index * 7)
const nonceFrom = (seed: number) => {
  const nonce = Uint8Array.from({ length: 24 }, (_, index) => index * 13)
  new DataView(nonce.buffer).setUint32(0, seed, true)
  return nonce
}

function noiseVector(generator: NoiseGenerator, nonce: Uint8Array): Float64Array {
  const factor = generator.generate(nonce)
  return generator.gaussian.map((value) => value * factor)
}
const length = (vector: ArrayLike<number>) => Math.sqrt(Array.from(vector).reduce((sum, value) => sum + value * value, 0))

describe('key-derived permutation', () => {
  it('is a permutation of 0..d-1 for every key and dimension', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 3000 }), (permutationKey, dimension) => {
        const permutation = derivePermutation(permutationKey, dimension)
        expect(permutation.length).toBe(dimension)
        expect(new Set(permutation).size).toBe(dimension)
        expect(Math.max(...permutation)).toBe(dimension - 1)
      }),
      { numRuns: 100 },
    )
  })

  it('is the same for the same key and differs between keys', () => {
    const other = Uint8Array.from(key, (byte) => byte ^ 1)
    expect(Array.from(derivePermutation(key, 768))).toEqual(Array.from(derivePermutation(key, 768)))
    expect(Array.from(derivePermutation(key, 768))).not.toEqual(Array.from(derivePermutation(other, 768)))
  })

  it('puts each index in each position about equally often across keys (no modulo bias)', () => {
    const dimension = 5
    const counts = Array.from({ length: dimension }, () => new Array<number>(dimension).fill(0))
    const trials = 5000
    for (let trial = 0; trial < trials; trial++) {
      const trialKey = new Uint8Array(32)
      new DataView(trialKey.buffer).setUint32(0, trial, true)
      for (const [position, value] of derivePermutation(trialKey, dimension).entries()) counts[position]![value]! += 1
    }
    // each cell expects 1000; 5 standard deviations is ±~140
    for (const row of counts) for (const count of row) expect(Math.abs(count - trials / dimension)).toBeLessThan(150)
  })
})

describe('noise generator', () => {
  it('regenerates exactly the same noise from the same key and nonce', () => {
    const first = new NoiseGenerator(key, 300, 2)
    const second = new NoiseGenerator(key, 300, 2)
    const a = noiseVector(first, nonceFrom(1))
    noiseVector(first, nonceFrom(2))
    expect(Array.from(noiseVector(second, nonceFrom(1)))).toEqual(Array.from(a))
  })

  it('draws the same noise however often the keystream buffer is refilled (the stream continues across refills)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.integer({ min: 1, max: 4 }), (dimension, nonce, blocks) => {
        const roomy = new NoiseGenerator(key, dimension, 1)
        const cramped = new NoiseGenerator(key, dimension, 1, blocks)
        expect(Array.from(noiseVector(cramped, nonce))).toEqual(Array.from(noiseVector(roomy, nonce)))
      }),
      { numRuns: 200 },
    )
  })

  it('never exceeds the ball radius, for any dimension and nonce', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (dimension, nonce, radius) => {
        const generator = new NoiseGenerator(key, dimension, radius)
        expect(length(noiseVector(generator, nonce))).toBeLessThanOrEqual(radius * (1 + 1e-12))
      }),
      { numRuns: 300 },
    )
  })

  it('is uniform in the ball: P(‖λ‖ ≤ t·R) = t^d', () => {
    const dimension = 3
    const generator = new NoiseGenerator(key, dimension, 1)
    const trials = 20000
    const below = [0.5, 0.8, 0.9].map(() => 0)
    for (let trial = 0; trial < trials; trial++) {
      const radius = length(noiseVector(generator, nonceFrom(trial)))
      ;[0.5, 0.8, 0.9].forEach((threshold, index) => {
        if (radius <= threshold) below[index]! += 1
      })
    }
    ;[0.5, 0.8, 0.9].forEach((threshold, index) => {
      const expected = threshold ** dimension
      // 5 standard deviations of a binomial proportion
      expect(Math.abs((below[index] as number) / trials - expected)).toBeLessThan(5 * Math.sqrt((expected * (1 - expected)) / trials))
    })
  })

  it('points in every direction alike: each coordinate of the unit direction has mean 0 and variance 1/d', () => {
    const dimension = 16
    const generator = new NoiseGenerator(key, dimension, 1)
    const trials = 20000
    const sums = new Float64Array(dimension)
    const squares = new Float64Array(dimension)
    for (let trial = 0; trial < trials; trial++) {
      const noise = noiseVector(generator, nonceFrom(trial + 99999))
      const size = length(noise)
      noise.forEach((value, index) => {
        sums[index]! += value / size
        squares[index]! += (value / size) ** 2
      })
    }
    for (let index = 0; index < dimension; index++) {
      expect(Math.abs((sums[index] as number) / trials)).toBeLessThan(0.01)
      expect(Math.abs((squares[index] as number) / trials - 1 / dimension)).toBeLessThan(0.004)
    }
  })

  it('draws Gaussian coordinates: moments and tail mass of N(0,1)', () => {
    const generator = new NoiseGenerator(key, 1000, 1)
    let count = 0
    let mean = 0
    let second = 0
    let fourth = 0
    let tail = 0
    for (let trial = 0; trial < 300; trial++) {
      generator.generate(nonceFrom(trial + 7))
      for (const value of generator.gaussian) {
        count++
        mean += value
        second += value * value
        fourth += value ** 4
        if (Math.abs(value) > 3) tail++
      }
    }
    expect(Math.abs(mean / count)).toBeLessThan(0.01)
    expect(Math.abs(second / count - 1)).toBeLessThan(0.02)
    expect(Math.abs(fourth / count - 3)).toBeLessThan(0.1)
    // P(|z| > 3) = 0.0027; a Ziggurat tail bug shows here first
    expect(Math.abs(tail / count - 0.0027)).toBeLessThan(0.0005)
  })
})
