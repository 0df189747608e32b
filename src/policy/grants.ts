// just-in-time grants: a role or a permission for a bounded time, approved by a callback, expiring by itself

import { AuthorizationError, InputError } from '../errors.js'
import { platform } from '../platform/index.js'
import { isThenable } from '../spec/values.js'
import { type ActiveGrants, type CompiledAllowRule, compileAllowRule, type GrantSource } from './engine.js'
import { type AllowRuleDocument, allowRuleSchema } from './schema.js'

/**
 * What an approver sees and answers.
 *
 * @example
 * ```ts
 * const approver = async (request: GrantApprovalRequest) => request.durationMs <= 3_600_000
 * ```
 */
export interface GrantApprovalRequest {
  readonly grantId: string
  readonly principalId: string
  readonly role?: string
  readonly permission?: AllowRuleDocument
  readonly durationMs: number
  readonly justification: string
  readonly requestedBy?: string
}

/**
 * An approver's answer: `true`/`false`, or who approved.
 *
 * @example
 * ```ts
 * const answer: GrantApproval = { approved: true, approverId: 'bob' }
 * ```
 */
export type GrantApproval = boolean | { readonly approved: boolean; readonly approverId?: string; readonly reason?: string }

/**
 * A request for a time-bound grant. Exactly one of `role` and `permission`.
 *
 * @example
 * ```ts
 * const request: GrantRequest = { principalId: 'alice', role: 'admin', durationMs: 900_000, justification: 'INC-1', approver: () => true }
 * ```
 */
export interface GrantRequest {
  readonly principalId: string
  readonly role?: string
  /** An allow rule of its own, in the policy's rule format. */
  readonly permission?: AllowRuleDocument
  readonly durationMs: number
  /** Why; recorded in audit events. */
  readonly justification: string
  /** Who asked, when not the principal itself. */
  readonly requestedBy?: string
  /** Decides whether the grant is made; a throw or a self-approval refuses it. */
  readonly approver: (request: GrantApprovalRequest) => GrantApproval | Promise<GrantApproval>
}

/**
 * A grant as events and listings show it.
 *
 * @example
 * ```ts
 * for (const grant of policy.grants.list('alice')) console.log(grant.id, new Date(grant.expiresAt))
 * ```
 */
export interface Grant {
  readonly id: string
  readonly principalId: string
  readonly role?: string
  readonly permission?: AllowRuleDocument
  readonly justification: string
  readonly requestedBy?: string
  readonly approverId?: string
  /** ms since the epoch. */
  readonly grantedAt: number
  readonly expiresAt: number
}

/**
 * Events for the audit trail (`noun-action` names).
 *
 * @example
 * ```ts
 * policy.grants.subscribe((event: GrantEvent) => console.log(event.type, event.grant.id))
 * ```
 */
export type GrantEvent =
  | { readonly type: 'grant-granted'; readonly grant: Grant; readonly at: number }
  | { readonly type: 'grant-refused'; readonly grant: Omit<Grant, 'grantedAt' | 'approverId'>; readonly reason: string; readonly at: number }
  | { readonly type: 'grant-used'; readonly grant: Grant; readonly at: number }
  | { readonly type: 'grant-expired'; readonly grant: Grant; readonly at: number }
  | { readonly type: 'grant-revoked'; readonly grant: Grant; readonly at: number; readonly by?: string; readonly reason?: string }

/**
 * Receives grant events; the pipeline wires it into audit.
 *
 * @example
 * ```ts
 * const listener: GrantListener = (event) => sink.write(toAuditEvent(event))
 * ```
 */
export type GrantListener = (event: GrantEvent) => void | Promise<void>

/**
 * Options of a grant store.
 *
 * @example
 * ```ts
 * const options: GrantStoreOptions = { maxDurationMs: 3_600_000 }
 * ```
 */
export interface GrantStoreOptions {
  /** Longest grant allowed; default 8 hours. */
  readonly maxDurationMs?: number
  /** Clock for grant times and expiry timers; default `Date.now`. */
  readonly clock?: () => number
  readonly onEvent?: GrantListener
}

/**
 * Time-bound grants for one policy. Decisions see a grant only between `grantedAt` and `expiresAt`, whatever the timers
 * do; the timer only emits `grant-expired` on time.
 *
 * @example
 * ```ts
 * const grant = await policy.grants.grant({
 *   principalId: 'alice', role: 'admin', durationMs: 15 * 60_000, justification: 'INC-1234 restore',
 *   approver: async (request) => ({ approved: await pager.ask(request), approverId: 'bob' }),
 * })
 * policy.grants.revoke(grant.id)
 * ```
 */
