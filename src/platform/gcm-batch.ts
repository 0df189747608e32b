// AES-256-GCM decryption of many messages under one key: every AES block of the batch in one call, GHASH in JavaScript

/**
 * How many AES blocks (16 bytes each) one call of the block function receives, about: a batch needing more is worked
 * through in slices of whole messages, and a slice always takes at least one message (a message of
 * {@link GCM_BATCH_MAX_MESSAGE} bytes needs 4097 blocks).
 */
const SLICE_BLOCKS = 4096

/** The largest ciphertext a batch takes (bytes); longer messages go to the platform's one-shot path. */
export const GCM_BATCH_MAX_MESSAGE = 64 * 1024

const TAG_LENGTH = 16

/** Leading AAD blocks a batch remembers to start the next AAD from (see `#absorbAad`). */
const PREFIX_BLOCKS = 4
const NONCE_LENGTH = 12

/**
 * A batch of AES-256-GCM decryptions under one key (NIST SP 800-38D, 96-bit nonces, 128-bit tags).
 *
 * `add` queues a message and absorbs its AAD into GHASH at once (so the caller may reuse its AAD buffer); `open`
 * then encrypts the counter blocks of every queued message with one call of the block function, finishes each
 * GHASH, checks each tag in constant time, and only then decrypts. Output is byte-for-byte what any AES-256-GCM
 * implementation produces, and a message whose tag fails yields `undefined`, never partial plaintext.
 *
 * GHASH runs from 8-bit tables derived from the hash subkey H (64 KiB per key). Table lookups indexed by secret
 * state are not constant-time against an attacker who can observe this process's cache, and whoever learns H can
 * forge tags under the key. OpenSSL on current x86-64 and ARMv8 processors computes GHASH with carry-less
 * multiplication instructions, which are constant-time; its portable fallback uses 4-bit tables and @noble small
 * windows, which leak less per lookup than 8-bit tables. This is why the field protector batches only when asked
 * to (`batchDecryption`, docs/encryption.md).
 */
export interface GcmBatch {
  /**
   * Queues a message for decryption with `aad`: its 12-byte nonce is at `data[nonceAt..]`, and ciphertext ‖ 16-byte
   * tag run from `data[sealedAt]` to the end of `data` (an envelope's bytes, without a view made per part). Returns
   * the job number (0, 1, ... since the last `open`), or -1 when this batch does not take it (the nonce does not
   * fit before the ciphertext, no whole tag, a ciphertext longer than {@link GCM_BATCH_MAX_MESSAGE}): use the
   * one-shot path for it then. `data` must stay unchanged until `open`.
   */
  add(data: Uint8Array, nonceAt: number, sealedAt: number, aad: Uint8Array): number
  /** Decrypts every queued message and empties the queue. */
  open(): OpenedBatch
}

/**
 * The plaintexts of an opened batch: job `i`'s is `lengths[i]` bytes of `buffers[i]` from `offsets[i]`, or
 * nothing when `offsets[i]` is -1 (its tag did not verify). Jobs share buffers.
 */
export interface OpenedBatch {
  readonly buffers: readonly Uint8Array[]
  readonly offsets: Int32Array
  readonly lengths: readonly number[]
}

/**
 * The block function a batch needs: AES-256 in ECB mode over `blocks` (a multiple of 16 bytes), returning as many
 * bytes. On Node, a reused `aes-256-ecb` cipher without padding.
 */
export type EncryptBlocks = (blocks: Uint8Array) => Uint8Array

/** Whether this machine stores the low byte of a word first; words below are read and written in native order. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/** A big-endian 32-bit word in native order: the word whose bytes in memory read as the big-endian value. */
const native = (word: number): number => (LITTLE_ENDIAN ? ((word >>> 24) | ((word >>> 8) & 0xff00) | ((word << 8) & 0xff0000) | (word << 24)) | 0 : word | 0)

/** GHASH tables: word w (native order) of every multiple of H in its own array, so one index reads all four. */
interface Tables {
  readonly w0: Int32Array
  readonly w1: Int32Array
  readonly w2: Int32Array
  readonly w3: Int32Array
}

/**
 * The 16 × 256 multiples of H: entry 256 · slot + b is the field element with byte b at one position, times H,
 * stored as four words in native order so that blocks read from memory as words index and combine directly.
 * Slot 4 × word + n serves byte n (from the low end) of block word `word` read in native order, so
 * {@link ghashWords} indexes them with constants.
 */
