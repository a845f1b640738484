/**
 * The adapter contract: the port between the Cacheport core and a store.
 *
 * An adapter moves opaque entries to and from a store under full keys. It never decides TTLs, keys,
 * serialization, stampede handling or error policy: the core owns all of that, which is what keeps
 * adapters interchangeable. `@cacheport/adapter-test-suite` states this contract as tests; an adapter
 * that passes it can replace any other.
 *
 * Rules every adapter follows:
 * - Keys arrive fully qualified (`{keyPrefix}:{version}:{key}`); store them as given.
 * - Values arrive as `Uint8Array` (unless the adapter declares `capabilities.byReference`) and must come
 *   back byte-for-byte equal. Never mutate or keep a reference to a value the caller may reuse
 *   unless you copy it first.
 * - `ttlMs` is a whole number of milliseconds >= 1, or `undefined` for "no expiry". Setting a value with
 *   a TTL must be atomic (no window where the value exists without its expiry). An expired entry must
 *   never be returned, even if the store has not evicted it yet.
 * - Every operation either settles or rejects in bounded time: use the store client's own command
 *   timeout and never queue commands while disconnected. The core also abandons operations that
 *   outlive its deadline, but an adapter that hangs still holds resources.
 * - Failures are reported by rejecting (or throwing). Never swallow them: the core counts them, logs
 *   them once per burst, trips its circuit breaker and fails open on the caller's behalf.
 * - Methods may return a plain value instead of a Promise when the answer is synchronous (an in-process
 *   store); the core then skips a microtask and a timer. Asynchronous answers must be native Promises
 *   (what `async` functions and ioredis return), not other thenables.
 */

/** A value or a promise of it. Synchronous stores return plain values to keep hits cheap. */
export type MaybePromise<T> = T | Promise<T>

/** One entry of a batch write. */
export interface AdapterEntry<Stored = Uint8Array> {
  /** Full key, prefix and version included. */
  readonly key: string
  /** The encoded entry. */
  readonly value: Stored
  /** Milliseconds until the store may drop the entry, or `undefined` for no expiry. */
  readonly ttlMs: number | undefined
}

/** What an adapter can do beyond the required operations; the core picks its strategy from these. */
export interface AdapterCapabilities {
  /**
   * Entries are visible to other processes (Redis) rather than private to this one (memory).
   * The core only takes cross-process leases and publishes invalidations on shared stores.
   */
  readonly shared: boolean
  /** The smallest TTL step the store honours, in milliseconds (1 for Redis `PX`). */
  readonly ttlPrecisionMs: number
  /** `getMany`/`setMany`/`deleteMany` are one round trip (Redis `MGET`, a pipeline), not a loop. */
  readonly nativeBatch: boolean
  /** `setIfAbsent` and `deleteIfEquals` are implemented and atomic (Redis `SET NX PX`, a compare-and-delete script). */
  readonly atomicSetIfAbsent: boolean
  /** `publish` and `subscribe` are implemented (Redis pub/sub); used for invalidation buses. */
  readonly pubsub: boolean
  /**
   * Values are stored as the objects the core hands over, not as bytes: no encoding, no copy.
   * Only an in-process store can do this; see the memory adapter's hazards before enabling it.
   */
  readonly byReference: boolean
  /**
   * When set, the adapter itself rejects every single-key and batch operation that has not settled
   * within this many milliseconds (a client-side command timeout). The core then skips its own timer
   * for operations whose deadline is at least this long, saving a timer per call on the hot path.
   * Bulk operations (`deleteByPattern`, `clear`) are exempt: they may legitimately take longer.
   */
  readonly operationTimeoutMs?: number
  /**
   * Keys live on several nodes (a Redis Cluster) and {@link CacheAdapter.nodeOf} names each key's
   * node: the core then keeps its fail-open decisions (breaker, timeouts) per node, splits batches
   * by node, and one dead node fails open for its own keys only.
   */
  readonly sharded?: boolean
}

/** The memory state of a store server, as {@link CacheAdapter.serverMemory} reports it. */
export interface StoreMemory {
  /** Bytes the server uses for data and overhead (Redis `used_memory`). */
  usedBytes: number
  /** The server's memory limit in bytes; 0 when none is set (Redis `maxmemory`). */
  maxBytes: number
  /** What the server does at the limit (Redis `maxmemory-policy`, e.g. `allkeys-lru`, `noeviction`). */
  policy: string
  /** Keys the server has evicted to stay under its limit since it started (Redis `evicted_keys`). */
  evictedKeys: number
  /** When the sample was taken, epoch milliseconds. */
  sampledAt: number
}

/** Health as the adapter last saw it; reported by `/health` endpoints and `cache.status()`. */
export type AdapterStatus = 'ready' | 'connecting' | 'unavailable' | 'closed'

/** Receives messages published on a channel. */
export type MessageHandler = (message: string) => void

/**
 * The port every store implements. `Stored` is `Uint8Array` for every adapter that encodes; an
 * adapter with `capabilities.byReference` receives the core's entry objects instead.
 */
export interface CacheAdapter<Stored = Uint8Array> {
  /** Short identifier used in stats, logs and health output (`memory`, `redis`, `noop`). */
  readonly name: string
  /** Declared abilities; must not change after construction. */
  readonly capabilities: AdapterCapabilities

