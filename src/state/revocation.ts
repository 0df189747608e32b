// a revocation list kept in a state store, so a revocation made by one instance holds on every instance's next call

import type { Revocation, RevocationKind, RevocationList, RevocationQuery } from '../auth/revocation.js'
import { REVOCATION_KINDS } from '../auth/revocation.js'
import type { StateOperation, StateStore } from './types.js'

/** Options of {@link stateRevocationList}. */
export interface StateRevocationListOptions {
  /** Key prefix inside the store. Default `rv:`. */
  readonly prefix?: string
}

// the lookup order of the in-memory list: the most specific identifier first
const ORDER: readonly [RevocationKind, keyof RevocationQuery][] = [
  ['jti', 'jti'],
  ['warden-session', 'wardenSessionId'],
  ['session', 'sessionId'],
  ['api-key', 'apiKeyId'],
  ['subject', 'subject'],
  ['tenant', 'tenant'],
]

function applies(entry: Revocation, query: RevocationQuery, now: number): boolean {
  if (entry.expiresAt !== undefined && now >= entry.expiresAt) return false
  if (entry.issuer !== undefined && entry.issuer !== query.issuer) return false
  if (entry.issuedBefore !== undefined && query.issuedAt !== undefined && query.issuedAt >= entry.issuedBefore) return false
  return true
}

function parse(text: string): Revocation | undefined {
  try {
    const value = JSON.parse(text) as Revocation
    return typeof value === 'object' && value !== null && typeof value.kind === 'string' && typeof value.value === 'string'
      ? value
      : undefined
  } catch {
    return undefined
  }
}

/**
 * A {@link RevocationList} on a {@link StateStore}: with `redisStateStore` every instance of a fleet sees a
 * revocation on its next call. Each entry is a member of a set per kind and value, so concurrent revocations never
 * overwrite each other; the set expires with its longest-lived entry. A store that fails makes `find` reject, which
 * `revocationCheck` turns into a deny (`revocation_unavailable`).
 *
 * @example
 * ```ts
 * const revocations = stateRevocationList(redisStateStore({ url: process.env.REDIS_URL }))
 * createWarden({ ..., checks: [revocationCheck(revocations)] })
 * await revocations.revoke({ kind: 'subject', value: 'alice', issuedBefore: Date.now() })
 * ```
 */
export function stateRevocationList(store: StateStore, options: StateRevocationListOptions = {}): RevocationList {
  if (typeof store?.execute !== 'function') throw new TypeError('stateRevocationList needs a StateStore')
  const prefix = options.prefix ?? 'rv:'
  const keyOf = (kind: RevocationKind, value: string): string => `${prefix}${kind}:${encodeURIComponent(value)}`
  return {
    async revoke(revocation) {
      if (typeof revocation !== 'object' || revocation === null) throw new TypeError('revocation must be an object')
      if (!REVOCATION_KINDS.includes(revocation.kind)) throw new TypeError(`unknown revocation kind ${String(revocation.kind)}`)
      if (typeof revocation.value !== 'string' || revocation.value.length === 0) {
        throw new TypeError('revocation value must be a non-empty string')
      }
      const now = Date.now()
      if (revocation.expiresAt !== undefined && !Number.isFinite(revocation.expiresAt)) {
        throw new TypeError('expiresAt must be ms since the epoch')
      }
      const ttlMs = revocation.expiresAt === undefined ? 0 : Math.max(1, Math.ceil(revocation.expiresAt - now))
      await store.execute([
        { kind: 'add', key: keyOf(revocation.kind, revocation.value), member: JSON.stringify(revocation), ttlMs },
      ])
    },
    async restore(kind, value) {
      const key = keyOf(kind, value)
      const [members] = await store.execute([{ kind: 'members', key }, { kind: 'delete', key }])
      return (members as readonly string[]).length
    },
    async find(query, now) {
      const kinds: RevocationKind[] = []
      const operations: StateOperation[] = []
      for (const [kind, field] of ORDER) {
        const value = query[field]
        if (typeof value !== 'string') continue
        kinds.push(kind)
        operations.push({ kind: 'members', key: keyOf(kind, value) })
      }
      if (operations.length === 0) return undefined
      const results = await store.execute(operations)
      for (const members of results) {
        for (const text of members as readonly string[]) {
          const entry = parse(text)
          if (entry !== undefined && applies(entry, query, now)) return entry
        }
      }
      return undefined
    },
  }
}
