import type { Invalidation } from './bus.js'
import { parseOptionalDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import { Fences } from './fences.js'
import { compileGlob } from './glob.js'
import { type Guard, MISS } from './guard.js'
import type { KeyInfo, KeySpace } from './keys.js'
import { LoadControl, type LoaderContext, plannedWrite, runWithContext } from './load-context.js'
import type { Reporter } from './reporter.js'
import { type ResolvedLease, resolveLease, type Settings } from './settings.js'
import { newEpoch, type TagEpochs } from './tags.js'
import { isFresh, type LeaseHeld, type Tiers } from './tiers.js'
import type { Duration, Entry, GetOrSetOptions, TagStamp } from './types.js'
import type { StaleRules, Writer } from './writer.js'

/**
 * Whether a stale entry may stand in for a failing or slow loader: within the call's grace window,
 * or within the window the entry was written with (a loader's `ctx.grace()` may have set a longer one).
 */
export function inGrace(entry: Entry, rules: StaleRules, now: number): boolean {
  if (entry.expiresAt + rules.graceMs > now) return true
  // A call that names its grace (`grace: 0`: never serve an expired value) is not overruled by the entry.
  return rules.graceFromCall !== true && entry.staleUntil > now
}

/** Whether a stale entry is served at once while one refresh runs; never one that was softly invalidated. */
export function servesStale(entry: Entry, rules: StaleRules, now: number): boolean {
  return entry.invalidated !== true && entry.expiresAt + rules.staleMs > now
}

/** A loader of `getOrSet`: gets a context to decide about its own result. */
export type Load<T> = (ctx: LoaderContext<T>) => T | Promise<T>

/** The tags a load was asked to store its result with, as its fence records them. */
export function tagsOf(
  options: GetOrSetOptions<any> | undefined,
): readonly string[] | 'computed' | undefined {
  const tags = options?.tags
  return typeof tags === 'function' ? 'computed' : tags
}

/** The TTL of a loaded value: `nullTtl` for "not found" (null or undefined), else `ttl`. */
export function ttlFor(
  value: unknown,
  options: { ttl?: Duration; nullTtl?: Duration } | undefined,
  nullTtlMs: number | undefined,
): Duration | undefined {
  if (value !== null && value !== undefined) return options?.ttl
  return options?.nullTtl ?? nullTtlMs ?? options?.ttl
}

/**
 * Runs loaders by the rules: one load per key at a time in this process (and, with a lease, across
 * processes), stale-while-revalidate, grace and soft timeouts, errors never cached.
 */
export class Loader {
  /** Per full key: the read-and-maybe-load that concurrent callers of that key join. */
  readonly inflight = new Map<string, Promise<unknown>>()
  /** Per full key: the load running for it, whether a caller waits for it or it refreshes in the background. */
  readonly loading = new Map<string, Promise<unknown>>()
  /** Whether a load of this cache ever ran under a lease: invalidations then revoke leases too. */
  leasesUsed = false
  /** The write permits of running loads, revoked by invalidations of their keys. */
  readonly fences = new Fences()

  constructor(
    private readonly cache: string,
    private readonly settings: Settings,
    private readonly keys: KeySpace,
    private readonly tiers: Tiers,
    private readonly tags: TagEpochs,
    private readonly writer: Writer,
    private readonly guard: Guard,
    private readonly reporter: Reporter,
  ) {}

  /** `getOrSet`: a hit answers at once; a miss joins or starts the key's single flight. */
  getOrSet<T>(key: string, loader: Load<T>, options: GetOrSetOptions<T> | undefined): Promise<T> {
    // Not an async function: a hit, the common case, then costs one resolved promise and nothing more.
    let info: KeyInfo
    let first: T | Promise<T>
    // The flight concurrent callers join; set once the read is on its way (it never is for a read
    // answered at once, whose miss, if any, then forgets a flight that was never registered).
    let run: Promise<T> | undefined
    try {
      if (typeof loader !== 'function') {
        throw new CacheError(
          ErrorCodes.INVALID_CONFIG,
          `cache "${this.cache}": getOrSet("${key}") needs a loader function`,
          {
            cache: this.cache,
            key,
            field: 'loader',
          },
        )
      }
      info = this.keys.info(key)
      const joined = this.inflight.get(info.full)
      if (joined !== undefined) return joined as Promise<T>
      const found = info
      const now = Date.now()
      // A store in this process answers a hit at once: served without a finisher made for it.
      let read: Entry | undefined | Promise<Entry | undefined>
      if (!this.tiers.remote) {
        read = this.tiers.lookup(info, true, now)
        if (read !== undefined && !(read instanceof Promise) && isFresh(read, now)) {
          return Promise.resolve(this.reporter.hit(info, read.value) as T)
        }
      }
      // A hit, or the miss resolved; on a store read, in the same promise step that decodes the reply.
      const finish = (entry: Entry | undefined, at: number): T | Promise<T> => {
        if (entry !== undefined && isFresh(entry, at)) {
          // The read is answered: callers from now on read for themselves.
          this.#forget(found.full, run)
          return this.reporter.hit(found, entry.value) as T
        }
        const loading = this.resolveMiss(found, entry, loader, options)
        const forget = () => this.#forget(found.full, run)
        loading.then(forget, forget)
        return loading
      }
      if (this.tiers.remote)
        first = this.tiers.lookupThen<T | Promise<T>>(info, now, finish) as T | Promise<T>
      else if (read instanceof Promise) first = read.then((entry) => finish(entry, Date.now())) as Promise<T>
      else first = finish(read, now)
      // An in-process hit: nothing to share with other callers.
      if (!(first instanceof Promise)) return Promise.resolve(first)
    } catch (error) {
      return Promise.reject(error)
    }
    // From here on, concurrent callers for this key share one read and at most one loader run.
    run = first
    this.inflight.set(info.full, run)
    return run
  }

  /** Ends the flight `run` of `full`; only this one: an invalidation may have put a newer one there. */
  #forget(full: string, run: Promise<unknown> | undefined): void {
    if (run !== undefined && this.inflight.get(full) === run) this.inflight.delete(full)
  }

  /**
   * Stops new callers from joining reads and loads that an invalidation overtook: they started before
   * it, so what they return may predate it. Their own callers still get it; a caller that comes after
   * the invalidation starts a read of its own.
   */
  detach(invalidation: Invalidation): void {
    if (this.inflight.size === 0 && this.loading.size === 0) return
    const matches = invalidation.pattern === undefined ? undefined : compileGlob(invalidation.pattern)
    const keys = invalidation.keys === undefined ? undefined : new Set(invalidation.keys)
    // A tag invalidation reaches the loads whose results may carry the tag; clear reaches all.
    const tagged =
      invalidation.all && invalidation.tags !== undefined
        ? this.fences.carrying(invalidation.tags)
        : undefined
    const all = invalidation.all === true && tagged === undefined
    for (const flights of [this.inflight, this.loading]) {
      for (const full of [...flights.keys()]) {
        if (all || keys?.has(full) || matches?.(full) || tagged?.has(full)) flights.delete(full)
      }
    }
  }

  /** The stale/grace/soft-timeout windows of one call, resolved from its options and the cache's. */
  rules(options: GetOrSetOptions<any> | undefined): StaleRules {
    if (
      options === undefined ||
      (options.staleWhileRevalidate === undefined &&
        options.grace === undefined &&
        options.softTimeout === undefined)
    ) {
      return this.settings
    }
    const where = (field: string) => ({ cache: this.cache, field })
    return {
      staleMs:
        parseOptionalDuration(options.staleWhileRevalidate, where('staleWhileRevalidate')) ??
        this.settings.staleMs,
      graceMs: parseOptionalDuration(options.grace, where('grace')) ?? this.settings.graceMs,
      graceFromCall: options.grace !== undefined,
      softTimeoutMs:
        parseOptionalDuration(options.softTimeout, where('softTimeout')) ?? this.settings.softTimeoutMs,
    }
  }

  /**
   * A miss, or a stale entry: serve it stale while one background refresh runs (within the
   * stale-while-revalidate window), or load — falling back to the stale value within the grace window
   * when the loader fails or, with a soft timeout, is slow.
   */
  private async resolveMiss<T>(
    info: KeyInfo,
    stale: Entry | undefined,
    loader: Load<T>,
    options: GetOrSetOptions<T> | undefined,
  ): Promise<T> {
    const rules = this.rules(options)
    const now = Date.now()
    if (stale !== undefined && servesStale(stale, rules, now)) {
      this.reporter.staleHit(info)
      this.refresh(info, loader, options, rules, stale)
      return stale.value as T
    }
    this.reporter.missed(info)
    const loading = this.loadOnce(info, loader, options, rules, stale)
    const fallback = stale !== undefined && inGrace(stale, rules, now) ? stale : undefined
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
      this.reporter.staleHit(info)
      return fallback.value as T
    } catch (error) {
      this.reporter.warn(
        { key: info.key, err: error },
        `cache "${this.cache}": loader for "${info.key}" failed, serving the stale value within its grace period`,
      )
      this.reporter.staleHit(info)
      return fallback.value as T
    }
  }

  /** Runs at most one load per key at a time, whether a caller waits for it or it refreshes in the background. */
  private loadOnce<T>(
    info: KeyInfo,
    loader: Load<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    stale?: Entry,
  ): Promise<T> {
    const running = this.loading.get(info.full)
    if (running !== undefined) return running as Promise<T>
    const lease =
      options?.lease === undefined ? this.settings.lease : resolveLease(options.lease, this.cache, 'lease')
    const store = this.tiers.store
    const loading =
      lease && store.capabilities.atomicSetIfAbsent && store.setIfAbsent
        ? this.loadWithLease(info, loader, options, rules, lease, stale)
        : this.load(info, loader, options, rules, stale)
    this.loading.set(info.full, loading)
    const forget = () => {
      if (this.loading.get(info.full) === loading) this.loading.delete(info.full)
    }
    loading.then(forget, forget)
    return loading
  }

  private refresh<T>(
    info: KeyInfo,
    loader: Load<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    stale: Entry,
  ): void {
    this.loadOnce(info, loader, options, rules, stale).catch((error) => {
      this.reporter.warn(
        { key: info.key, err: error },
        `cache "${this.cache}": background refresh of "${info.key}" failed; the stale value stays until its window ends`,
      )
    })
  }

  /** Runs the loader and stores its result by the rules: errors never cached, null cached with nullTtl. */
  private async load<T>(
    info: KeyInfo,
    loader: Load<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    stale?: Entry,
    lease?: LeaseHeld,
  ): Promise<T> {
    // The fence is up before anything is read, so an invalidation from here on keeps the result out
    // of the store.
    const fence = this.fences.open(info.full, tagsOf(options))
    try {
      const stamps = await this.stampsBefore(options?.tags)
      const started = performance.now()
      const control = new LoadControl<T>(this.cache, info.key, stale?.value as T | undefined)
      let value: T
      try {
        value = await runWithContext(control, () => loader(control))
      } catch (error) {
        this.reporter.loaded([info.key], false, started, error)
        throw error
      }
      this.reporter.loaded([info.key], false, started)
      // Tag epochs could not be read before the load (store down): nothing is stored, as with a set.
      if (stamps === null) return value
      const defaultTtl = ttlFor(value, options, this.settings.nullTtlMs)
      const write = plannedWrite(info.key, value, control.decisions(), options, defaultTtl)
      // Epochs read before the load stamp its result only when its tags are the ones they were read for.
      if (write !== undefined) {
        const fixed = write.tags === options?.tags
        await this.writer.write([{ ...write, fence, stamps: fixed ? stamps : undefined, lease }], rules, true)
      }
      return value
    } finally {
      this.fences.close(fence)
    }
  }

  /**
   * The current epochs of fixed tags, read BEFORE a load runs: a tag invalidated during the load then
   * leaves its result stamped with an older epoch, so no process serves it, with or without a bus.
   * Tags computed from the value can only be read after it (`undefined`); `null` means the store failed.
   */
  async stampsBefore(
    tags: readonly string[] | ((value: never) => readonly string[]) | undefined,
  ): Promise<readonly TagStamp[] | undefined | null> {
    if (tags === undefined || typeof tags === 'function') return undefined
    const valid = this.tags.valid(tags)
    if (valid === undefined) return undefined
    return (await this.tags.stamp(valid, this.settings.ttlMs)) ?? null
  }

  /**
   * Cross-process single flight: the process that wins `SET NX PX` on the lease key runs the loader;
   * the others poll for its value and run the loader themselves only when the wait runs out.
   */
  private async loadWithLease<T>(
    info: KeyInfo,
    loader: Load<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    lease: ResolvedLease,
    stale: Entry | undefined,
  ): Promise<T> {
    const store = this.tiers.store
    this.leasesUsed = true
    const leaseKey = this.keys.leaseOf(info)
    const token = this.tags.stored(newEpoch())
    const deadline = Date.now() + lease.waitMs
    const freshValue = async (): Promise<{ value: T } | undefined> => {
      const entry = await this.tiers.lookup(info)
      return entry !== undefined && isFresh(entry, Date.now()) ? { value: entry.value as T } : undefined
    }
    // The lease key has a node of its own on a sharded store; its failures count there.
    const node = this.guard.nodeOf?.(leaseKey)
    for (;;) {
      const acquired = await this.guard.call(
        'setIfAbsent',
        info.key,
        () => store.setIfAbsent!(leaseKey, token, lease.ttlMs),
        undefined,
        undefined,
        node,
      )
      if (acquired === MISS) return this.load(info, loader, options, rules, stale)
      if (acquired) {
        try {
          // The previous holder may have written the value between our read and our lease.
          const found = await freshValue()
          if (found !== undefined) return found.value
          // Written only while the lease is still ours: an invalidation revokes it, in any process.
          return await this.load(info, loader, options, rules, stale, { key: leaseKey, token })
        } finally {
          await this.guard.call(
            'deleteIfEquals',
            info.key,
            () => store.deleteIfEquals!(leaseKey, token),
            undefined,
            undefined,
            node,
          )
        }
      }
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, lease.pollMs))
        const found = await freshValue()
        if (found !== undefined) return found.value
        const holder = await this.guard.call(
          'get',
          info.key,
          () => store.get(leaseKey),
          undefined,
          undefined,
          node,
        )
        if (holder === undefined) break
      }
      if (Date.now() >= deadline) return this.load(info, loader, options, rules, stale)
    }
  }
}
