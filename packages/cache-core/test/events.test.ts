import { afterEach, describe, expect, it, vi } from 'vitest'
import { type CacheEvents, createCache, type OperationEvent } from '../src/index.js'
import { BrokenAdapter, MapAdapter } from './helpers/adapters.js'

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

function record<E extends keyof CacheEvents>(cache: ReturnType<typeof createCache>, event: E) {
  const seen: Array<CacheEvents[E]> = []
  cache.on(event, (payload) => seen.push(payload))
  return seen
}

describe('operation events', () => {
  it('time every public call and say how each read was answered', async () => {
    const cache = createCache({
      adapter: new MapAdapter(),
      l1: new MapAdapter({ shared: false }),
      keyPrefix: 'ops',
      ttl: '1m',
      statsPrefixes: ['items'],
    })
    const ops = record(cache, 'operation')
    const before = performance.timeOrigin + performance.now()
    await cache.get('items:1')
    await cache.set('items:1', { id: 1 })
    await cache.get('items:1')
    await cache.getOrSet('items:2', async () => 2)
    await cache.getOrSet('items:2', async () => 2)
    await cache.getOrSetMany(['items:2', 'items:3'], async (keys) => keys.map(() => 3))
    await cache.delete('items:1')
    await cache.deletePattern('items:*')
    await cache.invalidateTags(['faculty:EEMCS'])
    await cache.clear()
    const after = performance.timeOrigin + performance.now()

    expect(ops.map((e) => [e.operation, e.key, e.outcome])).toEqual([
      ['get', 'items:1', 'miss'],
      ['set', 'items:1', undefined],
      ['get', 'items:1', 'l1'],
      ['getOrSet', 'items:2', 'miss'],
      ['getOrSet', 'items:2', 'l1'],
      ['getOrSetMany', undefined, undefined],
      ['delete', 'items:1', undefined],
      ['deletePattern', 'items:*', undefined],
      ['invalidateTags', undefined, undefined],
      ['clear', undefined, undefined],
    ])
    expect(ops[5]).toMatchObject({
      prefix: 'items',
      count: 2,
      outcomes: { l1: 1, hit: 0, stale: 0, miss: 1 },
    })
    expect(ops[0]).toMatchObject({ prefix: 'items', count: 1 })
    for (const e of ops) {
      expect(e.startTime).toBeGreaterThanOrEqual(before)
      expect(e.startTime + e.durationMs).toBeLessThanOrEqual(after)
      expect(e.durationMs).toBeGreaterThanOrEqual(0)
    }
  })

  it('count every L1 hit of a batch read as one', async () => {
    const cache = createCache({
      adapter: new MapAdapter(),
      l1: new MapAdapter({ shared: false }),
      keyPrefix: 'ops',
    })
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ])
    const ops = record(cache, 'operation')
    const hits = record(cache, 'hit')
    await cache.getMany(['a', 'b', 'c'])
    expect(ops[0]!.outcomes).toEqual({ l1: 2, hit: 0, stale: 0, miss: 1 })
    expect(hits.map((h) => h.tier)).toEqual(['l1', 'l1'])
    expect(await cache.has('a')).toBe(true)
    expect(ops[1]).toMatchObject({ operation: 'has', outcome: 'l1' })
  })

  it('report a hit from the store as "hit" and a stale value as "stale"', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
    const cache = createCache({
      adapter: new MapAdapter(),
      keyPrefix: 'ops',
      ttl: '1s',
      staleWhileRevalidate: '1m',
    })
    const ops = record(cache, 'operation')
    const stale = record(cache, 'stale')
    await cache.set('k', 1)
    expect(await cache.getOrSet('k', () => 2)).toBe(1)
    vi.advanceTimersByTime(2_000)
    expect(await cache.getOrSet('k', () => 2)).toBe(1)
    expect(await cache.has('absent')).toBe(false)
    expect(ops.map((e) => [e.operation, e.outcome])).toEqual([
      ['set', undefined],
      ['getOrSet', 'hit'],
      ['getOrSet', 'stale'],
      ['has', 'miss'],
    ])
    // No declared prefix covers 'k': events name the bounded bucket it counts under.
    expect(stale).toEqual([{ key: 'k', prefix: '(other)' }])
  })

  it('carry the rejection of a failed call and still reject the caller', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'ops' })
    const ops = record(cache, 'operation')
    const boom = new Error('loader down')
    await expect(cache.getOrSet('k', () => Promise.reject(boom))).rejects.toBe(boom)
    await expect(cache.get('')).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(ops).toHaveLength(2)
    expect(ops[0]).toMatchObject({ operation: 'getOrSet', key: 'k', error: boom })
    expect(ops[0]!.outcome).toBeUndefined()
    expect((ops[1] as OperationEvent).error).toMatchObject({ code: 'E_INVALID_KEY' })
  })

  it('cost a hit no clock reading while nobody listens, and stop once the last listener leaves', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'ops' })
    await cache.set('k', 1)
    const clock = vi.spyOn(performance, 'now')
    await cache.get('k')
    await cache.getOrSet('k', () => 2)
    expect(clock).not.toHaveBeenCalled()

    const off = cache.on('operation', () => {})
    await cache.get('k')
    expect(clock).toHaveBeenCalled()
    off()
    clock.mockClear()
    await cache.get('k')
    expect(clock).not.toHaveBeenCalled()
  })
})