export interface GrantStore {
  grant(request: GrantRequest): Promise<Grant>
  /** Ends a grant now; false when it was not active. */
  revoke(grantId: string, options?: { readonly by?: string; readonly reason?: string }): boolean
  /** Active grants, of one principal or of all. */
  list(principalId?: string): readonly Grant[]
  /** Adds a listener; returns its removal. */
  subscribe(listener: GrantListener): () => void
  /** Cancels expiry timers (grants stay valid until their expiry). */
  close(): void
}

interface Entry {
  readonly grant: Grant
  readonly rule: CompiledAllowRule | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

interface PrincipalGrants {
  entries: Entry[]
  view: ActiveGrants
  nextExpiry: number
}

/** The store plus the engine's view of it. */
export interface GrantStoreWithSource extends GrantStore {
  readonly source: GrantSource
}

/**
 * Creates the grant store of a policy. `hasRole` checks a role name against the policy.
 *
 * @example
 * ```ts
 * const grants = createGrantStore((role) => role === 'admin', { onEvent: console.log })
 * ```
 */
export function createGrantStore(hasRole: (role: string) => boolean, options: GrantStoreOptions = {}): GrantStoreWithSource {
  const maxDurationMs = options.maxDurationMs ?? 8 * 3_600_000
  if (!Number.isSafeInteger(maxDurationMs) || maxDurationMs <= 0) throw new TypeError('maxDurationMs must be a positive integer')
  const clock = options.clock ?? Date.now
  const listeners = new Set<GrantListener>()
  if (options.onEvent !== undefined) listeners.add(options.onEvent)
  const byPrincipal = new Map<string, PrincipalGrants>()
  const byId = new Map<string, Entry>()

  const emit = (event: GrantEvent, propagate: boolean) => {
    for (const listener of listeners) {
      try {
        const result = listener(event)
        if (isThenable(result)) Promise.resolve(result).catch(() => undefined)
      } catch (error) {
        if (propagate) throw error
      }
    }
  }

  // grant-granted waits for every listener: an audit trail that cannot record the grant refuses it
  const emitAwaited = async (event: GrantEvent) => {
    const pending: PromiseLike<unknown>[] = []
    for (const listener of listeners) {
      const result: unknown = listener(event)
      if (isThenable(result)) pending.push(result)
    }
    await Promise.all(pending)
  }

  const rebuild = (principalId: string) => {
    const state = byPrincipal.get(principalId)
    if (state === undefined) return
    if (state.entries.length === 0) {
      byPrincipal.delete(principalId)
      return
    }
    const roles: { grantId: string; role: string }[] = []
    const rules: CompiledAllowRule[] = []
    let nextExpiry = Number.POSITIVE_INFINITY
    for (const entry of state.entries) {
      if (entry.grant.role !== undefined) roles.push({ grantId: entry.grant.id, role: entry.grant.role })
      if (entry.rule !== undefined) rules.push(entry.rule)
      nextExpiry = Math.min(nextExpiry, entry.grant.expiresAt)
    }
    state.view = { roles, rules }
    state.nextExpiry = nextExpiry
  }

  const remove = (entry: Entry) => {
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    entry.timer = undefined
    byId.delete(entry.grant.id)
    const state = byPrincipal.get(entry.grant.principalId)
    if (state !== undefined) {
      state.entries = state.entries.filter((candidate) => candidate !== entry)
      rebuild(entry.grant.principalId)
    }
  }

  const expire = (entry: Entry, at: number) => {
    if (!byId.has(entry.grant.id)) return
    remove(entry)
    emit({ type: 'grant-expired', grant: entry.grant, at }, false)
  }

  const source: GrantSource = {
    active(principalId, now) {
      const state = byPrincipal.get(principalId)
      if (state === undefined) return undefined
      if (now >= state.nextExpiry) {
        for (const entry of state.entries.slice()) if (now >= entry.grant.expiresAt) expire(entry, now)
        return byPrincipal.get(principalId)?.view
      }
      return state.view
    },
    used(grantIds, _principalId, now) {
      for (const grantId of new Set(grantIds)) {
        const entry = byId.get(grantId)
        if (entry !== undefined) emit({ type: 'grant-used', grant: entry.grant, at: now }, true)
      }
    },
  }

  const store: GrantStoreWithSource = {
    source,
    async grant(request) {
      if (typeof request !== 'object' || request === null) throw new TypeError('grant: expected a request object')
      if (typeof request.approver !== 'function') throw new TypeError('grant: approver must be a function')
      if (typeof request.principalId !== 'string' || request.principalId === '') {
        throw new TypeError('grant: principalId must be a non-empty string')
      }
      if ((request.role === undefined) === (request.permission === undefined)) {
        throw new InputError('grant: give exactly one of role and permission', { path: 'role', reason: 'invalid_grant' })
      }
      if (!Number.isSafeInteger(request.durationMs) || request.durationMs <= 0 || request.durationMs > maxDurationMs) {
        throw new InputError(`grant: durationMs must be an integer in 1..${maxDurationMs}`, {
          path: 'durationMs',
          reason: 'invalid_grant',
        })
      }
      if (typeof request.justification !== 'string' || request.justification.trim().length < 3) {
        throw new InputError('grant: a justification is required', { path: 'justification', reason: 'invalid_grant' })
      }
      if (request.role !== undefined && !hasRole(request.role)) {
        throw new InputError('grant: the policy has no such role', { path: 'role', reason: 'unknown_role' })
      }
      const id = `grant_${platform.hex(platform.randomBytes(12))}`
      let permission: AllowRuleDocument | undefined
      let rule: CompiledAllowRule | undefined
      if (request.permission !== undefined) {
        const parsed = allowRuleSchema.safeParse(request.permission)
        if (!parsed.success) throw new InputError('grant: the permission is not a valid rule', { path: 'permission', reason: 'invalid_grant' })
        permission = parsed.data
        try {
          rule = compileAllowRule(permission, `grant:${id}`, id)
        } catch (error) {
          const reason = typeof (error as { reason?: unknown }).reason === 'string' ? (error as { reason: string }).reason : 'invalid_grant'
          throw new InputError(`grant: the permission is not a valid rule (${reason})`, { path: 'permission', reason: 'invalid_grant' })
        }
      }
      const pending = {
        id,
        principalId: request.principalId,
        ...(request.role === undefined ? {} : { role: request.role }),
        ...(permission === undefined ? {} : { permission }),
        justification: request.justification,
        ...(request.requestedBy === undefined ? {} : { requestedBy: request.requestedBy }),
        expiresAt: 0,
      }
      let approval: GrantApproval
      try {
        approval = await request.approver({
          grantId: id,
          principalId: pending.principalId,
          ...(pending.role === undefined ? {} : { role: pending.role }),
          ...(permission === undefined ? {} : { permission }),
          durationMs: request.durationMs,
          justification: request.justification,
          ...(request.requestedBy === undefined ? {} : { requestedBy: request.requestedBy }),
        })
      } catch {
        approval = { approved: false, reason: 'approver_failed' }
      }
      const approved = approval === true || (typeof approval === 'object' && approval !== null && approval.approved === true)
      const approverId = typeof approval === 'object' && approval !== null ? approval.approverId : undefined
      let refusal: string | undefined
      if (!approved) refusal = (typeof approval === 'object' && approval?.reason) || 'not_approved'
      else if (approverId !== undefined && (approverId === request.principalId || approverId === request.requestedBy)) {
        refusal = 'self_approval'
      }
      const at = clock()
      if (refusal !== undefined) {
        emit({ type: 'grant-refused', grant: { ...pending, expiresAt: at }, reason: refusal, at }, false)
        throw new AuthorizationError('the grant was not approved', { reason: 'grant_not_approved', reasons: [refusal] })
      }
      const grant: Grant = Object.freeze({
        ...pending,
        ...(approverId === undefined ? {} : { approverId }),
        grantedAt: at,
        expiresAt: at + request.durationMs,
      })
      const entry: Entry = { grant, rule, timer: undefined }
      // a grant nobody could audit does not exist
      await emitAwaited({ type: 'grant-granted', grant, at })
      byId.set(id, entry)
      const state = byPrincipal.get(grant.principalId) ?? { entries: [], view: { roles: [], rules: [] }, nextExpiry: 0 }
      state.entries.push(entry)
      byPrincipal.set(grant.principalId, state)
      rebuild(grant.principalId)
      entry.timer = setTimeout(() => expire(entry, clock()), request.durationMs)
      ;(entry.timer as { unref?: () => void }).unref?.()
      return grant
    },
    revoke(grantId, revokeOptions = {}) {
      const entry = byId.get(grantId)
      if (entry === undefined) return false
      remove(entry)
      emit(
        {
          type: 'grant-revoked',
          grant: entry.grant,
          at: clock(),
          ...(revokeOptions.by === undefined ? {} : { by: revokeOptions.by }),
          ...(revokeOptions.reason === undefined ? {} : { reason: revokeOptions.reason }),
        },
        false,
      )
      return true
    },
    list(principalId) {
      const now = clock()
      const entries = principalId === undefined ? [...byId.values()] : (byPrincipal.get(principalId)?.entries ?? [])
      return entries.filter((entry) => entry.grant.expiresAt > now).map((entry) => entry.grant)
    },
    subscribe(listener) {
      if (typeof listener !== 'function') throw new TypeError('subscribe: listener must be a function')
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      for (const entry of byId.values()) {
        if (entry.timer !== undefined) clearTimeout(entry.timer)
        entry.timer = undefined
      }
    },
  }
  return store
}
