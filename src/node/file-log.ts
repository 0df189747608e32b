// the file log behind the file sink: opening and crash recovery, and the writer (chain, segments, checkpoints,
// rotation, group-commit fdatasync). The writer runs on the calling thread or in the sink's worker thread

import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  close as closeFile,
  statSync,
  write,
  writeFileSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import {
  AuditChain,
  type ChainState,
  type Checkpoint,
  type CheckpointSigner,
  checkpointLine,
  hexToBytes,
  parseLogLine,
} from '../audit/log-format.js'
import { type Deferred as Group, deferred as newGroup } from '../audit/deferred.js'
import { MerkleFrontier } from '../audit/merkle.js'
import { securityEvent } from '../audit/security-event.js'
import { BufferWriter } from './byte-writer.js'
import { nodeChainHasher } from './hasher.js'
import { AuditError, ConfigError } from '../errors.js'
import type { AuditEvent } from '../spec/audit.js'

const writeAsync = promisify(write)
const fdatasyncAsync = promisify(fdatasync)
const closeAsync = promisify(closeFile)

/** What opening found. */
export interface FileSinkRecovery {
  /** Bytes of a partly written last line that were cut off (and saved to `tornPath`). */
  readonly tornBytes: number
  readonly tornPath?: string
  /** The previous writer did not close the log (a crash, or a kill). */
  readonly uncleanShutdown: boolean
  /** The sequence number the next entry gets. */
  readonly nextSeq: number
}

/** The validated settings of a file log (defaults filled in). Plain data: it is passed to the worker thread. */
export interface FileLogSettings {
  readonly path: string
  readonly fsync: 'group' | 'always' | 'never'
  readonly groupCommitMs: number
  readonly maxBytes: number
  readonly maxAgeMs: number
  readonly every: number
  readonly intervalMs: number
  readonly origin: string
}

/** Where an opened log stands, as plain data (it is passed to the worker thread). */
export interface OpenedFileLog {
  /** Chain state to resume from; absent for a new log. */
  readonly chain?: { readonly next: number; readonly last: string; readonly frontierSize: number; readonly frontierNodes: Uint8Array[] }
  readonly fileBytes: number
  readonly fileEntries: number
  /** First seq of the active file (the chain's next seq when the active file is empty). */
  readonly fileFirstSeq: number
  readonly activeEmpty: boolean
  readonly recovery: FileSinkRecovery
}

/** What the writer reports while it runs. */
export interface FileLogHooks {
  alarm(kind: string, detail: string): void
  /** Every checkpoint written except the carry copy that opens a rotated-into file. */
  checkpoint?(checkpoint: Checkpoint): void
}

/** The writer: `write` resolves once the event's group is written (and synced, per `fsync`). */
export interface FileLog {
  readonly size: number
  write(event: AuditEvent): Promise<void>
  /** {@link write} for an event already encoded by `writeCanonical`: `canonical[from … to-1]`. */
  writeCanonical(canonical: Uint8Array, from: number, to: number): Promise<void>
  flush(): Promise<void>
  close(): Promise<void>
  /**
   * Settles once the entries the writer makes when it starts (a tree-head copy in a fresh active file, the record of
   * a recovery) are written; at once when there are none ({@link opensWithEntries}).
   */
  readonly ready: Promise<void>
}

interface Rotation {
  readonly rotateTo: string
}
/** Lines to write, as UTF-8; with `fsync: 'always'`, `ends` marks where each line ends. */
interface Segment {
  readonly out: BufferWriter
  readonly ends: number[]
}
type Item = Segment | Rotation

// a segment is closed once it holds this many bytes; at most MAX_SPARES written segments are kept for reuse
const SEGMENT_BYTES = 1024 * 1024
const MAX_SPARES = 4



// the longest delay a Node timer takes; a longer one fires after 1 ms instead
const MAX_TIMER_MS = 2_147_483_647

/** Whether the active file is new after rotated ones, so the writer opens it with a copy of the tree head. */
const opensWithCarry = (opened: OpenedFileLog): boolean => opened.activeEmpty && opened.chain !== undefined && opened.chain.next > 0

/**
 * The id a worker running the writer acknowledges its start with (`fileAuditSink({ thread: 'worker' })`): once the
 * entries the writer makes on start are written, or as failed when the writer cannot start.
 *
 * @internal
 */
export const FILE_LOG_STARTED = -1

/**
 * Whether the writer makes entries of its own when it starts (a tree-head copy, the record of a recovery): until
 * they are written, a worker running the writer must keep the process alive.
 */
