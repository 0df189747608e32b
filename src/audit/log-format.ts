// the tamper-evident log format: hash-chained JSONL entries and signed Merkle checkpoints (C2SP tlog-checkpoint body)

import { platform } from '../platform/index.js'
import type { AuditEvent } from '../spec/audit.js'
import { type ByteWriter, writeCanonical } from './canonical-bytes.js'
import { canonicalize } from './canonical-json.js'
import { HexMerkleFrontier, MerkleFrontier, merkleNodeHash } from './merkle.js'

/** The `prev` of the first entry of a log. */
export const GENESIS_HASH = '0'.repeat(64)

/** Why a checkpoint was written. `close` and `rotate` seal a file: a file that ends otherwise was cut short. */
export type CheckpointReason = 'interval' | 'rotate' | 'close' | 'carry'

/** One log entry as stored: the line is the RFC 8785 form of exactly these four members. */
export interface LogEntry {
  readonly seq: number
  readonly prev: string
  readonly hash: string
  readonly event: AuditEvent
}

/** A checkpoint line: the Merkle tree head of entries `0 … size-1`, signed when a signer is configured. */
export interface Checkpoint {
  /** The log's name (C2SP origin line). */
  readonly origin: string
  /** Entries covered: seq 0 … size-1. */
  readonly size: number
  /** RFC 6962 tree hash of the entries' leaves, standard base64 (as in a C2SP checkpoint). */
  readonly root: string
  /** Hash of entry size-1 (the chain head), hex; the genesis hash when size is 0. */
  readonly last: string
  /** RFC 3339. */
  readonly time: string
  readonly reason: CheckpointReason
  /** Roots of the perfect subtrees, largest first, hex: lets a writer resume and a verifier start mid-log. */
  readonly frontier: readonly string[]
  /** `Ed25519`, `HMAC-SHA256` or `none`. */
  readonly alg: string
  /** C2SP key hash (4 bytes, hex) of the signing key, when signed. */
  readonly keyId?: string
  /** Signature over {@link checkpointBody}, standard base64. */
  readonly sig?: string
}

/** Signs checkpoint bodies. `src/node` provides Ed25519 and HMAC-SHA256 signers. */
export interface CheckpointSigner {
  readonly alg: string
  readonly keyId: string
  sign(body: Uint8Array): Uint8Array
}

/**
 * The two hashes of the log. `entry` is the RFC 6962 leaf hash of an entry's hash input, SHA-256(0x00 ‖ UTF-8 text),
 * and is at once the entry's chain hash and its Merkle leaf; `node` is SHA-256(0x01 ‖ left ‖ right).
 * The default uses the platform; `src/node` passes a faster node:crypto one with the same bytes.
 */
export interface ChainHasher {
  entry(hashInput: string): Uint8Array
  node(left: Uint8Array, right: Uint8Array): Uint8Array
  /** Optional fast paths with the same hashes as lowercase hex. `entryHex(text)` is `hex(entry(text))`. */
  entryHex?(hashInput: string): string
  /** SHA-256 of `bytes[start … end-1]` as hex; the caller has put the 0x00 leaf prefix at `bytes[start]`. */
  entryBytesHex?(bytes: Uint8Array, start: number, end: number): string
  /** `hex(node(left, right))` for hex inputs of 64 digits. */
  nodeHex?(left: string, right: string): string
}

/** {@link ChainHasher} on the platform primitives (node:crypto or @noble). */
export const platformChainHasher: ChainHasher = {
  entry(hashInput) {
    const text = platform.utf8Encode(hashInput)
    const prefixed = new Uint8Array(text.length + 1)
    prefixed.set(text, 1)
    return platform.sha256(prefixed)
  },
  node: merkleNodeHash,
}

/** The hex operations of a hasher, filled in from its byte operations where it has no fast path. */
interface HexHasher {
  entryHex(hashInput: string): string
  entryBytesHex(bytes: Uint8Array, start: number, end: number): string
  nodeHex(left: string, right: string): string
}

function hexHasher(hasher: ChainHasher): HexHasher {
  return {
    entryHex: hasher.entryHex?.bind(hasher) ?? ((hashInput) => platform.hex(hasher.entry(hashInput))),
    entryBytesHex:
      hasher.entryBytesHex?.bind(hasher) ?? ((bytes, start, end) => platform.hex(platform.sha256(bytes.subarray(start, end)))),
    nodeHex: hasher.nodeHex?.bind(hasher) ?? ((left, right) => platform.hex(hasher.node(hexToBytes(left), hexToBytes(right)))),
  }
}

