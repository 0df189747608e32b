// the log's hashes on node:crypto directly: same bytes as the platform hasher, without the copies

import * as crypto from 'node:crypto'
import type { ChainHasher } from '../audit/log-format.js'

const NODE = Buffer.from([1])

// crypto.hash (node ≥ 20.12) hashes in one call without a Hash object, which is most of the cost for ~1 KB inputs
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'buffer') => Buffer }).hash

/** RFC 6962 leaf and node hashes over node:crypto; see `ChainHasher`. */
export const nodeChainHasher: ChainHasher =
  oneShot === undefined
    ? {
        entry: (hashInput) => crypto.createHash('sha256').update('\u0000').update(hashInput, 'utf8').digest(),
        node: (left, right) => crypto.createHash('sha256').update(NODE).update(left).update(right).digest(),
      }
    : {
        // U+0000 encodes as the single byte 0x00: the RFC 6962 leaf prefix
        entry: (hashInput) => oneShot('sha256', '\u0000' + hashInput, 'buffer'),
        node: (left, right) => oneShot('sha256', Buffer.concat([NODE, left, right]), 'buffer'),
      }
