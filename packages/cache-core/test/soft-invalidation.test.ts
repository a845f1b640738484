import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AnyCacheAdapter } from '../src/adapter.js'
import { createCache } from '../src/cache.js'
import type { CacheOptions } from '../src/types.js'
import { MapAdapter, SharedStore } from './helpers/adapters.js'

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => {
  vi.useRealTimers()
})

const newCache = (options: Partial<CacheOptions> = {}, adapter: AnyCacheAdapter = new MapAdapter()) =>
  createCache({ adapter, keyPrefix: 'soft', ttl: '10m', grace: '1h', ...options })

const failing = () => Promise.reject(new Error('Osiris is down'))

// Each way of invalidating, applied to the key "k" that was written with the tag "t".
const ways = {
  'by key': (cache: ReturnType<typeof newCache>, soft: boolean) => cache.delete('k', { soft }),
  'by keys': (cache: ReturnType<typeof newCache>, soft: boolean) => cache.deleteMany(['k'], { soft }),
  'by tag': (cache: ReturnType<typeof newCache>, soft: boolean) => cache.invalidateTags(['t'], { soft }),
  'by pattern': (cache: ReturnType<typeof newCache>, soft: boolean) => cache.deletePattern('k*', { soft }),
} as const

describe.each(Object.entries(ways))('soft invalidation %s', (_name, invalidate) => {
  it('is never served while the loader succeeds: get misses, getOrSet loads the new value', async () => {
    // A stale-while-revalidate window would serve an expired entry at once; a soft-invalidated one never.
    const cache = newCache({ staleWhileRevalidate: '1h' })
    await cache.set('k', 'old', { tags: ['t'] })
    await invalidate(cache, true)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.has('k')).toBe(false)
    let loads = 0
    expect(await cache.getOrSet('k', () => `new ${++loads}`, { tags: ['t'] })).toBe('new 1')
    expect(await cache.getOrSet('k', () => `new ${++loads}`, { tags: ['t'] })).toBe('new 1')
    expect(await cache.getMany(['k'])).toEqual(['new 1'])
  })

  it('is never served while the loader succeeds within the soft timeout, by any way of loading', async () => {
    const cache = newCache({ staleWhileRevalidate: '1h', softTimeout: 200 })
    const inTime = (value: string) => new Promise<string>((resolve) => setTimeout(() => resolve(value), 150))
    const loads: Array<() => Promise<unknown>> = [
      () => cache.getOrSet('k', () => inTime('one'), { tags: ['t'] }),
      () => cache.getOrSetMany(['k'], async (keys) => keys.map(() => 'many')),
      () => cache.getOrSetMany(['k'], (keys) => Promise.all(keys.map(() => inTime('many late')))),
    ]
    for (const load of loads) {
      await cache.set('k', 'old', { tags: ['t'] })
      await invalidate(cache, true)
      const answer = load()
      await vi.advanceTimersByTimeAsync(200)
      const value = await answer
      expect(value === 'old' || (Array.isArray(value) && value.includes('old')), String(value)).toBe(false)
      expect(await cache.get('k')).not.toBe('old')
    }
  })

  it('serves the old value when the loader fails, within the entry grace', async () => {
    const cache = newCache()
    await cache.set('k', 'old', { tags: ['t'] })
    await invalidate(cache, true)
    expect(await cache.getOrSet('k', failing)).toBe('old')
    expect(await cache.getOrSetMany(['k'], failing)).toEqual(['old'])
    vi.advanceTimersByTime(61 * 60_000)
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
  })

  it('serves the old value when the loader is slower than the soft timeout, and stores the load', async () => {
    const cache = newCache({ softTimeout: 50 })
    await cache.set('k', 'old', { tags: ['t'] })
    await invalidate(cache, true)
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('new'), 1_000))
    const answer = cache.getOrSet('k', slow, { tags: ['t'] })
    await vi.advanceTimersByTimeAsync(50)
    expect(await answer).toBe('old')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await cache.get('k')).toBe('new')
  })

  it('hard (the default) leaves nothing to fall back to', async () => {
    const cache = newCache()
    await cache.set('k', 'old', { tags: ['t'] })
    await invalidate(cache, false)
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
  })

  it('an entry without grace is simply gone', async () => {
    const cache = newCache({ grace: undefined })
    await cache.set('k', 'old', { tags: ['t'] })
    await invalidate(cache, true)
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
  })

  it('reaches another instance: its L1 is dropped and it sees the entry as softly invalidated', async () => {
    vi.useRealTimers()
    const shared = new SharedStore()
    const a = newCache({ l1: new MapAdapter({ shared: false }) }, shared.connect())
    const b = newCache({ l1: new MapAdapter({ shared: false }) }, shared.connect())
    await Promise.all([a.ready(), b.ready()])
    await a.set('k', 'old', { tags: ['t'] })
    expect(await b.get('k')).toBe('old')
    expect(b.stats().l1Hits).toBe(0)
    expect(await b.get('k')).toBe('old')
    expect(b.stats().l1Hits).toBe(1)
    await invalidate(a, true)
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(await b.get('k')).toBeUndefined()
    expect(await b.getOrSet('k', failing)).toBe('old')
    await a.close()
    await b.close()
  })
})

describe('soft invalidation by tag', () => {
  it('a second soft invalidation removes entries of the epoch before the first', async () => {
    const cache = newCache()
    await cache.set('first', 'v1', { tags: ['t'] })
    await cache.invalidateTags(['t'], { soft: true })
    await cache.set('second', 'v2', { tags: ['t'] })
    await cache.invalidateTags(['t'], { soft: true })
    await expect(cache.getOrSet('first', failing)).rejects.toThrow('Osiris is down')
    expect(await cache.getOrSet('second', failing)).toBe('v2')
  })

  it('only softens entries of the epoch it replaced; a later hard invalidation removes them', async () => {
    const cache = newCache()
    await cache.set('k', 'old', { tags: ['t'] })
    await cache.invalidateTags(['t'], { soft: true })
    await cache.set('fresh', 'written after', { tags: ['t'] })
    expect(await cache.get('fresh')).toBe('written after')
    await cache.invalidateTags(['t'])
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
    await expect(cache.getOrSet('fresh', failing)).rejects.toThrow('Osiris is down')
  })
})

describe('soft invalidation by pattern', () => {
  it('softens only the matching entries and counts them', async () => {
    const cache = newCache()
    await cache.setMany([
      { key: 'filter_counts:1', value: 1 },
      { key: 'filter_counts:2', value: 2 },
      { key: 'other', value: 3 },
    ])
    expect(await cache.deletePattern('filter_counts:*', { soft: true })).toBe(2)
    expect(await cache.getMany(['filter_counts:1', 'filter_counts:2', 'other'])).toEqual([
      undefined,
      undefined,
      3,
    ])
    expect(await cache.getOrSet('filter_counts:1', failing)).toBe(1)
  })

  it('deletes, and warns once, on an adapter that cannot list keys', async () => {
    const adapter = new MapAdapter()
    const warnings: string[] = []
    const cache = createCache({
      adapter: Object.assign(adapter, { keysByPattern: undefined }),
      keyPrefix: 'soft',
      grace: '1h',
      logger: { warn: (_fields, message) => warnings.push(message) },
    })
    await cache.set('k', 'old')
    await cache.deletePattern('k*', { soft: true })
    await cache.deletePattern('k*', { soft: true })
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('Osiris is down')
    expect(warnings).toEqual([expect.stringContaining('cannot list keys (no keysByPattern)')])
  })
})
