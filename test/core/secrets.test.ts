// invariant 10 across the whole pipeline: no credential, key material, vector or protected plaintext in any sink or error

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { consoleAuditSink } from '../../src/audit/console-sink.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { apiKeyAuthenticator, generateApiKey } from '../../src/auth/index.js'
import { createWarden } from '../../src/core/index.js'
import { fieldEncryption, generateKey, Keyring } from '../../src/crypto/index.js'
import { vectorEncryption } from '../../src/crypto/vector/index.js'
import { fileAuditSink } from '../../src/node/file-sink.js'
import { definePolicy } from '../../src/policy/index.js'
import { scanForSecrets } from '../audit/helpers.js'

describe('invariant 10: secrets never leave, across every sink', () => {
  it('finds no API key, key material, vector or plaintext of an encrypted field in memory, console and file sinks or errors', async () => {
    const keyMaterial = generateKey()
    const keyring = new Keyring({ keys: [{ id: 'k1', material: keyMaterial, state: 'primary' }] })
    const writer = await generateApiKey({ clientId: 'writer', tenant: 'acme', roles: ['writer'] })
    const reader = await generateApiKey({ clientId: 'reader', tenant: 'acme', roles: ['reader'] })
    const ops = await generateApiKey({ clientId: 'ops', roles: ['admin'] })
    const directory = mkdtempSync(join(tmpdir(), 'vectorwarden-secrets-'))
    const memory = memoryAuditSink()
    const consoleLines: string[] = []
    const file = fileAuditSink({ path: join(directory, 'audit.log') })
    const policy = definePolicy({
      id: 'secrets',
      tenancy: { field: 'tenant' },
      roles: {
        reader: { allow: [{ actions: ['record.query', 'record.fetch'], collections: ['hr'], fields: { read: ['title', 'ssn'], decrypt: [] } }] },
        writer: {
          allow: [{ actions: ['record.query', 'record.fetch', 'record.upsert', 'record.update', 'vectors.read'], collections: ['hr'], fields: { decrypt: '*' } }],
        },
        admin: { allow: [{ actions: ['collection.*'], collections: ['*'] }] },
      },
    })
    const warden = createWarden({
      adapter: memoryAdapter(),
      authenticators: [apiKeyAuthenticator({ keys: [writer.record, reader.record, ops.record] })],
      policy,
      audit: [memory, consoleAuditSink({ write: (line) => consoleLines.push(line) }), file],
      encryption: [
        fieldEncryption({ keyring, collections: { hr: { encrypt: ['ssn', 'salary'], blindIndex: { ssn: { bits: 16 } }, sign: ['tenant'], keyScope: 'tenant' } } }),
        vectorEncryption({ keyring, tenantField: 'tenant', collections: { hr: { metric: 'euclidean', dimension: 4 } } }),
      ],
    })
    const ssn = 'SSN-078-05-1120'
    const salary = 'SALARY-EUR-123456'
    const vector = [0.123456789, -0.987654321, 0.555555555, 0.314159265]
    const errors: unknown[] = []
    const attempt = async (call: () => Promise<unknown>) => {
      try {
        await call()
      } catch (error) {
        errors.push(error)
      }
    }

    const admin = await warden.session(`ApiKey ${ops.apiKey}`)
    await admin.createCollection('hr', { dimension: 4, distance: 'euclidean' })
    const session = await warden.session(`ApiKey ${writer.apiKey}`, { ip: '203.0.113.9' })
    await session.upsert('hr', [{ id: 'e1', vector, metadata: { title: 'engineer', ssn, salary } }])
    const found = await session.query('hr', { vector, topK: 1, filter: { ssn }, includeVectors: true })
    expect(found.matches[0]?.metadata?.ssn).toBe(ssn)
    await session.fetch('hr', ['e1'], { includeVectors: true })
    await session.update('hr', 'e1', { salary: `${salary}-raised` })
    const limited = await warden.session(`ApiKey ${reader.apiKey}`)
    const redacted = await limited.fetch('hr', ['e1'])
    expect(JSON.stringify(redacted)).not.toContain(ssn)
    await attempt(() => limited.query('hr', { vector, topK: 1, filter: { ssn } }))
    await attempt(() => session.query('hr', { vector, topK: 1, filter: { ssn: { $gt: 'SSN' } } }))
    await attempt(() => session.upsert('hr', [{ id: 'e2', vector: [vector[0] as number, Number.NaN, 0, 0], metadata: { ssn } }]))
    await attempt(() => session.upsert('hr', [{ id: 'e3', vector, metadata: { ssn, tenant: salary } }]))
    await attempt(() => limited.query('hr', { vector, topK: 1, includeVectors: true }))
    await attempt(() => warden.session(`ApiKey ${writer.apiKey.slice(0, -2)}xx`))
    await attempt(() => warden.session(`Bearer ${writer.apiKey}x`))
    expect(errors.length).toBeGreaterThanOrEqual(6)
    await warden.close()

    const files = readdirSync(directory).map((name) => readFileSync(join(directory, name), 'utf8')).join('\n')
    const everything = [
      JSON.stringify(memory.events),
      consoleLines.join('\n'),
      files,
      errors.map((error) => `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`).join('\n'),
    ].join('\n')
    expect(files.length).toBeGreaterThan(0)
    expect(memory.events.length).toBeGreaterThan(10)
    const secrets = [writer.apiKey, reader.apiKey, ops.apiKey, keyMaterial, ssn, salary, ...vector.map(String)]
    expect(scanForSecrets(everything, secrets)).toEqual([])
  })
})
