import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAuditEmitter } from '../../src/audit/emitter.js'
import { parseLogLine } from '../../src/audit/log-format.js'
import { AuditError, ConfigError } from '../../src/errors.js'
import { type FileAuditSinkOptions, fileAuditSink as openFileSink } from '../../src/node/file-sink.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

let directory: ReturnType<typeof temporaryDirectory>
let path: string
beforeEach(() => {
  directory = temporaryDirectory()
  path = join(directory.path, 'audit.log')
})
afterEach(() => directory.remove())

const logFiles = () =>
  readdirSync(directory.path)
    .filter((name) => name.startsWith('audit.log') && !name.includes('.torn-'))
    .map((name) => join(directory.path, name))
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1).map(parseLogLine)
const quiet = { onAlarm: () => {} }

// every behaviour holds on both threads: the calling thread's writer, and the same writer in a worker over events
// encoded on the calling thread
const threads = ['main', 'worker'] as const

describe.each(threads)('fileAuditSink (thread %s)', (thread) => {
  const fileAuditSink = (options: FileAuditSinkOptions) => openFileSink({ thread, ...options })

  it('writes one RFC 8785 line per event, numbered from 0 and chained to the previous hash', async () => {
    const sink = fileAuditSink({ path, ...quiet })
    await Promise.all([0, 1, 2].map((index) => sink.write(sampleEvent(index))))
    await sink.close()
    const entries = lines(path).flatMap((line) => (line.kind === 'entry' ? [line.entry] : []))
    expect(entries.map((entry) => entry.seq)).toEqual([0, 1, 2])
    expect(entries[1]?.prev).toBe(entries[0]?.hash)
    expect(entries[0]?.event.id).toBe(sampleEvent(0).id)
  })

  it('resolves write only once the line is in the file', async () => {
    const sink = fileAuditSink({ path, ...quiet })
    await sink.write(sampleEvent(7))
    expect(readFileSync(path, 'utf8')).toContain(sampleEvent(7).id)
    await sink.close()
  })

  it('writes a checkpoint every N entries and seals the file with a close checkpoint', async () => {
    const sink = fileAuditSink({ path, checkpoint: { every: 4 }, ...quiet })
    await Promise.all(Array.from({ length: 10 }, (_, index) => sink.write(sampleEvent(index))))
    await sink.close()
    const checkpoints = lines(path).flatMap((line) => (line.kind === 'checkpoint' ? [line.checkpoint] : []))
    expect(checkpoints.map((checkpoint) => [checkpoint.size, checkpoint.reason])).toEqual([
      [4, 'interval'],
      [8, 'interval'],
      [10, 'close'],
    ])
  })

  it('writes a checkpoint after T ms even when fewer than N entries arrived', async () => {
    const sink = fileAuditSink({ path, checkpoint: { every: 1000, intervalMs: 20 }, ...quiet })
    await sink.write(sampleEvent(1))
    await vi.waitFor(() => {
      expect(lines(path).some((line) => line.kind === 'checkpoint' && line.checkpoint.reason === 'interval')).toBe(true)
    })
    await sink.close()
  })

  it('rotates by size into files named by their first seq, and the set verifies', async () => {
    const sink = fileAuditSink({ path, rotate: { maxBytes: 8192 }, ...quiet })
    await Promise.all(Array.from({ length: 50 }, (_, index) => sink.write(sampleEvent(index))))
    await sink.close()
    const files = logFiles()
    expect(files.length).toBeGreaterThan(3)
    for (const file of files) expect(statSync(file).size).toBeLessThan(8192 + 2048)
    const report = await verifyAuditLog({ files })
    expect(report.problems).toEqual([])
    expect(report.entries).toBe(50)
  })

  it('rotates by age', async () => {
    const sink = fileAuditSink({ path, rotate: { maxAgeMs: 30 }, ...quiet })
    await sink.write(sampleEvent(0))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await sink.write(sampleEvent(1))
    await sink.close()
    expect(logFiles().length).toBeGreaterThanOrEqual(2)
    expect((await verifyAuditLog({ files: logFiles() })).ok).toBe(true)
  })

  it('continues the chain after a clean reopen, and the whole log verifies', async () => {
    const first = fileAuditSink({ path, ...quiet })
    await first.write(sampleEvent(0))
    await first.close()
    const second = fileAuditSink({ path, ...quiet })
    expect(second.recovery).toMatchObject({ uncleanShutdown: false, tornBytes: 0, nextSeq: 1 })
    await second.write(sampleEvent(1))
    await second.close()
    const report = await verifyAuditLog({ files: [path] })
    expect(report.problems).toEqual([])
    expect(report.entries).toBe(2)
  })

  it('continues the chain from the newest rotated file when the active file is new', async () => {
    const first = fileAuditSink({ path, rotate: { maxBytes: 4096 }, ...quiet })
    await Promise.all(Array.from({ length: 12 }, (_, index) => first.write(sampleEvent(index))))
    await first.close()
    const newest = logFiles()
      .filter((file) => file !== path)
      .sort()
      .at(-1) as string
    const seal = lines(newest).at(-1)
    expect(seal?.kind === 'checkpoint' && seal.checkpoint.reason).toBe('rotate')
    // the active file is gone (e.g. an operator moved it): the next entry follows the newest rotated file's seal
    writeFileSync(path, '')
    const second = fileAuditSink({ path, rotate: { maxBytes: 4096 }, ...quiet })
    expect(second.recovery.nextSeq).toBe(seal?.kind === 'checkpoint' ? seal.checkpoint.size : -1)
    await second.close()
  })

  it('cuts a torn last line on open, saves it, alarms, and records an integrity event', async () => {
    const first = fileAuditSink({ path, ...quiet })
    await first.write(sampleEvent(0))
    await first.flush()
    // simulate a crash: no close seal, and half a line at the end
    appendFileSync(path, '{"event":{"data":{"operation":"qu')
    const alarms: { kind: string }[] = []
    const second = fileAuditSink({ path, onAlarm: (alarm) => alarms.push(alarm) })
    expect(second.recovery.tornBytes).toBe(33)
    expect(second.recovery.uncleanShutdown).toBe(true)
    expect(existsSync(second.recovery.tornPath as string)).toBe(true)
    expect(alarms.map((alarm) => alarm.kind)).toEqual(['torn_tail'])
    await second.close()
    const entries = lines(path).flatMap((line) => (line.kind === 'entry' ? [line.entry] : []))
    expect(entries.at(-1)?.event.type).toBe('dev.vectorwarden.security.integrity')
    expect(entries.at(-1)?.event.data.security?.reason).toBe('audit_torn_tail')
    expect((await verifyAuditLog({ files: [path] })).problems).toEqual([])
    await first.close().catch(() => {})
  })

  it('resumes from the rotated files when a crash tore the first line of a new active file', async () => {
    const first = fileAuditSink({ path, rotate: { maxBytes: 4096 }, ...quiet })
    await Promise.all(Array.from({ length: 12 }, (_, index) => first.write(sampleEvent(index))))
    await first.close()
    // the active file holds a single torn line, as if the writer died writing its first line after a rotation
    const newest = logFiles()
      .filter((file) => file !== path)
      .sort()
      .at(-1) as string
    const seal = lines(newest).at(-1)
    writeFileSync(path, '{"checkpoint":{"alg":"no')
    const second = fileAuditSink({ path, rotate: { maxBytes: 4096 }, ...quiet })
    expect(second.recovery.tornBytes).toBeGreaterThan(0)
    expect(second.recovery.nextSeq).toBe(seal?.kind === 'checkpoint' ? seal.checkpoint.size : -1)
    await second.write(sampleEvent(99))
    await second.close()
    // the active file verifies on its own (it opens with a carry checkpoint) and with its predecessors
    const alone = await verifyAuditLog({ files: [path] })
    expect(alone.problems).toEqual([])
    const whole = await verifyAuditLog({ files: logFiles().filter((file) => file === path || file === newest) })
    expect(whole.problems).toEqual([])
  })

  it('refuses to append to a log whose last complete line is damaged (not a crash artefact)', async () => {
    const first = fileAuditSink({ path, ...quiet })
    await first.write(sampleEvent(0))
    await first.close()
    appendFileSync(path, 'this line was not written by the sink\n')
    expect(() => fileAuditSink({ path, ...quiet })).toThrow(ConfigError)
  })

  it('refuses a path it cannot append to with ConfigError, where the sink is created', () => {
    let thrown: unknown
    try {
      fileAuditSink({ path: join(directory.path, 'missing', 'audit.log'), ...quiet })
    } catch (error) {
      thrown = error
    }
    expect(ConfigError.isInstance(thrown)).toBe(true)
    expect((thrown as ConfigError).reason).toBe('log_unwritable')
  })

  it('rejects writes after close with AuditError', async () => {
    const sink = fileAuditSink({ path, ...quiet })
    await sink.close()
    await expect(sink.write(sampleEvent(0))).rejects.toSatisfy(AuditError.isInstance)
  })

  it.each(['group', 'always', 'never'] as const)('keeps every event with fsync %s through a batched emitter', async (fsync) => {
    const sink = fileAuditSink({ path, fsync, ...quiet })
    const emitter = createAuditEmitter({ sinks: sink, mode: 'batched' })
    await Promise.all(Array.from({ length: 30 }, (_, index) => emitter.emit(sampleEvent(index))))
    await emitter.close()
    const report = await verifyAuditLog({ files: [path] })
    expect(report.problems).toEqual([])
    expect(report.entries).toBe(30)
  })

  it('rejects an event that is not JSON with AuditError, and the log stays valid', async () => {
    const sink = fileAuditSink({ path, ...quiet })
    const bad = { ...sampleEvent(1), data: { ...sampleEvent(1).data, latency: Number.NaN } }
    expect(() => sink.write(bad)).toThrow(AuditError)
    await sink.write(sampleEvent(2))
    await sink.close()
    expect((await verifyAuditLog({ files: [path] })).ok).toBe(true)
  })

  it.each([
    ['an unknown fsync mode', { fsync: 'sometimes' }],
    ['a tiny rotation size', { rotate: { maxBytes: 10 } }],
    ['a zero checkpoint interval', { checkpoint: { every: 0 } }],
  ])('throws ConfigError for %s', (_name, options) => {
    expect(() => fileAuditSink({ path, ...(options as object) })).toThrow(ConfigError)
  })
})

