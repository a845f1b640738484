import type { AdapterStatus, AnyCacheAdapter } from './adapter.js'
import type { BuiltinCompression, CompressionOptions, Compressor } from './compression.js'
import type { EncryptionOptions } from './encryption.js'
import type { BatchLoaderContext, LoaderContext } from './load-context.js'
import type { InvalidateOptions } from './soft.js'

/**
 * A length of time: a number is MILLISECONDS (`300` is 0.3 s, not 5 minutes); a string is a number
 * and a unit — `ms`, `s`, `m`, `h`, `d` (`'500ms'`, `'300s'`, `'5m'`, `'24h'`, `'7d'`, `'1.5h'`).
 * Environment variables must carry a unit.
 */
export type Duration = number | string

/** A tag name and the tag's epoch when the entry was written; a changed epoch invalidates the entry. */
export type TagStamp = readonly [tag: string, epoch: string]

/** A cache entry as the core keeps it: the value plus the metadata of the versioned envelope. */
export interface Entry<T = unknown> {
  /** The cached value (after decoding). */
  value: T
  /** When the entry was written, epoch milliseconds. */
  createdAt: number
  /** When the entry stops being fresh, epoch milliseconds; 0 = never. */
  expiresAt: number
  /** Until when a stale entry may still be served (grace), epoch milliseconds; 0 = never. */
  staleUntil: number
  /** The tags of the entry with their epochs at write time; `undefined` when untagged. */
  tags: readonly TagStamp[] | undefined
  /**
   * Softly invalidated: expired into its grace window, so it only stands in for a failing or slow
   * loader and is never served while a refresh runs (stale-while-revalidate).
   */
  invalidated?: true
}

/** A pino-compatible logger; every method is optional so `console`-like objects fit too. */
export interface CacheLogger {
  /** pino's level check; when present, debug lines are only built if it says `debug` is on. */
  isLevelEnabled?(level: string): boolean
  /** Hit/miss lines and other chatter. */
  debug?(fields: Record<string, unknown>, message: string): void
  /** Store failures, once per burst. */
  warn?(fields: Record<string, unknown>, message: string): void
  /** Failures the cache cannot recover from by itself. */
  error?(fields: Record<string, unknown>, message: string): void
}

/** Circuit-breaker settings: stop waiting on a store that keeps failing. */
export interface BreakerOptions {
  /**
   * Consecutive store failures that open the circuit.
   * @default 5
   */
  threshold?: number
  /**
   * How long the circuit stays open before one probe is let through (a {@link Duration}: a number is
   * milliseconds).
   * @default '5s'
   */
  cooldown?: Duration
}

/** Cross-process stampede protection through a lease held in the store. */
export interface LeaseOptions {
  /**
   * How long a lease lives if its holder dies without releasing it (a {@link Duration}: a number is
   * milliseconds).
   * @default '10s'
   */
  ttl?: Duration
  /**
   * How long a waiter polls for the holder's value before it runs the loader itself (milliseconds
   * when a number).
   * @default '5s'
   */
  wait?: Duration
  /**
   * Pause between polls of a waiter (milliseconds when a number).
   * @default '25ms'
   */
  pollInterval?: Duration
}

