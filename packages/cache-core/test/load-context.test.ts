import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { createCache } from '../src/cache.js'
import { Cached, cached } from '../src/decorators.js'
import { ErrorCodes } from '../src/errors.js'
import { type BatchLoaderContext, type LoaderContext, loaderContext } from '../src/load-context.js'
import { MapAdapter } from './helpers/adapters.js'

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => {
  vi.useRealTimers()
})

const newCache = (options: { grace?: string; ttl?: string } = {}) =>
  createCache({ adapter: new MapAdapter(), keyPrefix: 'ctx', ttl: '1m', ...options })

describe('getOrSet loader context', () => {
  it('ctx.skip() hands the value to every caller but stores nothing', async () => {
    const cache = newCache()
    let calls = 0
    const loader = (ctx: LoaderContext<string>) => {
      calls++
      ctx.skip()
      return 'partial'
    }
    const [a, b] = await Promise.all([cache.getOrSet('k', loader), cache.getOrSet('k', loader)])
    expect([a, b, calls]).toEqual(['partial', 'partial', 1])
    expect(await cache.get('k')).toBeUndefined()
    await cache.getOrSet('k', loader)
    expect(calls).toBe(2)
  })

  it('ctx.ttl() sets the lifetime from the result, over the call option and nullTtl', async () => {
    const cache = newCache()
    // An Osiris course of a past year lives a week; this year's, the call's ttl.
    const course = (year: number) => (ctx: LoaderContext<{ year: number }>) => {
      if (year < 2026) ctx.ttl('7d')
      return { year }
    }
    await cache.getOrSet('old', course(2024), { ttl: '1h' })
    await cache.getOrSet('new', course(2026), { ttl: '1h' })
    await cache.getOrSet(
      'gone',
      (ctx) => {
        ctx.ttl('1d')
        return null
      },
      { nullTtl: '1m' },
    )
    vi.advanceTimersByTime(2 * 60 * 60_000)
    expect(await cache.getMany(['old', 'new', 'gone'])).toEqual([{ year: 2024 }, undefined, null])
    vi.advanceTimersByTime(7 * 24 * 60 * 60_000)
    expect(await cache.get('old')).toBeUndefined()
  })

  it('ctx.tags() tags the entry from the result, replacing the call option', async () => {
    const cache = newCache()
    await cache.getOrSet(
      'item',
      (ctx: LoaderContext<{ faculty: string }>) => {
        const item = { faculty: 'TPM' }
        ctx.tags([`faculty:${item.faculty}`])
        return item
      },
      { tags: ['faculty:unknown'] },
    )
    await cache.invalidateTags(['faculty:unknown'])
    expect(await cache.get('item')).toEqual({ faculty: 'TPM' })
    await cache.invalidateTags(['faculty:TPM'])
    expect(await cache.get('item')).toBeUndefined()
  })

  it('ctx.grace() gives this result its own grace window', async () => {
    const cache = newCache()
    await cache.getOrSet('k', (ctx) => {
      ctx.grace('1h')
      return 'v1'
    })
    vi.advanceTimersByTime(30 * 60_000)
    // Past its TTL, the loader fails: the value stands in, because its own grace is an hour.
    const failing = () => Promise.reject(new Error('upstream down'))
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    // Without ctx.grace (the cache has none), a failing loader's error reaches the caller.
    await cache.getOrSet('other', () => 'v1')
    vi.advanceTimersByTime(2 * 60_000)
    await expect(cache.getOrSet('other', failing)).rejects.toThrow('upstream down')
  })

  it('ctx.stale is the expired value still in grace, and undefined without one', async () => {
    const cache = newCache({ grace: '1h' })
    const seen: Array<{ etag: string } | undefined> = []
    const load = (etag: string) => (ctx: LoaderContext<{ etag: string }>) => {
      seen.push(ctx.stale)
      return { etag }
    }
    await cache.getOrSet('k', load('v1'))
    vi.advanceTimersByTime(2 * 60_000)
    expect(await cache.getOrSet('k', load('v2'))).toEqual({ etag: 'v2' })
    vi.advanceTimersByTime(2 * 60 * 60_000)
    await cache.getOrSet('k', load('v3'))
    expect(seen).toEqual([undefined, { etag: 'v1' }, undefined])
  })

  it('a loader can fall back to ctx.stale on its own terms (a conditional request answered 304)', async () => {
    const cache = newCache({ grace: '1h' })
    await cache.getOrSet('k', () => ({ etag: 'e1', body: 'course' }))
    vi.advanceTimersByTime(2 * 60_000)
    const notModified = (ctx: LoaderContext<{ etag: string; body: string }>) => {
      if (ctx.stale?.etag === 'e1') return ctx.stale
      throw new Error('unexpected')
    }
    expect(await cache.getOrSet('k', notModified)).toEqual({ etag: 'e1', body: 'course' })
    // Stored again, fresh for another TTL.
    vi.advanceTimersByTime(30_000)
    expect(await cache.get('k')).toEqual({ etag: 'e1', body: 'course' })
  })

  it('a bad ctx.ttl() or ctx.tags() fails the load with a coded error, and nothing is stored', async () => {
    const cache = newCache()
    await expect(
      cache.getOrSet('k', (ctx) => {
        ctx.ttl('a week')
        return 1
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_DURATION })
    await expect(
      cache.getOrSet('k', (ctx) => {
        ctx.tags([''])
        return 1
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_CONFIG, field: 'ctx.tags' })
    expect(await cache.get('k')).toBeUndefined()
  })

  it('types follow the loader result', () => {
    const cache = newCache()
    const annotated = cache.getOrSet('k', (ctx: LoaderContext<{ id: number }>) => {
      expectTypeOf(ctx.stale).toEqualTypeOf<{ id: number } | undefined>()
      return { id: 1 }
    })
    expectTypeOf(annotated).toEqualTypeOf<Promise<{ id: number }>>()
    void cache.getOrSet<number>('k', (ctx) => {
      expectTypeOf(ctx.stale).toEqualTypeOf<number | undefined>()
      // @ts-expect-error the stale value of a number loader is not a string
      const wrong: string | undefined = ctx.stale
      return wrong === undefined ? 1 : 2
    })
    // Loaders without a context infer their type as before.
    expectTypeOf(cache.getOrSet('k', () => 'text')).toEqualTypeOf<Promise<string>>()
  })
})

describe('getOrSetMany loader context', () => {
  it('decides per key: skip one, a longer TTL for another, tags from the result', async () => {
    const cache = newCache()
    const loader = async (keys: string[], ctx: BatchLoaderContext<string>) =>
      keys.map((key) => {
        if (key === 'partial') ctx.of(key).skip()
        if (key === 'past') ctx.of(key).ttl('7d')
        ctx.of(key).tags([`k:${key}`])
        return `value of ${key}`
      })
    expect(await cache.getOrSetMany(['partial', 'past', 'now'], loader)).toEqual([
      'value of partial',
      'value of past',
      'value of now',
    ])
    expect(await cache.getMany(['partial', 'past', 'now'])).toEqual([
      undefined,
      'value of past',
      'value of now',
    ])
    vi.advanceTimersByTime(2 * 60_000)
    expect(await cache.getMany(['past', 'now'])).toEqual(['value of past', undefined])
    await cache.invalidateTags(['k:past'])
    expect(await cache.get('past')).toBeUndefined()
  })

  it('ctx.stale holds the expired values in grace, by key; ctx.of a foreign key is an error', async () => {
    const cache = newCache({ grace: '1h' })
    await cache.set('a', 'old a')
    vi.advanceTimersByTime(2 * 60_000)
    let stale: ReadonlyMap<string, string> | undefined
    await cache.getOrSetMany(['a', 'b'], async (keys, ctx: BatchLoaderContext<string>) => {
      stale = ctx.stale
      expect(() => ctx.of('c')).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_KEY }))
      return keys.map((key) => `new ${key}`)
    })
    expect([...stale!]).toEqual([['a', 'old a']])
  })
})

