// the JSONL file sink: hash-chained lines, signed Merkle checkpoints, rotation, group-commit fdatasync, crash
// recovery; written on the calling thread, or (thread: 'worker') encoded here and chained and written in a worker

import { pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { writeCanonical } from '../audit/canonical-bytes.js'
import type { Checkpoint, CheckpointSigner } from '../audit/log-format.js'
import { AuditError, ConfigError } from '../errors.js'
import type { AuditEvent, AuditSink } from '../spec/audit.js'
import { BufferWriter } from './byte-writer.js'
import { type Deferred, deferred } from '../audit/deferred.js'
import {
  FILE_LOG_STARTED,
  type FileLogSettings,
  type FileSinkRecovery,
  type OpenedFileLog,
  opensWithEntries,
  recoverFileLog,
  recoveryAlarm,
  startFileLog,
} from './file-log.js'
import { type WorkerSignerSpec, workerSignerSpec } from './signer.js'

export type { FileSinkRecovery } from './file-log.js'

/** Options of {@link fileAuditSink}. */
export interface FileAuditSinkOptions {
  /** The active log file. Rotated files are renamed to `<path>.<first seq, 12 digits>` beside it. */
  readonly path: string
  readonly rotate?: {
    /** Rotate before a file would exceed this many bytes. */
    readonly maxBytes?: number
    /** Rotate a file this old (ms) at the next write or tick. */
    readonly maxAgeMs?: number
  }
  /**
   * `group` (default): one `fdatasync` per group commit, shared by every event in the group.
   * `always`: one write and one `fdatasync` per event. `never`: written to the OS, durable only on flush/close.
   */
  readonly fsync?: 'group' | 'always' | 'never'
  /**
   * How long the first event of a group waits for company before the group is written, ms. Default 0: the group is
   * whatever arrived in the same turn of the event loop plus everything that arrives while the previous group is
   * being written and synced, which batches well under load without adding latency when idle.
   */
  readonly groupCommitMs?: number
  readonly checkpoint?: {
    /** Checkpoint after this many entries. Default 1000. */
    readonly every?: number
    /** And at least this often while entries arrive, ms. Default 10 000. */
    readonly intervalMs?: number
    /** Signs checkpoints: `ed25519CheckpointSigner(...)`. Unsigned checkpoints detect accidents, not attackers. */
    readonly signer?: CheckpointSigner
    /** The log's name in checkpoints (C2SP origin). Default `vectorwarden`. */
    readonly origin?: string
  }
  /** Torn tails, unclean shutdowns, write failures. */
  readonly onAlarm?: (alarm: { kind: string; detail: string }) => void
  /** Every checkpoint written, e.g. to publish it to a witness or a separate store. */
  readonly onCheckpoint?: (checkpoint: Checkpoint) => void
  /**
   * Where the log is written. `main` (default): on the calling thread. `worker`: the calling thread only encodes
   * each event (RFC 8785) and a worker thread chains, hashes, checkpoints, rotates and writes: about 1.2× the events
   * per second on two shared cores, bounded by the encoding. Acknowledgements, durability and the file format are
   * the same; `sync` mode pays a thread hop per call. With `worker`, the checkpoint signer must come from `ed25519CheckpointSigner` or
   * `hmacCheckpointSigner` (its key is handed to the worker), and `onAlarm` / `onCheckpoint` are called
   * asynchronously, when the worker reports.
   */
  readonly thread?: 'main' | 'worker'
}

/** The file sink; `recovery` says what was found on open. */
export interface FileAuditSink extends AuditSink {
  readonly path: string
  readonly recovery: FileSinkRecovery
  /** Entries written (or queued) so far, over the whole log. */
  readonly size: number
  /** Writes everything queued and makes it durable (fdatasync). */
  flush(): Promise<void>
  /** Writes a `close` checkpoint (the seal), flushes and closes the file. */
  close(): Promise<void>
}

/**
 * Appends hash-chained JSONL to a file, with signed Merkle checkpoints every N entries or T ms, rotation by size
 * and age, and group-commit `fdatasync`. `write` resolves once the event's group is durable (per `fsync`). Opening
 * resumes the chain; a torn last line left by a crash is cut off, saved beside the log, reported to `onAlarm`,
 * and recorded in the log as a `dev.vectorwarden.security.integrity` event.
 *
 * Opening reads the active file synchronously (bounded by `rotate.maxBytes`), so create the sink at startup.
 *
 * @example
 * ```ts
 * const sink = fileAuditSink({
 *   path: '/var/log/vectorwarden/audit.log',
 *   rotate: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 24 * 3600_000 },
 *   fsync: 'group',
 *   checkpoint: { every: 1000, intervalMs: 10_000, signer: ed25519CheckpointSigner(privateKey, 'prod') },
 * })
 * const warden = createWarden({ ..., audit: { sinks: sink, mode: 'batched' } })
 * ```
 */
export function fileAuditSink(options: FileAuditSinkOptions): FileAuditSink {
  if (typeof options !== 'object' || options === null || typeof options.path !== 'string' || options.path === '') {
    throw new TypeError('fileAuditSink: path is required')
  }
  const path = options.path
  const fsyncMode = options.fsync ?? 'group'
  if (fsyncMode !== 'group' && fsyncMode !== 'always' && fsyncMode !== 'never') {
    throw new ConfigError(`fileAuditSink: fsync must be group, always or never`)
  }
  const groupCommitMs = options.groupCommitMs ?? 0
  const maxBytes = options.rotate?.maxBytes ?? Number.POSITIVE_INFINITY
  const maxAgeMs = options.rotate?.maxAgeMs ?? Number.POSITIVE_INFINITY
  const every = options.checkpoint?.every ?? 1000
  const intervalMs = options.checkpoint?.intervalMs ?? 10_000
  for (const [name, value] of [
    ['groupCommitMs', groupCommitMs],
    ['rotate.maxBytes', maxBytes],
    ['rotate.maxAgeMs', maxAgeMs],
    ['checkpoint.every', every],
    ['checkpoint.intervalMs', intervalMs],
  ] as const) {
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (name !== 'groupCommitMs' && value === 0)) {
      throw new ConfigError(`fileAuditSink: ${name} must be a positive number`)
    }
  }
  if (maxBytes < 4096) throw new ConfigError('fileAuditSink: rotate.maxBytes must be at least 4096')
  const onAlarm = options.onAlarm ?? ((alarm) => console.error(`[vectorwarden] audit file ${alarm.kind}: ${alarm.detail}`))
  const onCheckpoint = options.onCheckpoint
  const thread = options.thread ?? 'main'
  if (thread !== 'main' && thread !== 'worker') throw new ConfigError('fileAuditSink: thread must be main or worker')
  const signer = options.checkpoint?.signer
  const signerSpec = thread === 'worker' && signer !== undefined ? workerSignerSpec(signer) : undefined
  if (thread === 'worker' && signer !== undefined && signerSpec === undefined) {
    throw new ConfigError(
      "fileAuditSink: with thread 'worker' the signer must come from ed25519CheckpointSigner or hmacCheckpointSigner (its key is handed to the worker)",
    )
  }
  const settings: FileLogSettings = {
    path,
    fsync: fsyncMode,
    groupCommitMs,
    maxBytes,
    maxAgeMs,
    every,
    intervalMs,
    origin: options.checkpoint?.origin ?? 'vectorwarden',
  }
  // the worker starts before the log is opened: one that cannot start leaves the log as it was
  const worker =
    thread === 'worker' ? startWorker({ settings, ...(signerSpec === undefined ? {} : { signer: signerSpec }), reportCheckpoints: onCheckpoint !== undefined }) : undefined
  let opened: OpenedFileLog
  try {
    opened = recoverFileLog(path)
  } catch (error) {
    void worker?.terminate()
    throw error
  }
  const notice = recoveryAlarm(opened.recovery)
  if (notice !== undefined) {
    try {
      onAlarm(notice)
    } catch {
      // an alarm handler must not stop the log from opening
    }
  }
  if (worker !== undefined) return workerFileSink(worker, settings, opened, onAlarm, onCheckpoint)

  const log = startFileLog(settings, opened, signer, {
    alarm: (kind, detail) => onAlarm({ kind, detail }),
    ...(onCheckpoint === undefined ? {} : { checkpoint: onCheckpoint }),
  })
  return {
    name: 'file',
    path,
    recovery: opened.recovery,
    // with fsync group or always, write resolves after the fdatasync that covers the event
    durable: fsyncMode !== 'never',
    get size() {
      return log.size
    },
    write: (event) => log.write(event),
    flush: () => log.flush(),
    close: () => log.close(),
  }
}