// ,"hash":"<64 hex digits>" in bytes
const HASH_MEMBER_BYTES = 9 + 64 + 1

/** One parsed line of a log file. */
export type ParsedLine =
  | { readonly kind: 'entry'; readonly entry: LogEntry; readonly hashInput: string }
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint }
  | { readonly kind: 'malformed'; readonly detail: string }

const HEX64 = /^[0-9a-f]{64}$/

/** The text an entry's hash covers: the RFC 8785 form of `{event, prev, seq}`; its hash is SHA-256(0x00 ‖ text). */
export function entryHashInput(seq: number, prev: string, canonicalEvent: string): string {
  return '{"event":' + canonicalEvent + ',"prev":"' + prev + '","seq":' + seq + '}'
}

/** The entry line (no newline): the RFC 8785 form of `{event, hash, prev, seq}`. */
export function entryLine(seq: number, prev: string, hash: string, canonicalEvent: string): string {
  return '{"event":' + canonicalEvent + ',"hash":"' + hash + '","prev":"' + prev + '","seq":' + seq + '}'
}

/**
 * The signed text of a checkpoint: a C2SP tlog-checkpoint body (origin, size, base64 root) plus one extension line
 * that binds the chain head, the time and the reason, so a seal cannot be forged or moved.
 *
 * @example
 * ```ts
 * const signature = signer.sign(new TextEncoder().encode(checkpointBody(checkpoint)))
 * ```
 */
export function checkpointBody(checkpoint: Omit<Checkpoint, 'sig' | 'keyId' | 'alg' | 'frontier'>): string {
  return `${checkpoint.origin}\n${checkpoint.size}\n${checkpoint.root}\nvectorwarden ${checkpoint.reason} ${checkpoint.time} ${checkpoint.last}\n`
}

/**
 * Renders a checkpoint as a C2SP signed note (body, blank line, `— <origin> <base64(keyId ‖ signature)>`), the form
 * transparency-log witnesses consume. Only for signed checkpoints.
 *
 * @example
 * ```ts
 * await publishToWitness(checkpointNote(checkpoint))
 * ```
 */
export function checkpointNote(checkpoint: Checkpoint): string {
  if (checkpoint.sig === undefined || checkpoint.keyId === undefined) throw new TypeError('checkpointNote: unsigned')
  const signature = fromBase64(checkpoint.sig)
  const keyId = hexToBytes(checkpoint.keyId)
  const joined = new Uint8Array(keyId.length + signature.length)
  joined.set(keyId)
  joined.set(signature, keyId.length)
  return `${checkpointBody(checkpoint)}\n\u2014 ${checkpoint.origin} ${toBase64(joined)}\n`
}

/** The members a checkpoint line may hold (optional ones included). */
const CHECKPOINT_FIELDS: ReadonlySet<string> = new Set(['origin', 'size', 'root', 'last', 'time', 'reason', 'frontier', 'alg', 'keyId', 'sig'])

/** Serializes a checkpoint as its log line (RFC 8785 form, no newline). */
export function checkpointLine(checkpoint: Checkpoint): string {
  return canonicalize({ checkpoint })
}

/**
 * Parses one log line. Never throws: anything that is not a well-formed entry or checkpoint is `malformed`.
 *
 * @example
 * ```ts
 * const parsed = parseLogLine(line)
 * if (parsed.kind === 'entry') console.log(parsed.entry.seq)
 * ```
 */
