import { describe, expect, it } from 'vitest'
import { generateKey, Keyring } from '../../src/crypto/keyring.js'
import { vectorBinding, vectorCipherSource } from '../../src/crypto/vector/index.js'
import { ConfigError, IntegrityError } from '../../src/errors.js'

const config = { metric: 'euclidean' as const, dimension: 8, approximationFactor: 1 }
const plain = [1, -2, 3, -4, 5, -6, 7, -8]
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((value, index) => Math.abs(value - (b[index] as number)) < 1e-5)

function sharedKeyring(): Keyring {
  return new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
}

describe('vector ciphers from the keyring', () => {
  it('gives each tenant its own key: a vector of one tenant fails integrity under another tenant', () => {
    const vectors = vectorCipherSource(sharedKeyring(), config)
    const acme = vectors.forWrite({ tenant: 'acme', collection: 'docs' })
    const globex = vectors.forWrite({ tenant: 'globex', collection: 'docs' })
    const stored = acme.cipher.encrypt(plain)
    expect(close(vectors.forRead({ tenant: 'acme', collection: 'docs' }, acme.keyId).decrypt(stored), plain)).toBe(true)
    expect(() => globex.cipher.decrypt(stored)).toThrow(IntegrityError)
  })

  it('ranks another tenant\'s vectors at chance for a query under this tenant\'s key', () => {
    const vectors = vectorCipherSource(sharedKeyring(), { metric: 'cosine', dimension: 32, approximationFactor: 0.2 })
    let state = 7
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      return state / 4294967296 - 0.5
    }
    const base = Array.from({ length: 300 }, () => Array.from({ length: 32 }, random))
    const acme = vectors.forWrite({ tenant: 'acme', collection: 'docs' }).cipher
    const globex = vectors.forWrite({ tenant: 'globex', collection: 'docs' }).cipher
    const stored = base.map((vector) => acme.encrypt(vector).vector)
    const top = (query: ArrayLike<number>, candidates: readonly ArrayLike<number>[]) =>
      candidates
        .map((candidate, id) => {
          let dot = 0
          let norms = 0
          let queryNorm = 0
          for (let index = 0; index < 32; index++) {
            dot += (query[index] as number) * (candidate[index] as number)
            norms += (candidate[index] as number) ** 2
            queryNorm += (query[index] as number) ** 2
          }
          return { id, similarity: dot / Math.sqrt(norms * queryNorm) }
        })
        .sort((first, second) => second.similarity - first.similarity)
        .slice(0, 10)
        .map((hit) => hit.id)
    let own = 0
    let foreign = 0
    for (const query of base.slice(0, 30)) {
      const truth = new Set(top(query, base))
      own += top(acme.encryptQuery(query), stored).filter((id) => truth.has(id)).length
      foreign += top(globex.encryptQuery(query), stored).filter((id) => truth.has(id)).length
    }
    expect(own / 300).toBeGreaterThan(0.8)
    // chance is 10 / 300 ≈ 3 %
    expect(foreign / 300).toBeLessThan(0.12)
  })

  it('gives each collection of a tenant its own key', () => {
    const vectors = vectorCipherSource(sharedKeyring(), config)
    const stored = vectors.forWrite({ tenant: 'acme', collection: 'docs' }).cipher.encrypt(plain)
    expect(() => vectors.forWrite({ tenant: 'acme', collection: 'notes' }).cipher.decrypt(stored)).toThrow(IntegrityError)
    const shared = vectors.forWrite({ collection: 'docs' }).cipher
    expect(() => shared.decrypt(stored)).toThrow(IntegrityError)
  })

  it('writes under the new primary after a rotation, still reads the old key, queries under both, and stops at retirement', () => {
    const keyring = sharedKeyring()
    const vectors = vectorCipherSource(keyring, config)
    const scope = { tenant: 'acme', collection: 'docs' }
    const before = vectors.forWrite(scope)
    const stored = before.cipher.encrypt(plain)
    keyring.add({ id: 'k2', material: generateKey() })
    keyring.promote('k2')
    const after = vectors.forWrite(scope)
    expect(after.keyId).toBe('k2')
    expect(close(vectors.forRead(scope, 'k1').decrypt(stored), plain)).toBe(true)
    expect(vectors.forQuery(scope).map((entry) => entry.keyId)).toEqual(['k2', 'k1'])
    keyring.retire('k1')
    expect(() => vectors.forRead(scope, 'k1')).toThrow(IntegrityError)
    expect(vectors.forQuery(scope).map((entry) => entry.keyId)).toEqual(['k2'])
  })

  it('refuses a shredded tenant and an unknown key id (fail closed)', () => {
    const keyring = new Keyring({
      keys: [
        { id: 'k1', material: generateKey(), state: 'primary' },
        { id: 'acme-1', material: generateKey(), tenant: 'acme', state: 'primary' },
      ],
    })
    const vectors = vectorCipherSource(keyring, config)
    const scope = { tenant: 'acme', collection: 'docs' }
    expect(vectors.forWrite(scope).keyId).toBe('acme-1')
    keyring.shredTenant('acme')
    expect(() => vectors.forWrite(scope)).toThrow(IntegrityError)
    expect(() => vectors.forRead({ tenant: 'globex', collection: 'docs' }, 'nope')).toThrow(IntegrityError)
  })

  it('checks the collection configuration at construction', () => {
    expect(() => vectorCipherSource(sharedKeyring(), { metric: 'cosine', dimension: 0 })).toThrow(ConfigError)
    expect(() => vectorCipherSource(sharedKeyring(), { metric: 'cosine', dimension: 8, approximationFactor: -1 })).toThrow(ConfigError)
  })

  it('binds a vector to tenant, collection, namespace and id: no two places share associated data', () => {
    const places = [
      { collection: 'docs', id: 'a' },
      { tenant: 'acme', collection: 'docs', id: 'a' },
      { tenant: '', collection: 'docs', id: 'a' },
      { collection: 'docs', namespace: '', id: 'a' },
      { collection: 'doc', id: 'sa' },
      { collection: 'docs', id: 'b' },
      { tenant: 'acme', collection: 'docs', namespace: 'n', id: 'a' },
    ]
    const encodings = places.map((place) => Buffer.from(vectorBinding(place)).toString('hex'))
    expect(new Set(encodings).size).toBe(places.length)
    const vectors = vectorCipherSource(sharedKeyring(), config)
    const { cipher } = vectors.forWrite({ tenant: 'acme', collection: 'docs' })
    const stored = cipher.encrypt(plain, { associatedData: vectorBinding({ tenant: 'acme', collection: 'docs', id: 'a' }) })
    expect(() => cipher.decrypt(stored, { associatedData: vectorBinding({ tenant: 'acme', collection: 'docs', id: 'b' }) })).toThrow(IntegrityError)
  })
})
