// the built-in policy engine and the ways to combine or replace it

export type { DefinePolicyOptions, Policy } from './define.js'
export { definePolicy } from './define.js'
export type {
  Grant,
  GrantApproval,
  GrantApprovalRequest,
  GrantEvent,
  GrantListener,
  GrantRequest,
  GrantStore,
  GrantStoreOptions,
} from './grants.js'
export type {
  ActionPattern,
  AllowRuleDocument,
  AttributeMatcher,
  ConditionDocument,
  DenyRuleDocument,
  LimitsDocument,
  ParsedPolicyDocument,
  PolicyDocument,
} from './schema.js'
export { ACTION_PATTERNS, policyDocumentSchema } from './schema.js'
export { canonicalJson, contentVersion } from './canonical.js'
export type { FunctionPolicyOptions, FunctionPolicyResult } from './combine.js'
export { allOf, firstApplicable, functionPolicy, NOT_APPLICABLE_CODES } from './combine.js'
