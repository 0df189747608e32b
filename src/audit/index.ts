// the audit module's public surface: emitter, sinks, security events, canonical JSON, hash chain and Merkle tree

export { createAuditEmitter } from './emitter.js'
export type { AuditAlarm, AuditEmitter, AuditEmitterOptions, AuditMode } from './emitter.js'
export { memoryAuditSink } from './memory-sink.js'
export type { MemoryAuditSink } from './memory-sink.js'
export { consoleAuditSink } from './console-sink.js'
export { fanOutAuditSink } from './fan-out.js'
export { DECISION_EVENT_TYPE, SECURITY_EVENT_TYPE_PREFIX, securityEvent } from './security-event.js'
export type { SecurityEventInput, SecurityEventKind, SecurityEventOptions, SecuritySeverity } from './security-event.js'
export { canonicalize } from './canonical-json.js'
export type { FanOutOptions } from './fan-out.js'
export { MerkleFrontier, merkleLeafHash, merkleNodeHash, merkleRoot } from './merkle.js'
export {
  AuditChain,
  checkpointBody,
  checkpointLine,
  checkpointNote,
  GENESIS_HASH,
  parseLogLine,
} from './log-format.js'
export type { Checkpoint, CheckpointReason, CheckpointSigner, ChainState, LogEntry, ParsedLine } from './log-format.js'
