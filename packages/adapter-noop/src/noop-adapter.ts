import type {
  AdapterCapabilities,
  AdapterEntry,
  AdapterFactory,
  AdapterStatus,
  CacheAdapter,
} from '@cacheport/cache-core'

/**
 * A store that keeps nothing, like Django's DummyCache: reads miss, writes succeed and vanish,
 * deletes remove nothing. Swap it in to switch caching off without touching the code that caches;
 * every `getOrSet` then runs its loader. Answers synchronously, so it adds no latency.
 */
export class NoopAdapter implements CacheAdapter<Uint8Array> {
  /** Always `noop`. */
  readonly name = 'noop'
  /**
   * Nothing is shared and there are no round trips, so batches cost nothing. It offers no
   * set-if-absent: a lease that always succeeds would let every process in, and one that never
   * succeeds would stall them, so the core must not take leases here at all.
   */
  readonly capabilities: AdapterCapabilities = Object.freeze({
    shared: false,
    ttlPrecisionMs: 1,
    nativeBatch: true,
    atomicSetIfAbsent: false,
    pubsub: false,
    byReference: false,
  })
  #closed = false

  /** Always a miss. */
  get(_key: string): undefined {
    return undefined
  }

  /** A miss for every key. */
  getMany(keys: readonly string[]): undefined[] {
    return new Array<undefined>(keys.length).fill(undefined)
  }

  /** Accepts the entry and keeps nothing. */
  set(_key: string, _value: Uint8Array, _ttlMs: number | undefined): void {}

  /** Accepts the entries and keeps nothing. */
  setMany(_entries: ReadonlyArray<AdapterEntry<Uint8Array>>): void {}

  /** Nothing to remove: always `false`. */
  delete(_key: string): boolean {
    return false
  }

  /** Nothing to remove: always 0. */
  deleteMany(_keys: readonly string[]): number {
    return 0
  }

  /** Nothing to remove: always 0. */
  deleteByPattern(_pattern: string): number {
    return 0
  }

  /** Nothing stored, so no key matches. */
  keysByPattern(_pattern: string): string[] {
    return []
  }

  /** Nothing to remove. */
  clear(_prefix: string): void {}

  /** `ready` until closed. */
  status(): AdapterStatus {
    return this.#closed ? 'closed' : 'ready'
  }

  /** Marks the adapter closed; there is nothing to release. Safe to call twice. */
  close(): void {
    this.#closed = true
  }
}

/** Builds a {@link NoopAdapter}. It takes no options. */
export function noopAdapter(): NoopAdapter {
  return new NoopAdapter()
}

/**
 * Builds a no-op adapter for a registry entry. It ignores `location` and `options` on purpose: the
 * `USE_CACHE=false` switch swaps it in for whatever adapter a cache was configured with, and that
 * must never fail because of options meant for the other adapter.
 */
export const noopAdapterFactory: AdapterFactory = () => new NoopAdapter()
