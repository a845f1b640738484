/**
 * Prometheus metrics for Cacheport caches, on prom-client: one call registers a cache, or every cache
 * of a registry, on a prom-client `Registry`.
 */
import type { Cache, CacheRegistry, CacheStats, StoreMemory } from '@cacheport/cache-core'
import { Counter, Gauge, register as globalRegistry, Histogram, type Registry } from 'prom-client'

/** Options of {@link registerCacheMetrics}. */
export interface CacheMetricsOptions {
  /**
   * The prom-client registry to register the metrics on.
   * @default prom-client's global `register`
   */
  registry?: Registry
  /**
   * Upper bounds of the operation latency histogram, in seconds. Hits on an in-process tier take
   * microseconds, Redis round trips a millisecond or so.
   * @default [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
   */
  operationBuckets?: number[]
  /**
   * Upper bounds of the loader latency histogram, in seconds.
   * @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  loadBuckets?: number[]
  /**
   * Time every call for the operation latency histogram. Timing reads the clock twice per call, so
   * turn it off where even that matters; every other metric stays.
   * @default true
   */
  operationLatency?: boolean
}

/** What {@link registerCacheMetrics} returns: add more caches, or stop. */
export interface CacheMetrics {
  /** Reports `cache` too (a cache already reported is ignored). */
  add(cache: Cache): void
  /** Stops reporting every cache and removes the metrics from the registry. */
  close(): void
}

const DEFAULT_OPERATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
]
const DEFAULT_LOAD_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const
const BUS_STATES = ['off', 'connecting', 'connected', 'disconnected'] as const

type Field = 'hits' | 'l1Hits' | 'staleHits' | 'misses' | 'sets' | 'deletes' | 'loads'

// The counters read from `stats()` at scrape time: counting them costs the cache nothing extra.
const STAT_COUNTERS: ReadonlyArray<readonly [Field, string, string]> = [
  ['hits', 'cacheport_hits_total', 'Reads answered with a fresh entry (in-process tier included).'],
  ['l1Hits', 'cacheport_l1_hits_total', 'Fresh reads answered by the in-process tier (a subset of hits).'],
  [
    'staleHits',
    'cacheport_stale_hits_total',
    'Reads answered with a stale value (stale-while-revalidate or grace).',
  ],
  ['misses', 'cacheport_misses_total', 'Reads that found nothing usable.'],
  ['sets', 'cacheport_sets_total', 'Entries written.'],
  ['deletes', 'cacheport_deletes_total', 'Entries removed by deletes and invalidations by key or pattern.'],
  ['loads', 'cacheport_loads_total', 'Loader runs (each key of a batch load counts once).'],
]

/** The invalidation backlog of a cache's stats, when its core reports one. */
function invalidationBacklogOf(stats: CacheStats): number | undefined {
  const backlog = (stats as CacheStats & { invalidationBacklog?: unknown }).invalidationBacklog
  return typeof backlog === 'number' ? backlog : undefined
}

function isRegistry(target: unknown): target is CacheRegistry {
  return (
    typeof target === 'object' &&
    target !== null &&
    typeof (target as CacheRegistry).entries === 'function' &&
    typeof (target as CacheRegistry).closeAll === 'function'
  )
}

// One set of metrics per prom-client registry: a metric name can be registered only once on it.
const perRegistry = new WeakMap<Registry, CacheMetricsImpl>()

/**
 * Registers Prometheus metrics for `target` — one cache, a registry of caches (`createCaches`), or a
 * list of caches — on `options.registry` (default: prom-client's global registry). Calling it again
 * for the same registry adds the caches to the metrics already there.
 *
 * Counters (`cacheport_hits_total`, …) are read from `cache.stats()` at scrape time; latency
 * histograms, errors and load failures come from the cache's events; gauges show the circuit, the
 * invalidation bus, the in-process tier, the invalidation backlog and the store server's memory.
 * Labels: `cache`, `prefix` (the cache's stats prefixes) and `adapter`.
 */