describe.each(threads)('fileAuditSink and signing keys (thread %s)', (thread) => {
  const fileAuditSink = (options: FileAuditSinkOptions) => openFileSink({ thread, ...options })

  it('writes no key material of an Ed25519 or HMAC checkpoint key into the log', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const { ed25519CheckpointSigner, hmacCheckpointSigner } = await import('../../src/node/signer.js')
    const { scanForSecrets } = await import('./helpers.js')
    const keys = generateKeyPairSync('ed25519')
    const privateJwk = keys.privateKey.export({ format: 'jwk' })
    const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const secret = new Uint8Array(32).map((_, index) => index * 7 + 1)
    const other = join(directory.path, 'hmac.log')
    const signed = fileAuditSink({ path, checkpoint: { every: 2, signer: ed25519CheckpointSigner(keys.privateKey, 'k') }, ...quiet })
    const maced = fileAuditSink({ path: other, checkpoint: { every: 2, signer: hmacCheckpointSigner(secret) }, ...quiet })
    await Promise.all(Array.from({ length: 6 }, (_, index) => [signed.write(sampleEvent(index)), maced.write(sampleEvent(index))]).flat())
    await Promise.all([signed.close(), maced.close()])
    const text = readFileSync(path, 'utf8') + readFileSync(other, 'utf8')
    const privateBytes = new Uint8Array(Buffer.from(privateJwk.d as string, 'base64url'))
    const pemBody = privatePem.split('\n').slice(1, -2).join('')
    expect(scanForSecrets(text, [privateBytes, secret, pemBody])).toEqual([])
  })
})

