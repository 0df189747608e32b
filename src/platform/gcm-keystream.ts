// AES-256-GCM's counter-mode half for many messages under one key: every keystream block of a batch in one call

/**
 * How many AES blocks (16 bytes each) one call of the block function receives, about: a batch needing more is worked
 * through in slices of whole messages, and a slice always takes at least one message (a message of
 * {@link GCM_KEYSTREAM_MAX_MESSAGE} bytes needs 4096 blocks).
 */
const SLICE_BLOCKS = 4096

/** The largest ciphertext a batch takes (bytes); longer messages go to the platform's one-shot AEAD. */
export const GCM_KEYSTREAM_MAX_MESSAGE = 64 * 1024

const TAG_LENGTH = 16
const NONCE_LENGTH = 12

/**
 * Decrypts many AES-256-GCM ciphertexts under one key (NIST SP 800-38D, 96-bit nonces) **without checking their
 * tags**: only the counter-mode half of GCM. It exists for bytes that something else has already authenticated —
 * the field protector uses it only for envelopes whose record MAC (version 2) binds every byte of every envelope
 * and has verified, and its HMAC-SHA256 is what stands between a modified ciphertext and its plaintext. Never use it
 * on bytes nothing has authenticated: GCM ciphertexts are malleable bit by bit.
 *
 * `add` queues a message; `open` builds the counter blocks `inc32(J0)`, `inc32²(J0)`, ... (§7.2) of every queued
 * message, encrypts them with one call of the block function, and XORs each keystream into its ciphertext. No table
 * indexed by secret data is involved (the block function is native AES on Node), and the output is byte for byte the
 * plaintext any AES-256-GCM implementation would release for an authentic message.
 */
export interface GcmKeystreamBatch {
  /**
   * Queues a message: its 12-byte nonce is at `data[nonceAt..]`, and ciphertext ‖ 16-byte tag run from
   * `data[sealedAt]` to the end of `data` (an envelope's bytes, without a view made per part); the tag is not
   * read. Returns the job number (0, 1, ... since the last `open`), or -1 when this batch does not take it (the nonce
   * does not fit before the ciphertext, no whole tag, a ciphertext longer than {@link GCM_KEYSTREAM_MAX_MESSAGE}):
   * use the one-shot AEAD for it then. `data` must stay unchanged until `open`.
   */
  add(data: Uint8Array, nonceAt: number, sealedAt: number): number
  /** Decrypts every queued message and empties the queue. */
  open(): OpenedBatch
}

/** The plaintexts of an opened batch: job `i`'s is `lengths[i]` bytes of `buffers[i]` from `offsets[i]`. Jobs share buffers. */
export interface OpenedBatch {
  readonly buffers: readonly Uint8Array[]
  readonly offsets: Int32Array
  readonly lengths: readonly number[]
}

/**
 * The block function a batch needs: AES-256 in ECB mode over `blocks` (a multiple of 16 bytes), returning as many
 * bytes in a buffer of its own (an output written over `blocks` is copied first). On Node, a reused `aes-256-ecb`
 * cipher without padding.
 */
export type EncryptBlocks = (blocks: Uint8Array) => Uint8Array

/** Whether this machine stores the low byte of a word first; counters are written as words in native order. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/** A big-endian 32-bit word in native order: the word whose bytes in memory read as the big-endian value. */
const native = (word: number): number => (LITTLE_ENDIAN ? ((word >>> 24) | ((word >>> 8) & 0xff00) | ((word << 8) & 0xff0000) | (word << 24)) | 0 : word | 0)

/** An aligned scratch for one nonce, read as three words. */
const scratch = new Uint8Array(16)
const scratchWords = new Int32Array(scratch.buffer)

class Batch implements GcmKeystreamBatch {
  readonly #encryptBlocks: EncryptBlocks
  readonly #view: (buffer: ArrayBuffer) => Uint8Array
  #data: Uint8Array[] = []
  #nonceAt: number[] = []
  #sealedAt: number[] = []

  constructor(encryptBlocks: EncryptBlocks, view: (buffer: ArrayBuffer) => Uint8Array) {
    this.#encryptBlocks = encryptBlocks
    this.#view = view
  }

