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

// Where a URL's userinfo can end: the last '@' followed by a host, within the stretch of text the
// URL may span. Passwords hold '/', '@', ':', '#', '%' and spaces, so neither the first '@' nor the
// first space ends them; a line break, a quote or bracket around the URL, or the next URL does.
const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi
const URL_SPAN_END = /[\r\n"'`<>]|[a-z][a-z0-9+.-]*:\/\//i
const AT_BEFORE_HOST = /@(?=[\w.[-])/g
// A userinfo this function already redacted, so a text redacted twice stays the same.
const REDACTED = /^[^\s@:/]*:?\*\*\*@/

/**
 * Replaces the password of every URL in `text` with `***`, so it can be logged: the whole userinfo
 * up to the last `@` before the host, whatever the password holds (`/`, `@`, `:`, `#`, `%`,
 * spaces). The user name stays (`redis://app:***@host`); a userinfo without `:` becomes `***`.
 * It errs towards hiding: an unquoted `@` later on the same line (`... failed for a@b`) is taken
 * for the end of the userinfo, which then hides the host too.
 */
export function redact(text: string): string {
  let out = ''
  let from = 0
  for (const match of text.matchAll(SCHEME)) {
    const start = match.index + match[0].length
    if (start <= from || REDACTED.test(text.slice(start, start + 256))) continue
    const rest = text.slice(start)
    const stop = URL_SPAN_END.exec(rest)
    const span = stop === null ? rest : rest.slice(0, stop.index)
    let at = -1
    for (const found of span.matchAll(AT_BEFORE_HOST)) at = found.index
    if (at === -1) continue
    const userinfo = span.slice(0, at)
    const colon = userinfo.indexOf(':')
    out += text.slice(from, start) + (colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`)
    from = start + at
  }
  return from === 0 ? text : out + text.slice(from)
}