// ---- the worker thread ----------------------------------------------------------------------------------------------

/**
 * What the calling thread hands the worker at start.
 *
 * @internal
 */
export interface FileLogWorkerData {
  readonly settings: FileLogSettings
  readonly signer?: WorkerSignerSpec
  readonly reportCheckpoints: boolean
}

/**
 * Calling thread → worker. `open` comes first, once the calling thread has opened (recovered) the log, and starts
 * the writer; `events` carries encoded events, each as a 4-byte little-endian length and its bytes.
 *
 * @internal
 */
export type ToFileLogWorker =
  | { readonly kind: 'open'; readonly opened: OpenedFileLog }
  | { readonly kind: 'events'; readonly id: number; readonly buffer: ArrayBuffer; readonly length: number }
  | { readonly kind: 'flush' | 'close'; readonly id: number }

/** Alarms with which the writer reports that it broke; a failure reported without one raises `write_failed` here. */
const FAILURE_ALARMS: ReadonlySet<string> = new Set(['write_failed', 'checkpoint_failed'])

/**
 * Worker → calling thread.
 *
 * @internal
 */
export type FromFileLogWorker =
  | { readonly kind: 'done'; readonly id: number }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string; readonly reason: string }
  | { readonly kind: 'alarm'; readonly alarm: string; readonly detail: string }
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint }

