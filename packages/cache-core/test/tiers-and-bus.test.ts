import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createCache } from '../src/index.js'
import { BrokenAdapter, MapAdapter, SharedStore } from './helpers/adapters.js'
import { tick, twoInstances } from './helpers/instances.js'

describe('L1 in front of L2', () => {
  it('answers repeated reads from L1 and fills it from L2 with the remaining lifetime', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
    try {
      const { a, b } = twoInstances()
      await vi.advanceTimersByTimeAsync(1)
      await a.cache.set('faculties', ['BMS', 'ET'])
      vi.advanceTimersByTime(20_000)
      expect(await b.cache.get('faculties')).toEqual(['BMS', 'ET'])
      const reads = b.l2.ops.get
      expect(await b.cache.get('faculties')).toEqual(['BMS', 'ET'])
      expect(b.l2.ops.get).toBe(reads)
      expect(b.cache.stats()).toMatchObject({ hits: 2, l1Hits: 1 })
      // Filled with what was left of the minute, not a fresh minute.
      expect(b.l1.data.get('tier:1:faculties')!.expiresAt - Date.now()).toBe(40_000)
    } finally {
      vi.useRealTimers()
    }
  })

  it('rejects a shared adapter as L1 and a bus without pub/sub', () => {
    expect(() =>
      createCache({ adapter: new MapAdapter(), l1: new MapAdapter({ shared: true }), keyPrefix: 'x' }),
    ).toThrow(/option "l1" must be an in-process adapter/)
    expect(() =>
      createCache({ adapter: new MapAdapter(), l1: new MapAdapter(), bus: true, keyPrefix: 'x' }),
    ).toThrow(/option "bus" needs an "l1" and an adapter with pub\/sub/)
  })
})

