import { CacheError, ErrorCodes } from './errors.js'
import type { KeyInfo, KeySpace } from './keys.js'
import { BatchLoadControl, plannedWrite, runWithContext } from './load-context.js'
import { inGrace, type Loader, servesStale, ttlFor } from './loader.js'
import type { Reporter } from './reporter.js'
import type { Settings } from './settings.js'
import { prefixOf } from './stats.js'
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
        {
          cache: this.cache,
          field: 'loader',
        },
      )
    }
    const infos = this.keys.infos(keys)
    const results: Array<T | Promise<T>> = new Array(keys.length)
    // Positions per full key: a key asked for twice is read and loaded once.
    const positions = new Map<string, number[]>()
    for (let i = 0; i < keys.length; i++) {
      const full = infos[i]!.full
      const joined = this.loader.inflight.get(full)
      if (joined !== undefined) results[i] = joined as Promise<T>
      else positions.set(full, [...(positions.get(full) ?? []), i])
    }
    const firsts = [...positions.values()].map((at) => at[0]!)
    const entries = await this.tiers.lookupMany(firsts.map((i) => infos[i]!))
    const rules = this.loader.rules(options)
    const now = Date.now()
    const missing: number[] = []
    const stale = new Map<number, Entry>()
    const refresh: number[] = []
    const refreshHeld = new Map<string, T>()
    firsts.forEach((i, j) => {
      const entry = entries[j]
      const at = positions.get(infos[i]!.full)!
      if (entry !== undefined && isFresh(entry, now)) {
        const value = this.reporter.hit(infos[i]!, entry.value) as T
        for (const k of at) results[k] = value
      } else if (entry !== undefined && servesStale(entry, rules, now)) {
        // Within stale-while-revalidate: answer now, refresh with the other stale keys in one batch.
        this.reporter.staleHit(infos[i]!)
        for (const k of at) results[k] = entry.value as T
        if (!this.loader.loading.has(infos[i]!.full)) {
          refresh.push(i)
          refreshHeld.set(infos[i]!.key, entry.value as T)
        }
      } else {
        if (entry !== undefined && inGrace(entry, rules, now)) stale.set(i, entry)
        missing.push(i)
      }
    })
    if (refresh.length > 0) {
      const batch = this.loadBatch(refresh, infos, loader, options, rules, this.loader.loading, refreshHeld)
      batch.catch((error) => {
        this.reporter.warn(
          { err: error },
          `cache "${this.cache}": background refresh of ${refresh.length} keys failed; stale values stay until their window ends`,
        )
      })
    }
    if (missing.length > 0) {
      for (const i of missing) this.reporter.missed(infos[i]!)
      const held = new Map([...stale].map(([i, entry]) => [infos[i]!.key, entry.value as T]))
      const batch = this.loadBatch(missing, infos, loader, options, rules, this.loader.inflight, held)
      missing.forEach((i, j) => {
        const fallback = stale.get(i)
        const one = batch.then(
          (values) => values[j] as T,
          (error: unknown) => {
            // Within grace a stale value answers for a failed batch; the rest get the error.
            if (fallback === undefined) throw error
            this.reporter.staleHit(infos[i]!)
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
    allInfos: readonly KeyInfo[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    flights: Map<string, Promise<unknown>>,
    held: ReadonlyMap<string, T>,
  ): Promise<T[]> {
    const infos = indexes.map((i) => allInfos[i]!)
    const batch = this.runBatch(infos, loader, options, rules, held)
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
    infos: KeyInfo[],
    loader: BatchLoader<T>,
    options: GetOrSetOptions<T> | undefined,
    rules: StaleRules,
    held: ReadonlyMap<string, T>,
  ): Promise<T[]> {
    const keys = infos.map((info) => info.key)
    const started = performance.now()
    const control = new BatchLoadControl<T>(this.cache, new Set(keys), held)
    let result: Awaited<ReturnType<BatchLoader<T>>>
    try {
      result = await runWithContext(control, () => loader(keys, control))
    } finally {
      const elapsed = performance.now() - started
      for (const key of keys) this.reporter.recorder.load(prefixOf(key), elapsed / keys.length)
    }
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
    const writes: Write[] = []
    values.forEach((value, i) => {
      const key = keys[i]!
      const defaultTtl = ttlFor(value, options, this.settings.nullTtlMs)
      const write = plannedWrite(key, value, control.decisionsFor(key), options, defaultTtl)
      if (write !== undefined) writes.push(write)
    })
    if (writes.length > 0) await this.writer.write(writes, rules, false)
    return values
  }
}
