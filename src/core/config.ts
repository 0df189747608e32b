// the warden's configuration: validated once by zod at createWarden, resolved into plain objects for the pipeline

import { z } from 'zod'
import type { AuditEmitter } from '../audit/emitter.js'
import type { Analytics } from '../analytics/analytics.js'
import { type AuditEmitterOptions, createAuditEmitter } from '../audit/emitter.js'
import { ConfigError } from '../errors.js'
import type { VectorStoreAdapterV1 } from '../spec/adapter.js'
import type { AuditSink } from '../spec/audit.js'
import type { SignalHub } from '../auth/signals.js'
import type { Authenticator, ContinuousCheck } from '../spec/auth.js'
import type { PolicyDecisionPoint } from '../spec/policy.js'
import type { FieldProtector } from '../spec/protection.js'
import { composeProtectors } from './protectors.js'

/** Audit configuration: a sink, several sinks, an emitter, or emitter options. */
export type AuditOption =
  | AuditSink
  | readonly AuditSink[]
  | AuditEmitter
  | AuditEmitterOptions

/**
 * Options of {@link createWarden}.
 *
 * @example
 * ```ts
 * createWarden({ adapter: memoryAdapter(), authenticators: [apiKeyAuthenticator({ keys })], policy, audit: memoryAuditSink() })
 * ```
 */
export interface WardenOptions {
  /** The vector store. */
  readonly adapter: VectorStoreAdapterV1
  /** Tried in order; the first that recognises a credential decides. */
  readonly authenticators: Authenticator | readonly Authenticator[]
  /** The policy decision point. */
  readonly policy: PolicyDecisionPoint
  /** Where audit events go. Required: every decision is recorded. */
  readonly audit: AuditOption
  /**
   * Field encryption, blind indexes and record integrity (`fieldEncryption`), vector encryption (`vectorEncryption`),
   * or several of them: protect runs in the given order, unprotect in reverse.
   */
  readonly encryption?: FieldProtector | readonly FieldProtector[]
  /** Checks run on every call of every session (revocation, risk, ...). */
  readonly checks?: readonly ContinuousCheck[]
  /**
   * A signal hub (`createSignalHub`): its check runs on every call, and `warden.signal(event)` applies CAEP events
   * through it and audits them.
   */
  readonly signals?: SignalHub
  /** Behaviour analytics (`createAnalytics()`): rate limits, baselines, risk score and tiered responses. */
  readonly analytics?: Analytics
  readonly sessions?: {
    /** A session is refused after this long since it was opened. Default 8 hours. */
    readonly maxAgeMs?: number
    /** A session is refused after this long without a call. Default 30 minutes. */
    readonly idleTimeoutMs?: number
  }
  readonly limits?: {
    /** Largest topK any caller may ask for; the policy may lower it. Default 1000. */
    readonly maxTopK?: number
    /** Most ids in one fetch or delete. Default 1000. */
    readonly maxIds?: number
    /** Most records in one upsert call. Default 10000. */
    readonly maxRecordsPerUpsert?: number
    /** Filter limits. */
    readonly maxFilterDepth?: number
    readonly maxFilterClauses?: number
  }
  /** CloudEvents `source` of audit events. Default `vectorwarden`. */
  readonly source?: string
  /** The clock, in ms since the epoch. Tests pass a fake one. */
  readonly now?: () => number
}

