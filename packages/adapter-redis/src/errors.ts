/**
 * How a failed Redis command is told to the core: a `CacheError` naming the endpoint (redacted), the
 * command and the key, with the cause attached.
 */
import { CacheError, ErrorCodes, redact } from '@cacheport/cache-core'
import { TIMED_OUT } from './reply-watchdog.js'

/** What a failed command was about: a key, a batch of keys, or a described thing (pattern, channel). */
export type Target = string | readonly string[] | { readonly text: string }

function describeTarget(target: Target): string {
  if (typeof target === 'string') return `"${target}"`
  if ('text' in target) return target.text
  return target.length === 1 ? `"${target[0]}"` : `of ${target.length} keys`
}

/** An error reply from the server (ioredis' ReplyError), as opposed to a lost connection or a timeout. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}

/**
 * A reply saying the key holds another kind of value than the command works on, such as `WRONGTYPE`
 * for a `GET` of a list, also when a script's `redis.call` got it. It says something about that one
 * key, written by someone else, and nothing about the health of the server.
 */
export function isForeignType(error: unknown): boolean {
  return isReplyError(error) && /\bWRONGTYPE\b/.test((error as Error).message)
}

/**
 * A CacheError for a failed command: `E_TIMEOUT` when no reply came within `timeoutMs`, otherwise
 * `E_ADAPTER` with the server's or the connection's reason. A CacheError passes through unchanged.
 */
export function commandFailure(
  endpoint: string,
  timeoutMs: number,
  command: string,
  cause: unknown,
  target: Target,
): CacheError {
  if (cause instanceof CacheError) return cause
  const what = describeTarget(target)
  const reason = redact(cause instanceof Error ? cause.message : String(cause))
  if (reason === TIMED_OUT) {
    return new CacheError(
      ErrorCodes.TIMEOUT,
      `redis ${endpoint}: ${command} ${what} got no reply within ${timeoutMs}ms`,
      { cause },
    )
  }
  return new CacheError(ErrorCodes.ADAPTER, `redis ${endpoint}: ${command} ${what} failed: ${reason}`, {
    cause,
  })
}

/** The error of an operation attempted after `close()`. */
export function closedError(endpoint: string, operation = 'operation'): CacheError {
  return new CacheError(ErrorCodes.CLOSED, `redis ${endpoint}: ${operation} after close()`)
}
