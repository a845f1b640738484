import { AsyncLocalStorage } from 'node:async_hooks'
import type { CacheRegistry } from '@cacheport/cache-core'

const reads = new AsyncLocalStorage<{ loaded: boolean }>()

/**
 * Called by a loader once it has answered: marks the read that triggered it as answered by the
 * source (database or upstream) rather than by a cache. Loaders run in the async context of the call
 * that missed, so concurrent reads are told apart.
 */
export function markLoaded(): void {
  const store = reads.getStore()
  if (store) store.loaded = true
}

/** Runs `read` and says how long it took and whether a loader answered it. */
export async function trackRead<T>(
  read: () => Promise<T>,
): Promise<{ value: T; loaded: boolean; ms: number }> {
  const store = { loaded: false }
  const started = performance.now()
  const value = await reads.run(store, read)
  return { value, loaded: store.loaded, ms: performance.now() - started }
}

/** Average and count of a kind of read. */
export interface LatencySummary {
  count: number
  avgMs: number | null
  p95Ms: number | null
}

function summarise(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, avgMs: null, p95Ms: null }
  const sorted = [...values].sort((a, b) => a - b)
  const avg = values.reduce((sum, v) => sum + v, 0) / values.length
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!
  return { count: values.length, avgMs: Math.round(avg * 100) / 100, p95Ms: Math.round(p95 * 100) / 100 }
}

/** The latency of the last reads of one kind of data, split by whether the cache answered. */
export class ReadLatency {
  private readonly cached: number[] = []
  private readonly uncached: number[] = []

  /** @param keep reads remembered of each kind */
  constructor(private readonly keep = 500) {}

  /** Records one read. */
  record(loaded: boolean, ms: number): void {
    const list = loaded ? this.uncached : this.cached
    list.push(ms)
    if (list.length > this.keep) list.shift()
  }

  /** Cached and uncached reads, summarised. */
  summary(): { cached: LatencySummary; uncached: LatencySummary } {
    return { cached: summarise(this.cached), uncached: summarise(this.uncached) }
  }
}

/** One point of the hit-rate chart: per cache, the reads in the interval ending at `at`. */
export interface HistoryPoint {
  at: string
  caches: Record<string, { hits: number; misses: number; hitRate: number | null }>
}

/**
 * The hit rate of each cache over the last minutes, for the dashboard's chart: a sample of the
 * counters every `intervalMs`, turned into per-interval rates.
 */
export class CacheHistory {
  private readonly points: HistoryPoint[] = []
  private last: Record<string, { hits: number; misses: number }>
  private readonly timer: NodeJS.Timeout

  /**
   * @param intervalMs length of one point
   * @param keep points remembered (30 of 10 s: five minutes)
   */
  constructor(
    private readonly caches: CacheRegistry,
    intervalMs = 10_000,
    private readonly keep = 30,
  ) {
    this.last = this.counters()
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
  }

  /** Closes the interval since the previous sample as one point. */
  sample(): HistoryPoint {
    const point = this.since(this.last)
    this.last = this.counters()
    this.points.push(point)
    if (this.points.length > this.keep) this.points.shift()
    return point
  }

  /** The sampled points, oldest first, and the interval still running as the last one. */
  history(): HistoryPoint[] {
    return [...this.points, this.since(this.last)]
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.timer)
  }

  private counters(): Record<string, { hits: number; misses: number }> {
    return Object.fromEntries(
      this.caches.entries().map(([name, cache]) => {
        const { hits, misses } = cache.stats()
        return [name, { hits, misses }]
      }),
    )
  }

  private since(previous: Record<string, { hits: number; misses: number }>): HistoryPoint {
    const now = this.counters()
    return {
      at: new Date().toISOString(),
      caches: Object.fromEntries(
        Object.entries(now).map(([name, c]) => {
          const hits = c.hits - (previous[name]?.hits ?? 0)
          const misses = c.misses - (previous[name]?.misses ?? 0)
          return [name, { hits, misses, hitRate: hits + misses === 0 ? null : hits / (hits + misses) }]
        }),
      ),
    }
  }
}