/** The configuration after validation, as the pipeline reads it. */
export interface ResolvedConfig {
  readonly adapter: VectorStoreAdapterV1
  readonly authenticators: readonly Authenticator[]
  readonly policy: PolicyDecisionPoint
  readonly audit: AuditEmitter
  readonly protector: FieldProtector | undefined
  readonly checks: readonly ContinuousCheck[]
  readonly signals: SignalHub | undefined
  readonly analytics: Analytics | undefined
  readonly maxAgeMs: number
  readonly idleTimeoutMs: number
  readonly maxTopK: number
  readonly maxIds: number
  readonly maxRecordsPerUpsert: number
  readonly maxFilterDepth: number
  readonly maxFilterClauses: number
  readonly source: string
  readonly now: () => number
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null
const hasFunction = (value: unknown, name: string): boolean => isObject(value) && typeof value[name] === 'function'

const adapterSchema = z.custom<VectorStoreAdapterV1>(
  (value) =>
    isObject(value) &&
    value.specificationVersion === 'v1' &&
    isObject(value.capabilities) &&
    ['maxBatchSize', 'maxTopK', 'maxIdsPerCall'].every((name) => Number.isInteger((value.capabilities as Record<string, unknown>)[name]) && ((value.capabilities as Record<string, number>)[name] as number) > 0) &&
    ['doQuery', 'doUpsert', 'doFetch', 'doDelete', 'doCount', 'doScroll', 'doUpdate', 'doCreateCollection'].every((name) =>
      hasFunction(value, name),
    ),
  { message: 'adapter must implement the v1 adapter specification (specificationVersion "v1")' },
)
const authenticatorSchema = z.custom<Authenticator>(
  (value) => isObject(value) && typeof value.name === 'string' && hasFunction(value, 'recognizes') && hasFunction(value, 'authenticate'),
  { message: 'an authenticator needs name, recognizes() and authenticate()' },
)
const policySchema = z.custom<PolicyDecisionPoint>(
  (value) => isObject(value) && typeof value.id === 'string' && typeof value.version === 'string' && hasFunction(value, 'decide'),
  { message: 'policy must be a policy decision point (id, version, decide())' },
)
const checkSchema = z.custom<ContinuousCheck>((value) => isObject(value) && typeof value.name === 'string' && hasFunction(value, 'check'), {
  message: 'a continuous check needs name and check()',
})
const protectorSchema = z.custom<FieldProtector>(
  (value) => ['covers', 'protect', 'unprotect', 'rewriteFilter', 'reservedFields', 'protectedFields'].every((name) => hasFunction(value, name)),
  { message: 'encryption must be a field protector (see fieldEncryption())' },
)
const positive = z.number().int().positive()

const optionsSchema = z.strictObject({
  adapter: adapterSchema,
  authenticators: z.union([authenticatorSchema, z.array(authenticatorSchema).min(1, 'at least one authenticator is required')]),
  policy: policySchema,
  audit: z.custom<AuditOption>((value) => isObject(value) || Array.isArray(value), { message: 'audit is required: a sink, sinks or an emitter' }),
  encryption: z.union([protectorSchema, z.array(protectorSchema).min(1)]).optional(),
  checks: z.array(checkSchema).optional(),
  signals: z
    .custom<SignalHub>((value) => hasFunction(value, 'apply') && isObject((value as { check?: unknown }).check), {
      message: 'signals must be a signal hub (createSignalHub)',
    })
    .optional(),
  analytics: z
    .custom<Analytics>((value) => hasFunction(value, 'before') && hasFunction(value, 'after'), {
      message: 'analytics must come from createAnalytics() (before() and after())',
    })
    .optional(),
  sessions: z.object({ maxAgeMs: positive.optional(), idleTimeoutMs: positive.optional() }).strict().optional(),
  limits: z
    .object({
      maxTopK: positive.optional(),
      maxIds: positive.optional(),
      maxRecordsPerUpsert: positive.optional(),
      maxFilterDepth: positive.max(64).optional(),
      maxFilterClauses: positive.max(100_000).optional(),
    })
    .strict()
    .optional(),
  source: z.string().min(1).optional(),
  now: z.custom<() => number>((value) => typeof value === 'function').optional(),
})

function isEmitter(value: unknown): value is AuditEmitter {
  return hasFunction(value, 'emit') && hasFunction(value, 'flush') && hasFunction(value, 'close')
}

function resolveAudit(option: AuditOption): AuditEmitter {
  if (isEmitter(option)) return option
  if (Array.isArray(option)) return createAuditEmitter({ sinks: option as readonly AuditSink[] })
  if (hasFunction(option, 'write')) return createAuditEmitter({ sinks: option as AuditSink })
  const settings = option as Exclude<AuditOption, AuditSink | readonly AuditSink[] | AuditEmitter>
  if (!isObject(settings) || !('sinks' in settings)) throw new ConfigError('audit must be a sink, an array of sinks, an emitter or { sinks, mode }')
  return createAuditEmitter(settings)
}

/** Validates options once; throws `ConfigError` naming the first problem. */
export function resolveConfig(options: WardenOptions): ResolvedConfig {
  if (!isObject(options)) throw new TypeError('createWarden(options): options must be an object')
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? issue.path.join('.') : 'options'
    throw new ConfigError(`invalid warden configuration at ${where}: ${issue?.message ?? 'invalid'}`, { reason: 'invalid_config' })
  }
  const authenticators = Array.isArray(options.authenticators) ? [...options.authenticators] : [options.authenticators as Authenticator]
  const limits = options.limits ?? {}
  return {
    adapter: options.adapter,
    authenticators,
    policy: options.policy,
    audit: resolveAudit(options.audit),
    protector: options.encryption === undefined ? undefined : composeProtectors(Array.isArray(options.encryption) ? options.encryption : [options.encryption as FieldProtector]),
    checks: options.signals && !(options.checks ?? []).includes(options.signals.check) ? [...(options.checks ?? []), options.signals.check] : (options.checks ?? []),
    signals: options.signals,
    analytics: options.analytics,
    maxAgeMs: options.sessions?.maxAgeMs ?? 8 * 60 * 60 * 1000,
    idleTimeoutMs: options.sessions?.idleTimeoutMs ?? 30 * 60 * 1000,
    maxTopK: Math.min(limits.maxTopK ?? 1000, options.adapter.capabilities.maxTopK),
    maxIds: limits.maxIds ?? 1000,
    maxRecordsPerUpsert: limits.maxRecordsPerUpsert ?? 10_000,
    maxFilterDepth: limits.maxFilterDepth ?? 10,
    maxFilterClauses: limits.maxFilterClauses ?? 256,
    source: options.source ?? 'vectorwarden',
    now: options.now ?? Date.now,
  }
}