export function opensWithEntries(opened: OpenedFileLog): boolean {
  return opensWithCarry(opened) || recoveryAlarm(opened.recovery) !== undefined
}

const rotatedName = (path: string, firstSeq: number): string => `${path}.${String(firstSeq).padStart(12, '0')}`

function fsyncDirectory(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // some platforms cannot fsync a directory; the rename is still atomic
  }
}

/** The chain state at the end of a file's lines, replayed from its last checkpoint (or its start). */
function stateFromLines(lines: readonly string[]): { state: ChainState; sealed: boolean } {
  let start = 0
  let base: ChainState = { next: 0, last: '0'.repeat(64), frontier: new MerkleFrontier(0, [], nodeChainHasher.node) }
  let sealed = false
  for (let index = lines.length - 1; index >= 0; index--) {
    const parsed = parseLogLine(lines[index] as string)
    if (parsed.kind === 'checkpoint') {
      const checkpoint = parsed.checkpoint
      base = {
        next: checkpoint.size,
        last: checkpoint.last,
        frontier: new MerkleFrontier(checkpoint.size, checkpoint.frontier.map(hexToBytes), nodeChainHasher.node),
      }
      start = index + 1
      sealed = index === lines.length - 1 && (checkpoint.reason === 'close' || checkpoint.reason === 'rotate')
      break
    }
  }
  const frontier = base.frontier
  let next = base.next
  let last = base.last
  for (let index = start; index < lines.length; index++) {
    const parsed = parseLogLine(lines[index] as string)
    if (parsed.kind !== 'entry') throw new ConfigError(`audit log: line ${index + 1} cannot be resumed from (${parsed.kind})`)
    const { entry } = parsed
    if (entry.seq !== next) throw new ConfigError(`audit log: expected seq ${next} at line ${index + 1}, found ${entry.seq}`)
    // an entry's hash is its Merkle leaf hash
    frontier.append(hexToBytes(entry.hash))
    next++
    last = entry.hash
  }
  return { state: { next, last, frontier }, sealed }
}

/**
 * Opens a log for appending: cuts a torn last line left by a crash (saving it beside the log), refuses a log whose
 * last complete line is damaged, and replays the chain state from the last checkpoint. Synchronous, so that a
 * damaged log is refused where the sink is created.
 */
export function recoverFileLog(path: string): OpenedFileLog {
  // a log that cannot be appended to is refused here, where the sink is created, on either thread
  try {
    closeSync(openSync(path, 'a'))
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new ConfigError(`audit log ${path} cannot be opened for appending${typeof code === 'string' ? ` (${code})` : ''}`, {
      reason: 'log_unwritable',
      cause: error,
    })
  }
  let state: ChainState | undefined
  let sealed = true
  let tornBytes = 0
  let tornPath: string | undefined
  let fileBytes = 0
  let fileEntries = 0
  let fileFirstSeq = 0
  let activeLines: string[] = []
  if (existsSync(path) && statSync(path).size > 0) {
    const content = readFileSync(path)
    let end = content.lastIndexOf(0x0a) + 1
    const lines = content.subarray(0, end).toString('utf8').split('\n')
    lines.pop()
    // a crash leaves a partial last line, and on some file systems blocks of zeros: cut those. Any other damaged line
    // is not a crash's doing, so refuse to append to the log until someone has looked at it
    while (lines.length > 0 && /^\0*$/.test(lines[lines.length - 1] as string)) {
      const dropped = lines.pop() as string
      end -= Buffer.byteLength(dropped) + 1
    }
    if (lines.length > 0 && parseLogLine(lines[lines.length - 1] as string).kind === 'malformed') {
      throw new ConfigError(`audit log ${path} ends with a damaged line; run \`vectorwarden audit verify\` on it`, {
        reason: 'damaged_log',
      })
    }
    if (end < content.length) {
      tornBytes = content.length - end
      tornPath = `${path}.torn-${Date.now()}`
      writeFileSync(tornPath, content.subarray(end))
      const handle = openSync(path, 'r+')
      try {
        ftruncateSync(handle, end)
        fsyncSync(handle)
      } finally {
        closeSync(handle)
      }
    }
    activeLines = lines
    fileBytes = end
  }
  if (activeLines.length > 0) {
    const resumed = stateFromLines(activeLines)
    state = resumed.state
    sealed = resumed.sealed
    for (const line of activeLines) {
      const parsed = parseLogLine(line)
      if (parsed.kind === 'entry') {
        if (fileEntries === 0) fileFirstSeq = parsed.entry.seq
        fileEntries++
      } else if (parsed.kind === 'checkpoint' && fileEntries === 0) fileFirstSeq = parsed.checkpoint.size
    }
  } else {
    // the active file is new (or held only a torn line): continue from the newest rotated file, if there is one
    const prefix = `${basename(path)}.`
    const rotated = readdirSync(dirname(path))
      .filter((name) => name.startsWith(prefix) && /^\d{12}$/.test(name.slice(prefix.length)))
      .sort()
    const newest = rotated.at(-1)
    if (newest !== undefined) {
      const lines = readFileSync(join(dirname(path), newest), 'utf8').split('\n')
      if (lines.at(-1) === '') lines.pop()
      const resumed = stateFromLines(lines)
      state = resumed.state
      sealed = resumed.sealed && tornBytes === 0
    }
  }
  const next = state?.next ?? 0
  return {
    ...(state === undefined
      ? {}
      : {
          chain: {
            next: state.next,
            last: state.last,
            frontierSize: state.frontier.size,
            frontierNodes: state.frontier.nodes.map((node) => new Uint8Array(node)),
          },
        }),
    fileBytes,
    fileEntries,
    fileFirstSeq: activeLines.length === 0 ? next : fileFirstSeq,
    activeEmpty: activeLines.length === 0,
    recovery: {
      tornBytes,
      ...(tornPath === undefined ? {} : { tornPath }),
      uncleanShutdown: !sealed,
      nextSeq: next,
    },
  }
}

