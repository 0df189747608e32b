// the batched AES-256-GCM keystream against node:crypto, @noble and the Wycheproof vectors: the plaintexts of
// authentic messages, byte for byte, on both platforms — and, by design, no tag check of its own
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gcm } from '@noble/ciphers/aes.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GCM_KEYSTREAM_MAX_MESSAGE, type GcmKeystreamBatch, gcmKeystreamBatch, type OpenedBatch } from '../../src/platform/gcm-keystream.js'
import { platform as nodePlatform } from '../../src/platform/node.js'
import { platform as webPlatform } from '../../src/platform/web.js'

const ecbOf = (key: Uint8Array) => {
  const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
  return (blocks: Uint8Array) => ecb.update(blocks)
}

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

function nativeOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce)
    decipher.setAAD(aad)
    decipher.setAuthTag(sealed.subarray(sealed.length - 16))
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
  } catch {
    return undefined
  }
}

/** Queues nonce and sealed as one envelope-like buffer (nonce ‖ ciphertext ‖ tag), as the protector hands them over. */
function addTo(batch: GcmKeystreamBatch, nonce: Uint8Array, sealed: Uint8Array): number {
  const data = new Uint8Array(nonce.length + sealed.length)
  data.set(nonce)
  data.set(sealed, nonce.length)
  return batch.add(data, 0, nonce.length)
}

/** Every plaintext of an opened batch, as views of its buffers. */
const plaintexts = (opened: OpenedBatch): Uint8Array[] =>
  Array.from({ length: opened.offsets.length }, (_, job) => {
    const buffer = opened.buffers[job] as Uint8Array
    const offset = opened.offsets[job] as number
    return buffer.subarray(offset, offset + (opened.lengths[job] as number))
  })
const hex = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'))

const message = fc.record({
  nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  plaintext: fc.uint8Array({ maxLength: 300 }),
  aad: fc.uint8Array({ maxLength: 120 }),
})

