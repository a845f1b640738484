/**
 * Memory over many distinct keys, and pattern deletes against hostile globs: what a long-running
 * process with user-supplied keys does to a cache.
 */
import { memoryAdapter } from '@cacheport/adapter-memory'
import { createCache } from '@cacheport/cache-core'
import { addTargets, note, part, type SuiteReport, valueTarget } from '../harness.js'

const MB = 1024 * 1024
const DISTINCT_KEYS = 10_000_000
const WARM_UP_KEYS = 1_000_000

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined)
    throw new Error('the growth suite needs node --expose-gc (the bench script passes it)')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Heap after GC over 10M distinct keys on a memory cache of 1,000 entries; pattern deletes on hostile globs. */
export async function growthSuite(report: SuiteReport): Promise<void> {
  await part(report, 'heap over distinct keys', async () => {
    const cache = createCache({
      adapter: memoryAdapter({ maxEntries: 1000 }),
      keyPrefix: 'growth',
      statsPrefixes: ['user'],
    })
    // Half the keys under a declared prefix, half under none, as user-supplied keys would be.
    const keyOf = (i: number) => (i % 2 === 0 ? `user:${i}` : `k${i}`)
    for (let i = 0; i < WARM_UP_KEYS; i++) await cache.set(keyOf(i), i)
    const before = heapAfterGc()
    const started = performance.now()
    for (let i = WARM_UP_KEYS; i < DISTINCT_KEYS; i++) await cache.set(keyOf(i), i)
    const seconds = (performance.now() - started) / 1000
    const after = heapAfterGc()
    const buckets = Object.keys(cache.stats().byPrefix).length
    note(
      report,
      `${DISTINCT_KEYS.toLocaleString('en')} distinct keys set: heap after GC ${(before / MB).toFixed(1)} MB after ${WARM_UP_KEYS.toLocaleString('en')}, ` +
        `${(after / MB).toFixed(1)} MB at the end (${seconds.toFixed(1)} s); byPrefix holds ${buckets} bucket(s)`,
    )
    report.data.heapGrowthMb = (after - before) / MB
    addTargets(
      report,
      valueTarget(
        'heap growth after GC, 1M → 10M distinct keys on a 1,000-entry memory cache',
        (after - before) / MB,
        '<=',
        8,
        'MB',
        `${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB`,
      ),
    )
    await cache.close()
  })

  await part(report, 'pattern delete on a hostile glob', async () => {
    const adapter = memoryAdapter({ maxEntries: 10_000 })
    for (let i = 0; i < 1000; i++)
      adapter.set(`${'a'.repeat(36)}${String(i).padStart(4, '0')}`, new Uint8Array(1), undefined)
    const started = performance.now()
    const removed = adapter.deleteByPattern('*a*a*a*a*a*a*a*a*b')
    const ms = performance.now() - started
    if (removed !== 0) throw new Error(`the hostile glob removed ${removed} keys; it matches none`)
    addTargets(
      report,
      valueTarget(
        'deleteByPattern("*a*a*a*a*a*a*a*a*b") over 1,000 keys of 40 characters',
        ms,
        '<=',
        50,
        'ms',
        'a backtracking RegExp took about 4 s per key',
      ),
    )
  })
}
