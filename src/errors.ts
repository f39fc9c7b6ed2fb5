/**
 * Typed failures. Every error ferry raises carries a stable `code` and a `retryable` flag; the
 * retry policy reads the flag, never the message. Low-level errors (axios, sockets) are kept as a
 * non-enumerable `cause` because their request config holds the Authorization header, and
 * anything enumerable can end up printed by a logger or oclif's JSON error output.
 */

/** ferry's own failure codes; registry error codes (MANIFEST_UNKNOWN, DENIED, …) pass through as-is. */
export type FerryCode =
  | 'INVALID_CONFIG'
  | 'INVALID_RULE'
  | 'INVALID_REFERENCE'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'ABORTED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'UNSAFE_REDIRECT'
  | 'AUTH_FAILED'
  | 'BODY_TOO_LARGE'
  | 'PAGINATION_LOOP'
  | 'INVALID_NAME'
  | 'INVALID_DIGEST'
  | 'UNSUPPORTED_DIGEST'
  | 'DESTINATION_CLASH'
  /** A registry's pull limit reached the reserve: its manifest pulls stop for the run. */
  | 'PULL_LIMIT'
  | 'RANGE_UNSUPPORTED'
  /** --frozen: the lock file names no digest for the job's source reference. */
  | 'NOT_LOCKED'
  /** --frozen: the source no longer has the digest the lock names. */
  | 'LOCKED_DIGEST_GONE'
  /** A registry reached over TLS answered plain HTTP (it wants `insecure: true`). */
  | 'PLAIN_HTTP'
  /** Nothing listens on the registry's port. */
  | 'CONNECTION_REFUSED'
  /** The registry's host name does not resolve. */
  | 'UNKNOWN_HOST'
  /** The registry's certificate is not trusted or not for its name. */
  | 'TLS'
  /** A source listed more referrers for one image than any real one has. */
  | 'TOO_MANY_REFERRERS'
  /** Another writer kept replacing a destination's fallback referrers index while ferry merged into it. */
  | 'REFERRERS_INDEX_LOST'

const brand = Symbol.for('ferry.error')

export class FerryError extends Error {
  readonly code: string
  readonly retryable: boolean

  constructor(code: string, message: string, options: {retryable?: boolean; cause?: unknown} = {}) {
    super(message)
    this.name = 'FerryError'
    this.code = code
    this.retryable = options.retryable ?? false
    Object.defineProperty(this, brand, {value: true})
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', {value: options.cause, enumerable: false, writable: true, configurable: true})
    }
  }

  /** Holds across two loaded copies of ferry (plugins), where instanceof would not. */
  static is(value: unknown): value is FerryError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
  }
}

/** A file the user wrote is wrong: names the file (and line when known) and what to do. */
export class ConfigError extends FerryError {
  readonly file?: string
  readonly line?: number

  constructor(message: string, where: {file?: string; line?: number; code?: FerryCode} = {}) {
    const at = where.file ? `${where.file}${where.line ? `:${where.line}` : ''}: ` : ''
    super(where.code ?? 'INVALID_CONFIG', `${at}${message}`)
    this.name = 'ConfigError'
    this.file = where.file
    this.line = where.line
  }
}

/** A registry answered with an error status; `code` is the registry's own error code when it sent one. */
export class RegistryError extends FerryError {
  readonly status?: number
  /** Milliseconds the registry asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number

  constructor(code: string, message: string, options: {status?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown} = {}) {
    super(code, message, {retryable: options.retryable, cause: options.cause})
    this.name = 'RegistryError'
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }
}

export function abortError(): FerryError {
  return new FerryError('ABORTED', 'aborted')
}

/** One line for a person: the message of a FerryError, or a generic one for anything else. */
export function describeError(error: unknown): string {
  if (FerryError.is(error)) return error.message
  if (error instanceof Error) return error.message
  return String(error)
}

export function errorCode(error: unknown): string {
  return FerryError.is(error) ? error.code : 'INTERNAL'
}
