import { spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../src/node/cli.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { ed25519CheckpointSigner, hmacCheckpointSigner } from '../../src/node/signer.js'
import { sampleEvent, scanForSecrets, temporaryDirectory } from './helpers.js'

let directory: ReturnType<typeof temporaryDirectory>
beforeEach(() => {
  directory = temporaryDirectory()
})
afterEach(() => directory.remove())

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
    env,
    cwd: directory.path,
  })
  return { code, stdout, stderr }
}

async function writeLog(signer?: ReturnType<typeof ed25519CheckpointSigner>) {
  const path = join(directory.path, 'audit.log')
  const sink = fileAuditSink({ path, checkpoint: { every: 3, ...(signer ? { signer, origin: 'cli-test' } : {}) }, onAlarm: () => {} })
  await Promise.all(Array.from({ length: 10 }, (_, index) => sink.write(sampleEvent(index))))
  await sink.close()
  return path
}

describe('vectorwarden audit verify', () => {
  it('exits 0 on an intact log signed with Ed25519, given the public key', async () => {
    const keys = generateKeyPairSync('ed25519')
    await writeLog(ed25519CheckpointSigner(keys.privateKey, 'cli-test'))
    writeFileSync(join(directory.path, 'key.pub.pem'), keys.publicKey.export({ type: 'spki', format: 'pem' }))
    const result = await cli(['audit', 'verify', '--public-key', 'key.pub.pem', 'audit.log'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^OK: 10 entries/)
    expect(result.stdout).toMatch(/[1-9]\d* signatures verified/)
  })

  it('exits 1 and names the first bad sequence number on a tampered log', async () => {
    const path = await writeLog()
    const lines = readFileSync(path, 'utf8').split('\n')
    lines.splice(5, 1)
    writeFileSync(path, lines.join('\n'))
    const result = await cli(['audit', 'verify', 'audit.log'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^FAILED/)
    expect(result.stdout).toMatch(/first bad sequence number: \d+/)
  })

  it('prints the report as JSON with --json', async () => {
    await writeLog()
    const result = await cli(['audit', 'verify', '--json', 'audit.log'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, entries: 10 })
  })

  it('checks HMAC checkpoints with a key from the environment, and never prints the key', async () => {
    const secret = new Uint8Array(32).fill(7)
    const path = join(directory.path, 'audit.log')
    const sink = fileAuditSink({ path, checkpoint: { every: 3, signer: hmacCheckpointSigner(secret) }, onAlarm: () => {} })
    await sink.write(sampleEvent(0))
    await sink.close()
    const hex = Buffer.from(secret).toString('hex')
    const good = await cli(['audit', 'verify', '--hmac-key-env', 'AUDIT_KEY', 'audit.log'], { AUDIT_KEY: hex })
    expect(good.code).toBe(0)
    const bad = await cli(['audit', 'verify', '--hmac-key-env', 'AUDIT_KEY', 'audit.log'], { AUDIT_KEY: 'ab'.repeat(32) })
    expect(bad.code).toBe(1)
    expect(scanForSecrets(good.stdout + good.stderr + bad.stdout + bad.stderr + readFileSync(path, 'utf8'), [secret, hex])).toEqual([])
  })

  it('exits 2 on a usage error: no files, an unknown option', async () => {
    expect((await cli(['audit', 'verify'])).code).toBe(2)
    expect((await cli(['audit', 'verify', '--frobnicate', 'x'])).code).toBe(2)
    // a trusted size must be a decimal whole number: '' would otherwise mean 0, which turns the check off
    for (const size of ['', '0x10', '1e3', '-1', '1.5', ' 7']) {
      expect((await cli(['audit', 'verify', '--trusted-size', size, '--trusted-root', 'a'.repeat(64), 'audit.log'])).code).toBe(2)
    }
  })

  it('exits 1 when a file cannot be read', async () => {
    expect((await cli(['audit', 'verify', 'missing.log'])).code).toBe(1)
  })
})

describe('vectorwarden', () => {
  it('runs as a program: exit code 0 on an intact log, 1 after a line is deleted', async () => {
    const path = await writeLog()
    const cli = fileURLToPath(new URL('../../src/node/bin.ts', import.meta.url))
    const run = () =>
      spawnSync(process.execPath, ['--conditions=vectorwarden-source', '--import', 'tsx', cli, 'audit', 'verify', path], { encoding: 'utf8' })
    const intact = run()
    expect(intact.stdout).toMatch(/^OK/)
    expect(intact.status).toBe(0)
    const lines = readFileSync(path, 'utf8').split('\n')
    lines.splice(2, 1)
    writeFileSync(path, lines.join('\n'))
    const tampered = run()
    expect(tampered.stdout).toMatch(/^FAILED/)
    expect(tampered.status).toBe(1)
  })

  it('lists the commands on --help and exits 0', async () => {
    const result = await cli(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('audit verify')
  })

  it('exits 2 on an unknown command', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2)
  })
})
