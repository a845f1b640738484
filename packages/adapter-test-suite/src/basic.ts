import { describe, expect, it } from 'vitest'
import { everyByte, expectBytes, randomValue, type TopicContext, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

const MIB = 1024 * 1024

// Keys a store must keep apart and return as written: glob characters, separators, whitespace,
// non-ASCII and length are where key handling usually goes wrong.
const awkwardKeys = (scope: string): string[] => [
  `${scope}:unicode:Zürich/東京/🚀`,
  `${scope}:with spaces: a b `,
  `${scope}:glob:*?[]\\`,
  `${scope}:glob:*`,
  `${scope}:glob:?`,
  `${scope}:colons::a:b:`,
  `${scope}:control:\n\t`,
  `${scope}:long:${'k'.repeat(1000)}`,
]

/** Single-key reads, writes and deletes, bytes in and out, and the same through `createCache`. */
export function basicTests(options: ResolvedSuiteOptions): void {
  describe('basic', () => {
    const ctx = useAdapter(options)
    if (options.stores) {
      adapterLevel(ctx)
      cacheLevel(ctx)
    } else {
      dummy(ctx)
    }
  })
}

function adapterLevel(ctx: TopicContext): void {
  it('get of an absent key returns undefined', async () => {
    const s = ctx.scope()
    expect(await ctx.adapter().get(`${s}:absent`)).toBeUndefined()
  })

  it('returns every byte value 0..255 exactly as written', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:bytes`, everyByte(), undefined)
    expectBytes(await ctx.adapter().get(`${s}:bytes`), everyByte())
  })

  it('stores an empty Uint8Array as an entry, not as a miss', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:empty`, new Uint8Array(0), undefined)
    expectBytes(await ctx.adapter().get(`${s}:empty`), new Uint8Array(0))
  })

  it.runIf(ctx.options.largeValues)('round-trips a 1 MiB value', async () => {
    const s = ctx.scope()
    const value = randomValue(MIB)
    await ctx.adapter().set(`${s}:large`, value, undefined)
    expectBytes(await ctx.adapter().get(`${s}:large`), value)
  })

  it('reads a view into a larger buffer as just its own bytes', async () => {
    const s = ctx.scope()
    const backing = everyByte()
    await ctx.adapter().set(`${s}:view`, backing.subarray(10, 20), undefined)
    expectBytes(await ctx.adapter().get(`${s}:view`), everyByte().slice(10, 20))
  })

  it('keeps its own copy: changing the bytes passed to set afterwards does not change the entry', async (t) => {
    if (ctx.adapter().capabilities.byReference) t.skip()
    const s = ctx.scope()
    const value = text('original')
    await ctx.adapter().set(`${s}:copy`, value, undefined)
    value.fill(0)
    expectBytes(await ctx.adapter().get(`${s}:copy`), text('original'))
  })

  it('set replaces the entry under the same key', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:k`, text('first'), undefined)
    await ctx.adapter().set(`${s}:k`, text('second, and longer'), undefined)
    expectBytes(await ctx.adapter().get(`${s}:k`), text('second, and longer'))
  })

  it('keeps keys with unicode, spaces, glob characters, colons, control characters and 1000 characters apart', async () => {
    const s = ctx.scope()
    const keys = awkwardKeys(s)
    for (const key of keys) await ctx.adapter().set(key, text(key), undefined)
    for (const key of keys)
      expectBytes(await ctx.adapter().get(key), text(key), `entry under ${JSON.stringify(key)}`)
  })

  it('does not treat glob characters in get as patterns', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:abc`, text('abc'), undefined)
    expect(await ctx.adapter().get(`${s}:*`)).toBeUndefined()
    expect(await ctx.adapter().get(`${s}:a?c`)).toBeUndefined()
    expect(await ctx.adapter().get(`${s}:[a]bc`)).toBeUndefined()
  })

  it('delete resolves true when it removed an entry and false when there was none', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:k`, text('v'), undefined)
    expect(await ctx.adapter().delete(`${s}:k`)).toBe(true)
    expect(await ctx.adapter().get(`${s}:k`)).toBeUndefined()
    expect(await ctx.adapter().delete(`${s}:k`)).toBe(false)
    expect(await ctx.adapter().delete(`${s}:never-written`)).toBe(false)
  })

  it('delete removes only its key', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:a`, text('a'), undefined)
    await ctx.adapter().set(`${s}:ab`, text('ab'), undefined)
    await ctx.adapter().set(`${s}:a*`, text('a*'), undefined)
    expect(await ctx.adapter().delete(`${s}:a*`)).toBe(true)
    expectBytes(await ctx.adapter().get(`${s}:a`), text('a'))
    expectBytes(await ctx.adapter().get(`${s}:ab`), text('ab'))
  })
}

