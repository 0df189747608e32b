// the perturbation of scale-and-perturb: a point uniform in a d-ball, regenerated from (key, nonce) by XChaCha20

import { xchacha20 } from '@noble/ciphers/chacha.js'

/** Bytes of nonce per vector: XChaCha20's 24, so random nonces never realistically repeat. */
export const NONCE_BYTES = 24

const LAYERS = 128
// Marsaglia & Tsang (2000), "The Ziggurat Method for Generating Random Variables", 128 layers for N(0,1)
const TAIL_START = 3.442619855899
const LAYER_AREA = 9.91256303526217e-3
const INV_2_POW_24 = 1 / 16777216
const INV_2_POW_32 = 1 / 4294967296
const INV_2_POW_48 = 1 / 281474976710656
const BLOCK_BYTES = 64

const density = (x: number): number => Math.exp(-0.5 * x * x)
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Layer edges X[0..128] (X[0] is the base strip's equivalent width, X[128] = 0) and the density at each edge. */
const edges = new Float64Array(LAYERS + 1)
const edgeDensity = new Float64Array(LAYERS + 1)
const fastRatio = new Float64Array(LAYERS)
edges[0] = LAYER_AREA / density(TAIL_START)
edges[1] = TAIL_START
for (let layer = 1; layer < LAYERS - 1; layer++) {
  const x = edges[layer] as number
  edges[layer + 1] = Math.sqrt(-2 * Math.log(LAYER_AREA / x + density(x)))
}
edges[LAYERS] = 0
for (let layer = 0; layer <= LAYERS; layer++) edgeDensity[layer] = density(edges[layer] as number)
for (let layer = 0; layer < LAYERS; layer++) fastRatio[layer] = (edges[layer + 1] as number) / (edges[layer] as number)

/**
 * Regenerates the noise of one vector into a reusable buffer. The noise is `gaussian[j] * factor`: the Gaussian
 * direction fills `gaussian`, and `factor` folds in the normalisation and the radius, so callers add it in the
 * same pass as the scaling.
 *
 * Direction: Ziggurat sampling of N(0,1), one 32-bit keystream word per sample on the fast path (7 bits pick the
 * layer, 1 the sign, 24 the position; separate bits, avoiding the layer/value correlation of the original).
 * Radius: `R · U^(1/d)` with a 48-bit uniform U, which makes the point uniform in the ball of radius R
 * (Fuchsbauer, Ghosal, Hauke, O'Neill 2022, SAP: λ = u · (sβ/4) · x'^(1/d) / ‖u‖, u ~ N(0, I_d), x' ~ U(0,1)).
 */
export class NoiseGenerator {
  readonly gaussian: Float64Array
  private readonly zeros: Uint8Array
  private readonly stream: Uint8Array
  /** The keystream as little-endian 32-bit words (bytes are swapped in place on big-endian hosts). */
  private readonly words: Uint32Array
  private nonce: Uint8Array = new Uint8Array(NONCE_BYTES)
  private position = 0
  private blocksUsed = 0
  private readonly inverseDimension: number

  /** `bufferBlocks` overrides the keystream buffer size (tests use it to exercise refills); the output is the same. */
  constructor(
    private readonly key: Uint8Array,
    private readonly dimension: number,
    private readonly radius: number,
    bufferBlocks?: number,
  ) {
    this.gaussian = new Float64Array(dimension)
    // one word per sample, two for the radius, and slack for the ~1.2 % of samples that take the slow path
    // (about 1.5 extra words each: 14 words expected at d = 768; a refill covers the rare overrun)
    const bytes = bufferBlocks === undefined ? Math.ceil(((dimension + 2) * 4 + 64 + dimension * 0.1) / BLOCK_BYTES) * BLOCK_BYTES : bufferBlocks * BLOCK_BYTES
    this.zeros = new Uint8Array(bytes)
    this.stream = new Uint8Array(bytes)
    this.words = new Uint32Array(this.stream.buffer)
    this.inverseDimension = 1 / dimension
  }

  private refill(): void {
    xchacha20(this.key, this.nonce, this.zeros, this.stream, this.blocksUsed)
    this.blocksUsed += this.stream.length / BLOCK_BYTES
    this.position = 0
    if (!littleEndianHost) {
      const stream = this.stream
      for (let offset = 0; offset < stream.length; offset += 4) {
        const [a, b, c, d] = [stream[offset], stream[offset + 1], stream[offset + 2], stream[offset + 3]] as number[]
        stream[offset] = d as number
        stream[offset + 1] = c as number
        stream[offset + 2] = b as number
        stream[offset + 3] = a as number
      }
    }
  }

  /** The next keystream word; `position` counts words. */
  private nextWord(): number {
    if (this.position >= this.words.length) this.refill()
    return this.words[this.position++] as number
  }

  /** A uniform in (0, 1), never 0 so that its logarithm is finite. */
  private nextOpenUniform(): number {
    return (this.nextWord() + 0.5) * INV_2_POW_32
  }

  private slowSample(layer: number, signed: number, offset: number): number {
    for (;;) {
      if (layer === 0) {
        // the tail beyond r (Marsaglia 1964): exponential proposals, accepted under the normal's tail
        let x: number
        let y: number
        do {
          x = -Math.log(this.nextOpenUniform()) / TAIL_START
          y = -Math.log(this.nextOpenUniform())
        } while (y + y < x * x)
        return signed * (TAIL_START + x)
      }
      const x = offset * (edges[layer] as number)
      const low = edgeDensity[layer] as number
      const high = edgeDensity[layer + 1] as number
      if (low + this.nextOpenUniform() * (high - low) < density(x)) return signed * x
      const word = this.nextWord()
      layer = word & 127
      signed = word & 128 ? -1 : 1
      offset = (word >>> 8) * INV_2_POW_24
      if (offset < (fastRatio[layer] as number)) return signed * offset * (edges[layer] as number)
    }
  }

  /** Fills `gaussian` for this nonce and returns the factor that turns it into the noise vector. */
  generate(nonce: Uint8Array): number {
    this.nonce = nonce
    this.blocksUsed = 0
    this.refill()
    const words = this.words
    const wordCount = words.length
    const gaussian = this.gaussian
    const dimension = this.dimension
    const radial = (this.nextWord() + (this.nextWord() & 0xffff) * 4294967296) * INV_2_POW_48
    let sumOfSquares = 0
    let position = this.position
    for (let index = 0; index < dimension; index++) {
      let word: number
      if (position < wordCount) word = words[position++] as number
      else {
        this.position = position
        word = this.nextWord()
        position = this.position
      }
      const layer = word & 127
      const offset = (word >>> 8) * INV_2_POW_24
      let value: number
      if (offset < (fastRatio[layer] as number)) value = (word & 128 ? -offset : offset) * (edges[layer] as number)
      else {
        this.position = position
        value = this.slowSample(layer, word & 128 ? -1 : 1, offset)
        position = this.position
      }
      gaussian[index] = value
      sumOfSquares += value * value
    }
    this.position = position
    // a zero-length direction has probability ~0; treat it as no noise rather than divide by zero
    if (sumOfSquares === 0) return 0
    return (this.radius * radial ** this.inverseDimension) / Math.sqrt(sumOfSquares)
  }
}