function ghashTables(h: Uint8Array): Tables {
  // H · x^k for k = 0..127: each is the one before shifted right by one bit, reduced by R = 11100001 ‖ 0^120 (§6.3)
  const powers = new Int32Array(128 * 4)
  let v0 = ((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)
  let v1 = ((h[4] as number) << 24) | ((h[5] as number) << 16) | ((h[6] as number) << 8) | (h[7] as number)
  let v2 = ((h[8] as number) << 24) | ((h[9] as number) << 16) | ((h[10] as number) << 8) | (h[11] as number)
  let v3 = ((h[12] as number) << 24) | ((h[13] as number) << 16) | ((h[14] as number) << 8) | (h[15] as number)
  for (let k = 0; k < 128; k++) {
    powers[4 * k] = v0
    powers[4 * k + 1] = v1
    powers[4 * k + 2] = v2
    powers[4 * k + 3] = v3
    const carry = v3 & 1
    v3 = (v3 >>> 1) | (v2 << 31)
    v2 = (v2 >>> 1) | (v1 << 31)
    v1 = (v1 >>> 1) | (v0 << 31)
    v0 = (v0 >>> 1) ^ (carry === 0 ? 0 : 0xe1000000)
  }
  // the product is linear in the byte: entry b is entry (b without its lowest set bit) plus that bit's power
  const words = [new Int32Array(4096), new Int32Array(4096), new Int32Array(4096), new Int32Array(4096)] as const
  for (let slot = 0; slot < 16; slot++) {
    const position = LITTLE_ENDIAN ? slot : slot + 3 - 2 * (slot & 3)
    for (let b = 1; b < 256; b++) {
      const low = b & -b
      const bit = 8 * position + 7 - (31 - Math.clz32(low))
      for (let w = 0; w < 4; w++) {
        const table = words[w] as Int32Array
        table[256 * slot + b] = (table[256 * slot + (b ^ low)] as number) ^ (powers[4 * bit + w] as number)
      }
    }
  }
  for (const table of words) for (let i = 0; i < table.length; i++) table[i] = native(table[i] as number)
  return { w0: words[0], w1: words[1], w2: words[2], w3: words[3] }
}

/**
 * GHASH (§6.4) over `blocks` whole blocks of `words` from word `first` (native order), continuing from the state
 * at `state[at..at+4]` (native order), which it updates.
 */
function ghashWords(tables: Tables, state: Int32Array, at: number, words: Int32Array, first: number, blocks: number): void {
  const t0 = tables.w0
  const t1 = tables.w1
  const t2 = tables.w2
  const t3 = tables.w3
  let y0 = state[at] as number
  let y1 = state[at + 1] as number
  let y2 = state[at + 2] as number
  let y3 = state[at + 3] as number
  const end = first + 4 * blocks
  for (let p = first; p < end; p += 4) {
    const x0 = y0 ^ (words[p] as number)
    const x1 = y1 ^ (words[p + 1] as number)
    const x2 = y2 ^ (words[p + 2] as number)
    const x3 = y3 ^ (words[p + 3] as number)
    // (Y ⊕ X) · H as the sum of one table entry per byte of Y ⊕ X
    let i = (x0 & 255)
    y0 = t0[i] as number
    y1 = t1[i] as number
    y2 = t2[i] as number
    y3 = t3[i] as number
    i = 256 + ((x0 >>> 8) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 512 + ((x0 >>> 16) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 768 + (x0 >>> 24)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 1024 + (x1 & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 1280 + ((x1 >>> 8) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 1536 + ((x1 >>> 16) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 1792 + (x1 >>> 24)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 2048 + (x2 & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 2304 + ((x2 >>> 8) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 2560 + ((x2 >>> 16) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 2816 + (x2 >>> 24)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 3072 + (x3 & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 3328 + ((x3 >>> 8) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 3584 + ((x3 >>> 16) & 255)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
    i = 3840 + (x3 >>> 24)
    y0 ^= t0[i] as number
    y1 ^= t1[i] as number
    y2 ^= t2[i] as number
    y3 ^= t3[i] as number
  }
  state[at] = y0
  state[at + 1] = y1
  state[at + 2] = y2
  state[at + 3] = y3
}

/** An aligned scratch for a nonce, a tag and the length block: JavaScript runs one batch step at a time. */
const scratch = new Uint8Array(16)
const scratchWords = new Int32Array(scratch.buffer)

class Batch implements GcmBatch {
  readonly #encryptBlocks: EncryptBlocks
  readonly #view: (buffer: ArrayBuffer) => Uint8Array
  readonly #tables: Tables
  #data: Uint8Array[] = []
  #sealedAt: number[] = []
  #aadLengths: number[] = []
  /** Nonces as three native-order words each, and GHASH states (four words each) after the AAD. */
  #nonces = new Int32Array(3 * 64)
  #states = new Int32Array(4 * 64)
  /** The AAD being absorbed, copied word-aligned and zero-padded to whole blocks. */
  #aad = new Uint8Array(256)
  #aadWords = new Int32Array(this.#aad.buffer)
  /**
   * The leading blocks of the AAD absorbed last and the GHASH state after each: AADs of one read begin alike
   * (label, tenant, collection, often the record), so the next one starts after the blocks it shares.
   */
  readonly #prefixWords = new Int32Array(4 * PREFIX_BLOCKS)
  readonly #prefixStates = new Int32Array(4 * (PREFIX_BLOCKS + 1))
  #prefixBlocks = 0

  constructor(encryptBlocks: EncryptBlocks, view: (buffer: ArrayBuffer) => Uint8Array) {
    this.#encryptBlocks = encryptBlocks
    this.#view = view
    const h = encryptBlocks(new Uint8Array(16))
    if (h.length !== 16) throw new TypeError('the block function must return one block per block')
    this.#tables = ghashTables(h)
  }

  add(data: Uint8Array, nonceAt: number, sealedAt: number, aad: Uint8Array): number {
    const sealedLength = data.length - sealedAt
    if (!(nonceAt >= 0 && nonceAt + NONCE_LENGTH <= sealedAt && sealedLength >= TAG_LENGTH && sealedLength - TAG_LENGTH <= GCM_BATCH_MAX_MESSAGE)) return -1
    const job = this.#data.length
    if (3 * (job + 1) > this.#nonces.length) {
      const nonces = new Int32Array(2 * this.#nonces.length)
      nonces.set(this.#nonces)
      this.#nonces = nonces
      const states = new Int32Array(2 * this.#states.length)
      states.set(this.#states)
      this.#states = states
    }
    for (let i = 0; i < NONCE_LENGTH; i++) scratch[i] = data[nonceAt + i] as number
    this.#nonces[3 * job] = scratchWords[0] as number
    this.#nonces[3 * job + 1] = scratchWords[1] as number
    this.#nonces[3 * job + 2] = scratchWords[2] as number
    this.#absorbAad(aad, 4 * job)
    this.#data.push(data)
    this.#sealedAt.push(sealedAt)
    this.#aadLengths.push(aad.length)
    return job
  }

  /** Absorbs an AAD into the GHASH state at `states[at..at+4]`, starting after the blocks it shares with the one before. */
  #absorbAad(aad: Uint8Array, at: number): void {
    const blocks = (aad.length + 15) >>> 4
    if (16 * blocks > this.#aad.length) {
      this.#aad = new Uint8Array(16 * blocks)
      this.#aadWords = new Int32Array(this.#aad.buffer)
    }
    const words = this.#aadWords
    this.#aad.set(aad)
    this.#aad.fill(0, aad.length, 16 * blocks)
    // only whole blocks of the AAD's own bytes are shared: the padded last block is never kept
    const whole = Math.min(aad.length >>> 4, PREFIX_BLOCKS)
    const prefix = this.#prefixWords
    let same = 0
    while (same < whole && same < this.#prefixBlocks) {
      const w = 4 * same
      if (words[w] !== prefix[w] || words[w + 1] !== prefix[w + 1] || words[w + 2] !== prefix[w + 2] || words[w + 3] !== prefix[w + 3]) break
      same++
    }
    const states = this.#states
    const prefixStates = this.#prefixStates
    for (let w = 0; w < 4; w++) states[at + w] = prefixStates[4 * same + w] as number
    for (let block = same; block < whole; block++) {
      ghashWords(this.#tables, states, at, words, 4 * block, 1)
      for (let w = 0; w < 4; w++) {
        prefix[4 * block + w] = words[4 * block + w] as number
        prefixStates[4 * (block + 1) + w] = states[at + w] as number
      }
    }
    this.#prefixBlocks = whole
    ghashWords(this.#tables, states, at, words, 4 * whole, blocks - whole)
  }

  open(): OpenedBatch {
    const data = this.#data
    const sealedAt = this.#sealedAt
    const aadLengths = this.#aadLengths
    this.#data = []
    this.#sealedAt = []
    this.#aadLengths = []
    const lengths: number[] = new Array(data.length)
    for (let job = 0; job < data.length; job++) lengths[job] = (data[job] as Uint8Array).length - (sealedAt[job] as number) - TAG_LENGTH
    const buffers: Uint8Array[] = new Array(data.length)
    const offsets = new Int32Array(data.length)
    let first = 0
    while (first < data.length) {
      // a slice of jobs whose counter blocks fit one call (a single job always fits: messages are bounded)
      let blocks = 0
      let end = first
      while (end < data.length) {
        const need = (((lengths[end] as number) + 15) >>> 4) + 1
        if (end > first && blocks + need > SLICE_BLOCKS) break
        blocks += need
        end++
      }
      this.#openSlice(data, sealedAt, lengths, aadLengths, first, end, blocks, buffers, offsets)
      first = end
    }
    return { buffers, offsets, lengths }
  }

  #openSlice(data: Uint8Array[], sealedAt: number[], lengths: number[], aadLengths: number[], first: number, end: number, blocks: number, buffers: Uint8Array[], offsets: Int32Array): void {
    // J0 = nonce ‖ 0^31 ‖ 1 masks the tag; inc32(J0), inc32²(J0), ... are the keystream (§7.2)
    const counters = new Int32Array(4 * blocks)
    const nonces = this.#nonces
    let at = 0
    for (let job = first; job < end; job++) {
      const n = ((lengths[job] as number) + 15) >>> 4
      const n0 = nonces[3 * job] as number
      const n1 = nonces[3 * job + 1] as number
      const n2 = nonces[3 * job + 2] as number
      for (let k = 1; k <= n + 1; k++) {
        counters[at] = n0
        counters[at + 1] = n1
        counters[at + 2] = n2
        counters[at + 3] = native(k)
        at += 4
      }
    }
    const streamBytes = this.#encryptBlocks(new Uint8Array(counters.buffer))
    if (streamBytes.length !== 16 * blocks) throw new TypeError('the block function must return one block per block')
    const stream = (streamBytes.byteOffset & 3) === 0 ? new Int32Array(streamBytes.buffer, streamBytes.byteOffset, 4 * blocks) : new Int32Array(Uint8Array.from(streamBytes).buffer)
    // each plaintext goes where its keystream is, so both are word-aligned alike; the counters are not needed any more
    const out = this.#view(counters.buffer)
    const outWords = counters
    const states = this.#states
    at = 0
    for (let job = first; job < end; job++) {
      const message = data[job] as Uint8Array
      const start = sealedAt[job] as number
      const length = lengths[job] as number
      const n = (length + 15) >>> 4
      const body = at + 4
      // the ciphertext, zero-padded to whole blocks, where its plaintext will be: GHASH reads it there as words
      out.set(message.subarray(start, start + length), 4 * body)
      out.fill(0, 4 * body + length, 4 * (body + 4 * n))
      const s = 4 * job
      ghashWords(this.#tables, states, s, outWords, body, n)
      // the length block: bit lengths of AAD and ciphertext, 64 bits each (both fit 32 bits here)
      scratchWords[0] = 0
      scratchWords[1] = native((aadLengths[job] as number) * 8)
      scratchWords[2] = 0
      scratchWords[3] = native(length * 8)
      ghashWords(this.#tables, states, s, scratchWords, 0, 1)
      // the tag, compared in constant time with GHASH ⊕ E(J0)
      for (let i = 0; i < TAG_LENGTH; i++) scratch[i] = message[start + length + i] as number
      let difference = 0
      for (let w = 0; w < 4; w++) difference |= (states[s + w] as number) ^ (stream[at + w] as number) ^ (scratchWords[w] as number)
      if (difference === 0) {
        for (let w = body; w < body + 4 * n; w++) outWords[w] = (outWords[w] as number) ^ (stream[w] as number)
        offsets[job] = 4 * body
      } else {
        offsets[job] = -1
      }
      buffers[job] = out
      at = body + 4 * n
    }
  }
}

/**
 * A {@link GcmBatch} over a block function for one key. `view` wraps the buffers plaintexts are handed out in
 * (`Buffer.from` on Node, so they decode as UTF-8 without another copy).
 *
 * @example
 * ```ts
 * const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
 * const batch = gcmBatch((blocks) => ecb.update(blocks))
 * batch.add(nonceCiphertextAndTag, 0, 12, aad)
 * const { buffers, offsets, lengths } = batch.open()
 * const plaintext = offsets[0] < 0 ? undefined : buffers[0].subarray(offsets[0], offsets[0] + lengths[0])
 * ```
 */
export function gcmBatch(encryptBlocks: EncryptBlocks, view: (buffer: ArrayBuffer) => Uint8Array = (buffer) => new Uint8Array(buffer)): GcmBatch {
  return new Batch(encryptBlocks, view)
}

/** Job `job`'s plaintext as a view of its batch buffer, or `undefined` when its tag did not verify. */
export function openedPlaintext(opened: OpenedBatch, job: number): Uint8Array | undefined {
  const offset = opened.offsets[job] as number
  if (offset < 0) return undefined
  const buffer = opened.buffers[job] as Uint8Array
  return new Uint8Array(buffer.buffer, buffer.byteOffset + offset, opened.lengths[job] as number)
}
