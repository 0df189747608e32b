import { describe, expect, it } from 'vitest'
import { apiKeyAuthenticator, type ApiKeyRecord } from '../../src/auth/api-key.js'
import { command } from '../../src/node/commands/apikey.js'

async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const code = await command.run(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env, cwd: '/tmp' })
  return { code, stdout: out.join(''), stderr: err.join('') }
}

describe('vectorwarden apikey generate', () => {
  it('prints a key once and a record that authenticates it', async () => {
    const { code, stdout } = await run(['--client', 'indexer', '--tenant', 'acme', '--roles', 'reader, writer', '--json'])
    expect(code).toBe(0)
    const { apiKey, record } = JSON.parse(stdout) as { apiKey: string; record: ApiKeyRecord }
    expect(record).toMatchObject({ clientId: 'indexer', tenant: 'acme', roles: ['reader', 'writer'] })
    expect(JSON.stringify(record)).not.toContain(apiKey)
    const principal = await apiKeyAuthenticator({ keys: [record] }).authenticate({ scheme: 'api-key', value: apiKey }, {})
    expect(principal.credentialId).toBe(record.keyId)
    expect(stdout.split(apiKey).length - 1).toBe(1)
  })

  it('prints the key exactly once in text mode', async () => {
    const { code, stdout } = await run(['--client', 'c', '--expires-in', '90d'])
    expect(code).toBe(0)
    const key = /vw_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/.exec(stdout)![0]
    expect(stdout.split(key).length - 1).toBe(1)
    expect(stdout).toContain('"expiresAt"')
  })

  it('uses a pepper from the environment without echoing it', async () => {
    const pepperHex = 'ab'.repeat(32)
    const ok = await run(['--client', 'c', '--pepper-env', 'PEPPER', '--json'], { PEPPER: pepperHex })
    const { apiKey, record } = JSON.parse(ok.stdout) as { apiKey: string; record: ApiKeyRecord }
    const pepper = new Uint8Array(32).fill(0xab)
    await expect(apiKeyAuthenticator({ keys: [record], pepper }).authenticate({ scheme: 'api-key', value: apiKey }, {})).resolves.toBeDefined()
    const weak = await run(['--client', 'c', '--pepper-env', 'PEPPER'], { PEPPER: 'abcd' })
    expect(weak.code).toBe(2)
    expect(weak.stderr).not.toContain('abcd')
  })

  it.each([
    [[]],
    [['--client']],
    [['--client', 'c', '--kind', 'robot']],
    [['--client', 'c', '--expires-in', 'soon']],
    [['--client', 'c', '--prefix', 'Bad_Prefix']],
    [['--client', 'c', '--unknown']],
  ])('exits 2 on usage error %j', async (args) => {
    expect((await run(args)).code).toBe(2)
  })
})