/** Options of {@link createCache}. */
export interface CacheOptions {
  /** The store (with an `l1`, the shared second tier). */
  adapter: AnyCacheAdapter
  /**
   * An in-process first tier in front of `adapter` (e.g. `memoryAdapter()`): reads try it first and
   * it is filled from `adapter` with the entry's remaining lifetime. Must answer synchronously.
   * @default none
   */
  l1?: AnyCacheAdapter
  /**
   * Keep `l1` coherent across instances over the adapter's pub/sub (invalidations only, never values).
   * While the bus is down, `l1` is bypassed (used only when `adapter` fails) and emptied on reconnect.
   * @default true when `l1` is set and the adapter has pub/sub
   */
  bus?: boolean
  /**
   * After its TTL, an entry may still be served by `getOrSet` for this long while one background
   * refresh runs (stale-while-revalidate). A {@link Duration}: a number is milliseconds.
   * @default 0
   */
  staleWhileRevalidate?: Duration
  /**
   * After its TTL, an entry may still be served for this long when the loader fails (or, with
   * `softTimeout`, is slow) — a grace period that keeps answers coming during outages. Milliseconds
   * when a number.
   * @default 0
   */
  grace?: Duration
  /**
   * With a stale value within grace at hand, wait at most this long for the loader before answering
   * with the stale value; the load goes on in the background and stores its result. Milliseconds
   * when a number.
   * @default none (wait for the loader)
   */
  softTimeout?: Duration
  /**
   * Compress encoded entries of at least `threshold` bytes (1 KiB by default) before they are stored:
   * `'gzip'`, `'deflate'`, `'brotli'`, a {@link Compressor}, or {@link CompressionOptions}. Entries
   * name their algorithm, so caches with and without compression read each other's entries.
   * Applies to adapters that store bytes (not to `byReference` memory).
   * @default false
   */
  compression?: BuiltinCompression | Compressor | CompressionOptions | false
  /**
   * Encrypt entries at rest with AES-256-GCM under a ring of keys with ids (the first encrypts, all
   * decrypt). Entries under a key not in the ring, or altered in the store, read as misses. With
   * `compression` too, entries are compressed, then encrypted.
   * @default none
   */
  encryption?: EncryptionOptions
  /** Prefix of every key of this cache; must not contain `:`. */
  keyPrefix: string
  /**
   * Part of every key; bump it to orphan all entries of an older data shape at once.
   * @default 1
   */
  version?: number | string
  /**
   * Name used in stats, logs, metrics and error messages.
   * @default keyPrefix
   */
  name?: string
  /**
   * Default time to live of entries: a {@link Duration}, where a number is milliseconds (`300_000`
   * or `'5m'`; `300` would be 0.3 s).
   * @default '5m' (Django's default TIMEOUT)
   */
  ttl?: Duration
  /**
   * Time to live of `null` results of loaders (negative caching); milliseconds when a number.
   * @default the entry's ttl
   */
  nullTtl?: Duration
  /**
   * Spreads expiry: each TTL is shortened by a random fraction up to this value (a ratio from 0 to 1, not a time), so entries
   * written together do not expire together.
   * @default 0
   */
  jitter?: number
  /**
   * How long the cache waits for any one store operation before it fails open; milliseconds when a
   * number.
   * @default '1s'
   */
  timeout?: Duration
  /**
   * Deadline of `deletePattern` and `clear`, which walk the keyspace in many round trips;
   * milliseconds when a number.
   * @default '60s' (or `timeout`, if longer)
   */
  bulkTimeout?: Duration
  /**
   * Circuit breaker; `false` turns it off.
   * @default { threshold: 5, cooldown: '5s' }
   */
  breaker?: BreakerOptions | false
  /**
   * Cross-process stampede protection for every `getOrSet` (needs an adapter with atomicSetIfAbsent);
   * `getOrSet` can also turn it on per call.
   * @default false
   */
  lease?: boolean | LeaseOptions
  /**
   * Receives debug lines for hits and misses and warnings for store failures (once per burst, and
   * once on recovery). `false` silences the cache; its `error` events still report every failure.
   * @default warnings and errors on stderr (`console.warn` / `console.error`), no debug lines
   */
  logger?: CacheLogger | false
  /**
   * Longest key in characters (without prefix and version) kept as written; longer keys keep a readable head and
   * end in a SHA-256 digest.
   * @default 200
   */
  maxKeyLength?: number
  /**
   * Invalidations the store could not take (it was down) are kept, coalesced, and replayed when it
   * answers again, before any read is served from it. Past this many (keys, patterns and tags), the
   * cache keeps one "clear everything" instead: correct, only colder.
   * @default 1000
   */
  maxPendingInvalidations?: number
  /**
   * Key prefixes counted apart in `stats().byPrefix` (a key counts under the longest one it equals
   * or starts with followed by `:`), besides those of the decorated functions using this cache; at
   * most 256 in all. Every other key counts under `"(other)"`.
   * @default []
   */
  statsPrefixes?: readonly string[]
}

/** Options of `set` and `setMany` entries. */
export interface SetOptions {
  /** Time to live of this entry (milliseconds when a number); overrides the cache's default. */
  ttl?: Duration
  /** Tags for `invalidateTags`. */
  tags?: readonly string[]
}

/** Options of `getOrSet` and `getOrSetMany`. */
export interface GetOrSetOptions<T> {
  /** Overrides the cache's `staleWhileRevalidate` for this call (milliseconds when a number). */
  staleWhileRevalidate?: Duration
  /** Overrides the cache's `grace` for this call (milliseconds when a number). */
  grace?: Duration
  /** Overrides the cache's `softTimeout` for this call (milliseconds when a number). */
  softTimeout?: Duration
  /** Time to live of the loaded value (milliseconds when a number); overrides the cache's default. */
  ttl?: Duration
  /** Tags of the loaded value, fixed or computed from it. */
  tags?: readonly string[] | ((value: T) => readonly string[])
  /** Time to live when the loader returns `null` (milliseconds when a number). */
  nullTtl?: Duration
  /** Return `false` to hand the result back without caching it (the loader can also call `ctx.skip()`). */
  condition?: (value: T) => boolean
  /** Cross-process lease for this call; overrides the cache's `lease` option. */
  lease?: boolean | LeaseOptions
}

