// the policy document format: plain data (JSON/YAML-able), validated once by zod at load

import { z } from 'zod'
import { ACTIONS } from '../spec/policy.js'

/**
 * Action patterns a rule may name: an action, a family wildcard, everything, or the vector-read permission.
 *
 * @example
 * ```ts
 * ACTION_PATTERNS.includes('vectors.read') // true
 * ```
 */
export const ACTION_PATTERNS = [...ACTIONS, 'collection.*', 'record.*', 'vectors.read', '*'] as const

/**
 * One of {@link ACTION_PATTERNS}.
 *
 * @example
 * ```ts
 * const pattern: ActionPattern = 'record.*'
 * ```
 */
export type ActionPattern = (typeof ACTION_PATTERNS)[number]

const identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:@-]+$/, 'use letters, digits and _ . : @ - only')

const glob = z.string().min(1).max(256)

const scalar = z.union([z.string().max(4096), z.number().refine(Number.isFinite, 'must be finite'), z.boolean()])

/** A matcher over one attribute: a value (equality), a list (membership), or positive operators. */
const matcher = z.union([
  scalar,
  z.array(scalar).max(1024),
  z.strictObject({
    $eq: scalar.optional(),
    $in: z.array(scalar).max(1024).optional(),
    $gt: z.number().optional(),
    $gte: z.number().optional(),
    $lt: z.number().optional(),
    $lte: z.number().optional(),
    $exists: z.literal(true).optional(),
  }),
])

/**
 * Attribute matcher, as written in a policy.
 *
 * @example
 * ```ts
 * const matcher: AttributeMatcher = { $gte: 3 }
 * ```
 */
export type AttributeMatcher = z.infer<typeof matcher>

const attributeName = z
  .string()
  .min(1)
  .max(256)
  .refine((name) => !/(^|\.)(__proto__|prototype|constructor)(\.|$)/.test(name), 'reserved property name')

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use HH:MM (24 h)')

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const

