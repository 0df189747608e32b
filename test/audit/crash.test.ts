import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseLogLine } from '../../src/audit/log-format.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import { temporaryDirectory } from './helpers.js'

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))

/** Runs the writer until it has acknowledged `acks` events, kills it with SIGKILL, and returns the acknowledged ids. */
function runAndKill(path: string, mode: string, fsync: string, thread: string, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=vectorwarden-source', '--import', 'tsx', writer, path, mode, fsync, thread], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const acknowledged: string[] = []
    let buffer = ''
    let stderr = ''
    let killed = false
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() as string
      for (const line of lines) if (line.startsWith('crash-')) acknowledged.push(line)
      if (!killed && acknowledged.length >= acks) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: ${stderr}`))
      // ids fully received before the kill; a partial last line was never acknowledged
      else resolve(acknowledged)
    })
  })
}

function loggedIds(directory: string): Set<string> {
  const ids = new Set<string>()
  for (const name of readdirSync(directory)) {
    if (!name.startsWith('audit.log') || name.includes('.torn-')) continue
    for (const line of readFileSync(join(directory, name), 'utf8').split('\n')) {
      const parsed = parseLogLine(line)
      if (parsed.kind === 'entry') ids.add(parsed.entry.event.id)
    }
  }
  return ids
}

describe('a writer killed with SIGKILL mid-write', () => {
  it.each([
    ['sync', 'group', 'main'],
    ['batched', 'group', 'main'],
    ['sync', 'always', 'main'],
    ['sync', 'group', 'worker'],
    ['batched', 'group', 'worker'],
    ['sync', 'always', 'worker'],
  ])('loses no event acknowledged in %s mode (fsync %s, thread %s), and the reopened log verifies', async (mode, fsync, thread) => {
    const directory = temporaryDirectory()
    try {
      const path = join(directory.path, 'audit.log')
      const acknowledged = await runAndKill(path, mode, fsync, thread, fsync === 'always' ? 100 : 600)
      expect(acknowledged.length).toBeGreaterThan(0)
      const logged = loggedIds(directory.path)
      const lost = acknowledged.filter((id) => !logged.has(id))
      expect(lost).toEqual([])

      // reopening recovers (cuts a torn line, records the unclean shutdown) and the closed log verifies end to end
      const alarms: string[] = []
      const sink = fileAuditSink({ path, rotate: { maxBytes: 64 * 1024 }, onAlarm: (alarm) => alarms.push(alarm.kind) })
      expect(sink.recovery.uncleanShutdown).toBe(true)
      await sink.close()
      expect(alarms.length).toBeGreaterThan(0)
      const files = readdirSync(directory.path)
        .filter((name) => name.startsWith('audit.log') && !name.includes('.torn-'))
        .map((name) => join(directory.path, name))
      const report = await verifyAuditLog({ files })
      expect(report.problems).toEqual([])
      expect(loggedIds(directory.path).size).toBeGreaterThanOrEqual(acknowledged.length)
    } finally {
      directory.remove()
    }
  })
})
