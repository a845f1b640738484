import { describe, expect, it } from 'vitest'
import { createCache } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'

describe('getOrSetMany', () => {
  it('reads 100 keys in one batch and loads the 60 misses in one loader call', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'many' })
    const keys = Array.from({ length: 100 }, (_, i) => `course:${i}`)
    await cache.setMany(keys.slice(0, 40).map((key) => ({ key, value: `cached ${key}` })))
    adapter.ops.getMany = 0
    const calls: string[][] = []
    const values = await cache.getOrSetMany(keys, async (missing) => {
      calls.push(missing)
      return missing.map((key) => `loaded ${key}`)
    })
    expect(adapter.ops.getMany).toBe(1)
    expect(calls).toHaveLength(1)
    expect(calls[0]).toEqual(keys.slice(40))
    expect(values).toEqual(keys.map((key, i) => (i < 40 ? `cached ${key}` : `loaded ${key}`)))
    expect(await cache.get('course:99')).toBe('loaded course:99')
  })

  it('joins keys that are already loading instead of loading them again', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'join' })
    let release: (v: string) => void = () => {}
    const single = cache.getOrSet('a', () => new Promise<string>((resolve) => (release = resolve)))
    await Promise.resolve()
    const batchKeys: string[][] = []
    const many = cache.getOrSetMany(['a', 'b', 'b'], async (missing) => {
      batchKeys.push(missing)
      return new Map(missing.map((key) => [key, `batch ${key}`]))
    })
    release('single a')
    expect(await many).toEqual(['single a', 'batch b', 'batch b'])
    expect(await single).toBe('single a')
    expect(batchKeys).toEqual([['b']])
  })

  it('rejects a batch loader that returns the wrong number of values, caching nothing', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'bad' })
    await expect(cache.getOrSetMany(['a', 'b'], async () => ['only one'])).rejects.toMatchObject({
      code: 'E_BATCH_RESULT',
    })
    expect(adapter.data.size).toBe(0)
  })
})

describe('cachedMany (the batch form of cached)', () => {
  it('caches per item and loads only the misses, in one call', async () => {
    const { cachedMany } = await import('../src/index.js')
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'cm' })
    const calls: number[][] = []
    const fileExists = cachedMany(
      async (ids: number[]) => {
        calls.push(ids)
        return new Map(ids.map((id) => [id, id % 2 === 0]))
      },
      { cache, keyPrefix: 'file_exists', ttl: '1h', key: (id) => String(id) },
    )
    expect(await fileExists([1, 2, 3])).toEqual([false, true, false])
    expect(await fileExists([2, 3, 4, 4])).toEqual([true, false, true, true])
    expect(calls).toEqual([[1, 2, 3], [4]])
    expect(fileExists.key(7)).toBe('file_exists:7')
    expect(await fileExists.invalidate(2, 4)).toBe(2)
    await fileExists([2])
    expect(calls.at(-1)).toEqual([2])
  })
})

describe('getOrSetMany shares single flight with every other load of the same keys', () => {
  for (const [name, make] of [
    ['a synchronous store', () => new MapAdapter()],
    ['an asynchronous store', () => new AsyncMapAdapter()],
  ] as const) {
    it(`loads a key shared by two overlapping batches once (${name})`, async () => {
      const cache = createCache({ adapter: make(), keyPrefix: 'batch' })
      const asked: string[][] = []
      const loader = async (keys: string[]) => {
        asked.push(keys)
        await new Promise((resolve) => setTimeout(resolve, 5))
        return keys.map((key) => `v-${key}`)
      }
      const [first, second] = await Promise.all([
        cache.getOrSetMany(['a', 'b', 'c'], loader),
        cache.getOrSetMany(['b', 'c', 'd'], loader),
      ])
      expect(first).toEqual(['v-a', 'v-b', 'v-c'])
      expect(second).toEqual(['v-b', 'v-c', 'v-d'])
      expect(asked.flat().sort()).toEqual(['a', 'b', 'c', 'd'])
    })

    it(`joins getOrSet and getOrSetMany on a shared key, in either order (${name})`, async () => {
      const cache = createCache({ adapter: make(), keyPrefix: 'batch' })
      const loaded: string[] = []
      const one = (key: string) => async () => {
        loaded.push(key)
        await new Promise((resolve) => setTimeout(resolve, 5))
        return `v-${key}`
      }
      const many = async (keys: string[]) => {
        loaded.push(...keys)
        await new Promise((resolve) => setTimeout(resolve, 5))
        return keys.map((key) => `v-${key}`)
      }
      const results = await Promise.all([
        cache.getOrSetMany(['x', 'y'], many),
        cache.getOrSet('x', one('x')),
        cache.getOrSet('z', one('z')),
        cache.getOrSetMany(['z', 'w'], many),
      ])
      expect(results).toEqual([['v-x', 'v-y'], 'v-x', 'v-z', ['v-z', 'v-w']])
      expect(loaded.sort()).toEqual(['w', 'x', 'y', 'z'])
    })
  }

  it('hands a failed batch load to every caller that joined it, and caches nothing', async () => {
    const cache = createCache({ adapter: new AsyncMapAdapter(), keyPrefix: 'batch' })
    let runs = 0
    const failing = async () => {
      runs++
      await new Promise((resolve) => setTimeout(resolve, 5))
      throw new Error('upstream down')
    }
    const settled = await Promise.allSettled([
      cache.getOrSetMany(['a', 'b'], failing),
      cache.getOrSet('a', async () => 'never'),
    ])
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
    expect(runs).toBe(1)
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined])
  })
})