describe('invalidation bus', () => {
  let a: ReturnType<typeof twoInstances>['a']
  let b: ReturnType<typeof twoInstances>['b']
  beforeEach(async () => {
    ;({ a, b } = twoInstances())
    await tick()
    await a.cache.setMany([
      { key: 'filter_counts:1', value: 1, tags: ['items'] },
      { key: 'filter_counts:2', value: 2 },
      { key: 'faculties', value: ['BMS'] },
    ])
    // Let B hear A's write first: a read racing an invalidation must not fill L1 (tested below).
    await tick()
    // Both L1s filled.
    for (const c of [a.cache, b.cache]) await c.getMany(['filter_counts:1', 'filter_counts:2', 'faculties'])
    await tick()
  })

  const inL1 = (x: typeof a, key: string) => x.l1.data.has(`tier:1:${key}`)

  it('drops the other instance L1 copy on delete', async () => {
    expect(inL1(b, 'faculties')).toBe(true)
    await a.cache.delete('faculties')
    await tick()
    expect(inL1(b, 'faculties')).toBe(false)
    expect(await b.cache.get('faculties')).toBeUndefined()
  })

  it('drops the other instance L1 copies on a pattern delete, and only those', async () => {
    await a.cache.deletePattern('filter_counts:*')
    await tick()
    expect(inL1(b, 'filter_counts:1')).toBe(false)
    expect(inL1(b, 'filter_counts:2')).toBe(false)
    expect(await b.cache.get('faculties')).toEqual(['BMS'])
  })

  it('drops the other instance L1 on tag invalidation, and the tagged entry reads as a miss', async () => {
    await a.cache.invalidateTags(['items'])
    await tick()
    expect(await b.cache.get('filter_counts:1')).toBeUndefined()
    expect(await b.cache.get('filter_counts:2')).toBe(2)
  })

  it('drops only the L1 entries that carry the tag, here and on the other instance', async () => {
    await a.cache.invalidateTags(['items'])
    await tick()
    for (const x of [a, b]) {
      expect(inL1(x, 'filter_counts:1')).toBe(false)
      expect(inL1(x, 'filter_counts:2')).toBe(true)
      expect(inL1(x, 'faculties')).toBe(true)
    }
    // The untagged entries still answer from L1, without asking L2.
    const reads = (b.l2.ops.get ?? 0) + (b.l2.ops.getMany ?? 0)
    expect(await b.cache.get('filter_counts:2')).toBe(2)
    expect(await b.cache.get('faculties')).toEqual(['BMS'])
    expect((b.l2.ops.get ?? 0) + (b.l2.ops.getMany ?? 0)).toBe(reads)
    expect(await b.cache.get('filter_counts:1')).toBeUndefined()
  })

  it('drops L1 entries whose tags the loader computed, on every instance', async () => {
    const load = (ctxTag: string) => async (ctx: { tags(tags: readonly string[]): void }) => {
      ctx.tags([ctxTag])
      return 'course 7'
    }
    expect(await a.cache.getOrSet('course:7', load('course:7'))).toBe('course 7')
    expect(
      await a.cache.getOrSet('course:8', async () => ({ id: 8 }), {
        tags: (value: { id: number }) => [`course:${value.id}`],
      }),
    ).toEqual({ id: 8 })
    await tick()
    // B reads them from L2 into its L1, stamped with the tags the loader chose.
    expect(await b.cache.getMany(['course:7', 'course:8'])).toEqual(['course 7', { id: 8 }])
    await tick()
    expect(inL1(b, 'course:7') && inL1(b, 'course:8')).toBe(true)
    await a.cache.invalidateTags(['course:8'])
    await tick()
    for (const x of [a, b]) {
      expect(inL1(x, 'course:8')).toBe(false)
      expect(inL1(x, 'course:7')).toBe(true)
      expect(inL1(x, 'faculties')).toBe(true)
    }
    expect(await b.cache.get('course:8')).toBeUndefined()
    expect(await b.cache.get('course:7')).toBe('course 7')
  })

  it('keeps an entry that lost its tag when rewritten out of a later invalidation of that tag', async () => {
    await a.cache.set('filter_counts:1', 'untagged now')
    await tick()
    expect(await b.cache.get('filter_counts:1')).toBe('untagged now')
    await a.cache.invalidateTags(['items'])
    await tick()
    // Still listed under the tag from before, so L1 dropped it; L2 still answers with the new value.
    expect(await b.cache.get('filter_counts:1')).toBe('untagged now')
    expect(await a.cache.get('filter_counts:1')).toBe('untagged now')
  })

  it('replaces the other instance L1 copy when a value is overwritten', async () => {
    await a.cache.set('faculties', ['BMS', 'ET'])
    await tick()
    expect(await b.cache.get('faculties')).toEqual(['BMS', 'ET'])
  })

  it('bypasses L1 while the bus is down and empties it on reconnect, so nothing missed is served', async () => {
    expect(b.cache.stats().bus).toBe('connected')
    b.l2.dropBus()
    expect(b.cache.stats().bus).toBe('disconnected')
    // While B cannot hear invalidations, A changes the value; B must read L2, not its L1 copy.
    await a.cache.set('faculties', ['ITC'])
    await tick()
    // B still holds its old copy (it could not hear A), but does not serve it.
    expect(inL1(b, 'filter_counts:1')).toBe(true)
    expect(await b.cache.get('faculties')).toEqual(['ITC'])
    await a.cache.delete('filter_counts:2')
    b.l2.restoreBus()
    expect(b.l1.data.size).toBe(0)
    expect(await b.cache.get('filter_counts:2')).toBeUndefined()
    expect(await b.cache.get('faculties')).toEqual(['ITC'])
  })

  it('does not put back a value an invalidation removed while it was being read', async () => {
    await b.cache.delete('faculties')
    await b.cache.set('faculties', ['old'])
    b.l1.data.clear()
    // B starts reading L2; before the read completes, A overwrites and B hears about it.
    const reading = b.cache.get('faculties')
    await a.cache.set('faculties', ['new'])
    await reading
    await tick()
    expect(inL1(b, 'faculties')).toBe(false)
    expect(await b.cache.get('faculties')).toEqual(['new'])
  })
})

