import { describe, expect, it } from 'vitest'
import { createVectorCipher } from '../../src/crypto/vector/index.js'
import { platform as web } from '../../src/platform/web.js'
import { platform } from '../../src/platform/index.js'

// produced by this implementation (format vectorwarden/vector/v1); a change here breaks every stored vector
const key = Uint8Array.from({ length: 32 }, (_, index) => index + 1)
const plaintext = [0.5, -1.25, 2, 0]
const stored = {
  euclidean: {
    vector: [726.7577514648438, 222.3726348876953, -461.7605285644531, 75.47929382324219],
    nonce: 'nM1ImhZVwpvC6jf0VsvvRAjiPawG0JJV',
    tag: 'OTy-K6gGRyOdeCdq4oDJMDiJ-mzFvKjtSoU7QRR45J8',
  },
  cosine: {
    vector: [0.8173720240592957, -0.0021638134494423866, -0.5751404166221619, 0.033344246447086334],
    nonce: 'rqewTqEm5pikE3daHc-rtBsC5iRqV9K3',
    tag: 'f_6u8MX-Wzi7IdhIRxbHO1y2AN6mbws3ddzlI0cQReY',
  },
} as const

describe('vector cipher: stored format v1', () => {
  it('still decrypts a euclidean vector stored by an earlier build', () => {
    const cipher = createVectorCipher({ key, metric: 'euclidean', dimension: 4, approximationFactor: 1 })
    const decrypted = cipher.decrypt(stored.euclidean)
    for (const [index, value] of plaintext.entries()) expect(decrypted[index]).toBeCloseTo(value, 6)
  })

  it('still decrypts a cosine vector stored by an earlier build, to the unit-length plaintext', () => {
    const cipher = createVectorCipher({ key, metric: 'cosine', dimension: 4, approximationFactor: 1 })
    const decrypted = cipher.decrypt(stored.cosine)
    const length = Math.hypot(...plaintext)
    for (const [index, value] of plaintext.entries()) expect(decrypted[index]).toBeCloseTo(value / length, 6)
  })

  it('relies only on primitives that the node and web platforms compute identically', () => {
    const data = platform.utf8Encode('vectorwarden/vector/v1/noise')
    expect(platform.hex(platform.hmacSha256(key, data))).toBe(web.hex(web.hmacSha256(key, data)))
    expect(platform.base64urlDecode(stored.euclidean.nonce)).toEqual(web.base64urlDecode(stored.euclidean.nonce))
  })
})
