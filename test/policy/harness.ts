// end-to-end harness: a warden on the memory adapter, with principals issued by a token table

import { memoryAdapter } from '../../src/adapters/memory/index.js'
import { memoryAuditSink } from '../../src/audit/memory-sink.js'
import { createWarden } from '../../src/core/index.js'
import { AuthenticationError } from '../../src/errors.js'
import type { VectorStoreAdapterV1 } from '../../src/spec/adapter.js'
import type { PolicyDecisionPoint } from '../../src/spec/policy.js'
import type { Authenticator, Principal } from '../../src/spec/auth.js'
import type { Metadata } from '../../src/spec/records.js'

/** An authenticator that maps `tok-<n>` bearer tokens to principals. */
export function tokenTable(principals: readonly Principal[]): { authenticator: Authenticator; tokens: string[] } {
  const table = new Map<string, Principal>()
  const tokens = principals.map((principal, index) => {
    const token = `tok-${index}-${principal.id}-secret-value`
    table.set(token, principal)
    return token
  })
  return {
    tokens,
    authenticator: {
      name: 'table',
      recognizes: (credential) => credential.scheme === 'bearer' && credential.value.startsWith('tok-'),
      async authenticate(credential) {
        const principal = credential.scheme === 'bearer' ? table.get(credential.value) : undefined
        if (!principal) throw new AuthenticationError('unknown token', { reason: 'unknown_token' })
        return principal
      },
    },
  }
}

export interface StoredRow {
  readonly id: string
  readonly vector: readonly number[]
  readonly metadata: Metadata
}

/** A warden over a memory store pre-filled (behind the warden's back) with `rows` in `collection`. */
export async function wardenWith(policy: PolicyDecisionPoint, principals: readonly Principal[], rows: readonly StoredRow[], collection = 'docs') {
  const adapter = memoryAdapter()
  await adapter.doCreateCollection({ name: collection, dimension: 2, distance: 'cosine' })
  if (rows.length > 0) await adapter.doUpsert({ collection, records: rows.map((row) => ({ ...row, vector: [...row.vector] })) })
  const { authenticator, tokens } = tokenTable(principals)
  const audit = memoryAuditSink()
  const warden = createWarden({ adapter, authenticators: [authenticator], policy, audit })
  const sessions = await Promise.all(tokens.map((token) => warden.session(`Bearer ${token}`)))
  return { adapter, warden, audit, sessions, tokens }
}

/** Cosine similarity as the memory adapter ranks it. */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number)
    na += (a[i] as number) ** 2
    nb += (b[i] as number) ** 2
  }
  return dot / Math.sqrt(na * nb)
}

/** Settles a promise into its value or its error. */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Wraps an adapter so that every call is kept; `lie` makes doQuery/doFetch ignore the filter (a store that cannot be trusted). */
export function spyAdapter(adapter: VectorStoreAdapterV1, options: { lie?: boolean } = {}) {
  const calls: { method: string; params: Record<string, unknown> }[] = []
  const wrapped: Record<string, unknown> = { specificationVersion: 'v1', provider: adapter.provider, capabilities: adapter.capabilities }
  for (const method of ['doCreateCollection', 'doDeleteCollection', 'doListCollections', 'doDescribeCollection', 'doUpsert', 'doUpdate', 'doQuery', 'doFetch', 'doDelete', 'doCount', 'doScroll'] as const) {
    wrapped[method] = (params: Record<string, unknown>) => {
      calls.push({ method, params })
      const forwarded = options.lie && (method === 'doQuery' || method === 'doFetch') ? { ...params, filter: undefined } : params
      return (adapter[method] as (p: unknown) => Promise<unknown>).call(adapter, forwarded)
    }
  }
  return { adapter: wrapped as unknown as VectorStoreAdapterV1, calls, count: (method: string) => calls.filter((call) => call.method === method).length }
}