// Values the core's codec must bring back unchanged; the names become test titles.
const roundTripCases: Array<[string, () => unknown]> = [
  ['a plain JSON object', () => ({ faculty: 'EEMCS', counts: [1, 2, 3], nested: { ok: true, none: null } })],
  ['a unicode string', () => 'Zürich – 東京 🚀'],
  ['null (a cached "not found")', () => null],
  ['a Date', () => new Date('2024-05-01T12:34:56.789Z')],
  [
    'a Map',
    () =>
      new Map<unknown, unknown>([
        ['faculty', 'EEMCS'],
        [2, { n: 1 }],
      ]),
  ],
  ['a Set', () => new Set(['a', 1, 2n])],
  ['a BigInt', () => 2n ** 70n],
  [
    'typed arrays',
    () => ({
      u8: new Uint8Array([0, 127, 255]),
      i32: new Int32Array([-1, 2 ** 31 - 1]),
      f64: new Float64Array([1.5, Number.NaN, Number.POSITIVE_INFINITY]),
    }),
  ],
  [
    'undefined nested in objects and arrays',
    () => ({ a: undefined, list: [1, undefined, 3], deep: { b: undefined } }),
  ],
  ['NaN, -0 and the infinities', () => [Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]],
]

function cacheLevel(ctx: TopicContext): void {
  describe('through createCache', () => {
    for (const [label, make] of roundTripCases) {
      it(`round-trips ${label} unchanged`, async () => {
        const cache = ctx.cache()
        expect(await cache.set('value', make())).toBe(true)
        const got = await cache.get('value')
        expect(got).toStrictEqual(make())
      })
    }

    it('keeps properties whose value is undefined', async () => {
      const cache = ctx.cache()
      await cache.set('value', { a: undefined })
      expect(Object.keys((await cache.get('value')) as object)).toEqual(['a'])
    })

    it('a value mutated by the caller after get or set does not change the cache', async (t) => {
      if (ctx.adapter().capabilities.byReference) t.skip()
      const cache = ctx.cache()
      const make = () => ({ list: [1, 2], map: new Map([['a', 1]]), bytes: new Uint8Array([1, 2, 3]) })
      const written = make()
      await cache.set('value', written)
      written.list.push(99)
      const first = (await cache.get('value')) as ReturnType<typeof make>
      first.list.push(3)
      first.map.set('b', 2)
      first.bytes[0] = 99
      expect(await cache.get('value')).toStrictEqual(make())
    })

    it('getOrSet runs the loader on a miss and serves the stored value afterwards', async () => {
      const cache = ctx.cache()
      let calls = 0
      const loader = async () => {
        calls++
        return { computed: calls }
      }
      expect(await cache.getOrSet('k', loader)).toEqual({ computed: 1 })
      expect(await cache.getOrSet('k', loader)).toEqual({ computed: 1 })
      expect(calls).toBe(1)
    })

    it('has, delete and get agree on what the store holds', async () => {
      const cache = ctx.cache()
      await cache.set('k', 'v')
      expect(await cache.has('k')).toBe(true)
      expect(await cache.delete('k')).toBe(true)
      expect(await cache.has('k')).toBe(false)
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.delete('k')).toBe(false)
    })

    it('a cached null is a hit, not a miss', async () => {
      const cache = ctx.cache()
      let calls = 0
      const loader = () => {
        calls++
        return null
      }
      expect(await cache.getOrSet('missing-row', loader)).toBeNull()
      expect(await cache.getOrSet('missing-row', loader)).toBeNull()
      expect(calls).toBe(1)
      expect(await cache.has('missing-row')).toBe(true)
    })
  })
}

function dummy(ctx: TopicContext): void {
  it('get misses after set', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:k`, everyByte(), undefined)
    expect(await ctx.adapter().get(`${s}:k`)).toBeUndefined()
  })

  it('set resolves for any value, empty ones included', async () => {
    const s = ctx.scope()
    await expect(
      Promise.resolve(ctx.adapter().set(`${s}:k`, new Uint8Array(0), 1000)),
    ).resolves.toBeUndefined()
  })

  it('delete reports that nothing was removed', async () => {
    const s = ctx.scope()
    await ctx.adapter().set(`${s}:k`, text('v'), undefined)
    expect(await ctx.adapter().delete(`${s}:k`)).toBe(false)
  })

  describe('through createCache', () => {
    it('get misses after set, and set reports success', async () => {
      const cache = ctx.cache()
      expect(await cache.set('k', { a: 1 })).toBe(true)
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.has('k')).toBe(false)
    })

    it('every getOrSet runs its loader', async () => {
      const cache = ctx.cache()
      let calls = 0
      const loader = async () => ++calls
      expect(await cache.getOrSet('k', loader)).toBe(1)
      expect(await cache.getOrSet('k', loader)).toBe(2)
      expect(await cache.getOrSet('k', loader)).toBe(3)
    })

    it('delete reports that nothing was removed', async () => {
      const cache = ctx.cache()
      await cache.set('k', 'v')
      expect(await cache.delete('k')).toBe(false)
    })
  })
}
