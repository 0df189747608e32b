// the audit log verifier: replays hash chains and Merkle checkpoints across rotated files and names the first bad entry

import { readFile } from 'node:fs/promises'
import { type Checkpoint, checkpointBody, fromBase64, GENESIS_HASH, hexToBytes, parseLogLine, toBase64 } from '../audit/log-format.js'
import { MerkleFrontier } from '../audit/merkle.js'
import { nodeChainHasher } from './hasher.js'
import { platform } from '../platform/index.js'
import { type CheckpointVerifier, ed25519CheckpointVerifier, type PublicKeyInput } from './signer.js'

/** What kind of damage a problem is. */
export type AuditProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'torn'
  | 'checkpoint'
  | 'signature'

/** One thing wrong with the log. */
export interface AuditProblem {
  readonly kind: AuditProblemKind
  /** The first sequence number the problem affects, when one can be named. */
  readonly seq?: number
  readonly file: string
  /** 1-based line number in `file` (0 when the problem is about the file as a whole). */
  readonly line: number
  readonly detail: string
}

/** The verifier's findings. `ok` is true only when there is no problem. */
export interface AuditVerifyReport {
  readonly ok: boolean
  readonly problems: readonly AuditProblem[]
  /** The smallest sequence number any problem names. */
  readonly firstBadSeq?: number
  readonly entries: number
  readonly checkpoints: number
  /** Checkpoints whose signature was checked and is valid. */
  readonly verifiedSignatures: number
  /** First and last sequence numbers seen. */
  readonly firstSeq?: number
  readonly lastSeq?: number
  /** The log ends with a `close` checkpoint. */
  readonly sealed: boolean
  /** Entries after the last checkpoint (not covered by a signed tree head). */
  readonly uncheckpointed: number
  /** Files in the order they were verified (by first sequence number). */
  readonly files: readonly string[]
  /** Remarks that are not problems: unsigned checkpoints, a log that starts after seq 0. */
  readonly notes: readonly string[]
}

/** Options of {@link verifyAuditLog}. */
export interface VerifyAuditLogOptions {
  /** Every file of the log (active and rotated), in any order. */
  readonly files: readonly string[]
  /** The Ed25519 public key that signs checkpoints; without it signatures are not checked (a note says so). */
  readonly publicKey?: PublicKeyInput
  /** The C2SP key name the signer used. Default: each checkpoint's origin. */
  readonly keyName?: string
  /** Any other verifier (e.g. `hmacCheckpointSigner(secret)`); takes precedence over `publicKey`. */
  readonly verifier?: CheckpointVerifier
  /** A tree head kept outside the log (e.g. from `onCheckpoint`): the log must contain it. Catches any truncation. */
  readonly trustedCheckpoint?: { readonly size: number; readonly root: string }
  /** Accept a log that does not end with a `close` seal (a live log): the unsealed tail becomes a note. */
  readonly allowUnsealed?: boolean
  /** Require the log to start at seq 0, rather than at a signed carry checkpoint of a rotated file. */
  readonly requireStart?: boolean
  /**
   * The log's name (`checkpoint.origin` of `fileAuditSink`): every checkpoint must carry it. Without it, another log
   * signed by the same key (another host's) verifies as well.
   */
  readonly origin?: string
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The UTF-8 text of a line, or undefined when its bytes are not valid UTF-8. */
function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** A file's bytes split at every newline (the last piece is empty when the file ends with one). */
function splitLines(bytes: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = []
  let start = 0
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, start)) {
    pieces.push(bytes.subarray(start, at))
    start = at + 1
  }
  pieces.push(bytes.subarray(start))
  return pieces
}

interface LogRecord {
  readonly file: string
  readonly line: number
  readonly parsed: ReturnType<typeof parseLogLine>
  readonly torn: boolean
}

/** The seq of the next entry after `position` in the same file, if any. */
function nextEntrySeq(records: readonly LogRecord[], position: number): number | undefined {
  for (let index = position + 1; index < records.length; index++) {
    const parsed = (records[index] as LogRecord).parsed
    if (parsed.kind === 'entry') return parsed.entry.seq
  }
  return undefined
}