// encoded events go to the worker at the end of each turn of the event loop, or sooner once this many bytes wait
const BATCH_BYTES = 256 * 1024
// batches up to this size are copied for the worker; larger ones are transferred
const COPY_UP_TO = 32 * 1024

// where this module was loaded from: a file URL ending in .ts (sources run by tests and benchmarks), .js or .cjs.
// The CommonJS build gets import.meta.url from the bundler's shim; __filename covers one that leaves it empty
const moduleUrl = (): string => {
  const url: unknown = import.meta.url
  return typeof url === 'string' ? url : pathToFileURL(__filename).href
}

/**
 * Starts the worker from the build next to this module, or from the TypeScript sources through tsx. Throws
 * `ConfigError` (reason `worker_start_failed`) when node refuses to create it.
 */
function startWorker(workerData: FileLogWorkerData): Worker {
  const here = moduleUrl()
  try {
    if (!here.endsWith('.ts')) {
      // no execArgv: the worker inherits the process's node options, and node accepts them only when inherited
      // (given explicitly, process-wide ones such as --max-old-space-size are refused)
      return new Worker(new URL(here.endsWith('.cjs') ? './file-sink-worker.cjs' : './file-sink-worker.js', here), { workerData })
    }
    // the sources (tests, benchmarks): tsx (a development dependency) is registered in the worker, which then imports
    // the entry; the script is given as text, so an inherited --input-type would change how it is read
    const execArgv = process.execArgv.filter((option) => !option.startsWith('--input-type'))
    const api = createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')
    const entry = new URL('./file-sink-worker.ts', here).href
    const source = `import(${JSON.stringify(pathToFileURL(api).href)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`
    const conditions = execArgv.includes('--conditions=vectorwarden-source') ? [] : ['--conditions=vectorwarden-source']
    return new Worker(source, { eval: true, workerData, execArgv: [...execArgv, ...conditions] })
  } catch (error) {
    throw new ConfigError("fileAuditSink: the audit file worker could not start (thread: 'worker')", { reason: 'worker_start_failed', cause: error })
  }
}

/**
 * The sink with `thread: 'worker'`: events are validated and encoded here (so a bad event still throws from `write`),
 * and the worker runs the same writer as the calling-thread sink over the encoded bytes.
 */
