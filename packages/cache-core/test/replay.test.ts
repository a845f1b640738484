import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCache, ErrorCodes } from '../src/index.js'
import { BrokenAdapter, MapAdapter, SharedStore } from './helpers/adapters.js'
import { tick } from './helpers/instances.js'

// A store the test takes down and brings back WITH its data, as a persisted Redis or a promoted
// replica comes back.
function outageStore() {
  const store = new BrokenAdapter()
  store.mode = 'ok'
  return store
}

const stored = (store: MapAdapter, key: string) => store.data.has(`rp:1:${key}`)

afterEach(() => {
  vi.useRealTimers()
})

describe('invalidations lost in an outage are replayed when the store answers again', () => {
  it('a delete made while the store was down is applied before the next read from it', async () => {
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false })
    await cache.set('counts', { open: 3 })
    store.mode = 'reject'
    await expect(cache.delete('counts')).rejects.toMatchObject({ code: ErrorCodes.ADAPTER })
    expect(cache.stats().invalidationBacklog).toBe(1)
    store.mode = 'ok'
    expect(await cache.get('counts')).toBeUndefined()
    expect(stored(store, 'counts')).toBe(false)
    expect(cache.stats().invalidationBacklog).toBe(0)
  })

  it('replays pattern deletes, tag invalidations and failed writes too, and leaves other keys alone', async () => {
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false })
    await cache.setMany([
      { key: 'filter_counts:1', value: 1 },
      { key: 'course:7', value: 'old course', tags: ['courses'] },
      { key: 'item:1', value: 'old item' },
      { key: 'keep', value: 'kept' },
    ])
    store.data.set('other:1:x', { value: new Uint8Array([1]), expiresAt: 0 })
    store.mode = 'reject'
    await expect(cache.deletePattern('filter_counts:*')).rejects.toThrow()
    await expect(cache.invalidateTags(['courses'])).rejects.toThrow()
    // A write that does not reach the store leaves the older value there.
    expect(await cache.set('item:1', 'new item')).toBe(false)
    expect(cache.stats().invalidationBacklog).toBe(3)
    store.mode = 'ok'
    expect(await cache.getMany(['filter_counts:1', 'course:7', 'item:1', 'keep'])).toEqual([
      undefined,
      undefined,
      undefined,
      'kept',
    ])
    expect(store.data.has('other:1:x')).toBe(true)
  })

  it('clears the whole keyspace when more invalidations fail than it keeps', async () => {
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false, maxPendingInvalidations: 3 })
    await cache.setMany(['a', 'b', 'c', 'd', 'e', 'untouched'].map((key) => ({ key, value: key })))
    store.data.set('other:1:x', { value: new Uint8Array([1]), expiresAt: 0 })
    store.mode = 'reject'
    for (const key of ['a', 'b', 'c', 'd', 'e']) await expect(cache.delete(key)).rejects.toThrow()
    expect(cache.stats().invalidationBacklog).toBe(1)
    store.mode = 'ok'
    expect(await cache.get('untouched')).toBeUndefined()
    expect([...store.data.keys()]).toEqual(['other:1:x'])
  })

  it('keeps the backlog while the store is still down, and serves no store read meanwhile', async () => {
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false })
    await cache.set('k', 'old')
    store.mode = 'reject'
    await expect(cache.delete('k')).rejects.toThrow()
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.stats().invalidationBacklog).toBe(1)
    store.mode = 'ok'
    expect(await cache.getOrSet('k', () => 'fresh')).toBe('fresh')
    expect(cache.stats().invalidationBacklog).toBe(0)
  })

  it('keeps serving keys the backlog does not cover while the store refuses only writes', async () => {
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false })
    await cache.setMany([
      { key: 'kept', value: 'v' },
      { key: 'course:1', value: 'c', tags: ['courses'] },
    ])
    // A read-only replica: reads work, every write and delete fails.
    const realSet = store.set
    store.set = () => Promise.reject(new Error('READONLY')) as never
    store.deleteMany = () => Promise.reject(new Error('READONLY')) as never
    store.setMany = () => Promise.reject(new Error('READONLY')) as never
    expect(await cache.set('x', 'new')).toBe(false)
    await expect(cache.invalidateTags(['courses'])).rejects.toThrow()
    expect(await cache.get('kept')).toBe('v')
    expect(await cache.get('x')).toBeUndefined()
    expect(await cache.get('course:1')).toBeUndefined()
    expect(cache.stats().invalidationBacklog).toBe(2)
    store.set = realSet
  })

  it('replays on its own, without a read, once the store answers', async () => {
    vi.useFakeTimers()
    const store = outageStore()
    const cache = createCache({ adapter: store, keyPrefix: 'rp', breaker: false })
    await cache.set('k', 'old')
    store.mode = 'reject'
    await expect(cache.delete('k')).rejects.toThrow()
    await vi.advanceTimersByTimeAsync(3_000)
    expect(stored(store, 'k')).toBe(true)
    store.mode = 'ok'
    await vi.advanceTimersByTimeAsync(1_500)
    expect(stored(store, 'k')).toBe(false)
    expect(cache.stats().invalidationBacklog).toBe(0)
    await cache.close()
  })

  it('drops only tagged L1 copies while a tag invalidation waits, and never refills them from the store', async () => {
    const store = outageStore()
    const l1 = new MapAdapter({ shared: false })
    const cache = createCache({ adapter: store, l1, keyPrefix: 'rp', breaker: false })
    await cache.setMany([
      { key: 'course:7', value: 'old course', tags: ['courses'] },
      { key: 'keep', value: 'kept' },
    ])
    store.mode = 'reject'
    await expect(cache.invalidateTags(['courses'])).rejects.toThrow()
    expect(cache.stats().invalidationBacklog).toBe(1)
    // The store is down: the untagged entry still answers from L1, the tagged one is gone from it.
    expect(l1.data.has('rp:1:keep')).toBe(true)
    expect(l1.data.has('rp:1:course:7')).toBe(false)
    expect(await cache.get('keep')).toBe('kept')
    expect(await cache.get('course:7')).toBeUndefined()
    // A read-only replica: it answers reads with the old, still-stamped entry, but cannot take the replay.
    store.mode = 'ok'
    const writes = { set: store.set, setMany: store.setMany }
    store.set = () => Promise.reject(new Error('READONLY')) as never
    store.setMany = () => Promise.reject(new Error('READONLY')) as never
    expect(await cache.get('course:7')).toBeUndefined()
    expect(l1.data.has('rp:1:course:7')).toBe(false)
    expect(await cache.get('keep')).toBe('kept')
    store.set = writes.set
    store.setMany = writes.setMany
    expect(await cache.get('course:7')).toBeUndefined()
    await cache.close()
  })

  it('tells other instances again on replay, so their L1 copies go too', async () => {
    const shared = new SharedStore()
    const make = () => {
      const l2 = shared.connect()
      const l1 = new MapAdapter({ shared: false })
      return { l2, l1, cache: createCache({ adapter: l2, l1, keyPrefix: 'rp', breaker: false }) }
    }
    const a = make()
    const b = make()
    await tick()
    await a.cache.set('k', 'old')
    expect(await b.cache.get('k')).toBe('old')
    // A loses the store (and with it the bus); B keeps its L1 copy, as it heard nothing.
    a.l2.cutOff()
    await expect(a.cache.delete('k')).rejects.toThrow()
    expect(await b.cache.get('k')).toBe('old')
    a.l2.reconnect()
    expect(await a.cache.get('k')).toBeUndefined()
    await tick()
    expect(await b.cache.get('k')).toBeUndefined()
  })

  it('replays within moments when the store answers a little after the bus, without a read', async () => {
    vi.useFakeTimers()
    const shared = new SharedStore()
    const make = () => {
      const l2 = shared.connect()
      const l1 = new MapAdapter({ shared: false })
      return { l2, cache: createCache({ adapter: l2, l1, keyPrefix: 'rp', breaker: false }) }
    }
    const a = make()
    const b = make()
    await vi.advanceTimersByTimeAsync(5)
    await a.cache.set('k', 'old')
    expect(await b.cache.get('k')).toBe('old')
    a.l2.cutOff()
    await expect(a.cache.delete('k')).rejects.toThrow()
    // The subscriber reconnects first; the command connection follows 30 ms later (as two Redis
    // connections with their own retry schedules do). The replay the bus triggered fails.
    a.l2.restoreBus()
    await vi.advanceTimersByTimeAsync(30)
    a.l2.storeUp = true
    // Nobody reads on A: the replay must not wait for the once-a-second timer, or B (which reads
    // the store, not A's backlog) serves the deleted value for up to a second.
    await vi.advanceTimersByTimeAsync(200)
    expect(a.cache.stats().invalidationBacklog).toBe(0)
    expect(await b.cache.get('k')).toBeUndefined()
    await Promise.all([a.cache.close(), b.cache.close()])
  })
})

