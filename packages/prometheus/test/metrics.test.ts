import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { memoryAdapter, memoryAdapterFactory } from '@cacheport/adapter-memory'
import { redisAdapter } from '@cacheport/adapter-redis'
import {
  type AnyCacheAdapter,
  type Cache,
  type CacheStats,
  createCache,
  createCaches,
} from '@cacheport/cache-core'
import { register as globalRegister, Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { registerCacheMetrics } from '../src/index.js'
import { lintExposition } from './helpers/exposition.js'
import { readmeExample, typeCheck } from './helpers/readme.js'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function track<T extends { close(): unknown }>(thing: T): T {
  closers.push(() => thing.close())
  return thing
}

/** A memory store whose reads can be made to fail, as a store that is down does. */
function flakyMemory(): AnyCacheAdapter & { failing: boolean } {
  const inner = memoryAdapter()
  const down = () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6390'))
  const flaky = {
    failing: false,
    name: inner.name,
    capabilities: inner.capabilities,
    get: (key: string) => (flaky.failing ? down() : inner.get(key)),
    getMany: (keys: readonly string[]) => (flaky.failing ? down() : inner.getMany(keys)),
    set: (key: string, value: Uint8Array, ttlMs: number | undefined) => inner.set(key, value, ttlMs),
    setMany: (entries: Parameters<typeof inner.setMany>[0]) => inner.setMany(entries),
    delete: (key: string) => (flaky.failing ? down() : inner.delete(key)),
    deleteMany: (keys: readonly string[]) => inner.deleteMany(keys),
    deleteByPattern: (pattern: string) => inner.deleteByPattern(pattern),
    clear: (prefix: string) => inner.clear(prefix),
    close: () => inner.close(),
  }
  return flaky as AnyCacheAdapter & { failing: boolean }
}

/** The value of one series of a metric, read through prom-client's registry. */
async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
  return match?.value
}

