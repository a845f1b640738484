import { describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'
import { deferred } from './helpers/instances.js'

// Three "processes": caches that share one store but nothing in memory, so only the lease in the
// store can keep them from loading the same key at once.
function processes(n: number, wait = '2s') {
  const data = new MapAdapter().data
  const store = () => new AsyncMapAdapter({}, data)
  return Array.from({ length: n }, () =>
    createCache({ adapter: store(), keyPrefix: 'ls', lease: { ttl: '5s', wait, pollInterval: '5ms' } }),
  )
}

describe('cross-process leases', () => {
  it('one process loads a cold key while the others wait for its value', async () => {
    const caches = processes(3)
    const release = deferred<void>()
    let runs = 0
    const loader = async () => {
      runs++
      await release.promise
      return 'loaded once'
    }
    const pending = caches.map((cache) => cache.getOrSet('cold', loader))
    await new Promise((resolve) => setTimeout(resolve, 30))
    release.resolve()
    expect(await Promise.all(pending)).toEqual(['loaded once', 'loaded once', 'loaded once'])
    expect(runs).toBe(1)
  })

  it('releases the lease after the load, and leaves no lease behind when the loader fails', async () => {
    const data = new MapAdapter().data
    const cache = createCache({ adapter: new AsyncMapAdapter({}, data), keyPrefix: 'ls', lease: true })
    await expect(
      cache.getOrSet('k', async () => {
        throw new Error('upstream down')
      }),
    ).rejects.toThrow('upstream down')
    expect([...data.keys()].filter((key) => key.includes('#lease:'))).toEqual([])
    expect(await cache.getOrSet('k', async () => 'v')).toBe('v')
    expect([...data.keys()].filter((key) => key.includes('#lease:'))).toEqual([])
  })

  it('a waiter runs the loader itself when the holder does not answer within the wait', async () => {
    const [holder, waiter] = processes(2, '200ms')
    const never = deferred<string>()
    void holder!.getOrSet('k', () => never.promise)
    await new Promise((resolve) => setTimeout(resolve, 10))
    const started = Date.now()
    expect(await waiter!.getOrSet('k', async () => 'own load')).toBe('own load')
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    never.resolve('late')
  })

  it('an invalidation from another process revokes the lease, and the store refuses the late write', async () => {
    // No bus and no L1: only the store can tell the holder that its load was overtaken.
    const { holder, other, result } = await overtaken('k', (c) => c.delete('k'))
    expect(result).toBe('old row')
    expect(await other.get('k')).toBeUndefined()
    expect(await holder.get('k')).toBeUndefined()
  })

  it('a set from another process during a leased load wins over it', async () => {
    const { holder } = await overtaken('k', (c) => c.set('k', 'new row'))
    expect(await holder.get('k')).toBe('new row')
  })

  it('a pattern delete or clear from another process revokes the leases it covers', async () => {
    for (const invalidate of [(c: Cache) => c.deletePattern('k*'), (c: Cache) => c.clear()]) {
      const { other } = await overtaken('k1', invalidate)
      expect(await other.get('k1')).toBeUndefined()
    }
  })
})

/**
 * A leased load of `key` in one process ("holder") that returns 'old row', overtaken while it runs by
 * `invalidate` in another process sharing the store; resolves once the load has returned.
 */
async function overtaken(key: string, invalidate: (cache: Cache) => Promise<unknown>) {
  const [holder, other] = processes(2) as [Cache, Cache]
  const release = deferred<void>()
  const started = deferred<void>()
  const pending = holder.getOrSet(key, async () => {
    started.resolve()
    await release.promise
    return 'old row'
  })
  await started.promise
  await invalidate(other)
  release.resolve()
  return { holder, other, result: await pending }
}
