// the file sink's worker thread (`fileAuditSink({ thread: 'worker' })`): runs the file log's writer over events the
// calling thread encoded, and reports acknowledgements, alarms and checkpoints back

import { parentPort, workerData } from 'node:worker_threads'
import { startFileLog } from './file-log.js'
import type { FileLogWorkerData, FromFileLogWorker, ToFileLogWorker } from './file-sink.js'
import { signerFromSpec } from './signer.js'

const port = parentPort
if (port === null) throw new Error('file-sink-worker: load this module as a worker thread')
const data = workerData as FileLogWorkerData
const post = (message: FromFileLogWorker): void => port.postMessage(message)

const log = startFileLog(data.settings, data.opened, data.signer === undefined ? undefined : signerFromSpec(data.signer), {
  alarm: (alarm, detail) => post({ kind: 'alarm', alarm, detail }),
  ...(data.reportCheckpoints ? { checkpoint: (checkpoint) => post({ kind: 'checkpoint', checkpoint }) } : {}),
})

const settle = (id: number, result: Promise<void>): void => {
  result.then(
    () => post({ kind: 'done', id }),
    (error: unknown) => {
      const { message, reason } = error as { message?: unknown; reason?: unknown }
      post({
        kind: 'failed',
        id,
        message: typeof message === 'string' ? message : 'audit file write failed',
        reason: typeof reason === 'string' ? reason : 'file_write_failed',
      })
    },
  )
}

port.on('message', (message: ToFileLogWorker) => {
  if (message.kind !== 'events') return settle(message.id, message.kind === 'flush' ? log.flush() : log.close())
  // every event of the batch joins the writer's current group; the group's result is the batch's
  const bytes = new Uint8Array(message.buffer, 0, message.length)
  let last: Promise<void> = Promise.resolve()
  let at = 0
  try {
    while (at < message.length) {
      const length = (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)
      last = log.writeCanonical(bytes, at + 4, at + 4 + length)
      at += 4 + length
    }
  } catch (error) {
    last = Promise.reject(error)
  }
  settle(message.id, last)
})
