// RFC 6962 / RFC 9162 Merkle tree hashes, kept incrementally as a frontier of perfect subtrees

import { platform } from '../platform/index.js'

const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * The leaf hash of RFC 6962 §2.1: SHA-256(0x00 ‖ data).
 *
 * @example
 * ```ts
 * const leaf = merkleLeafHash(new TextEncoder().encode('entry'))
 * ```
 */
export function merkleLeafHash(data: Uint8Array): Uint8Array {
  return platform.sha256(concat([LEAF, data]))
}

/**
 * The interior node hash of RFC 6962 §2.1: SHA-256(0x01 ‖ left ‖ right).
 *
 * @example
 * ```ts
 * const parent = merkleNodeHash(leftHash, rightHash)
 * ```
 */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return platform.sha256(concat([NODE, left, right]))
}

/**
 * The Merkle tree hash of a list of leaf hashes, straight from the definition in RFC 6962 §2.1 (split at the largest
 * power of two below n). O(n); the reference the incremental {@link MerkleFrontier} is tested against.
 *
 * @example
 * ```ts
 * const root = merkleRoot(leaves.map(merkleLeafHash))
 * ```
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return platform.sha256(new Uint8Array(0))
  if (leafHashes.length === 1) return leafHashes[0] as Uint8Array
  let split = 1
  while (split * 2 < leafHashes.length) split *= 2
  return merkleNodeHash(merkleRoot(leafHashes.slice(0, split)), merkleRoot(leafHashes.slice(split)))
}

/**
 * An append-only Merkle tree kept as the roots of its perfect subtrees (largest first): O(log n) memory, amortised
 * one node hash per leaf. The root of n leaves folds the subtrees right to left, which equals RFC 6962's MTH because
 * the largest power of two below n is exactly the size of the first perfect subtree.
 *
 * @example
 * ```ts
 * const tree = new MerkleFrontier()
 * tree.append(merkleLeafHash(entryHash))
 * const { size, root } = { size: tree.size, root: tree.root() }
 * ```
 */
export class MerkleFrontier {
  #size: number
  /** Subtree roots, largest first; subtree i has 2^k leaves where k is the i-th highest set bit of size. */
  #nodes: Uint8Array[]
  readonly #nodeHash: (left: Uint8Array, right: Uint8Array) => Uint8Array

  /** `nodeHash` must compute {@link merkleNodeHash}; a runtime may pass a faster one. */
  constructor(size = 0, nodes: readonly Uint8Array[] = [], nodeHash: (left: Uint8Array, right: Uint8Array) => Uint8Array = merkleNodeHash) {
    this.#nodeHash = nodeHash
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('MerkleFrontier: bad size')
    if (popcount(size) !== nodes.length) throw new TypeError('MerkleFrontier: node count does not match size')
    this.#size = size
    this.#nodes = [...nodes]
  }

  get size(): number {
    return this.#size
  }

  /** The perfect subtree roots, largest first (what a checkpoint stores so the tree can be resumed). */
  get nodes(): readonly Uint8Array[] {
    return this.#nodes
  }

  append(leafHash: Uint8Array): void {
    let node = leafHash
    // merge equal-sized subtrees: one merge per trailing one-bit of the old size
    let size = this.#size
    while (size % 2 === 1) {
      node = this.#nodeHash(this.#nodes.pop() as Uint8Array, node)
      size = Math.floor(size / 2)
    }
    this.#nodes.push(node)
    this.#size++
  }

  root(): Uint8Array {
    const nodes = this.#nodes
    if (nodes.length === 0) return platform.sha256(new Uint8Array(0))
    let root = nodes[nodes.length - 1] as Uint8Array
    for (let index = nodes.length - 2; index >= 0; index--) root = this.#nodeHash(nodes[index] as Uint8Array, root)
    return root
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(this.#size, this.#nodes, this.#nodeHash)
  }
}

/**
 * The same tree as {@link MerkleFrontier}, with hashes as lowercase hex strings: the log's hot path hashes to hex
 * (cheaper than allocating a byte array per digest on node) and stores hex in checkpoints anyway.
 *
 * @example
 * ```ts
 * const tree = new HexMerkleFrontier((left, right) => hex(merkleNodeHash(bytes(left), bytes(right))))
 * tree.append(entryHashHex)
 * const root = tree.root()
 * ```
 */
export class HexMerkleFrontier {
  #size: number
  /** Subtree roots, largest first, as in {@link MerkleFrontier}. */
  readonly #nodes: string[]
  readonly #nodeHex: (left: string, right: string) => string

  /** `nodeHex` must compute {@link merkleNodeHash} over the decoded hashes and return it as lowercase hex. */
  constructor(nodeHex: (left: string, right: string) => string, size = 0, nodes: readonly string[] = []) {
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('HexMerkleFrontier: bad size')
    if (popcount(size) !== nodes.length) throw new TypeError('HexMerkleFrontier: node count does not match size')
    for (const node of nodes) if (!HEX64.test(node)) throw new TypeError('HexMerkleFrontier: nodes must be 64 lowercase hex digits')
    this.#nodeHex = nodeHex
    this.#size = size
    this.#nodes = [...nodes]
  }

  get size(): number {
    return this.#size
  }

  /** The perfect subtree roots, largest first. */
  get nodes(): readonly string[] {
    return this.#nodes
  }

  append(leafHex: string): void {
    let node = leafHex
    // merge equal-sized subtrees: one merge per trailing one-bit of the old size
    let size = this.#size
    while (size % 2 === 1) {
      node = this.#nodeHex(this.#nodes.pop() as string, node)
      size = Math.floor(size / 2)
    }
    this.#nodes.push(node)
    this.#size++
  }

  /** The tree hash, hex (SHA-256 of nothing for the empty tree). */
  root(): string {
    const nodes = this.#nodes
    if (nodes.length === 0) return EMPTY_ROOT
    let root = nodes[nodes.length - 1] as string
    for (let index = nodes.length - 2; index >= 0; index--) root = this.#nodeHex(nodes[index] as string, root)
    return root
  }
}

const HEX64 = /^[0-9a-f]{64}$/
const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

function popcount(value: number): number {
  let count = 0
  while (value > 0) {
    count += value % 2
    value = Math.floor(value / 2)
  }
  return count
}