describe('registerCacheMetrics', () => {
  it('counts reads by outcome and prefix from the cache stats', async () => {
    const registry = new Registry()
    const cache = track(
      createCache({
        adapter: memoryAdapter(),
        l1: memoryAdapter(),
        keyPrefix: 'ea',
        name: 'queries',
        // Prefixes are labels only when declared: every other key counts under "(other)".
        statsPrefixes: ['filter_counts', 'faculty'],
        ttl: 40,
        staleWhileRevalidate: '1m',
      }),
    )
    track(registerCacheMetrics(cache, { registry }))
    // L1 is used once the bus is connected; the short default TTL is for the stale read below only.
    await cache.ready()
    await cache.get('filter_counts:a') // miss
    await cache.set('filter_counts:a', 1, { ttl: '1m' })
    await cache.get('filter_counts:a') // L1 hit
    await cache.getOrSet('faculty:EEMCS', async () => 'x') // miss + load
    await new Promise((resolve) => setTimeout(resolve, 60))
    await cache.getOrSet('faculty:EEMCS', async () => 'y') // stale

    const labels = { cache: 'queries', adapter: 'memory+memory' }
    expect(await value(registry, 'cacheport_misses_total', { ...labels, prefix: 'filter_counts' })).toBe(1)
    expect(await value(registry, 'cacheport_hits_total', { ...labels, prefix: 'filter_counts' })).toBe(1)
    expect(await value(registry, 'cacheport_l1_hits_total', { ...labels, prefix: 'filter_counts' })).toBe(1)
    expect(await value(registry, 'cacheport_sets_total', { ...labels, prefix: 'filter_counts' })).toBe(1)
    expect(await value(registry, 'cacheport_misses_total', { ...labels, prefix: 'faculty' })).toBe(1)
    expect(await value(registry, 'cacheport_stale_hits_total', { ...labels, prefix: 'faculty' })).toBe(1)
    expect(
      await value(registry, 'cacheport_loads_total', { ...labels, prefix: 'faculty' }),
    ).toBeGreaterThanOrEqual(1)
    expect(await value(registry, 'cacheport_l1_entries', labels)).toBe(2)
    expect(await value(registry, 'cacheport_circuit_state', { ...labels, state: 'closed' })).toBe(1)
    expect(await value(registry, 'cacheport_circuit_state', { ...labels, state: 'open' })).toBe(0)
    // The memory adapter's in-process pub/sub carries the bus here.
    expect(cache.stats().bus).toBe('connected')
    expect(await value(registry, 'cacheport_bus_state', { ...labels, state: 'connected' })).toBe(1)
    expect(await value(registry, 'cacheport_bus_state', { ...labels, state: 'off' })).toBe(0)
    // This core reports its backlog of invalidations to replay: none here.
    expect(await value(registry, 'cacheport_invalidation_backlog', labels)).toBe(0)
  })

  it('times operations and loads, and counts load failures', async () => {
    const registry = new Registry()
    const cache = track(
      createCache({ adapter: memoryAdapter(), keyPrefix: 'ea', name: 'items', statsPrefixes: ['item'] }),
    )
    track(registerCacheMetrics(cache, { registry }))
    await cache.getOrSet('item:1', () => new Promise((resolve) => setTimeout(() => resolve(1), 30)))
    await cache.get('item:1')
    await cache.get('item:1')
    await expect(cache.getOrSet('item:2', () => Promise.reject(new Error('db down')))).rejects.toThrow(
      'db down',
    )

    const labels = { cache: 'items', adapter: 'memory', prefix: 'item' }
    const text = await registry.getSingleMetricAsString('cacheport_operation_duration_seconds')
    expect(text).toContain(
      'cacheport_operation_duration_seconds_count{cache="items",prefix="item",adapter="memory",operation="get"} 2',
    )
    expect(text).toContain(
      'cacheport_operation_duration_seconds_count{cache="items",prefix="item",adapter="memory",operation="getOrSet"} 2',
    )
    const loads = (await registry.getSingleMetric('cacheport_load_duration_seconds')!.get()).values
    const series = (suffix: string, le?: number) =>
      loads.find(
        (v) =>
          (v as { metricName?: string }).metricName === `cacheport_load_duration_seconds_${suffix}` &&
          v.labels.prefix === 'item' &&
          (le === undefined || v.labels.le === le),
      )?.value
    expect(series('count')).toBe(2)
    // The 30 ms load is above the 25 ms bucket, whatever the machine made of the other one.
    expect(series('bucket', 0.025)).toBeLessThanOrEqual(1)
    expect(series('sum')).toBeGreaterThanOrEqual(0.025)
    expect(await value(registry, 'cacheport_load_failures_total', labels)).toBe(1)
  })

  it('counts store failures by operation and error code, and shows the open circuit', async () => {
    const registry = new Registry()
    const adapter = flakyMemory()
    const cache = track(
      createCache({
        adapter,
        keyPrefix: 'ea',
        name: 'flaky',
        breaker: { threshold: 2, cooldown: '1m' },
        statsPrefixes: ['course'],
      }),
    )
    track(registerCacheMetrics(cache, { registry }))
    adapter.failing = true
    await cache.get('course:1')
    await cache.get('course:2')
    const labels = { cache: 'flaky', adapter: 'memory' }
    expect(
      await value(registry, 'cacheport_errors_total', {
        ...labels,
        prefix: 'course',
        operation: 'get',
        code: 'E_ADAPTER',
      }),
    ).toBe(2)
    expect(await value(registry, 'cacheport_circuit_state', { ...labels, state: 'open' })).toBe(1)
  })

  it('registers every cache of a registry, and adds caches on a second call', async () => {
    const registry = new Registry()
    const caches = createCaches(
      {
        default: { adapter: 'memory', keyPrefix: 'd', statsPrefixes: ['a'] },
        queries: { adapter: 'memory', keyPrefix: 'q', statsPrefixes: ['b'] },
      },
      { adapters: { memory: memoryAdapterFactory } },
    )
    closers.push(() => caches.closeAll())
    track(registerCacheMetrics(caches, { registry }))
    const extra = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'x', statsPrefixes: ['c'] }))
    track(registerCacheMetrics([extra], { registry }))
    await caches.get('default').get('a:1')
    await caches.get('queries').get('b:1')
    await extra.get('c:1')
    expect(await value(registry, 'cacheport_misses_total', { cache: 'default', prefix: 'a' })).toBe(1)
    expect(await value(registry, 'cacheport_misses_total', { cache: 'queries', prefix: 'b' })).toBe(1)
    expect(await value(registry, 'cacheport_misses_total', { cache: 'x', prefix: 'c' })).toBe(1)
  })

  it("uses prom-client's global registry by default, and close() removes everything", async () => {
    const cache = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'g', statsPrefixes: ['k'] }))
    const metrics = registerCacheMetrics(cache)
    await cache.get('k:1')
    expect(await value(globalRegister, 'cacheport_misses_total', { cache: 'g', prefix: 'k' })).toBe(1)
    metrics.close()
    expect(globalRegister.getSingleMetric('cacheport_misses_total')).toBeUndefined()
    expect(await globalRegister.metrics()).not.toContain('cacheport_')
    // Registering again after close works: nothing of the old set is left behind.
    track(registerCacheMetrics(cache))
    expect(await value(globalRegister, 'cacheport_misses_total', { cache: 'g', prefix: 'k' })).toBe(1)
  })

  it('reports an invalidation backlog when the core does', async () => {
    const registry = new Registry()
    const real = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'b' }))
    const withBacklog = new Proxy(real, {
      get: (target, property) => {
        if (property === 'stats') {
          return (): CacheStats & { invalidationBacklog: number } => ({
            ...target.stats(),
            invalidationBacklog: 3,
          })
        }
        const member = Reflect.get(target, property)
        return typeof member === 'function' ? member.bind(target) : member
      },
    }) as Cache
    track(registerCacheMetrics(withBacklog, { registry }))
    expect(await value(registry, 'cacheport_invalidation_backlog', { cache: 'b' })).toBe(3)
  })

  it('exports the Redis server memory as gauges, and the policy as a label', async () => {
    const registry = new Registry()
    const adapter = redisAdapter({ url: process.env.CACHEPORT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9' })
    const cache = track(
      createCache({ adapter, keyPrefix: `prom_${randomBytes(4).toString('hex')}`, name: 'r' }),
    )
    track(registerCacheMetrics(cache, { registry }))
    await cache.ready()
    await cache.set('k', 1)
    const memory = (await adapter.serverMemory())!
    const labels = { cache: 'r', adapter: 'redis' }
    expect(await value(registry, 'cacheport_store_memory_used_bytes', labels)).toBeGreaterThan(0)
    expect(await value(registry, 'cacheport_store_memory_max_bytes', labels)).toBe(memory.maxBytes)
    expect(await value(registry, 'cacheport_store_evicted_keys', labels)).toBe(memory.evictedKeys)
    expect(
      await value(registry, 'cacheport_store_maxmemory_policy', { ...labels, policy: memory.policy }),
    ).toBe(1)
    await cache.clear()
  })
})

