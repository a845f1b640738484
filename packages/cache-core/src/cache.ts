import type { AdapterStatus, AnyCacheAdapter } from './adapter.js'
import { BatchLoads } from './batch-loader.js'
import type { Invalidation } from './bus.js'
import { CacheError, ErrorCodes } from './errors.js'
import { escapeGlob } from './glob.js'
import { Guard } from './guard.js'
import { assertPattern, type KeyInfo, KeySpace } from './keys.js'
import { type Load, Loader } from './loader.js'
import { Reporter } from './reporter.js'
import { resolveSettings, type Settings } from './settings.js'
import { type InvalidateOptions, softInvalidate, softInvalidatePattern } from './soft.js'
import { TagEpochs } from './tags.js'
import { isFresh, Tiers } from './tiers.js'
import type {
  BatchLoader,
  Cache,
  CacheEventName,
  CacheEvents,
  CacheOperation,
  CacheOptions,
  CacheStats,
  Entry,
  GetOrSetOptions,
  SetManyEntry,
  SetOptions,
} from './types.js'
import { Writer } from './writer.js'

/** Creates a cache: the core's rules on top of one adapter, or of an L1 in front of it. */
export function createCache(options: CacheOptions): Cache {
  return new CacheFacade(options)
}

// The longest ready() waits for the invalidation bus's first answer.
const READY_WAIT_MS = 5_000

// An invalidation marked soft when asked so, so a replay after an outage repeats it soft.
const softly = (invalidation: Invalidation, options: InvalidateOptions | undefined): Invalidation =>
  options?.soft ? { ...invalidation, soft: true } : invalidation

function assertAdapter(adapter: unknown, cache: string, field: string): asserts adapter is AnyCacheAdapter {
  const a = adapter as AnyCacheAdapter | null
  if (
    a === null ||
    typeof a !== 'object' ||
    typeof a.get !== 'function' ||
    typeof a.set !== 'function' ||
    typeof a.capabilities !== 'object'
  ) {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${cache}": option "${field}" must be a cache adapter such as memoryAdapter() or redisAdapter(), got ${typeof adapter}`,
      { cache, field },
    )
  }
}

/**
 * The cache users hold: validates each call and hands it to the part that owns the rule — keys
 * ({@link KeySpace}), tiers and their coherence ({@link Tiers}), tags ({@link TagEpochs}), writes
 * ({@link Writer}), loads ({@link Loader}, {@link BatchLoads}) and what it reports ({@link Reporter}).
 */
class CacheFacade implements Cache {
  readonly name: string
  readonly keyPrefix: string
  readonly version: string
  readonly adapter: AnyCacheAdapter
  readonly #settings: Settings
  readonly #reporter: Reporter
  readonly #keys: KeySpace
  readonly #guard: Guard
  readonly #tags: TagEpochs
  readonly #tiers: Tiers
  readonly #writer: Writer
  readonly #loader: Loader
  readonly #batch: BatchLoads
  #closed = false
  #warnedUnlisted = false

