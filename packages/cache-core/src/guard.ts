import type { CacheAdapter } from './adapter.js'
import { CircuitBreaker, type CircuitState } from './breaker.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { CacheLogger } from './types.js'

/** What a guarded store operation gives back when it was skipped, failed or timed out. */
export const MISS: unique symbol = Symbol('miss')
/** The type of {@link MISS}. */
export type Miss = typeof MISS

// Breakers of nodes gone from the store's topology are dropped past this many, closed ones first.
const MAX_NODE_BREAKERS = 256

/** Receives every store failure after the guard has counted it in its breaker. */
export type FailureSink = (operation: string, key: string | undefined, error: Error) => void

/**
 * Fail-open for one store: every operation runs under the circuit breaker and a deadline, and a
 * failure, rejection or timeout turns into {@link MISS} after being reported. Synchronous stores
 * get synchronous answers, so in-process hits never wait for a microtask or arm a timer.
 *
 * On a sharded store (a Redis Cluster), each node has a breaker of its own: operations on one key
 * run under its node's breaker and batches are split by node, so one dead node fails open for its
 * own keys only. Operations over the whole store (pattern deletes, clear) use the store's breaker.
 */
export class Guard {
  /** The breaker of the whole store: every operation of an unsharded store, whole-store ones of a sharded one. */
  readonly breaker: CircuitBreaker
  /** The node holding a full key, when the store is sharded. */
  nodeOf: ((full: string) => string | undefined) | undefined
  readonly #nodes = new Map<string, CircuitBreaker>()

  constructor(
    private readonly cache: string,
    private readonly timeoutMs: number,
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly logger: CacheLogger | undefined,
    private readonly report: FailureSink,
    // The store rejects any single or batch operation after this long by itself (its own command
    // timeout); when that is within our deadline, a timer of ours per call would be pure cost.
    readonly selfBounded = false,
  ) {
    this.breaker = new CircuitBreaker(cache, threshold, cooldownMs, logger)
  }

  /** Keeps health per node of `store` when it declares itself sharded. */
  useNodes(store: CacheAdapter<any>): void {
    if (store.capabilities.sharded === true && typeof store.nodeOf === 'function') {
      this.nodeOf = (full) => store.nodeOf!(full)
    }
  }

  /** The breaker of `node`, or of the whole store when `node` is undefined. */
  breakerOf(node: string | undefined): CircuitBreaker {
    if (node === undefined) return this.breaker
    let breaker = this.#nodes.get(node)
    if (breaker === undefined) {
      if (this.#nodes.size >= MAX_NODE_BREAKERS) {
        for (const [name, old] of this.#nodes) if (old.idle) this.#nodes.delete(name)
        if (this.#nodes.size >= MAX_NODE_BREAKERS) this.#nodes.delete(this.#nodes.keys().next().value!)
      }
      breaker = new CircuitBreaker(this.cache, this.threshold, this.cooldownMs, this.logger, node)
      this.#nodes.set(node, breaker)
    }
    return breaker
  }

  /** The nodes whose breaker is not closed, with its state. */
  nodeCircuits(): Record<string, Exclude<CircuitState, 'closed'>> {
    const out: Record<string, Exclude<CircuitState, 'closed'>> = {}
    for (const [node, breaker] of this.#nodes) {
      const state = breaker.state
      if (state !== 'closed') out[node] = state
    }
    return out
  }

  /**
   * `getMany` of `keys`, one call per node they live on, each under its node's breaker: what a failed
   * node held comes back as MISS, the rest as read. MISS alone when the one call made failed.
   */
  readMany<S>(
    operation: string,
    keys: readonly string[],
    read: (keys: readonly string[]) => S[] | Promise<S[]>,
  ): S[] | Miss | Promise<Array<S | Miss> | Miss> {
    const nodeOf = this.nodeOf
    if (nodeOf === undefined) return this.call(operation, undefined, () => read(keys))
    const groups = new Map<string | undefined, number[]>()
    for (let i = 0; i < keys.length; i++) {
      const node = nodeOf(keys[i]!)
      const group = groups.get(node)
      if (group === undefined) groups.set(node, [i])
      else group.push(i)
    }
    if (groups.size <= 1) {
      const node = groups.keys().next().value
      return this.call(operation, undefined, () => read(keys), undefined, undefined, node)
    }
    const out = new Array<S | Miss>(keys.length)
    return Promise.all(
      [...groups].map(async ([node, positions]) => {
        const part = positions.map((i) => keys[i]!)
        const got = await this.call(operation, undefined, () => read(part), undefined, undefined, node)
        for (let j = 0; j < positions.length; j++) out[positions[j]!] = got === MISS ? MISS : got[j]!
      }),
    ).then(() => out)
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
    node?: string,
  ): R | Miss | Promise<R | Miss> {
    const breaker = this.breakerOf(node)
    if (!breaker.allow()) return MISS
    let result: R | Promise<R>
    try {
      result = run()
    } catch (error) {
      this.fail(operation, key, error, onError, node)
      return MISS
    }
    if (!(result instanceof Promise)) {
      breaker.success()
      return result
    }
    return this.settle(result, operation, key, onError, deadlineMs, node)
  }

  /** Waits for a store promise up to the deadline; failures and timeouts become MISS. */
  settle<R>(
    pending: Promise<R>,
    operation: string,
    key: string | undefined,
    onError?: (error: Error) => void,
    deadlineMs?: number,
    node?: string,
  ): Promise<R | Miss> {
    const breaker = this.breakerOf(node)
    if (this.selfBounded && deadlineMs === undefined) {
      return pending.then(
        (value) => {
          breaker.success()
          return value
        },
        (error) => {
          this.fail(operation, key, error, onError, node)
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
        this.fail(operation, key, error, onError, node)
        resolve(MISS)
      }, limit)
      pending.then(
        (value) => {
          clearTimeout(timer)
          breaker.success()
          resolve(value)
        },
        (error) => {
          clearTimeout(timer)
          this.fail(operation, key, error, onError, node)
          resolve(MISS)
        },
      )
    })
  }

  /** Records a failure: breaker, the cache's counters and events, and the caller's own handler. */
  fail(
    operation: string,
    key: string | undefined,
    error: unknown,
    onError?: (error: Error) => void,
    node?: string,
  ): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.breakerOf(node).failure(operation, err)
    this.report(operation, key, err)
    onError?.(err)
  }
}
