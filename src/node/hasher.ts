// the log's hashes on node:crypto directly: same bytes as the platform hasher, without the copies

import * as crypto from 'node:crypto'
import type { ChainHasher } from '../audit/log-format.js'
import { oneShotHash } from '../platform/node.js'

const NODE = Buffer.from([1])

// a local const, so that the check below narrows it inside the closures
const oneShot = oneShotHash

// a hex digest is cheaper than a Buffer one (no backing store to allocate)

// 0x01 ‖ left ‖ right for node hashes, filled in place: hashing is synchronous, so one buffer serves every call
const nodeInput = Buffer.alloc(65) as Buffer & { hexWrite(text: string, offset: number, length: number): number }
// Buffer#hexWrite (node's native decoder, without Buffer#write's argument handling) where present
const hexWrite =
  typeof (Buffer.prototype as { hexWrite?: unknown }).hexWrite === 'function'
    ? (text: string, offset: number): number => nodeInput.hexWrite(text, offset, 32)
    : (text: string, offset: number): number => nodeInput.write(text, offset, 32, 'hex')

function fillNodeInput(left: string, right: string): Buffer {
  nodeInput[0] = 1
  // hex decoding stops at the first non-hex digit: count the bytes so a malformed hash cannot go unnoticed
  if (left.length !== 64 || right.length !== 64 || hexWrite(left, 1) !== 32 || hexWrite(right, 33) !== 32) {
    throw new TypeError('nodeChainHasher: node hashes must be 64 hex digits')
  }
  return nodeInput
}

const view = (bytes: Uint8Array, start: number, end: number): Uint8Array =>
  new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start)

/** RFC 6962 leaf and node hashes over node:crypto; see `ChainHasher`. */
export const nodeChainHasher: ChainHasher =
  oneShot === undefined
    ? {
        entry: (hashInput) => crypto.createHash('sha256').update('\u0000').update(hashInput, 'utf8').digest(),
        node: (left, right) => crypto.createHash('sha256').update(NODE).update(left).update(right).digest(),
        entryHex: (hashInput) => crypto.createHash('sha256').update('\u0000').update(hashInput, 'utf8').digest('hex'),
        entryBytesHex: (bytes, start, end) => crypto.createHash('sha256').update(view(bytes, start, end)).digest('hex'),
        nodeHex: (left, right) => crypto.createHash('sha256').update(fillNodeInput(left, right)).digest('hex'),
      }
    : {
        // U+0000 encodes as the single byte 0x00: the RFC 6962 leaf prefix
        entry: (hashInput) => oneShot('sha256', '\u0000' + hashInput, 'buffer'),
        node: (left, right) => oneShot('sha256', Buffer.concat([NODE, left, right]), 'buffer'),
        entryHex: (hashInput) => oneShot('sha256', '\u0000' + hashInput, 'hex'),
        entryBytesHex: (bytes, start, end) => oneShot('sha256', view(bytes, start, end), 'hex'),
        nodeHex: (left, right) => oneShot('sha256', fillNodeInput(left, right), 'hex'),
      }