  constructor(options: CacheOptions) {
    const settings = resolveSettings(options)
    const name = settings.name
    assertAdapter(options.adapter, name, 'adapter')
    if (options.l1 !== undefined) {
      assertAdapter(options.l1, name, 'l1')
      if (options.l1.capabilities.shared) {
        throw new CacheError(
          ErrorCodes.INVALID_CONFIG,
          `cache "${name}": option "l1" must be an in-process adapter such as memoryAdapter(), got the shared "${options.l1.name}" adapter`,
          { cache: name, field: 'l1' },
        )
      }
    }
    this.#settings = settings
    this.name = name
    this.keyPrefix = settings.keyPrefix
    this.version = settings.version
    this.adapter = options.adapter
    const reporter = new Reporter(name, settings.logger)
    for (const prefix of settings.statsPrefixes) reporter.recorder.declare(prefix)
    const keys = new KeySpace(
      name,
      settings.keyPrefix,
      settings.version,
      settings.maxKeyLength,
      reporter.recorder,
    )
    const guard = new Guard(
      name,
      settings.timeoutMs,
      settings.threshold,
      settings.cooldownMs,
      settings.logger,
      (operation, key, error) => reporter.failed(operation, key, error),
      (options.adapter.capabilities.operationTimeoutMs ?? Number.POSITIVE_INFINITY) <= settings.timeoutMs,
    )
    guard.useNodes(options.adapter)
    const tiers: Tiers = new Tiers(
      name,
      options.adapter,
      options.l1,
      settings.bus,
      keys,
      guard,
      (): TagEpochs => tags,
      reporter,
      (invalidation) => this.#invalidated(invalidation),
      settings.timeoutMs,
      settings.bulkTimeoutMs,
      settings.backlogLimit,
      settings.codec,
    )
    const tags: TagEpochs = new TagEpochs(name, keys, tiers.store, guard, tiers.storeByRef)
    const writer = new Writer(name, settings, keys, tiers, tags, reporter)
    const loader = new Loader(name, settings, keys, tiers, tags, writer, guard, reporter)
    this.#reporter = reporter
    this.#keys = keys
    this.#guard = guard
    this.#tags = tags
    this.#tiers = tiers
    this.#writer = writer
    this.#loader = loader
    this.#batch = new BatchLoads(name, settings, keys, tiers, writer, loader, reporter)
  }

  /** The in-process first tier, when configured. */
  get l1(): AnyCacheAdapter | undefined {
    return this.#tiers.near
  }

  fullKey(key: string): string {
    return this.#keys.full(key)
  }

  // ---------------------------------------------------------------- reads

  get<T = unknown>(key: string): Promise<T | undefined> {
    if (this.#reporter.timing) return this.#timedGet<T>(key)
    return this.#get<T>(key)
  }

  /** `get` while `operation` has listeners: an in-process answer is reported without a promise step. */
  #timedGet<T>(key: string): Promise<T | undefined> {
    const started = performance.now()
    let info: KeyInfo
    let now: number
    let found: Entry | undefined | Promise<Entry | undefined>
    try {
      this.#assertOpen()
      info = this.#keys.info(key)
      now = Date.now()
      found = this.#tiers.lookup(info, true, now)
    } catch (error) {
      const named = typeof key === 'string' ? key : undefined
      return this.#reporter.timed('get', started, named, 1, undefined, Promise.reject(error))
    }
    if (found instanceof Promise) {
      const served = found.then((entry) => this.#served(info, entry, Date.now()) as T | undefined)
      return this.#reporter.timed('get', started, key, 1, [info], served)
    }
    const value = this.#served(info, found, now) as T | undefined
    this.#reporter.settled('get', started, key, 1, [info])
    return Promise.resolve(value)
  }

  #get<T>(key: string): Promise<T | undefined> {
    try {
      this.#assertOpen()
      const info = this.#keys.info(key)
      const now = Date.now()
      if (this.#tiers.remote) {
        const served = this.#tiers.lookupThen(info, now, this.#serve)
        return (served instanceof Promise ? served : Promise.resolve(served)) as Promise<T | undefined>
      }
      // A store in this process mostly answers at once: the shortest path is the plain lookup.
      const found = this.#tiers.lookup(info, true, now)
      if (found instanceof Promise) return found.then((entry) => this.#served(info, entry, Date.now()) as T)
      return Promise.resolve(this.#served(info, found, now) as T | undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  has(key: string): Promise<boolean> {
    return this.#call('has', key, 1, [key], () => this.#has(key))
  }

  async #has(key: string): Promise<boolean> {
    this.#assertOpen()
    const info = this.#keys.info(key)
    const entry = await this.#tiers.lookup(info, false)
    const fresh = entry !== undefined && isFresh(entry, Date.now())
    info.outcome = fresh ? (info.nearHit ? 'l1' : 'hit') : 'miss'
    info.nearHit = false
    return fresh
  }

  getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#call('getMany', undefined, keys?.length, keys, () => this.#getMany<T>(keys))
  }

  async #getMany<T>(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.#assertOpen()
    const infos = this.#keys.infos(keys)
    const entries = await this.#tiers.lookupMany(infos)
    const now = Date.now()
    return entries.map((entry, i) => this.#served(infos[i]!, entry, now) as T | undefined)
  }

  // #served as a read's finisher, made once: a get allocates no closure for it.
  readonly #serve = (entry: Entry | undefined, now: number, info: KeyInfo): unknown =>
    this.#served(info, entry, now)

  /** A fresh entry's value (counted as a hit), or `undefined` (counted as a miss). */
  #served(info: KeyInfo, entry: Entry | undefined, now: number): unknown {
    if (entry !== undefined && isFresh(entry, now)) return this.#reporter.hit(info, entry.value)
    this.#reporter.missed(info)
    return undefined
  }

