import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { platformChainHasher } from '../../src/audit/log-format.js'
import { merkleLeafHash } from '../../src/audit/merkle.js'
import { nodeChainHasher } from '../../src/node/hasher.js'
import { platform } from '../../src/platform/index.js'

const hex = (bytes: Uint8Array) => platform.hex(bytes)

describe('chain hashers', () => {
  it('node and platform hashers produce the same entry hash for any text, and it is the RFC 6962 leaf hash', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const expected = hex(merkleLeafHash(platform.utf8Encode(text)))
        expect(hex(nodeChainHasher.entry(text))).toBe(expected)
        expect(hex(platformChainHasher.entry(text))).toBe(expected)
      }),
    )
  })

  it('node and platform hashers produce the same node hash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (left, right) => {
        expect(hex(nodeChainHasher.node(left, right))).toBe(hex(platformChainHasher.node(left, right)))
      }),
    )
  })
})
