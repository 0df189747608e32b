// the file sink with thread 'worker': the same bytes as the calling-thread writer, the same failures, built-in
// signers moved into the worker, and no process kept alive by an idle worker

import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseLogLine } from '../../src/audit/log-format.js'
import type { AuditEvent } from '../../src/spec/audit.js'
import { AuditError, ConfigError } from '../../src/errors.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { ed25519CheckpointSigner, ed25519CheckpointVerifier, hmacCheckpointSigner } from '../../src/node/signer.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

const quiet = { onAlarm: () => {} }
const entryLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && parseLogLine(line).kind === 'entry')

/** Runs a script with node (and tsx for the sources); resolves with its exit code and output, or 'timeout'. */
function runNode(args: string[], timeoutMs: number): Promise<{ code: number | null | 'timeout'; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      done({ code: 'timeout', output })
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      done({ code, output })
    })
  })
}

/** A sink that can no longer write: this write and every later one reject with AuditError, after exactly one alarm. */
async function expectFailedClosed(sink: ReturnType<typeof fileAuditSink>, alarms: readonly string[]): Promise<void> {
  const failed = await Promise.resolve(sink.write(sampleEvent(1))).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(AuditError.isInstance(failed)).toBe(true)
  expect((failed as AuditError).reason).toBe('file_write_failed')
  await expect(sink.write(sampleEvent(2))).rejects.toSatisfy(AuditError.isInstance)
  expect(alarms).toEqual(['write_failed'])
  await sink.close().catch(() => {})
}

