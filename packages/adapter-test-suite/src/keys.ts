import { boundKey, type Cache, isCacheError } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { type TopicContext, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

/** Keys a careless or hostile caller may pass: long keys and their bounded form, lone surrogates. */
export function keyTests(options: ResolvedSuiteOptions): void {
  describe('keys', () => {
    const ctx = useAdapter(options)
    if (options.stores) longKeys(ctx)
    loneSurrogates(ctx)
  })
}

const MAX_KEY_LENGTH = 100
const longKey = (head: string) => `${head}${'x'.repeat(150)}:tail`

function longKeys(ctx: TopicContext): void {
  describe('through createCache', () => {
    const cache = (): Cache => ctx.cache({ maxKeyLength: MAX_KEY_LENGTH })

    it('a long key cannot be read, overwritten or deleted by naming its bounded form', async () => {
      const c = cache()
      const key = longKey('report:')
      await c.set(key, 'long')
      const bounded = boundKey(key, MAX_KEY_LENGTH)
      expect(await c.get(bounded)).toBeUndefined()
      await c.set(bounded, 'short')
      await c.delete(bounded)
      expect(await c.get(key)).toBe('long')
    })

    it('long keys that share their head are kept apart', async () => {
      const c = cache()
      const head = 'p:'.repeat(60)
      await c.set(`${head}one`, 1)
      await c.set(`${head}two`, 2)
      expect(await c.getMany([`${head}one`, `${head}two`])).toEqual([1, 2])
    })

    it('clear() and deletePattern("*") remove long keys with the others', async () => {
      const c = cache()
      await c.setMany([
        { key: longKey('a:'), value: 1 },
        { key: 'a:short', value: 2 },
      ])
      expect(await c.deletePattern('*')).toBe(2)
      expect(await c.getMany([longKey('a:'), 'a:short'])).toEqual([undefined, undefined])
      await c.setMany([
        { key: longKey('a:'), value: 1 },
        { key: 'a:short', value: 2 },
      ])
      await c.clear()
      expect(await c.getMany([longKey('a:'), 'a:short'])).toEqual([undefined, undefined])
    })

    it('a pattern reaches a long key through its readable head, never through the hashed rest', async () => {
      const c = cache()
      await c.set(longKey('report:'), 'r')
      await c.set(longKey('other:'), 'o')
      expect(await c.deletePattern('*:tail')).toBe(0)
      expect(await c.deletePattern('report:*')).toBe(1)
      expect(await c.getMany([longKey('report:'), longKey('other:')])).toEqual([undefined, 'o'])
    })
  })
}

function loneSurrogates(ctx: TopicContext): void {
  describe('through createCache', () => {
    it('refuses a key with a lone surrogate with E_INVALID_KEY naming its index, on every operation', async () => {
      const cache = ctx.cache()
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => cache.get('a\uD800')],
        ['set', () => cache.set('ab\uDC00', 1)],
        ['getOrSet', () => cache.getOrSet('\uD800', async () => 1)],
        ['getMany', () => cache.getMany(['ok', 'a\uDC00b'])],
        ['setMany', () => cache.setMany([{ key: 'a\uD800', value: 1 }])],
        ['delete', () => cache.delete('a\uD800')],
        ['deleteMany', () => cache.deleteMany(['a\uD800'])],
      ]
      for (const [name, call] of calls) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(isCacheError(error, 'E_INVALID_KEY'), `${name} should reject with E_INVALID_KEY`).toBe(true)
        expect((error as Error).message, name).toMatch(/lone surrogate \\ud[89abc][0-9a-f]{2} at index \d/)
      }
      expect(await cache.getMany(['ok'])).toEqual([undefined])
    })

    it('so "a\\uD800" and "a\\uDC00" can never share an entry, and well-formed pairs still work', async () => {
      const cache = ctx.cache()
      await expect(cache.set('a\uD800', 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY', key: 'a\uD800' })
      await expect(cache.set('a\uDC00', 2)).rejects.toMatchObject({ code: 'E_INVALID_KEY', key: 'a\uDC00' })
      expect(await cache.get('a\uFFFD')).toBeUndefined()
      await cache.set('a😀', 'pair')
      if (ctx.options.stores) expect(await cache.get('a😀')).toBe('pair')
      expect(await cache.get('a\uFFFD')).toBeUndefined()
    })

    it('refuses patterns and tags with a lone surrogate', async () => {
      const cache = ctx.cache()
      await expect(cache.deletePattern('a\uD800*')).rejects.toMatchObject({ code: 'E_INVALID_PATTERN' })
      await expect(cache.set('k', 1, { tags: ['t\uDC00'] })).rejects.toMatchObject({
        code: 'E_INVALID_CONFIG',
      })
      await expect(cache.invalidateTags(['t\uD800'])).rejects.toMatchObject({ code: 'E_INVALID_CONFIG' })
    })
  })
}
