import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MerkleFrontier, merkleLeafHash, merkleNodeHash, merkleRoot } from '../../src/audit/merkle.js'
import { platform } from '../../src/platform/index.js'

const leaf = (index: number) => merkleLeafHash(platform.utf8Encode(`leaf ${index}`))
const hex = (bytes: Uint8Array) => platform.hex(bytes)

describe('Merkle tree (RFC 6962)', () => {
  it('hashes the empty tree as SHA-256 of the empty string', () => {
    expect(hex(new MerkleFrontier().root())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('prefixes leaves with 0x00 and nodes with 0x01 (domain separation)', () => {
    const data = platform.utf8Encode('x')
    expect(hex(merkleLeafHash(data))).toBe(hex(platform.sha256(new Uint8Array([0, ...data]))))
    const a = leaf(1)
    const b = leaf(2)
    expect(hex(merkleNodeHash(a, b))).toBe(hex(platform.sha256(new Uint8Array([1, ...a, ...b]))))
  })

  it('splits at the largest power of two below n: a tree of 3 is H(H(l0,l1), l2)', () => {
    const leaves = [leaf(0), leaf(1), leaf(2)]
    expect(hex(merkleRoot(leaves))).toBe(hex(merkleNodeHash(merkleNodeHash(leaves[0]!, leaves[1]!), leaves[2]!)))
  })

  it('has an incremental root equal to the definition for every size up to 130', () => {
    const frontier = new MerkleFrontier()
    const leaves: Uint8Array[] = []
    for (let index = 0; index < 130; index++) {
      leaves.push(leaf(index))
      frontier.append(leaves[index]!)
      expect(hex(frontier.root())).toBe(hex(merkleRoot(leaves)))
      expect(frontier.nodes.length).toBe(frontier.size.toString(2).replace(/0/g, '').length)
    }
  })

  it('resumes from its stored frontier to the same roots as an uninterrupted tree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 50 }), (split, more) => {
        const whole = new MerkleFrontier()
        for (let index = 0; index < split; index++) whole.append(leaf(index))
        const resumed = new MerkleFrontier(whole.size, whole.nodes)
        for (let index = split; index < split + more; index++) {
          whole.append(leaf(index))
          resumed.append(leaf(index))
        }
        expect(hex(resumed.root())).toBe(hex(whole.root()))
      }),
      { numRuns: 50 },
    )
  })

  it('changes its root when any leaf changes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.nat(), (size, pick) => {
        const leaves = Array.from({ length: size }, (_, index) => leaf(index))
        const changed = [...leaves]
        changed[pick % size] = leaf(1000 + pick)
        expect(hex(merkleRoot(changed))).not.toBe(hex(merkleRoot(leaves)))
      }),
      { numRuns: 50 },
    )
  })

  it('refuses a frontier whose node count does not match its size', () => {
    expect(() => new MerkleFrontier(3, [leaf(0)])).toThrow(TypeError)
  })
})
