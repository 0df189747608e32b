import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { policyCheckCommand } from '../../src/node/commands/policy-check.js'

function io(cwd: string) {
  const out: string[] = []
  const err: string[] = []
  return { io: { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text), env: {}, cwd }, out, err }
}

const directory = mkdtempSync(join(tmpdir(), 'vw-policy-'))
const write = (name: string, value: unknown) => {
  writeFileSync(join(directory, name), typeof value === 'string' ? value : JSON.stringify(value))
  return name
}

const policyFile = write('policy.json', {
  id: 'cli',
  tenancy: { field: 'tenant' },
  roles: { reader: { allow: [{ id: 'read', actions: ['record.query'], collections: ['docs'], when: { mfa: { maxAgeSeconds: 300 } } }] } },
})
const alice = write('alice.json', { id: 'alice', tenant: 'acme', roles: ['reader'], amr: ['pwd', 'otp'], authTime: Date.parse('2026-01-01T10:00:00Z') })

describe('vectorwarden policy check', () => {
  it('prints id, version and counts of a valid policy and exits 0', async () => {
    const { io: cli, out } = io(directory)
    expect(await policyCheckCommand.run([policyFile], cli)).toBe(0)
    expect(out.join('')).toMatch(/OK: policy 'cli' sha256:[0-9a-f]{32}/)
  })

  it('explains a decision for a principal and action, and --expect sets the exit code', async () => {
    const { io: cli, out } = io(directory)
    const args = [policyFile, '--principal', alice, '--action', 'record.query', '--collection', 'docs', '--now', '2026-01-01T10:01:00Z']
    expect(await policyCheckCommand.run([...args, '--expect', 'allow'], cli)).toBe(0)
    expect(out.join('')).toContain('decision: allow')
    expect(out.join('')).toContain('matched rules: read')
    const late = io(directory)
    expect(await policyCheckCommand.run([policyFile, '--principal', alice, '--action', 'record.query', '--collection', 'docs', '--now', '2026-01-01T11:00:00Z', '--expect', 'allow'], late.io)).toBe(1)
    expect(late.out.join('')).toContain('step_up_required')
  })

  it('reports an invalid policy with the reason and exits 1', async () => {
    const bad = write('bad.json', { id: 'bad', roles: { a: { inherits: ['b'] }, b: { inherits: ['a'] } } })
    const negative = write('negative.json', { id: 'n', roles: { r: { allow: [{ actions: ['record.query'], rowFilter: { tenant: { $ne: 'x' } } }] } } })
    for (const file of [bad, negative, write('broken.json', '{ not json'), 'missing.json']) {
      const { io: cli, out } = io(directory)
      expect(await policyCheckCommand.run([file], cli)).toBe(1)
      expect(out.join('')).toContain('INVALID')
    }
  })

  it('prints JSON with --json', async () => {
    const { io: cli, out } = io(directory)
    expect(await policyCheckCommand.run([policyFile, '--json', '--principal', alice, '--action', 'record.delete'], cli)).toBe(0)
    const parsed = JSON.parse(out.join(''))
    expect(parsed).toMatchObject({ ok: true, id: 'cli', decision: { effect: 'deny', code: 'no_matching_rule' } })
  })

  it('exits 2 on usage errors', async () => {
    for (const args of [[], [policyFile, 'extra'], [policyFile, '--action', 'record.query'], [policyFile, '--principal', alice, '--action', 'nope'], [policyFile, '--bogus']]) {
      const { io: cli } = io(directory)
      expect(await policyCheckCommand.run(args, cli)).toBe(2)
    }
  })
})