describe("fileAuditSink({ thread: 'worker' })", () => {
  it('writes entry lines byte for byte as the calling-thread writer does, for any JSON in an event', async () => {
    const directory = temporaryDirectory()
    let run = 0
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 12 }), async (payloads) => {
          const paths = { main: join(directory.path, `main-${run}.log`), worker: join(directory.path, `worker-${run}.log`) }
          run++
          const events = payloads.map((extra, index): AuditEvent => {
            const event = sampleEvent(index)
            return { ...event, data: { ...event.data, extra } as AuditEvent['data'] }
          })
          for (const thread of ['main', 'worker'] as const) {
            const sink = fileAuditSink({ path: paths[thread], thread, checkpoint: { every: 5 }, ...quiet })
            await Promise.all(events.map((event) => sink.write(event)))
            await sink.close()
          }
          expect(entryLines(paths.worker)).toEqual(entryLines(paths.main))
          expect((await verifyAuditLog({ files: [paths.worker] })).problems).toEqual([])
        }),
        { numRuns: 8 },
      )
    } finally {
      directory.remove()
    }
  }, 60_000)

  it('writes a burst larger than one batch and a trickle of single events alike, in order', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const sink = fileAuditSink({ path, thread: 'worker', ...quiet })
      // ~900 bytes each: 700 events are more than two 256 KiB batches, sent (transferred) before the turn ends
      await Promise.all(Array.from({ length: 700 }, (_, index) => sink.write(sampleEvent(index))))
      for (let index = 700; index < 720; index++) await sink.write(sampleEvent(index))
      await sink.close()
      const report = await verifyAuditLog({ files: [path] })
      expect(report.problems).toEqual([])
      expect(report.entries).toBe(720)
      const ids = entryLines(path).flatMap((line) => {
        const parsed = parseLogLine(line)
        return parsed.kind === 'entry' ? [parsed.entry.event.id] : []
      })
      expect(ids).toEqual(Array.from({ length: 720 }, (_, index) => sampleEvent(index).id))
    } finally {
      directory.remove()
    }
  })

  it('signs checkpoints in the worker with a built-in Ed25519 or HMAC signer, and reports each to onCheckpoint', async () => {
    const directory = temporaryDirectory()
    try {
      const keys = generateKeyPairSync('ed25519')
      const path = join(directory.path, 'audit.log')
      const reported: number[] = []
      const sink = fileAuditSink({
        path,
        thread: 'worker',
        checkpoint: { every: 3, signer: ed25519CheckpointSigner(keys.privateKey, 'prod') },
        onCheckpoint: (checkpoint) => reported.push(checkpoint.size),
        ...quiet,
      })
      await Promise.all(Array.from({ length: 7 }, (_, index) => sink.write(sampleEvent(index))))
      await sink.close()
      expect(reported).toEqual([3, 6, 7])
      const report = await verifyAuditLog({ files: [path], verifier: ed25519CheckpointVerifier(keys.publicKey, 'prod') })
      expect(report.problems).toEqual([])
      expect(report.verifiedSignatures).toBe(3)

      const maced = join(directory.path, 'hmac.log')
      const signer = hmacCheckpointSigner(new Uint8Array(32).fill(9))
      const other = fileAuditSink({ path: maced, thread: 'worker', checkpoint: { every: 2, signer }, ...quiet })
      await Promise.all(Array.from({ length: 4 }, (_, index) => other.write(sampleEvent(index))))
      await other.close()
      expect((await verifyAuditLog({ files: [maced], verifier: signer })).problems).toEqual([])
    } finally {
      directory.remove()
    }
  })

  it('refuses a signer it cannot move into the worker, with ConfigError', () => {
    const directory = temporaryDirectory()
    try {
      const custom = { alg: 'Ed25519', keyId: '00000000', sign: () => new Uint8Array(64) }
      expect(() => fileAuditSink({ path: join(directory.path, 'audit.log'), thread: 'worker', checkpoint: { signer: custom } })).toThrow(ConfigError)
      // a built-in signer whose sign function was replaced afterwards is the caller's own
      const replaced = hmacCheckpointSigner(new Uint8Array(32).fill(3))
      replaced.sign = () => new Uint8Array(32)
      expect(() => fileAuditSink({ path: join(directory.path, 'audit.log'), thread: 'worker', checkpoint: { signer: replaced } })).toThrow(ConfigError)
      // and so is one whose algorithm was relabelled: the worker's checkpoints would say otherwise
      const relabelled = hmacCheckpointSigner(new Uint8Array(32).fill(4))
      ;(relabelled as { alg: string }).alg = 'Ed25519'
      expect(() => fileAuditSink({ path: join(directory.path, 'audit.log'), thread: 'worker', checkpoint: { signer: relabelled } })).toThrow(ConfigError)
      expect(() => fileAuditSink({ path: join(directory.path, 'audit.log'), thread: 'elsewhere' as 'worker' })).toThrow(ConfigError)
    } finally {
      directory.remove()
    }
  })

  it('fails closed when the writer cannot start in the worker: pending and later writes reject with AuditError, and one alarm is raised', async () => {
    const directory = temporaryDirectory()
    const path = join(directory.path, 'audit.log')
    const alarms: string[] = []
    const sink = fileAuditSink({ path, thread: 'worker', onAlarm: (alarm) => alarms.push(alarm.kind) })
    // the worker opens the file when it starts its writer, after this: without its directory that fails
    directory.remove()
    await expectFailedClosed(sink, alarms)
  })

  it('throws AuditError from write for an event that is not JSON, and nothing of it reaches the log', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const sink = fileAuditSink({ path, thread: 'worker', ...quiet })
      const first = sink.write(sampleEvent(1))
      const bad = { ...sampleEvent(2), data: { ...sampleEvent(2).data, latency: 1n } } as unknown as AuditEvent
      expect(() => sink.write(bad)).toThrow(AuditError)
      await Promise.all([first, sink.write(sampleEvent(3))])
      expect(sink.size).toBe(2)
      await sink.close()
      const report = await verifyAuditLog({ files: [path] })
      expect(report.problems).toEqual([])
      expect(report.entries).toBe(2)
    } finally {
      directory.remove()
    }
  })
})

describe.each(['main', 'worker'] as const)('fileAuditSink (thread %s) when the disk refuses a write', (thread) => {
  // /dev/full accepts the open and fails every write with ENOSPC
  it.skipIf(!existsSync('/dev/full'))('rejects the write and every later one with AuditError and raises one alarm (needs /dev/full)', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      symlinkSync('/dev/full', path)
      const alarms: string[] = []
      const sink = fileAuditSink({ path, thread, onAlarm: (alarm) => alarms.push(alarm.kind) })
      await expectFailedClosed(sink, alarms)
    } finally {
      directory.remove()
    }
  })
})

