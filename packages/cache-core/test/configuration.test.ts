import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type Cache,
  Cached,
  cacheConfigFromEnv,
  cached,
  cachedMany,
  createCache,
  createCaches,
} from '../src/index.js'
import { BrokenAdapter, MapAdapter } from './helpers/adapters.js'

let queries: Cache
beforeEach(() => {
  queries = createCache({ adapter: new MapAdapter(), keyPrefix: 'ea_queries' })
})

describe('createCache options', () => {
  it('rejects an unknown option, naming it and the likely intended one', () => {
    const options = { adapter: new MapAdapter(), keyPrefix: 'q', tll: '5m' }
    expect(() => createCache(options as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'tll', cache: 'q' }),
    )
    expect(() => createCache(options as never)).toThrow(
      /cache "q": option "tll" is not a cache option \(did you mean "ttl"\?\)/,
    )
  })

  it('rejects the same unknown option in createCaches', () => {
    expect(() =>
      createCaches(
        { queries: { adapter: 'map', keyPrefix: 'q', tll: '5m' } as never },
        { adapters: { map: () => new MapAdapter() }, makeDefault: false },
      ),
    ).toThrow(expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'tll', cache: 'queries' }))
  })

  it('says which call lacks a keyPrefix instead of naming a cache "undefined"', () => {
    let error: unknown
    try {
      createCache({ adapter: new MapAdapter() } as never)
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ code: 'E_INVALID_CONFIG', field: 'keyPrefix' })
    expect(String((error as Error).message)).toBe(
      'createCache: option "keyPrefix" must be a non-empty string, got undefined',
    )
  })
})

describe('decorator options are checked where they are declared', () => {
  it('rejects a bad ttl when cached() is called, not when the function first runs', () => {
    expect(() => cached(async () => 1, { cache: queries, keyPrefix: 'x', ttl: 'five minutes' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DURATION', field: 'ttl' }),
    )
    expect(() => cachedMany(async () => [], { cache: queries, keyPrefix: 'x', grace: -1 })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DURATION', field: 'grace' }),
    )
  })

  it('rejects a bad ttl when @Cached is applied', () => {
    expect(() => Cached({ cache: queries, keyPrefix: 'x', nullTtl: '1 hour' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DURATION', field: 'nullTtl' }),
    )
    expect(() => Cached({ cache: queries, keyPrefix: 'x', lease: { wait: 'long' } })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DURATION', field: 'lease.wait' }),
    )
  })

  it('rejects unknown decorator options', () => {
    expect(() => cached(async () => 1, { cache: queries, keyPrefix: 'x', tll: '5m' } as never)).toThrow(
      /cached\(\): option "tll" is not an option of cached functions \(did you mean "ttl"\?\)/,
    )
    expect(() => Cached({ cache: queries, keyPrefix: 'x', tags: 'faculty' } as never)).toThrow(
      /@Cached\(\): option "tags" must be an array of strings or a function/,
    )
  })

  it('requires a keyPrefix, because class and function names change with the build tool', () => {
    expect(() => cached(async function load() {}, { cache: queries } as never)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'keyPrefix' }),
    )
    expect(() => cached(async function load() {}, { cache: queries } as never)).toThrow(
      /cached\(\) of "load": option "keyPrefix" is required/,
    )
    expect(() => {
      class Service {
        // @ts-expect-error: keyPrefix is required
        @Cached({ cache: queries })
        async load(): Promise<number> {
          return 1
        }
      }
      return Service
    }).toThrow(/@Cached\(\) on "load": option "keyPrefix" is required/)
  })
})

describe('durations from the environment', () => {
  const base = { queries: { adapter: 'memory', keyPrefix: 'ea_queries' } }

  it('refuses a bare number: Django settings mean seconds, Cacheport numbers mean milliseconds', () => {
    let error: unknown
    try {
      cacheConfigFromEnv(base, { env: { CACHE_QUERIES_TTL: '300' } })
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ code: 'E_INVALID_DURATION', field: 'ttl', cache: 'queries' })
    expect((error as Error).message).toContain('CACHE_QUERIES_TTL')
    expect((error as Error).message).toContain('"300s"')
    expect((error as Error).message).toContain('"5m"')
  })

  it('takes durations with a unit', () => {
    expect(cacheConfigFromEnv(base, { env: { CACHE_QUERIES_TTL: '300s' } }).queries?.ttl).toBe('300s')
    expect(cacheConfigFromEnv(base, { env: { CACHE_QUERIES_TIMEOUT: '250ms' } }).queries?.timeout).toBe(
      '250ms',
    )
  })
})

describe('cachedMany takes the per-call getOrSet options', () => {
  it('serves the last results within grace while the batch function fails', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'g' })
    let fail = false
    const names = cachedMany(
      async (ids: number[]) => {
        if (fail) throw new Error('Osiris 503')
        return ids.map((id) => `course ${id}`)
      },
      { cache, keyPrefix: 'course_names', ttl: 20, grace: '1h', staleWhileRevalidate: 0 },
    )
    expect(await names([1, 2])).toEqual(['course 1', 'course 2'])
    await new Promise((resolve) => setTimeout(resolve, 30))
    fail = true
    expect(await names([1, 2])).toEqual(['course 1', 'course 2'])
  })
})

describe('store failures without a logger', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('warn on stderr once per burst and once on recovery', async () => {
    const stderr = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const adapter = new BrokenAdapter()
    adapter.mode = 'reject'
    const cache = createCache({ adapter, keyPrefix: 'outage', breaker: false })
    const errors: string[] = []
    cache.on('error', ({ operation }) => errors.push(operation))
    await cache.get('a')
    await cache.get('b')
    await cache.set('c', 1)
    expect(errors).toEqual(['get', 'get', 'set'])
    expect(stderr).toHaveBeenCalledTimes(1)
    expect(String(stderr.mock.calls[0]![0])).toMatch(/cache "outage": store get failed/)
    adapter.mode = 'ok'
    await cache.get('a')
    await cache.get('b')
    expect(stderr).toHaveBeenCalledTimes(2)
    expect(String(stderr.mock.calls[1]![0])).toMatch(/cache "outage": store recovered after 3 failed/)
  })

  it('stay silent with logger: false, while events still report them', async () => {
    const stderr = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const adapter = new BrokenAdapter()
    adapter.mode = 'reject'
    const cache = createCache({ adapter, keyPrefix: 'quiet', breaker: false, logger: false })
    const errors: string[] = []
    cache.on('error', ({ operation }) => errors.push(operation))
    await cache.get('a')
    expect(errors).toEqual(['get'])
    expect(stderr).not.toHaveBeenCalled()
  })
})
