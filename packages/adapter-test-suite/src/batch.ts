import { describe, expect, it } from 'vitest'
import { expectBytes, type TopicContext, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/** `getMany`, `setMany` and `deleteMany`: alignment, counts, empty batches and large ones. */
export function batchTests(options: ResolvedSuiteOptions): void {
  describe('batch', () => {
    const ctx = useAdapter(options)
    if (options.stores) storing(ctx)
    else dummy(ctx)
  })
}

function storing(ctx: TopicContext): void {
  it('getMany([]) resolves to an empty array', async () => {
    expect(await ctx.adapter().getMany([])).toEqual([])
  })

  it('getMany is aligned with its keys, with undefined for each miss', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('a'), undefined)
    await ctx.adapter().set(`${s}:c`, text('c'), undefined)
    const got = await ctx
      .adapter()
      .getMany([`${s}:missing-1`, `${s}:a`, `${s}:b`, `${s}:c`, `${s}:missing-2`])
    expect(got).toHaveLength(5)
    expect(got[0]).toBeUndefined()
    expectBytes(got[1], text('a'))
    expect(got[2]).toBeUndefined()
    expectBytes(got[3], text('c'))
    expect(got[4]).toBeUndefined()
  })

  it('getMany answers a key listed twice in both places', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('a'), undefined)
    const got = await ctx.adapter().getMany([`${s}:a`, `${s}:a`])
    expectBytes(got[0], text('a'))
    expectBytes(got[1], text('a'))
  })

  it('setMany stores every entry, empty values included', async () => {
    const s = ctx.scope()
    await ctx.adapter().setMany([
      { key: `${s}:a`, value: text('a'), ttlMs: undefined },
      { key: `${s}:b`, value: new Uint8Array(0), ttlMs: 60_000 },
      { key: `${s}:c d`, value: text('c d'), ttlMs: undefined },
    ])
    const got = await ctx.adapter().getMany([`${s}:a`, `${s}:b`, `${s}:c d`])
    expectBytes(got[0], text('a'))
    expectBytes(got[1], new Uint8Array(0))
    expectBytes(got[2], text('c d'))
  })

  it('setMany replaces existing entries', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('old'), undefined)
    await ctx.adapter().setMany([{ key: `${s}:a`, value: text('new'), ttlMs: undefined }])
    expectBytes(await ctx.adapter().get(`${s}:a`), text('new'))
  })

  it('setMany([]) resolves', async () => {
    await expect(Promise.resolve(ctx.adapter().setMany([]))).resolves.toBeUndefined()
  })

  it('deleteMany removes the listed keys, counts only those that existed and leaves the rest', async () => {
    const s = ctx.scope()
    for (const k of ['a', 'b', 'c', 'd']) await ctx.adapter().set(`${s}:${k}`, text(k), undefined)
    expect(await ctx.adapter().deleteMany([`${s}:a`, `${s}:c`, `${s}:never-written`])).toBe(2)
    const got = await ctx.adapter().getMany([`${s}:a`, `${s}:b`, `${s}:c`, `${s}:d`])
    expect(got[0]).toBeUndefined()
    expectBytes(got[1], text('b'))
    expect(got[2]).toBeUndefined()
    expectBytes(got[3], text('d'))
  })

  it('deleteMany counts a key listed twice once', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('a'), undefined)
    expect(await ctx.adapter().deleteMany([`${s}:a`, `${s}:a`])).toBe(1)
  })

  it('deleteMany([]) resolves to 0', async () => {
    expect(await ctx.adapter().deleteMany([])).toBe(0)
  })

  it('a batch of 500 entries round-trips in order and deletes in one call', async () => {
    const s = ctx.scope()
    const keys = Array.from({ length: 500 }, (_, i) => `${s}:item:${i}`)
    await ctx.adapter().setMany(keys.map((key) => ({ key, value: text(key), ttlMs: 60_000 })))
    const got = await ctx.adapter().getMany(keys)
    keys.forEach((key, i) => {
      expectBytes(got[i], text(key), `entry ${i}`)
    })
    expect(await ctx.adapter().deleteMany(keys)).toBe(500)
    expect((await ctx.adapter().getMany(keys)).every((v) => v === undefined)).toBe(true)
  })

  describe('through createCache', () => {
    it('getMany is aligned with its keys, misses included', async () => {
      const cache = ctx.cache()
      await cache.setMany([
        { key: 'a', value: { n: 1 } },
        { key: 'c', value: new Date(0) },
      ])
      expect(await cache.getMany(['a', 'b', 'c', 'a'])).toStrictEqual([
        { n: 1 },
        undefined,
        new Date(0),
        { n: 1 },
      ])
    })

    it('deleteMany resolves with the number of entries removed', async () => {
      const cache = ctx.cache()
      await cache.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ])
      expect(await cache.deleteMany(['a', 'b', 'c'])).toBe(2)
      expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
    })
  })
}

function dummy(ctx: TopicContext): void {
  it('getMany misses every key, aligned with them', async () => {
    const s = ctx.scope()
    await ctx.adapter().setMany([
      { key: `${s}:a`, value: text('a'), ttlMs: undefined },
      { key: `${s}:b`, value: text('b'), ttlMs: 1000 },
    ])
    expect(await ctx.adapter().getMany([`${s}:a`, `${s}:b`, `${s}:c`])).toEqual([
      undefined,
      undefined,
      undefined,
    ])
    expect(await ctx.adapter().getMany([])).toEqual([])
  })

  it('deleteMany reports that nothing was removed', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('a'), undefined)
    expect(await ctx.adapter().deleteMany([`${s}:a`, `${s}:b`])).toBe(0)
  })

  describe('through createCache', () => {
    it('getMany misses every key after setMany', async () => {
      const cache = ctx.cache()
      expect(await cache.setMany([{ key: 'a', value: 1 }])).toBe(true)
      expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
      expect(await cache.deleteMany(['a'])).toBe(0)
    })
  })
}
