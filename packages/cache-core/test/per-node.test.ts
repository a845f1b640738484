import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createCache } from '../src/index.js'
import { TwoNodeAdapter } from './helpers/adapters.js'

// A sharded store (a Redis Cluster) whose node `b` dies: only its keys may fail open.
describe('health per node of a sharded store', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("opens the breaker of the failing node only; the other node's keys keep hitting, batches included", async () => {
    const adapter = new TwoNodeAdapter()
    const cache = createCache({ adapter, keyPrefix: 'p', breaker: { threshold: 3, cooldown: '5s' } })
    const keys = ['k1@a', 'k2@a', 'k1@b', 'k2@b']
    for (const key of keys) await cache.set(key, `v:${key}`)
    expect(adapter.nodes.b.data.has('p:1:k1@b')).toBe(true)
    adapter.nodes.b.mode = 'reject'
    for (let i = 0; i < 5; i++) await cache.get('k1@b')
    // Open for b: its keys are no longer sent to it.
    const callsToB = adapter.nodes.b.calls
    expect(await cache.get('k2@b')).toBeUndefined()
    expect(adapter.nodes.b.calls).toBe(callsToB)
    expect(cache.stats().circuit).toBe('closed')
    expect(cache.stats().nodeCircuits).toEqual({ b: 'open' })
    // a is untouched: single reads, batches spanning both nodes, loads and writes.
    expect(await cache.get('k1@a')).toBe('v:k1@a')
    expect(await cache.getMany(keys)).toEqual(['v:k1@a', 'v:k2@a', undefined, undefined])
    const loader = vi.fn(async () => 'loaded')
    expect(await cache.getOrSet('k2@a', loader)).toBe('v:k2@a')
    expect(loader).not.toHaveBeenCalled()
    expect(
      await cache.setMany([
        { key: 'k3@a', value: 3 },
        { key: 'k3@b', value: 3 },
      ]),
    ).toBe(false)
    expect(await cache.get('k3@a')).toBe(3)
    // A write to b while its breaker is open is dropped at once, and b's old entry must go.
    const callsBefore = adapter.nodes.b.calls
    expect(await cache.set('k1@b', 'new')).toBe(false)
    expect(adapter.nodes.b.calls).toBe(callsBefore)
    // b comes back: after the cooldown one probe closes its breaker, and the kept delete is replayed
    // before k1@b is read again.
    adapter.nodes.b.mode = 'ok'
    await vi.advanceTimersByTimeAsync(5_000)
    expect(await cache.get('k2@b')).toBe('v:k2@b')
    expect(cache.stats().nodeCircuits).toEqual({})
    expect(await cache.get('k1@b')).toBeUndefined()
    expect(adapter.nodes.b.data.has('p:1:k1@b')).toBe(false)
  })
})