describe.each(['main', 'worker'] as const)('an idle fileAuditSink (thread %s)', (thread) => {
  it('does not keep the process alive', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const source = resolve('src/node/file-sink.ts')
      const script = `import { fileAuditSink } from ${JSON.stringify(source)}
const sink = fileAuditSink({ path: ${JSON.stringify(path)}, thread: '${thread}', onAlarm: () => {} })
await sink.write({ specversion: '1.0', id: 'idle-1', source: 't', type: 't', time: '2026-01-01T00:00:00.000Z', datacontenttype: 'application/json', data: {} })
console.log('written')`
      const { code, output } = await runNode(['--conditions=vectorwarden-source', '--import', 'tsx', '--input-type=module', '-e', script], 20_000)
      expect(output).toContain('written')
      expect(code).toBe(0)
      expect(readFileSync(path, 'utf8')).toContain('idle-1')
    } finally {
      directory.remove()
    }
  }, 30_000)
})

describe.each(['main', 'worker'] as const)('a fileAuditSink opened and never written to (thread %s)', (thread) => {
  const open = (path: string) => `import { fileAuditSink } from ${JSON.stringify(resolve('src/node/file-sink.ts'))}
const sink = fileAuditSink({ path: ${JSON.stringify(path)}, thread: '${thread}', onAlarm: (alarm) => console.log('alarm', alarm.kind) })
console.log('opened', sink.size)`

  it('does not keep the process alive', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const { code, output } = await runNode(['--conditions=vectorwarden-source', '--import', 'tsx', '--input-type=module', '-e', open(path)], 20_000)
      expect(output).toContain('opened 0')
      expect(code).toBe(0)
    } finally {
      directory.remove()
    }
  }, 30_000)

  it('still records in the log the torn tail it cut, though the process ends at once', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const first = fileAuditSink({ path, ...quiet })
      await first.write(sampleEvent(0))
      await first.flush()
      // a crash in the middle of the next line
      appendFileSync(path, '{"seq":1,"event":{"specversion":"1.0","id":"torn')
      const { code, output } = await runNode(['--conditions=vectorwarden-source', '--import', 'tsx', '--input-type=module', '-e', open(path)], 20_000)
      expect(output).toContain('alarm torn_tail')
      expect(code).toBe(0)
      const reasons = readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map(parseLogLine)
        .flatMap((line) => (line.kind === 'entry' ? [line.entry.event.data.security?.reason] : []))
      expect(reasons).toEqual([undefined, 'audit_torn_tail'])
    } finally {
      directory.remove()
    }
  }, 30_000)
})

describe("fileAuditSink({ thread: 'worker' }) when node refuses to create the worker", () => {
  // from the sources the worker gets explicit node options (for tsx), and node refuses process-wide ones there
  it('throws ConfigError and leaves the log as it was: the torn tail is neither cut nor saved', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const first = fileAuditSink({ path, ...quiet })
      await first.write(sampleEvent(0))
      await first.flush()
      appendFileSync(path, '{"seq":1,"torn')
      const before = readFileSync(path, 'utf8')
      const script = `import { fileAuditSink } from ${JSON.stringify(resolve('src/node/file-sink.ts'))}
try {
  fileAuditSink({ path: ${JSON.stringify(path)}, thread: 'worker', onAlarm: (alarm) => console.log('alarm', alarm.kind) })
  console.log('opened')
} catch (error) {
  console.log('refused', error.name, error.reason)
}`
      const { code, output } = await runNode(['--max-old-space-size=512', '--conditions=vectorwarden-source', '--import', 'tsx', '--input-type=module', '-e', script], 20_000)
      expect(output).toContain('refused ConfigError worker_start_failed')
      expect(output).not.toContain('alarm')
      expect(code).toBe(0)
      expect(readFileSync(path, 'utf8')).toBe(before)
      expect(readdirSync(directory.path)).toEqual(['audit.log'])
    } finally {
      directory.remove()
    }
  }, 30_000)
})

