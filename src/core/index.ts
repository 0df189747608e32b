// the pipeline's public pieces

export type { AuditOption, WardenOptions } from './config.js'
export { normalizeCredential } from './credential.js'
export { RESERVED_PREFIX } from './enforce.js'
export type { CallOptions, FetchOptions, QueryOptions, ScrollOptions, WardenMatch, WardenReadRecord, WardenRecord } from './session.js'
export { Session } from './session.js'
export { createWarden, Warden } from './warden.js'
