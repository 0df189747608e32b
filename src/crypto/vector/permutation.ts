// the key-derived shuffle of dimensions: an unbiased Fisher–Yates permutation drawn from a ChaCha20 keystream

import { chacha20 } from '@noble/ciphers/chacha.js'

const BLOCK_BYTES = 64
const TWO_POW_32 = 4294967296

/** Reads little-endian 32-bit words from a ChaCha20 keystream, refilling block-aligned as it runs out. */
class KeystreamReader {
  private buffer = new Uint8Array(0)
  private position = 0
  private blocksUsed = 0
  private readonly zeros: Uint8Array
  private readonly nonce = new Uint8Array(12)

  constructor(
    private readonly key: Uint8Array,
    private readonly refillBytes: number,
  ) {
    this.zeros = new Uint8Array(refillBytes)
  }

  nextUint32(): number {
    if (this.position + 4 > this.buffer.length) {
      // the counter continues where the last refill stopped, so the stream never repeats
      this.buffer = chacha20(this.key, this.nonce, this.zeros, undefined, this.blocksUsed)
      this.blocksUsed += this.refillBytes / BLOCK_BYTES
      this.position = 0
    }
    const b = this.buffer
    const p = this.position
    this.position += 4
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0
  }
}

/**
 * A uniformly random permutation of `0..dimension-1` determined by `key` (32 bytes).
 * Rejection sampling keeps every index equally likely (no modulo bias).
 */
export function derivePermutation(key: Uint8Array, dimension: number): Uint32Array {
  const permutation = new Uint32Array(dimension)
  for (let index = 0; index < dimension; index++) permutation[index] = index
  const refillBytes = Math.max(BLOCK_BYTES, Math.ceil((dimension * 4 + 256) / BLOCK_BYTES) * BLOCK_BYTES)
  const reader = new KeystreamReader(key, refillBytes)
  for (let index = dimension - 1; index > 0; index--) {
    const bound = index + 1
    const limit = TWO_POW_32 - (TWO_POW_32 % bound)
    let draw = reader.nextUint32()
    while (draw >= limit) draw = reader.nextUint32()
    const other = draw % bound
    const held = permutation[index] as number
    permutation[index] = permutation[other] as number
    permutation[other] = held
  }
  return permutation
}
