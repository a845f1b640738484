/** Stable codes of the application's own errors (cache errors keep the core's codes). */
export const AppErrorCodes = {
  /** Request data is missing or of the wrong shape; `field` names it. */
  VALIDATION: 'E_VALIDATION',
  /** The thing asked for does not exist. */
  NOT_FOUND: 'E_NOT_FOUND',
  /** An upstream service (Osiris, people pages, Canvas) failed, timed out or answered garbage. */
  UPSTREAM: 'E_UPSTREAM',
  /** An uploaded file could not be read as a Qlik export; nothing was written. */
  MALFORMED_FILE: 'E_MALFORMED_FILE',
  /** An app instance started by the CLI (`demo --instances`) did not come up; the message has its output. */
  STARTUP: 'E_STARTUP',
  /** The request needs a signed-in user (no session, or a wrong user name or password). */
  UNAUTHENTICATED: 'E_UNAUTHENTICATED',
  /** The signed-in user's role may not do this. */
  FORBIDDEN: 'E_FORBIDDEN',
  /** A state-changing request came from another site, or without the session's CSRF token. */
  CROSS_SITE: 'E_CROSS_SITE',
  /** An upload exceeds a limit (size, rows, unzipped size); the message names the limit. */
  TOO_LARGE: 'E_TOO_LARGE',
  /** The request conflicts with the current state (a user that already exists). */
  CONFLICT: 'E_CONFLICT',
} as const

/** One of {@link AppErrorCodes}. */
export type AppErrorCode = (typeof AppErrorCodes)[keyof typeof AppErrorCodes]

const STATUS: Record<AppErrorCode, number> = {
  E_VALIDATION: 400,
  E_NOT_FOUND: 404,
  E_UPSTREAM: 502,
  E_MALFORMED_FILE: 400,
  E_STARTUP: 500,
  E_UNAUTHENTICATED: 401,
  E_FORBIDDEN: 403,
  E_CROSS_SITE: 403,
  E_TOO_LARGE: 413,
  E_CONFLICT: 409,
}

/** An error the HTTP layer turns into a JSON answer with a fitting status. */
export class AppError extends Error {
  override readonly name = 'AppError'
  /** Stable machine-readable code. */
  readonly code: AppErrorCode
  /** The request field or upstream service the error concerns. */
  readonly field: string | undefined
  /** HTTP status to answer with. */
  readonly statusCode: number

  constructor(code: AppErrorCode, message: string, details: { field?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.field = details.field
    this.statusCode = STATUS[code]
  }
}

/** A validation error naming `field`. */
export function badInput(field: string, message: string): AppError {
  return new AppError(AppErrorCodes.VALIDATION, message, { field })
}
