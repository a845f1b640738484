import type { AdapterStatus, AnyCacheAdapter, CacheAdapter } from './adapter.js'
import { CircuitBreaker } from './breaker.js'
import { decodeEntry, encodeEntry } from './codec.js'
import { boundKey } from './digest.js'
import { parseDuration, parseOptionalDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import { escapeGlob } from './glob.js'
import { prefixOf, StatsRecorder } from './stats.js'
import type {
  Cache,
  CacheCounters,
  CacheEventName,
  CacheEvents,
  CacheLogger,
  CacheOptions,
  CacheStats,
  Duration,
  Entry,
  GetOrSetOptions,
  LeaseOptions,
  SetManyEntry,
  SetOptions,
  TagStamp,
} from './types.js'

/** Creates a cache: the core's rules on top of one adapter. */
export function createCache(options: CacheOptions): Cache {
  return new CacheImpl(options)
}

// Stored form of an entry: bytes for ordinary adapters, the entry itself for by-reference ones.
type Stored = Uint8Array | Entry
type Listener = (payload: never) => void

/** Result of a read that found nothing usable. */
const MISS: unique symbol = Symbol('miss')
type Miss = typeof MISS

const DEFAULT_TTL = 5 * 60_000
const DEFAULT_TIMEOUT = 1_000
const DEFAULT_MAX_KEY = 200
// Keys whose full form and counters are remembered; past this the memo starts over (hot keys
// come back at once, so a plain reset beats LRU bookkeeping on every read).
const KEY_MEMO_LIMIT = 10_000
const TAG_TTL_FLOOR = 30 * 24 * 60 * 60_000
const MAX_TTL = 10 * 365 * 24 * 60 * 60_000
const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')

/** What a read needs to know about a key, computed once per key instead of once per read. */
interface KeyInfo {
  /** The key as stored. */
  full: string
  /** The counters of the key's prefix. */
  counters: CacheCounters
}

interface ResolvedLease {
  ttlMs: number
  waitMs: number
  pollMs: number
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

function newEpoch(): string {
  return `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`
}

/** Every option of a cache but the adapter, validated and resolved once. */
interface Settings {
  name: string
  keyPrefix: string
  version: string
  ttlMs: number
  nullTtlMs: number | undefined
  jitter: number
  timeoutMs: number
  maxKeyLength: number
  lease: ResolvedLease | undefined
  threshold: number
  cooldownMs: number
}

/**
 * Validates every option except the adapter, with errors that name the cache and the field. The
 * registry calls it before building any adapter, so a typo never leaves a connection open.
 */
export function resolveSettings(options: Omit<CacheOptions, 'adapter'>): Settings {
  if (options === null || typeof options !== 'object') {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, 'createCache: options must be an object')
  }
  const { keyPrefix } = options
  const label = typeof options.name === 'string' && options.name ? options.name : String(keyPrefix)
  const invalid = (field: string, why: string, got: unknown) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${label}": option "${field}" ${why}, got ${JSON.stringify(got) ?? String(got)}`,
      { cache: label, field },
    )
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    throw invalid('keyPrefix', 'must be a non-empty string', keyPrefix)
  }
  if (keyPrefix.includes(':')) {
    throw invalid('keyPrefix', 'must not contain ":" (it separates prefix, version and key)', keyPrefix)
  }
  const version = options.version ?? 1
  if (
    !(typeof version === 'number' && Number.isInteger(version) && version >= 0) &&
    !(typeof version === 'string' && /^[A-Za-z0-9_.-]+$/.test(version))
  ) {
    throw invalid(
      'version',
      'must be a non-negative integer or a string of letters, digits, "_", "." and "-"',
      version,
    )
  }
  const where = (field: string) => ({ cache: label, field })
  const jitter = options.jitter ?? 0
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw invalid('jitter', 'must be a number from 0 to 1 (the largest fraction cut from a TTL)', jitter)
  }
  const maxKeyLength = options.maxKeyLength ?? DEFAULT_MAX_KEY
  if (!Number.isInteger(maxKeyLength) || maxKeyLength < 64) {
    throw invalid('maxKeyLength', 'must be an integer of at least 64', maxKeyLength)
  }
  const timeoutMs =
    options.timeout === undefined ? DEFAULT_TIMEOUT : parseDuration(options.timeout, where('timeout'))
  if (timeoutMs < 1) throw invalid('timeout', 'must be at least 1ms', options.timeout)
  const breaker = options.breaker
  if (breaker !== undefined && breaker !== false && (breaker === null || typeof breaker !== 'object')) {
    throw invalid('breaker', 'must be false or { threshold, cooldown }', breaker)
  }
  const threshold = breaker === false ? Number.POSITIVE_INFINITY : (breaker?.threshold ?? 5)
  if (typeof threshold !== 'number' || !(threshold >= 1)) {
    throw invalid('breaker.threshold', 'must be a number of at least 1', threshold)
  }
  return {
    name: label,
    keyPrefix,
    version: String(version),
    ttlMs: options.ttl === undefined ? DEFAULT_TTL : parseDuration(options.ttl, where('ttl')),
    nullTtlMs: parseOptionalDuration(options.nullTtl, where('nullTtl')),
    jitter,
    timeoutMs,
    maxKeyLength,
    lease: resolveLease(options.lease, label, 'lease'),
    threshold,
    cooldownMs: breaker ? parseDuration(breaker.cooldown ?? '5s', where('breaker.cooldown')) : 5_000,
  }
}

