import { describe, expect, it } from 'vitest'
import { type TopicContext, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/** Tag invalidation through `createCache`: the core keeps tag epochs in the adapter next to the entries. */
export function tagTests(options: ResolvedSuiteOptions): void {
  describe('tags', () => {
    const ctx = useAdapter(options)
    if (options.stores) storing(ctx)
    else dummy(ctx)
  })
}

function storing(ctx: TopicContext): void {
  it('invalidateTags removes every entry written with the tag', async () => {
    const cache = ctx.cache()
    await cache.set('a', 1, { tags: ['faculty:EEMCS'] })
    await cache.set('b', 2, { tags: ['faculty:EEMCS'] })
    await cache.invalidateTags(['faculty:EEMCS'])
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
    expect(await cache.has('a')).toBe(false)
  })

  it('entries with other tags and untagged entries survive', async () => {
    const cache = ctx.cache()
    await cache.set('eemcs', 1, { tags: ['faculty:EEMCS'] })
    await cache.set('tpm', 2, { tags: ['faculty:TPM'] })
    await cache.set('plain', 3)
    await cache.invalidateTags(['faculty:EEMCS'])
    expect(await cache.getMany(['eemcs', 'tpm', 'plain'])).toEqual([undefined, 2, 3])
  })

  it('an entry with several tags is invalidated by any one of them', async () => {
    const cache = ctx.cache()
    await cache.set('both', 1, { tags: ['faculty:EEMCS', 'status:ToDo'] })
    await cache.set('other', 2, { tags: ['faculty:EEMCS'] })
    await cache.invalidateTags(['status:ToDo'])
    expect(await cache.getMany(['both', 'other'])).toEqual([undefined, 2])
  })

  it('invalidateTags with several tags invalidates entries of each', async () => {
    const cache = ctx.cache()
    await cache.set('a', 1, { tags: ['x'] })
    await cache.set('b', 2, { tags: ['y'] })
    await cache.set('c', 3, { tags: ['z'] })
    await cache.invalidateTags(['x', 'y'])
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3])
  })

  it('an entry written after the invalidation is served', async () => {
    const cache = ctx.cache()
    await cache.set('a', 'old', { tags: ['t'] })
    await cache.invalidateTags(['t'])
    await cache.set('a', 'new', { tags: ['t'] })
    expect(await cache.get('a')).toBe('new')
  })

  it('setMany entries carry their own tags', async () => {
    const cache = ctx.cache()
    await cache.setMany([
      { key: 'a', value: 1, tags: ['t1'] },
      { key: 'b', value: 2, tags: ['t2'] },
    ])
    await cache.invalidateTags(['t1'])
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, 2])
  })

  it('getOrSet runs its loader again after its tag was invalidated', async () => {
    const cache = ctx.cache()
    let calls = 0
    const loader = () => ++calls
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(1)
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(1)
    await cache.invalidateTags(['t'])
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(2)
  })

  it('tags with glob characters, colons and unicode work like any other', async () => {
    const cache = ctx.cache()
    const odd = ['a*b', 'x?[y]', 'faculty:EEMCS:2024', 'Zürich 東京']
    for (const [i, tag] of odd.entries()) await cache.set(`k${i}`, i, { tags: [tag] })
    await cache.set('star', 'kept', { tags: ['aXb'] })
    await cache.invalidateTags(['a*b', 'Zürich 東京'])
    expect(await cache.getMany(['k0', 'k1', 'k2', 'k3', 'star'])).toEqual([
      undefined,
      1,
      2,
      undefined,
      'kept',
    ])
  })

  it('invalidating a tag in one cache leaves the same tag in another cache alone', async () => {
    const first = ctx.cache()
    const second = ctx.cache()
    await first.set('k', 'first', { tags: ['shared-name'] })
    await second.set('k', 'second', { tags: ['shared-name'] })
    await first.invalidateTags(['shared-name'])
    expect(await first.get('k')).toBeUndefined()
    expect(await second.get('k')).toBe('second')
  })
}

function dummy(ctx: TopicContext): void {
  it('set with tags and invalidateTags resolve, and nothing is served', async () => {
    const cache = ctx.cache()
    expect(await cache.set('k', 1, { tags: ['t'] })).toBe(true)
    await expect(cache.invalidateTags(['t'])).resolves.toBeUndefined()
    expect(await cache.get('k')).toBeUndefined()
  })

  it('getOrSet with tags runs its loader every time', async () => {
    const cache = ctx.cache()
    let calls = 0
    const loader = () => ++calls
    await cache.getOrSet('k', loader, { tags: ['t'] })
    await cache.getOrSet('k', loader, { tags: ['t'] })
    expect(calls).toBe(2)
  })
}