export function registerCacheMetrics(
  target: Cache | CacheRegistry | Iterable<Cache>,
  options: CacheMetricsOptions = {},
): CacheMetrics {
  const registry = options.registry ?? globalRegistry
  let metrics = perRegistry.get(registry)
  if (metrics === undefined) {
    metrics = new CacheMetricsImpl(registry, options)
    perRegistry.set(registry, metrics)
  }
  const caches = isRegistry(target)
    ? target.entries().map(([, cache]) => cache)
    : typeof (target as Cache).getOrSet === 'function'
      ? [target as Cache]
      : [...(target as Iterable<Cache>)]
  for (const cache of caches) metrics.add(cache)
  return metrics
}

interface Watched {
  cache: Cache
  unsubscribe: Array<() => void>
}

class CacheMetricsImpl implements CacheMetrics {
  readonly #registry: Registry
  readonly #watched = new Map<Cache, Watched>()
  readonly #names: string[] = []
  readonly #operationLatency: boolean
  readonly #operations: Histogram<'cache' | 'prefix' | 'adapter' | 'operation'>
  readonly #loads: Histogram<'cache' | 'prefix' | 'adapter'>
  readonly #loadFailures: Counter<'cache' | 'prefix' | 'adapter'>
  readonly #errors: Counter<'cache' | 'prefix' | 'adapter' | 'operation' | 'code'>