function resolveLease(
  input: boolean | LeaseOptions | undefined,
  cache: string,
  field: string,
): ResolvedLease | undefined {
  if (input === undefined || input === false) return undefined
  const options = input === true ? {} : input
  const where = (name: string) => ({ cache, field: `${field}.${name}` })
  return {
    ttlMs: parseDuration(options.ttl ?? '10s', where('ttl')),
    waitMs: parseDuration(options.wait ?? '5s', where('wait')),
    pollMs: Math.max(1, parseDuration(options.pollInterval ?? '25ms', where('pollInterval'))),
  }
}

/** The implementation behind {@link createCache}; exported for subclassing by tiered caches. */
export class CacheImpl implements Cache {
  readonly name: string
  readonly keyPrefix: string
  readonly version: string
  readonly adapter: AnyCacheAdapter

  // The adapter as the core drives it: it stores whatever `Stored` form this cache produces.
  private readonly store: CacheAdapter<any>
  private readonly base: string
  private readonly tagBase: string
  private readonly leaseBase: string
  private readonly byReference: boolean
  private readonly ttlMs: number
  private readonly nullTtlMs: number | undefined
  private readonly jitter: number
  private readonly timeoutMs: number
  private readonly maxKeyLength: number
  private readonly lease: ResolvedLease | undefined
  private readonly logger: CacheLogger | undefined
  private readonly breaker: CircuitBreaker
  private readonly recorder = new StatsRecorder()
  private readonly inflight = new Map<string, Promise<unknown>>()
  private readonly keyInfos = new Map<string, KeyInfo>()
  private readonly listeners: { [E in CacheEventName]?: Array<(payload: CacheEvents[E]) => void> } = {}
  private closed = false

