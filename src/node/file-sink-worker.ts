// the file sink's worker thread (`fileAuditSink({ thread: 'worker' })`): runs the file log's writer over events the
// calling thread encoded, and reports acknowledgements, alarms and checkpoints back

import { parentPort, workerData } from 'node:worker_threads'
import { AuditError } from '../errors.js'
import { FILE_LOG_STARTED, type FileLog, startFileLog } from './file-log.js'
import type { FileLogWorkerData, FromFileLogWorker, ToFileLogWorker } from './file-sink.js'
import { signerFromSpec } from './signer.js'

const port = parentPort
if (port === null) throw new Error('file-sink-worker: load this module as a worker thread')
const data = workerData as FileLogWorkerData
const post = (message: FromFileLogWorker): void => port.postMessage(message)

// the writer starts on the first message, once the calling thread has opened (recovered) the log
let log: FileLog | undefined

const settle = (id: number, result: Promise<void>): void => {
  result.then(
    () => post({ kind: 'done', id }),
    (error: unknown) => {
      // the writer's own errors carry fixed messages; anything else is not passed on as it is
      const known = AuditError.isInstance(error)
      post({
        kind: 'failed',
        id,
        message: known ? error.message : 'audit file worker failed; the sink no longer accepts events',
        reason: known ? error.reason : 'file_write_failed',
      })
    },
  )
}

const open = (message: Extract<ToFileLogWorker, { kind: 'open' }>): Promise<void> => {
  try {
    log = startFileLog(data.settings, message.opened, data.signer === undefined ? undefined : signerFromSpec(data.signer), {
      alarm: (alarm, detail) => post({ kind: 'alarm', alarm, detail }),
      ...(data.reportCheckpoints ? { checkpoint: (checkpoint) => post({ kind: 'checkpoint', checkpoint }) } : {}),
    })
    return log.ready
  } catch (error) {
    return Promise.reject(error)
  }
}

const writeBatch = (writer: FileLog, buffer: ArrayBuffer, length: number): Promise<void> => {
  // every event of the batch joins the writer's current group; the group's result is the batch's
  const bytes = new Uint8Array(buffer, 0, length)
  let last: Promise<void> = Promise.resolve()
  let at = 0
  try {
    while (at < length) {
      const size = (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)
      last = writer.writeCanonical(bytes, at + 4, at + 4 + size)
      at += 4 + size
    }
  } catch (error) {
    last = Promise.reject(error)
  }
  return last
}

port.on('message', (message: ToFileLogWorker) => {
  if (message.kind === 'open') return settle(FILE_LOG_STARTED, open(message))
  // 'open' is always the first message; without a writer (it failed to start) every request fails
  const writer = log
  if (writer === undefined) return settle(message.id, Promise.reject(new AuditError('audit file writer did not start', { reason: 'file_write_failed' })))
  if (message.kind === 'events') return settle(message.id, writeBatch(writer, message.buffer, message.length))
  settle(message.id, message.kind === 'flush' ? writer.flush() : writer.close())
})
port.on('messageerror', () => settle(FILE_LOG_STARTED, Promise.reject(new AuditError('audit file worker could not read a batch; the sink no longer accepts events', { reason: 'file_write_failed' }))))
