import type { CacheAdapter } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { type TopicContext, text, useAdapter } from './context.js'
import { GLOB_CASES } from './glob-table.js'
import type { ResolvedSuiteOptions } from './types.js'

/** `deleteByPattern` (Redis-style globs) and `clear(prefix)`: what they remove, and what they must not. */
export function patternTests(options: ResolvedSuiteOptions): void {
  describe('patterns', () => {
    const ctx = useAdapter(options)
    if (options.stores) storing(ctx)
    else dummy(ctx)
  })
}

async function write(adapter: CacheAdapter<Uint8Array>, keys: readonly string[]): Promise<void> {
  await adapter.setMany(keys.map((key) => ({ key, value: text(key), ttlMs: 60_000 })))
}

// The subset of `keys` still present, in the order given.
async function present(adapter: CacheAdapter<Uint8Array>, keys: readonly string[]): Promise<string[]> {
  const values = await adapter.getMany(keys)
  return keys.filter((_, i) => values[i] !== undefined)
}

// Writes `keys`, deletes by `pattern`, and reports the count and which keys survived.
async function deleteAndSurvey(
  adapter: CacheAdapter<Uint8Array>,
  keys: readonly string[],
  pattern: string,
): Promise<{ removed: number; survivors: string[] }> {
  await write(adapter, keys)
  const removed = await adapter.deleteByPattern(pattern)
  return { removed, survivors: await present(adapter, keys) }
}