describe('gcmKeystreamBatch', () => {
  it('decrypts every authentic message of a batch to exactly what node:crypto and @noble release', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(message, { minLength: 1, maxLength: 12 }), (key, messages) => {
        const batch = gcmKeystreamBatch(ecbOf(key))
        const sealed = messages.map(({ nonce, plaintext, aad }) => seal(key, nonce, plaintext, aad))
        messages.forEach(({ nonce }, i) => {
          expect(addTo(batch, nonce, sealed[i] as Uint8Array)).toBe(i)
        })
        const opened = plaintexts(batch.open())
        messages.forEach(({ nonce, plaintext, aad }, i) => {
          expect(hex(opened[i])).toBe(hex(plaintext))
          expect(hex(gcm(key, nonce, aad).decrypt(sealed[i] as Uint8Array))).toBe(hex(plaintext))
        })
      }),
      { numRuns: 150 },
    )
  })

  it('checks no tag, by design: a changed tag or AAD decrypts the same, a changed ciphertext bit flips that plaintext bit (why only MAC-bound bytes may come here)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), message.filter((m) => m.plaintext.length > 0), fc.nat(), (key, { nonce, plaintext, aad }, bit) => {
        const sealed = seal(key, nonce, plaintext, aad)
        const batch = gcmKeystreamBatch(ecbOf(key))
        const badTag = Uint8Array.from(sealed)
        badTag[sealed.length - 1] = (badTag[sealed.length - 1] as number) ^ 1
        const flipped = Uint8Array.from(sealed)
        const at = bit % (8 * plaintext.length)
        flipped[at >> 3] = (flipped[at >> 3] as number) ^ (1 << (at & 7))
        addTo(batch, nonce, badTag)
        addTo(batch, nonce, flipped)
        const [first, second] = plaintexts(batch.open())
        expect(nativeOpen(key, nonce, badTag, aad)).toBeUndefined()
        expect(hex(first)).toBe(hex(plaintext))
        const expected = Uint8Array.from(plaintext)
        expected[at >> 3] = (expected[at >> 3] as number) ^ (1 << (at & 7))
        expect(hex(second)).toBe(hex(expected))
      }),
      { numRuns: 100 },
    )
  })

  it('matches node:crypto across slices: a batch larger than one call of the block function, and messages of every length to 64 KiB', () => {
    const key = randomBytes(32)
    let calls = 0
    const ecb = ecbOf(key)
    const batch = gcmKeystreamBatch((blocks) => {
      calls++
      return ecb(blocks)
    })
    const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 40_000, GCM_KEYSTREAM_MAX_MESSAGE, ...Array.from({ length: 200 }, (_, i) => i * 7)]
    const jobs = lengths.map((length) => {
      const nonce = randomBytes(12)
      const aad = randomBytes(length % 50)
      const plaintext = randomBytes(length)
      return { nonce, aad, plaintext, sealed: seal(key, nonce, plaintext, aad) }
    })
    calls = 0
    for (const job of jobs) addTo(batch, job.nonce, job.sealed)
    const opened = plaintexts(batch.open())
    expect(calls).toBeGreaterThan(1)
    jobs.forEach((job, i) => {
      expect(Buffer.from(opened[i] as Uint8Array).equals(job.plaintext)).toBe(true)
      expect(nativeOpen(key, job.nonce, job.sealed, job.aad)?.equals(job.plaintext)).toBe(true)
    })
    // the queue is empty after open: a second round numbers its jobs from 0 again
    expect(addTo(batch, jobs[1]?.nonce as Buffer, jobs[1]?.sealed as Uint8Array)).toBe(0)
    expect(Buffer.from(plaintexts(batch.open())[0] as Uint8Array).equals(jobs[1]?.plaintext as Buffer)).toBe(true)
    // a batch of empty messages makes no call at all
    calls = 0
    addTo(batch, jobs[0]?.nonce as Buffer, jobs[0]?.sealed as Uint8Array)
    expect(plaintexts(batch.open())[0]?.length).toBe(0)
    expect(calls).toBe(0)
  })

  it('reads the nonce and ciphertext wherever they sit in the buffer, and takes unaligned or in-place output of the block function', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(40), { minLength: 6, maxLength: 6 }), fc.constantFrom('copy', 'unaligned', 'in-place'), (key, messages, gaps, output) => {
        const ecb = ecbOf(key)
        const blockFunction =
          output === 'copy'
            ? ecb
            : output === 'unaligned'
              ? (blocks: Uint8Array) => {
                  const out = new Uint8Array(blocks.length + 3)
                  out.set(ecb(blocks), 3)
                  return out.subarray(3)
                }
              : (blocks: Uint8Array) => {
                  blocks.set(ecb(blocks))
                  return blocks
                }
        const batch = gcmKeystreamBatch(blockFunction)
        messages.forEach(({ nonce, plaintext, aad }, i) => {
          // header bytes before the nonce, and more between nonce and ciphertext, as in an envelope
          const gap = gaps[i] as number
          const sealed = seal(key, nonce, plaintext, aad)
          const data = new Uint8Array(gap + 12 + 1 + sealed.length)
          data.set(nonce, gap)
          data.set(sealed, gap + 13)
          expect(batch.add(data, gap, gap + 13)).toBe(i)
        })
        const opened = plaintexts(batch.open())
        messages.forEach(({ plaintext }, i) => {
          expect(hex(opened[i])).toBe(hex(plaintext))
        })
      }),
      { numRuns: 120 },
    )
  })

  it('declines what it does not handle, for the one-shot path to take: a nonce that does not fit before the ciphertext, no whole tag, a ciphertext over the limit', () => {
    const batch = gcmKeystreamBatch(ecbOf(randomBytes(32)))
    expect(batch.add(randomBytes(40), 0, 8)).toBe(-1)
    expect(batch.add(randomBytes(40), -1, 12)).toBe(-1)
    expect(addTo(batch, randomBytes(12), randomBytes(15))).toBe(-1)
    expect(addTo(batch, randomBytes(12), new Uint8Array(GCM_KEYSTREAM_MAX_MESSAGE + 17))).toBe(-1)
    expect(addTo(batch, randomBytes(12), new Uint8Array(GCM_KEYSTREAM_MAX_MESSAGE + 16))).toBe(0)
    expect(plaintexts(batch.open())[0]?.length).toBe(GCM_KEYSTREAM_MAX_MESSAGE)
  })

  it('decrypts the valid Wycheproof AES-256-GCM vectors with 96-bit nonces to their messages, one batch per key', () => {
    interface Vector {
      key: string
      iv: string
      msg: string
      ct: string
      tag: string
      result: string
    }
    const groups = (JSON.parse(readFileSync(new URL('../vectors/aes_gcm_test.json', import.meta.url), 'utf8')) as { testGroups: { keySize: number; ivSize: number; tagSize: number; tests: Vector[] }[] }).testGroups
    const vectors = groups.filter((group) => group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128).flatMap((group) => group.tests.filter((test) => test.result === 'valid'))
    expect(vectors.length).toBeGreaterThan(20)
    const byKey = new Map<string, Vector[]>()
    for (const vector of vectors) byKey.set(vector.key, [...(byKey.get(vector.key) ?? []), vector])
    let checked = 0
    for (const [key, list] of byKey) {
      const batch = gcmKeystreamBatch(ecbOf(Buffer.from(key, 'hex')))
      for (const vector of list) addTo(batch, Buffer.from(vector.iv, 'hex'), Buffer.from(vector.ct + vector.tag, 'hex'))
      const opened = plaintexts(batch.open())
      list.forEach((vector, i) => {
        expect(hex(opened[i])).toBe(vector.msg)
        checked++
      })
    }
    expect(checked).toBe(vectors.length)
  })

  it('decrypts the same on both platforms: node:crypto and @noble block functions give the same plaintexts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(message, { minLength: 1, maxLength: 6 }), (key, messages) => {
        const sealed = messages.map(({ nonce, plaintext, aad }) => seal(key, nonce, plaintext, aad))
        const results = [nodePlatform, webPlatform].map((platform) => {
          const batch = (platform.unauthenticatedAesGcmBatch as NonNullable<typeof platform.unauthenticatedAesGcmBatch>)(key)
          messages.forEach(({ nonce }, i) => {
            addTo(batch, nonce, sealed[i] as Uint8Array)
          })
          return plaintexts(batch.open()).map(hex)
        })
        expect(results[0]).toEqual(results[1])
        messages.forEach(({ plaintext }, i) => {
          expect(results[0]?.[i]).toBe(hex(plaintext))
        })
      }),
      { numRuns: 60 },
    )
  })
})
