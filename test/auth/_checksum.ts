// test helper: an independent base62 CRC-32 to forge keys whose checksum is right but whose secret is wrong

import { crc32 } from 'node:zlib'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

export function checksumOf(body: string): string {
  let value = crc32(body)
  let text = ''
  for (let index = 0; index < 6; index++) {
    text = BASE62[value % 62] + text
    value = Math.floor(value / 62)
  }
  return text
}
