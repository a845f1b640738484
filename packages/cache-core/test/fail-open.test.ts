import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createCache } from '../src/index.js'
import { BrokenAdapter } from './helpers/adapters.js'

describe('fail-open', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  for (const mode of ['throw', 'reject'] as const) {
    it(`turns reads into misses and writes into no-ops when the store ${mode}s`, async () => {
      const adapter = new BrokenAdapter()
      adapter.mode = mode
      const warn = vi.fn()
      const cache = createCache({ adapter, keyPrefix: 'f', logger: { warn }, breaker: false })
      const errors: string[] = []
      cache.on('error', ({ operation }) => errors.push(operation))
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.set('k', 1)).toBe(false)
      expect(await cache.getOrSet('k', async () => 'from loader')).toBe('from loader')
      expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
      expect(await cache.has('k')).toBe(false)
      expect(await cache.set('t', 1, { tags: ['x'] })).toBe(false)
      // After the failed write of 'k', a read of 'k' first tries to replay what the store missed (its
      // old value must go before it is read from the store again), instead of reading it.
      expect(errors).toEqual(['get', 'set', 'replay', 'set', 'getMany', 'replay', 'getMany'])
      expect(cache.stats()).toMatchObject({ errors: 7, invalidationBacklog: 2 })
      // One warning for the whole burst, not one per failed operation.
      expect(warn).toHaveBeenCalledTimes(1)
      expect(warn.mock.calls[0]![1]).toMatch(
        /cache "f": store get failed, serving without cache until it recovers/,
      )
    })
  }

  it('bounds every operation on a store that never answers by the timeout', async () => {
    const adapter = new BrokenAdapter()
    adapter.mode = 'hang'
    const cache = createCache({ adapter, keyPrefix: 'h', timeout: '250ms', breaker: false })
    let settled = false
    const pending = cache
      .getOrSet('k', async () => 'loaded')
      .then((value) => {
        settled = true
        return value
      })
    await vi.advanceTimersByTimeAsync(249)
    expect(settled).toBe(false)
    // The read gives up at 250 ms, the loader runs, the write gives up 250 ms later; the value is
    // returned as soon as the write is abandoned.
    await vi.advanceTimersByTimeAsync(1)
    await vi.advanceTimersByTimeAsync(250)
    expect(await pending).toBe('loaded')
    expect(cache.stats().errors).toBe(2)
    const get = cache.get('k')
    await vi.advanceTimersByTimeAsync(250)
    expect(await get).toBeUndefined()
  })

  it('surfaces a store failure on delete, deletePattern, invalidateTags and clear as E_ADAPTER', async () => {
    const adapter = new BrokenAdapter()
    const cache = createCache({ adapter, keyPrefix: 'd', breaker: false })
    await expect(cache.delete('k')).rejects.toMatchObject({ code: 'E_ADAPTER', message: /ECONNREFUSED/ })
    await expect(cache.deletePattern('a:*')).rejects.toMatchObject({ code: 'E_ADAPTER' })
    await expect(cache.invalidateTags(['t'])).rejects.toMatchObject({ code: 'E_ADAPTER' })
    await expect(cache.clear()).rejects.toMatchObject({ code: 'E_ADAPTER' })
  })

  it('opens the circuit after consecutive failures, probes after the cooldown and recovers', async () => {
    const adapter = new BrokenAdapter()
    const warn = vi.fn()
    const cache = createCache({
      adapter,
      keyPrefix: 'b',
      breaker: { threshold: 3, cooldown: '5s' },
      logger: { warn },
    })
    for (let i = 0; i < 3; i++) await cache.get('k')
    expect(adapter.calls).toBe(3)
    expect(cache.stats().circuit).toBe('open')
    expect(cache.status()).toBe('unavailable')
    // Open: the store is not even asked.
    for (let i = 0; i < 10; i++) expect(await cache.getOrSet('k', async () => i)).toBe(i)
    expect(adapter.calls).toBe(3)
    // Half-open: one probe; it fails, the circuit opens again.
    vi.advanceTimersByTime(5_000)
    await cache.get('k')
    expect(adapter.calls).toBe(4)
    await cache.get('k')
    expect(adapter.calls).toBe(4)
    // The store comes back: the next probe closes the circuit and caching resumes by itself.
    adapter.mode = 'ok'
    vi.advanceTimersByTime(5_000)
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.stats().circuit).toBe('closed')
    expect(await cache.set('k', 'back')).toBe(true)
    expect(await cache.get('k')).toBe('back')
    expect(warn).toHaveBeenCalledTimes(2)
    expect(warn.mock.calls[1]![1]).toMatch(/store recovered after 4 failed operation\(s\)/)
  })

  it('still surfaces the loader error while the store is down', async () => {
    const adapter = new BrokenAdapter()
    const cache = createCache({ adapter, keyPrefix: 'le' })
    await expect(
      cache.getOrSet('k', async () => {
        throw new Error('upstream 503')
      }),
    ).rejects.toThrow('upstream 503')
  })

  it('arms no timer of its own when the adapter bounds every operation itself', async () => {
    const adapter = new BrokenAdapter({ operationTimeoutMs: 200 })
    adapter.mode = 'ok'
    const timed = new BrokenAdapter()
    timed.mode = 'ok'
    const selfBounded = createCache({
      adapter: Object.assign(adapter, { get: async () => undefined }),
      keyPrefix: 'sb',
      timeout: '1s',
    })
    const guarded = createCache({
      adapter: Object.assign(timed, { get: async () => undefined }),
      keyPrefix: 'gd',
      timeout: '1s',
    })
    const a = selfBounded.get('k')
    expect(vi.getTimerCount()).toBe(0)
    await a
    const b = guarded.get('k')
    expect(vi.getTimerCount()).toBe(1)
    await b
  })

  it('gives pattern deletes and clear a longer deadline than single operations', async () => {
    const adapter = new BrokenAdapter()
    adapter.mode = 'ok'
    const slow = (ms: number) => new Promise((resolve) => setTimeout(() => resolve(0), ms))
    Object.assign(adapter, { deleteByPattern: () => slow(5_000), get: () => slow(5_000) })
    const cache = createCache({ adapter, keyPrefix: 'bulk', timeout: '1s', breaker: false })
    const deleting = cache.deletePattern('filter_counts:*')
    const reading = cache.get('k')
    await vi.advanceTimersByTimeAsync(5_000)
    await expect(deleting).resolves.toBe(0)
    expect(await reading).toBeUndefined()
    expect(cache.stats().errors).toBe(1)
    const short = createCache({ adapter, keyPrefix: 'bulk2', bulkTimeout: '2s', breaker: false })
    const rejection = expect(short.deletePattern('x:*')).rejects.toMatchObject({ code: 'E_ADAPTER' })
    await vi.advanceTimersByTimeAsync(2_000)
    await rejection
  })
})
