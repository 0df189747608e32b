// the node entry (`vectorwarden/node`): the file sink, checkpoint signers, the verifier and the CLI runner

export { fileAuditSink } from './file-sink.js'
export type { FileAuditSink, FileAuditSinkOptions, FileSinkRecovery } from './file-sink.js'
export { verifyAuditLog } from './verify.js'
export type { AuditProblem, AuditProblemKind, AuditVerifyReport, VerifyAuditLogOptions } from './verify.js'
export { ed25519CheckpointSigner, ed25519CheckpointVerifier, hmacCheckpointSigner } from './signer.js'
export type { CheckpointVerifier, PrivateKeyInput, PublicKeyInput } from './signer.js'
export { runCli } from './cli.js'
export type { CliCommand, CliIo } from './cli-types.js'
