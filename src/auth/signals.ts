// CAEP-shaped security signals: applied at once as revocations and as per-subject state that checks and policies read

import { AuthenticationError } from '../errors.js'
import type { ContinuousCheck, Principal, RequestContext, SessionInfo } from '../spec/auth.js'
import { assertNotRevoked, type Revocation, type RevocationList, revocationQueryOf } from './revocation.js'

/** The smallest event time taken as ms (March 1973): anything smaller is a time in seconds. */
const MIN_EPOCH_MS = 1e11

/** The OpenID CAEP 1.0 event types. */
export type CaepEventType =
  | 'session-revoked'
  | 'credential-change'
  | 'token-claims-change'
  | 'assurance-level-change'
  | 'device-compliance-change'
  | 'risk-level-change'

/**
 * The CAEP event type URIs begin with this; `type` may be the short name or the full URI.
 *
 * @example
 * ```ts
 * await signals.apply({ type: `${CAEP_EVENT_TYPE_PREFIX}session-revoked`, subject: { sessionId: set.sid } })
 * ```
 */
export const CAEP_EVENT_TYPE_PREFIX = 'https://schemas.openid.net/secevent/caep/event-type/'

const EVENT_TYPES: readonly CaepEventType[] = [
  'session-revoked',
  'credential-change',
  'token-claims-change',
  'assurance-level-change',
  'device-compliance-change',
  'risk-level-change',
]

/** Who or what the event is about. Identifiers only, never credentials. */
export interface SignalSubject {
  /** The principal id (`sub`, client id, SPIFFE ID). */
  readonly subject?: string
  /** Scopes `subject` to one issuer. */
  readonly issuer?: string
  /** The identity provider's session id (`sid`). */
  readonly sessionId?: string
  /** The warden's own session id. */
  readonly wardenSessionId?: string
  readonly jti?: string
  readonly apiKeyId?: string
  readonly tenant?: string
}

interface EventBase {
  readonly subject: SignalSubject
  /** When the change happened, ms since the epoch. Default: when it is applied. */
  readonly eventTimestamp?: number
  readonly initiatingEntity?: 'admin' | 'user' | 'policy' | 'system'
  readonly reasonAdmin?: string
}

/** A CAEP event in camelCase; `type` is the short name or the full CAEP URI. */
export type SignalEvent =
  | (EventBase & { readonly type: 'session-revoked' | `${typeof CAEP_EVENT_TYPE_PREFIX}session-revoked` })
  | (EventBase & {
      readonly type: 'credential-change' | `${typeof CAEP_EVENT_TYPE_PREFIX}credential-change`
      readonly changeType: 'create' | 'revoke' | 'update' | 'delete'
      readonly credentialType?: string
    })
  | (EventBase & {
      readonly type: 'token-claims-change' | `${typeof CAEP_EVENT_TYPE_PREFIX}token-claims-change`
      readonly claims: Readonly<Record<string, unknown>>
    })
  | (EventBase & {
      readonly type: 'assurance-level-change' | `${typeof CAEP_EVENT_TYPE_PREFIX}assurance-level-change`
      readonly currentLevel: string
      readonly previousLevel?: string
      readonly changeDirection?: 'increase' | 'decrease'
      readonly namespace?: string
    })
  | (EventBase & {
      readonly type: 'device-compliance-change' | `${typeof CAEP_EVENT_TYPE_PREFIX}device-compliance-change`
      readonly currentStatus: 'compliant' | 'not-compliant'
      readonly previousStatus?: 'compliant' | 'not-compliant'
      /** Which device; without it the status applies to every device of the subject. */
      readonly deviceId?: string
    })
  | (EventBase & {
      readonly type: 'risk-level-change' | `${typeof CAEP_EVENT_TYPE_PREFIX}risk-level-change`
      /** CAEP sends `LOW`/`MEDIUM`/`HIGH`; either case is accepted. */
      readonly currentLevel: RiskLevel | Uppercase<RiskLevel>
      readonly previousLevel?: RiskLevel | Uppercase<RiskLevel>
      readonly riskReason?: string
    })

type EventOf<T extends CaepEventType> = Extract<SignalEvent, { type: T | `${typeof CAEP_EVENT_TYPE_PREFIX}${T}` }>
/** A `credential-change` event. */
export type CredentialChangeEvent = EventOf<'credential-change'>
/** A `token-claims-change` event. */
export type TokenClaimsChangeEvent = EventOf<'token-claims-change'>
/** An `assurance-level-change` event. */
export type AssuranceLevelChangeEvent = EventOf<'assurance-level-change'>
/** A `device-compliance-change` event. */
export type DeviceComplianceChangeEvent = EventOf<'device-compliance-change'>
/** A `risk-level-change` event. */
export type RiskLevelChangeEvent = EventOf<'risk-level-change'>