/**
 * The alarm an opened log calls for: a torn last line that was cut, or a previous writer that did not close the log.
 * The writer records the same as its first entry.
 */
export function recoveryAlarm(recovery: FileSinkRecovery): { kind: 'torn_tail' | 'unclean_shutdown'; detail: string } | undefined {
  if (recovery.tornBytes > 0) {
    const saved = recovery.tornPath === undefined ? '' : ` (saved to ${basename(recovery.tornPath)})`
    return { kind: 'torn_tail', detail: `cut ${recovery.tornBytes} bytes of a torn last line${saved}; previous writer did not close the log` }
  }
  if (recovery.uncleanShutdown) {
    return { kind: 'unclean_shutdown', detail: 'previous writer did not close the log; entries after its last checkpoint are not sealed' }
  }
  return undefined
}

/**
 * Starts the writer on an opened log. `signer` signs checkpoints on this thread.
 */
export function startFileLog(settings: FileLogSettings, opened: OpenedFileLog, signer: CheckpointSigner | undefined, hooks: FileLogHooks): FileLog {
  const { path, groupCommitMs, maxBytes, maxAgeMs, every, intervalMs, origin } = settings
  const fsyncMode = settings.fsync
  const resumed = opened.chain
  const state: ChainState | undefined =
    resumed === undefined
      ? undefined
      : { next: resumed.next, last: resumed.last, frontier: new MerkleFrontier(resumed.frontierSize, resumed.frontierNodes, nodeChainHasher.node) }
  const chain = new AuditChain({ origin, signer, state, hasher: nodeChainHasher })
  let fileBytes = opened.fileBytes
  let fileEntries = opened.fileEntries
  let fileFirstSeq = opened.fileFirstSeq
  const fd = openSync(path, 'a')
  let fileOpenedAt = Date.now()
  let lastCheckpointSize = chain.size

  // ---- writing ----------------------------------------------------------------------------------------------------

  let activeFd = fd
  // lines waiting to be written: segments of bytes, split where the file rotates
  let pending: Item[] = []
  let open: Segment | undefined
  let pendingGroup: Group | undefined
  let committing: Promise<void> | undefined
  let timer: { cancel(): void } | undefined
  let broken: AuditError | undefined
  let closed = false
  let closing: Promise<void> | undefined
  // written segments' buffers, reused so a steady stream allocates nothing per group
  const spares: BufferWriter[] = []

  const alarm = (kind: string, detail: string): void => {
    try {
      hooks.alarm(kind, detail)
    } catch {
      // an alarm handler must not break writing
    }
  }
  const onCheckpoint = hooks.checkpoint

  // the first failure breaks the writer for good: one alarm, and every later write, flush and close rejects with it
  const breakWith = (failure: AuditError, kind: string, detail: string): AuditError => {
    if (!broken) {
      broken = failure
      alarm(kind, detail)
    }
    return broken
  }
  const writeFailed = (error: unknown): AuditError =>
    breakWith(
      new AuditError('audit file write failed; the sink no longer accepts events', { reason: 'file_write_failed', cause: error }),
      'write_failed',
      `${(error as { code?: string }).code ?? 'error'} writing ${path}`,
    )

  const segment = (): Segment => {
    // a large group goes out in several writes of about SEGMENT_BYTES, so no buffer is ever grown and copied
    if (open === undefined || open.out.length >= SEGMENT_BYTES) {
      open = { out: spares.pop() ?? new BufferWriter(SEGMENT_BYTES + SEGMENT_BYTES / 4), ends: [] }
      pending.push(open)
    }
    return open
  }

  const release = (item: Segment): void => {
    item.out.clear()
    // a buffer grown by an unusually large group is let go rather than kept
    if (spares.length < MAX_SPARES && item.out.bytes.length <= 2 * SEGMENT_BYTES) spares.push(item.out)
  }

  /** Queues a checkpoint line; false (and the writer broken) when the checkpoint cannot be made or signed. */
  const queueCheckpoint = (reason: 'interval' | 'rotate' | 'close' | 'carry', now: number): boolean => {
    let checkpoint: Checkpoint
    try {
      checkpoint = chain.checkpoint(reason, now)
    } catch (error) {
      // a signer that throws (a key service down, say): the entries waiting with it are not written, and nothing after
      breakWith(
        new AuditError('audit checkpoint could not be made or signed; the sink no longer accepts events', { reason: 'checkpoint_failed', cause: error }),
        'checkpoint_failed',
        `a ${reason} checkpoint of ${path} could not be made or signed`,
      )
      return false
    }
    const target = segment()
    const before = target.out.length
    target.out.utf8(checkpointLine(checkpoint))
    target.out.byte(0x0a)
    if (fsyncMode === 'always') target.ends.push(target.out.length)
    fileBytes += target.out.length - before
    lastCheckpointSize = checkpoint.size
    if (onCheckpoint !== undefined && reason !== 'carry') {
      try {
        onCheckpoint(checkpoint)
      } catch {
        alarm('checkpoint_callback_failed', 'onCheckpoint threw')
      }
    }
    return true
  }

  const queueRotation = (now: number): void => {
    if (!queueCheckpoint('rotate', now)) return
    pending.push({ rotateTo: rotatedName(path, fileFirstSeq) })
    open = undefined
    fileBytes = 0
    fileEntries = 0
    fileFirstSeq = chain.size
    fileOpenedAt = now
    // the new file opens with a signed copy of the tree head, so it verifies on its own after older files expire
    queueCheckpoint('carry', now)
  }

  const groupFor = (): Group => {
    pendingGroup ??= newGroup()
    if (committing === undefined && timer === undefined) {
      // 0 ms: commit after the current turn of the event loop (setTimeout would wait at least 1 ms)
      const wait = fsyncMode === 'always' ? 0 : groupCommitMs
      if (wait === 0) {
        const immediate = setImmediate(startCommit)
        timer = { cancel: () => clearImmediate(immediate) }
      } else {
        const timeout = setTimeout(startCommit, Math.min(wait, MAX_TIMER_MS))
        timer = { cancel: () => clearTimeout(timeout) }
      }
    }
    return pendingGroup
  }

  const writeAll = async (bytes: Uint8Array, start: number, end: number): Promise<void> => {
    let offset = start
    while (offset < end) {
      const { bytesWritten } = await writeAsync(activeFd, bytes, offset, end - offset)
      offset += bytesWritten
    }
  }

  const writeSegment = async (item: Segment): Promise<void> => {
    const bytes = item.out.bytes
    if (fsyncMode === 'always') {
      let start = 0
      for (const end of item.ends) {
        await writeAll(bytes, start, end)
        await fdatasyncAsync(activeFd)
        start = end
      }
    } else {
      // one write for the whole group
      await writeAll(bytes, 0, item.out.length)
    }
  }

  const writeItems = async (items: readonly Item[], durable: boolean): Promise<void> => {
    for (const item of items) {
      if ('out' in item) {
        await writeSegment(item)
        release(item)
        continue
      }
      await fdatasyncAsync(activeFd)
      await closeAsync(activeFd)
      const target = existsSync(item.rotateTo) ? `${item.rotateTo}-${Date.now()}` : item.rotateTo
      renameSync(path, target)
      activeFd = openSync(path, 'a')
      fsyncDirectory(path)
    }
    if (durable && fsyncMode !== 'always') await fdatasyncAsync(activeFd)
  }

  const commitLoop = async (forceDurable: boolean): Promise<void> => {
    while (pending.length > 0) {
      const items = pending
      const group = pendingGroup
      pending = []
      open = undefined
      pendingGroup = undefined
      try {
        if (broken) throw broken
        await writeItems(items, forceDurable || fsyncMode !== 'never')
        group?.resolve()
      } catch (error) {
        group?.reject(writeFailed(error))
      }
    }
  }

  function startCommit(): Promise<void> {
    if (timer !== undefined) {
      timer.cancel()
      timer = undefined
    }
    if (committing !== undefined) return committing
    committing = commitLoop(false).finally(() => {
      committing = undefined
      // a write that came in after the loop's last check, but before this ran, saw a commit in progress and did not
      // schedule one: start it now, or it would wait for the next write or tick
      if (pending.length > 0) void startCommit()
    })
    return committing
  }

  // the last fdatasync a flush started: close waits for it, so the file is never closed under a flush still syncing
  let syncing: Promise<void> = Promise.resolve()
  const flush = async (): Promise<void> => {
    while (committing !== undefined || pending.length > 0) {
      await (committing ?? startCommit())
    }
    if (broken) throw broken
    if (fsyncMode === 'never') {
      const sync = fdatasyncAsync(activeFd)
      syncing = sync.catch(() => {})
      try {
        await sync
      } catch (error) {
        throw writeFailed(error)
      }
    }
  }

  const tick = (): void => {
    if (closed || broken) return
    const now = Date.now()
    if (chain.size > lastCheckpointSize) {
      if (fileEntries > 0 && now - fileOpenedAt >= maxAgeMs) queueRotation(now)
      else queueCheckpoint('interval', now)
      groupFor()
    }
  }
  const interval = setInterval(tick, Math.min(intervalMs, maxAgeMs, MAX_TIMER_MS))
  interval.unref?.()

  let lastLineBytes = 0
  // an event object, or (event undefined) one already encoded in canonical[from … to-1]
  const append = (event: AuditEvent | undefined, canonical: Uint8Array | undefined, from: number, to: number, now: number): void => {
    const target = segment()
    const before = target.out.length
    if (event === undefined) chain.appendCanonicalTo(canonical as Uint8Array, from, to, target.out)
    else {
      try {
        chain.appendTo(event, target.out)
      } catch (error) {
        throw new AuditError('audit event is not JSON-serializable', { reason: 'not_json', cause: error })
      }
    }
    const bytes = target.out.length - before
    if (fsyncMode === 'always') target.ends.push(target.out.length)
    lastLineBytes = bytes
    fileBytes += bytes
    fileEntries++
    if (chain.size - lastCheckpointSize >= every) queueCheckpoint('interval', now)
  }
  const accept = (event: AuditEvent | undefined, canonical: Uint8Array | undefined, from: number, to: number): Promise<void> => {
    if (closed) return Promise.reject(new AuditError('audit file sink is closed', { reason: 'closed' }))
    if (broken) return Promise.reject(broken)
    const now = Date.now()
    // the next line is about as long as the last one; a file may overrun maxBytes by one line and a checkpoint
    if (fileEntries > 0 && (fileBytes + lastLineBytes > maxBytes || now - fileOpenedAt >= maxAgeMs)) queueRotation(now)
    append(event, canonical, from, to, now)
    const group = groupFor()
    if (fsyncMode === 'always') startCommit()
    return group.done
  }
  let ready: Promise<void> = Promise.resolve()
  // a new active file after rotated ones opens with the tree head, like one the sink rotated itself
  if (opensWithCarry(opened)) {
    queueCheckpoint('carry', Date.now())
    ready = groupFor().done
  }
  const notice = recoveryAlarm(opened.recovery)
  if (notice !== undefined) {
    // the alarm itself is raised by the sink on the calling thread, when it opens the log
    append(
      securityEvent('integrity', {
        reason: notice.kind === 'torn_tail' ? 'audit_torn_tail' : 'audit_unclean_shutdown',
        detail: notice.detail,
        severity: 'medium',
      }),
      undefined,
      0,
      0,
      Date.now(),
    )
    ready = groupFor().done
  }
  return {
    get size() {
      return chain.size
    },
    write: (event) => accept(event, undefined, 0, 0),
    writeCanonical: (canonical, from, to) => accept(undefined, canonical, from, to),
    flush,
    close() {
      if (closing !== undefined) return closing
      closed = true
      clearInterval(interval)
      if (!broken) {
        queueCheckpoint('close', Date.now())
        groupFor()
      }
      closing = (async () => {
        let failure: unknown
        try {
          await flush()
        } catch (error) {
          failure = error
        }
        await fdatasyncAsync(activeFd).catch(() => {})
        await syncing
        try {
          await closeAsync(activeFd)
        } catch (error) {
          failure ??= writeFailed(error)
        }
        if (failure !== undefined) throw failure
      })()
      return closing
    },
    ready,
  }
}
