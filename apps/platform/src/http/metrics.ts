import type { CacheCounters, CacheRegistry } from '@cacheport/cache-core'

interface Metric {
  name: string
  help: string
  type: 'counter' | 'gauge'
  value: (counters: CacheCounters) => number
}

const PER_PREFIX: readonly Metric[] = [
  {
    name: 'cacheport_hits_total',
    help: 'Reads answered from the cache.',
    type: 'counter',
    value: (c) => c.hits,
  },
  {
    name: 'cacheport_misses_total',
    help: 'Reads the cache could not answer.',
    type: 'counter',
    value: (c) => c.misses,
  },
  {
    name: 'cacheport_l1_hits_total',
    help: 'Hits answered by the in-process tier without asking the shared store (a subset of hits).',
    type: 'counter',
    value: (c) => c.l1Hits,
  },
  {
    name: 'cacheport_stale_hits_total',
    help: 'Reads answered with a stale value (stale-while-revalidate, or grace while a loader failed).',
    type: 'counter',
    value: (c) => c.staleHits,
  },
  { name: 'cacheport_sets_total', help: 'Entries written.', type: 'counter', value: (c) => c.sets },
  { name: 'cacheport_deletes_total', help: 'Entries removed.', type: 'counter', value: (c) => c.deletes },
  {
    name: 'cacheport_errors_total',
    help: 'Store failures and timeouts (the cache failed open).',
    type: 'counter',
    value: (c) => c.errors,
  },
  { name: 'cacheport_loads_total', help: 'Loader runs on misses.', type: 'counter', value: (c) => c.loads },
  {
    name: 'cacheport_load_seconds_total',
    help: 'Time spent in loaders on misses.',
    type: 'counter',
    value: (c) => c.loadTimeMs / 1000,
  },
]

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

/**
 * Cache statistics in the Prometheus text format: counters per cache and key prefix (from
 * `stats().byPrefix`), and per cache the hit ratio and whether its circuit is open.
 */
export function renderMetrics(caches: CacheRegistry): string {
  const stats = caches.stats()
  const lines: string[] = []
  for (const metric of PER_PREFIX) {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`)
    for (const [name, s] of Object.entries(stats)) {
      for (const [prefix, counters] of Object.entries(s.byPrefix)) {
        lines.push(
          `${metric.name}{cache="${label(name)}",adapter="${label(s.adapter)}",prefix="${label(prefix)}"} ${metric.value(counters)}`,
        )
      }
    }
  }
  lines.push(
    '# HELP cacheport_hit_ratio Hits divided by reads, per cache.',
    '# TYPE cacheport_hit_ratio gauge',
  )
  for (const [name, s] of Object.entries(stats)) {
    lines.push(`cacheport_hit_ratio{cache="${label(name)}",adapter="${label(s.adapter)}"} ${s.hitRate}`)
  }
  lines.push(
    '# HELP cacheport_circuit_open Whether the circuit breaker skips the store (1) or not (0).',
    '# TYPE cacheport_circuit_open gauge',
  )
  for (const [name, s] of Object.entries(stats)) {
    lines.push(`cacheport_circuit_open{cache="${label(name)}"} ${s.circuit === 'closed' ? 0 : 1}`)
  }
  return `${lines.join('\n')}\n`
}