describe('a store that is down', () => {
  it('keeps serving L1 hits and runs loaders on misses', async () => {
    const l2 = new BrokenAdapter()
    l2.mode = 'ok'
    const cache = createCache({ adapter: l2, l1: new MapAdapter(), keyPrefix: 'down', breaker: false })
    await cache.set('warm', 'from before the outage')
    l2.mode = 'reject'
    expect(await cache.get('warm')).toBe('from before the outage')
    expect(await cache.getOrSet('warm', async () => 'loader')).toBe('from before the outage')
    expect(await cache.getOrSet('cold', async () => 'loader')).toBe('loader')
  })
})

describe('tiers from the registry', () => {
  it('builds an L1 in front of the adapter from configuration, and none when caching is off', async () => {
    const { createCaches } = await import('../src/index.js')
    const shared = new SharedStore()
    const adapters = {
      shared: () => shared.connect(),
      memory: () => new MapAdapter({ shared: false }),
      noop: () => new MapAdapter(),
    }
    const caches = createCaches(
      { default: { adapter: 'shared', keyPrefix: 'ea_platform', l1: 'memory', grace: '1h' } },
      { adapters, makeDefault: false },
    )
    const cache = caches.get('default')
    expect(cache.stats().adapter).toBe('map+map')
    await tick()
    await cache.set('k', 1)
    await cache.get('k')
    expect(cache.stats().l1Hits).toBe(1)
    const off = createCaches(
      { default: { adapter: 'shared', keyPrefix: 'ea_platform', l1: 'memory', bus: true } },
      { adapters, useCache: false, makeDefault: false },
    )
    expect(off.get('default').stats().adapter).toBe('map')
    expect(() =>
      createCaches(
        { default: { adapter: 'shared', keyPrefix: 'p', l1: 'redis' } },
        { adapters, makeDefault: false },
      ),
    ).toThrow('cache "default": unknown l1 adapter "redis"')
  })
})

describe('fixes found against real Redis', () => {
  it('keeps L1 through a bus outage, so it can answer if the store goes down too', async () => {
    const shared = new SharedStore()
    const l2 = shared.connect()
    const cache = createCache({
      adapter: l2,
      l1: new MapAdapter({ shared: false }),
      keyPrefix: 'keep',
      breaker: false,
    })
    await tick()
    await cache.set('faculties', ['BMS'])
    l2.dropBus()
    // The store fails as well: the L1 copy is the best answer there is.
    Object.assign(l2, {
      get: async () => {
        throw new Error('ECONNREFUSED')
      },
    })
    expect(await cache.get('faculties')).toEqual(['BMS'])
  })

  it('does not let a read during a pattern delete put the deleted value back into L1', async () => {
    const shared = new SharedStore()
    const l2 = shared.connect()
    const l1 = new MapAdapter({ shared: false })
    const cache = createCache({ adapter: l2, l1, keyPrefix: 'race' })
    await tick()
    await cache.set('filter_counts:1', 1)
    // A slow pattern delete (many SCAN round trips on a real store).
    const slowDelete = l2.deleteByPattern.bind(l2)
    Object.assign(l2, {
      deleteByPattern: async (pattern: string) => {
        await tick()
        return slowDelete(pattern)
      },
    })
    const deleting = cache.deletePattern('filter_counts:*')
    await cache.get('filter_counts:1')
    await deleting
    expect(l1.data.size).toBe(0)
    expect(await cache.get('filter_counts:1')).toBeUndefined()
  })

  it('getOrSetMany serves stale values within grace when the batch loader throws, and refreshes stale ones in one batch', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
    try {
      const graced = createCache({ adapter: new MapAdapter(), keyPrefix: 'gm', ttl: '1m', grace: '1h' })
      await graced.setMany([
        { key: 'a', value: 'old a' },
        { key: 'b', value: 'old b' },
      ])
      vi.advanceTimersByTime(2 * 60_000)
      const failing = async (): Promise<string[]> => {
        throw new Error('Osiris 503')
      }
      expect(await graced.getOrSetMany(['a', 'b'], failing)).toEqual(['old a', 'old b'])
      // 'c' has no stale value to fall back on, so the call rejects with the loader's error.
      await expect(graced.getOrSetMany(['a', 'c'], failing)).rejects.toThrow('Osiris 503')
    } finally {
      vi.useRealTimers()
    }
    const cache = createCache({
      adapter: new MapAdapter(),
      keyPrefix: 'gm2',
      ttl: 50,
      grace: '1h',
      staleWhileRevalidate: '1h',
    })
    await cache.setMany([
      { key: 'a', value: 'old a' },
      { key: 'b', value: 'old b' },
    ])
    await new Promise((resolve) => setTimeout(resolve, 60))
    const batches: string[][] = []
    const loader = async (keys: string[]) => {
      batches.push(keys)
      return keys.map((key) => `new ${key}`)
    }
    // ...while stale-but-within-window keys answer at once and refresh together in one call.
    expect(await cache.getOrSetMany(['a', 'b'], loader)).toEqual(['old a', 'old b'])
    await tick()
    expect(batches).toEqual([['a', 'b']])
    expect(await cache.getOrSetMany(['a', 'b'], loader)).toEqual(['new a', 'new b'])
  })
})