function workerFileSink(
  worker: Worker,
  settings: FileLogSettings,
  opened: OpenedFileLog,
  onAlarm: (alarm: { kind: string; detail: string }) => void,
  onCheckpoint: ((checkpoint: Checkpoint) => void) | undefined,
): FileAuditSink {
  const alarm = (kind: string, detail: string): void => {
    try {
      onAlarm({ kind, detail })
    } catch {
      // an alarm handler must not break writing
    }
  }
  const recovery = opened.recovery
  // the writer records a torn tail or an unclean shutdown as the first entry it writes
  let size = recovery.nextSeq + (recoveryAlarm(recovery) === undefined ? 0 : 1)
  const newBatch = () => new BufferWriter(BATCH_BYTES + BATCH_BYTES / 4)
  let batch = newBatch()
  let batchResult: Deferred | undefined
  let scheduled = false
  let nextId = 0
  const waiting = new Map<number, Deferred>()
  let broken: AuditError | undefined
  // whether the worker's writer has reported breaking with an alarm of its own
  let failureAlarmed = false
  let closed = false
  let closing: Promise<void> | undefined

  // `raise`: the worker did not report the failure with an alarm (it died, or failed outside the writer), so the
  // alarm is raised here
  const fail = (error: AuditError, raise: boolean): void => {
    if (broken === undefined) {
      broken = error
      if (raise) alarm('write_failed', error.message)
    }
    for (const result of waiting.values()) result.reject(broken)
    waiting.clear()
    batchResult?.reject(broken)
    batchResult = undefined
    worker.unref()
  }

  const send = (message: Exclude<ToFileLogWorker, { kind: 'open' }>, result: Deferred, transfer?: ArrayBuffer[]): void => {
    if (broken !== undefined) {
      result.reject(broken)
      return
    }
    waiting.set(message.id, result)
    if (waiting.size === 1) worker.ref()
    worker.postMessage(message, transfer)
  }

  const sendBatch = (): void => {
    scheduled = false
    const result = batchResult
    if (result === undefined) return
    batchResult = undefined
    const bytes = batch.bytes
    const length = batch.length
    let buffer: ArrayBuffer
    if (length <= COPY_UP_TO || bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) {
      // a small batch (light traffic) is copied and the batch buffer kept, rather than a new one allocated per turn
      const copy = new Uint8Array(length)
      copy.set(bytes.subarray(0, length))
      buffer = copy.buffer
      batch.clear()
    } else {
      // a large one moves to the worker as it is (a buffer of its own, never a slice of Buffer's shared pool)
      buffer = bytes.buffer as ArrayBuffer
      batch = newBatch()
    }
    send({ kind: 'events', id: nextId++, buffer, length }, result, [buffer])
  }

  const request = (kind: 'flush' | 'close'): Promise<void> => {
    sendBatch()
    const result = deferred()
    send({ kind, id: nextId++ }, result)
    return result.done
  }

  worker.on('message', (message: FromFileLogWorker) => {
    switch (message.kind) {
      case 'done': {
        waiting.get(message.id)?.resolve()
        waiting.delete(message.id)
        if (waiting.size === 0) worker.unref()
        return
      }
      case 'failed':
        fail(new AuditError(message.message, { reason: message.reason }), !failureAlarmed)
        return
      case 'alarm':
        if (FAILURE_ALARMS.has(message.alarm)) failureAlarmed = true
        alarm(message.alarm, message.detail)
        return
      case 'checkpoint':
        try {
          onCheckpoint?.(message.checkpoint)
        } catch {
          alarm('checkpoint_callback_failed', 'onCheckpoint threw')
        }
    }
  })
  worker.on('error', (error) =>
    fail(new AuditError('audit file worker failed; the sink no longer accepts events', { reason: 'file_write_failed', cause: error }), true),
  )
  worker.on('exit', () => {
    if (!closed || waiting.size > 0) {
      fail(new AuditError('audit file worker stopped; the sink no longer accepts events', { reason: 'file_write_failed' }), true)
    }
  })
  worker.on('messageerror', () =>
    fail(new AuditError('a message from the audit file worker could not be read; the sink no longer accepts events', { reason: 'file_write_failed' }), true),
  )
  worker.postMessage({ kind: 'open', opened } satisfies ToFileLogWorker)
  // the entries the writer makes on start (the record of a recovery, a tree-head copy) keep the process alive until
  // they are written; after that an idle sink does not (as the calling-thread sink does not), and one with work in
  // flight does. Unref'd only now: adding a 'message' listener refs the worker again
  if (opensWithEntries(opened)) waiting.set(FILE_LOG_STARTED, deferred())
  else worker.unref()

  return {
    name: 'file',
    path: settings.path,
    recovery,
    durable: settings.fsync !== 'never',
    get size() {
      return size
    },
    write(event: AuditEvent): Promise<void> {
      if (closed) return Promise.reject(new AuditError('audit file sink is closed', { reason: 'closed' }))
      if (broken !== undefined) return Promise.reject(broken)
      const start = batch.length
      batch.reserve(4)
      batch.length = start + 4
      try {
        writeCanonical(batch, event)
      } catch (error) {
        batch.length = start
        throw new AuditError('audit event is not JSON-serializable', { reason: 'not_json', cause: error })
      }
      const length = batch.length - start - 4
      const bytes = batch.bytes
      bytes[start] = length & 0xff
      bytes[start + 1] = (length >>> 8) & 0xff
      bytes[start + 2] = (length >>> 16) & 0xff
      bytes[start + 3] = length >>> 24
      size++
      batchResult ??= deferred()
      const done = batchResult.done
      if (batch.length >= BATCH_BYTES) sendBatch()
      else if (!scheduled) {
        scheduled = true
        setImmediate(sendBatch)
      }
      return done
    },
    async flush() {
      // after close everything is written and synced, and the worker is gone
      if (closing !== undefined) return closing
      await request('flush')
    },
    close() {
      if (closing !== undefined) return closing
      closed = true
      closing = request('close').finally(() => worker.terminate())
      return closing
    },
  }
}
