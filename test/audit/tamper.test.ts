import { generateKeyPairSync } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canonicalize } from '../../src/audit/canonical-json.js'
import { checkpointLine, entryHashInput, entryLine, parseLogLine, platformChainHasher } from '../../src/audit/log-format.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { ed25519CheckpointSigner, ed25519CheckpointVerifier } from '../../src/node/signer.js'
import { type AuditVerifyReport, verifyAuditLog } from '../../src/node/verify.js'
import { platform } from '../../src/platform/index.js'
import { sampleEvent, temporaryDirectory } from './helpers.js'

const keys = generateKeyPairSync('ed25519')
const KEY_NAME = 'audit-test'
const directory = temporaryDirectory()
let logFiles: { name: string; lines: string[] }[] = []
let counter = 0

/** Writes a signed, rotated, sealed log of `count` entries once; tests tamper with copies of its lines. */
beforeAll(async () => {
  const path = join(directory.path, 'pristine', 'audit.log')
  await import('node:fs').then((fs) => fs.mkdirSync(join(directory.path, 'pristine')))
  const sink = fileAuditSink({
    path,
    rotate: { maxBytes: 16 * 1024 },
    checkpoint: { every: 7, signer: ed25519CheckpointSigner(keys.privateKey, KEY_NAME), origin: KEY_NAME },
    groupCommitMs: 0,
  })
  await Promise.all(Array.from({ length: 60 }, (_, index) => sink.write(sampleEvent(index))))
  await sink.close()
  // oldest first: rotated files by their first seq, the active file last
  const names = readdirSync(join(directory.path, 'pristine')).sort((a, b) => (a === 'audit.log' ? 1 : b === 'audit.log' ? -1 : a.localeCompare(b)))
  logFiles = names.map((name) => ({ name, lines: readFileSync(join(directory.path, 'pristine', name), 'utf8').split('\n').slice(0, -1) }))
})
afterAll(() => directory.remove())

/** Writes (possibly tampered) files to a fresh directory and verifies them with the public key. */
async function verifyFiles(files: { name: string; lines: string[]; raw?: string }[], extra: object = {}): Promise<AuditVerifyReport> {
  const target = join(directory.path, `case-${counter++}`)
  await import('node:fs').then((fs) => fs.mkdirSync(target))
  const paths = files.map((file) => {
    const path = join(target, file.name)
    writeFileSync(path, file.raw ?? file.lines.map((line) => `${line}\n`).join(''))
    return path
  })
  const report = await verifyAuditLog({ files: paths.reverse(), publicKey: keys.publicKey, keyName: KEY_NAME, ...extra })
  rmSync(target, { recursive: true, force: true })
  return report
}

const copy = () => logFiles.map((file) => ({ name: file.name, lines: [...file.lines] }))

/** Where entry `seq` is: file index and line index. */
function locate(files: { lines: string[] }[], seq: number): [number, number] {
  for (let fileIndex = 0; fileIndex < files.length; fileIndex++) {
    const lines = (files[fileIndex] as { lines: string[] }).lines
    for (let lineIndex = 0; lineIndex < lines.length; lineIndex++) {
      const parsed = parseLogLine(lines[lineIndex] as string)
      if (parsed.kind === 'entry' && parsed.entry.seq === seq) return [fileIndex, lineIndex]
    }
  }
  throw new Error(`seq ${seq} not found`)
}

function rehash(line: string, change: (event: Record<string, unknown>) => void): string {
  const parsed = parseLogLine(line)
  if (parsed.kind !== 'entry') throw new Error('not an entry')
  const event = JSON.parse(JSON.stringify(parsed.entry.event)) as Record<string, unknown>
  change(event)
  const canonical = canonicalize(event)
  const hash = platform.hex(platformChainHasher.entry(entryHashInput(parsed.entry.seq, parsed.entry.prev, canonical)))
  return entryLine(parsed.entry.seq, parsed.entry.prev, hash, canonical)
}

const kinds = (report: AuditVerifyReport) => report.problems.map((problem) => problem.kind)

describe('verifyAuditLog on an intact log', () => {
  it('accepts the log written by the file sink, in any file order, with every signature verified', async () => {
    const report = await verifyFiles(copy())
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.entries).toBe(60)
    expect(report.sealed).toBe(true)
    expect(logFiles.length).toBeGreaterThan(2)
    expect(report.verifiedSignatures).toBe(report.checkpoints)
  })
})

