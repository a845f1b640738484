import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Cache, createCache } from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

describe('stale-while-revalidate, grace and soft timeout', () => {
  let cache: Cache
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
    cache = createCache({
      adapter: new MapAdapter(),
      keyPrefix: 'swr',
      ttl: '1m',
      staleWhileRevalidate: '30s',
      grace: '1h',
    })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('serves 100 concurrent readers of a stale entry at once and refreshes once', async () => {
    await cache.set('counts', 'v1')
    vi.advanceTimersByTime(61_000)
    let runs = 0
    let finish: (value: string) => void = () => {}
    const loader = () => {
      runs++
      return new Promise<string>((resolve) => {
        finish = resolve
      })
    }
    const answers = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('counts', loader)))
    expect(answers).toEqual(Array(100).fill('v1'))
    expect(runs).toBe(1)
    expect(await cache.getOrSet('counts', loader)).toBe('v1')
    expect(runs).toBe(1)
    finish('v2')
    await vi.advanceTimersByTimeAsync(0)
    expect(await cache.getOrSet('counts', loader)).toBe('v2')
    expect(runs).toBe(1)
    // Callers that join an in-flight read are counted once, with the caller they joined.
    expect(cache.stats().staleHits).toBe(2)
  })

  it('plain get does not serve stale values', async () => {
    await cache.set('counts', 'v1')
    vi.advanceTimersByTime(61_000)
    expect(await cache.get('counts')).toBeUndefined()
  })

  it('serves a stale value within grace when the loader fails, and the error after grace', async () => {
    await cache.set('course', 'cached course')
    vi.advanceTimersByTime(60_000 + 31_000)
    const failing = async () => {
      throw new Error('Osiris 503')
    }
    expect(await cache.getOrSet('course', failing)).toBe('cached course')
    vi.advanceTimersByTime(3_600_000)
    await expect(cache.getOrSet('course', failing)).rejects.toThrow('Osiris 503')
  })

  it('answers with the stale value after the soft timeout and stores the slow result later', async () => {
    await cache.set('people', 'old')
    vi.advanceTimersByTime(60_000 + 31_000)
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('new'), 2_000))
    const answer = cache.getOrSet('people', slow, { softTimeout: '200ms' })
    await vi.advanceTimersByTimeAsync(200)
    expect(await answer).toBe('old')
    await vi.advanceTimersByTimeAsync(1_800)
    expect(await cache.get('people')).toBe('new')
  })
})
