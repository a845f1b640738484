import type { CacheLogger } from './types.js'

/** State of a cache's circuit breaker, as `stats().circuit` reports it. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/**
 * Stops a cache from waiting on a store that keeps failing, and keeps its logs readable.
 *
 * After `threshold` consecutive failures the circuit opens: operations skip the store (reads miss,
 * writes are dropped) for `cooldownMs`. Then one probe is let through (half-open); its success closes
 * the circuit, its failure opens it again. A failure is logged once at the start of a burst and the
 * recovery once at its end, however many operations failed in between.
 */
export class CircuitBreaker {
  private consecutive = 0
  private openUntil = 0
  private probing = false
  private burst = 0

  constructor(
    private readonly cache: string,
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly logger: CacheLogger | undefined,
    /** The store node this breaker covers, when the store has several; named in its log lines. */
    private readonly node?: string,
  ) {}

  /** Nothing is failing: no failure since the last success. */
  get idle(): boolean {
    return this.consecutive === 0
  }

  /** Whether an operation may go to the store now. Claims the single probe when half-open. */
  allow(): boolean {
    if (this.consecutive < this.threshold) return true
    if (this.probing || Date.now() < this.openUntil) return false
    this.probing = true
    return true
  }

  /** The current state, for stats and health. */
  get state(): CircuitState {
    if (this.consecutive < this.threshold) return 'closed'
    return this.probing || Date.now() >= this.openUntil ? 'half-open' : 'open'
  }

  /** Records a store operation that succeeded. */
  success(): void {
    if (this.consecutive === 0) return
    if (this.burst > 0) {
      this.logger?.warn?.(
        this.node === undefined
          ? { cache: this.cache, failures: this.burst }
          : { cache: this.cache, failures: this.burst, node: this.node },
        `cache "${this.cache}": store${this.node === undefined ? '' : ` node ${this.node}`} recovered after ${this.burst} failed operation(s)`,
      )
    }
    this.consecutive = 0
    this.burst = 0
    this.probing = false
  }

  /** Records a store operation that failed or timed out. */
  failure(operation: string, error: Error): void {
    this.consecutive++
    this.burst++
    this.probing = false
    if (this.consecutive >= this.threshold) this.openUntil = Date.now() + this.cooldownMs
    if (this.burst === 1) {
      this.logger?.warn?.(
        this.node === undefined
          ? { cache: this.cache, operation, err: error }
          : { cache: this.cache, operation, err: error, node: this.node },
        this.node === undefined
          ? `cache "${this.cache}": store ${operation} failed, serving without cache until it recovers: ${error.message}`
          : `cache "${this.cache}": store ${operation} on node ${this.node} failed, serving its keys without cache until it recovers: ${error.message}`,
      )
    }
  }
}