/** CAEP risk levels, lowercase. */
export type RiskLevel = 'low' | 'medium' | 'high'
const RISK_ORDER: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2 }

/** What the signals say about one subject now; policy conditions may read it. */
export interface SubjectSignalState {
  /** Claims the identity provider says changed, merged in arrival order. */
  readonly claims?: Readonly<Record<string, unknown>>
  readonly claimsChangedAt?: number
  readonly assuranceLevel?: string
  readonly assuranceNamespace?: string
  readonly assuranceDecreasedAt?: number
  /** Compliance per device id; `*` is every device of the subject. */
  readonly deviceCompliance?: Readonly<Record<string, 'compliant' | 'not-compliant'>>
  readonly riskLevel?: RiskLevel
  readonly riskReason?: string
  readonly updatedAt: number
}

/** What applying an event did, for the audit trail. */
export interface SignalOutcome {
  readonly type: CaepEventType
  readonly revoked: readonly Pick<Revocation, 'kind' | 'value'>[]
  readonly stateChanged: boolean
}

/** Options of {@link createSignalHub}. */
export interface SignalHubOptions {
  /** Where `session-revoked` and `credential-change` events land. */
  revocations: RevocationList
  /** `reauthenticate` (default): sessions whose credential predates the change fail their next call. */
  onClaimsChange?: 'reauthenticate' | 'record'
  /** `reauthenticate` (default): a decrease ends older sessions' trust; an increase never does. */
  onAssuranceDecrease?: 'reauthenticate' | 'record'
  /** Risk level at which calls are denied. Default `high`; `never` only records it for policies. */
  denyAtRiskLevel?: RiskLevel | 'never'
  /** How long revocations made from events are kept, in ms. Default: forever (API keys live long). */
  revocationLifetimeMs?: number
  /** ms since the epoch. Default `Date.now`. */
  clock?: () => number
}

/** Applies security signals at once and exposes the per-call check that enforces them. */
export interface SignalHub {
  /** Validates and applies an event; throws `TypeError` for a malformed one. Effects hold from the next call. */
  apply(event: SignalEvent): Promise<SignalOutcome>
  /** The signal state of a principal (issuer-scoped state first, then state without issuer), or undefined. */
  stateOf(principal: Pick<Principal, 'id' | 'issuer'>): SubjectSignalState | undefined
  /** Run on every call: revocations, claim changes, assurance decreases, device compliance, risk. */
  readonly check: ContinuousCheck
}

function eventTypeOf(type: unknown): CaepEventType {
  const name = typeof type === 'string' && type.startsWith(CAEP_EVENT_TYPE_PREFIX) ? type.slice(CAEP_EVENT_TYPE_PREFIX.length) : type
  if (!EVENT_TYPES.includes(name as CaepEventType)) throw new TypeError(`unknown signal type ${String(type)}`)
  return name as CaepEventType
}

function validateSubject(subject: unknown): SignalSubject {
  if (typeof subject !== 'object' || subject === null) throw new TypeError('event.subject must be an object')
  const fields = ['subject', 'issuer', 'sessionId', 'wardenSessionId', 'jti', 'apiKeyId', 'tenant'] as const
  let identifying = 0
  for (const field of fields) {
    const value = (subject as Record<string, unknown>)[field]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.length === 0) throw new TypeError(`event.subject.${field} must be a non-empty string`)
    if (field !== 'issuer') identifying++
  }
  if (identifying === 0) throw new TypeError('event.subject names nothing')
  return subject as SignalSubject
}

function riskLevel(value: unknown, field: string): RiskLevel {
  const level = typeof value === 'string' ? value.toLowerCase() : value
  if (level !== 'low' && level !== 'medium' && level !== 'high') throw new TypeError(`${field} must be low, medium or high`)
  return level
}

const deny = (message: string, reason: string): AuthenticationError => new AuthenticationError(message, { reason })