  constructor(registry: Registry, options: CacheMetricsOptions) {
    this.#registry = registry
    this.#operationLatency = options.operationLatency ?? true
    const registers = [registry]
    const self = this

    for (const [field, name, help] of STAT_COUNTERS) {
      this.#names.push(name)
      new Counter({
        name,
        help,
        labelNames: ['cache', 'prefix', 'adapter'],
        registers,
        collect() {
          this.reset()
          for (const stats of self.#stats()) {
            for (const [prefix, counters] of Object.entries(stats.byPrefix)) {
              this.inc({ cache: stats.name, prefix, adapter: stats.adapter }, counters[field])
            }
          }
        },
      })
    }

    this.#errors = this.#track(
      new Counter({
        name: 'cacheport_errors_total',
        help: 'Store operations that failed or timed out (the cache failed open), by operation and error code.',
        labelNames: ['cache', 'prefix', 'adapter', 'operation', 'code'],
        registers,
      }),
    )
    this.#loadFailures = this.#track(
      new Counter({
        name: 'cacheport_load_failures_total',
        help: 'Loader runs that threw or rejected (nothing was cached).',
        labelNames: ['cache', 'prefix', 'adapter'],
        registers,
      }),
    )
    this.#operations = this.#track(
      new Histogram({
        name: 'cacheport_operation_duration_seconds',
        help: 'Time from a cache call to its answer, by operation (get, getOrSet, set, delete, ...).',
        labelNames: ['cache', 'prefix', 'adapter', 'operation'],
        buckets: options.operationBuckets ?? DEFAULT_OPERATION_BUCKETS,
        registers,
      }),
    )
    this.#loads = this.#track(
      new Histogram({
        name: 'cacheport_load_duration_seconds',
        help: 'Time loaders took, per loader run (a batch load is one run).',
        labelNames: ['cache', 'prefix', 'adapter'],
        buckets: options.loadBuckets ?? DEFAULT_LOAD_BUCKETS,
        registers,
      }),
    )

    this.#gauge(
      'cacheport_circuit_state',
      'Circuit breaker state of the store: 1 for the current state.',
      ['state'],
      (set, stats) => {
        for (const state of CIRCUIT_STATES) set({ state }, stats.circuit === state ? 1 : 0)
      },
    )
    this.#gauge(
      'cacheport_bus_state',
      'Invalidation bus state of the in-process tier: 1 for the current state.',
      ['state'],
      (set, stats) => {
        for (const state of BUS_STATES) set({ state }, stats.bus === state ? 1 : 0)
      },
    )
    this.#gauge('cacheport_l1_entries', 'Entries held by the in-process tier.', [], (set, stats) => {
      if (stats.l1Entries !== undefined) set({}, stats.l1Entries)
    })
    this.#gauge(
      'cacheport_invalidation_backlog',
      'Invalidations the store could not take yet, kept for replay.',
      [],
      (set, stats) => {
        const backlog = invalidationBacklogOf(stats)
        if (backlog !== undefined) set({}, backlog)
      },
    )

    this.#storeGauge(
      'cacheport_store_memory_used_bytes',
      'Memory used by the store server (Redis used_memory).',
      (m) => m.usedBytes,
    )
    this.#storeGauge(
      'cacheport_store_memory_max_bytes',
      'Memory limit of the store server; 0 when unset (Redis maxmemory).',
      (m) => m.maxBytes,
    )
    this.#storeGauge(
      'cacheport_store_evicted_keys',
      'Keys the store server evicted since it started (Redis evicted_keys).',
      (m) => m.evictedKeys,
    )
    this.#names.push('cacheport_store_maxmemory_policy')
    new Gauge({
      name: 'cacheport_store_maxmemory_policy',
      help: 'Eviction policy of the store server (Redis maxmemory-policy), as a label; always 1.',
      labelNames: ['cache', 'adapter', 'policy'],
      registers,
      async collect() {
        this.reset()
        for (const [stats, memory] of await self.#memory()) {
          this.set({ cache: stats.name, adapter: stats.adapter, policy: memory.policy }, 1)
        }
      },
    })
  }

  add(cache: Cache): void {
    if (this.#watched.has(cache)) return
    const labels = () => {
      const stats = cache.stats()
      return { cache: stats.name, adapter: stats.adapter }
    }
    // The adapter label is fixed per cache; read it once rather than building stats per event.
    const { cache: name, adapter } = labels()
    const unsubscribe = [
      cache.on('error', ({ prefix, operation, code }) => {
        this.#errors.inc({ cache: name, prefix, adapter, operation, code })
      }),
      cache.on('load', ({ prefix, durationMs, error }) => {
        this.#loads.observe({ cache: name, prefix, adapter }, durationMs / 1000)
        if (error !== undefined) this.#loadFailures.inc({ cache: name, prefix, adapter })
      }),
    ]
    if (this.#operationLatency) {
      unsubscribe.push(
        cache.on('operation', ({ operation, prefix, durationMs }) => {
          this.#operations.observe(
            { cache: name, prefix: prefix ?? '', adapter, operation },
            durationMs / 1000,
          )
        }),
      )
    }
    this.#watched.set(cache, { cache, unsubscribe })
  }

  close(): void {
    for (const { unsubscribe } of this.#watched.values()) for (const off of unsubscribe) off()
    this.#watched.clear()
    for (const name of this.#names) this.#registry.removeSingleMetric(name)
    perRegistry.delete(this.#registry)
  }

  /** Remembers a metric's name, so that `close()` removes it from the registry. */
  #track<M>(metric: M): M {
    this.#names.push((metric as { name: string }).name)
    return metric
  }

  #stats(): CacheStats[] {
    return [...this.#watched.keys()].map((cache) => cache.stats())
  }

  /** A gauge per cache, filled from its stats at scrape time. */
  #gauge(
    name: string,
    help: string,
    extraLabels: string[],
    fill: (set: (labels: Record<string, string>, value: number) => void, stats: CacheStats) => void,
  ): void {
    const self = this
    this.#names.push(name)
    new Gauge({
      name,
      help,
      labelNames: ['cache', 'adapter', ...extraLabels],
      registers: [this.#registry],
      collect() {
        this.reset()
        for (const stats of self.#stats()) {
          fill(
            (labels, value) => this.set({ cache: stats.name, adapter: stats.adapter, ...labels }, value),
            stats,
          )
        }
      },
    })
  }

  /** A gauge of the store server's sampled memory state, for caches whose adapter reports it. */
  #storeGauge(name: string, help: string, value: (memory: StoreMemory) => number): void {
    const self = this
    this.#names.push(name)
    new Gauge({
      name,
      help,
      labelNames: ['cache', 'adapter'],
      registers: [this.#registry],
      async collect() {
        this.reset()
        for (const [stats, memory] of await self.#memory()) {
          this.set({ cache: stats.name, adapter: stats.adapter }, value(memory))
        }
      },
    })
  }

  /** The sampled server memory of every cache whose store reports it (adapters sample, not us). */
  async #memory(): Promise<Array<[CacheStats, StoreMemory]>> {
    const answers = await Promise.all(
      [...this.#watched.keys()].map(async (cache): Promise<[CacheStats, StoreMemory] | undefined> => {
        const memory = await cache.adapter.serverMemory?.().catch(() => undefined)
        return memory === undefined ? undefined : [cache.stats(), memory]
      }),
    )
    return answers.filter((answer) => answer !== undefined)
  }
}