  add(data: Uint8Array, nonceAt: number, sealedAt: number): number {
    const sealedLength = data.length - sealedAt
    if (!(nonceAt >= 0 && nonceAt + NONCE_LENGTH <= sealedAt && sealedLength >= TAG_LENGTH && sealedLength - TAG_LENGTH <= GCM_KEYSTREAM_MAX_MESSAGE)) return -1
    this.#data.push(data)
    this.#nonceAt.push(nonceAt)
    this.#sealedAt.push(sealedAt)
    return this.#data.length - 1
  }

  open(): OpenedBatch {
    const data = this.#data
    const nonceAt = this.#nonceAt
    const sealedAt = this.#sealedAt
    this.#data = []
    this.#nonceAt = []
    this.#sealedAt = []
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
        const need = ((lengths[end] as number) + 15) >>> 4
        if (end > first && blocks + need > SLICE_BLOCKS) break
        blocks += need
        end++
      }
      this.#openSlice(data, nonceAt, sealedAt, lengths, first, end, blocks, buffers, offsets)
      first = end
    }
    return { buffers, offsets, lengths }
  }

  #openSlice(data: Uint8Array[], nonceAt: number[], sealedAt: number[], lengths: number[], first: number, end: number, blocks: number, buffers: Uint8Array[], offsets: Int32Array): void {
    // J0 = nonce ‖ 0^31 ‖ 1 would mask the tag, which is not checked here; inc32(J0), inc32²(J0), ... are the
    // keystream (§7.2). Messages are at most 4096 blocks, so the 32-bit counter never wraps
    const counters = new Int32Array(4 * Math.max(blocks, 1))
    let at = 0
    for (let job = first; job < end; job++) {
      const n = ((lengths[job] as number) + 15) >>> 4
      const message = data[job] as Uint8Array
      const nonce = nonceAt[job] as number
      for (let i = 0; i < NONCE_LENGTH; i++) scratch[i] = message[nonce + i] as number
      const n0 = scratchWords[0] as number
      const n1 = scratchWords[1] as number
      const n2 = scratchWords[2] as number
      for (let k = 2; k <= n + 1; k++) {
        counters[at] = n0
        counters[at + 1] = n1
        counters[at + 2] = n2
        counters[at + 3] = native(k)
        at += 4
      }
    }
    const streamBytes = blocks === 0 ? new Uint8Array(0) : this.#encryptBlocks(new Uint8Array(counters.buffer, 0, 16 * blocks))
    if (streamBytes.length !== 16 * blocks) throw new TypeError('the block function must return one block per block')
    // the keystream as words: a view when it is word-aligned in a buffer of its own, else a copy (the plaintexts are
    // written over the counters, so a block function that encrypted in place must not be read through them)
    const stream = (streamBytes.byteOffset & 3) === 0 && streamBytes.buffer !== counters.buffer ? new Int32Array(streamBytes.buffer, streamBytes.byteOffset, 4 * blocks) : new Int32Array(Uint8Array.from(streamBytes).buffer)
    // each plaintext goes where its counter blocks were, word-aligned like its keystream; the counters are spent
    const out = this.#view(counters.buffer)
    const outWords = counters
    at = 0
    for (let job = first; job < end; job++) {
      const message = data[job] as Uint8Array
      const start = sealedAt[job] as number
      const length = lengths[job] as number
      const words = 4 * ((length + 15) >>> 4)
      out.set(message.subarray(start, start + length), 4 * at)
      for (let w = at; w < at + words; w++) outWords[w] = (outWords[w] as number) ^ (stream[w] as number)
      buffers[job] = out
      offsets[job] = 4 * at
      at += words
    }
  }
}

/**
 * A {@link GcmKeystreamBatch} over a block function for one key. `view` wraps the buffers plaintexts are handed out
 * in (`Buffer.from` on Node, so they decode as UTF-8 without another copy).
 *
 * @example
 * ```ts
 * // only for envelopes a verified record MAC binds byte for byte: no tag is checked here
 * const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
 * const batch = gcmKeystreamBatch((blocks) => ecb.update(blocks))
 * batch.add(nonceCiphertextAndTag, 0, 12)
 * const { buffers, offsets, lengths } = batch.open()
 * const plaintext = buffers[0].subarray(offsets[0], offsets[0] + lengths[0])
 * ```
 */
export function gcmKeystreamBatch(encryptBlocks: EncryptBlocks, view: (buffer: ArrayBuffer) => Uint8Array = (buffer) => new Uint8Array(buffer)): GcmKeystreamBatch {
  return new Batch(encryptBlocks, view)
}
