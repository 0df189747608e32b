import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { platform } from '../../src/platform/index.js'
import { platform as node } from '../../src/platform/node.js'
import { platform as web } from '../../src/platform/web.js'

describe('platform primitives', () => {
  it('resolves to the node implementation under node', () => {
    expect(platform.name).toBe('node')
  })

  it('node and web produce identical bytes for every primitive', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (data, key) => {
        expect(node.hex(node.sha256(data))).toBe(web.hex(web.sha256(data)))
        expect(node.hex(node.hmacSha256(key, data))).toBe(web.hex(web.hmacSha256(key, data)))
        const encoded = node.base64urlEncode(data)
        expect(web.base64urlEncode(data)).toBe(encoded)
        expect([...web.base64urlDecode(encoded)]).toEqual([...data])
        expect([...node.base64urlDecode(encoded)]).toEqual([...data])
      }),
    )
  })

  it('sha256 matches the FIPS 180-4 "abc" vector on both paths', () => {
    const abc = new TextEncoder().encode('abc')
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    expect(node.hex(node.sha256(abc))).toBe(expected)
    expect(web.hex(web.sha256(abc))).toBe(expected)
  })

  it('timingSafeEqual is false for different lengths or contents and true for equal bytes', () => {
    for (const impl of [node, web]) {
      expect(impl.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true)
      expect(impl.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false)
      expect(impl.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
    }
  })

  it('rejects text that is not base64url on both paths', () => {
    expect(() => node.base64urlDecode('a+b/')).toThrow(TypeError)
    expect(() => web.base64urlDecode('a+b/')).toThrow(TypeError)
  })
})
