// the batched AES-256-GCM opener against node:crypto, @noble and the Wycheproof vectors: the same bytes, the same refusals
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gcm } from '@noble/ciphers/aes.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GCM_BATCH_MAX_MESSAGE, type GcmBatch, gcmBatch, type OpenedBatch, openedPlaintext } from '../../src/platform/gcm-batch.js'
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
function addTo(batch: GcmBatch, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): number {
  const data = new Uint8Array(nonce.length + sealed.length)
  data.set(nonce)
  data.set(sealed, nonce.length)
  return batch.add(data, 0, nonce.length, aad)
}

/** Every plaintext of an opened batch, `undefined` where the tag failed. */
const plaintexts = (opened: OpenedBatch): (Uint8Array | undefined)[] => opened.offsets.length === 0 ? [] : Array.from(opened.offsets, (_, job) => openedPlaintext(opened, job))

const message = fc.record({
  nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  plaintext: fc.uint8Array({ maxLength: 300 }),
  aad: fc.uint8Array({ maxLength: 120 }),
})

describe('gcmBatch', () => {
  it('opens every message of a batch to exactly what node:crypto and @noble open it to', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(message, { minLength: 1, maxLength: 12 }), (key, messages) => {
        const batch = gcmBatch(ecbOf(key))
        const sealed = messages.map(({ nonce, plaintext, aad }) => seal(key, nonce, plaintext, aad))
        messages.forEach(({ nonce, aad }, i) => {
          expect(addTo(batch, nonce, sealed[i] as Uint8Array, aad)).toBe(i)
        })
        const opened = plaintexts(batch.open())
        messages.forEach(({ nonce, plaintext, aad }, i) => {
          expect(Buffer.from(opened[i] as Uint8Array).equals(Buffer.from(plaintext))).toBe(true)
          expect(Buffer.from(gcm(key, nonce, aad).decrypt(sealed[i] as Uint8Array)).equals(Buffer.from(plaintext))).toBe(true)
        })
      }),
      { numRuns: 150 },
    )
  })

  it('refuses exactly the message whose ciphertext, tag, nonce or AAD changed by one bit, and opens the others', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(message, { minLength: 2, maxLength: 6 }),
        fc.nat(),
        fc.constantFrom('sealed', 'nonce', 'aad'),
        fc.nat(),
        (key, messages, pick, where, bit) => {
          const target = pick % messages.length
          const sealed = messages.map(({ nonce, plaintext, aad }) => seal(key, nonce, plaintext, aad))
          const batch = gcmBatch(ecbOf(key))
          messages.forEach(({ nonce, aad }, i) => {
            let n: Uint8Array = nonce
            let s = sealed[i] as Uint8Array
            let a: Uint8Array = aad
            if (i === target) {
              const flip = (bytes: Uint8Array): Uint8Array => {
                const copy = Uint8Array.from(bytes)
                const at = bit % (8 * copy.length)
                copy[at >> 3] = (copy[at >> 3] as number) ^ (1 << (at & 7))
                return copy
              }
              if (where === 'sealed') s = flip(s)
              else if (where === 'nonce') n = flip(n)
              else if (a.length > 0) a = flip(a)
              else a = Uint8Array.of(0)
            }
            addTo(batch, n, s, a)
          })
          const opened = plaintexts(batch.open())
          messages.forEach(({ plaintext }, i) => {
            if (i === target) expect(opened[i]).toBeUndefined()
            else expect(Buffer.from(opened[i] as Uint8Array).equals(Buffer.from(plaintext))).toBe(true)
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it('matches node:crypto across slices: a batch larger than one call of the block function, and messages of every length to 64 KiB', () => {
    const key = randomBytes(32)
    let calls = 0
    const ecb = ecbOf(key)
    const batch = gcmBatch((blocks) => {
      calls++
      return ecb(blocks)
    })
    const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 40_000, GCM_BATCH_MAX_MESSAGE, ...Array.from({ length: 200 }, (_, i) => i * 7)]
    const jobs = lengths.map((length) => {
      const nonce = randomBytes(12)
      const aad = randomBytes(length % 50)
      const plaintext = randomBytes(length)
      return { nonce, aad, plaintext, sealed: seal(key, nonce, plaintext, aad) }
    })
    calls = 0
    for (const job of jobs) addTo(batch, job.nonce, job.sealed, job.aad)
    const opened = plaintexts(batch.open())
    expect(calls).toBeGreaterThan(1)
    jobs.forEach((job, i) => {
      expect(Buffer.from(opened[i] as Uint8Array).equals(job.plaintext)).toBe(true)
      expect(nativeOpen(key, job.nonce, job.sealed, job.aad)?.equals(job.plaintext)).toBe(true)
    })
    // the queue is empty after open: a second round numbers its jobs from 0 again
    expect(addTo(batch, jobs[1]?.nonce as Buffer, jobs[1]?.sealed as Uint8Array, jobs[1]?.aad as Buffer)).toBe(0)
    expect(Buffer.from(plaintexts(batch.open())[0] as Uint8Array).equals(jobs[1]?.plaintext as Buffer)).toBe(true)
  })

  it('opens messages whose AADs share leading blocks with the one before (the prefix it starts from) exactly as node:crypto does', () => {
    const key = randomBytes(32)
    const batch = gcmBatch(ecbOf(key))
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 100 }), fc.nat(255)), { minLength: 1, maxLength: 10 }), (shapes) => {
        // AADs built from a common stem: `shared` blocks of it, then a tail that may differ in one byte
        const stem = Buffer.alloc(96, 7)
        const jobs = shapes.map(([shared, tail, byte]) => {
          const aad = Buffer.concat([stem.subarray(0, 16 * shared), Buffer.alloc(tail, byte)])
          const nonce = randomBytes(12)
          const plaintext = randomBytes(tail)
          return { aad, nonce, plaintext, sealed: seal(key, nonce, plaintext, aad) }
        })
        for (const job of jobs) addTo(batch, job.nonce, job.sealed, job.aad)
        const opened = plaintexts(batch.open())
        jobs.forEach((job, i) => {
          expect(Buffer.from(opened[i] as Uint8Array).equals(job.plaintext)).toBe(true)
        })
        // and a changed byte inside a shared block is never hidden by the remembered prefix
        const last = jobs[jobs.length - 1] as (typeof jobs)[number]
        if (last.aad.length > 0) {
          const changed = Buffer.from(last.aad)
          changed[0] = (changed[0] as number) ^ 1
          addTo(batch, last.nonce, last.sealed, changed)
          expect(plaintexts(batch.open())[0]).toBeUndefined()
        }
      }),
      { numRuns: 200 },
    )
  })

  it('declines what it does not handle, for the one-shot path to take: a nonce that does not fit before the ciphertext, no whole tag, a ciphertext over the limit', () => {
    const batch = gcmBatch(ecbOf(randomBytes(32)))
    expect(batch.add(randomBytes(40), 0, 8, new Uint8Array())).toBe(-1)
    expect(batch.add(randomBytes(40), -1, 12, new Uint8Array())).toBe(-1)
    expect(addTo(batch, randomBytes(12), randomBytes(15), new Uint8Array())).toBe(-1)
    expect(addTo(batch, randomBytes(12), new Uint8Array(GCM_BATCH_MAX_MESSAGE + 17), new Uint8Array())).toBe(-1)
    expect(addTo(batch, randomBytes(12), new Uint8Array(GCM_BATCH_MAX_MESSAGE + 16), new Uint8Array())).toBe(0)
    expect(plaintexts(batch.open())).toEqual([undefined])
  })

  it('takes the AAD when it is added: the caller may overwrite its buffer before open', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const aad = Buffer.from('place: acme/docs/doc-1/body')
    const sealed = seal(key, nonce, Buffer.from('secret'), aad)
    const batch = gcmBatch(ecbOf(key))
    const scratch = Buffer.from(aad)
    addTo(batch, nonce, sealed, scratch)
    scratch.fill(0)
    expect(Buffer.from(plaintexts(batch.open())[0] as Uint8Array).toString()).toBe('secret')
  })

  it('runs the Wycheproof AES-256-GCM vectors with 96-bit nonces and 128-bit tags, one batch per key', () => {
    interface Vector {
      key: string
      iv: string
      aad: string
      msg: string
      ct: string
      tag: string
      result: string
    }
    const groups = (JSON.parse(readFileSync(new URL('../vectors/aes_gcm_test.json', import.meta.url), 'utf8')) as { testGroups: { keySize: number; ivSize: number; tagSize: number; tests: Vector[] }[] }).testGroups
    const vectors = groups.filter((group) => group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128).flatMap((group) => group.tests)
    expect(vectors.length).toBeGreaterThan(50)
    const byKey = new Map<string, Vector[]>()
    for (const vector of vectors) byKey.set(vector.key, [...(byKey.get(vector.key) ?? []), vector])
    let checked = 0
    for (const [key, list] of byKey) {
      const batch = gcmBatch(ecbOf(Buffer.from(key, 'hex')))
      for (const vector of list) addTo(batch, Buffer.from(vector.iv, 'hex'), Buffer.from(vector.ct + vector.tag, 'hex'), Buffer.from(vector.aad, 'hex'))
      const opened = plaintexts(batch.open())
      list.forEach((vector, i) => {
        if (vector.result === 'valid') expect(Buffer.from(opened[i] as Uint8Array).toString('hex')).toBe(vector.msg)
        else expect(opened[i]).toBeUndefined()
        checked++
      })
    }
    expect(checked).toBe(vectors.length)
  })

  it('opens the same on both platforms: node:crypto and @noble block functions give the same plaintexts and refusals', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(message, { minLength: 1, maxLength: 6 }), fc.nat(), (key, messages, bad) => {
        const sealed = messages.map(({ nonce, plaintext, aad }) => seal(key, nonce, plaintext, aad))
        const broken = bad % messages.length
        ;(sealed[broken] as Uint8Array)[0] = ((sealed[broken] as Uint8Array)[0] as number) ^ 0x80
        const results = [nodePlatform, webPlatform].map((platform) => {
          const batch = (platform.aesGcmBatch as NonNullable<typeof platform.aesGcmBatch>)(key)
          messages.forEach(({ nonce, aad }, i) => {
            addTo(batch, nonce, sealed[i] as Uint8Array, aad)
          })
          return plaintexts(batch.open()).map((plain) => (plain === undefined ? undefined : Buffer.from(plain).toString('hex')))
        })
        expect(results[0]).toEqual(results[1])
        expect(results[0]?.[broken]).toBeUndefined()
        messages.forEach(({ plaintext }, i) => {
          if (i !== broken) expect(results[0]?.[i]).toBe(Buffer.from(plaintext).toString('hex'))
        })
      }),
      { numRuns: 60 },
    )
  })
})