const conditionSchema = z.strictObject({
  /** Principal attributes (`principal.attributes`), all must match. */
  attributes: z.record(attributeName, matcher).optional(),
  /** Request-context attributes (`context.attributes`), all must match. */
  context: z.record(attributeName, matcher).optional(),
  /** Who the principal is. */
  principal: z
    .strictObject({
      kinds: z.array(z.enum(['user', 'service'])).min(1).optional(),
      authenticators: z.array(z.string().min(1)).min(1).optional(),
      issuers: z.array(z.string().min(1)).min(1).optional(),
      ids: z.array(z.string().min(1)).min(1).optional(),
      /** OAuth scopes the principal must all hold. */
      scopes: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
  /** A time window in an IANA time zone; `from` inclusive, `to` exclusive; a window may wrap midnight. */
  time: z
    .strictObject({
      timeZone: z.string().min(1),
      days: z.array(z.enum(DAYS)).min(1).optional(),
      from: hhmm.optional(),
      to: hhmm.optional(),
      notBefore: z.iso.datetime({ offset: true }).optional(),
      notAfter: z.iso.datetime({ offset: true }).optional(),
    })
    .optional(),
  /** Client address ranges (CIDR or single address), IPv4 or IPv6. */
  ip: z.array(z.string().min(2).max(64)).min(1).optional(),
  /** Device posture from the request context. */
  device: z.strictObject({ managed: z.literal(true).optional(), compliant: z.literal(true).optional() }).optional(),
  /** Multi-factor authentication; when it alone fails, the deny code is `step_up_required`. */
  mfa: z
    .union([
      z.literal(true),
      z.strictObject({
        /** `amr` values that count as a second factor (default: RFC 8176 multi-factor and possession methods). */
        methods: z.array(z.string().min(1)).min(1).optional(),
        /** The last authentication must be at most this old. */
        maxAgeSeconds: z.number().int().positive().optional(),
        /** Accepted `acr` values; when set, the principal's `acr` must be one of them. */
        acr: z.array(z.string().min(1)).min(1).optional(),
      }),
    ])
    .optional(),
  /** Risk score bounds (from `context.attributes.riskScore`, else `principal.attributes.riskScore`), inclusive. */
  risk: z
    .strictObject({
      min: z.number().refine(Number.isFinite, 'must be finite').optional(),
      max: z.number().refine(Number.isFinite, 'must be finite').optional(),
      /** What a missing score means: `deny` (the default, fail closed) treats it as unknown. */
      missing: z.enum(['allow', 'deny']).default('deny'),
    })
    .refine((risk) => risk.min !== undefined || risk.max !== undefined, 'set min or max')
    .optional(),
})

/**
 * ABAC conditions, as written in a policy; every present condition must hold.
 *
 * @example
 * ```ts
 * const when: ConditionDocument = { ip: ['10.0.0.0/8'], mfa: { maxAgeSeconds: 300 } }
 * ```
 */
export type ConditionDocument = z.infer<typeof conditionSchema>

// ['*'] would name a field called "*": every field is the string '*', and the mistake is refused rather than guessed
const fieldSet = z.union([
  z.literal('*'),
  z
    .array(z.string().min(1).max(256))
    .max(1024)
    .refine((fields) => !fields.includes('*'), { message: "every field is written '*' (a string), not ['*']" }),
])

const limitsSchema = z.strictObject({
  maxTopK: z.number().int().positive().optional(),
  maxIds: z.number().int().positive().optional(),
  maxDelete: z.number().int().positive().optional(),
})

/**
 * Limits against bulk exfiltration.
 *
 * @example
 * ```ts
 * const limits: LimitsDocument = { maxTopK: 20, maxIds: 50, maxDelete: 10 }
 * ```
 */
export type LimitsDocument = z.infer<typeof limitsSchema>

const labelsSchema = z.array(z.string().min(1).max(128)).max(64)

/**
 * The schema of one allow rule (also used for JIT permission grants).
 *
 * @example
 * ```ts
 * allowRuleSchema.parse({ actions: ['record.query'], collections: ['docs'] })
 * ```
 */
export const allowRuleSchema = z.strictObject({
  id: identifier.optional(),
  description: z.string().max(1024).optional(),
  actions: z.array(z.enum(ACTION_PATTERNS)).min(1),
  /** Collection names or globs (`*`, `?`); default every collection. */
  collections: z.array(glob).min(1).optional(),
  /** Namespace names or globs; default every namespace. */
  namespaces: z.array(glob).min(1).optional(),
  when: conditionSchema.optional(),
  /** Records this rule grants, as a positive filter; `${principal...}` values are bound per request. */
  rowFilter: z.record(z.string(), z.unknown()).optional(),
  fields: z.strictObject({ read: fieldSet.optional(), write: fieldSet.optional(), decrypt: fieldSet.optional() }).optional(),
  /** Sensitivity labels this rule clears; a labelled collection or field needs all of its labels cleared. */
  labels: z.union([labelsSchema, z.string()]).optional(),
})

/**
 * An allow rule, as written in a policy.
 *
 * @example
 * ```ts
 * const rule: AllowRuleDocument = { actions: ['record.query'], rowFilter: { owner: '${principal.id}' } }
 * ```
 */
export type AllowRuleDocument = z.infer<typeof allowRuleSchema>

const denyRuleSchema = z.strictObject({
  id: identifier.optional(),
  description: z.string().max(1024).optional(),
  actions: z.array(z.enum(ACTION_PATTERNS)).min(1),
  collections: z.array(glob).min(1).optional(),
  namespaces: z.array(glob).min(1).optional(),
  /** The deny applies when these hold, or when they cannot be evaluated (missing data fails closed). */
  when: conditionSchema.optional(),
})

/**
 * A deny rule, as written in a policy.
 *
 * @example
 * ```ts
 * const rule: DenyRuleDocument = { actions: ['*'], when: { risk: { min: 0.9 } } }
 * ```
 */
export type DenyRuleDocument = z.infer<typeof denyRuleSchema>

const roleSchema = z.strictObject({
  description: z.string().max(1024).optional(),
  inherits: z.array(identifier).optional(),
  allow: z.array(allowRuleSchema).optional(),
  deny: z.array(denyRuleSchema).optional(),
  limits: limitsSchema.optional(),
})

/**
 * A role, as written in a policy.
 *
 * @example
 * ```ts
 * const role: RoleDocument = { inherits: ['reader'], allow: [{ actions: ['record.upsert'] }], limits: { maxTopK: 50 } }
 * ```
 */
export type RoleDocument = z.infer<typeof roleSchema>

const collectionSchema = z.strictObject({
  labels: labelsSchema.optional(),
  /** When present, the closed list of the collection's metadata fields: `*` in a rule means these. */
  fields: z.record(z.string().min(1).max(256), z.strictObject({ labels: labelsSchema.optional() })).optional(),
})

/**
 * The zod schema of a policy document (strict: unknown keys are refused).
 *
 * @example
 * ```ts
 * const result = policyDocumentSchema.safeParse(JSON.parse(text))
 * ```
 */
export const policyDocumentSchema = z.strictObject({
  format: z.literal('vectorwarden.policy/v1').optional(),
  id: identifier,
  description: z.string().max(4096).optional(),
  /** One tenant per record: row filter `{ [field]: principal.tenant }`, stamped on write, reserved. */
  tenancy: z
    .strictObject({
      field: z.string().min(1).max(256),
      /** Collections under tenancy (globs); default every collection. */
      collections: z.array(glob).min(1).optional(),
    })
    .optional(),
  /** Reserved fields the warden writes on every upsert, e.g. `{ owner: '${principal.id}' }`. */
  stamp: z.record(z.string().min(1).max(256), z.union([scalar, z.array(z.string())])).optional(),
  /** Sensitivity labels and field lists per collection (name or glob). */
  collections: z.record(glob, collectionSchema).optional(),
  /** Default limits of roles that set none. */
  limits: limitsSchema.optional(),
  roles: z.record(identifier, roleSchema),
  /** Deny rules that apply to every principal. */
  deny: z.array(denyRuleSchema).optional(),
})

/**
 * A policy document: plain data, JSON- and YAML-able.
 *
 * @example
 * ```ts
 * const document: PolicyDocument = {
 *   id: 'quickstart',
 *   tenancy: { field: 'tenant' },
 *   roles: { reader: { allow: [{ actions: ['record.query'], collections: ['docs'] }] } },
 * }
 * ```
 */
export type PolicyDocument = z.input<typeof policyDocumentSchema>

/**
 * A policy document after validation (defaults applied).
 *
 * @example
 * ```ts
 * const parsed: ParsedPolicyDocument = definePolicy(document).document
 * ```
 */
export type ParsedPolicyDocument = z.output<typeof policyDocumentSchema>
