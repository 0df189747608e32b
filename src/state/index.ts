// the state-store module's public surface (the Redis store is a separate entry: vectorwarden/redis)

export { memoryStateStore } from './memory.js'
export type { MemoryStateDirect, MemoryStateKey, MemoryStateStore, MemoryStateStoreOptions } from './memory.js'
export { stateRevocationList } from './revocation.js'
export type { StateRevocationListOptions } from './revocation.js'
export { TALLY_TOTAL } from './types.js'
export type {
  BaselineParameters,
  BaselineState,
  BucketParameters,
  ResultOf,
  StateOperation,
  StateResult,
  StateStore,
  TakeResult,
  TallyResult,
} from './types.js'