describe('verifyAuditLog catches tampering', () => {
  it('an edited line (hash left as it was): edited, naming its seq', async () => {
    const files = copy()
    const [f, l] = locate(files, 20)
    files[f]!.lines[l] = files[f]!.lines[l]!.replace('"outcome":"allowed"', '"outcome":"denied"')
    const report = await verifyFiles(files)
    expect(report.ok).toBe(false)
    expect(kinds(report)).toContain('edited')
    expect(report.firstBadSeq).toBe(20)
  })

  it('an edited line whose own hash was recomputed: edited, naming its seq', async () => {
    const files = copy()
    const [f, l] = locate(files, 33)
    files[f]!.lines[l] = rehash(files[f]!.lines[l]!, (event) => {
      ;(event.data as Record<string, unknown>).outcome = 'denied'
    })
    const report = await verifyFiles(files)
    expect(report.ok).toBe(false)
    expect(kinds(report)).toContain('edited')
    expect(report.firstBadSeq).toBe(33)
  })

  it('a deleted line: deleted, naming its seq', async () => {
    const files = copy()
    const [f, l] = locate(files, 12)
    files[f]!.lines.splice(l, 1)
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('deleted')
    expect(report.firstBadSeq).toBe(12)
  })

  it('an inserted forged line that chains correctly: inserted, naming the seq it claims', async () => {
    const files = copy()
    const [f, l] = locate(files, 40)
    const forged = rehash(files[f]!.lines[l + 1]!.startsWith('{"event"') ? files[f]!.lines[l + 1]! : files[f]!.lines[l]!, (event) => {
      event.id = 'forged'
    })
    // a forged seq 41 that links to seq 40, placed right after seq 40
    const parsed = parseLogLine(forged)
    if (parsed.kind !== 'entry') throw new Error('unreachable')
    const canonical = canonicalize(parsed.entry.event)
    const prev = (parseLogLine(files[f]!.lines[l]!) as { entry: { hash: string } }).entry.hash
    const hash = platform.hex(platformChainHasher.entry(entryHashInput(41, prev, canonical)))
    files[f]!.lines.splice(l + 1, 0, entryLine(41, prev, hash, canonical))
    const report = await verifyFiles(files)
    expect(report.ok).toBe(false)
    expect(kinds(report)).toContain('inserted')
    expect(report.firstBadSeq).toBe(41)
  })

  it('a duplicated line: inserted', async () => {
    const files = copy()
    const [f, l] = locate(files, 5)
    files[f]!.lines.splice(l + 3, 0, files[f]!.lines[l]!)
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('inserted')
    expect(report.firstBadSeq).toBe(5)
  })

  it('two swapped lines: reordered, naming the first', async () => {
    const files = copy()
    const [f, l] = locate(files, 26)
    const [f2, l2] = locate(files, 27)
    expect(f2).toBe(f)
    ;[files[f]!.lines[l], files[f]!.lines[l2]] = [files[f]!.lines[l2]!, files[f]!.lines[l]!]
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('reordered')
    expect(kinds(report)).not.toContain('deleted')
    expect(report.firstBadSeq).toBe(26)
  })

  it('a cut tail (the close seal and entries after the last interval checkpoint removed): truncated', async () => {
    const files = copy()
    const last = files[files.length - 1]!
    // drop the close checkpoint and two entries before it
    last.lines.splice(last.lines.length - 3, 3)
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('truncated')
    expect(report.sealed).toBe(false)
  })

  it('a cut tail that removed entries a checkpoint covers: truncated at the first missing seq', async () => {
    const files = copy()
    const last = files[files.length - 1]!
    // keep the close seal but remove the entries before it
    const seal = last.lines.pop()!
    // e58 e59 and the interval checkpoint before the seal
    last.lines.splice(last.lines.length - 3, 3)
    last.lines.push(seal)
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('truncated')
    expect(report.firstBadSeq).toBe(58)
  })

  it('a tail cut mid-line: torn', async () => {
    const files = copy()
    const last = files[files.length - 1]!
    const raw = last.lines.map((line) => `${line}\n`).join('')
    const report = await verifyFiles([...files.slice(0, -1), { ...last, raw: raw.slice(0, raw.length - 40) }])
    expect(kinds(report)).toContain('torn')
    expect(report.ok).toBe(false)
  })

  it('a rotated file deleted from the middle: deleted', async () => {
    const files = copy()
    const removed = files.splice(1, 1)[0]!
    const firstSeq = (parseLogLine(removed.lines.find((line) => line.startsWith('{"event"'))!) as { entry: { seq: number } }).entry.seq
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('deleted')
    expect(report.firstBadSeq).toBe(firstSeq)
  })

  it('the newest file deleted: truncated (the log ends in a rotation seal)', async () => {
    const files = copy()
    files.pop()
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('truncated')
  })

  it('a log rewritten from scratch without the signing key: signature problems', async () => {
    const files = copy()
    // rewrite every checkpoint with a key the verifier does not trust
    const other = ed25519CheckpointSigner(generateKeyPairSync('ed25519').privateKey, KEY_NAME)
    for (const file of files) {
      file.lines = file.lines.map((line) => {
        const parsed = parseLogLine(line)
        if (parsed.kind !== 'checkpoint') return line
        const { sig: _sig, keyId: _keyId, ...unsigned } = parsed.checkpoint
        const body = `${unsigned.origin}\n${unsigned.size}\n${unsigned.root}\nvectorwarden ${unsigned.reason} ${unsigned.time} ${unsigned.last}\n`
        const sig = Buffer.from(other.sign(platform.utf8Encode(body))).toString('base64')
        return checkpointLine({ ...unsigned, alg: other.alg, keyId: other.keyId, sig })
      })
    }
    const report = await verifyFiles(files)
    expect(kinds(report)).toContain('signature')
  })

  it('an entry edited and the whole tail re-chained (but checkpoints kept): checkpoint mismatch', async () => {
    const files = copy()
    let prev: string | undefined
    for (const file of files) {
      file.lines = file.lines.map((line) => {
        const parsed = parseLogLine(line)
        if (parsed.kind !== 'entry' || parsed.entry.seq < 50) return line
        const canonical = canonicalize(parsed.entry.seq === 50 ? { ...parsed.entry.event, id: 'rewritten' } : parsed.entry.event)
        const previous = prev ?? parsed.entry.prev
        const hash = platform.hex(platformChainHasher.entry(entryHashInput(parsed.entry.seq, previous, canonical)))
        prev = hash
        return entryLine(parsed.entry.seq, previous, hash, canonical)
      })
    }
    const report = await verifyFiles(files)
    expect(report.ok).toBe(false)
    expect(report.firstBadSeq).toBeLessThanOrEqual(50)
    expect(report.firstBadSeq).toBeGreaterThanOrEqual(49 - 7)
  })

  it('any single deleted, duplicated, swapped or edited entry is caught, and the first bad seq is not after it', async () => {
    const total = 60
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: total - 2 }), fc.constantFrom('delete', 'duplicate', 'swap', 'edit'), async (seq, action) => {
        const files = copy()
        const [f, l] = locate(files, seq)
        const lines = files[f]!.lines
        if (action === 'delete') lines.splice(l, 1)
        else if (action === 'duplicate') lines.splice(l + 1, 0, lines[l]!)
        else if (action === 'edit') lines[l] = lines[l]!.replace('"operation":"query"', '"operation":"upsert"')
        else {
          const [f2, l2] = locate(files, seq + 1)
          ;[files[f]!.lines[l], files[f2]!.lines[l2]] = [files[f2]!.lines[l2]!, files[f]!.lines[l]!]
        }
        const report = await verifyFiles(files)
        expect(report.ok).toBe(false)
        expect(report.firstBadSeq).toBeLessThanOrEqual(seq + (action === 'duplicate' ? 0 : 0))
      }),
      { numRuns: 40 },
    )
  })

  it('a sequence number changed to one far ahead: edited, naming the seq it replaced, without scanning the gap', async () => {
    const files = copy()
    const [f, l] = locate(files, 30)
    const parsed = parseLogLine(files[f]!.lines[l]!)
    if (parsed.kind !== 'entry') throw new Error('unreachable')
    const canonical = canonicalize(parsed.entry.event)
    const seq = Number.MAX_SAFE_INTEGER - 1
    const hash = platform.hex(platformChainHasher.entry(entryHashInput(seq, parsed.entry.prev, canonical)))
    files[f]!.lines[l] = entryLine(seq, parsed.entry.prev, hash, canonical)
    const report = await verifyFiles(files)
    expect(kinds(report)).toEqual(['edited'])
    expect(report.firstBadSeq).toBe(30)
  })

  it('a trusted tree head from outside the log catches a tail cut together with its checkpoints', async () => {
    const files = copy()
    const sealLine = files[files.length - 1]!.lines.at(-1)!
    const seal = parseLogLine(sealLine)
    if (seal.kind !== 'checkpoint') throw new Error('log does not end with a checkpoint')
    // cut the last file down to its carry checkpoint and the first entries, and pretend it is live
    const last = files[files.length - 1]!
    last.lines = last.lines.slice(0, 3)
    const report = await verifyFiles(files, { allowUnsealed: true, trustedCheckpoint: { size: seal.checkpoint.size, root: seal.checkpoint.root } })
    expect(kinds(report)).toContain('truncated')
  })

  it('refuses a checkpoint signed by the right key under another name', async () => {
    const verifier = ed25519CheckpointVerifier(keys.publicKey, 'someone-else')
    const report = await verifyFiles(copy(), { verifier })
    expect(kinds(report)).toContain('signature')
  })
})