describe('cached and @Cached: loaderContext()', () => {
  it('a cached function skips storing and sets its TTL through loaderContext()', async () => {
    const cache = newCache()
    let calls = 0
    // A Canvas 404 lives an hour; a timeout is not stored at all.
    const fetchCourse = cached(
      async (id: number) => {
        calls++
        const ctx = loaderContext<string | null>()!
        if (id === 404) {
          ctx.ttl('1h')
          return null
        }
        if (id === 504) {
          ctx.skip()
          return 'timeout'
        }
        return `course ${id}`
      },
      { cache, keyPrefix: 'canvas_course' },
    )
    expect(await fetchCourse(404)).toBeNull()
    expect(await fetchCourse(504)).toBe('timeout')
    await fetchCourse(504)
    vi.advanceTimersByTime(30 * 60_000)
    expect(await fetchCourse(404)).toBeNull()
    expect(calls).toBe(3)
    expect(loaderContext()).toBeUndefined()
  })

  it('keeps each load its own context while others start and finish around it', async () => {
    const cache = newCache()
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const seen: Array<[string, boolean]> = []
    const fetchCourse = cached(
      async (id: string) => {
        if (id === 'slow') await gate
        await Promise.resolve()
        const ctx = loaderContext<string>()
        seen.push([id, ctx !== undefined])
        ctx?.ttl('1m')
        return `course ${id}`
      },
      { cache, keyPrefix: 'course' },
    )
    const slow = fetchCourse('slow')
    // Another load starts and finishes while the slow one waits: the slow one must keep its context.
    expect(await fetchCourse('fast')).toBe('course fast')
    release()
    expect(await slow).toBe('course slow')
    expect(seen).toEqual([
      ['fast', true],
      ['slow', true],
    ])
    // Outside any load there is none, also once every load has finished.
    expect(loaderContext()).toBeUndefined()
    vi.advanceTimersByTime(2 * 60_000)
    expect(await cache.has('course:"slow"')).toBe(false)
  })

  it('an @Cached method sees ctx.stale through loaderContext()', async () => {
    const cache = newCache({ grace: '1h' })
    const stale: unknown[] = []
    class Osiris {
      version = 0
      @Cached({ cache, keyPrefix: 'osiris' })
      async course(code: string): Promise<string> {
        stale.push(loaderContext<string>()?.stale)
        return `${code} v${++this.version}`
      }
    }
    const osiris = new Osiris()
    expect(await osiris.course('TI1316')).toBe('TI1316 v1')
    vi.advanceTimersByTime(2 * 60_000)
    expect(await osiris.course('TI1316')).toBe('TI1316 v2')
    expect(stale).toEqual([undefined, 'TI1316 v1'])
  })
})
