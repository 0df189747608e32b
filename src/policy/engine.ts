// the built-in decision engine: a policy document compiled once into per-role, per-action rule lists; sync decisions

import { ConfigError } from '../errors.js'
import { matchesNothing } from '../filter/index.js'
import type { Principal, RequestContext } from '../spec/auth.js'
import type { FilterNode } from '../spec/filter.js'
import { ACTIONS, type Action, type Decision, type FieldSet, type Obligations, type PolicyRequest } from '../spec/policy.js'
import type { MetadataValue } from '../spec/records.js'
import { type CompiledCondition, compileCondition, FAIL as CHECK_FAIL, PASS as CHECK_PASS, STEP_UP as CHECK_STEP_UP } from './conditions.js'
import { compileGlobs, coversEverything, type NamePattern } from './glob.js'
import { canonicalJson } from './canonical.js'
import { checkFieldName, createBinder, parseRowFilter, type RowFilterBinder } from './row-filter.js'
import type {
  ActionPattern,
  AllowRuleDocument,
  DenyRuleDocument,
  LimitsDocument,
  ParsedPolicyDocument,
} from './schema.js'
import { compilePlaceholder, looksLikePlaceholder, type Placeholder } from './template.js'

/** Index of the vector-read permission among the action slots. */
export const VECTORS_READ = ACTIONS.length
const SLOT_COUNT = ACTIONS.length + 1
const ACTION_INDEX = new Map<string, number>(ACTIONS.map((action, index) => [action, index]))
const RECORD_WRITE = new Set<Action>(['record.upsert', 'record.update'])

function actionMask(patterns: readonly ActionPattern[]): number {
  let mask = 0
  for (const pattern of patterns) {
    if (pattern === '*') mask |= (1 << SLOT_COUNT) - 1
    else if (pattern === 'vectors.read') mask |= 1 << VECTORS_READ
    else if (pattern === 'collection.*' || pattern === 'record.*') {
      const prefix = pattern.slice(0, -1)
      ACTIONS.forEach((action, index) => {
        if (action.startsWith(prefix)) mask |= 1 << index
      })
    } else mask |= 1 << (ACTION_INDEX.get(pattern) as number)
  }
  return mask
}

/** Field sets a rule grants, after sensitivity labels. */
interface FieldGrant {
  readonly read: FieldSet
  readonly write: FieldSet
  readonly decrypt: FieldSet
}

/** A compiled allow rule. Mutable scratch fields let one decision evaluate each rule once without allocating. */
export interface CompiledAllowRule {
  readonly id: string
  readonly mask: number
  readonly collection: NamePattern
  readonly coversAllCollections: boolean
  readonly namespace: NamespaceMatcher
  readonly condition: CompiledCondition
  readonly rowFilter: RowFilterBinder | undefined
  readonly fields: FieldGrant
  readonly labels: ReadonlySet<string> | Placeholder | undefined
  /** Set when the rule came from a JIT grant. */
  readonly grantId?: string
  readonly fieldCache: Map<string, FieldGrant>
  seq: number
  outcome: number
  boundFilter: FilterNode | undefined
  grantedFields: FieldGrant | undefined
  // one-entry memo of the resource match: consecutive decisions mostly name the same collection
  lastCollection: string | undefined
  lastNamespace: string | undefined
  lastOnResource: boolean
}

interface CompiledDenyRule {
  readonly id: string
  readonly mask: number
  readonly collection: NamePattern
  readonly coversAllCollections: boolean
  readonly namespace: NamespaceMatcher
  readonly condition: CompiledCondition
  seq: number
}

interface EffectiveLimits {
  readonly maxTopK: number | undefined
  readonly maxIds: number | undefined
  readonly maxDelete: number | undefined
}

/** A compiled role: its own and inherited rules, by action slot. */
export interface CompiledRole {
  readonly name: string
  readonly allow: readonly (readonly CompiledAllowRule[])[]
  readonly deny: readonly (readonly CompiledDenyRule[])[]
  readonly limits: EffectiveLimits
}

interface CollectionInfo {
  readonly labels: ReadonlySet<string>
  /** The closed field list with each field's labels, when the policy declares one. */
  readonly fields: ReadonlyMap<string, readonly string[]> | undefined
}

