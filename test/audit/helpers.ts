// shared helpers of the audit tests: sample events, temporary directories, and a scan for leaked secrets

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AuditEvent, AuditOutcome } from '../../src/spec/audit.js'

/** A decision event like the pipeline's, numbered so tests can find it. */
export function sampleEvent(index: number, outcome: AuditOutcome = 'allowed'): AuditEvent {
  return {
    specversion: '1.0',
    id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    source: 'vectorwarden/test',
    type: 'dev.vectorwarden.decision',
    time: new Date(1_700_000_000_000 + index).toISOString(),
    subject: 'docs',
    datacontenttype: 'application/json',
    data: {
      schema: 'vectorwarden.audit/v1',
      operation: 'query',
      outcome,
      decision: { action: 'read', reasons: outcome === 'allowed' ? [] : ['no_matching_rule'], matchedRules: ['r1'], policy: { id: 'p', version: 'abc123' } },
      actor: { id: `user-${index % 7}`, kind: 'user', tenant: 'acme', authenticator: 'jwt', session: 's1', credentialId: 'jti-1' },
      request: { collection: 'docs', topK: 5, filterHash: 'a'.repeat(64), fields: ['title'] },
      result: { count: 3, idsHash: 'b'.repeat(64), latencyMs: 1.25 },
      keys: ['k1'],
    },
  }
}

/** A fresh temporary directory and a function that removes it. */
export function temporaryDirectory(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'vw-audit-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * Finds secrets in text: each secret as given, and its common encodings (base64, base64url, hex, JSON-escaped),
 * so a leak is caught even when a sink re-encoded it. Returns the secrets found (empty when clean). Secrets shorter
 * than 8 characters are refused: they would match by chance.
 *
 * @example
 * ```ts
 * expect(scanForSecrets(readFileSync('audit.log', 'utf8'), [apiKey, bearerToken])).toEqual([])
 * ```
 */
export function scanForSecrets(text: string, secrets: readonly (string | Uint8Array)[]): string[] {
  const found: string[] = []
  for (const secret of secrets) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
    const label = typeof secret === 'string' ? secret : `bytes:${bytes.toString('hex').slice(0, 8)}…`
    if (bytes.length < 8) throw new TypeError(`scanForSecrets: secret ${label} is too short to scan for`)
    const forms = new Set<string>([
      bytes.toString('hex'),
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=+$/, ''),
      bytes.toString('base64url'),
    ])
    if (typeof secret === 'string') {
      forms.add(secret)
      forms.add(JSON.stringify(secret).slice(1, -1))
    }
    // also catch a partial copy of a long secret (a truncated token in a message)
    for (const form of [...forms]) if (form.length >= 24) forms.add(form.slice(0, 16))
    const lower = text.toLowerCase()
    for (const form of forms) {
      if (form.length >= 8 && (text.includes(form) || (/^[0-9a-f]+$/.test(form) && lower.includes(form)))) {
        found.push(label)
        break
      }
    }
  }
  return found
}
