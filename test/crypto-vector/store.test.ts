import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { createVectorCipher, type VectorMetric } from '../../src/crypto/vector/index.js'
import type { Distance } from '../../src/spec/records.js'

/** A small deterministic generator (mulberry32). */
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

const dimension = 48
const random = seededRandom(21)
const centres = Array.from({ length: 12 }, () => Array.from({ length: dimension }, () => random() * 2 - 1))
const records = Array.from({ length: 240 }, (_, index) => ({
  id: `r${index}`,
  vector: Float32Array.from(centres[index % centres.length] as number[], (value) => value + (random() - 0.5) * 0.6),
}))

const cases: readonly { metric: VectorMetric; distance: Distance }[] = [
  { metric: 'cosine', distance: 'cosine' },
  // unit-length ciphertexts rank identically under dot, and no store re-normalises them
  { metric: 'cosine', distance: 'dot' },
  { metric: 'euclidean', distance: 'euclidean' },
  { metric: 'dot', distance: 'dot' },
]

describe('encrypted vectors in the memory store', () => {
  for (const { metric, distance } of cases) {
    it(`round-trips through the store and finds the plaintext neighbours (${metric} vectors in a ${distance} collection)`, async () => {
      const key = Uint8Array.from({ length: 32 }, (_, index) => index ^ 0x5a)
      const cipher = createVectorCipher({ key, metric, dimension, approximationFactor: 0.1 })
      const plainStore = memoryAdapter()
      const encryptedStore = memoryAdapter()
      // the truth is the plaintext metric: cosine for cosine vectors, whatever the encrypted collection uses
      await plainStore.doCreateCollection({ name: 'docs', dimension, distance: metric })
      await encryptedStore.doCreateCollection({ name: 'docs', dimension, distance })
      const binding = (id: string) => ({ associatedData: new TextEncoder().encode(`docs\u0000${id}`) })
      await plainStore.doUpsert({ collection: 'docs', records: records.map(({ id, vector }) => ({ id, vector, metadata: {} })) })
      await encryptedStore.doUpsert({
        collection: 'docs',
        records: records.map(({ id, vector }) => {
          const { vector: ciphertext, nonce, tag } = cipher.encrypt(vector, binding(id))
          return { id, vector: ciphertext, metadata: { _vw_vn: nonce, _vw_vt: tag } }
        }),
      })

      let hits = 0
      for (const { vector } of records.slice(0, 20)) {
        const truth = await plainStore.doQuery({ collection: 'docs', vector, topK: 10, includeMetadata: false, includeVectors: false })
        const found = await encryptedStore.doQuery({ collection: 'docs', vector: cipher.encryptQuery(vector), topK: 10, includeMetadata: false, includeVectors: false })
        const expected = new Set(truth.matches.map((match) => match.id))
        hits += found.matches.filter((match) => expected.has(match.id)).length
      }
      expect(hits / 200).toBeGreaterThan(0.85)

      const { records: fetched } = await encryptedStore.doFetch({ collection: 'docs', ids: ['r0', 'r1', 'r2'], includeMetadata: true, includeVectors: true })
      expect(fetched).toHaveLength(3)
      for (const record of fetched) {
        const original = records.find((candidate) => candidate.id === record.id)?.vector as Float32Array
        const stored = { vector: record.vector as Float32Array, nonce: record.metadata?._vw_vn as string, tag: record.metadata?._vw_vt as string }
        const decrypted = cipher.decrypt(stored, binding(record.id))
        const scale = metric === 'cosine' ? Math.hypot(...original) : 1
        for (let index = 0; index < dimension; index++) expect(decrypted[index]).toBeCloseTo((original[index] as number) / scale, 5)
      }
    })
  }
})