  constructor(options: CacheOptions) {
    const settings = resolveSettings(options)
    const adapter = options.adapter
    if (
      adapter === null ||
      typeof adapter !== 'object' ||
      typeof adapter.get !== 'function' ||
      typeof adapter.set !== 'function' ||
      typeof adapter.capabilities !== 'object'
    ) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${settings.name}": option "adapter" must be a cache adapter such as memoryAdapter() or redisAdapter(), got ${typeof adapter}`,
        { cache: settings.name, field: 'adapter' },
      )
    }
    this.name = settings.name
    this.keyPrefix = settings.keyPrefix
    this.version = settings.version
    this.adapter = adapter
    this.store = adapter
    this.base = `${this.keyPrefix}:${this.version}:`
    this.tagBase = `${this.keyPrefix}:${this.version}#tag:`
    this.leaseBase = `${this.keyPrefix}:${this.version}#lease:`
    this.byReference = adapter.capabilities.byReference === true
    this.ttlMs = settings.ttlMs
    this.nullTtlMs = settings.nullTtlMs
    this.jitter = settings.jitter
    this.timeoutMs = settings.timeoutMs
    this.maxKeyLength = settings.maxKeyLength
    this.logger = options.logger
    this.lease = settings.lease
    this.breaker = new CircuitBreaker(this.name, settings.threshold, settings.cooldownMs, this.logger)
  }

  // ---------------------------------------------------------------- keys

  fullKey(key: string): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new CacheError(
        ErrorCodes.INVALID_KEY,
        `cache "${this.name}": a key must be a non-empty string, got ${key === '' ? 'an empty string' : typeof key}`,
        { cache: this.name },
      )
    }
    return this.base + (key.length > this.maxKeyLength ? boundKey(key, this.maxKeyLength) : key)
  }

  // ---------------------------------------------------------------- reads

  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      this.assertOpen()
      const result = this.read(key, this.info(key))
      if (result instanceof Promise)
        return result.then((value) => (value === MISS ? undefined : (value as T)))
      return Promise.resolve(result === MISS ? undefined : (result as T))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen()
    return (await this.read(key, this.info(key), false)) !== MISS
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.assertOpen()
    const fulls = this.fullKeys(keys)
    if (fulls.length === 0) return []
    const raws = await this.call('getMany', undefined, () => this.store.getMany(fulls))
    const entries: Array<Entry | undefined> = fulls.map((_, i) =>
      raws === MISS ? undefined : this.decode(raws[i]),
    )
    const valid = await this.checkTags(entries)
    const now = Date.now()
    return entries.map((entry, i) => {
      const key = keys[i]!
      const info = this.info(key)
      if (entry !== undefined && valid[i] && (entry.expiresAt === 0 || entry.expiresAt > now)) {
        return this.hit(key, info, entry.value) as T
      }
      this.missed(key, info)
      return undefined
    })
  }

  /**
   * One read: the fresh value, or MISS. Synchronous when the adapter answers synchronously and the
   * entry is untagged, so in-process hits cost no extra microtask.
   */
  private read(key: string, info: KeyInfo, countIt = true): unknown {
    // The hot path of every hit: no closure, no option objects, no promise for synchronous stores.
    if (!this.breaker.allow()) return countIt ? this.missed(key, info) : MISS
    let raw: Stored | undefined | Promise<Stored | undefined>
    try {
      raw = this.store.get(info.full)
    } catch (error) {
      this.failed('get', key, error)
      return countIt ? this.missed(key, info) : MISS
    }
    if (raw instanceof Promise) {
      return this.settle(raw, 'get', key, undefined).then((r) => this.interpret(key, info, r, countIt))
    }
    this.breaker.success()
    return this.interpret(key, info, raw, countIt)
  }

  private interpret(key: string, info: KeyInfo, raw: Stored | undefined | Miss, countIt: boolean): unknown {
    const entry = raw === MISS ? undefined : this.decode(raw)
    if (entry === undefined || (entry.expiresAt !== 0 && entry.expiresAt <= Date.now())) {
      return countIt ? this.missed(key, info) : MISS
    }
    if (entry.tags === undefined) return countIt ? this.hit(key, info, entry.value) : entry.value
    const verdict = this.checkTags([entry])
    const finish = (valid: boolean[]) => {
      if (!valid[0]) return countIt ? this.missed(key, info) : MISS
      return countIt ? this.hit(key, info, entry.value) : entry.value
    }
    return verdict instanceof Promise ? verdict.then(finish) : finish(verdict)
  }

  private hit(key: string, info: KeyInfo, value: unknown): unknown {
    this.recorder.total.hits++
    info.counters.hits++
    if (this.debugOn()) this.logger!.debug!({ cache: this.name, key }, `cache hit ${this.name}:${key}`)
    if (this.listeners.hit !== undefined) this.emit('hit', { key, prefix: prefixOf(key) })
    return value
  }

  private missed(key: string, info: KeyInfo): Miss {
    this.recorder.total.misses++
    info.counters.misses++
    if (this.debugOn()) this.logger!.debug!({ cache: this.name, key }, `cache miss ${this.name}:${key}`)
    if (this.listeners.miss !== undefined) this.emit('miss', { key, prefix: prefixOf(key) })
    return MISS
  }

  private debugOn(): boolean {
    const logger = this.logger
    return logger?.debug !== undefined && (logger.isLevelEnabled?.('debug') ?? true)
  }

  /** The stored form and counters of `key`, validated on first use and then remembered. */
  private info(key: string): KeyInfo {
    let info = this.keyInfos.get(key)
    if (info === undefined) {
      const full = this.fullKey(key)
      info = { full, counters: this.recorder.of(prefixOf(key)) }
      if (this.keyInfos.size >= KEY_MEMO_LIMIT) this.keyInfos.clear()
      this.keyInfos.set(key, info)
    }
    return info
  }

  private decode(raw: Stored | undefined): Entry | undefined {
    if (raw === undefined || raw === null) return undefined
    if (this.byReference) return raw as Entry
    const entry = decodeEntry(raw as Uint8Array)
    if (entry === undefined) this.recorder.undecodable++
    return entry
  }

  /**
   * Whether each entry's tags still carry the epochs it was written with. All tag keys of all entries
   * are read in one batch; a tag key that is missing (evicted, expired) invalidates its entries, which
   * keeps tags correct when the store evicts.
   */
  private checkTags(entries: ReadonlyArray<Entry | undefined>): boolean[] | Promise<boolean[]> {
    const tagKeys: string[] = []
    const index = new Map<string, number>()
    for (const entry of entries) {
      for (const [tag] of entry?.tags ?? []) {
        if (!index.has(tag)) {
          index.set(tag, tagKeys.length)
          tagKeys.push(this.tagBase + tag)
        }
      }
    }
    const all = entries.map(() => true)
    if (tagKeys.length === 0) return all
    const judge = (raws: Array<Stored | undefined> | Miss): boolean[] =>
      entries.map((entry) => {
        if (entry?.tags === undefined) return true
        if (raws === MISS) return false
        return entry.tags.every(([tag, epoch]) => {
          const current = raws[index.get(tag)!]
          return current !== undefined && this.epochOf(current) === epoch
        })
      })
    const raws = this.call('getMany', undefined, () => this.store.getMany(tagKeys))
    return raws instanceof Promise ? raws.then(judge) : judge(raws as Stored[] | Miss)
  }

  private epochOf(stored: Stored): string {
    return this.byReference ? String(stored) : latin1(stored as Uint8Array)
  }

  // ---------------------------------------------------------------- writes

  async set<T>(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.assertOpen()
    const full = this.fullKey(key)
    const ttlMs = this.ttlOf(options?.ttl, 'ttl')
    const tags = this.validTags(options?.tags)
    if (ttlMs === 0) return true
    // Encode before anything touches the store, so a bad value leaves nothing half-written.
    const entry = this.entryOf(value, ttlMs)
    let stored = this.toStored(entry, key)
    if (tags) {
      const stamps = await this.stampTags(tags, ttlMs)
      if (stamps === undefined) return false
      entry.tags = stamps
      stored = this.toStored(entry, key)
    }
    const ok = (await this.call('set', key, () => this.store.set(full, stored, ttlMs))) !== MISS
    if (ok) this.counted('sets', key)
    return ok
  }

  async setMany(entries: readonly SetManyEntry[]): Promise<boolean> {
    this.assertOpen()
    if (!Array.isArray(entries)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.name}": setMany takes an array of { key, value }`,
        {
          cache: this.name,
        },
      )
    }
    // Validate and encode every entry first: one bad value rejects the batch before any write.
    const prepared = entries.map((item) => {
      const full = this.fullKey(item.key)
      const ttlMs = this.ttlOf(item.ttl, 'ttl')
      const entry = this.entryOf(item.value, ttlMs)
      return {
        key: item.key,
        full,
        ttlMs,
        entry,
        stored: this.toStored(entry, item.key),
        tags: this.validTags(item.tags),
      }
    })
    const allTags = [...new Set(prepared.flatMap((p) => p.tags ?? []))]
    if (allTags.length > 0) {
      const stamps = await this.stampTags(allTags, Math.max(...prepared.map((p) => p.ttlMs)))
      if (stamps === undefined) return false
      const epochs = new Map(stamps)
      for (const p of prepared) {
        if (p.tags === undefined) continue
        p.entry.tags = p.tags.map((tag): TagStamp => [tag, epochs.get(tag)!])
        p.stored = this.toStored(p.entry, p.key)
      }
    }
    const batch = prepared
      .filter((p) => p.ttlMs > 0)
      .map((p) => ({ key: p.full, value: p.stored, ttlMs: p.ttlMs }))
    if (batch.length === 0) return true
    const ok = (await this.call('setMany', undefined, () => this.store.setMany(batch as never))) !== MISS
    if (ok) for (const p of prepared) if (p.ttlMs > 0) this.counted('sets', p.key)
    return ok
  }

  async getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions<T>): Promise<T> {
    this.assertOpen()
    if (typeof loader !== 'function') {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.name}": getOrSet("${key}") needs a loader function`,
        {
          cache: this.name,
          key,
          field: 'loader',
        },
      )
    }
    const info = this.info(key)
    const full = info.full
    const joined = this.inflight.get(full)
    if (joined !== undefined) return joined as Promise<T>
    const first = this.read(key, info)
    if (!(first instanceof Promise) && first !== MISS) return first as T
    // From here on, concurrent callers for this key share one read and at most one loader run.
    const run = (async () => {
      const value = first instanceof Promise ? await first : first
      if (value !== MISS) return value as T
      const lease =
        options?.lease === undefined ? this.lease : resolveLease(options.lease, this.name, 'lease')
      return lease && this.adapter.capabilities.atomicSetIfAbsent && this.store.setIfAbsent
        ? this.loadWithLease(key, info, loader, options, lease)
        : this.load(key, loader, options)
    })()
    this.inflight.set(full, run)
    const forget = () => this.inflight.delete(full)
    run.then(forget, forget)
    return run
  }

  /** Runs the loader and stores its result by the rules: errors never cached, null cached with nullTtl. */
  private async load<T>(
    key: string,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    const started = performance.now()
    let value: T
    try {
      value = await loader()
    } finally {
      this.recorder.load(prefixOf(key), performance.now() - started)
    }
    if (options?.condition && !options.condition(value)) return value
    const isNull = value === null || value === undefined
    const nullTtl = options?.nullTtl ?? (isNull && this.nullTtlMs !== undefined ? this.nullTtlMs : undefined)
    const ttl = isNull && nullTtl !== undefined ? nullTtl : options?.ttl
    const tags = typeof options?.tags === 'function' ? options.tags(value) : options?.tags
    await this.set(key, value, { ttl, tags })
    return value
  }

  /**
   * Cross-process single flight: the process that wins `SET NX PX` on the lease key runs the loader;
   * the others poll for its value and run the loader themselves only when the wait runs out.
   */
  private async loadWithLease<T>(
    key: string,
    info: KeyInfo,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
    lease: ResolvedLease,
  ): Promise<T> {
    const leaseKey = this.leaseBase + info.full.slice(this.base.length)
    const token = newEpoch()
    const stored = this.byReference ? token : Buffer.from(token, 'latin1')
    const deadline = Date.now() + lease.waitMs
    for (;;) {
      const acquired = await this.call('setIfAbsent', key, () =>
        this.store.setIfAbsent!(leaseKey, stored, lease.ttlMs),
      )
      if (acquired === MISS) return this.load(key, loader, options)
      if (acquired) {
        try {
          // The previous holder may have written the value between our read and our lease.
          const value = await this.read(key, info, false)
          if (value !== MISS) return value as T
          return await this.load(key, loader, options)
        } finally {
          await this.call('deleteIfEquals', key, () => this.store.deleteIfEquals!(leaseKey, stored))
        }
      }
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, lease.pollMs))
        const value = await this.read(key, info, false)
        if (value !== MISS) return this.hit(key, info, value) as T
        const holder = await this.call('get', key, () => this.store.get(leaseKey))
        if (holder === undefined) break
      }
      if (Date.now() >= deadline) return this.load(key, loader, options)
    }
  }

  // ---------------------------------------------------------------- invalidation

  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    const full = this.fullKey(key)
    const removed = await this.must('delete', key, () => this.store.delete(full))
    this.counted('deletes', key)
    return removed
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.assertOpen()
    const fulls = this.fullKeys(keys)
    if (fulls.length === 0) return 0
    const removed = await this.must('deleteMany', undefined, () => this.store.deleteMany(fulls))
    for (const key of keys) this.counted('deletes', key)
    return removed
  }

  async deletePattern(pattern: string): Promise<number> {
    this.assertOpen()
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw new CacheError(
        ErrorCodes.INVALID_PATTERN,
        `cache "${this.name}": a pattern must be a non-empty glob such as "filter_counts:*", got ${JSON.stringify(pattern)}`,
        { cache: this.name },
      )
    }
    const removed = await this.must('deletePattern', undefined, () =>
      this.store.deleteByPattern(escapeGlob(this.base) + pattern),
    )
    this.recorder.add(prefixOf(pattern), 'deletes', removed)
    this.emit('delete', { key: pattern, prefix: prefixOf(pattern) })
    return removed
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.assertOpen()
    const valid = this.validTags(tags) ?? []
    if (valid.length === 0) return
    // A new epoch per tag: every entry stamped with an older one now reads as a miss, on every process.
    const batch = valid.map((tag) => ({
      key: this.tagBase + tag,
      value: this.byReference ? newEpoch() : Buffer.from(newEpoch(), 'latin1'),
      ttlMs: this.tagTtl(0),
    }))
    await this.must('invalidateTags', undefined, () => this.store.setMany(batch as never))
    for (const tag of valid) this.emit('delete', { key: `tag:${tag}`, prefix: `tag:${tag}` })
  }

  async clear(): Promise<void> {
    this.assertOpen()
    await this.must('clear', undefined, () => this.store.clear(this.base))
    this.emit('delete', { key: '*', prefix: '*' })
  }

  // ---------------------------------------------------------------- observability and lifecycle

  stats(): CacheStats {
    const { total, byPrefix } = this.recorder.snapshot()
    const reads = total.hits + total.misses
    return {
      name: this.name,
      adapter: this.adapter.name,
      ...total,
      hitRate: reads === 0 ? 0 : total.hits / reads,
      undecodable: this.recorder.undecodable,
      circuit: this.breaker.state,
      byPrefix,
    }
  }

  status(): AdapterStatus {
    if (this.closed) return 'closed'
    if (this.breaker.state === 'open') return 'unavailable'
    return this.adapter.status?.() ?? 'ready'
  }

  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    let list = this.listeners[event] as Array<(payload: CacheEvents[E]) => void> | undefined
    if (list === undefined) {
      list = []
      ;(this.listeners as Record<string, unknown>)[event] = list
    }
    list.push(listener)
    return () => {
      const at = list.indexOf(listener)
      if (at !== -1) list.splice(at, 1)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.adapter.close()
  }

  // ---------------------------------------------------------------- internals

  private assertOpen(): void {
    if (this.closed) {
      throw new CacheError(ErrorCodes.CLOSED, `cache "${this.name}" is closed`, { cache: this.name })
    }
  }

  private fullKeys(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) {
      throw new CacheError(ErrorCodes.INVALID_KEY, `cache "${this.name}": keys must be an array of strings`, {
        cache: this.name,
      })
    }
    return keys.map((key) => this.fullKey(key))
  }

  private ttlOf(ttl: Duration | undefined, field: string): number {
    const ms = ttl === undefined ? this.ttlMs : parseDuration(ttl, { cache: this.name, field })
    if (ms === 0 || this.jitter === 0) return ms
    return Math.max(1, Math.round(ms * (1 - Math.random() * this.jitter)))
  }

  private tagTtl(entryTtlMs: number): number {
    // Tag keys outlive their entries; if one is evicted anyway, its entries read as misses (safe).
    return Math.min(MAX_TTL, Math.max(TAG_TTL_FLOOR, entryTtlMs * 2))
  }

  private validTags(tags: readonly string[] | undefined): string[] | undefined {
    if (tags === undefined) return undefined
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag.length === 0)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.name}": tags must be an array of non-empty strings`,
        {
          cache: this.name,
          field: 'tags',
        },
      )
    }
    return tags.length === 0 ? undefined : [...new Set(tags)]
  }

  /** The current epoch of each tag, creating missing ones; undefined when the store failed. */
  private async stampTags(tags: readonly string[], entryTtlMs: number): Promise<TagStamp[] | undefined> {
    const keys = tags.map((tag) => this.tagBase + tag)
    const raws = await this.call('getMany', undefined, () => this.store.getMany(keys))
    if (raws === MISS) return undefined
    const stamps: TagStamp[] = []
    for (let i = 0; i < tags.length; i++) {
      const raw = raws[i]
      if (raw !== undefined) {
        stamps.push([tags[i]!, this.epochOf(raw)])
        continue
      }
      const epoch = newEpoch()
      const stored = this.byReference ? epoch : Buffer.from(epoch, 'latin1')
      const ttl = this.tagTtl(entryTtlMs)
      const created = this.store.setIfAbsent
        ? await this.call('setIfAbsent', undefined, () => this.store.setIfAbsent!(keys[i]!, stored, ttl))
        : (await this.call('set', undefined, () => this.store.set(keys[i]!, stored, ttl))) !== MISS
      if (created === MISS) return undefined
      if (created) {
        stamps.push([tags[i]!, epoch])
        continue
      }
      // Another writer created the tag first: use its epoch.
      const again = await this.call('get', undefined, () => this.store.get(keys[i]!))
      if (again === MISS || again === undefined) return undefined
      stamps.push([tags[i]!, this.epochOf(again)])
    }
    return stamps
  }

  private entryOf(value: unknown, ttlMs: number): Entry {
    const now = Date.now()
    const expiresAt = ttlMs > 0 ? now + ttlMs : 0
    return { value, createdAt: now, expiresAt, staleUntil: expiresAt, tags: undefined }
  }

  private toStored(entry: Entry, key: string): Stored {
    return this.byReference ? entry : encodeEntry(entry, key, this.name)
  }

  /**
   * Runs one store operation under the breaker and the deadline. Returns its result, or MISS when
   * the operation was skipped, failed or timed out (already counted, logged and emitted).
   * Synchronous adapters get a synchronous answer.
   */
  private call<R>(
    operation: string,
    key: string | undefined,
    run: () => R | Promise<R>,
    onError?: (error: unknown) => void,
  ): R | Miss | Promise<R | Miss> {
    if (!this.breaker.allow()) return MISS
    let result: R | Promise<R>
    try {
      result = run()
    } catch (error) {
      this.failed(operation, key, error, onError)
      return MISS
    }
    if (!(result instanceof Promise)) {
      this.breaker.success()
      return result
    }
    return this.settle(result, operation, key, onError)
  }

  /** Waits for a store promise up to the deadline; failures and timeouts become MISS. */
  private settle<R>(
    pending: Promise<R>,
    operation: string,
    key: string | undefined,
    onError: ((error: unknown) => void) | undefined,
  ): Promise<R | Miss> {
    return new Promise<R | Miss>((resolve) => {
      const timer = setTimeout(() => {
        const error = new CacheError(
          ErrorCodes.TIMEOUT,
          `cache "${this.name}": store ${operation} took longer than ${this.timeoutMs}ms`,
          { cache: this.name, key },
        )
        this.failed(operation, key, error, onError)
        resolve(MISS)
      }, this.timeoutMs)
      pending.then(
        (value) => {
          clearTimeout(timer)
          this.breaker.success()
          resolve(value)
        },
        (error) => {
          clearTimeout(timer)
          this.failed(operation, key, error, onError)
          resolve(MISS)
        },
      )
    })
  }

  /** Like `call`, but for operations whose failure the caller must hear about (deletes, clear). */
  private async must<R>(operation: string, key: string | undefined, run: () => R | Promise<R>): Promise<R> {
    let failure: unknown
    const result = await this.call(operation, key, run, (error) => {
      failure = error
    })
    if (result !== MISS) return result as R
    throw new CacheError(
      ErrorCodes.ADAPTER,
      `cache "${this.name}": ${operation} could not reach the store (${failure === undefined ? 'circuit open' : asError(failure).message}); the entries may still be there`,
      { cache: this.name, key, cause: failure },
    )
  }

  private failed(
    operation: string,
    key: string | undefined,
    error: unknown,
    onError?: (error: unknown) => void,
  ): void {
    const err = asError(error)
    onError?.(err)
    this.breaker.failure(operation, err)
    this.recorder.add(key === undefined ? '' : prefixOf(key), 'errors')
    this.emit('error', { operation, error: err, key })
  }

  /** Counts a write or delete of `key` and tells subscribers. */
  private counted(field: 'sets' | 'deletes', key: string): void {
    const info = this.info(key)
    this.recorder.total[field]++
    info.counters[field]++
    const event = field === 'sets' ? 'set' : 'delete'
    if (this.listeners[event] !== undefined) this.emit(event, { key, prefix: prefixOf(key) })
  }

  private emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const list = this.listeners[event] as Listener[] | undefined
    if (list === undefined) return
    for (const listener of [...list]) {
      try {
        ;(listener as (p: CacheEvents[E]) => void)(payload)
      } catch (error) {
        this.logger?.error?.(
          { cache: this.name, event, err: error },
          `cache "${this.name}": a "${event}" listener threw`,
        )
      }
    }
  }
}
