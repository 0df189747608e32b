// regressions from a security review of configuration and the CLI: a mistake in how the library is configured or a
// key file is written must be refused, never quietly weaken what the configuration asked for

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { resolveAnalyticsOptions } from '../../src/analytics/options.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { apiKeyAuthenticator } from '../../src/auth/index.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, generateKeyText, Keyring } from '../../src/crypto/index.js'
import { ConfigError } from '../../src/errors.js'
import type { CliIo } from '../../src/node/cli-types.js'
import { command as keys } from '../../src/node/commands/keys.js'
import { definePolicy } from '../../src/policy/index.js'

describe('createWarden', () => {
  const base = () => ({ adapter: memoryAdapter(), authenticators: [apiKeyAuthenticator({ keys: [] })], policy: definePolicy({ id: 'p', roles: {} }), audit: memoryAuditSink() })

  it('refuses an option it does not know: a misspelt `encryption` or `checks` is a ConfigError, not a warden without them', () => {
    const keyring = new Keyring({ keys: [{ id: 'k1', material: generateKey(), state: 'primary' }] })
    expect(() => createWarden({ ...base(), encrypt: fieldEncryption({ keyring, collections: { hr: { encrypt: ['ssn'] } } }) } as never)).toThrow(ConfigError)
    expect(() => createWarden({ ...base(), continuousChecks: [{ name: 'revocation', check: () => undefined }] } as never)).toThrow(ConfigError)
  })

  it('refuses an adapter whose capabilities lack a limit (a missing number would lift the policy’s limits)', () => {
    const inner = memoryAdapter()
    for (const name of ['maxIdsPerCall', 'maxTopK', 'maxBatchSize'] as const) {
      const { [name]: _dropped, ...capabilities } = inner.capabilities
      const adapter = Object.assign(Object.create(inner) as typeof inner, { capabilities })
      expect(() => createWarden({ ...base(), adapter })).toThrow(ConfigError)
    }
    expect(() => createWarden(base())).not.toThrow()
  })
})

describe('analytics options with an explicit undefined (an unset environment variable, say)', () => {
  it('keep the default instead of erasing it', () => {
    const unset: string | undefined = undefined
    expect(resolveAnalyticsOptions({ responses: { probing: unset as never } }).responses.probing).toBe('deny')
    expect(Number.isFinite(resolveAnalyticsOptions({ risk: { weights: { volume: undefined } } }).weights.volume)).toBe(true)
  })
})

describe('vectorwarden keys, rewriting a keyring document', () => {
  function io(cwd: string, env: Record<string, string>): CliIo {
    return { stdout: () => undefined, stderr: () => undefined, env, cwd }
  }

  it('writes through no planted symlink, with mode 0600, and refuses a --keyring that is a symlink', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'vw-keys-'))
    try {
      const env = { KEK: generateKeyText() }
      expect(await keys.run(['init', '--out', 'keyring.json', '--kek-env', 'KEK'], io(directory, env))).toBe(0)
      // the temporary name the rewrite used to take: a link planted there, and a stale world-writable file
      const victim = join(directory, 'victim.txt')
      writeFileSync(victim, 'precious\n')
      symlinkSync(victim, join(directory, `keyring.json.${process.pid}.tmp`))
      expect(await keys.run(['add', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k2'], io(directory, env))).toBe(0)
      expect(readFileSync(victim, 'utf8')).toBe('precious\n')
      expect(statSync(join(directory, 'keyring.json')).mode & 0o077).toBe(0)
      rmSync(join(directory, `keyring.json.${process.pid}.tmp`))
      const stale = join(directory, `keyring.json.${process.pid}.tmp`)
      writeFileSync(stale, '')
      chmodSync(stale, 0o666)
      expect(await keys.run(['add', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'k3'], io(directory, env))).toBe(0)
      expect(statSync(join(directory, 'keyring.json')).mode & 0o077).toBe(0)
      // a shred through a link would replace the link and leave the real document holding the tenant's key
      expect(await keys.run(['add', '--keyring', 'keyring.json', '--kek-env', 'KEK', '--id', 'acme-1', '--tenant', 'acme', '--primary'], io(directory, env))).toBe(0)
      symlinkSync(join(directory, 'keyring.json'), join(directory, 'link.json'))
      expect(await keys.run(['shred', '--keyring', 'link.json', '--kek-env', 'KEK', '--tenant', 'acme'], io(directory, env))).not.toBe(0)
      expect(readFileSync(join(directory, 'keyring.json'), 'utf8')).toContain('acme-1')
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})

