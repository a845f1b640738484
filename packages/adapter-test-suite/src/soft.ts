import type { Cache } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { type TopicContext, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

const failing = () => Promise.reject(new Error('upstream down'))

const ways: ReadonlyArray<[string, (cache: Cache) => Promise<unknown>]> = [
  ['by key', (cache) => cache.delete('item:1', { soft: true })],
  ['by pattern', (cache) => cache.deletePattern('item:*', { soft: true })],
  ['by tag', (cache) => cache.invalidateTags(['faculty:EEMCS'], { soft: true })],
]

/**
 * Soft invalidation through `createCache`: the core rewrites entries (or tag epochs) in the store, so
 * every adapter must keep what it is given, and list keys by pattern if it offers `keysByPattern`.
 */
export function softTests(options: ResolvedSuiteOptions): void {
  describe('soft invalidation', () => {
    const ctx = useAdapter(options)
    if (options.stores) storing(ctx)
    else dummy(ctx)
  })
}

function storing(ctx: TopicContext): void {
  for (const [name, invalidate] of ways) {
    it(`${name}: the entry is a miss, getOrSet loads, and the old value stands in only for a failing loader`, async () => {
      // Without keysByPattern the core falls back to a hard pattern delete: nothing to stand in.
      const listed = name !== 'by pattern' || typeof ctx.adapter().keysByPattern === 'function'
      const cache = ctx.cache({ grace: '1h', staleWhileRevalidate: '1h' })
      await cache.set('item:1', 'old', { tags: ['faculty:EEMCS'] })
      await cache.set('other', 'kept')
      await invalidate(cache)
      expect(await cache.get('item:1')).toBeUndefined()
      expect(await cache.get('other')).toBe('kept')
      if (listed) expect(await cache.getOrSet('item:1', failing)).toBe('old')
      else await expect(cache.getOrSet('item:1', failing)).rejects.toThrow('upstream down')
      expect(await cache.getOrSet('item:1', () => 'new', { tags: ['faculty:EEMCS'] })).toBe('new')
      expect(await cache.get('item:1')).toBe('new')
    })
  }

  it('keysByPattern, when offered, lists exactly the matching keys', async (t) => {
    const adapter = ctx.adapter()
    if (typeof adapter.keysByPattern !== 'function') t.skip()
    const s = ctx.scope()
    const bytes = new Uint8Array([1])
    for (const key of ['a:1', 'a:2', 'a*', 'b:1']) await adapter.set(`${s}:${key}`, bytes, undefined)
    expect((await adapter.keysByPattern!(`${s}:a:*`)).sort()).toEqual([`${s}:a:1`, `${s}:a:2`])
    expect(await adapter.keysByPattern!(`${s}:a\\*`)).toEqual([`${s}:a*`])
    expect(await adapter.keysByPattern!(`${s}:none:*`)).toEqual([])
  })
}

function dummy(ctx: TopicContext): void {
  it('soft invalidations resolve and every getOrSet runs its loader', async () => {
    const cache = ctx.cache({ grace: '1h' })
    for (const [, invalidate] of ways) await expect(invalidate(cache)).resolves.not.toThrow()
    await expect(cache.getOrSet('item:1', failing)).rejects.toThrow('upstream down')
  })
}
