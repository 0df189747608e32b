// interfaces only: the contracts between the pipeline and its stages

export type * from './adapter.js'
export type * from './audit.js'
export type * from './auth.js'
export type * from './filter.js'
export type * from './policy.js'
export type * from './protection.js'
export type * from './records.js'
export { ACTIONS } from './policy.js'
