import { describe, expect, it } from 'vitest'
import { createCache } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'

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