describe.each(threads)('fileAuditSink under a sequential caller (thread %s)', (thread) => {
  const fileAuditSink = (options: FileAuditSinkOptions) => openFileSink({ thread, ...options })

  it('commits an event written while the previous group is finishing (no event waits for a timer tick)', async () => {
    const directory = temporaryDirectory()
    try {
      const sink = fileAuditSink({ path: join(directory.path, 'audit.log'), groupCommitMs: 0, checkpoint: { intervalMs: 600_000 }, onAlarm: () => {} })
      const emitter = createAuditEmitter({ sinks: sink, mode: 'sync' })
      for (let index = 0; index < 200; index++) {
        await sink.write(sampleEvent(index))
        await emitter.emit(sampleEvent(1000 + index))
      }
      await emitter.close()
      expect((await verifyAuditLog({ files: [join(directory.path, 'audit.log')] })).entries).toBe(400)
    } finally {
      directory.remove()
    }
  }, 20_000)
})

describe.each(threads)('fileAuditSink (thread %s) when a log cannot be made durable', (thread) => {
  // /dev/null takes every write and fails fdatasync with EINVAL: with fsync 'never', only flush syncs
  it("fails closed when flush's fdatasync fails: AuditError, one write_failed alarm, later writes rejected", async () => {
    symlinkSync('/dev/null', path)
    const alarms: string[] = []
    const sink = openFileSink({ path, thread, fsync: 'never', onAlarm: (alarm) => alarms.push(alarm.kind) })
    await sink.write(sampleEvent(1))
    const failed = await sink.flush().then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(AuditError.isInstance(failed)).toBe(true)
    expect((failed as AuditError).reason).toBe('file_write_failed')
    expect((failed as AuditError).message).not.toContain('EINVAL')
    await expect(Promise.resolve().then(() => sink.write(sampleEvent(2)))).rejects.toSatisfy(AuditError.isInstance)
    await expect(sink.close()).rejects.toSatisfy(AuditError.isInstance)
    expect(alarms).toEqual(['write_failed'])
  })
})

