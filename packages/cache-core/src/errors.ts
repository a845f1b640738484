/** Stable error codes. Match on `error.code`, never on the message. */
export const ErrorCodes = {
  /** A cache or registry option is missing, of the wrong type or out of range. */
  INVALID_CONFIG: 'E_INVALID_CONFIG',
  /** A duration is neither a non-negative number of milliseconds nor a string like "5m". */
  INVALID_DURATION: 'E_INVALID_DURATION',
  /** A key is empty, not a string, or otherwise unusable. */
  INVALID_KEY: 'E_INVALID_KEY',
  /** A glob pattern is empty or malformed. */
  INVALID_PATTERN: 'E_INVALID_PATTERN',
  /** A value cannot be encoded (functions, symbols, ...). Nothing was stored. */
  UNSERIALIZABLE: 'E_UNSERIALIZABLE',
  /** A call argument has no stable key (a class instance without toJSON, a function, a cycle). */
  UNKEYABLE: 'E_UNKEYABLE',
  /** A registry was asked for an adapter or cache it does not know. */
  UNKNOWN_ADAPTER: 'E_UNKNOWN_ADAPTER',
  /** A registry was asked for a cache name it does not have. */
  UNKNOWN_CACHE: 'E_UNKNOWN_CACHE',
  /** The store failed. Surfaced only by operations that must report it (deletes, clear, close). */
  ADAPTER: 'E_ADAPTER',
  /** A store operation did not answer within its deadline. */
  TIMEOUT: 'E_TIMEOUT',
  /** A batch loader returned something other than one value per key (or a Map). */
  BATCH_RESULT: 'E_BATCH_RESULT',
  /** The cache was used after close(). */
  CLOSED: 'E_CLOSED',
} as const

/** One of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Context an error carries besides its message. */
export interface CacheErrorDetails {
  /** The cache the error concerns, when known. */
  cache?: string
  /** The key (without prefix) the error concerns, when known. */
  key?: string
  /** The option or field that was wrong, for configuration errors. */
  field?: string
  /** The underlying error. */
  cause?: unknown
}

// Marks Cacheport errors across copies of this package: an app that both imports (ESM build) and
// requires (CJS build) the core has two CacheError classes, and `instanceof` alone would tell one
// copy's errors apart from the other's. `Symbol.for` gives both copies the same key.
const BRAND = Symbol.for('@cacheport/cache-core.CacheError')

/**
 * The one error class Cacheport throws; `code` is stable across releases. `instanceof CacheError`
 * and {@link isCacheError} also recognise errors thrown by another copy of this package (its ESM and
 * CJS builds loaded side by side).
 */
export class CacheError extends Error {
  /** Recognises CacheErrors of every copy of this package by their brand rather than their class. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true
  }

  override readonly name = 'CacheError'
  /** Stable machine-readable code, see {@link ErrorCodes}. */
  readonly code: ErrorCode
  /** The cache the error concerns, when known. */
  readonly cache: string | undefined
  /** The key the error concerns, when known. */
  readonly key: string | undefined
  /** The option or field that was wrong, for configuration errors. */
  readonly field: string | undefined

  constructor(code: ErrorCode, message: string, details: CacheErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.cache = details.cache
    this.key = details.key
    this.field = details.field
    Object.defineProperty(this, BRAND, { value: true })
  }
}

/** True when `error` is a {@link CacheError}, optionally with the given code. */
export function isCacheError(error: unknown, code?: ErrorCode): error is CacheError {
  return CacheError[Symbol.hasInstance](error) && (code === undefined || (error as CacheError).code === code)
}

/** Removes the password (and user) of every URL in `text`, so it can be logged. */
export function redact(text: string): string {
  // user:password@ and :password@ forms, in any scheme (redis, rediss, postgres, ...).
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/gi, (_m, scheme: string, auth: string) =>
    auth.includes(':') ? `${scheme}${auth.slice(0, auth.indexOf(':'))}:***@` : `${scheme}***@`,
  )
}