/** What the JIT grant store tells the engine about one principal at one instant. */
export interface ActiveGrants {
  readonly roles: readonly { readonly grantId: string; readonly role: string }[]
  readonly rules: readonly CompiledAllowRule[]
}

/** The hook through which JIT grants join decisions. */
export interface GrantSource {
  active(principalId: string, now: number): ActiveGrants | undefined
  used(grantIds: readonly string[], principalId: string, now: number): void
}

// local copies: module-format shims may turn imported bindings into getters on the hot path
const PASS = CHECK_PASS
const FAIL = CHECK_FAIL
const STEP_UP = CHECK_STEP_UP

// rule outcomes within one decision
const NOT_EVALUATED = 0
const ALLOWS = 1
const OFF_RESOURCE = 2
const CONDITION_FAILED = 3
const NEEDS_STEP_UP = 4
const ATTRIBUTE_MISSING = 5
const LABEL_NOT_CLEARED = 6

const EMPTY_CONTEXT: RequestContext = Object.freeze({})
const EMPTY_STAMP: Obligations['stamp'] = Object.freeze({})
const NONE: FilterNode = Object.freeze({ kind: 'none' }) as FilterNode

function emptyList<T>(): T[][] {
  return Array.from({ length: SLOT_COUNT }, () => [])
}

function freezeFieldSet(set: readonly string[] | '*' | undefined, fallback: FieldSet): FieldSet {
  if (set === undefined) return fallback
  return set === '*' ? '*' : Object.freeze([...new Set(set)])
}

/**
 * Compiles one allow rule. Exported for JIT permission grants, which carry a rule of their own.
 *
 * @example
 * ```ts
 * const rule = compileAllowRule({ actions: ['record.query'], collections: ['docs'] }, 'grant:1')
 * ```
 */
export function compileAllowRule(
  rule: AllowRuleDocument,
  id: string,
  grantId?: string,
  intern: (rowFilter: Record<string, unknown>, where: string) => RowFilterBinder = (rowFilter, where) =>
    createBinder(parseRowFilter(rowFilter, where)),
): CompiledAllowRule {
  const where = id
  const mask = actionMask(rule.actions)
  let rowFilter: RowFilterBinder | undefined
  if (rule.rowFilter !== undefined) {
    if ((mask & ~(1 << VECTORS_READ) & ((1 << SLOT_COUNT) - 1)) === 0) {
      throw new ConfigError(`${where}.rowFilter: vectors.read follows the record rules; put the row filter on them`, {
        reason: 'invalid_row_filter',
      })
    }
    rowFilter = intern(rule.rowFilter, `${where}.rowFilter`)
  }
  for (const key of ['read', 'write', 'decrypt'] as const) {
    const set = rule.fields?.[key]
    if (Array.isArray(set)) {
      set.forEach((field, index) => {
        checkFieldName(field, `${where}.fields.${key}[${index}]`)
      })
    }
  }
  const read = freezeFieldSet(rule.fields?.read, '*')
  let labels: CompiledAllowRule['labels']
  if (typeof rule.labels === 'string') {
    if (!looksLikePlaceholder(rule.labels)) {
      throw new ConfigError(`${where}.labels: expected a list of labels or a placeholder`, { reason: 'invalid_labels' })
    }
    labels = compilePlaceholder(rule.labels, `${where}.labels`)
  } else if (rule.labels !== undefined) labels = new Set(rule.labels)
  const result: CompiledAllowRule = {
    id,
    mask,
    collection: compileGlobs(rule.collections),
    coversAllCollections: coversEverything(rule.collections),
    namespace: compileNamespaces(rule.namespaces, `${where}.namespaces`),
    condition: compileCondition(rule.when, `${where}.when`),
    rowFilter,
    fields: {
      read,
      write: freezeFieldSet(rule.fields?.write, '*'),
      // decrypting follows reading unless narrowed: encryption at rest protects against the store, the policy decides who reads
      decrypt: freezeFieldSet(rule.fields?.decrypt, read),
    },
    labels,
    fieldCache: new Map(),
    seq: 0,
    outcome: NOT_EVALUATED,
    boundFilter: undefined,
    grantedFields: undefined,
    lastCollection: undefined,
    lastNamespace: undefined,
    lastOnResource: false,
  }
  if (grantId !== undefined) return { ...result, grantId }
  return result
}