describe('a soft invalidation lost in an outage is replayed soft', () => {
  const failing = () => Promise.reject(new Error('Osiris is down'))
  const graceCache = (store: BrokenAdapter) =>
    createCache({ adapter: store, keyPrefix: 'rp', breaker: false, ttl: '10m', grace: '1h' })

  // Each way of invalidating the key "k", written with the tag "t".
  const ways = {
    'by key': (cache: ReturnType<typeof graceCache>, soft: boolean) => cache.delete('k', { soft }),
    'by keys': (cache: ReturnType<typeof graceCache>, soft: boolean) => cache.deleteMany(['k'], { soft }),
    'by pattern': (cache: ReturnType<typeof graceCache>, soft: boolean) =>
      cache.deletePattern('k*', { soft }),
    'by tag': (cache: ReturnType<typeof graceCache>, soft: boolean) => cache.invalidateTags(['t'], { soft }),
  } as const

  describe.each(Object.entries(ways))('%s', (_name, invalidate) => {
    it('keeps the old value for a failing loader, and never serves it while the loader succeeds', async () => {
      vi.useFakeTimers()
      const store = outageStore()
      const cache = graceCache(store)
      await cache.set('k', 'old', { tags: ['t'] })
      store.mode = 'reject'
      await expect(invalidate(cache, true)).rejects.toMatchObject({ code: ErrorCodes.ADAPTER })
      expect(cache.stats().invalidationBacklog).toBe(1)
      expect(await cache.get('k')).toBeUndefined()
      store.mode = 'ok'
      // The retry timer replays it (a read of a key it covers would too, but not one of its tags).
      await vi.advanceTimersByTimeAsync(1_500)
      expect(cache.stats().invalidationBacklog).toBe(0)
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.has('k')).toBe(false)
      // Softened in the store, not deleted: the grace window still holds it for a failing loader.
      expect(await cache.getOrSet('k', failing)).toBe('old')
      expect(await cache.getOrSet('k', () => 'new', { tags: ['t'] })).toBe('new')
      expect(await cache.getOrSet('k', failing)).toBe('new')
      await cache.close()
    })

    it('a hard invalidation of the same target kept with it wins', async () => {
      vi.useFakeTimers()
      for (const order of [
        [true, false],
        [false, true],
      ]) {
        const store = outageStore()
        const cache = graceCache(store)
        await cache.set('k', 'old', { tags: ['t'] })
        store.mode = 'reject'
        for (const soft of order) await expect(invalidate(cache, soft)).rejects.toThrow()
        expect(cache.stats().invalidationBacklog).toBe(1)
        store.mode = 'ok'
        await vi.advanceTimersByTimeAsync(1_500)
        expect(cache.stats().invalidationBacklog).toBe(0)
        expect(await cache.get('k')).toBeUndefined()
        await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
        await cache.close()
      }
    })
  })

  it('replays soft and hard invalidations of different keys each as they were made', async () => {
    const store = outageStore()
    const cache = graceCache(store)
    await cache.setMany([
      { key: 'soft', value: 'old soft' },
      { key: 'hard', value: 'old hard' },
    ])
    store.mode = 'reject'
    await expect(cache.delete('soft', { soft: true })).rejects.toThrow()
    await expect(cache.delete('hard')).rejects.toThrow()
    expect(cache.stats().invalidationBacklog).toBe(2)
    store.mode = 'ok'
    expect(await cache.getMany(['soft', 'hard'])).toEqual([undefined, undefined])
    expect(await cache.getOrSet('soft', failing)).toBe('old soft')
    await expect(cache.getOrSet('hard', failing)).rejects.toThrow('Osiris is down')
  })

  it('a write the store takes supersedes a kept soft delete of its key', async () => {
    const store = outageStore()
    const cache = graceCache(store)
    await cache.set('k', 'old')
    store.mode = 'reject'
    await expect(cache.delete('k', { soft: true })).rejects.toThrow()
    store.mode = 'ok'
    expect(await cache.set('k', 'newer')).toBe(true)
    expect(await cache.get('k')).toBe('newer')
    expect(cache.stats().invalidationBacklog).toBe(0)
  })
})
