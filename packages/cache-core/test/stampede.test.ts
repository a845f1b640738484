import { describe, expect, it, vi } from 'vitest'
import { createCache } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'

describe('getOrSet', () => {
  it('runs the loader once for 1,000 concurrent misses (sync store)', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 's' })
    let runs = 0
    const loader = async () => {
      runs++
      await new Promise((resolve) => setTimeout(resolve, 5))
      return { counts: [1, 2, 3] }
    }
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => cache.getOrSet('filter_counts:x', loader)),
    )
    expect(runs).toBe(1)
    expect(new Set(results.map((r) => JSON.stringify(r)))).toEqual(new Set(['{"counts":[1,2,3]}']))
  })

  it('runs the loader once for 1,000 concurrent misses and reads the store once (async store)', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 's' })
    let runs = 0
    await Promise.all(
      Array.from({ length: 1000 }, () =>
        cache.getOrSet('k', async () => {
          runs++
          return 'v'
        }),
      ),
    )
    expect(runs).toBe(1)
    expect(adapter.ops).toEqual({ get: 1, set: 1 })
  })

  it('hands a loader error to every waiter and caches nothing', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'e' })
    const failure = new Error('Osiris answered 503')
    const loader = vi.fn(async () => {
      throw failure
    })
    const results = await Promise.allSettled([cache.getOrSet('k', loader), cache.getOrSet('k', loader)])
    expect(results).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ])
    expect(loader).toHaveBeenCalledTimes(1)
    expect(adapter.data.size).toBe(0)
    await expect(cache.getOrSet('k', async () => 'ok')).resolves.toBe('ok')
  })

  it('skips caching when condition says so', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'c' })
    const value = await cache.getOrSet('file_exists:1', async () => ({ exists: false, error: 'timeout' }), {
      condition: (result) => result.error === undefined,
    })
    expect(value).toEqual({ exists: false, error: 'timeout' })
    expect(adapter.data.size).toBe(0)
  })

  it('counts loader runs and their time per prefix', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'l', statsPrefixes: ['faculties'] })
    await cache.getOrSet('faculties:all', async () => ['BMS'])
    await cache.getOrSet('faculties:all', async () => ['BMS'])
    const stats = cache.stats()
    expect(stats.byPrefix.faculties).toMatchObject({ loads: 1, hits: 1, misses: 1, sets: 1 })
    expect(stats.loadTimeMs).toBeGreaterThanOrEqual(0)
    expect(stats.hitRate).toBe(0.5)
  })
})