  getOrSet<T>(key: string, loader: Load<T>, options?: GetOrSetOptions<T>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError())
    if (this.#reporter.timing) {
      return this.#observe('getOrSet', key, 1, [key], () => this.#loader.getOrSet(key, loader, options))
    }
    return this.#loader.getOrSet(key, loader, options)
  }

  getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T[]> {
    return this.#call('getOrSetMany', undefined, keys?.length, keys, async () => {
      this.#assertOpen()
      return this.#batch.getOrSetMany(keys, loader, options)
    })
  }

  // ---------------------------------------------------------------- writes

  set<T>(key: string, value: T, options?: SetOptions): Promise<boolean> {
    return this.#call('set', key, 1, undefined, () => {
      try {
        return this.#set(key, value, options)
      } catch (error) {
        return Promise.reject(error)
      }
    })
  }

  #set(key: string, value: unknown, options: SetOptions | undefined): Promise<boolean> {
    this.#assertOpen()
    const tags = this.#tags.valid(options?.tags)
    const ttl = options?.ttl
    // An explicit write wins over a load of the same key that is still running.
    const info = this.#keys.info(key)
    this.#invalidated({ keys: [info.full] })
    if (this.#leasesInUse()) {
      return this.#guarded(() => this.#tiers.store.delete(this.#keys.leaseOf(info))).then(() =>
        this.#writer.writeOne(key, info, value, ttl, tags, this.#settings),
      )
    }
    return this.#writer.writeOne(key, info, value, ttl, tags, this.#settings)
  }

  setMany(entries: readonly SetManyEntry[]): Promise<boolean> {
    return this.#call('setMany', undefined, entries?.length, undefined, async () => {
      this.#assertOpen()
      const writes = this.#writer.batch(entries)
      const infos = this.#keys.infos(writes.map((w) => w.key))
      this.#invalidated({ keys: infos.map((info) => info.full) })
      if (this.#leasesInUse()) {
        await this.#guarded(() => this.#tiers.store.deleteMany(infos.map((info) => this.#keys.leaseOf(info))))
      }
      return this.#writer.write(writes, this.#settings, false)
    })
  }

  // ---------------------------------------------------------------- invalidation

  delete(key: string, options?: InvalidateOptions): Promise<boolean> {
    return this.#call('delete', key, 1, undefined, () => this.#delete(key, options))
  }

  async #delete(key: string, options: InvalidateOptions | undefined): Promise<boolean> {
    this.#assertOpen()
    const info = this.#keys.info(key)
    const removed = await this.#tiers.invalidate(
      softly({ keys: [info.full] }, options),
      'delete',
      key,
      this.#afterRevoking(
        () => this.#tiers.store.delete(this.#keys.leaseOf(info)),
        () =>
          options?.soft ? this.#soften([info.full]).then((n) => n > 0) : this.#tiers.store.delete(info.full),
      ),
    )
    this.#reporter.counted('deletes', info)
    return removed
  }

  deleteMany(keys: readonly string[], options?: InvalidateOptions): Promise<number> {
    return this.#call('deleteMany', undefined, keys?.length, undefined, () => this.#deleteMany(keys, options))
  }

  async #deleteMany(keys: readonly string[], options: InvalidateOptions | undefined): Promise<number> {
    this.#assertOpen()
    const infos = this.#keys.infos(keys)
    if (infos.length === 0) return 0
    const fulls = infos.map((info) => info.full)
    const removed = await this.#tiers.invalidate(
      softly({ keys: fulls }, options),
      'deleteMany',
      undefined,
      this.#afterRevoking(
        () => this.#tiers.store.deleteMany(infos.map((info) => this.#keys.leaseOf(info))),
        () => (options?.soft ? this.#soften(fulls) : this.#tiers.store.deleteMany(fulls)),
      ),
    )
    for (const info of infos) this.#reporter.counted('deletes', info)
    return removed
  }

  deletePattern(pattern: string, options?: InvalidateOptions): Promise<number> {
    return this.#call('deletePattern', pattern, 1, undefined, () => this.#deletePattern(pattern, options))
  }

  async #deletePattern(pattern: string, options: InvalidateOptions | undefined): Promise<number> {
    this.#assertOpen()
    assertPattern(pattern, this.name)
    const full = escapeGlob(this.#keys.base) + pattern
    const leases = escapeGlob(this.#keys.leaseBase) + pattern
    const removed = await this.#tiers.invalidate(
      softly({ pattern: full }, options),
      'deletePattern',
      undefined,
      this.#afterRevoking(
        () => this.#tiers.store.deleteByPattern(leases),
        () => (options?.soft ? this.#softenPattern(full) : this.#tiers.store.deleteByPattern(full)),
      ),
      this.#settings.bulkTimeoutMs,
    )
    this.#reporter.recorder.add(pattern, 'deletes', removed)
    this.#reporter.emit('delete', { key: pattern, prefix: this.#reporter.recorder.bucketOf(pattern) })
    return removed
  }

  invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<void> {
    return this.#call('invalidateTags', undefined, tags?.length, undefined, () =>
      this.#invalidateTags(tags, options),
    )
  }

  async #invalidateTags(tags: readonly string[], options: InvalidateOptions | undefined): Promise<void> {
    this.#assertOpen()
    const valid = this.#tags.valid(tags) ?? []
    if (valid.length === 0) return
    // A new epoch per tag: every entry stamped with an older one now reads as a miss, on every process.
    // L1 copies are not checked against epochs on each hit, so every L1 drops the entries carrying a tag.
    const run = options?.soft
      ? async () => this.#tiers.store.setMany(await this.#tags.softBumps(valid))
      : () => this.#tiers.store.setMany(this.#tags.bumps(valid))
    await this.#tiers.invalidate(
      softly({ all: true, tags: valid }, options),
      'invalidateTags',
      undefined,
      run,
    )
    for (const tag of valid) this.#reporter.emit('delete', { key: `tag:${tag}`, prefix: `tag:${tag}` })
  }

  clear(): Promise<void> {
    return this.#call('clear', undefined, 1, undefined, () => this.#clear())
  }

  async #clear(): Promise<void> {
    this.#assertOpen()
    await this.#tiers.invalidate(
      { all: true },
      'clear',
      undefined,
      this.#afterRevoking(
        () => this.#tiers.store.clear(this.#keys.leaseBase),
        () => this.#tiers.store.clear(this.#keys.base),
      ),
      this.#settings.bulkTimeoutMs,
    )
    this.#reporter.emit('delete', { key: '*', prefix: '*' })
  }

  // Whether invalidations must revoke leases: this cache loads under leases, on a store that refuses
  // a late write once its lease is gone.
  #leasesInUse(): boolean {
    const leases = this.#settings.lease !== undefined || this.#loader.leasesUsed
    return leases && this.#tiers.store.setIfHolds !== undefined
  }

  /**
   * The store side of an invalidation under leases: first the leases of the keys it covers go, so a
   * load still holding one cannot store its older result (the store refuses the write), whichever
   * process runs it; then the entries. First, not after: a late write landing in between would
   * otherwise survive. Without leases in use, just `run`.
   */
  #afterRevoking<R>(revoke: () => unknown, run: () => R | Promise<R>): () => R | Promise<R> {
    if (!this.#leasesInUse()) return run
    return async () => {
      await revoke()
      return run()
    }
  }

  // A lease revocation on its own (before an explicit write): fails open like any store operation.
  #guarded(revoke: () => unknown): Promise<unknown> {
    return Promise.resolve(this.#guard.call('revokeLeases', undefined, revoke))
  }

  /** Soft invalidation of stored entries: expired into their grace window instead of deleted. */
  #soften(fulls: readonly string[]): Promise<number> {
    return softInvalidate(this.#tiers.store, this.#tiers.storeByRef, this.#settings.codec, fulls)
  }

  async #softenPattern(pattern: string): Promise<number> {
    const store = this.#tiers.store
    const { count, listed } = await softInvalidatePattern(
      store,
      this.#tiers.storeByRef,
      this.#settings.codec,
      pattern,
    )
    if (!listed && !this.#warnedUnlisted) {
      this.#warnedUnlisted = true
      this.#reporter.warn(
        { adapter: store.name },
        `cache "${this.name}": adapter "${store.name}" cannot list keys (no keysByPattern), so soft invalidation by pattern deletes`,
      )
    }
    return count
  }

  /** Every invalidation this instance applies, local or delivered by the bus, passes here. */
  #invalidated(invalidation: Invalidation): void {
    this.#loader.fences.revoke(invalidation)
    this.#loader.detach(invalidation)
  }

  // ---------------------------------------------------------------- observability and lifecycle

  /** Counts keys starting with `prefix:` apart in `stats().byPrefix` (decorators declare theirs). */
  declareStatsPrefix(prefix: string): void {
    // Remembered keys were given their counters before this prefix counted apart: look them up again.
    if (typeof prefix === 'string' && prefix !== '' && this.#reporter.recorder.declare(prefix))
      this.#keys.forget()
  }

  stats(): CacheStats {
    const { total, byPrefix } = this.#reporter.recorder.snapshot()
    const reads = total.hits + total.misses
    const near = this.#tiers.near
    return {
      name: this.name,
      adapter: near === undefined ? this.#tiers.store.name : `${near.name}+${this.#tiers.store.name}`,
      ...total,
      hitRate: reads === 0 ? 0 : total.hits / reads,
      undecodable: this.#reporter.recorder.undecodable,
      circuit: this.#guard.breaker.state,
      nodeCircuits: this.#guard.nodeCircuits(),
      bus: this.#tiers.busState,
      invalidationBacklog: this.#tiers.backlog,
      byPrefix,
      l1Entries: near?.size,
    }
  }

  status(): AdapterStatus {
    if (this.#closed) return 'closed'
    if (this.#guard.breaker.state === 'open') return 'unavailable'
    return this.#tiers.store.status?.() ?? 'ready'
  }

  ready(): Promise<void> {
    return this.#tiers.ready(Math.max(this.#settings.timeoutMs, READY_WAIT_MS))
  }

  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    return this.#reporter.on(event, listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#tiers.close()
  }

  /** Runs a public call, timed and reported as an `operation` event while anyone listens. */
  #call<T>(
    operation: CacheOperation,
    key: string | undefined,
    count: number | undefined,
    keys: readonly string[] | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    return this.#reporter.timing ? this.#observe(operation, key, count, keys, run) : run()
  }

  #observe<T>(
    operation: CacheOperation,
    key: string | undefined,
    count: number | undefined,
    keys: readonly string[] | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now()
    let infos: KeyInfo[] | undefined
    try {
      if (keys !== undefined) infos = this.#keys.infos(keys)
    } catch {
      // Bad keys: the call itself rejects with the error that says so; there is no outcome to report.
    }
    if (infos !== undefined) for (const info of infos) info.outcome = undefined
    let pending: Promise<T>
    try {
      pending = run()
    } catch (error) {
      pending = Promise.reject(error)
    }
    return this.#reporter.timed(
      operation,
      started,
      typeof key === 'string' ? key : undefined,
      typeof count === 'number' ? count : 0,
      infos,
      pending,
    )
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError()
  }

  #closedError(): CacheError {
    return new CacheError(ErrorCodes.CLOSED, `cache "${this.name}" is closed`, { cache: this.name })
  }
}
