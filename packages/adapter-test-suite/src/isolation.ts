import { describe, expect, it } from 'vitest'
import { expectBytes, type TopicContext, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/** Several caches on one adapter: key prefixes and versions keep them apart, for reads and removals. */
export function isolationTests(options: ResolvedSuiteOptions): void {
  if (!options.stores) return
  describe('isolation', () => {
    storing(useAdapter(options))
  })
}

function storing(ctx: TopicContext): void {
  it('a cache stores its entries under {keyPrefix}:{version}:{key}', async () => {
    const keyPrefix = ctx.scope()
    const cache = ctx.cache({ keyPrefix, version: 3 })
    await cache.set('user:1', 'v')
    expect(cache.fullKey('user:1')).toBe(`${keyPrefix}:3:user:1`)
    expect(await ctx.adapter().get(`${keyPrefix}:3:user:1`)).toBeDefined()
    expect(await ctx.adapter().get(`${keyPrefix}:1:user:1`)).toBeUndefined()
  })

  it("caches with different keyPrefix do not see each other's keys", async () => {
    const a = ctx.cache()
    const b = ctx.cache()
    await a.set('k', 'a')
    expect(await b.get('k')).toBeUndefined()
    await b.set('k', 'b')
    expect(await a.get('k')).toBe('a')
    expect(await b.get('k')).toBe('b')
  })

  it('clear() of one keyPrefix leaves another intact', async () => {
    const a = ctx.cache()
    const b = ctx.cache()
    await a.set('k', 'a')
    await b.set('k', 'b')
    await a.clear()
    expect(await a.get('k')).toBeUndefined()
    expect(await b.get('k')).toBe('b')
  })

  it("caches with different versions of one keyPrefix do not see each other's keys", async () => {
    const keyPrefix = ctx.scope()
    const v1 = ctx.cache({ keyPrefix, version: 1 })
    const v2 = ctx.cache({ keyPrefix, version: 2 })
    await v1.set('k', 'one')
    expect(await v2.get('k')).toBeUndefined()
    await v2.set('k', 'two')
    expect(await v1.get('k')).toBe('one')
    expect(await v2.get('k')).toBe('two')
  })

  it('clear() of version 1 leaves version 10 intact (app:1: vs app:10:)', async () => {
    const keyPrefix = ctx.scope()
    const v1 = ctx.cache({ keyPrefix, version: 1 })
    const v10 = ctx.cache({ keyPrefix, version: 10 })
    await v1.set('k', 'one')
    await v10.set('k', 'ten')
    await v1.clear()
    expect(await v1.get('k')).toBeUndefined()
    expect(await v10.get('k')).toBe('ten')
  })

  it('deletePattern("*") empties its own cache only: other versions and prefixes survive', async () => {
    const keyPrefix = ctx.scope()
    const mine = ctx.cache({ keyPrefix, version: 1 })
    const newer = ctx.cache({ keyPrefix, version: 10 })
    const other = ctx.cache()
    for (const cache of [mine, newer, other]) {
      await cache.set('a', cache.fullKey('a'))
      await cache.set('b:c', cache.fullKey('b:c'))
    }
    expect(await mine.deletePattern('*')).toBe(2)
    expect(await mine.getMany(['a', 'b:c'])).toEqual([undefined, undefined])
    expect(await newer.getMany(['a', 'b:c'])).toEqual([newer.fullKey('a'), newer.fullKey('b:c')])
    expect(await other.getMany(['a', 'b:c'])).toEqual([other.fullKey('a'), other.fullKey('b:c')])
  })

  it("keys written to the adapter outside a cache's keyspace survive its clear() and deletePattern()", async () => {
    const keyPrefix = ctx.scope()
    const cache = ctx.cache({ keyPrefix, version: 1 })
    const outside = [`${keyPrefix}:1`, `${keyPrefix}:10:k`, `${keyPrefix}x:1:k`, `${keyPrefix}:2:k`]
    for (const key of outside) await ctx.adapter().set(key, text(key), undefined)
    await cache.set('k', 'inside')
    await cache.deletePattern('*')
    await cache.clear()
    for (const key of outside) expectBytes(await ctx.adapter().get(key), text(key), `entry under ${key}`)
  })
}