describe('the exposition', () => {
  it('passes a promtool-style lint, with every metric family present', async () => {
    const registry = new Registry()
    const adapter = flakyMemory()
    const cache = track(createCache({ adapter, l1: memoryAdapter(), keyPrefix: 'lint', name: 'lint "q"\n' }))
    track(registerCacheMetrics(cache, { registry }))
    await cache.getOrSet('a:1', async () => 1)
    await expect(cache.getOrSet('a:2', () => Promise.reject(new Error('x')))).rejects.toThrow()
    adapter.failing = true
    await cache.delete('a:1').catch(() => {})
    await cache.get('b:1')
    const text = await registry.metrics()
    expect(lintExposition(text)).toEqual([])
    for (const name of [
      'cacheport_hits_total',
      'cacheport_errors_total',
      'cacheport_load_failures_total',
      'cacheport_operation_duration_seconds',
      'cacheport_load_duration_seconds',
      'cacheport_circuit_state',
      'cacheport_l1_entries',
    ]) {
      expect(text).toContain(`# TYPE ${name} `)
    }
  })

  it('the lint catches what promtool would', () => {
    const bad = [
      '# HELP cache_hits Hits.',
      '# TYPE cache_hits counter',
      'cache_hits{cache="a"} 1',
      '# HELP cache_hits Again.',
      '# TYPE load_ms gauge',
      'load_ms{__x="1",cache="a\\q"} 2',
      'load_ms{cache="b"} 1',
      'load_ms{cache="b"} 1',
      '# HELP lat_seconds Latency.',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.1"} 5',
      'lat_seconds_bucket{le="1"} 3',
      'lat_seconds_count 3',
    ].join('\n')
    expect(lintExposition(bad)).toEqual(
      expect.arrayContaining([
        'line 4: HELP for cache_hits after its samples',
        'line 4: duplicate HELP for cache_hits',
        expect.stringContaining('invalid escape'),
        'line 8: duplicate series load_ms{cache="b"}',
        'cache_hits: counter names should end in _total',
        'load_ms: no HELP',
        'load_ms: use base units (seconds, bytes)',
        'lat_seconds{}: no +Inf bucket',
        'lat_seconds{}: buckets not cumulative',
      ]),
    )
  })
})

describe('the Grafana dashboard', () => {
  it('queries only metrics this package registers', async () => {
    const registry = new Registry()
    track(registerCacheMetrics([], { registry }))
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name))
    const dashboard = readFileSync(join(packageDir, 'grafana-dashboard.json'), 'utf8')
    const used = new Set(
      [...dashboard.matchAll(/cacheport_[a-z0-9_]+/g)].map(([name]) => name.replace(/_bucket$/, '')),
    )
    expect(used.size).toBeGreaterThan(10)
    for (const name of used) expect(registered, name).toContain(name)
    const parsed = JSON.parse(dashboard) as { panels: Array<{ gridPos: unknown }> }
    for (const panel of parsed.panels) expect(panel.gridPos).toBeDefined()
  })
})

describe('README', () => {
  it('its example type-checks as a user would write it', () => {
    expect(typeCheck(packageDir, readmeExample(packageDir))).toEqual([])
  }, 60_000)
})
