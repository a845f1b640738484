import { CircuitBreaker } from './breaker.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { CacheLogger } from './types.js'

/** What a guarded store operation gives back when it was skipped, failed or timed out. */
export const MISS: unique symbol = Symbol('miss')
/** The type of {@link MISS}. */
export type Miss = typeof MISS

/** Receives every store failure after the guard has counted it in its breaker. */
export type FailureSink = (operation: string, key: string | undefined, error: Error) => void

/**
 * Fail-open for one store: every operation runs under the circuit breaker and a deadline, and a
 * failure, rejection or timeout turns into {@link MISS} after being reported. Synchronous stores
 * get synchronous answers, so in-process hits never wait for a microtask or arm a timer.
 */
export class Guard {
  /** The breaker of this store. */
  readonly breaker: CircuitBreaker

  constructor(
    private readonly cache: string,
    private readonly timeoutMs: number,
    threshold: number,
    cooldownMs: number,
    logger: CacheLogger | undefined,
    private readonly report: FailureSink,
    // The store rejects any single or batch operation after this long by itself (its own command
    // timeout); when that is within our deadline, a timer of ours per call would be pure cost.
    readonly selfBounded = false,
  ) {
    this.breaker = new CircuitBreaker(cache, threshold, cooldownMs, logger)
  }

  /**
   * Runs one operation; its result, or MISS when it was skipped, failed or timed out. `deadlineMs`
   * replaces the usual deadline for bulk operations (pattern deletes, clear), which legitimately take
   * many round trips.
   */
  call<R>(
    operation: string,
    key: string | undefined,
    run: () => R | Promise<R>,
    onError?: (error: Error) => void,
    deadlineMs?: number,
  ): R | Miss | Promise<R | Miss> {
    if (!this.breaker.allow()) return MISS
    let result: R | Promise<R>
    try {
      result = run()
    } catch (error) {
      this.fail(operation, key, error, onError)
      return MISS
    }
    if (!(result instanceof Promise)) {
      this.breaker.success()
      return result
    }
    return this.settle(result, operation, key, onError, deadlineMs)
  }

  /** Waits for a store promise up to the deadline; failures and timeouts become MISS. */
  settle<R>(
    pending: Promise<R>,
    operation: string,
    key: string | undefined,
    onError?: (error: Error) => void,
    deadlineMs?: number,
  ): Promise<R | Miss> {
    if (this.selfBounded && deadlineMs === undefined) {
      return pending.then(
        (value) => {
          this.breaker.success()
          return value
        },
        (error) => {
          this.fail(operation, key, error, onError)
          return MISS
        },
      )
    }
    const limit = deadlineMs ?? this.timeoutMs
    return new Promise<R | Miss>((resolve) => {
      const timer = setTimeout(() => {
        const error = new CacheError(
          ErrorCodes.TIMEOUT,
          `cache "${this.cache}": store ${operation} took longer than ${limit}ms`,
          { cache: this.cache, key },
        )
        this.fail(operation, key, error, onError)
        resolve(MISS)
      }, limit)
      pending.then(
        (value) => {
          clearTimeout(timer)
          this.breaker.success()
          resolve(value)
        },
        (error) => {
          clearTimeout(timer)
          this.fail(operation, key, error, onError)
          resolve(MISS)
        },
      )
    })
  }

  /** Records a failure: breaker, the cache's counters and events, and the caller's own handler. */
  fail(operation: string, key: string | undefined, error: unknown, onError?: (error: Error) => void): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.breaker.failure(operation, err)
    this.report(operation, key, err)
    onError?.(err)
  }
}
