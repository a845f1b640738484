import type { AdapterStatus, AnyCacheAdapter, CacheAdapter } from './adapter.js'
import { type Invalidation, InvalidationBus } from './bus.js'
import { DecodeMemo, decodeEntry, encodeEntry } from './codec.js'
import { boundKey } from './digest.js'
import { parseDuration, parseOptionalDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import { escapeGlob } from './glob.js'
import { Guard, MISS, type Miss } from './guard.js'
import { type ResolvedLease, resolveLease, resolveSettings, type Settings } from './settings.js'
import { prefixOf, StatsRecorder } from './stats.js'
import type {
  BatchLoader,
  Cache,
  CacheCounters,
  CacheEventName,
  CacheEvents,
  CacheOptions,
  CacheStats,
  Duration,
  Entry,
  GetOrSetOptions,
  SetManyEntry,
  SetOptions,
  TagStamp,
} from './types.js'

/** Creates a cache: the core's rules on top of one adapter, or of an L1 in front of it. */
export function createCache(options: CacheOptions): Cache {
  return new CacheImpl(options)
}

// Stored form of an entry: bytes for ordinary adapters, the entry itself for by-reference ones.
type Stored = Uint8Array | Entry
// What a read gets from the store: one entry, or the entry and its tag epochs from one batched call.
type StoreAnswer = Stored | undefined | Array<Stored | undefined>
type Listener = (payload: never) => void

// Keys whose full form and counters are remembered; past this the memo starts over (hot keys come
// back at once, so a plain reset beats LRU bookkeeping on every read).
const KEY_MEMO_LIMIT = 10_000
const TAG_TTL_FLOOR = 30 * 24 * 60 * 60_000
const MAX_TTL = 10 * 365 * 24 * 60 * 60_000
// The longest ready() waits for the invalidation bus's first answer.
const READY_WAIT_MS = 5_000

/** What a read needs to know about a key, computed once per key instead of once per read. */
interface KeyInfo {
  /** The key as stored. */
  full: string
  /** The counters of the key's prefix. */
  counters: CacheCounters
  /**
   * The full key followed by the tag keys the entry was last seen with. A read then fetches the
   * entry and its tag epochs in ONE batched call instead of two round trips.
   */
  batch: string[] | undefined
}

// Entries with more tags than this are checked in a second round trip rather than widening every read.
const MAX_HINTED_TAGS = 8

/** Staleness rules of one getOrSet call, resolved from its options and the cache's. */
interface StaleRules {
  staleMs: number
  graceMs: number
  softTimeoutMs: number | undefined
}

const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')

const newEpoch = (): string => `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`

const isFresh = (entry: Entry, now: number): boolean => entry.expiresAt === 0 || entry.expiresAt > now

const isUsable = (entry: Entry, now: number): boolean => entry.staleUntil === 0 || entry.staleUntil > now

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
 * The implementation behind {@link createCache}.
 *
 * Reads try the in-process L1 (when configured), then the store (L2), and fill L1 from L2 with the
 * entry's remaining lifetime. Writes and invalidations go to both, and are announced on the
 * invalidation bus so other instances drop their L1 copies. An entry lives in the store until its
 * fresh TTL plus the longer of the stale-while-revalidate and grace windows has passed.
 */
export class CacheImpl implements Cache {
  readonly name: string
  readonly keyPrefix: string
  readonly version: string
  readonly adapter: AnyCacheAdapter
  /** The in-process first tier, when configured. */
  readonly l1: AnyCacheAdapter | undefined

  // The adapters as the core drives them: they store whatever `Stored` form this cache produces.
  private readonly store: CacheAdapter<any>
  private readonly near: CacheAdapter<any> | undefined
  private readonly storeByRef: boolean
  private readonly nearByRef: boolean
  private readonly needsBytes: boolean
  // In-process tiers hand back the same bytes on every hit; their first decode is remembered.
  private readonly storeMemo: DecodeMemo | undefined
  private readonly nearMemo: DecodeMemo | undefined
  private readonly settings: Settings
  private readonly logger: Settings['logger']
  private readonly guard: Guard
  private readonly base: string
  private readonly tagBase: string
  private readonly leaseBase: string
  private readonly recorder = new StatsRecorder()
  private readonly inflight = new Map<string, Promise<unknown>>()
  private readonly refreshing = new Map<string, Promise<unknown>>()
  private readonly keyInfos = new Map<string, KeyInfo>()
  private readonly listeners: { [E in CacheEventName]?: Array<(payload: CacheEvents[E]) => void> } = {}
  private readonly bus: InvalidationBus | undefined
  // L1 entries are served only while no invalidation can have been missed: with a bus, only while
  // it is subscribed. Untrusted, L1 is consulted only when L2 cannot answer.
  private nearTrusted: boolean
  private busState: 'connecting' | 'connected' | 'disconnected' | 'off'
  private readonly readyWaiters: Array<() => void> = []
  // Bumped by every invalidation that reaches L1; an L2 read that started before a bump must not
  // fill L1, or it could put back a value the invalidation just removed.
  private generation = 0
  private closed = false

  constructor(options: CacheOptions) {
    const settings = resolveSettings(options)
    assertAdapter(options.adapter, settings.name, 'adapter')
    if (options.l1 !== undefined) {
      assertAdapter(options.l1, settings.name, 'l1')
      if (options.l1.capabilities.shared) {
        throw new CacheError(
          ErrorCodes.INVALID_CONFIG,
          `cache "${settings.name}": option "l1" must be an in-process adapter such as memoryAdapter(), got the shared "${options.l1.name}" adapter`,
          { cache: settings.name, field: 'l1' },
        )
      }
    }
    this.settings = settings
    this.name = settings.name
    this.keyPrefix = settings.keyPrefix
    this.version = settings.version
    this.adapter = options.adapter
    this.l1 = options.l1
    this.store = options.adapter
    this.near = options.l1
    this.storeByRef = this.store.capabilities.byReference === true
    this.nearByRef = this.near?.capabilities.byReference === true
    this.needsBytes = !this.storeByRef || (this.near !== undefined && !this.nearByRef)
    this.storeMemo = this.storeByRef || this.store.capabilities.shared ? undefined : new DecodeMemo()
    this.nearMemo = this.near === undefined || this.nearByRef ? undefined : new DecodeMemo()
    this.base = `${this.keyPrefix}:${this.version}:`
    this.tagBase = `${this.keyPrefix}:${this.version}#tag:`
    this.leaseBase = `${this.keyPrefix}:${this.version}#lease:`
    this.guard = new Guard(
      this.name,
      settings.timeoutMs,
      settings.threshold,
      settings.cooldownMs,
      settings.logger,
      (operation, key, error) => {
        this.recorder.add(key === undefined ? '' : prefixOf(key), 'errors')
        this.emit('error', { operation, error, key })
      },
      (options.adapter.capabilities.operationTimeoutMs ?? Number.POSITIVE_INFINITY) <= settings.timeoutMs,
    )
    this.logger = settings.logger

    const canBus = typeof this.store.publish === 'function' && typeof this.store.subscribe === 'function'
    if (settings.bus === true && (!canBus || this.near === undefined)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.name}": option "bus" needs an "l1" and an adapter with pub/sub; "${this.store.name}" ${canBus ? 'has it, but there is no l1' : 'has no pub/sub'}`,
        { cache: this.name, field: 'bus' },
      )
    }
    const wantsBus = this.near !== undefined && canBus && (settings.bus ?? this.store.capabilities.pubsub)
    this.nearTrusted = !wantsBus
    this.busState = wantsBus ? 'connecting' : 'off'
    if (wantsBus) {
      this.bus = new InvalidationBus(
        this.store,
        `${this.keyPrefix}:${this.version}#bus`,
        {
          onInvalidation: (invalidation) => this.applyToNear(invalidation),
          onStatus: (status) => this.busStatus(status),
        },
        this.logger,
        this.name,
      )
      void this.bus.start()
    }
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
    return (
      this.base + (key.length > this.settings.maxKeyLength ? boundKey(key, this.settings.maxKeyLength) : key)
    )
  }

  /** The stored form and counters of `key`, validated on first use and then remembered. */
  private info(key: string): KeyInfo {
    // A key built by concatenation (a decorated call's prefix and argument digest) is a tree of pieces
    // until something reads it; reading one character makes V8 flatten it, after which hashing and
    // comparing it in the memo below cost a fraction of what they cost on the tree.
    if (typeof key === 'string' && key.length > 0) key.charCodeAt(0)
    let info = this.keyInfos.get(key)
    if (info === undefined) {
      const full = this.fullKey(key)
      info = { full, counters: this.recorder.of(prefixOf(key)), batch: undefined }
      if (this.keyInfos.size >= KEY_MEMO_LIMIT) this.keyInfos.clear()
      this.keyInfos.set(key, info)
    }
    return info
  }

  // ---------------------------------------------------------------- reads

  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      this.assertOpen()
      const info = this.info(key)
      const now = Date.now()
      const found = this.lookup(key, info, true, now)
      if (found instanceof Promise) {
        return found.then((entry) => this.served(key, info, entry, Date.now()) as T | undefined)
      }
      return Promise.resolve(this.served(key, info, found, now) as T | undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async has(key: string): Promise<boolean> {
    this.assertOpen()
    const entry = await this.lookup(key, this.info(key), false)
    return entry !== undefined && isFresh(entry, Date.now())
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.assertOpen()
    const infos = this.infos(keys)
    const entries = await this.lookupMany(keys, infos)
    const now = Date.now()
    return entries.map((entry, i) => this.served(keys[i]!, infos[i]!, entry, now) as T | undefined)
  }

  /** A fresh entry's value (counted as a hit), or `undefined` (counted as a miss). */
  private served(key: string, info: KeyInfo, entry: Entry | undefined, now: number): unknown {
    if (entry !== undefined && isFresh(entry, now)) return this.hit(key, info, entry.value)
    this.missed(key, info)
    return undefined
  }

  /**
   * The entry for `key` — fresh, or stale but still within its stale/grace window — or undefined.
   * The hot path of every hit: no closure and no promise when the tiers answer synchronously.
   */
  private lookup(
    key: string,
    info: KeyInfo,
    fillNear = true,
    now = Date.now(),
  ): Entry | undefined | Promise<Entry | undefined> {
    let near: Entry | undefined
    if (this.near !== undefined) {
      near = this.nearGet(info.full, now)
      if (near !== undefined && this.nearTrusted && isFresh(near, now)) {
        this.recorder.total.l1Hits++
        info.counters.l1Hits++
        return near
      }
    }
    // An open circuit skips the store; L1, trusted or not, is then the best there is.
    if (!this.guard.breaker.allow()) {
      return this.fromStore(MISS, undefined, near, this.generation, info, fillNear, now)
    }
    const generation = this.generation
    const batch = info.batch
    let raw: StoreAnswer | Promise<StoreAnswer>
    try {
      raw = batch === undefined ? this.store.get(info.full) : this.store.getMany(batch)
    } catch (error) {
      this.guard.fail('get', key, error)
      return near
    }
    if (raw instanceof Promise) {
      const operation = batch === undefined ? 'get' : 'getMany'
      if (this.guard.selfBounded) {
        // The store times itself out: one promise step instead of a guarded wait and then a decode.
        return raw.then(
          (answer) => {
            this.guard.breaker.success()
            return this.fromStore(answer, batch, near, generation, info, fillNear, Date.now())
          },
          (error) => {
            this.guard.fail(operation, key, error)
            return this.fromStore(MISS, batch, near, generation, info, fillNear, Date.now())
          },
        )
      }
      return this.guard
        .settle(raw, operation, key)
        .then((settled) => this.fromStore(settled, batch, near, generation, info, fillNear, Date.now()))
    }
    this.guard.breaker.success()
    return this.fromStore(raw, batch, near, generation, info, fillNear, now)
  }

  private fromStore(
    answer: StoreAnswer | Miss,
    batch: string[] | undefined,
    near: Entry | undefined,
    generation: number,
    info: KeyInfo,
    fillNear: boolean,
    now: number,
  ): Entry | undefined | Promise<Entry | undefined> {
    // The store failed: an L1 copy, even an untrusted one, beats nothing while the store is down.
    if (answer === MISS) {
      if (near !== undefined) {
        this.recorder.total.l1Hits++
        info.counters.l1Hits++
      }
      return near
    }
    const raw =
      batch === undefined ? (answer as Stored | undefined) : (answer as Array<Stored | undefined>)[0]
    const entry = this.decode(raw, this.storeByRef, this.storeMemo)
    if (entry === undefined || !isUsable(entry, now)) return this.nearTrusted ? near : undefined
    if (entry.tags === undefined) {
      if (batch !== undefined) info.batch = undefined
      return fillNear && this.near !== undefined
        ? this.adopt(info.full, entry, raw as Stored, generation)
        : entry
    }
    const keep = (valid: boolean) => {
      if (!valid) return undefined
      return fillNear ? this.adopt(info.full, entry, raw as Stored, generation) : entry
    }
    if (batch !== undefined) {
      const verdict = this.judgeHinted(entry.tags, batch, answer as Array<Stored | undefined>)
      if (verdict !== undefined) return keep(verdict)
    }
    this.hintTags(info, entry.tags)
    const verdict = this.checkTags([entry])
    return verdict instanceof Promise ? verdict.then((valid) => keep(valid[0]!)) : keep(verdict[0]!)
  }

  /** Checks tag epochs fetched with the entry; undefined when a tag was not among them. */
  private judgeHinted(
    tags: readonly TagStamp[],
    batch: readonly string[],
    answer: ReadonlyArray<Stored | undefined>,
  ): boolean | undefined {
    for (const [tag, epoch] of tags) {
      const at = batch.indexOf(this.tagBase + tag, 1)
      if (at === -1) return undefined
      const current = answer[at]
      if (current === undefined || this.epochOf(current) !== epoch) return false
    }
    return true
  }

  private hintTags(info: KeyInfo, tags: readonly TagStamp[]): void {
    info.batch =
      tags.length <= MAX_HINTED_TAGS ? [info.full, ...tags.map(([tag]) => this.tagBase + tag)] : undefined
  }

  /** Copies an entry read from L2 into L1, unless an invalidation arrived while it was read. */
  private adopt(full: string, entry: Entry, raw: Stored, generation: number): Entry {
    if (this.near !== undefined && generation === this.generation) {
      const bytes = this.storeByRef ? undefined : (raw as Uint8Array)
      this.nearPut(full, entry, bytes, entry.staleUntil === 0 ? undefined : entry.staleUntil - Date.now())
    }
    return entry
  }

  private async lookupMany(
    keys: readonly string[],
    infos: readonly KeyInfo[],
  ): Promise<Array<Entry | undefined>> {
    const now = Date.now()
    const found: Array<Entry | undefined> = new Array(keys.length).fill(undefined)
    const nearFound: Array<Entry | undefined> = new Array(keys.length).fill(undefined)
    const wanted: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const near = this.near === undefined ? undefined : this.nearGet(infos[i]!.full, now)
      if (near !== undefined && this.nearTrusted && isFresh(near, now)) {
        this.recorder.total.l1Hits++
        infos[i]!.counters.l1Hits++
        found[i] = near
      } else {
        nearFound[i] = near
        wanted.push(i)
      }
    }
    if (wanted.length === 0) return found
    const generation = this.generation
    const fulls = wanted.map((i) => infos[i]!.full)
    const raws = await this.guard.call('getMany', undefined, () => this.store.getMany(fulls))
    if (raws === MISS) {
      for (const i of wanted) found[i] = nearFound[i]
      return found
    }
    const entries = wanted.map((_, j) => {
      const entry = this.decode(raws[j], this.storeByRef, this.storeMemo)
      return entry !== undefined && isUsable(entry, now) ? entry : undefined
    })
    const valid = await this.checkTags(entries)
    wanted.forEach((i, j) => {
      const entry = entries[j]
      if (entry !== undefined && valid[j]) found[i] = this.adopt(fulls[j]!, entry, raws[j]!, generation)
      else found[i] = this.nearTrusted ? nearFound[i] : undefined
    })
    return found
  }

  private nearGet(full: string, now: number): Entry | undefined {
    let raw: unknown
    try {
      raw = this.near!.get(full)
    } catch {
      return undefined
    }
    // L1 must answer synchronously; a promise (a misconfigured L1) counts as absent.
    if (raw === undefined || raw instanceof Promise) return undefined
    const entry = this.decode(raw as Stored, this.nearByRef, this.nearMemo)
    return entry !== undefined && isUsable(entry, now) ? entry : undefined
  }

  private nearPut(
    full: string,
    entry: Entry,
    bytes: Uint8Array | undefined,
    ttlMs: number | undefined,
  ): void {
    if (this.near === undefined || (ttlMs !== undefined && ttlMs <= 0)) return
    try {
      const stored = this.nearByRef ? entry : (bytes ?? encodeEntry(entry, full, this.name))
      void this.near.set(full, stored, ttlMs === undefined ? undefined : Math.ceil(ttlMs))
    } catch {
      // L1 is an optimisation: failing to fill it must never fail a read or a write.
    }
  }

  private decode(raw: Stored | undefined, byRef: boolean, memo: DecodeMemo | undefined): Entry | undefined {
    if (raw === undefined || raw === null) return undefined
    // By reference, only entries this core wrote are usable; anything else is foreign data.
    if (byRef) {
      const entry = raw as Entry
      if (
        typeof entry === 'object' &&
        typeof entry.expiresAt === 'number' &&
        typeof entry.staleUntil === 'number'
      ) {
        return entry
      }
      this.recorder.undecodable++
      return undefined
    }
    const entry = memo === undefined ? decodeEntry(raw as Uint8Array) : memo.decode(raw as Uint8Array)
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
    if (tagKeys.length === 0) return entries.map(() => true)
    const judge = (raws: Array<Stored | undefined> | Miss): boolean[] =>
      entries.map((entry) => {
        if (entry?.tags === undefined) return true
        if (raws === MISS) return false
        return entry.tags.every(([tag, epoch]) => {
          const current = raws[index.get(tag)!]
          return current !== undefined && this.epochOf(current) === epoch
        })
      })
    const raws = this.guard.call('getMany', undefined, () => this.store.getMany(tagKeys))
    return raws instanceof Promise ? raws.then(judge) : judge(raws as Stored[] | Miss)
  }

  private epochOf(stored: Stored): string {
    return this.storeByRef ? String(stored) : latin1(stored as Uint8Array)
  }

  private epochStored(epoch: string): Stored {
    return (this.storeByRef ? epoch : Buffer.from(epoch, 'latin1')) as Stored
  }

  // ---------------------------------------------------------------- getOrSet

  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions<T>): Promise<T> {
    // Not an async function: a hit, the common case, then costs one resolved promise and nothing more.
    let info: KeyInfo
    let first: Entry | undefined | Promise<Entry | undefined>
    try {
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
      info = this.info(key)
      const joined = this.inflight.get(info.full)
      if (joined !== undefined) return joined as Promise<T>
      const now = Date.now()
      first = this.lookup(key, info, true, now)
      if (!(first instanceof Promise) && first !== undefined && isFresh(first, now)) {
        return Promise.resolve(this.hit(key, info, first.value) as T)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    // From here on, concurrent callers for this key share one read and at most one loader run.
    const found = first
    const run = (async () => {
      const entry = found instanceof Promise ? await found : found
      if (entry !== undefined && isFresh(entry, Date.now())) return this.hit(key, info, entry.value) as T
      return this.resolveMiss(key, info, entry, loader, options)
    })()
    const full = info.full
    this.inflight.set(full, run)
    const forget = () => this.inflight.delete(full)
    run.then(forget, forget)
    return run
  }

  /**
   * A miss, or a stale entry: serve it stale while one background refresh runs (within the
   * stale-while-revalidate window), or load — falling back to the stale value within the grace window
   * when the loader fails or, with a soft timeout, is slow.
   */
  private async resolveMiss<T>(
    key: string,
    info: KeyInfo,
    stale: Entry | undefined,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    const rules = this.staleRules(options)
    const now = Date.now()
    if (stale !== undefined && stale.expiresAt + rules.staleMs > now) {
      this.staleHit(key, info)
      this.refresh(key, info, loader, options, rules)
      return stale.value as T
    }
    this.missed(key, info)
    const loading = this.loadOnce(key, info, loader, options, rules)
    const fallback = stale !== undefined && stale.expiresAt + rules.graceMs > now ? stale : undefined
    if (fallback === undefined) return loading
    try {
      if (rules.softTimeoutMs === undefined) return await loading
      let timer: ReturnType<typeof setTimeout> | undefined
      const slow = new Promise<typeof MISS>((resolve) => {
        timer = setTimeout(() => resolve(MISS), rules.softTimeoutMs)
      })
      const first = await Promise.race([loading, slow]).finally(() => clearTimeout(timer))
      if (first !== MISS) return first as T
      // Slow loader: answer with the stale value; the load goes on and stores its result.
      loading.catch(() => {})
      this.staleHit(key, info)
      return fallback.value as T
    } catch (error) {
      this.logger?.warn?.(
        { cache: this.name, key, err: error },
        `cache "${this.name}": loader for "${key}" failed, serving the stale value within its grace period`,
      )
      this.staleHit(key, info)
      return fallback.value as T
    }
  }

  /** Runs at most one load per key at a time, whether a caller waits for it or it refreshes in the background. */
  private loadOnce<T>(
    key: string,
    info: KeyInfo,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): Promise<T> {
    const running = this.refreshing.get(info.full)
    if (running !== undefined) return running as Promise<T>
    const lease =
      options?.lease === undefined ? this.settings.lease : resolveLease(options.lease, this.name, 'lease')
    const loading =
      lease && this.store.capabilities.atomicSetIfAbsent && this.store.setIfAbsent
        ? this.loadWithLease(key, info, loader, options, rules, lease)
        : this.load(key, loader, options, rules)
    this.refreshing.set(info.full, loading)
    const forget = () => this.refreshing.delete(info.full)
    loading.then(forget, forget)
    return loading
  }

  private refresh<T>(
    key: string,
    info: KeyInfo,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): void {
    this.loadOnce(key, info, loader, options, rules).catch((error) => {
      this.logger?.warn?.(
        { cache: this.name, key, err: error },
        `cache "${this.name}": background refresh of "${key}" failed; the stale value stays until its window ends`,
      )
    })
  }

  private staleRules(options: GetOrSetOptions<any> | undefined): StaleRules {
    if (
      options === undefined ||
      (options.staleWhileRevalidate === undefined &&
        options.grace === undefined &&
        options.softTimeout === undefined)
    ) {
      return this.settings
    }
    const where = (field: string) => ({ cache: this.name, field })
    return {
      staleMs:
        parseOptionalDuration(options.staleWhileRevalidate, where('staleWhileRevalidate')) ??
        this.settings.staleMs,
      graceMs: parseOptionalDuration(options.grace, where('grace')) ?? this.settings.graceMs,
      softTimeoutMs:
        parseOptionalDuration(options.softTimeout, where('softTimeout')) ?? this.settings.softTimeoutMs,
    }
  }

  /** Runs the loader and stores its result by the rules: errors never cached, null cached with nullTtl. */
  private async load<T>(
    key: string,
    loader: () => T | Promise<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): Promise<T> {
    const started = performance.now()
    let value: T
    try {
      value = await loader()
    } finally {
      this.recorder.load(prefixOf(key), performance.now() - started)
    }
    if (options?.condition && !options.condition(value)) return value
    const tags = typeof options?.tags === 'function' ? options.tags(value) : options?.tags
    await this.write(key, value, this.ttlFor(value, options), tags, rules)
    return value
  }

  private ttlFor<T>(
    value: T,
    options: { ttl?: Duration; nullTtl?: Duration } | undefined,
  ): Duration | undefined {
    if (value !== null && value !== undefined) return options?.ttl
    return options?.nullTtl ?? this.settings.nullTtlMs ?? options?.ttl
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
    rules: StaleRules,
    lease: ResolvedLease,
  ): Promise<T> {
    const leaseKey = this.leaseBase + info.full.slice(this.base.length)
    const token = this.epochStored(newEpoch())
    const deadline = Date.now() + lease.waitMs
    const freshValue = async (): Promise<{ value: T } | undefined> => {
      const entry = await this.lookup(key, info)
      return entry !== undefined && isFresh(entry, Date.now()) ? { value: entry.value as T } : undefined
    }
    for (;;) {
      const acquired = await this.guard.call('setIfAbsent', key, () =>
        this.store.setIfAbsent!(leaseKey, token, lease.ttlMs),
      )
      if (acquired === MISS) return this.load(key, loader, options, rules)
      if (acquired) {
        try {
          // The previous holder may have written the value between our read and our lease.
          const found = await freshValue()
          if (found !== undefined) return found.value
          return await this.load(key, loader, options, rules)
        } finally {
          await this.guard.call('deleteIfEquals', key, () => this.store.deleteIfEquals!(leaseKey, token))
        }
      }
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, lease.pollMs))
        const found = await freshValue()
        if (found !== undefined) return found.value
        const holder = await this.guard.call('get', key, () => this.store.get(leaseKey))
        if (holder === undefined) break
      }
      if (Date.now() >= deadline) return this.load(key, loader, options, rules)
    }
  }

  async getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T[]> {
    this.assertOpen()
    if (typeof loader !== 'function') {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.name}": getOrSetMany needs a batch loader function`,
        {
          cache: this.name,
          field: 'loader',
        },
      )
    }
    const infos = this.infos(keys)
    const results: Array<T | Promise<T>> = new Array(keys.length)
    // Positions per full key: a key asked for twice is read and loaded once.
    const positions = new Map<string, number[]>()
    for (let i = 0; i < keys.length; i++) {
      const full = infos[i]!.full
      const joined = this.inflight.get(full)
      if (joined !== undefined) results[i] = joined as Promise<T>
      else positions.set(full, [...(positions.get(full) ?? []), i])
    }
    const firsts = [...positions.values()].map((at) => at[0]!)
    const entries = await this.lookupMany(
      firsts.map((i) => keys[i]!),
      firsts.map((i) => infos[i]!),
    )
    const rules = this.staleRules(options)
    const now = Date.now()
    const missing: number[] = []
    const stale = new Map<number, Entry>()
    const refresh: number[] = []
    firsts.forEach((i, j) => {
      const entry = entries[j]
      const at = positions.get(infos[i]!.full)!
      if (entry !== undefined && isFresh(entry, now)) {
        const value = this.hit(keys[i]!, infos[i]!, entry.value) as T
        for (const k of at) results[k] = value
      } else if (entry !== undefined && entry.expiresAt + rules.staleMs > now) {
        // Within stale-while-revalidate: answer now, refresh with the other stale keys in one batch.
        this.staleHit(keys[i]!, infos[i]!)
        for (const k of at) results[k] = entry.value as T
        if (!this.refreshing.has(infos[i]!.full)) refresh.push(i)
      } else {
        if (entry !== undefined && entry.expiresAt + rules.graceMs > now) stale.set(i, entry)
        missing.push(i)
      }
    })
    if (refresh.length > 0) {
      const batch = this.loadBatch(refresh, keys, infos, loader, options, rules, this.refreshing)
      batch.catch((error) => {
        this.logger?.warn?.(
          { cache: this.name, err: error },
          `cache "${this.name}": background refresh of ${refresh.length} keys failed; stale values stay until their window ends`,
        )
      })
    }
    if (missing.length > 0) {
      for (const i of missing) this.missed(keys[i]!, infos[i]!)
      const batch = this.loadBatch(missing, keys, infos, loader, options, rules, this.inflight)
      missing.forEach((i, j) => {
        const fallback = stale.get(i)
        const one = batch.then(
          (values) => values[j] as T,
          (error: unknown) => {
            // Within grace a stale value answers for a failed batch; the rest get the error.
            if (fallback === undefined) throw error
            this.staleHit(keys[i]!, infos[i]!)
            return fallback.value as T
          },
        )
        for (const at of positions.get(infos[i]!.full)!) results[at] = one
      })
    }
    return Promise.all(results)
  }

  /**
   * One loader call for the keys at `indexes`, registered per key in `flights` while it runs (so
   * concurrent calls join it), then one batched write of what it returned.
   */
  private loadBatch<T>(
    indexes: number[],
    allKeys: readonly string[],
    allInfos: readonly KeyInfo[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    flights: Map<string, Promise<unknown>>,
  ): Promise<T[]> {
    const keys = indexes.map((i) => allKeys[i]!)
    const infos = indexes.map((i) => allInfos[i]!)
    const batch = this.runBatch(keys, loader, options, rules)
    infos.forEach((info, j) => {
      const one = batch.then((values) => values[j])
      one.catch(() => {})
      flights.set(info.full, one)
      const forget = () => flights.delete(info.full)
      one.then(forget, forget)
    })
    return batch
  }

  private async runBatch<T>(
    keys: string[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): Promise<T[]> {
    const started = performance.now()
    let result: Awaited<ReturnType<BatchLoader<T>>>
    try {
      result = await loader(keys)
    } finally {
      const elapsed = performance.now() - started
      for (const key of keys) this.recorder.load(prefixOf(key), elapsed / keys.length)
    }
    let values: T[]
    if (Array.isArray(result)) {
      if (result.length !== keys.length) {
        throw new CacheError(
          ErrorCodes.BATCH_RESULT,
          `cache "${this.name}": the batch loader was asked for ${keys.length} keys and returned ${result.length} values; return one value per key, in order, or a Map from key to value`,
          { cache: this.name },
        )
      }
      values = result as T[]
    } else if (result instanceof Map) {
      values = keys.map((key) => (result as ReadonlyMap<string, T>).get(key) as T)
    } else {
      throw new CacheError(
        ErrorCodes.BATCH_RESULT,
        `cache "${this.name}": the batch loader must return an array (one value per key) or a Map, got ${typeof result}`,
        { cache: this.name },
      )
    }
    const entries: SetManyEntry[] = []
    values.forEach((value, i) => {
      if (options?.condition && !options.condition(value)) return
      const tags = typeof options?.tags === 'function' ? options.tags(value) : options?.tags
      entries.push({ key: keys[i]!, value, ttl: this.ttlFor(value, options), tags })
    })
    if (entries.length > 0) await this.writeMany(entries, rules)
    return values
  }

  // ---------------------------------------------------------------- writes

  async set<T>(key: string, value: T, options?: SetOptions): Promise<boolean> {
    this.assertOpen()
    return this.write(key, value, options?.ttl, this.validTags(options?.tags), this.settings)
  }

  /** Encodes, stamps tags, writes L2 then L1, and tells other instances to drop their L1 copy. */
  private async write(
    key: string,
    value: unknown,
    ttl: Duration | undefined,
    tags: readonly string[] | undefined,
    rules: StaleRules,
  ): Promise<boolean> {
    const info = this.info(key)
    const ttlMs = this.ttlOf(ttl)
    if (ttlMs === 0) return true
    // Encode before anything touches a store, so a bad value leaves nothing half-written.
    const entry = this.entryOf(value, ttlMs, rules)
    let bytes = this.needsBytes ? encodeEntry(entry, key, this.name) : undefined
    info.batch = undefined
    if (tags !== undefined && tags.length > 0) {
      const stamps = await this.stampTags(tags, ttlMs)
      if (stamps === undefined) return false
      entry.tags = stamps
      this.hintTags(info, stamps)
      if (bytes !== undefined) bytes = encodeEntry(entry, key, this.name)
    }
    const lifetime = entry.staleUntil === 0 ? undefined : entry.staleUntil - entry.createdAt
    const stored = this.storeByRef ? entry : bytes
    const ok = (await this.guard.call('set', key, () => this.store.set(info.full, stored, lifetime))) !== MISS
    this.generation++
    this.nearPut(info.full, entry, bytes, lifetime)
    if (this.bus !== undefined) await this.bus.publish({ keys: [info.full] })
    if (ok) this.counted('sets', key, info)
    return ok
  }

  async setMany(entries: readonly SetManyEntry[]): Promise<boolean> {
    this.assertOpen()
    return this.writeMany(entries, this.settings)
  }

  private async writeMany(entries: readonly SetManyEntry[], rules: StaleRules): Promise<boolean> {
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
      const info = this.info(item.key)
      const ttlMs = this.ttlOf(item.ttl)
      const entry = this.entryOf(item.value, ttlMs, rules)
      const bytes = this.needsBytes ? encodeEntry(entry, item.key, this.name) : undefined
      return { key: item.key, info, ttlMs, entry, bytes, tags: this.validTags(item.tags) }
    })
    const allTags = [...new Set(prepared.flatMap((p) => p.tags ?? []))]
    if (allTags.length > 0) {
      const stamps = await this.stampTags(allTags, Math.max(...prepared.map((p) => p.ttlMs)))
      if (stamps === undefined) return false
      const epochs = new Map(stamps)
      for (const p of prepared) {
        if (p.tags === undefined) continue
        p.entry.tags = p.tags.map((tag): TagStamp => [tag, epochs.get(tag)!])
        this.hintTags(p.info, p.entry.tags)
        if (p.bytes !== undefined) p.bytes = encodeEntry(p.entry, p.key, this.name)
      }
    }
    const kept = prepared.filter((p) => p.ttlMs > 0)
    if (kept.length === 0) return true
    const lifetime = (p: (typeof kept)[number]) =>
      p.entry.staleUntil === 0 ? undefined : p.entry.staleUntil - p.entry.createdAt
    const batch = kept.map((p) => ({
      key: p.info.full,
      value: this.storeByRef ? p.entry : p.bytes,
      ttlMs: lifetime(p),
    }))
    const ok = (await this.guard.call('setMany', undefined, () => this.store.setMany(batch))) !== MISS
    this.generation++
    for (const p of kept) this.nearPut(p.info.full, p.entry, p.bytes, lifetime(p))
    if (this.bus !== undefined) await this.bus.publish({ keys: kept.map((p) => p.info.full) })
    if (ok) for (const p of kept) this.counted('sets', p.key, p.info)
    return ok
  }

  // ---------------------------------------------------------------- invalidation

  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    const info = this.info(key)
    const removed = await this.invalidate({ keys: [info.full] }, 'delete', key, () =>
      this.store.delete(info.full),
    )
    this.counted('deletes', key, info)
    return removed
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.assertOpen()
    const infos = this.infos(keys)
    if (infos.length === 0) return 0
    const fulls = infos.map((info) => info.full)
    const removed = await this.invalidate({ keys: fulls }, 'deleteMany', undefined, () =>
      this.store.deleteMany(fulls),
    )
    for (let i = 0; i < keys.length; i++) this.counted('deletes', keys[i]!, infos[i]!)
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
    const full = escapeGlob(this.base) + pattern
    const removed = await this.invalidate(
      { pattern: full },
      'deletePattern',
      undefined,
      () => this.store.deleteByPattern(full),
      this.settings.bulkTimeoutMs,
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
    // L1 copies are not checked against epochs on each hit, so every L1 drops its entries instead.
    const batch = valid.map((tag) => ({
      key: this.tagBase + tag,
      value: this.epochStored(newEpoch()),
      ttlMs: this.tagTtl(0),
    }))
    await this.invalidate({ all: true }, 'invalidateTags', undefined, () => this.store.setMany(batch))
    for (const tag of valid) this.emit('delete', { key: `tag:${tag}`, prefix: `tag:${tag}` })
  }

  async clear(): Promise<void> {
    this.assertOpen()
    await this.invalidate(
      { all: true },
      'clear',
      undefined,
      () => this.store.clear(this.base),
      this.settings.bulkTimeoutMs,
    )
    this.emit('delete', { key: '*', prefix: '*' })
  }

  /**
   * Applies an invalidation to L1, to the store and to every other instance's L1. L1 goes first and
   * regardless of the store, so this instance never serves what it was told to remove; a store
   * failure still rejects, because the caller must know the entries may remain there.
   */
  private async invalidate<R>(
    invalidation: Invalidation,
    operation: string,
    key: string | undefined,
    run: () => R | Promise<R>,
    deadlineMs?: number,
  ): Promise<R> {
    this.applyToNear(invalidation)
    let failure: Error | undefined
    const result = await this.guard.call(
      operation,
      key,
      run,
      (error) => {
        failure = error
      },
      deadlineMs,
    )
    // Again: a read that started while the store operation ran (a pattern delete takes many round
    // trips) may have put an old value back into L1.
    this.applyToNear(invalidation)
    if (this.bus !== undefined) await this.bus.publish(invalidation)
    if (result !== MISS) return result as R
    throw new CacheError(
      ErrorCodes.ADAPTER,
      `cache "${this.name}": ${operation} could not reach the store (${failure?.message ?? 'circuit open'}); the entries may still be there`,
      { cache: this.name, key, cause: failure },
    )
  }

  private applyToNear(invalidation: Invalidation): void {
    this.generation++
    const near = this.near
    if (near === undefined) return
    try {
      if (invalidation.all) void near.clear(this.base)
      if (invalidation.keys !== undefined && invalidation.keys.length > 0)
        void near.deleteMany(invalidation.keys)
      if (invalidation.pattern !== undefined) void near.deleteByPattern(invalidation.pattern)
    } catch {
      // An in-process store that throws on delete is broken beyond repair; stop trusting it.
      this.nearTrusted = false
    }
  }

  private busStatus(status: AdapterStatus): void {
    const trusted = status === 'ready'
    // Back on the bus: whatever was published meanwhile is unknown, so L1 starts over. Off the bus,
    // L1 is kept but only consulted when L2 cannot answer (an outage is when it helps most).
    if (trusted) this.applyToNear({ all: true })
    else this.generation++
    const was = this.busState
    this.busState = trusted ? 'connected' : 'disconnected'
    // The first answer of the bus, either way, ends start-up: callers of ready() stop waiting.
    for (const wake of this.readyWaiters.splice(0)) wake()
    if (was === 'connecting' && trusted) {
      this.logger?.debug?.({ cache: this.name }, `cache "${this.name}": invalidation bus connected`)
    } else if (was !== this.busState) {
      this.logger?.warn?.(
        { cache: this.name, status },
        trusted
          ? `cache "${this.name}": invalidation bus reconnected, in-process tier emptied and in use again`
          : `cache "${this.name}": invalidation bus lost, in-process tier bypassed until it reconnects`,
      )
    }
    this.nearTrusted = trusted
  }

  // ---------------------------------------------------------------- observability and lifecycle

  stats(): CacheStats {
    const { total, byPrefix } = this.recorder.snapshot()
    const reads = total.hits + total.misses
    return {
      name: this.name,
      adapter: this.near === undefined ? this.store.name : `${this.near.name}+${this.store.name}`,
      ...total,
      hitRate: reads === 0 ? 0 : total.hits / reads,
      undecodable: this.recorder.undecodable,
      circuit: this.guard.breaker.state,
      bus: this.busState,
      byPrefix,
    }
  }

  status(): AdapterStatus {
    if (this.closed) return 'closed'
    if (this.guard.breaker.state === 'open') return 'unavailable'
    return this.store.status?.() ?? 'ready'
  }

  ready(): Promise<void> {
    if (this.busState !== 'connecting') return Promise.resolve()
    return new Promise((resolve) => {
      // A store that is down at start-up must not hold start-up up: give up waiting after a while.
      const timer = setTimeout(resolve, Math.max(this.settings.timeoutMs, READY_WAIT_MS))
      timer.unref?.()
      this.readyWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
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
    await this.bus?.close()
    await Promise.all([this.store.close(), this.near?.close()])
  }

  // ---------------------------------------------------------------- internals

  private assertOpen(): void {
    if (this.closed) {
      throw new CacheError(ErrorCodes.CLOSED, `cache "${this.name}" is closed`, { cache: this.name })
    }
  }

  private infos(keys: readonly string[]): KeyInfo[] {
    if (!Array.isArray(keys)) {
      throw new CacheError(ErrorCodes.INVALID_KEY, `cache "${this.name}": keys must be an array of strings`, {
        cache: this.name,
      })
    }
    return keys.map((key) => this.info(key))
  }

  private ttlOf(ttl: Duration | undefined): number {
    const ms =
      ttl === undefined ? this.settings.ttlMs : parseDuration(ttl, { cache: this.name, field: 'ttl' })
    if (ms === 0 || this.settings.jitter === 0) return ms
    return Math.max(1, Math.round(ms * (1 - Math.random() * this.settings.jitter)))
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
    const raws = await this.guard.call('getMany', undefined, () => this.store.getMany(keys))
    if (raws === MISS) return undefined
    const stamps: TagStamp[] = []
    for (let i = 0; i < tags.length; i++) {
      const raw = raws[i]
      if (raw !== undefined) {
        stamps.push([tags[i]!, this.epochOf(raw)])
        continue
      }
      const epoch = newEpoch()
      const stored = this.epochStored(epoch)
      const ttl = this.tagTtl(entryTtlMs)
      const created = this.store.setIfAbsent
        ? await this.guard.call('setIfAbsent', undefined, () =>
            this.store.setIfAbsent!(keys[i]!, stored, ttl),
          )
        : (await this.guard.call('set', undefined, () => this.store.set(keys[i]!, stored, ttl))) !== MISS
      if (created === MISS) return undefined
      if (created) {
        stamps.push([tags[i]!, epoch])
        continue
      }
      // Another writer created the tag first: use its epoch.
      const again = await this.guard.call('get', undefined, () => this.store.get(keys[i]!))
      if (again === MISS || again === undefined) return undefined
      stamps.push([tags[i]!, this.epochOf(again)])
    }
    return stamps
  }

  private entryOf(value: unknown, ttlMs: number, rules: StaleRules): Entry {
    const now = Date.now()
    const expiresAt = ttlMs > 0 ? now + ttlMs : 0
    const staleUntil = expiresAt === 0 ? 0 : expiresAt + Math.max(rules.staleMs, rules.graceMs)
    return { value, createdAt: now, expiresAt, staleUntil, tags: undefined }
  }

  private hit(key: string, info: KeyInfo, value: unknown): unknown {
    this.recorder.total.hits++
    info.counters.hits++
    if (this.debugOn()) this.logger!.debug!({ cache: this.name, key }, `cache hit ${this.name}:${key}`)
    if (this.listeners.hit !== undefined) this.emit('hit', { key, prefix: prefixOf(key) })
    return value
  }

  private missed(key: string, info: KeyInfo): void {
    this.recorder.total.misses++
    info.counters.misses++
    if (this.debugOn()) this.logger!.debug!({ cache: this.name, key }, `cache miss ${this.name}:${key}`)
    if (this.listeners.miss !== undefined) this.emit('miss', { key, prefix: prefixOf(key) })
  }

  private staleHit(key: string, info: KeyInfo): void {
    this.recorder.total.staleHits++
    info.counters.staleHits++
    if (this.debugOn()) this.logger!.debug!({ cache: this.name, key }, `cache stale hit ${this.name}:${key}`)
  }

  private debugOn(): boolean {
    const logger = this.logger
    return logger?.debug !== undefined && (logger.isLevelEnabled?.('debug') ?? true)
  }

  /** Counts a write or delete of `key` and tells subscribers. */
  private counted(field: 'sets' | 'deletes', key: string, info: KeyInfo): void {
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
