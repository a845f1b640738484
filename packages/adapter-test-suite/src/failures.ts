import { type AnyCacheAdapter, type CacheAdapter, createCache } from '@cacheport/cache-core'
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { outcomeOf, randomScope, randomValue, type TopicContext, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/**
 * What goes wrong in production: entries the core cannot decode (corrupted, truncated or written by
 * something else) and, when the suite is given one, a store that cannot be reached.
 */
export function failureTests(options: ResolvedSuiteOptions): void {
  if (!options.stores && options.unreachable === undefined) return
  describe('failures', () => {
    if (options.stores) corruptEntries(useAdapter(options))
    if (options.unreachable !== undefined) unreachableStore(options, options.unreachable)
  })
}

// Damage a store can hold: noise, nothing, and a plausible record written by another program.
function foreignValues(): Array<[string, Uint8Array]> {
  return [
    ['random bytes', randomValue(64)],
    ['an empty value', new Uint8Array(0)],
    ['JSON text written by another program', text('{"value":1,"expires":0}')],
  ]
}

function corruptEntries(ctx: TopicContext): void {
  // A by-reference store holds the core's own objects and no other program can write to it, so
  // there are no foreign bytes to survive; these tests are about encoded entries.
  const adapter = (t: TestContext) => {
    const current = ctx.adapter()
    if (current.capabilities.byReference) t.skip()
    return current
  }

  it('entries overwritten with foreign data read as misses, never as exceptions', async (t) => {
    const store = adapter(t)
    const cache = ctx.cache()
    for (const [label, value] of foreignValues()) {
      await cache.set('k', 'good')
      await store.set(cache.fullKey('k'), value, undefined)
      await expect(cache.get('k'), label).resolves.toBeUndefined()
      await expect(cache.has('k'), label).resolves.toBe(false)
    }
  })

  it('truncated entries read as misses', async (t) => {
    const store = adapter(t)
    const cache = ctx.cache()
    await cache.set('k', { faculty: 'EEMCS', counts: [1, 2, 3] }, { tags: ['t'] })
    const whole = (await store.get(cache.fullKey('k'))) as Uint8Array
    expect(whole).toBeInstanceOf(Uint8Array)
    for (const length of [1, 2, 3, 8, Math.floor(whole.byteLength / 2), whole.byteLength - 1]) {
      await store.set(cache.fullKey('k'), whole.slice(0, length), undefined)
      await expect(cache.get('k'), `first ${length} of ${whole.byteLength} bytes`).resolves.toBeUndefined()
    }
  })

  it('getMany reads a corrupt entry as a miss and still returns the others', async (t) => {
    const store = adapter(t)
    const cache = ctx.cache()
    await cache.setMany([
      { key: 'a', value: 'a' },
      { key: 'b', value: 'b' },
      { key: 'c', value: 'c' },
    ])
    await store.set(cache.fullKey('b'), randomValue(32), undefined)
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual(['a', undefined, 'c'])
  })

  it("getOrSet replaces a corrupt entry with the loader's value", async (t) => {
    const store = adapter(t)
    const cache = ctx.cache()
    await store.set(cache.fullKey('k'), randomValue(32), undefined)
    expect(await cache.getOrSet('k', () => 'fresh')).toBe('fresh')
    expect(await cache.get('k')).toBe('fresh')
  })

  it('stats() counts corrupt entries as undecodable misses', async (t) => {
    const store = adapter(t)
    const cache = ctx.cache()
    await store.set(cache.fullKey('k'), randomValue(32), undefined)
    await cache.get('k')
    const stats = cache.stats()
    expect(stats.undecodable).toBe(1)
    expect(stats.misses).toBe(1)
    expect(stats.hits).toBe(0)
  })
}

function unreachableStore(
  options: ResolvedSuiteOptions,
  build: () => AnyCacheAdapter | Promise<AnyCacheAdapter>,
): void {
  describe('unreachable store', () => {
    const bound = options.unreachableTimeoutMs
    let adapter: CacheAdapter<Uint8Array>
    beforeAll(async () => {
      adapter = (await build()) as CacheAdapter<Uint8Array>
    })
    afterAll(async () => {
      await adapter?.close()
    })

    it('every operation rejects within unreachableTimeoutMs', async () => {
      const s = randomScope()
      const calls: Array<[string, () => unknown]> = [
        ['get', () => adapter.get(`${s}:k`)],
        ['getMany', () => adapter.getMany([`${s}:k`, `${s}:j`])],
        ['set', () => adapter.set(`${s}:k`, text('v'), 1000)],
        ['setMany', () => adapter.setMany([{ key: `${s}:k`, value: text('v'), ttlMs: 1000 }])],
        ['delete', () => adapter.delete(`${s}:k`)],
        ['deleteMany', () => adapter.deleteMany([`${s}:k`])],
        ['deleteByPattern', () => adapter.deleteByPattern(`${s}:*`)],
        ['clear', () => adapter.clear(s)],
      ]
      if (adapter.setIfAbsent)
        calls.push(['setIfAbsent', () => adapter.setIfAbsent!(`${s}:k`, text('v'), 1000)])
      if (adapter.deleteIfEquals)
        calls.push(['deleteIfEquals', () => adapter.deleteIfEquals!(`${s}:k`, text('v'))])
      for (const [name, call] of calls) {
        const outcome = await outcomeOf(call, bound)
        expect(outcome.kind, `${name} on an unreachable store`).toBe('rejected')
      }
    })

    it('a cache on it fails open: get misses, set reports false, getOrSet returns the loader value', async () => {
      const cache = createCache({ ...options.cacheOptions, adapter, keyPrefix: randomScope() })
      const started = Date.now()
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.set('k', 'v')).toBe(false)
      expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded')
      expect(Date.now() - started).toBeLessThan(3 * bound)
    })

    it('close() resolves', async () => {
      const other = (await build()) as CacheAdapter<Uint8Array>
      const outcome = await outcomeOf(() => other.close(), bound)
      expect(outcome.kind).toBe('resolved')
    })
  })
}