function foldFrontier(nodes: readonly Uint8Array[]): Uint8Array {
  if (nodes.length === 0) return platform.sha256(new Uint8Array(0))
  let root = nodes[nodes.length - 1] as Uint8Array
  for (let index = nodes.length - 2; index >= 0; index--) root = nodeChainHasher.node(nodes[index] as Uint8Array, root)
  return root
}

function frontierOf(checkpoint: Checkpoint): MerkleFrontier | undefined {
  try {
    const frontier = new MerkleFrontier(checkpoint.size, checkpoint.frontier.map(hexToBytes), nodeChainHasher.node)
    return toBase64(foldFrontier(frontier.nodes)) === checkpoint.root ? frontier : undefined
  } catch {
    return undefined
  }
}

/**
 * Verifies an audit log written by `fileAuditSink`: recomputes every entry's hash over its RFC 8785 form, follows the
 * chain across rotated files (sorted by their first sequence number), recomputes the RFC 6962 tree at every
 * checkpoint and checks its signature. Reports edited, deleted, inserted and reordered lines, torn lines, truncation
 * (a checkpoint that covers missing entries; a log or rotated file without its seal; a trusted tree head not reached)
 * and names the first bad sequence number.
 *
 * @example
 * ```ts
 * const report = await verifyAuditLog({ files: ['audit.log', 'audit.log.000000000000'], publicKey: pem, keyName: 'prod' })
 * if (!report.ok) console.error(report.firstBadSeq, report.problems)
 * ```
 */