describe('load events', () => {
  it('time each loader run, single and batch, with what it threw', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'loads', statsPrefixes: ['users'] })
    const loads = record(cache, 'load')
    await cache.getOrSet('users:1', async () => 'one')
    await cache.getOrSetMany(['users:2', 'users:3'], async (keys) => keys)
    const boom = new Error('db down')
    await expect(cache.getOrSet('users:4', () => Promise.reject(boom))).rejects.toBe(boom)

    expect(loads.map((l) => [l.keys, l.prefix, l.batch, l.error])).toEqual([
      [['users:1'], 'users', false, undefined],
      [['users:2', 'users:3'], 'users', true, undefined],
      [['users:4'], 'users', false, boom],
    ])
    for (const l of loads) expect(l.durationMs).toBeGreaterThanOrEqual(0)
    expect(cache.stats()).toMatchObject({ loads: 4 })
  })
})

describe('hit and error events', () => {
  it('name the tier that answered a hit', async () => {
    const cache = createCache({
      adapter: new MapAdapter(),
      l1: new MapAdapter({ shared: false }),
      keyPrefix: 'h',
      statsPrefixes: ['a'],
    })
    const l2only = createCache({ adapter: new MapAdapter(), keyPrefix: 'h', statsPrefixes: ['a'] })
    const hits = record(cache, 'hit')
    const l2hits = record(l2only, 'hit')
    await cache.set('a:1', 1)
    await cache.get('a:1')
    await l2only.set('a:1', 1)
    await l2only.get('a:1')
    expect(hits).toEqual([{ key: 'a:1', prefix: 'a', tier: 'l1' }])
    expect(l2hits).toEqual([{ key: 'a:1', prefix: 'a', tier: 'store' }])
  })

  it('give the prefix and stable code of a store failure', async () => {
    const adapter = new BrokenAdapter()
    const cache = createCache({
      adapter,
      keyPrefix: 'e',
      timeout: 20,
      breaker: false,
      statsPrefixes: ['users'],
    })
    const errors = record(cache, 'error')
    adapter.mode = 'reject'
    await cache.get('users:1')
    adapter.mode = 'hang'
    await cache.get('users:2')
    expect(errors.map((e) => [e.operation, e.key, e.prefix, e.code])).toEqual([
      ['get', 'users:1', 'users', 'E_ADAPTER'],
      ['get', 'users:2', 'users', 'E_TIMEOUT'],
    ])
  })
})

describe('stats', () => {
  it('count the entries of an L1 that can count them', async () => {
    const l1 = new MapAdapter({ shared: false }) as MapAdapter & { size?: number }
    Object.defineProperty(l1, 'size', { get: () => l1.data.size })
    const cache = createCache({ adapter: new MapAdapter(), l1, keyPrefix: 's' })
    await cache.set('a', 1)
    await cache.set('b', 2)
    expect(cache.stats().l1Entries).toBe(2)
    expect(createCache({ adapter: new MapAdapter(), keyPrefix: 's' }).stats().l1Entries).toBeUndefined()
  })
})