/**
 * Receives CAEP-shaped events (from a Shared Signals receiver, an admin console, the analytics module) and
 * applies them at once: `session-revoked` and `credential-change` become revocations; claim, assurance, device
 * and risk changes become per-subject state. `hub.check` enforces both on the next call of every open session.
 *
 * @example
 * ```ts
 * const revocations = memoryRevocationList()
 * const signals = createSignalHub({ revocations })
 * const warden = createWarden({ adapter, policy, authenticators, checks: [signals.check] })
 * await signals.apply({ type: 'session-revoked', subject: { subject: 'alice', issuer: 'https://idp.example/' } })
 * ```
 */
export function createSignalHub(options: SignalHubOptions): SignalHub {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object')
  const { revocations } = options
  if (typeof revocations?.revoke !== 'function' || typeof revocations.find !== 'function') {
    throw new TypeError('revocations must be a RevocationList')
  }
  const clock = options.clock ?? Date.now
  const reauthenticateOnClaims = (options.onClaimsChange ?? 'reauthenticate') === 'reauthenticate'
  const reauthenticateOnAssurance = (options.onAssuranceDecrease ?? 'reauthenticate') === 'reauthenticate'
  const denyAt = options.denyAtRiskLevel ?? 'high'
  if (denyAt !== 'never' && !(denyAt in RISK_ORDER)) throw new TypeError('denyAtRiskLevel must be low, medium, high or never')
  const lifetime = options.revocationLifetimeMs
  if (lifetime !== undefined && (!Number.isFinite(lifetime) || lifetime <= 0)) throw new TypeError('revocationLifetimeMs must be positive')
  // issuer ('' when the event named none) → subject → state; nested so a per-call lookup builds no key string
  const states = new Map<string, Map<string, SubjectSignalState>>()
  const stateFor = (subject: string, issuer: string | undefined): SubjectSignalState | undefined =>
    states.get(issuer ?? '')?.get(subject)

  const update = (subject: SignalSubject, at: number, change: (state: SubjectSignalState) => SubjectSignalState): boolean => {
    if (subject.subject === undefined) return false
    let bySubject = states.get(subject.issuer ?? '')
    if (bySubject === undefined) states.set(subject.issuer ?? '', (bySubject = new Map()))
    const current = bySubject.get(subject.subject) ?? { updatedAt: at }
    bySubject.set(subject.subject, Object.freeze(change({ ...current, updatedAt: at })))
    return true
  }

  const revokeFor = async (subject: SignalSubject, at: number, reason: string): Promise<Revocation[]> => {
    const base = {
      reason,
      ...(lifetime === undefined ? {} : { expiresAt: at + lifetime }),
    }
    const made: Revocation[] = []
    if (subject.wardenSessionId !== undefined) made.push({ ...base, kind: 'warden-session', value: subject.wardenSessionId })
    if (subject.sessionId !== undefined) made.push({ ...base, kind: 'session', value: subject.sessionId })
    if (subject.jti !== undefined) made.push({ ...base, kind: 'jti', value: subject.jti })
    if (subject.apiKeyId !== undefined) made.push({ ...base, kind: 'api-key', value: subject.apiKeyId })
    // nothing narrower named: every credential of the subject (or tenant) issued before the event
    if (made.length === 0 && subject.subject !== undefined) {
      made.push({
        ...base,
        kind: 'subject',
        value: subject.subject,
        issuedBefore: at,
        ...(subject.issuer === undefined ? {} : { issuer: subject.issuer }),
      })
    } else if (made.length === 0 && subject.tenant !== undefined) {
      made.push({ ...base, kind: 'tenant', value: subject.tenant, issuedBefore: at })
    }
    for (const revocation of made) await revocations.revoke(revocation)
    return made
  }

  const stateOf = (principal: Pick<Principal, 'id' | 'issuer'>): SubjectSignalState | undefined =>
    (principal.issuer === undefined ? undefined : stateFor(principal.id, principal.issuer)) ?? stateFor(principal.id, undefined)

  const checkState = (state: SubjectSignalState, session: SessionInfo, context: RequestContext): void => {
    // when the credential was issued; one of unknown age counts as issued before any change (a session-opening time
    // would let the same credential pass again in a new session)
    const credentialTime = session.principal.issuedAt ?? Number.NEGATIVE_INFINITY
    if (reauthenticateOnClaims && state.claimsChangedAt !== undefined && credentialTime < state.claimsChangedAt) {
      throw deny('the identity provider changed this subject\'s claims; authenticate again', 'token_claims_changed')
    }
    if (reauthenticateOnAssurance && state.assuranceDecreasedAt !== undefined && credentialTime < state.assuranceDecreasedAt) {
      throw deny('the assurance level of this subject decreased; authenticate again', 'assurance_level_decreased')
    }
    const compliance = state.deviceCompliance
    if (compliance !== undefined) {
      const deviceId = context.device?.id ?? session.openedContext.device?.id
      if (compliance['*'] === 'not-compliant' || (deviceId !== undefined && compliance[deviceId] === 'not-compliant')) {
        throw deny('the device is not compliant', 'device_not_compliant')
      }
    }
    if (denyAt !== 'never' && state.riskLevel !== undefined && RISK_ORDER[state.riskLevel] >= RISK_ORDER[denyAt]) {
      throw deny('the risk level of this subject is too high', 'risk_too_high')
    }
  }

  const check: ContinuousCheck = {
    name: 'signals',
    check(session, context, now) {
      const { principal } = session
      if (states.size > 0) {
        if (principal.issuer !== undefined) {
          const scoped = stateFor(principal.id, principal.issuer)
          if (scoped !== undefined) checkState(scoped, session, context)
        }
        const bare = stateFor(principal.id, undefined)
        if (bare !== undefined) checkState(bare, session, context)
      }
      return assertNotRevoked(revocations, revocationQueryOf(principal, session.id), now)
    },
  }

  return {
    async apply(event) {
      if (typeof event !== 'object' || event === null) throw new TypeError('event must be an object')
      const type = eventTypeOf(event.type)
      const subject = validateSubject(event.subject)
      const at = event.eventTimestamp ?? clock()
      // CAEP's event_timestamp is in seconds; taken as ms it would date every change to 1970 and revoke nothing
      if (!Number.isFinite(at) || at < MIN_EPOCH_MS) throw new TypeError('eventTimestamp must be ms since the epoch (seconds, as in a CAEP SET, are refused)')
      let revoked: Revocation[] = []
      let stateChanged = false
      switch (type) {
        case 'session-revoked':
          revoked = await revokeFor(subject, at, type)
          break
        case 'credential-change': {
          const { changeType } = event as CredentialChangeEvent
          if (!['create', 'revoke', 'update', 'delete'].includes(changeType)) throw new TypeError('changeType must be create, revoke, update or delete')
          // a new credential takes nothing away; a revoked, deleted or changed one ends what was issued before
          if (changeType !== 'create') revoked = await revokeFor(subject, at, `${type}:${changeType}`)
          break
        }
        case 'token-claims-change': {
          const { claims } = event as TokenClaimsChangeEvent
          if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TypeError('claims must be an object')
          stateChanged = update(subject, at, (state) => ({
            ...state,
            claims: Object.freeze({ ...state.claims, ...claims }),
            claimsChangedAt: at,
          }))
          break
        }
        case 'assurance-level-change': {
          const change = event as AssuranceLevelChangeEvent
          if (typeof change.currentLevel !== 'string' || change.currentLevel.length === 0) throw new TypeError('currentLevel must be a string')
          stateChanged = update(subject, at, (state) => ({
            ...state,
            assuranceLevel: change.currentLevel,
            ...(change.namespace === undefined ? {} : { assuranceNamespace: change.namespace }),
            ...(change.changeDirection === 'decrease' ? { assuranceDecreasedAt: at } : {}),
          }))
          break
        }
        case 'device-compliance-change': {
          const change = event as DeviceComplianceChangeEvent
          if (change.currentStatus !== 'compliant' && change.currentStatus !== 'not-compliant') {
            throw new TypeError('currentStatus must be compliant or not-compliant')
          }
          const device = change.deviceId ?? '*'
          stateChanged = update(subject, at, (state) => {
            // a subject-wide status replaces the per-device ones
            const previous = device === '*' ? {} : (state.deviceCompliance ?? {})
            return { ...state, deviceCompliance: Object.freeze({ ...previous, [device]: change.currentStatus }) }
          })
          break
        }
        case 'risk-level-change': {
          const change = event as RiskLevelChangeEvent
          const level = riskLevel(change.currentLevel, 'currentLevel')
          stateChanged = update(subject, at, (state) => ({
            ...state,
            riskLevel: level,
            ...(typeof change.riskReason === 'string' ? { riskReason: change.riskReason } : {}),
          }))
          break
        }
      }
      if (type !== 'session-revoked' && type !== 'credential-change' && !stateChanged) {
        throw new TypeError(`${type} needs subject.subject`)
      }
      return Object.freeze({
        type,
        revoked: revoked.map(({ kind, value }) => ({ kind, value })),
        stateChanged,
      })
    },
    stateOf,
    check,
  }
}
