import { createCache } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { noopAdapter, noopAdapterFactory } from '../src/index.js'

describe('noop adapter', () => {
  it('declares that it stores nothing shared and offers no leases or pub/sub', () => {
    expect(noopAdapter().capabilities).toEqual({
      shared: false,
      ttlPrecisionMs: 1,
      nativeBatch: true,
      atomicSetIfAbsent: false,
      pubsub: false,
      byReference: false,
    })
  })

  it('registry factory ignores options meant for another adapter, so USE_CACHE=false never fails', () => {
    const adapter = noopAdapterFactory({
      cache: 'queries',
      location: 'redis://:secret@127.0.0.1:6379/0',
      options: { connectTimeout: 5000, maxEntries: 10 },
    })
    expect(adapter.name).toBe('noop')
  })

  it('a cache asking for cross-process leases still runs every loader, without waiting', async () => {
    const cache = createCache({ adapter: noopAdapter(), keyPrefix: 'noop', lease: { wait: '5s' } })
    let calls = 0
    const started = Date.now()
    const results = await Promise.all([1, 2, 3].map(() => cache.getOrSet('k', async () => ++calls)))
    // Concurrent callers in one process share one run; sequential ones each run the loader.
    expect(results).toEqual([1, 1, 1])
    expect(await cache.getOrSet('k', async () => ++calls)).toBe(2)
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