describe("the built package's worker entry", () => {
  const built = existsSync('dist/node.js') && existsSync('dist/node.cjs') && existsSync('dist/file-sink-worker.js')
  it.skipIf(!built).each(['import', 'require'] as const)(
    'loads from dist through %s and writes a log that verifies (needs npm run build)',
    async (kind) => {
      const directory = temporaryDirectory()
      try {
        const path = join(directory.path, 'audit.log')
        const open =
          kind === 'import'
            ? `const { fileAuditSink, verifyAuditLog } = await import(${JSON.stringify(resolve('dist/node.js'))})`
            : `const { fileAuditSink, verifyAuditLog } = require(${JSON.stringify(resolve('dist/node.cjs'))})`
        const script = `(async () => {
${open}
const sink = fileAuditSink({ path: ${JSON.stringify(path)}, thread: 'worker', checkpoint: { every: 2 }, onAlarm: () => {} })
await Promise.all([1, 2, 3].map((n) => sink.write({ specversion: '1.0', id: 'built-' + n, source: 't', type: 't', time: '2026-01-01T00:00:00.000Z', datacontenttype: 'application/json', data: { n } })))
await sink.close()
const report = await verifyAuditLog({ files: [${JSON.stringify(path)}] })
console.log(JSON.stringify({ ok: report.ok, entries: report.entries }))
})()`
        const { code, output } = await runNode(['-e', script], 20_000)
        expect(output.trim()).toBe('{"ok":true,"entries":3}')
        expect(code).toBe(0)
      } finally {
        directory.remove()
      }
    },
    30_000,
  )

  it.skipIf(!built)('starts under process-wide node options such as --max-old-space-size (needs npm run build)', async () => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const script = `const { fileAuditSink } = require(${JSON.stringify(resolve('dist/node.cjs'))})
const sink = fileAuditSink({ path: ${JSON.stringify(path)}, thread: 'worker', onAlarm: (alarm) => console.log('alarm', alarm.kind) })
sink.write({ specversion: '1.0', id: 'flagged-1', source: 't', type: 't', time: '2026-01-01T00:00:00.000Z', datacontenttype: 'application/json', data: {} })
  .then(() => sink.close()).then(() => console.log('closed'), (error) => console.log('failed', error.reason))`
      const { code, output } = await runNode(['--max-old-space-size=512', '-e', script], 20_000)
      expect(output.trim()).toBe('closed')
      expect(code).toBe(0)
      expect(readFileSync(path, 'utf8')).toContain('flagged-1')
    } finally {
      directory.remove()
    }
  }, 30_000)

  it.skipIf(!built)('fails closed with one alarm when a bundle lacks the worker file (needs npm run build)', async () => {
    const directory = temporaryDirectory()
    const cleanup: (() => void)[] = []
    try {
      // the package as a bundler that forgot file-sink-worker.js would ship it (inside node_modules, so that its
      // dependencies resolve)
      const bundle = mkdtempSync(join(resolve('node_modules'), '.vw-bundle-'))
      cleanup.push(() => rmSync(bundle, { recursive: true, force: true }))
      cpSync('package.json', join(bundle, 'package.json'))
      cpSync('dist', join(bundle, 'dist'), { recursive: true, filter: (source) => !basename(source).startsWith('file-sink-worker.') })
      const path = join(directory.path, 'audit.log')
      const script = `const { fileAuditSink } = require(${JSON.stringify(join(bundle, 'dist', 'node.cjs'))})
const alarms = []
const sink = fileAuditSink({ path: ${JSON.stringify(path)}, thread: 'worker', onAlarm: (alarm) => alarms.push(alarm.kind) })
const event = (id) => ({ specversion: '1.0', id, source: 't', type: 't', time: '2026-01-01T00:00:00.000Z', datacontenttype: 'application/json', data: {} })
sink.write(event('lost-1')).then(() => console.log('written'), (error) => {
  console.log('rejected', error.reason)
  return sink.write(event('lost-2')).then(() => console.log('written'), (later) => console.log('rejected', later.reason, alarms.join(',')))
})`
      const { code, output } = await runNode(['-e', script], 20_000)
      expect(output.trim().split('\n')).toEqual(['rejected file_write_failed', 'rejected file_write_failed write_failed'])
      expect(code).toBe(0)
    } finally {
      for (const clean of cleanup) clean()
      directory.remove()
    }
  }, 30_000)
})