/**
 * Loads the values of missing keys in one call: an array with one value per key, in order, or a Map
 * from key to value (a key absent from the Map reads as `undefined`, cached as "not found"). `ctx`
 * decides about each key's result (`ctx.of(key).skip()`, `.ttl()`, `.tags()`, `.grace()`).
 */
export type BatchLoader<T> = (
  keys: string[],
  ctx: BatchLoaderContext<T>,
) => Promise<ReadonlyArray<T> | ReadonlyMap<string, T>>

/** One entry of `setMany`. */
export interface SetManyEntry<T = unknown> extends SetOptions {
  /** The key, without prefix. */
  key: string
  /** The value to store. */
  value: T
}

/** Counters of one cache or one key prefix. */
export interface CacheCounters {
  /** Reads answered from the store. */
  hits: number
  /** Reads the store could not answer (absent, expired, invalidated, undecodable, failed). */
  misses: number
  /** Reads answered with a stale value. */
  staleHits: number
  /** Hits answered by the in-process tier (a subset of `hits`). */
  l1Hits: number
  /** Entries written. */
  sets: number
  /** Entries removed by delete, deleteMany and invalidations by key. */
  deletes: number
  /** Store failures and timeouts. */
  errors: number
  /** Loader runs of getOrSet and cached functions. */
  loads: number
  /** Total time spent in loaders, in milliseconds. */
  loadTimeMs: number
}

/** What `cache.stats()` returns. */
export interface CacheStats extends CacheCounters {
  /** The cache's name. */
  name: string
  /** The adapter's name. */
  adapter: string
  /** hits / (hits + misses), 0 when there were no reads. */
  hitRate: number
  /** Entries read as misses because they could not be decoded (corrupt, foreign or older format). */
  undecodable: number
  /** Whether the circuit breaker currently skips the store. */
  circuit: 'closed' | 'open' | 'half-open'
  /**
   * On a sharded store (a Redis Cluster), the nodes whose own breaker is not closed, with its state:
   * their keys fail open while the other nodes' keys are served. Empty otherwise.
   */
  nodeCircuits: Record<string, 'open' | 'half-open'>
  /** The invalidation bus of the in-process tier: `off` without an `l1` (or with `bus: false`). */
  bus: 'connecting' | 'connected' | 'disconnected' | 'off'
  /** Invalidations waiting for the store to answer again, to be replayed before it serves reads. */
  invalidationBacklog: number
  /**
   * The same counters per declared key prefix (option `statsPrefixes` and decorated functions), and
   * under `"(other)"` for every other key; bounded, however many distinct keys the cache sees.
   */
  byPrefix: Record<string, CacheCounters>
  /** Entries in the in-process tier now, when there is one that can count them. */
  l1Entries?: number
}

/**
 * How a read was answered: fresh from the in-process tier (`l1`), fresh from the store (`hit`), with a
 * stale value (`stale`), or not at all (`miss`, which for `getOrSet` means the loader ran or was joined).
 */
export type ReadOutcome = 'l1' | 'hit' | 'stale' | 'miss'

/** A public operation of a cache, as `operation` events name it. */
export type CacheOperation =
  | 'get'
  | 'getMany'
  | 'has'
  | 'getOrSet'
  | 'getOrSetMany'
  | 'set'
  | 'setMany'
  | 'delete'
  | 'deleteMany'
  | 'deletePattern'
  | 'invalidateTags'
  | 'clear'

/** Payload of the `operation` event: one public call of a cache, timed from call to settlement. */
export interface OperationEvent {
  /** The method called. */
  operation: CacheOperation
  /** The key, for single-key operations; the pattern for `deletePattern`. */
  key?: string
  /** The stats prefix of `key` (the part before its first `:`); for batches, of their first key. */
  prefix?: string
  /** How many keys, tags or entries the call named (1 for single-key operations). */
  count: number
  /** When the call started, epoch milliseconds with sub-millisecond precision. */
  startTime: number
  /** How long the call took until its promise settled, in milliseconds. */
  durationMs: number
  /** How a single-key read was answered (`get`, `getOrSet`, `has`). */
  outcome?: ReadOutcome
  /** How the keys of a batch read were answered (`getMany`, `getOrSetMany`), by outcome. */
  outcomes?: Record<ReadOutcome, number>
  /** What the call rejected with, if it did. */
  error?: unknown
}

/** Payload of the `load` event: one loader run, single (`getOrSet`, `cached`) or batch. */
export interface LoadEvent {
  /** The keys loaded: one for `getOrSet`, every missing key of a batch. */
  keys: readonly string[]
  /** The stats prefix of the first key. */
  prefix: string
  /** Whether this was a batch loader (`getOrSetMany`, `cachedMany`). */
  batch: boolean
  /** When the loader was called, epoch milliseconds with sub-millisecond precision. */
  startTime: number
  /** How long the loader took, in milliseconds. */
  durationMs: number
  /** What the loader threw or rejected with, if it did (nothing was cached then). */
  error?: unknown
}

