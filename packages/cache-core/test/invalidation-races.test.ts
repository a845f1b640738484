import { describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'
import { deferred, tick, twoInstances } from './helpers/instances.js'

/** A loader the test finishes by hand, and a promise that settles once it has been called. */
function slowLoader<T>(value: T) {
  const started = deferred<void>()
  const finish = deferred<void>()
  let runs = 0
  const loader = async () => {
    runs++
    started.resolve()
    await finish.promise
    return value
  }
  return { loader, started: started.promise, finish: () => finish.resolve(), runs: () => runs }
}

const invalidations: Array<[string, (cache: Cache) => Promise<unknown>]> = [
  ['delete', (c) => c.delete('k')],
  ['deleteMany', (c) => c.deleteMany(['k'])],
  ['deletePattern', (c) => c.deletePattern('k*')],
  ['invalidateTags', (c) => c.invalidateTags(['rows'])],
  ['clear', (c) => c.clear()],
]

describe('a load never writes its result over an invalidation made while it ran (one process)', () => {
  for (const [store, make] of [
    ['synchronous', () => new MapAdapter()],
    ['asynchronous', () => new AsyncMapAdapter()],
  ] as const) {
    for (const [name, invalidate] of invalidations) {
      it(`${name} during getOrSet: callers get the loaded value, the cache keeps nothing (${store} store)`, async () => {
        const cache = createCache({ adapter: make(), keyPrefix: 'race' })
        const slow = slowLoader('old row')
        const pending = cache.getOrSet('k', slow.loader, { tags: ['rows'] })
        await slow.started
        await invalidate(cache)
        slow.finish()
        expect(await pending).toBe('old row')
        expect(await cache.get('k')).toBeUndefined()
      })
    }

    it(`a set during getOrSet wins over the late load (${store} store)`, async () => {
      const cache = createCache({ adapter: make(), keyPrefix: 'race' })
      const slow = slowLoader('old row')
      const pending = cache.getOrSet('k', slow.loader)
      await slow.started
      await cache.set('k', 'new row')
      slow.finish()
      expect(await pending).toBe('old row')
      expect(await cache.get('k')).toBe('new row')
    })

    it(`an invalidation of another key or tag does not stop the load from storing (${store} store)`, async () => {
      const cache = createCache({ adapter: make(), keyPrefix: 'race' })
      const slow = slowLoader('row')
      const pending = cache.getOrSet('k', slow.loader, { tags: ['rows'] })
      await slow.started
      await cache.delete('other')
      await cache.deletePattern('x*')
      await cache.invalidateTags(['courses'])
      slow.finish()
      await pending
      expect(await cache.get('k')).toBe('row')
    })

    it(`a delete during getOrSetMany keeps that key out, and only that key (${store} store)`, async () => {
      const cache = createCache({ adapter: make(), keyPrefix: 'race' })
      const started = deferred<void>()
      const finish = deferred<void>()
      const pending = cache.getOrSetMany(['a', 'b'], async (keys) => {
        started.resolve()
        await finish.promise
        return keys.map((key) => `old ${key}`)
      })
      await started.promise
      await cache.delete('a')
      finish.resolve()
      expect(await pending).toEqual(['old a', 'old b'])
      expect(await cache.getMany(['a', 'b'])).toEqual([undefined, 'old b'])
    })
  }
})

describe('across processes', () => {
  it('an invalidation delivered by the bus while a load runs keeps its result out of the store', async () => {
    const { a, b } = twoInstances()
    await tick()
    const slow = slowLoader('old row')
    const pending = b.cache.getOrSet('k', slow.loader)
    await slow.started
    await a.cache.delete('k')
    await tick()
    slow.finish()
    expect(await pending).toBe('old row')
    expect(await a.cache.get('k')).toBeUndefined()
    expect(await b.cache.get('k')).toBeUndefined()
  })

  it("a set in another process during a load wins over the load's late write", async () => {
    const { a, b } = twoInstances()
    await tick()
    const slow = slowLoader('old row')
    const pending = b.cache.getOrSet('k', slow.loader)
    await slow.started
    await a.cache.set('k', 'new row')
    await tick()
    slow.finish()
    await pending
    expect(await a.cache.get('k')).toBe('new row')
    expect(await b.cache.get('k')).toBe('new row')
  })

  it('a bus reconnect during a load keeps its result out (invalidations may have been missed)', async () => {
    const { a, b } = twoInstances()
    await tick()
    const slow = slowLoader('old row')
    const pending = b.cache.getOrSet('k', slow.loader)
    await slow.started
    b.l2.dropBus()
    await a.cache.delete('k')
    b.l2.restoreBus()
    slow.finish()
    await pending
    expect(await a.cache.get('k')).toBeUndefined()
  })

  it('a tagged entry loaded during a tag invalidation is never served, even with no bus', async () => {
    // Two processes on one store, no L1 and no bus: only the tag epochs can tell.
    const data = new MapAdapter().data
    const a = createCache({ adapter: new AsyncMapAdapter({}, data), keyPrefix: 'race' })
    const b = createCache({ adapter: new AsyncMapAdapter({}, data), keyPrefix: 'race' })
    const slow = slowLoader('old row')
    const pending = b.getOrSet('k', slow.loader, { tags: ['rows'] })
    await slow.started
    await a.invalidateTags(['rows'])
    slow.finish()
    expect(await pending).toBe('old row')
    expect(await a.get('k')).toBeUndefined()
    expect(await b.get('k')).toBeUndefined()
  })
})
