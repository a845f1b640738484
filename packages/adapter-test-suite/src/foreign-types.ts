import { describe, expect, it } from 'vitest'
import { type TopicContext, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/**
 * Keys that hold something of another kind than the adapter stores, planted by another program
 * sharing the store (a Redis list under the cache's prefix, say). Whoever can write one key must
 * not be able to switch caching off: such a key reads as a miss for that key alone, counted as
 * undecodable, and never as a store failure that would open the circuit breaker.
 *
 * Runs when the adapter's test file gives `plantForeignValue`; stores with a single kind of value
 * have nothing to plant.
 */
export function foreignTypeTests(options: ResolvedSuiteOptions): void {
  const plant = options.plantForeignValue
  if (plant === undefined || !options.stores) return
  describe('foreign types', () => foreignKeys(useAdapter(options), plant))
}

// More reads of the foreign key than the default breaker threshold (5), so that counting them as
// failures would open the circuit.
const READS = 8

function foreignKeys(ctx: TopicContext, plant: (fullKey: string) => Promise<void>): void {
  it('a key of a foreign type reads as a miss, and the cache keeps serving the others', async () => {
    const cache = ctx.cache()
    await cache.set('good', 42)
    await plant(cache.fullKey('list'))
    for (let i = 0; i < READS; i++) {
      await expect(cache.get('list'), `read ${i + 1} of the foreign key`).resolves.toBeUndefined()
    }
    expect(await cache.get('good')).toBe(42)
    const stats = cache.stats()
    expect(stats.circuit).toBe('closed')
    expect(stats.errors).toBe(0)
    expect(stats.undecodable).toBe(READS)
    expect(cache.status()).not.toBe('unavailable')
  })

  it('has, getMany and getOrSet treat a foreign key as absent', async () => {
    const cache = ctx.cache()
    await cache.set('good', 'kept')
    await plant(cache.fullKey('list'))
    await expect(cache.has('list')).resolves.toBe(false)
    expect(await cache.getMany(['good', 'list'])).toEqual(['kept', undefined])
    // The cache owns its keyspace: a loaded value replaces what was planted there.
    expect(await cache.getOrSet('list', () => 'loaded')).toBe('loaded')
    expect(await cache.get('list')).toBe('loaded')
    expect(cache.stats().circuit).toBe('closed')
    expect(cache.stats().errors).toBe(0)
  })

  it('delete removes a foreign key like any other', async () => {
    const cache = ctx.cache()
    await plant(cache.fullKey('list'))
    await expect(cache.delete('list')).resolves.toBe(true)
    await expect(cache.get('list')).resolves.toBeUndefined()
    expect(cache.stats().undecodable).toBe(0)
  })
}
