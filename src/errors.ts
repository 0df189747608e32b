// the error family: one base with a stable code, one subclass per kind, recognisable across duplicate installs

const marker = Symbol.for('vectorwarden.error')

/** Stable codes of the error kinds; a code never changes once released. */
export type WardenErrorCode =
  | 'ERR_AUTHENTICATION'
  | 'ERR_AUTHORIZATION'
  | 'ERR_INPUT'
  | 'ERR_CONFIG'
  | 'ERR_INTEGRITY'
  | 'ERR_ADAPTER'
  | 'ERR_AUDIT'

/** Options shared by every warden error. */
export interface WardenErrorOptions {
  /** A machine-readable reason within the kind, e.g. `token_expired`, `step_up_required`. */
  reason?: string
  /** The underlying error. Never a secret: callers must not attach errors that carry credentials. */
  cause?: unknown
}

/**
 * Base of every error the warden throws on bad data, failed checks or backend faults.
 * Misuse of the API (wrong argument types) throws a plain `TypeError` instead.
 *
 * Messages never contain tokens, keys, vectors or plaintext of protected fields.
 *
 * @example
 * ```ts
 * try { await session.query('docs', { vector, topK: 5 }) }
 * catch (error) {
 *   if (AuthorizationError.isInstance(error) && error.reason === 'step_up_required') promptForMfa()
 * }
 * ```
 */
export class WardenError extends Error {
  /** The kind's stable code. */
  readonly code: WardenErrorCode
  /** A finer machine-readable reason (`token_expired`, `row_filter_violation`, ...). */
  readonly reason: string
  readonly [marker] = true

  constructor(code: WardenErrorCode, message: string, options: WardenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.reason = options.reason ?? 'unspecified'
  }

  /** True for any warden error, even one thrown by another installed copy of the library. */
  static isInstance(error: unknown): error is WardenError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true
  }
}

function isKind(error: unknown, code: WardenErrorCode): boolean {
  return WardenError.isInstance(error) && error.code === code
}

/**
 * The credential is missing, malformed, invalid, expired or revoked.
 *
 * @example
 * ```ts
 * if (AuthenticationError.isInstance(error)) response.status(401)
 * ```
 */
export class AuthenticationError extends WardenError {
  constructor(message: string, options?: WardenErrorOptions) {
    super('ERR_AUTHENTICATION', message, options)
  }
  static override isInstance(error: unknown): error is AuthenticationError {
    return isKind(error, 'ERR_AUTHENTICATION')
  }
}

/**
 * The policy denied the operation. `reason` is `step_up_required` when a fresh strong
 * authentication would allow it.
 *
 * @example
 * ```ts
 * if (AuthorizationError.isInstance(error)) response.status(403)
 * ```
 */
export class AuthorizationError extends WardenError {
  /** The reasons the decision gave, safe to log. */
  readonly reasons: readonly string[]
  constructor(message: string, options?: WardenErrorOptions & { reasons?: readonly string[] }) {
    super('ERR_AUTHORIZATION', message, options)
    this.reasons = options?.reasons ?? []
  }
  static override isInstance(error: unknown): error is AuthorizationError {
    return isKind(error, 'ERR_AUTHORIZATION')
  }
}

/**
 * Bad data: a malformed filter, a record of the wrong dimension, a reserved field set by a caller.
 * `path` says where, e.g. `filter.$or[1].price.$gt` or `records[3].metadata.tenant`.
 *
 * @example
 * ```ts
 * if (InputError.isInstance(error)) console.log(error.path)
 * ```
 */
export class InputError extends WardenError {
  /** Where in the input the problem is. */
  readonly path: string
  constructor(message: string, options?: WardenErrorOptions & { path?: string }) {
    super('ERR_INPUT', message, options)
    this.path = options?.path ?? ''
  }
  static override isInstance(error: unknown): error is InputError {
    return isKind(error, 'ERR_INPUT')
  }
}

/**
 * The configuration is missing something required or is unsafe (a weak secret, no algorithm allow-list).
 * Thrown at construction, never later.
 *
 * @example
 * ```ts
 * createWarden({ adapter }) // throws ConfigError: policy is required
 * ```
 */
export class ConfigError extends WardenError {
  constructor(message: string, options?: WardenErrorOptions) {
    super('ERR_CONFIG', message, options)
  }
  static override isInstance(error: unknown): error is ConfigError {
    return isKind(error, 'ERR_CONFIG')
  }
}

/**
 * A cryptographic or integrity check failed: a ciphertext that does not decrypt, a record MAC that does not
 * match, a result that the store returned outside the enforced filter.
 *
 * @example
 * ```ts
 * if (IntegrityError.isInstance(error)) alertSecurityTeam(error.reason)
 * ```
 */
export class IntegrityError extends WardenError {
  constructor(message: string, options?: WardenErrorOptions) {
    super('ERR_INTEGRITY', message, options)
  }
  static override isInstance(error: unknown): error is IntegrityError {
    return isKind(error, 'ERR_INTEGRITY')
  }
}

/**
 * The backend failed. `isRetryable` says whether the same call may succeed later.
 *
 * @example
 * ```ts
 * if (AdapterError.isInstance(error) && error.isRetryable) scheduleRetry()
 * ```
 */
export class AdapterError extends WardenError {
  /** Whether retrying the same call may succeed (timeouts, 429, 5xx). */
  readonly isRetryable: boolean
  /** The backend's HTTP status, when there was one. */
  readonly status: number | undefined
  constructor(message: string, options?: WardenErrorOptions & { isRetryable?: boolean; status?: number }) {
    super('ERR_ADAPTER', message, options)
    this.isRetryable = options?.isRetryable ?? false
    this.status = options?.status
  }
  static override isInstance(error: unknown): error is AdapterError {
    return isKind(error, 'ERR_ADAPTER')
  }
}

/**
 * The audit event of an operation could not be recorded; in fail-closed mode the operation is rejected.
 *
 * @example
 * ```ts
 * if (AuditError.isInstance(error)) response.status(503)
 * ```
 */
export class AuditError extends WardenError {
  constructor(message: string, options?: WardenErrorOptions) {
    super('ERR_AUDIT', message, options)
  }
  static override isInstance(error: unknown): error is AuditError {
    return isKind(error, 'ERR_AUDIT')
  }
}