/**
 * Events a cache emits, with their payloads: the documented hook for metrics and tracing. Listeners
 * run synchronously and must not throw (a throwing listener is logged and skipped). A cache with no
 * listener for an event does not build its payload, and does not read the clock for `operation`.
 */
export interface CacheEvents {
  /** A read found a fresh entry, in the in-process tier (`l1`) or the store. */
  hit: { key: string; prefix: string; tier: 'l1' | 'store' }
  /** A read was answered with a stale value (stale-while-revalidate or grace). */
  stale: { key: string; prefix: string }
  /** A read found nothing usable. */
  miss: { key: string; prefix: string }
  /** An entry was written. */
  set: { key: string; prefix: string }
  /** Entries were removed (`key` is the key, pattern, `tag:<name>` or `*` for clear). */
  delete: { key: string; prefix: string }
  /**
   * A store operation failed; the cache failed open. `code` is the error's stable code when it is a
   * `CacheError` (`E_TIMEOUT`, `E_ADAPTER`, …), else `E_ADAPTER`.
   */
  error: { operation: string; error: Error; key?: string; prefix: string; code: string }
  /** A loader ran (successfully or not). */
  load: LoadEvent
  /** A public call settled. */
  operation: OperationEvent
}

/** Name of an event of {@link CacheEvents}. */
export type CacheEventName = keyof CacheEvents

/** A cache: the rules applied on top of one adapter. */
export interface Cache {
  /** The cache's name (stats, logs). */
  readonly name: string
  /** The key prefix. */
  readonly keyPrefix: string
  /** The key version. */
  readonly version: string
  /** The adapter behind the cache. */
  readonly adapter: AnyCacheAdapter

  /** The value under `key`, or `undefined` on a miss. Never rejects because of the store. */
  get<T = unknown>(key: string): Promise<T | undefined>
  /** Stores `value`; resolves `false` when the store failed (fail-open) and rejects only on bad input. */
  set<T>(key: string, value: T, options?: SetOptions): Promise<boolean>
  /**
   * The cached value, or the loader's result (cached) on a miss; the loader runs once per key at a
   * time. `ctx` lets it skip storing, set the TTL, tags and grace from the result, and see the
   * expired value still held in grace (`ctx.stale`).
   */
  getOrSet<T>(
    key: string,
    loader: (ctx: LoaderContext<T>) => T | Promise<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T>
  /**
   * Values for `keys`: one batched read, then ONE loader call for all the misses (keys already being
   * loaded by another call are joined, not loaded again). Aligned with `keys`.
   */
  getOrSetMany<T>(keys: readonly string[], loader: BatchLoader<T>, options?: GetOrSetOptions<T>): Promise<T[]>
  /** Whether a fresh entry exists under `key`. */
  has(key: string): Promise<boolean>
  /** Values for `keys`, aligned with them. */
  getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>>
  /** Stores every entry. */
  setMany(entries: readonly SetManyEntry[]): Promise<boolean>
  /**
   * Removes `key` (with `{ soft: true }`, expires it into its grace window); rejects with
   * `E_ADAPTER` when the store could not be reached.
   */
  delete(key: string, options?: InvalidateOptions): Promise<boolean>
  /** Removes `keys` (or, with `{ soft: true }`, expires them into grace); resolves with how many. */
  deleteMany(keys: readonly string[], options?: InvalidateOptions): Promise<number>
  /**
   * Removes every key of this cache that matches the glob (`filter_counts:*`); with `{ soft: true }`,
   * expires them into their grace window (on adapters that can list keys; others delete).
   */
  deletePattern(pattern: string, options?: InvalidateOptions): Promise<number>
  /** Invalidates every entry written with any of `tags` (with `{ soft: true }`, into their grace window). */
  invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<void>
  /** Removes every entry of this cache (its prefix and version only). */
  clear(): Promise<void>
  /** Counters since creation. */
  stats(): CacheStats
  /**
   * Counts keys under `prefix` apart in `stats().byPrefix` from now on, as decorated functions do
   * with their keyPrefix; past 256 declared prefixes, further ones count under `"(other)"`.
   */
  declareStatsPrefix(prefix: string): void
  /** The adapter's status, or `'open-circuit'` reported as `unavailable`. */
  status(): AdapterStatus
  /** The key as stored: `{keyPrefix}:{version}:{key}`. */
  fullKey(key: string): string
  /**
   * Resolves once every tier can be used: at once without an invalidation bus, else when the bus has
   * first connected (or failed to), and after 5 s at most, so a store that is down never blocks
   * start-up. Until then an `l1` is bypassed; awaiting this before serving makes the first reads fast.
   */
  ready(): Promise<void>
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void
  /** Closes the adapter; later calls reject with `E_CLOSED`. */
  close(): Promise<void>
}