export function parseLogLine(line: string): ParsedLine {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return { kind: 'malformed', detail: 'not JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'malformed', detail: 'not an object' }
  const record = value as Record<string, unknown>
  if ('checkpoint' in record) {
    const checkpoint = record.checkpoint as Record<string, unknown> | null
    if (
      typeof checkpoint !== 'object' ||
      checkpoint === null ||
      typeof checkpoint.origin !== 'string' ||
      !Number.isSafeInteger(checkpoint.size) ||
      (checkpoint.size as number) < 0 ||
      typeof checkpoint.root !== 'string' ||
      typeof checkpoint.last !== 'string' ||
      !HEX64.test(checkpoint.last) ||
      typeof checkpoint.time !== 'string' ||
      typeof checkpoint.reason !== 'string' ||
      !Array.isArray(checkpoint.frontier) ||
      !checkpoint.frontier.every((node) => typeof node === 'string' && HEX64.test(node)) ||
      typeof checkpoint.alg !== 'string'
    ) {
      return { kind: 'malformed', detail: 'checkpoint fields missing or of the wrong type' }
    }
    // byte for byte what the writer writes, and no member it does not write
    if (Object.keys(checkpoint).some((key) => !CHECKPOINT_FIELDS.has(key)) || checkpointLine(checkpoint as unknown as Checkpoint) !== line) {
      return { kind: 'malformed', detail: 'checkpoint line is not in canonical form' }
    }
    return { kind: 'checkpoint', checkpoint: checkpoint as unknown as Checkpoint }
  }
  const { seq, prev, hash, event } = record
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return { kind: 'malformed', detail: 'seq missing' }
  if (typeof prev !== 'string' || !HEX64.test(prev) || typeof hash !== 'string' || !HEX64.test(hash)) {
    return { kind: 'malformed', detail: 'prev or hash missing' }
  }
  if (typeof event !== 'object' || event === null) return { kind: 'malformed', detail: 'event missing' }
  let canonicalEvent: string
  try {
    canonicalEvent = canonicalize(event)
  } catch {
    return { kind: 'malformed', detail: 'event is not canonicalizable JSON' }
  }
  if (entryLine(seq as number, prev, hash, canonicalEvent) !== line) return { kind: 'malformed', detail: 'entry line is not in canonical form' }
  return {
    kind: 'entry',
    entry: { seq: seq as number, prev, hash, event: event as AuditEvent },
    hashInput: entryHashInput(seq as number, prev, canonicalEvent),
  }
}

/** Where a chain stands: the next sequence number, the head hash and the Merkle frontier. */
export interface ChainState {
  readonly next: number
  readonly last: string
  readonly frontier: MerkleFrontier
}

/**
 * Appends events to a hash chain and a Merkle tree and renders their lines. Holds no I/O: the file sink writes
 * the lines, the verifier replays them.
 *
 * @example
 * ```ts
 * const chain = new AuditChain({ origin: 'vectorwarden/prod' })
 * const line = chain.append(event)             // '{"event":…,"hash":…,"prev":…,"seq":0}'
 * const sealed = chain.checkpoint('close', Date.now())
 * ```
 */
export class AuditChain {
  readonly origin: string
  #next: number
  #last: string
  readonly #frontier: HexMerkleFrontier
  #signer: CheckpointSigner | undefined
  readonly #hasher: ChainHasher
  readonly #hex: HexHasher

  constructor(options: { origin: string; signer?: CheckpointSigner; state?: ChainState; hasher?: ChainHasher }) {
    if (typeof options.origin !== 'string' || options.origin === '' || /[\n\r]/.test(options.origin)) {
      throw new TypeError('AuditChain: origin must be a non-empty single line')
    }
    this.origin = options.origin
    this.#signer = options.signer
    this.#hasher = options.hasher ?? platformChainHasher
    this.#hex = hexHasher(this.#hasher)
    this.#next = options.state?.next ?? 0
    this.#last = options.state?.last ?? GENESIS_HASH
    const resumed = options.state?.frontier
    this.#frontier = new HexMerkleFrontier(
      this.#hex.nodeHex,
      resumed?.size ?? 0,
      (resumed?.nodes ?? []).map((node) => platform.hex(node)),
    )
    if (this.#frontier.size !== this.#next) throw new TypeError('AuditChain: frontier size does not match next seq')
  }

  /** Entries appended so far (the next sequence number). */
  get size(): number {
    return this.#next
  }

  get state(): ChainState {
    return {
      next: this.#next,
      last: this.#last,
      frontier: new MerkleFrontier(this.#frontier.size, this.#frontier.nodes.map(hexToBytes), this.#hasher.node),
    }
  }

  /** Chains one event and returns its line (without newline). Throws `TypeError` if the event is not JSON. */
  append(event: AuditEvent): string {
    const seq = this.#next
    const prev = this.#last
    const canonicalEvent = canonicalize(event)
    const hash = this.#hex.entryHex(entryHashInput(seq, prev, canonicalEvent))
    this.#frontier.append(hash)
    this.#next = seq + 1
    this.#last = hash
    return entryLine(seq, prev, hash, canonicalEvent)
  }

  /**
   * Chains one event and appends its line and a newline to `out` as UTF-8: the same bytes as `append` plus `\n`,
   * without building the line as a string. Throws `TypeError` if the event is not JSON, leaving `out` and the chain
   * as they were.
   *
   * @example
   * ```ts
   * const out = new ByteWriter()
   * for (const event of events) chain.appendTo(event, out)
   * await file.write(out.bytes.subarray(0, out.length))
   * ```
   */
  appendTo(event: AuditEvent, out: ByteWriter): void {
    const start = out.length
    // hash input first, 0x00-prefixed in place: 0x00 {"event":E,"prev":"P","seq":S}
    out.byte(0)
    out.ascii('{"event":')
    try {
      writeCanonical(out, event)
    } catch (error) {
      out.length = start
      throw error
    }
    this.#seal(out, start)
  }

  /**
   * {@link appendTo} for an event already in RFC 8785 form: `canonical[from … to-1]` must be exactly what
   * `writeCanonical` wrote for it. The file sink's worker thread chains events the calling thread encoded.
   *
   * @example
   * ```ts
   * const encoded = new ByteWriter()
   * writeCanonical(encoded, event)
   * chain.appendCanonicalTo(encoded.bytes, 0, encoded.length, out)
   * ```
   */
  appendCanonicalTo(canonical: Uint8Array, from: number, to: number, out: ByteWriter): void {
    const start = out.length
    out.byte(0)
    out.ascii('{"event":')
    out.append(canonical, from, to)
    this.#seal(out, start)
  }

  // the rest of a line whose 0x00 prefix, '{"event":' and canonical event are in `out` from `start` on
  #seal(out: ByteWriter, start: number): void {
    const seq = this.#next
    const prev = this.#last
    const eventEnd = out.length
    out.ascii(',"prev":"')
    out.ascii(prev)
    out.ascii('","seq":')
    out.ascii(String(seq))
    out.byte(0x7d) // }
    const end = out.length
    const hash = this.#hex.entryBytesHex(out.bytes, start, end)
    if (hash.length !== 64) {
      out.length = start
      throw new TypeError('AuditChain: the hasher must return 64 hex digits')
    }
    // then the line over the same bytes: drop the prefix byte, and open a gap for the hash member before the
    // ,"prev":…,"seq":…} suffix, which the line shares with the hash input
    out.reserve(HASH_MEMBER_BYTES)
    const bytes = out.bytes
    bytes.copyWithin(start, start + 1, eventEnd)
    bytes.copyWithin(eventEnd - 1 + HASH_MEMBER_BYTES, eventEnd, end)
    out.length = eventEnd - 1
    out.ascii(',"hash":"')
    out.ascii(hash)
    out.byte(0x22) // "
    out.length = end - 1 + HASH_MEMBER_BYTES
    out.byte(0x0a)
    this.#frontier.append(hash)
    this.#next = seq + 1
    this.#last = hash
  }

  /** A checkpoint of everything appended so far, signed when a signer is configured. */
  checkpoint(reason: CheckpointReason, now: number): Checkpoint {
    const unsigned = {
      origin: this.origin,
      size: this.#next,
      root: toBase64(hexToBytes(this.#frontier.root())),
      last: this.#last,
      time: new Date(now).toISOString(),
      reason,
    }
    const frontier = [...this.#frontier.nodes]
    const signer = this.#signer
    if (signer === undefined) return { ...unsigned, frontier, alg: 'none' }
    const sig = toBase64(signer.sign(platform.utf8Encode(checkpointBody(unsigned))))
    return { ...unsigned, frontier, alg: signer.alg, keyId: signer.keyId, sig }
  }
}

/** Standard base64 (with padding), as C2SP checkpoints use. */
export function toBase64(data: Uint8Array): string {
  return platform.base64urlEncode(data).replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((3 - (data.length % 3)) % 3)
}

/** Decodes standard base64; throws `TypeError` on anything else. */
export function fromBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new TypeError('not base64')
  return platform.base64urlDecode(text.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))
}

/** Decodes lowercase or uppercase hex; throws `TypeError` on odd length or other characters. */
export function hexToBytes(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new TypeError('not hex')
  const out = new Uint8Array(text.length / 2)
  for (let index = 0; index < out.length; index++) out[index] = (nibble(text.charCodeAt(index * 2)) << 4) | nibble(text.charCodeAt(index * 2 + 1))
  return out
}

// the value of a hex digit already checked by the caller: 0-9, A-F or a-f
const nibble = (code: number): number => (code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57)