describe('ready()', () => {
  it('resolves at once without a bus, and when the bus first connects with one', async () => {
    expect(await createCache({ adapter: new MapAdapter(), keyPrefix: 'r1' }).ready()).toBeUndefined()
    const shared = new SharedStore()
    const cache = createCache({
      adapter: shared.connect(),
      l1: new MapAdapter({ shared: false }),
      keyPrefix: 'r2',
    })
    expect(cache.stats().bus).toBe('connecting')
    await cache.ready()
    expect(cache.stats().bus).toBe('connected')
    await cache.set('k', 1)
    await cache.get('k')
    expect(cache.stats().l1Hits).toBe(1)
  })

  it('stops waiting after a while when the bus never answers', async () => {
    vi.useFakeTimers()
    try {
      const l2 = new SharedStore().connect()
      Object.assign(l2, { subscribe: () => new Promise(() => {}) })
      const cache = createCache({ adapter: l2, l1: new MapAdapter({ shared: false }), keyPrefix: 'r3' })
      let done = false
      const waiting = cache.ready().then(() => {
        done = true
      })
      await vi.advanceTimersByTimeAsync(4_999)
      expect(done).toBe(false)
      await vi.advanceTimersByTimeAsync(1)
      await waiting
      expect(done).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })
})
describe('L1 across a bus reconnect', () => {
  it('never returns an L1 copy read while the bus was down, when the store says the key is gone', async () => {
    const { a, b } = twoInstances()
    await tick()
    await b.cache.set('k', 'old')
    await tick()
    expect(b.l1.data.has('tier:1:k')).toBe(true)
    b.l2.dropBus()
    // A deletes while B cannot hear it; B's L1 still holds the old copy.
    await a.cache.delete('k')
    const reading = b.cache.get('k')
    // The bus comes back while B's store read is in flight.
    b.l2.restoreBus()
    expect(await reading).toBeUndefined()
    expect(await b.cache.get('k')).toBeUndefined()
  })

  it('does the same for batched reads', async () => {
    const { a, b } = twoInstances()
    await tick()
    await b.cache.setMany([
      { key: 'x', value: 'old-x' },
      { key: 'y', value: 'old-y' },
    ])
    await tick()
    b.l2.dropBus()
    await a.cache.deleteMany(['x', 'y'])
    const reading = b.cache.getMany(['x', 'y'])
    b.l2.restoreBus()
    expect(await reading).toEqual([undefined, undefined])
  })
})