export async function verifyAuditLog(options: VerifyAuditLogOptions): Promise<AuditVerifyReport> {
  if (typeof options !== 'object' || options === null || !Array.isArray(options.files)) {
    throw new TypeError('verifyAuditLog: files is required')
  }
  const verifiers = new Map<string, CheckpointVerifier>()
  const verifierFor = (origin: string): CheckpointVerifier | undefined => {
    if (options.verifier) return options.verifier
    if (options.publicKey === undefined) return undefined
    const name = options.keyName ?? origin
    let verifier = verifiers.get(name)
    if (verifier === undefined) {
      verifier = ed25519CheckpointVerifier(options.publicKey, name)
      verifiers.set(name, verifier)
    }
    return verifier
  }

  const problems: AuditProblem[] = []
  const notes: string[] = []
  const problem = (kind: AuditProblemKind, record: { file: string; line: number }, detail: string, seq?: number) => {
    problems.push(seq === undefined ? { kind, file: record.file, line: record.line, detail } : { kind, seq, file: record.file, line: record.line, detail })
  }

  // ---- read and order the files ----------------------------------------------------------------------------------
  const perFile: { file: string; records: LogRecord[]; key: number }[] = []
  for (const file of options.files) {
    const pieces = splitLines(await readFile(file))
    const endsClean = pieces.at(-1)?.length === 0
    if (endsClean) pieces.pop()
    const records: LogRecord[] = pieces.map((piece, index) => {
      // strict UTF-8, line by line: a lenient decoder would read an invalid byte as the U+FFFD a hash may cover
      const line = strictUtf8(piece)
      return {
        file,
        line: index + 1,
        parsed: line === undefined ? { kind: 'malformed', detail: 'line is not valid UTF-8' } : parseLogLine(line),
        torn: !endsClean && index === pieces.length - 1,
      }
    })
    let key = Number.POSITIVE_INFINITY
    for (const record of records) {
      if (record.parsed.kind === 'entry') {
        key = record.parsed.entry.seq
        break
      }
      if (record.parsed.kind === 'checkpoint') {
        key = record.parsed.checkpoint.size
        break
      }
    }
    perFile.push({ file, records, key })
  }
  perFile.sort((a, b) => a.key - b.key)

  // how often each seq occurs, to tell a deletion from a reordering and to spot duplicates
  const occurrences = new Map<number, number>()
  for (const { records } of perFile) {
    for (const record of records) {
      if (record.parsed.kind === 'entry') {
        const seq = record.parsed.entry.seq
        occurrences.set(seq, (occurrences.get(seq) ?? 0) + 1)
      }
    }
  }

  // ---- replay -----------------------------------------------------------------------------------------------------
  let started = false
  let expected = 0
  let lastHash: string | undefined = GENESIS_HASH
  let tree: MerkleFrontier | undefined
  let entries = 0
  let checkpoints = 0
  let verifiedSignatures = 0
  let firstSeq: number | undefined
  let lastSeq: number | undefined
  let lastCheckpointSize = 0
  let problemsAtCheckpoint = 0
  let lastRecord: LogRecord | undefined
  const seen = new Set<number>()
  let reorderedReported = -1
  let unsignedNoted = false
  let uncheckedNoted = false
  const trusted = options.trustedCheckpoint
  let trustedMatched = trusted === undefined || trusted.size === 0

  const checkTrusted = () => {
    if (trusted === undefined || tree === undefined || tree.size !== trusted.size) return
    if (toBase64(tree.root()) === trusted.root) trustedMatched = true
  }

  const checkSignature = (record: LogRecord, checkpoint: Checkpoint): boolean => {
    if (options.origin !== undefined && checkpoint.origin !== options.origin) {
      problem('signature', record, `checkpoint of size ${checkpoint.size} belongs to another log (origin ${JSON.stringify(checkpoint.origin)})`, checkpoint.size)
      return false
    }
    const verifier = verifierFor(checkpoint.origin)
    if (verifier === undefined) {
      if (checkpoint.alg !== 'none' && !uncheckedNoted) {
        uncheckedNoted = true
        notes.push('checkpoint signatures were not checked: no public key given')
      }
      if (checkpoint.alg === 'none' && !unsignedNoted) {
        unsignedNoted = true
        notes.push('checkpoints are unsigned: they detect accidents and truncation, not a rewrite of the whole log')
      }
      return true
    }
    if (checkpoint.alg !== verifier.alg || checkpoint.keyId !== verifier.keyId || checkpoint.sig === undefined) {
      problem('signature', record, `checkpoint of size ${checkpoint.size} is not signed by the expected key (${checkpoint.alg} ${checkpoint.keyId ?? 'no key'})`, checkpoint.size)
      return false
    }
    let signature: Uint8Array
    try {
      signature = fromBase64(checkpoint.sig)
    } catch {
      signature = new Uint8Array(0)
    }
    if (!verifier.verify(platform.utf8Encode(checkpointBody(checkpoint)), signature)) {
      problem('signature', record, `checkpoint of size ${checkpoint.size} has an invalid signature`, checkpoint.size)
      return false
    }
    verifiedSignatures++
    return true
  }

  for (let fileIndex = 0; fileIndex < perFile.length; fileIndex++) {
    const { file, records } = perFile[fileIndex] as (typeof perFile)[number]
    if (records.length === 0) {
      notes.push(`${file} is empty`)
      continue
    }
    for (let position = 0; position < records.length; position++) {
      const record = records[position] as LogRecord
      const parsed = record.parsed
      if (parsed.kind === 'malformed') {
        if (record.torn) problem('torn', record, `last line is incomplete (${parsed.detail}): the writer crashed mid-line`, expected)
        else problem('edited', record, `line is not a valid log line (${parsed.detail})`, expected)
        // assume it took the place of one entry; what follows is checked on its own
        if (started) expected++
        lastHash = undefined
        tree = undefined
        continue
      }
      lastRecord = record
      if (parsed.kind === 'checkpoint') {
        const checkpoint = parsed.checkpoint
        checkpoints++
        const signed = checkSignature(record, checkpoint)
        const seeded = frontierOf(checkpoint)
        if (seeded === undefined) problem('checkpoint', record, `checkpoint of size ${checkpoint.size}: its frontier does not hash to its root`, checkpoint.size)
        if (!started) {
          started = true
          expected = checkpoint.size
          lastHash = checkpoint.last
          tree = signed ? seeded?.clone() : undefined
          firstSeq = checkpoint.size
          lastCheckpointSize = checkpoint.size
          problemsAtCheckpoint = problems.length
          if (checkpoint.size > 0) {
            if (checkpoint.reason !== 'carry' || position !== 0) problem('deleted', record, `the log starts at a ${checkpoint.reason} checkpoint of size ${checkpoint.size}: seq 0…${checkpoint.size - 1} missing`, 0)
            else if (options.requireStart) problem('deleted', record, `the log starts at seq ${checkpoint.size}, not 0`, 0)
            else notes.push(`verified from seq ${checkpoint.size} (a checkpoint carried into ${file}); earlier files were not given`)
          }
          checkTrusted()
          continue
        }
        if (checkpoint.size > expected) {
          // entries after the gap mean something was cut out of the middle (a line, or a whole rotated file)
          const later = [...occurrences.keys()].some((seq) => seq >= checkpoint.size)
          problem(
            later ? 'deleted' : 'truncated',
            record,
            `checkpoint covers ${checkpoint.size} entries but only ${expected} precede it: seq ${expected}…${checkpoint.size - 1} missing`,
            expected,
          )
        } else if (checkpoint.size < expected) {
          problem('inserted', record, `checkpoint covers ${checkpoint.size} entries but ${expected} precede it`, checkpoint.size)
        } else if (tree !== undefined) {
          // a mismatch after a problem already reported in this stretch is its echo, not news
          if (toBase64(tree.root()) !== checkpoint.root && problems.length === problemsAtCheckpoint) {
            problem('checkpoint', record, `entries ${lastCheckpointSize}…${checkpoint.size - 1} do not match the checkpoint's tree head`, lastCheckpointSize)
          } else if (lastHash !== undefined && lastHash !== checkpoint.last) {
            problem('edited', record, `the chain head does not match the checkpoint's`, Math.max(0, checkpoint.size - 1))
          }
        }
        // a valid signed checkpoint re-anchors the replay after damage, so later regions are checked on their own
        if (checkpoint.size === expected && signed && seeded !== undefined) {
          tree = seeded.clone()
          lastHash = checkpoint.last
        }
        lastCheckpointSize = Math.max(lastCheckpointSize, checkpoint.size)
        problemsAtCheckpoint = problems.length
        checkTrusted()
        continue
      }

      // an entry
      const { entry, hashInput } = parsed
      entries++
      lastSeq = entry.seq
      firstSeq ??= entry.seq
      const actual = platform.hex(nodeChainHasher.entry(hashInput))
      if (actual !== entry.hash) problem('edited', record, `seq ${entry.seq}: content does not match its hash`, entry.seq)
      if (!started) {
        started = true
        expected = entry.seq
        if (entry.seq === 0) {
          tree = new MerkleFrontier(0, [], nodeChainHasher.node)
          lastHash = GENESIS_HASH
        } else {
          problem('deleted', record, `the log starts at seq ${entry.seq} with no checkpoint before it: seq 0…${entry.seq - 1} missing`, 0)
          tree = undefined
          lastHash = entry.prev
        }
      }
      if (entry.seq === expected) {
        if (lastHash !== undefined && entry.prev !== lastHash && entry.seq > 0) {
          problem('edited', record, `seq ${entry.seq} chains to a different hash than seq ${entry.seq - 1} has: seq ${entry.seq - 1} was replaced`, entry.seq - 1)
        } else if (entry.seq === 0 && entry.prev !== GENESIS_HASH) {
          problem('edited', record, 'seq 0 does not start from the genesis hash', 0)
        }
        // an entry's hash is its Merkle leaf hash
        tree?.append(hexToBytes(entry.hash))
        expected++
        lastHash = entry.hash
        checkTrusted()
      } else if (entry.seq > expected && nextEntrySeq(records, position) === expected + 1) {
        // the log carries on as if this line were seq `expected`: its number was changed, not lines removed
        problem('edited', record, `seq ${expected} carries the number ${entry.seq}`, expected)
        expected++
        lastHash = undefined
        tree = undefined
      } else if (entry.seq > expected) {
        // were the missing numbers moved further down (reordered) or are they gone (deleted)? Scan whichever is
        // smaller, the gap or the log: a forged seq far ahead must not make this loop run for ever
        let movedLater = false
        const isMissingHere = (seq: number) => seq >= expected && seq < entry.seq && !seen.has(seq) && (occurrences.get(seq) ?? 0) > 0
        if (entry.seq - expected <= occurrences.size) {
          for (let seq = expected; seq < entry.seq && !movedLater; seq++) movedLater = isMissingHere(seq)
        } else {
          for (const seq of occurrences.keys()) if (isMissingHere(seq)) movedLater = true
        }
        if (movedLater) {
          problem('reordered', record, `seq ${entry.seq} appears where seq ${expected} belongs`, expected)
          reorderedReported = entry.seq
        } else {
          problem('deleted', record, `seq ${expected}${entry.seq - 1 > expected ? `…${entry.seq - 1}` : ''} missing before seq ${entry.seq}`, expected)
        }
        expected = entry.seq + 1
        lastHash = entry.hash
        tree = undefined
      } else if (seen.has(entry.seq)) {
        problem('inserted', record, `seq ${entry.seq} appears a second time`, entry.seq)
      } else if (reorderedReported < 0 || entry.seq > reorderedReported) {
        problem('reordered', record, `seq ${entry.seq} appears after seq ${expected - 1}`, entry.seq)
      }
      seen.add(entry.seq)
    }
    const last = [...records].reverse().find((record) => record.parsed.kind !== 'malformed')
    const sealedWith = last?.parsed.kind === 'checkpoint' ? last.parsed.checkpoint.reason : undefined
    if (fileIndex < perFile.length - 1 && sealedWith !== 'rotate' && sealedWith !== 'close') {
      problem('truncated', { file, line: records.length }, `rotated file ends without its seal: entries after seq ${expected - 1} may be missing`, expected)
    }
  }

  const sealed = lastRecord?.parsed.kind === 'checkpoint' && lastRecord.parsed.checkpoint.reason === 'close'
  const uncheckpointed = Math.max(0, expected - lastCheckpointSize)
  if (!started) {
    if (options.allowUnsealed) notes.push('no entries')
    else problem('truncated', { file: perFile[0]?.file ?? '', line: 0 }, 'the log is empty: not even a close seal', 0)
  } else if (!sealed) {
    const detail =
      lastRecord?.parsed.kind === 'checkpoint' && lastRecord.parsed.checkpoint.reason === 'rotate'
        ? `the newest file ends with a rotation seal: the file after it is missing (from seq ${expected})`
        : `the log does not end with a close seal: it was truncated or its writer has not closed it; ${uncheckpointed} entries after the last checkpoint (seq ${lastCheckpointSize}) cannot be checked for a cut tail`
    if (options.allowUnsealed && !(lastRecord?.parsed.kind === 'checkpoint' && lastRecord.parsed.checkpoint.reason === 'rotate')) notes.push(detail)
    else problem('truncated', { file: lastRecord?.file ?? '', line: lastRecord?.line ?? 0 }, detail, lastCheckpointSize)
  }
  if (!trustedMatched && trusted !== undefined) {
    problem('truncated', { file: lastRecord?.file ?? '', line: 0 }, `the trusted tree head of size ${trusted.size} is not in the log`, Math.min(expected, trusted.size))
  }

  let firstBadSeq: number | undefined
  for (const found of problems) if (found.seq !== undefined && (firstBadSeq === undefined || found.seq < firstBadSeq)) firstBadSeq = found.seq
  return {
    ok: problems.length === 0,
    problems,
    ...(firstBadSeq === undefined ? {} : { firstBadSeq }),
    entries,
    checkpoints,
    verifiedSignatures,
    ...(firstSeq === undefined ? {} : { firstSeq }),
    ...(lastSeq === undefined ? {} : { lastSeq }),
    sealed,
    uncheckpointed,
    files: perFile.map((entry) => entry.file),
    notes,
  }
}