describe.each(threads)('fileAuditSink (thread %s) with timer periods beyond what a Node timer takes', (thread) => {
  it('checkpoints by time no more often than asked (a 30-day interval is not a 1 ms one)', async () => {
    const sink = openFileSink({ path, thread, checkpoint: { intervalMs: 30 * 24 * 3600_000 }, rotate: { maxAgeMs: Number.POSITIVE_INFINITY }, ...quiet })
    for (let index = 0; index < 4; index++) {
      await sink.write(sampleEvent(index))
      await new Promise((wake) => setTimeout(wake, 15))
    }
    await sink.close()
    const reasons = lines(path).flatMap((line) => (line.kind === 'checkpoint' ? [line.checkpoint.reason] : []))
    expect(reasons).toEqual(['close'])
  })
})

// custom signers run on the calling thread only (thread 'worker' refuses them)
describe('fileAuditSink with a checkpoint signer that fails', () => {
  const failingSigner = { alg: 'Ed25519' as const, keyId: '00000000', sign: (): Uint8Array => { throw new Error('key service unavailable') } }

  it('fails closed: the write that needed the checkpoint and every later one reject, and none of them reaches the log', async () => {
    const alarms: { kind: string; detail: string }[] = []
    const sink = openFileSink({ path, checkpoint: { every: 2, signer: failingSigner }, onAlarm: (alarm) => alarms.push(alarm) })
    await sink.write(sampleEvent(0))
    const outcomes = await Promise.all([1, 2].map((index) => Promise.resolve().then(() => sink.write(sampleEvent(index))).then(() => 'written', (error: unknown) => error)))
    for (const outcome of outcomes) {
      expect(AuditError.isInstance(outcome)).toBe(true)
      expect((outcome as AuditError).reason).toBe('checkpoint_failed')
      // the signer's own message stays out of the error
      expect((outcome as AuditError).message).not.toContain('key service')
    }
    await expect(sink.flush()).rejects.toSatisfy(AuditError.isInstance)
    await expect(sink.close()).rejects.toSatisfy(AuditError.isInstance)
    expect(alarms.map((alarm) => alarm.kind)).toEqual(['checkpoint_failed'])
    expect(alarms[0]?.detail).not.toContain('key service')
    const ids = lines(path).flatMap((line) => (line.kind === 'entry' ? [line.entry.event.id] : []))
    expect(ids).toEqual([sampleEvent(0).id])
  })

  it('fails closed on a timed checkpoint too, without an exception escaping the timer', async () => {
    const alarms: string[] = []
    const sink = openFileSink({ path, checkpoint: { intervalMs: 20, signer: failingSigner }, onAlarm: (alarm) => alarms.push(alarm.kind) })
    await sink.write(sampleEvent(0))
    await vi.waitFor(() => expect(alarms).toEqual(['checkpoint_failed']), { timeout: 2_000 })
    await expect(Promise.resolve().then(() => sink.write(sampleEvent(1)))).rejects.toSatisfy(AuditError.isInstance)
    await sink.close().catch(() => {})
  })
})
