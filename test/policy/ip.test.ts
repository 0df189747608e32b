import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { inRange, parseAddress, parseCidr } from '../../src/policy/ip.js'

describe('IP addresses and CIDR ranges', () => {
  it('parses IPv4, IPv6, compressed and IPv4-mapped forms; refuses malformed input', () => {
    expect(parseAddress('::ffff:10.0.0.1')).toEqual(parseAddress('10.0.0.1'))
    expect(parseAddress('::1')?.[15]).toBe(1)
    expect(parseAddress('2001:db8::8a2e:370:7334')).toBeDefined()
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.0.0.1', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3', 'fe80::1%eth0', ' 10.0.0.1']) {
      expect(parseAddress(bad)).toBeUndefined()
    }
  })

  it('matches prefixes bit by bit, for v4 and v6', () => {
    const range = parseCidr('192.168.4.0/22')
    if (range === undefined) throw new Error('range')
    expect(inRange(parseAddress('192.168.7.255')!, range)).toBe(true)
    expect(inRange(parseAddress('192.168.8.0')!, range)).toBe(false)
    const v6 = parseCidr('2001:db8:8000::/33')!
    expect(inRange(parseAddress('2001:db8:8000::1')!, v6)).toBe(true)
    expect(inRange(parseAddress('2001:db8:7fff::1')!, v6)).toBe(false)
    expect(inRange(parseAddress('10.0.0.1')!, parseCidr('0.0.0.0/0')!)).toBe(true)
    expect(inRange(parseAddress('2001:db8::1')!, parseCidr('0.0.0.0/0')!)).toBe(false)
  })

  it('an IPv4 address is in a.b.c.d/n exactly when its top n bits agree (property)', () => {
    const octet = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(fc.tuple(octet, octet, octet, octet), fc.tuple(octet, octet, octet, octet), fc.integer({ min: 0, max: 32 }), (a, b, bits) => {
        const toNumber = (o: number[]) => ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
        const network = (toNumber(b) & mask) >>> 0
        const text = [network >>> 24, (network >>> 16) & 255, (network >>> 8) & 255, network & 255].join('.')
        const range = parseCidr(`${text}/${bits}`)!
        expect(inRange(parseAddress(a.join('.'))!, range)).toBe(((toNumber(a) & mask) >>> 0) === network)
      }),
    )
  })
})