function compileDenyRule(rule: DenyRuleDocument, id: string): CompiledDenyRule {
  return {
    id,
    mask: actionMask(rule.actions),
    collection: compileGlobs(rule.collections),
    coversAllCollections: coversEverything(rule.collections),
    namespace: compileNamespaces(rule.namespaces, `${id}.namespaces`),
    condition: compileCondition(rule.when, `${id}.when`),
    seq: 0,
  }
}

function mergeLimits(own: LimitsDocument | undefined, parents: readonly EffectiveLimits[], fallback: LimitsDocument | undefined) {
  const pick = (key: keyof LimitsDocument): number | undefined => {
    const value = own?.[key]
    if (value !== undefined) return value
    if (parents.length > 0) {
      let best = 0
      for (const parent of parents) {
        const inherited = parent[key]
        if (inherited === undefined) return undefined
        best = Math.max(best, inherited)
      }
      return best
    }
    return fallback?.[key]
  }
  return { maxTopK: pick('maxTopK'), maxIds: pick('maxIds'), maxDelete: pick('maxDelete') }
}

/** Matches a request's namespace; `personal` when a pattern is bound to the principal (`${principal.tenant}`). */
interface NamespaceMatcher {
  readonly personal: boolean
  /** `unboundMatches`: a placeholder that cannot be bound counts as a match (deny rules fail closed). */
  match(namespace: string, principal: Principal, context: RequestContext, unboundMatches?: boolean): boolean
}

/** Namespace patterns: globs, or placeholders that must resolve to the namespace exactly (a namespace per tenant). */
function compileNamespaces(patterns: readonly string[] | undefined, where: string): NamespaceMatcher {
  const placeholders = (patterns ?? []).filter(looksLikePlaceholder).map((pattern) => compilePlaceholder(pattern, where))
  const globs = compileGlobs(patterns?.filter((pattern) => !looksLikePlaceholder(pattern)))
  if (placeholders.length === 0) return { personal: false, match: (namespace) => globs(namespace) }
  const hasGlobs = (patterns ?? []).some((pattern) => !looksLikePlaceholder(pattern))
  return {
    personal: true,
    match(namespace, principal, context, unboundMatches = false) {
      if (hasGlobs && globs(namespace)) return true
      for (const placeholder of placeholders) {
        const bound = placeholder.resolve(principal, context)
        if (bound === undefined) {
          if (unboundMatches) return true
          continue
        }
        if (Array.isArray(bound) ? bound.includes(namespace) : bound === namespace) return true
      }
      return false
    },
  }
}

/** A deny rule's namespace match; a namespace placeholder that cannot be bound counts as matching (fail closed). */
function denyNamespace(rule: CompiledDenyRule, namespace: string, principal: Principal, context: RequestContext): boolean {
  return rule.namespace.match(namespace, principal, context, true)
}

/** A compiled policy, ready to decide. */
export interface CompiledPolicy {
  readonly roles: ReadonlyMap<string, CompiledRole>
  readonly ruleCount: number
  readonly defaultLimits: EffectiveLimits
  decide(request: PolicyRequest, grants: GrantSource | undefined, policy: { id: string; version: string }): Decision
}

/**
 * Compiles a validated policy document. Throws `ConfigError` on inheritance cycles, unknown roles, negative row
 * filters, bad placeholders, time zones or CIDR ranges.
 *
 * @example
 * ```ts
 * const compiled = compilePolicy(policyDocumentSchema.parse(document))
 * ```
 */
