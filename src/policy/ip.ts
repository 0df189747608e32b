// IPv4 / IPv6 addresses and CIDR ranges for client-address conditions, without dependencies

/** A parsed address: 16 bytes (IPv4 as IPv4-mapped IPv6) so both families compare alike. */
type AddressBytes = Uint8Array

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const bytes: number[] = []
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined
    const value = Number(part)
    if (value > 255) return undefined
    bytes.push(value)
  }
  return bytes
}

/**
 * Parses an IPv4 or IPv6 address (no zone id) into 16 bytes; IPv4 and IPv4-mapped IPv6 give the same bytes.
 * Returns `undefined` for anything that is not an address.
 *
 * @example
 * ```ts
 * parseAddress('10.0.0.1') // Uint8Array(16) [0,…,0,255,255,10,0,0,1]
 * ```
 */
export function parseAddress(text: string): AddressBytes | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined
  const out = new Uint8Array(16)
  if (!text.includes(':')) {
    const v4 = parseIpv4(text)
    if (v4 === undefined) return undefined
    out[10] = 0xff
    out[11] = 0xff
    out.set(v4, 12)
    return out
  }
  let head = text
  let tailV4: number[] | undefined
  const lastColon = text.lastIndexOf(':')
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1))
    if (tailV4 === undefined) return undefined
    head = `${text.slice(0, lastColon + 1)}0:0`
  }
  const halves = head.split('::')
  if (halves.length > 2) return undefined
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return []
    const groups: number[] = []
    for (const group of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined
      groups.push(Number.parseInt(group, 16))
    }
    return groups
  }
  const left = parseGroups(halves[0] as string)
  const right = halves.length === 2 ? parseGroups(halves[1] as string) : []
  if (left === undefined || right === undefined) return undefined
  const total = left.length + right.length
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined
  const groups = [...left, ...new Array<number>(8 - total).fill(0), ...right]
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (groups[i] as number) >> 8
    out[2 * i + 1] = (groups[i] as number) & 0xff
  }
  if (tailV4 !== undefined) out.set(tailV4, 12)
  return out
}

/** A compiled address range. */
export interface AddressRange {
  readonly network: AddressBytes
  /** Prefix length in bits over the 16-byte form. */
  readonly bits: number
}

/**
 * Parses `address/prefix` (or a single address). IPv4 prefixes count over the IPv4 part.
 * Returns `undefined` when malformed or when host bits are set beyond the prefix.
 *
 * @example
 * ```ts
 * parseCidr('192.168.0.0/16')
 * ```
 */
export function parseCidr(text: string): AddressRange | undefined {
  const slash = text.indexOf('/')
  const addressText = slash === -1 ? text : text.slice(0, slash)
  const network = parseAddress(addressText)
  if (network === undefined) return undefined
  const isV4 = !addressText.includes(':')
  const maxBits = isV4 ? 32 : 128
  let bits = maxBits
  if (slash !== -1) {
    const prefix = text.slice(slash + 1)
    if (!/^(0|[1-9]\d{0,2})$/.test(prefix)) return undefined
    bits = Number(prefix)
    if (bits > maxBits) return undefined
  }
  const totalBits = isV4 ? bits + 96 : bits
  for (let bit = totalBits; bit < 128; bit++) {
    if ((network[bit >> 3] as number) & (0x80 >> (bit & 7))) return undefined
  }
  return { network, bits: totalBits }
}

/**
 * Whether an address lies in a range.
 *
 * @example
 * ```ts
 * inRange(parseAddress('10.1.2.3')!, parseCidr('10.0.0.0/8')!) // true
 * ```
 */
export function inRange(address: AddressBytes, range: AddressRange): boolean {
  const fullBytes = range.bits >> 3
  for (let i = 0; i < fullBytes; i++) if (address[i] !== range.network[i]) return false
  const rest = range.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((address[fullBytes] as number) & mask) === ((range.network[fullBytes] as number) & mask)
}
