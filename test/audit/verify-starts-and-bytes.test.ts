// regressions from a security review of the verifier: where a log may start, an empty log, and lines that parse to
// the right values but are not the bytes the writer wrote

import { generateKeyPairSync } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditChain, checkpointLine, parseLogLine } from '../../src/audit/log-format.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { ed25519CheckpointSigner } from '../../src/node/signer.js'
import { verifyAuditLog } from '../../src/node/verify.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

const keys = generateKeyPairSync('ed25519')
const NAME = 'audit-test'
const directory = temporaryDirectory()
let lines: string[] = []
let cases = 0

beforeAll(async () => {
  // one file: 30 entries, a signed checkpoint every 7, sealed on close
  const path = join(directory.path, 'audit.log')
  const sink = fileAuditSink({ path, checkpoint: { every: 7, signer: ed25519CheckpointSigner(keys.privateKey, NAME), origin: NAME }, onAlarm: () => {} })
  await Promise.all(Array.from({ length: 30 }, (_, i) => sink.write(sampleEvent(i))))
  await sink.close()
  expect(readdirSync(directory.path)).toEqual(['audit.log'])
  lines = readFileSync(path, 'utf8').split('\n').slice(0, -1)
})
afterAll(() => directory.remove())

async function verify(content: string | Buffer, extra: object = {}) {
  const path = join(directory.path, `case-${cases++}.log`)
  writeFileSync(path, content)
  return verifyAuditLog({ files: [path], publicKey: keys.publicKey, keyName: NAME, ...extra })
}
const joined = (kept: readonly string[]) => kept.map((line) => `${line}\n`).join('')

describe('verifyAuditLog and where a log starts', () => {
  it('accepts the intact log', async () => {
    expect((await verify(joined(lines))).ok).toBe(true)
  })

  it('refuses a log cut down to its signed close seal, even with the published tree head as trusted', async () => {
    const seal = parseLogLine(lines.at(-1) as string)
    if (seal.kind !== 'checkpoint') throw new Error('the last line is the seal')
    expect(seal.checkpoint.reason).toBe('close')
    const alone = await verify(joined(lines.slice(-1)))
    expect(alone.ok).toBe(false)
    expect(alone.problems.map((problem) => problem.kind)).toContain('deleted')
    const trusted = await verify(joined(lines.slice(-1)), { trustedCheckpoint: { size: seal.checkpoint.size, root: seal.checkpoint.root } })
    expect(trusted.ok).toBe(false)
  })

  it('refuses a log whose start was cut at an interval checkpoint (only a carry checkpoint may open a file)', async () => {
    const at = lines.findIndex((line) => {
      const parsed = parseLogLine(line)
      return parsed.kind === 'checkpoint' && parsed.checkpoint.size === 14
    })
    const report = await verify(joined(lines.slice(at)))
    expect(report.ok).toBe(false)
    expect(report.problems.map((problem) => problem.kind)).toContain('deleted')
  })

  it('refuses an empty file (a closed log holds at least its seal), unless asked to accept an unsealed log', async () => {
    const empty = await verify('')
    expect(empty.ok).toBe(false)
    expect(empty.problems.map((problem) => problem.kind)).toContain('truncated')
    expect((await verify('', { allowUnsealed: true })).ok).toBe(true)
  })
})

describe('verifyAuditLog and the bytes of a line', () => {
  it('refuses an entry line with an extra member, or a forged "event" member before the real one', async () => {
    for (const edit of [(line: string) => line.replace(/}$/, ',"note":"injected"}'), (line: string) => `{"event":{"data":{"outcome":"denied"}},${line.slice(1)}`]) {
      const tampered = [...lines]
      tampered[3] = edit(tampered[3] as string)
      expect((await verify(joined(tampered))).ok).toBe(false)
    }
  })

  it('refuses whitespace added to an entry or a checkpoint line', async () => {
    const checkpointAt = lines.findIndex((line) => parseLogLine(line).kind === 'checkpoint')
    for (const index of [2, checkpointAt]) {
      const tampered = [...lines]
      tampered[index] = (tampered[index] as string).replace(':', ': ')
      expect((await verify(joined(tampered))).ok).toBe(false)
    }
  })

  it('refuses bytes that are not UTF-8 (a lenient decoder would read them as the U+FFFD the hash covers)', async () => {
    const chain = new AuditChain({ origin: 'o' })
    const event = sampleEvent(0)
    const line = chain.append({ ...event, data: { ...event.data, context: { userAgent: 'a\ufffdb' } } })
    const bytes = Buffer.from(`${line}\n${checkpointLine(chain.checkpoint('close', 0))}\n`, 'utf8')
    const at = bytes.indexOf(Buffer.from('\ufffd', 'utf8'))
    const path = join(directory.path, `case-${cases++}.log`)
    writeFileSync(path, bytes)
    expect((await verifyAuditLog({ files: [path] })).ok).toBe(true)
    writeFileSync(path, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]))
    expect((await verifyAuditLog({ files: [path] })).ok).toBe(false)
  })
})

describe('verifyAuditLog and the name of the log', () => {
  it('refuses a log of another origin signed by the same key when the expected origin is given', async () => {
    const path = join(directory.path, `case-${cases++}.log`)
    const other = fileAuditSink({ path, checkpoint: { every: 7, signer: ed25519CheckpointSigner(keys.privateKey, NAME), origin: 'another-host' }, onAlarm: () => {} })
    await Promise.all(Array.from({ length: 3 }, (_, i) => other.write(sampleEvent(i))))
    await other.close()
    // the key name pins the signer, not the log: without an origin the other host's log verifies
    expect((await verifyAuditLog({ files: [path], publicKey: keys.publicKey, keyName: NAME })).ok).toBe(true)
    const pinned = await verifyAuditLog({ files: [path], publicKey: keys.publicKey, keyName: NAME, origin: NAME })
    expect(pinned.ok).toBe(false)
    expect(pinned.problems.map((problem) => problem.kind)).toContain('signature')
    expect((await verify(joined(lines), { origin: NAME })).ok).toBe(true)
  })
})
