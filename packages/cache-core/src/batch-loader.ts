import { CacheError, ErrorCodes } from './errors.js'
import type { Fence } from './fences.js'
import type { KeyInfo, KeySpace } from './keys.js'
import { BatchLoadControl, plannedWrite, runWithContext } from './load-context.js'
import { inGrace, type Loader, servesStale, tagsOf, ttlFor } from './loader.js'
import type { Reporter } from './reporter.js'
import type { Settings } from './settings.js'
import { isFresh, type Tiers } from './tiers.js'
import type { BatchLoader, Entry, GetOrSetOptions } from './types.js'
import type { StaleRules, Write, Writer } from './writer.js'

/**
 * `getOrSetMany`: one batched read, then ONE loader call for every miss, sharing the single-flight
 * maps of {@link Loader} so that keys another call is loading are joined, not loaded again.
 */
export class BatchLoads {
  constructor(
    private readonly cache: string,
    private readonly settings: Settings,
    private readonly keys: KeySpace,
    private readonly tiers: Tiers,
    private readonly writer: Writer,
    private readonly loader: Loader,
    private readonly reporter: Reporter,
  ) {}

  async getOrSetMany<T>(
    keys: readonly string[],
    loader: BatchLoader<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T[]> {
    if (typeof loader !== 'function') {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.cache}": getOrSetMany needs a batch loader function`,
        { cache: this.cache, field: 'loader' },
      )
    }
    const infos = this.keys.infos(keys)
    const rules = this.loader.rules(options)
    const results: Array<T | Promise<T>> = new Array(keys.length)
    // Every key not already being read or loaded by another call is claimed NOW, before the first
    // await: a getOrSet or getOrSetMany that starts while this one reads joins it instead of
    // loading the key a second time. A key asked for twice here is read and loaded once.
    const claimed = new Map<string, Claim<T>>()
    for (let i = 0; i < keys.length; i++) {
      const full = infos[i]!.full
      const mine = claimed.get(full)
      if (mine !== undefined) {
        results[i] = mine.promise
        continue
      }
      const joined = this.loader.inflight.get(full)
      if (joined !== undefined) {
        results[i] = joined as Promise<T>
        continue
      }
      const claim = new Claim<T>(infos[i]!)
      claimed.set(full, claim)
      results[i] = claim.promise
      this.loader.inflight.set(full, claim.promise)
      const forget = () => {
        if (this.loader.inflight.get(full) === claim.promise) this.loader.inflight.delete(full)
      }
      claim.promise.then(forget, forget)
    }
    if (claimed.size > 0) void this.resolveClaims([...claimed.values()], loader, options, rules)
    return Promise.all(results)
  }

  /** Reads the claimed keys in one batch and settles each claim: hit, stale, or loaded in one call. */
  private async resolveClaims<T>(
    claims: Array<Claim<T>>,
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): Promise<void> {
    let entries: Array<Entry | undefined>
    try {
      entries = await this.tiers.lookupMany(claims.map((c) => c.info))
    } catch (error) {
      for (const claim of claims) claim.reject(error)
      return
    }
    const now = Date.now()
    let missing: Array<Claim<T>> = []
    const refresh: Array<Claim<T>> = []
    claims.forEach((claim, j) => {
      const entry = entries[j]
      if (entry !== undefined && isFresh(entry, now)) {
        claim.resolve(this.reporter.hit(claim.info, entry.value) as T)
      } else if (entry !== undefined && servesStale(entry, rules, now)) {
        // Within stale-while-revalidate: answer now, refresh with the other stale keys in one batch.
        this.reporter.staleHit(claim.info)
        claim.resolve(entry.value as T)
        claim.stale = entry
        if (!this.loader.loading.has(claim.info.full)) refresh.push(claim)
      } else {
        // Kept for the loader's ctx.stale, and served within grace if the load fails.
        claim.stale = entry
        if (entry !== undefined && inGrace(entry, rules, now)) claim.fallback = entry
        missing.push(claim)
      }
    })
    if (refresh.length > 0) {
      this.loadBatch(refresh, loader, options, rules).catch((error) => {
        this.reporter.warn(
          { err: error },
          `cache "${this.cache}": background refresh of ${refresh.length} keys failed; stale values stay until their window ends`,
        )
      })
    }
    // A key whose load another call started meanwhile (after this one's read began) joins that load.
    const joined = missing.filter((claim) => this.loader.loading.has(claim.info.full))
    for (const claim of joined) {
      this.reporter.missed(claim.info)
      ;(this.loader.loading.get(claim.info.full) as Promise<T>).then(claim.resolve, (error: unknown) => {
        if (claim.fallback === undefined) return claim.reject(error)
        this.reporter.staleHit(claim.info)
        claim.resolve(claim.fallback.value as T)
      })
    }
    if (joined.length > 0) missing = missing.filter((claim) => !joined.includes(claim))
    if (missing.length === 0) return
    for (const claim of missing) this.reporter.missed(claim.info)
    const batch = this.loadBatch(missing, loader, options, rules)
    missing.forEach((claim, j) => {
      batch.then(
        (values) => claim.resolve(values[j] as T),
        (error: unknown) => {
          // Within grace a stale value answers for a failed batch; the rest get the error.
          if (claim.fallback === undefined) return claim.reject(error)
          this.reporter.staleHit(claim.info)
          claim.resolve(claim.fallback.value as T)
        },
      )
    })
  }

  /**
   * One loader call for the claimed keys, registered per key as their running load (so a stale read
   * elsewhere does not start a second refresh), then one batched write of what it returned.
   */
  private loadBatch<T>(
    claims: ReadonlyArray<Claim<T>>,
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
  ): Promise<T[]> {
    const infos = claims.map((c) => c.info)
    const held = new Map<string, T>()
    for (const c of claims) if (c.stale !== undefined) held.set(c.info.key, c.stale.value as T)
    const batch = this.runBatch(infos, loader, options, rules, held)
    const loading = this.loader.loading
    infos.forEach((info, j) => {
      const one = batch.then((values) => values[j])
      one.catch(() => {})
      loading.set(info.full, one)
      const forget = () => {
        if (loading.get(info.full) === one) loading.delete(info.full)
      }
      one.then(forget, forget)
    })
    return batch
  }

  private async runBatch<T>(
    infos: KeyInfo[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    held: ReadonlyMap<string, T>,
  ): Promise<T[]> {
    const fences = this.loader.fences
    const open = infos.map((info) => fences.open(info.full, tagsOf(options)))
    try {
      return await this.loadAndStore(infos, open, loader, options, rules, held)
    } finally {
      for (const fence of open) fences.close(fence)
    }
  }

  private async loadAndStore<T>(
    infos: KeyInfo[],
    fences: Fence[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    held: ReadonlyMap<string, T>,
  ): Promise<T[]> {
    const keys = infos.map((info) => info.key)
    const stamps = await this.loader.stampsBefore(options?.tags)
    const started = performance.now()
    const control = new BatchLoadControl<T>(this.cache, new Set(keys), held)
    let result: Awaited<ReturnType<BatchLoader<T>>>
    try {
      result = await runWithContext(control, () => loader(keys, control))
    } catch (error) {
      this.reporter.loaded(keys, true, started, error)
      throw error
    }
    this.reporter.loaded(keys, true, started)
    let values: T[]
    if (Array.isArray(result)) {
      if (result.length !== keys.length) {
        throw new CacheError(
          ErrorCodes.BATCH_RESULT,
          `cache "${this.cache}": the batch loader was asked for ${keys.length} keys and returned ${result.length} values; return one value per key, in order, or a Map from key to value`,
          { cache: this.cache },
        )
      }
      values = result as T[]
    } else if (result instanceof Map) {
      values = keys.map((key) => (result as ReadonlyMap<string, T>).get(key) as T)
    } else {
      throw new CacheError(
        ErrorCodes.BATCH_RESULT,
        `cache "${this.cache}": the batch loader must return an array (one value per key) or a Map, got ${typeof result}`,
        { cache: this.cache },
      )
    }
    // Tag epochs could not be read before the load (store down): nothing is stored, as with a set.
    if (stamps === null) return values
    const writes: Write[] = []
    values.forEach((value, i) => {
      const key = keys[i]!
      const defaultTtl = ttlFor(value, options, this.settings.nullTtlMs)
      const write = plannedWrite(key, value, control.decisionsFor(key), options, defaultTtl)
      if (write === undefined) return
      // Epochs read before the load stamp a result only when its tags are the ones they were read for.
      const fixed = write.tags === options?.tags
      writes.push({ ...write, fence: fences[i], stamps: fixed ? stamps : undefined })
    })
    if (writes.length > 0) await this.writer.write(writes, rules, false)
    return values
  }
}

/** One key this call reads (and loads if missing); callers of the key wait on `promise`. */
class Claim<T> {
  readonly promise: Promise<T>
  resolve!: (value: T) => void
  reject!: (error: unknown) => void
  /** The expired entry still within grace, served if the load fails. */
  fallback: Entry | undefined
  /** The expired entry the store still held, handed to the loader as `ctx.stale`. */
  stale: Entry | undefined

  constructor(readonly info: KeyInfo) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}