  /**
   * The entry under `key`, or `undefined` when absent or expired. A key holding something the store
   * cannot return as an entry (a Redis list) resolves with bytes that are no entry, such as an empty
   * array, rather than rejecting: the core then misses that key and counts it as undecodable, while
   * a rejection counts as a store failure towards opening the breaker.
   */
  get(key: string): MaybePromise<Stored | undefined>
  /** Entries for `keys`, aligned with them (`undefined` for each miss). `keys` may be empty. */
  getMany(keys: readonly string[]): MaybePromise<Array<Stored | undefined>>
  /** Stores `value` under `key`, replacing any entry, expiring after `ttlMs` (atomically). */
  set(key: string, value: Stored, ttlMs: number | undefined): MaybePromise<void>
  /** Stores every entry; per entry atomic, as a whole best effort (a failure rejects). */
  setMany(entries: ReadonlyArray<AdapterEntry<Stored>>): MaybePromise<void>
  /** Removes `key`; resolves `true` when an entry was removed. */
  delete(key: string): MaybePromise<boolean>
  /** Removes every key; resolves with how many entries were removed. */
  deleteMany(keys: readonly string[]): MaybePromise<number>
  /**
   * Removes every key matching `pattern`, a Redis-style glob over full keys (`*`, `?`, `[abc]`,
   * `[^a]`, `[a-z]`, and `\` escaping the next character). The core always passes a pattern whose
   * leading literal part is the cache's own `{keyPrefix}:{version}:`, already escaped: an adapter must
   * never delete a key that does not match, and must reach every node of a sharded store.
   * Resolves with how many entries were removed.
   */
  deleteByPattern(pattern: string): MaybePromise<number>
  /** Removes every key that starts with `prefix` (a literal string, not a glob); nothing else. */
  clear(prefix: string): MaybePromise<void>
  /**
   * The live keys matching `pattern` — the same globs and guarantees as `deleteByPattern`, on every
   * node of a sharded store, without blocking it (Redis: `SCAN`, never `KEYS`), each key once.
   * Soft invalidation by pattern uses it; on an adapter without it, that invalidation deletes.
   */
  keysByPattern?(pattern: string): MaybePromise<string[]>

  /**
   * Stores `value` under `key` (expiring after `ttlMs`) only while `leaseKey` holds exactly `token`,
   * as one atomic step; resolves `false`, storing nothing, when the lease is gone or held by another.
   * A load under a lease writes its result this way, and invalidations delete the key's lease, so a
   * load that an invalidation overtook cannot store its older result — whatever process it runs in.
   * Optional: without it, a leased load's write is fenced in its own process and over the bus only.
   */
  setIfHolds?(
    key: string,
    value: Stored,
    ttlMs: number | undefined,
    leaseKey: string,
    token: Stored,
  ): MaybePromise<boolean>
  /** Stores `value` only if `key` is absent; resolves `true` when it did. Leases use this. */
  setIfAbsent?(key: string, value: Stored, ttlMs: number): MaybePromise<boolean>
  /** Removes `key` only if it still holds exactly `value` (compare-and-delete); `true` when removed. */
  deleteIfEquals?(key: string, value: Stored): MaybePromise<boolean>
  /** Publishes `message` on `channel` to every subscriber, in every process. */
  publish?(channel: string, message: string): MaybePromise<void>
  /**
   * Calls `onMessage` for every message on `channel` and `onStatus` whenever the subscription is
   * (re)established or lost, so a subscriber knows when it may have missed messages.
   * Resolves with a function that ends the subscription.
   */
  subscribe?(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): MaybePromise<() => MaybePromise<void>>

  /**
   * The node that holds `key` now (any stable name, such as `host:port`), or `undefined` when the
   * adapter cannot tell. Called per operation when `capabilities.sharded` is set, so it must be
   * cheap; after a failover it names the new owner, whose health is tracked apart from the old one.
   */
  nodeOf?(key: string): string | undefined

  /** The adapter's current view of its store's health. */
  status?(): AdapterStatus
  /**
   * How many entries an in-process store holds now. Read by `cache.stats().l1Entries` and metrics
   * gauges, so it must be cheap (a field, not a scan).
   */
  readonly size?: number
  /**
   * The memory state of the store server (Redis `INFO`), for gauges and health checks. Sampled, not
   * measured per call: an adapter answers from a sample at most a few seconds old and asks the
   * server at most once per sampling interval, however often this is called. Resolves `undefined`
   * when the server cannot be asked right now; never rejects.
   */
  serverMemory?(): Promise<StoreMemory | undefined>
  /** Releases connections and timers. Must not close a client the adapter did not create. */
  close(): MaybePromise<void>
}

/** Any adapter, whatever it stores. */
export type AnyCacheAdapter = CacheAdapter<Uint8Array> | CacheAdapter<any>

/** Builds an adapter from a registry entry's `location` and `options`; registries hold these by name. */
export type AdapterFactory = (config: AdapterConfig) => AnyCacheAdapter

/** What a registry hands an {@link AdapterFactory}. */
export interface AdapterConfig {
  /** Name of the cache being built (for error messages). */
  readonly cache: string
  /** Where the store lives (`redis://...`), as configured; `undefined` for in-process stores. */
  readonly location: string | undefined
  /** Adapter-specific options, as configured. */
  readonly options: Readonly<Record<string, unknown>>
}