export function compilePolicy(document: ParsedPolicyDocument): CompiledPolicy {
  const seenIds = new Set<string>()
  const claimId = (id: string, where: string) => {
    if (seenIds.has(id)) throw new ConfigError(`${where}: duplicate rule id '${id}'`, { reason: 'duplicate_rule_id' })
    seenIds.add(id)
    return id
  }
  // rules with the same row filter share one binder, so a decision gets one node per distinct filter (deduplicated)
  const binders = new Map<string, RowFilterBinder>()
  const intern = (rowFilter: Record<string, unknown>, where: string): RowFilterBinder => {
    const key = canonicalJson(rowFilter)
    let binder = binders.get(key)
    if (binder === undefined) {
      binder = createBinder(parseRowFilter(rowFilter, where))
      binders.set(key, binder)
    }
    return binder
  }
  const ownAllow = new Map<string, CompiledAllowRule[]>()
  const ownDeny = new Map<string, CompiledDenyRule[]>()
  let ruleCount = 0
  for (const [name, role] of Object.entries(document.roles)) {
    ownAllow.set(
      name,
      (role.allow ?? []).map((rule, index) =>
        compileAllowRule(rule, claimId(rule.id ?? `${name}.allow[${index}]`, `roles.${name}.allow[${index}]`), undefined, intern),
      ),
    )
    ownDeny.set(
      name,
      (role.deny ?? []).map((rule, index) =>
        compileDenyRule(rule, claimId(rule.id ?? `${name}.deny[${index}]`, `roles.${name}.deny[${index}]`)),
      ),
    )
    ruleCount += (role.allow?.length ?? 0) + (role.deny?.length ?? 0)
  }
  const globalDeny = (document.deny ?? []).map((rule, index) =>
    compileDenyRule(rule, claimId(rule.id ?? `deny[${index}]`, `deny[${index}]`)),
  )
  ruleCount += globalDeny.length

  // role closures, refusing cycles and unknown parents
  const closures = new Map<string, string[]>()
  const limits = new Map<string, EffectiveLimits>()
  const visit = (name: string, trail: string[]): string[] => {
    const known = closures.get(name)
    if (known !== undefined) return known
    if (trail.includes(name)) {
      throw new ConfigError(`roles: inheritance cycle ${[...trail, name].join(' -> ')}`, { reason: 'role_cycle' })
    }
    const role = document.roles[name]
    if (role === undefined) {
      throw new ConfigError(`roles.${trail[trail.length - 1]}.inherits: unknown role '${name}'`, { reason: 'unknown_role' })
    }
    const closure = [name]
    const parentLimits: EffectiveLimits[] = []
    for (const parent of role.inherits ?? []) {
      for (const inherited of visit(parent, [...trail, name])) if (!closure.includes(inherited)) closure.push(inherited)
      parentLimits.push(limits.get(parent) as EffectiveLimits)
    }
    closures.set(name, closure)
    limits.set(name, mergeLimits(role.limits, parentLimits, document.limits))
    return closure
  }
  const roles = new Map<string, CompiledRole>()
  for (const name of Object.keys(document.roles)) {
    const closure = visit(name, [])
    const allow = emptyList<CompiledAllowRule>()
    const deny = emptyList<CompiledDenyRule>()
    for (const member of closure) {
      for (const rule of ownAllow.get(member) ?? []) {
        for (let slot = 0; slot < SLOT_COUNT; slot++) if (rule.mask & (1 << slot)) allow[slot]?.push(rule)
      }
      for (const rule of ownDeny.get(member) ?? []) {
        for (let slot = 0; slot < SLOT_COUNT; slot++) if (rule.mask & (1 << slot)) deny[slot]?.push(rule)
      }
    }
    roles.set(name, { name, allow, deny, limits: limits.get(name) as EffectiveLimits })
  }
  const globalDenyBySlot = emptyList<CompiledDenyRule>()
  for (const rule of globalDeny) {
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (rule.mask & (1 << slot)) globalDenyBySlot[slot]?.push(rule)
  }

  // tenancy and stamps
  const tenancyField = document.tenancy?.field
  if (tenancyField !== undefined) checkFieldName(tenancyField, 'tenancy.field')
  const tenancyCollections = compileGlobs(document.tenancy?.collections)
  const stamps: { field: string; value: MetadataValue | Placeholder }[] = []
  for (const [field, value] of Object.entries(document.stamp ?? {})) {
    checkFieldName(field, `stamp.${field}`)
    if (field === tenancyField) throw new ConfigError(`stamp.${field}: the tenancy field is stamped already`, { reason: 'invalid_stamp' })
    stamps.push({ field, value: looksLikePlaceholder(value) ? compilePlaceholder(value, `stamp.${field}`) : value })
  }

  // sensitivity labels per collection
  const collectionEntries = Object.entries(document.collections ?? {}).map(([pattern, entry]) => {
    if (entry.fields !== undefined) for (const field of Object.keys(entry.fields)) checkFieldName(field, `collections.${pattern}.fields`)
    return { matches: compileGlobs([pattern]), entry }
  })
  const collectionCache = new Map<string, CollectionInfo>()
  const noLabels: CollectionInfo = { labels: new Set(), fields: undefined }
  const collectionInfo = (collection: string | undefined): CollectionInfo => {
    if (collection === undefined || collectionEntries.length === 0) return noLabels
    let info = collectionCache.get(collection)
    if (info !== undefined) return info
    const labels = new Set<string>()
    let fields: Map<string, string[]> | undefined
    for (const { matches, entry } of collectionEntries) {
      if (!matches(collection)) continue
      for (const label of entry.labels ?? []) labels.add(label)
      if (entry.fields !== undefined) {
        fields ??= new Map()
        for (const [field, spec] of Object.entries(entry.fields)) {
          fields.set(field, [...(fields.get(field) ?? []), ...(spec.labels ?? [])])
        }
      }
    }
    info = { labels, fields }
    if (collectionCache.size > 4096) collectionCache.clear()
    collectionCache.set(collection, info)
    return info
  }

  const defaultLimits = mergeLimits(document.limits, [], undefined)
  let sequence = 0

  /** Restricts a field set to a collection's closed field list and cleared labels. */
  const restrictFields = (set: FieldSet, info: CollectionInfo, cleared: ReadonlySet<string> | readonly string[]): FieldSet => {
    if (info.fields === undefined) return set
    const has = (label: string) => (Array.isArray(cleared) ? cleared.includes(label) : (cleared as ReadonlySet<string>).has(label))
    const candidates = set === '*' ? [...info.fields.keys()] : set
    return candidates.filter((field) => {
      const labels = info.fields?.get(field)
      return labels?.every(has) === true
    })
  }

  /** Evaluates an allow rule once per decision; records outcome, bound filter and granted fields on the rule. */
  const evaluateAllow = (
    rule: CompiledAllowRule,
    seq: number,
    principal: Principal,
    context: RequestContext,
    now: number,
    collection: string | undefined,
    namespace: string,
    recordAction: boolean,
  ): number => {
    if (rule.seq === seq) return rule.outcome
    rule.seq = seq
    rule.boundFilter = undefined
    rule.grantedFields = undefined
    let onResource: boolean
    if (collection !== undefined && collection === rule.lastCollection && namespace === rule.lastNamespace) onResource = rule.lastOnResource
    else {
      onResource =
        (collection === undefined ? rule.coversAllCollections : rule.collection(collection)) &&
        rule.namespace.match(namespace, principal, context)
      // a namespace bound to the principal cannot be memoized across principals
      if (collection !== undefined && !rule.namespace.personal) {
        rule.lastCollection = collection
        rule.lastNamespace = namespace
        rule.lastOnResource = onResource
      }
    }
    if (!onResource) return (rule.outcome = OFF_RESOURCE)
    let stepUp = false
    for (const check of rule.condition) {
      const result = check.test(principal, context, now)
      if (result === STEP_UP) stepUp = true
      else if (result !== PASS) return (rule.outcome = CONDITION_FAILED)
    }
    const info = collectionInfo(collection)
    let cleared: ReadonlySet<string> | readonly string[] = EMPTY_LABELS
    if (rule.labels !== undefined) {
      if (rule.labels instanceof Set) cleared = rule.labels
      else {
        const bound = (rule.labels as Placeholder).resolve(principal, context)
        if (bound === undefined) return (rule.outcome = ATTRIBUTE_MISSING)
        cleared = (Array.isArray(bound) ? bound : [bound]).map(String)
      }
    }
    if (info.labels.size > 0) for (const label of info.labels) {
      const has = Array.isArray(cleared) ? cleared.includes(label) : (cleared as ReadonlySet<string>).has(label)
      if (!has) return (rule.outcome = LABEL_NOT_CLEARED)
    }
    if (stepUp) return (rule.outcome = NEEDS_STEP_UP)
    if (recordAction && rule.rowFilter !== undefined) {
      const bound = rule.rowFilter.bind(principal, context)
      if (bound === undefined) return (rule.outcome = ATTRIBUTE_MISSING)
      rule.boundFilter = bound
    }
    if (info.fields === undefined) rule.grantedFields = rule.fields
    else if (collection !== undefined && rule.labels instanceof Set) {
      let fields = rule.fieldCache.get(collection)
      if (fields === undefined) {
        fields = {
          read: restrictFields(rule.fields.read, info, cleared),
          write: restrictFields(rule.fields.write, info, cleared),
          decrypt: restrictFields(rule.fields.decrypt, info, cleared),
        }
        if (rule.fieldCache.size > 1024) rule.fieldCache.clear()
        rule.fieldCache.set(collection, fields)
      }
      rule.grantedFields = fields
    } else {
      rule.grantedFields = {
        read: restrictFields(rule.fields.read, info, cleared),
        write: restrictFields(rule.fields.write, info, cleared),
        decrypt: restrictFields(rule.fields.decrypt, info, cleared),
      }
    }
    return (rule.outcome = ALLOWS)
  }

  /** Whether a deny rule applies: on its resource and no check failed (unknown data counts as applying). */
  const denyApplies = (
    rule: CompiledDenyRule,
    principal: Principal,
    context: RequestContext,
    now: number,
    collection: string | undefined,
    namespace: string,
  ): boolean => {
    const onResource =
      (collection === undefined ? true : rule.collection(collection)) && denyNamespace(rule, namespace, principal, context)
    if (!onResource) return false
    for (const check of rule.condition) {
      const result = check.test(principal, context, now)
      if (result === FAIL || result === STEP_UP) return false
    }
    return true
  }

  interface Gathered {
    deniedBy: string | undefined
    allowing: CompiledAllowRule[]
    worst: number
    limitTopK: number
    limitIds: number
    limitDelete: number
    usedGrants: string[] | undefined
  }

  const gather = (
    slot: number,
    principal: Principal,
    context: RequestContext,
    now: number,
    collection: string | undefined,
    namespace: string,
    recordAction: boolean,
    active: ActiveGrants | undefined,
  ): Gathered => {
    const seq = ++sequence
    const out: Gathered = {
      deniedBy: undefined,
      allowing: [],
      worst: NOT_EVALUATED,
      limitTopK: 0,
      limitIds: 0,
      limitDelete: 0,
      usedGrants: undefined,
    }
    for (const rule of globalDenyBySlot[slot] as CompiledDenyRule[]) {
      if (denyApplies(rule, principal, context, now, collection, namespace)) {
        out.deniedBy = rule.id
        return out
      }
    }
    const roleCount = principal.roles.length
    const grantRoleCount = active?.roles.length ?? 0
    for (let index = 0; index < roleCount + grantRoleCount; index++) {
      const name = index < roleCount ? principal.roles[index] : active?.roles[index - roleCount]?.role
      if (typeof name !== 'string') continue
      const role = roles.get(name)
      if (role === undefined) continue
      for (const rule of role.deny[slot] as CompiledDenyRule[]) {
        if (rule.seq === seq) continue
        rule.seq = seq
        if (denyApplies(rule, principal, context, now, collection, namespace)) {
          out.deniedBy = rule.id
          return out
        }
      }
    }
    let anyRole = false
    for (let index = 0; index < roleCount + grantRoleCount; index++) {
      const grant = index < roleCount ? undefined : active?.roles[index - roleCount]
      const name = grant === undefined ? principal.roles[index] : grant.role
      if (typeof name !== 'string') continue
      const role = roles.get(name)
      if (role === undefined) continue
      let contributed = false
      for (const rule of role.allow[slot] as CompiledAllowRule[]) {
        const firstTime = rule.seq !== seq
        const outcome = evaluateAllow(rule, seq, principal, context, now, collection, namespace, recordAction)
        if (outcome === ALLOWS) {
          contributed = true
          if (firstTime) out.allowing.push(rule)
        } else if (outcome > out.worst) out.worst = outcome
      }
      if (contributed) {
        anyRole = true
        addLimits(out, role.limits)
        if (grant !== undefined) (out.usedGrants ??= []).push(grant.grantId)
      }
    }
    let permissionGranted = false
    for (const rule of active?.rules ?? []) {
      if (!(rule.mask & (1 << slot))) continue
      const outcome = evaluateAllow(rule, seq, principal, context, now, collection, namespace, recordAction)
      if (outcome === ALLOWS) {
        out.allowing.push(rule)
        permissionGranted = true
        ;(out.usedGrants ??= []).push(rule.grantId as string)
      } else if (outcome > out.worst) out.worst = outcome
    }
    // a granted permission carries no limits of its own: it never lifts the limits of the roles that also allow (one
    // narrow grant would otherwise lift maxTopK for everything the principal reads); alone, the policy's defaults hold
    if (permissionGranted && !anyRole) addLimits(out, defaultLimits)
    return out
  }

  const tenantNodes = new WeakMap<object, FilterNode>()
  const decide = (request: PolicyRequest, grants: GrantSource | undefined, policy: { id: string; version: string }): Decision => {
    const principal = request?.principal
    const action = request?.action
    const slot = ACTION_INDEX.get(action)
    if (
      typeof principal !== 'object' ||
      principal === null ||
      typeof principal.id !== 'string' ||
      !Array.isArray(principal.roles) ||
      slot === undefined
    ) {
      return deny('invalid_request', ['the request has no valid principal or action'], [], policy)
    }
    const now = request.now
    if (typeof now !== 'number' || !Number.isFinite(now)) return deny('invalid_request', ['the request has no valid time'], [], policy)
    const context = request.context ?? EMPTY_CONTEXT
    const collection = request.resource?.collection
    const namespace = request.resource?.namespace ?? ''
    const recordAction = action.startsWith('record.')

    // under tenancy a record operation needs a tenant (never "no filter"); collection management does not, but a
    // principal that has a tenant stays confined to it (e.g. describe does not reveal other tenants' counts)
    let tenantNode: FilterNode | undefined
    const underTenancy = tenancyField !== undefined && (collection === undefined || tenancyCollections(collection))
    if (underTenancy) {
      const tenant = principal.tenant
      if (typeof tenant === 'string' && tenant !== '') {
        // principals are immutable for a session: one frozen node each, so the pipeline's per-filter caches hit
        tenantNode = tenantNodes.get(principal)
        if (tenantNode === undefined || (tenantNode as { value?: unknown }).value !== tenant) {
          tenantNode = Object.freeze({ kind: 'cmp', field: tenancyField as string, op: '$eq', value: tenant })
          tenantNodes.set(principal, tenantNode)
        }
      } else if (recordAction) {
        return deny('tenant_required', ['the collection is under tenancy and the principal has no tenant'], [], policy)
      }
    }

    const active = grants?.active(principal.id, now)
    const gathered = gather(slot, principal, context, now, collection, namespace, true, active)
    if (gathered.deniedBy !== undefined) {
      return deny('denied_by_rule', [`rule '${gathered.deniedBy}' denies ${action}`], [gathered.deniedBy], policy)
    }
    const allowing = gathered.allowing
    if (allowing.length === 0) {
      const target = collection === undefined ? '' : ` on collection '${collection}'`
      switch (gathered.worst) {
        case NEEDS_STEP_UP:
          return deny('step_up_required', [`${action}${target} needs a fresh multi-factor authentication`], [], policy)
        case ATTRIBUTE_MISSING:
          return deny('attribute_missing', [`a rule for ${action}${target} needs a principal attribute that is missing`], [], policy)
        case LABEL_NOT_CLEARED:
          return deny('label_not_cleared', [`no rule clears the sensitivity labels of${target || ' the collection'}`], [], policy)
        case CONDITION_FAILED:
          return deny('condition_failed', [`the conditions of every rule for ${action}${target} failed`], [], policy)
        default:
          return deny('no_matching_rule', [`no rule allows ${action}${target}`], [], policy)
      }
    }

    // rows: OR of the allowing rules' filters only when every one has a filter; a rule without one grants all
    // rows of the collection (still within the tenant, which is ANDed outside, so it can never widen past it)
    let rowFilter: FilterNode | null = null
    {
      let unrestricted = false
      const branches: FilterNode[] = []
      for (const rule of allowing) {
        const bound = rule.boundFilter
        if (bound === undefined) {
          unrestricted = true
          break
        }
        if (!branches.includes(bound)) branches.push(bound)
      }
      let granted: FilterNode | null = null
      if (!unrestricted) {
        const live = branches.filter((branch) => !matchesNothing(branch))
        granted = live.length === 0 ? NONE : live.length === 1 ? (live[0] as FilterNode) : { kind: 'or', children: live }
      }
      if (granted !== null && granted.kind === 'none') rowFilter = NONE
      else if (tenantNode !== undefined) rowFilter = granted === null ? tenantNode : { kind: 'and', children: [tenantNode, granted] }
      else rowFilter = granted
    }

    let stamp = EMPTY_STAMP
    if (RECORD_WRITE.has(action) && (tenantNode !== undefined || stamps.length > 0)) {
      const out: Record<string, MetadataValue> = {}
      if (tenantNode !== undefined && tenancyField !== undefined) out[tenancyField] = principal.tenant as string
      for (const { field, value } of stamps) {
        if (typeof value === 'object' && !Array.isArray(value)) {
          const bound = (value as Placeholder).resolve(principal, context)
          if (bound === undefined || (Array.isArray(bound) && bound.some((element) => typeof element !== 'string'))) {
            return deny('attribute_missing', [`the stamp of field '${field}' needs a principal attribute that is missing`], [], policy)
          }
          out[field] = bound as MetadataValue
        } else out[field] = value as MetadataValue
      }
      stamp = out
    }

    let read: FieldSet = []
    let write: FieldSet = []
    let decrypt: FieldSet = []
    const matchedRules: string[] = []
    for (const rule of allowing) {
      matchedRules.push(rule.id)
      const fields = rule.grantedFields ?? rule.fields
      read = unionFields(read, fields.read)
      write = unionFields(write, fields.write)
      decrypt = unionFields(decrypt, fields.decrypt)
    }

    let readVectors = false
    if (request.includeVectors === true && (action === 'record.query' || action === 'record.fetch' || action === 'record.scroll')) {
      // the record pass (true): a rule whose row filter cannot be bound for this principal takes no part, here too
      const vectors = gather(VECTORS_READ, principal, context, now, collection, namespace, true, active)
      readVectors = vectors.deniedBy === undefined && vectors.allowing.length > 0
      if (readVectors) {
        for (const rule of vectors.allowing) if (!matchedRules.includes(rule.id)) matchedRules.push(rule.id)
        if (vectors.usedGrants !== undefined) (gathered.usedGrants ??= []).push(...vectors.usedGrants)
      }
    }

    if (gathered.usedGrants !== undefined && grants !== undefined) grants.used(gathered.usedGrants, principal.id, now)

    const obligations: Obligations = {
      rowFilter,
      stamp,
      readableFields: read,
      writableFields: write,
      decryptableFields: decrypt,
      readVectors,
      ...(underTenancy ? { tenantField: tenancyField } : {}),
      maxTopK: gathered.limitTopK > 0 ? gathered.limitTopK : undefined,
      maxIds: gathered.limitIds > 0 ? gathered.limitIds : undefined,
      maxDelete: gathered.limitDelete > 0 ? gathered.limitDelete : undefined,
    }
    return { effect: 'allow', obligations, matchedRules, policy }
  }

  return { roles, ruleCount, defaultLimits, decide }
}

const EMPTY_LABELS: readonly string[] = Object.freeze([])

// limits across roles: the most generous allowing role wins; a role without a limit lifts it (-1 = unlimited)
function addLimits(
  out: { limitTopK: number; limitIds: number; limitDelete: number },
  limits: EffectiveLimits,
): void {
  out.limitTopK = combineLimit(out.limitTopK, limits.maxTopK)
  out.limitIds = combineLimit(out.limitIds, limits.maxIds)
  out.limitDelete = combineLimit(out.limitDelete, limits.maxDelete)
}

function combineLimit(current: number, next: number | undefined): number {
  if (current === -1 || next === undefined) return -1
  return Math.max(current, next)
}

function unionFields(a: FieldSet, b: FieldSet): FieldSet {
  if (a === '*' || b === '*') return '*'
  if (a.length === 0) return b
  if (b.length === 0) return a
  const out = a.slice()
  for (const field of b) if (!out.includes(field)) out.push(field)
  return out
}

function deny(
  code: string,
  reasons: readonly string[],
  matchedRules: readonly string[],
  policy: { id: string; version: string },
): Decision {
  return { effect: 'deny', code, reasons, matchedRules, policy }
}
