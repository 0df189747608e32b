// HMAC-SHA256 from cached midstates: a key and a fixed, block-aligned prefix are absorbed once, each message costs only its own blocks

/** SHA-256 block size in bytes; prefixes absorbed into a midstate are padded to a multiple of it. */
export const BLOCK_LENGTH = 64

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes
const ROUND_CONSTANTS = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

// FIPS 180-4 §5.3.3: the initial hash value
const INITIAL_STATE = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

// one schedule and one padding block for the whole module: JavaScript runs one compression at a time
const schedule = new Int32Array(64)
const tail = new Uint8Array(2 * BLOCK_LENGTH)

/** Applies the compression function to one 64-byte block at `offset` (FIPS 180-4 §6.2.2). */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  const w = schedule
  for (let i = 0; i < 16; i++) {
    const o = offset + 4 * i
    w[i] = ((block[o] as number) << 24) | ((block[o + 1] as number) << 16) | ((block[o + 2] as number) << 8) | (block[o + 3] as number)
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number
    const y = w[i - 2] as number
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0
  }
  let a = state[0] as number
  let b = state[1] as number
  let c = state[2] as number
  let d = state[3] as number
  let e = state[4] as number
  let f = state[5] as number
  let g = state[6] as number
  let h = state[7] as number
  for (let i = 0; i < 64; i++) {
    const sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    // Ch and Maj in their equivalent forms with one operation fewer
    const choose = g ^ (e & (f ^ g))
    const t1 = (h + sigma1 + choose + (ROUND_CONSTANTS[i] as number) + (w[i] as number)) | 0
    const sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const majority = (a & b) | (c & (a | b))
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + sigma0 + majority) | 0
  }
  state[0] = ((state[0] as number) + a) | 0
  state[1] = ((state[1] as number) + b) | 0
  state[2] = ((state[2] as number) + c) | 0
  state[3] = ((state[3] as number) + d) | 0
  state[4] = ((state[4] as number) + e) | 0
  state[5] = ((state[5] as number) + f) | 0
  state[6] = ((state[6] as number) + g) | 0
  state[7] = ((state[7] as number) + h) | 0
}

/**
 * Absorbs `data[0 .. length)` into `state`, which has already absorbed `absorbed` bytes (a multiple of 64), then
 * pads (FIPS 180-4 §5.1.1) and writes the 32-byte digest into `out` at `outOffset`.
 */
function finish(state: Int32Array, absorbed: number, data: Uint8Array, length: number, out: Uint8Array, outOffset: number): void {
  let offset = 0
  for (; offset + BLOCK_LENGTH <= length; offset += BLOCK_LENGTH) compress(state, data, offset)
  const rest = length - offset
  const blocks = rest + 9 <= BLOCK_LENGTH ? 1 : 2
  tail.fill(0, 0, blocks * BLOCK_LENGTH)
  tail.set(data.subarray(offset, length), 0)
  tail[rest] = 0x80
  const bits = (absorbed + length) * 8
  const end = blocks * BLOCK_LENGTH
  // messages here are far below 2^53 bits: the high word is whatever lies above 32 bits
  const high = Math.floor(bits / 0x100000000)
  tail[end - 8] = high >>> 24
  tail[end - 7] = (high >>> 16) & 0xff
  tail[end - 6] = (high >>> 8) & 0xff
  tail[end - 5] = high & 0xff
  tail[end - 4] = (bits >>> 24) & 0xff
  tail[end - 3] = (bits >>> 16) & 0xff
  tail[end - 2] = (bits >>> 8) & 0xff
  tail[end - 1] = bits & 0xff
  compress(state, tail, 0)
  if (blocks === 2) compress(state, tail, BLOCK_LENGTH)
  for (let i = 0; i < 8; i++) {
    const word = state[i] as number
    out[outOffset + 4 * i] = word >>> 24
    out[outOffset + 4 * i + 1] = (word >>> 16) & 0xff
    out[outOffset + 4 * i + 2] = (word >>> 8) & 0xff
    out[outOffset + 4 * i + 3] = word & 0xff
  }
}

/**
 * Pads bytes with zeros to a multiple of the SHA-256 block length. The callers' prefixes are self-delimiting
 * (every component length-prefixed), so the zeros cannot be confused with content.
 *
 * @example
 * ```ts
 * padToBlock(new Uint8Array(70)).length // 128
 * ```
 */
export function padToBlock(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.max(1, Math.ceil(bytes.length / BLOCK_LENGTH)) * BLOCK_LENGTH)
  padded.set(bytes)
  return padded
}

/**
 * HMAC-SHA256 (RFC 2104) under one key, with a block-aligned message prefix absorbed once: `mac(data)` is
 * HMAC-SHA256(key, prefix ‖ data) at the cost of `data`'s blocks plus three. Identical on every runtime (plain
 * JavaScript, no table lookups on secret data); tests compare it with the platform's HMAC.
 *
 * @example
 * ```ts
 * const hmac = new PrefixedHmac(key, padToBlock(prefix))
 * hmac.mac(data) // equals platform.hmacSha256(key, concat(padToBlock(prefix), data))
 * ```
 */
export class PrefixedHmac {
  readonly #inner = new Int32Array(8)
  readonly #outer = new Int32Array(8)
  readonly #absorbed: number
  readonly #state = new Int32Array(8)
  readonly #digest = new Uint8Array(32)

  /**
   * @param key - the HMAC key; at most 64 bytes (every key here is a 32-byte subkey)
   * @param prefix - a message prefix whose length is a multiple of 64 ({@link padToBlock})
   */
  constructor(key: Uint8Array, prefix: Uint8Array) {
    if (key.length > BLOCK_LENGTH) throw new TypeError('PrefixedHmac needs a key of at most 64 bytes')
    if (prefix.length % BLOCK_LENGTH !== 0) throw new TypeError('PrefixedHmac needs a block-aligned prefix')
    const pad = new Uint8Array(BLOCK_LENGTH)
    this.#inner.set(INITIAL_STATE)
    this.#outer.set(INITIAL_STATE)
    for (let i = 0; i < BLOCK_LENGTH; i++) pad[i] = (key[i] ?? 0) ^ 0x36
    compress(this.#inner, pad, 0)
    for (let i = 0; i < BLOCK_LENGTH; i++) pad[i] = (key[i] ?? 0) ^ 0x5c
    compress(this.#outer, pad, 0)
    pad.fill(0)
    for (let offset = 0; offset < prefix.length; offset += BLOCK_LENGTH) compress(this.#inner, prefix, offset)
    this.#absorbed = BLOCK_LENGTH + prefix.length
  }

  /**
   * HMAC-SHA256(key, prefix ‖ data[0 .. length)) into `out` at `outOffset` (a fresh 32-byte array when omitted).
   *
   * @example
   * ```ts
   * const tag = hmac.mac(data)
   * ```
   */
  mac(data: Uint8Array, length: number = data.length, out: Uint8Array = new Uint8Array(32), outOffset = 0): Uint8Array {
    const state = this.#state
    state.set(this.#inner)
    finish(state, this.#absorbed, data, length, this.#digest, 0)
    state.set(this.#outer)
    finish(state, BLOCK_LENGTH, this.#digest, 32, out, outOffset)
    return out
  }
}
