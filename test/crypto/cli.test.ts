// the `keys` and `rotate` CLI commands: keyring documents on disk, rotation of a collection, no secrets printed
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { generateKeyText, Keyring, localKeyProvider } from '../../src/crypto/index.js'
import type { CliIo } from '../../src/node/cli-types.js'
import { command as keys } from '../../src/node/commands/keys.js'
import { command as rotate } from '../../src/node/commands/rotate.js'
import { adapter, encryption, keyring } from './fixtures/rotate-config.js'
import { principal } from './helpers.js'

function io(cwd: string, env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const value: CliIo = { stdout: (text) => void out.push(text), stderr: (text) => void err.push(text), env, cwd }
  return { value, out: () => out.join(''), err: () => err.join('') }
}

describe('vectorwarden keys', () => {
  it('generates a 32-byte base64url key', async () => {
    const run = io(tmpdir())
    expect(await keys.run(['generate'], run.value)).toBe(0)
    expect(run.out().trim()).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('creates a keyring document and rotates it: add, promote, retire, shred; the file never holds a key in clear', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vw-keys-'))
    const kek = generateKeyText()
    const env = { KEK: kek }
    const run = (args: string[]) => {
      const session = io(directory, env)
      return keys.run(args, session.value).then((code) => ({ code, ...session }))
    }
    expect((await run(['init', '--out', 'keyring.json', '--kek-env', 'KEK'])).code).toBe(0)
    expect(statSync(join(directory, 'keyring.json')).mode & 0o077).toBe(0)
    expect((await run(['init', '--out', 'keyring.json', '--kek-env', 'KEK'])).code).toBe(1)
    expect((await run(['add', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k2'])).code).toBe(0)
    expect((await run(['promote', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k2'])).code).toBe(0)
    expect((await run(['retire', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k1'])).code).toBe(0)
    expect((await run(['add', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'acme-1', '--tenant', 'acme', '--primary'])).code).toBe(0)
    expect((await run(['shred', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--tenant', 'acme'])).code).toBe(0)
    const listed = await run(['list', '--keyring', 'keyring.json'])
    expect(listed.out()).toMatch(/k1\tretired/)
    expect(listed.out()).toMatch(/k2\tprimary/)
    expect(listed.out()).toContain('(shredded)\ttenant acme')
    const loaded = await Keyring.load(JSON.parse(readFileSync(join(directory, 'keyring.json'), 'utf8')), localKeyProvider({ kek }))
    expect(loaded.primaryKeyId({ kind: 'collection', collection: 'docs' })).toBe('k2')
    expect(loaded.isShredded('acme')).toBe(true)
    // refusing the primary's retirement is an error, not a crash; the KEK never appears in any output
    const refused = await run(['retire', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k2'])
    expect(refused.code).toBe(1)
    const wrong = await keys.run(['add', '--keyring', 'keyring.json', '--kek-env', 'OTHER', '--id', 'k9'], io(directory, { OTHER: generateKeyText() }).value)
    expect(wrong).toBe(1)
    for (const text of [listed.out(), listed.err(), refused.out(), refused.err(), readFileSync(join(directory, 'keyring.json'), 'utf8')]) expect(text).not.toContain(kek)
  })

  it('answers usage errors with exit code 2 and never echoes the environment variable', async () => {
    const run = io(tmpdir(), { KEK: 'not-a-key-but-secret-looking' })
    expect(await keys.run(['init', '--out', 'x.json', '--kek-env', 'KEK'], run.value)).toBe(2)
    expect(run.err()).not.toContain('not-a-key-but-secret-looking')
    expect(await keys.run([], io(tmpdir()).value)).toBe(2)
    expect(await keys.run(['bogus', '--keyring', 'x'], io(tmpdir()).value)).toBe(1)
  })
})

describe('vectorwarden rotate', () => {
  it('re-encrypts a collection under the new primary through the config module, and reports progress', async () => {
    await adapter.doCreateCollection({ name: 'docs', dimension: 2, distance: 'cosine' })
    const records = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, vector: [1, i], metadata: { tenant: 'acme', email: `${i}@x` } }))
    await adapter.doUpsert({ collection: 'docs', records: [...(await encryption.protect(records, { collection: 'docs', tenant: 'acme', principal }))] })
    keyring.add({ id: 'k2', material: new Uint8Array(32).fill(7) })
    keyring.promote('k2')
    const config = fileURLToPath(new URL('./fixtures/rotate-config.ts', import.meta.url))
    const run = io(tmpdir())
    const code = await rotate.run(['--config', config, '--collection', 'docs', '--batch-size', '2'], run.value)
    expect(run.err()).toBe('')
    expect(code).toBe(0)
    expect(run.out()).toContain('rewritten 5')
    expect(run.out()).toContain('(end)')
    const again = io(tmpdir())
    expect(await rotate.run(['--config', config, '--collection', 'docs', '--json'], again.value)).toBe(0)
    expect(JSON.parse(again.out().trim().split('\n').at(-1) as string)).toMatchObject({ scanned: 5, rewritten: 0, current: 5, done: true })
    expect(await rotate.run(['--collection', 'docs'], io(tmpdir()).value)).toBe(2)
  })
})