function storing(ctx: TopicContext): void {
  it('* removes every matching key, across ":" and for the empty run, and returns the count', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:app:1:`, `${s}:app:1:a`, `${s}:app:1:b:c`, `${s}:app:2:a`, `${s}:other:1:a`],
      `${s}:app:1:*`,
    )
    expect(removed).toBe(3)
    expect(survivors).toEqual([`${s}:app:2:a`, `${s}:other:1:a`])
  })

  it('a prefix that merely starts the same is not matched (app:1: vs app:10:)', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:app:1:a`, `${s}:app:10:a`, `${s}:app:1`],
      `${s}:app:1:*`,
    )
    expect(removed).toBe(1)
    expect(survivors).toEqual([`${s}:app:10:a`, `${s}:app:1`])
  })

  it('keys of another prefix are never touched', async () => {
    const mine = ctx.scope()
    const theirs = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${mine}:a`, `${mine}:b`, `${theirs}:a`, `${theirs}:b`, `x${mine}:a`],
      `${mine}:*`,
    )
    expect(removed).toBe(2)
    expect(survivors).toEqual([`${theirs}:a`, `${theirs}:b`, `x${mine}:a`])
  })

  it('? matches exactly one character', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:k`, `${s}:k1`, `${s}:k2`, `${s}:k:`, `${s}:k10`],
      `${s}:k?`,
    )
    expect(removed).toBe(3)
    expect(survivors).toEqual([`${s}:k`, `${s}:k10`])
  })

  it('[ab] matches one listed character', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:a`, `${s}:b`, `${s}:c`, `${s}:ab`],
      `${s}:[ab]`,
    )
    expect(removed).toBe(2)
    expect(survivors).toEqual([`${s}:c`, `${s}:ab`])
  })

  it('[a-c] matches one character of a range', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:a1`, `${s}:b1`, `${s}:c1`, `${s}:d1`, `${s}:-1`],
      `${s}:[a-c]1`,
    )
    expect(removed).toBe(3)
    expect(survivors).toEqual([`${s}:d1`, `${s}:-1`])
  })

  it('[^a] matches one character that is not listed', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:a`, `${s}:b`, `${s}:c`, `${s}:bb`],
      `${s}:[^a]`,
    )
    expect(removed).toBe(2)
    expect(survivors).toEqual([`${s}:a`, `${s}:bb`])
  })

  it('escaped specials \\* \\? \\[ \\] \\\\ match only themselves', async () => {
    const s = ctx.scope()
    const keys = [`${s}:*`, `${s}:?`, `${s}:[`, `${s}:]`, `${s}:\\`, `${s}:x`, `${s}:[x]`, `${s}:**`]
    await write(ctx.adapter(), keys)
    expect(await ctx.adapter().deleteByPattern(`${s}:\\*`)).toBe(1)
    expect(await ctx.adapter().deleteByPattern(`${s}:\\?`)).toBe(1)
    expect(await ctx.adapter().deleteByPattern(`${s}:\\[`)).toBe(1)
    expect(await ctx.adapter().deleteByPattern(`${s}:\\]`)).toBe(1)
    expect(await ctx.adapter().deleteByPattern(`${s}:\\\\`)).toBe(1)
    expect(await present(ctx.adapter(), keys)).toEqual([`${s}:x`, `${s}:[x]`, `${s}:**`])
  })

  it('an escaped prefix with specials, followed by *, removes only keys under that literal prefix', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(
      ctx.adapter(),
      [`${s}:a*[1]:x`, `${s}:a*[1]:y`, `${s}:ab1:x`, `${s}:a*1:x`],
      `${s}:a\\*\\[1\\]:*`,
    )
    expect(removed).toBe(2)
    expect(survivors).toEqual([`${s}:ab1:x`, `${s}:a*1:x`])
  })

  describe('the shared glob table: each pattern removes what Redis matches, and nothing else', () => {
    for (const row of GLOB_CASES) {
      it(`${JSON.stringify(row.pattern)} removes ${JSON.stringify(row.matches)} and keeps ${JSON.stringify(row.misses)}`, async () => {
        const s = ctx.scope()
        const keys = [...row.matches, ...row.misses].map((key) => `${s}:${key}`)
        const { removed, survivors } = await deleteAndSurvey(ctx.adapter(), keys, `${s}:${row.pattern}`)
        expect(survivors).toEqual(row.misses.map((key) => `${s}:${key}`))
        expect(removed).toBe(row.matches.length)
      })
    }
  })

  it('a pattern that matches nothing removes nothing and returns 0', async () => {
    const s = ctx.scope()
    const { removed, survivors } = await deleteAndSurvey(ctx.adapter(), [`${s}:a`, `${s}:b`], `${s}:zzz*`)
    expect(removed).toBe(0)
    expect(survivors).toEqual([`${s}:a`, `${s}:b`])
  })

  it('removes 600 matching keys and none of 600 neighbours (enough to page through a scan)', async () => {
    const s = ctx.scope()
    const doomed = Array.from({ length: 600 }, (_, i) => `${s}:doomed:${i}`)
    const kept = Array.from({ length: 600 }, (_, i) => `${s}:kept:${i}`)
    await write(ctx.adapter(), [...doomed, ...kept])
    expect(await ctx.adapter().deleteByPattern(`${s}:doomed:*`)).toBe(600)
    expect(await present(ctx.adapter(), doomed)).toEqual([])
    expect(await present(ctx.adapter(), kept)).toHaveLength(600)
  })

  it('clear(prefix) removes exactly the keys that start with prefix', async () => {
    const s = ctx.scope()
    const other = ctx.scope()
    const keys = [`${s}:app:1:a`, `${s}:app:1:b`, `${s}:app:10:a`, `${s}:app:2:a`, `${other}:app:1:a`]
    await write(ctx.adapter(), keys)
    await ctx.adapter().clear(`${s}:app:1:`)
    expect(await present(ctx.adapter(), keys)).toEqual([`${s}:app:10:a`, `${s}:app:2:a`, `${other}:app:1:a`])
  })

  it('clear treats glob characters in the prefix literally', async () => {
    const s = ctx.scope()
    const keys = [`${s}:a*:1`, `${s}:ab:1`, `${s}:a?[x]:1`, `${s}:ab[x]:1`, `${s}:a\\:1`]
    await write(ctx.adapter(), keys)
    await ctx.adapter().clear(`${s}:a*`)
    await ctx.adapter().clear(`${s}:a?[x]`)
    await ctx.adapter().clear(`${s}:a\\`)
    expect(await present(ctx.adapter(), keys)).toEqual([`${s}:ab:1`, `${s}:ab[x]:1`])
  })

  describe('through createCache', () => {
    it('deletePattern removes matching keys of this cache only and returns the count', async () => {
      const cache = ctx.cache()
      const neighbour = ctx.cache()
      for (const key of ['user:1', 'user:2', 'users:1', 'report:1']) await cache.set(key, key)
      await neighbour.set('user:1', 'theirs')
      expect(await cache.deletePattern('user:*')).toBe(2)
      expect(await cache.getMany(['user:1', 'user:2', 'users:1', 'report:1'])).toEqual([
        undefined,
        undefined,
        'users:1',
        'report:1',
      ])
      expect(await neighbour.get('user:1')).toBe('theirs')
    })

    it('deletePattern takes ?, classes and escapes, and escaped specials match literally', async () => {
      const cache = ctx.cache()
      for (const key of ['r:2024', 'r:2025', 'r:1999', 'f:a*', 'f:ab']) await cache.set(key, key)
      expect(await cache.deletePattern('r:202[0-4]')).toBe(1)
      expect(await cache.deletePattern('f:a\\*')).toBe(1)
      expect(await cache.getMany(['r:2024', 'r:2025', 'r:1999', 'f:a*', 'f:ab'])).toEqual([
        undefined,
        'r:2025',
        'r:1999',
        undefined,
        'f:ab',
      ])
    })
  })
}

function dummy(ctx: TopicContext): void {
  it('deleteByPattern reports that nothing was removed', async () => {
    const s = ctx.scope()
    await write(ctx.adapter(), [`${s}:a`, `${s}:b`])
    expect(await ctx.adapter().deleteByPattern(`${s}:*`)).toBe(0)
  })

  it('clear resolves', async () => {
    const s = ctx.scope()
    await expect(Promise.resolve(ctx.adapter().clear(`${s}:`))).resolves.toBeUndefined()
  })

  describe('through createCache', () => {
    it('deletePattern reports that nothing was removed and clear resolves', async () => {
      const cache = ctx.cache()
      await cache.set('user:1', 1)
      expect(await cache.deletePattern('user:*')).toBe(0)
      await expect(cache.clear()).resolves.toBeUndefined()
    })
  })
}
