import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Cache, CacheError, createCache, encodeEntry } from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

describe('keys', () => {
  it('stores under {keyPrefix}:{version}:{key}', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'ea_platform', version: 3 })
    await cache.set('faculties:all', ['BMS'])
    expect([...adapter.data.keys()]).toEqual(['ea_platform:3:faculties:all'])
    expect(cache.fullKey('x')).toBe('ea_platform:3:x')
  })

  it('bounds long keys with a digest and keeps them distinct', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'p', maxKeyLength: 64 })
    const a = `search:${'a'.repeat(300)}`
    const b = `search:${'a'.repeat(299)}b`
    await cache.set(a, 1)
    await cache.set(b, 2)
    const keys = [...adapter.data.keys()]
    expect(keys).toHaveLength(2)
    // One character past maxKeyLength, so that no key kept as written has the same stored form.
    for (const key of keys) expect(key.length).toBe('p:1:'.length + 65)
    expect(keys[0]!.startsWith('p:1:search:aaaa')).toBe(true)
    expect(await cache.get(a)).toBe(1)
    expect(await cache.get(b)).toBe(2)
  })

  it('rejects empty and non-string keys with E_INVALID_KEY and stores nothing', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'p' })
    await expect(cache.set('', 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY', cache: 'p' })
    await expect(cache.get('')).rejects.toThrow(/key must be a non-empty string, got an empty string/)
    await expect(cache.get(42 as unknown as string)).rejects.toThrow(/got number/)
    await expect(
      cache.setMany([
        { key: 'ok', value: 1 },
        { key: '', value: 2 },
      ]),
    ).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
    expect(adapter.data.size).toBe(0)
  })

  it('rejects keys with a lone surrogate, naming the key and where the surrogate is, and stores nothing', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'p' })
    const error = await cache.set('user:\uD800x', 1).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_INVALID_KEY', cache: 'p', key: 'user:\uD800x' })
    expect((error as Error).message).toBe(
      'cache "p": key "user:\\ud800x" has a lone surrogate \\ud800 at index 5; keys must be well-formed Unicode, because stores keep them as UTF-8, where it would become U+FFFD and merge with other keys',
    )
    await expect(
      cache.setMany([
        { key: 'ok', value: 1 },
        { key: 'x\uDFFF', value: 2 },
      ]),
    ).rejects.toMatchObject({ code: 'E_INVALID_KEY', key: 'x\uDFFF' })
    expect(adapter.data.size).toBe(0)
  })

  it('rejects a keyPrefix with a lone surrogate', () => {
    expect(() => createCache({ adapter: new MapAdapter(), keyPrefix: 'p\uD800' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'keyPrefix' }),
    )
  })
})

describe('configuration errors name the cache and the field', () => {
  const adapter = new MapAdapter()
  it.each([
    [
      { keyPrefix: 'ea:queries' },
      'E_INVALID_CONFIG',
      /cache "ea:queries": option "keyPrefix" must not contain ":"/,
    ],
    [{ keyPrefix: '' }, 'E_INVALID_CONFIG', /option "keyPrefix" must be a non-empty string/],
    [
      { keyPrefix: 'q', ttl: 'five minutes' },
      'E_INVALID_DURATION',
      /cache "q": option "ttl" must be a duration like "5m"/,
    ],
    [
      { keyPrefix: 'q', name: 'queries', timeout: -1 },
      'E_INVALID_DURATION',
      /cache "queries": option "timeout"/,
    ],
    [{ keyPrefix: 'q', jitter: 2 }, 'E_INVALID_CONFIG', /option "jitter" must be a number from 0 to 1/],
    [{ keyPrefix: 'q', version: 'v:1' }, 'E_INVALID_CONFIG', /option "version"/],
    [{ keyPrefix: 'q', lease: { wait: 'soon' } }, 'E_INVALID_DURATION', /option "lease.wait"/],
  ])('%j', (options, code, message) => {
    const build = () => createCache({ adapter, ...options } as never)
    expect(build).toThrow(CacheError)
    expect(build).toThrow(message)
    try {
      build()
    } catch (error) {
      expect((error as CacheError).code).toBe(code)
    }
  })

  it('rejects a missing adapter', () => {
    expect(() => createCache({ keyPrefix: 'q' } as never)).toThrow(/option "adapter" must be a cache adapter/)
  })
})

describe('values', () => {
  let cache: Cache
  let adapter: MapAdapter
  beforeEach(() => {
    adapter = new MapAdapter()
    cache = createCache({ adapter, keyPrefix: 'v' })
  })

  it('round-trips rich values and isolates callers from each other', async () => {
    const value = {
      when: new Date('2025-02-03T04:05:06.007Z'),
      counts: new Map([['ToDo', 1n]]),
      tags: new Set(['a']),
      bytes: new Uint8Array([0, 255]),
      nothing: null,
      missing: undefined,
    }
    await cache.set('k', value)
    const first = await cache.get<typeof value>('k')
    expect(first).toEqual(value)
    expect(first).not.toBe(value)
    first!.counts.set('Done', 2n)
    value.tags.add('b')
    expect(await cache.get('k')).toEqual({ ...value, tags: new Set(['a']) })
  })

  it('rejects functions and symbols with E_UNSERIALIZABLE naming the key, storing nothing', async () => {
    await expect(cache.set('handler', { onHit: () => 1 })).rejects.toMatchObject({
      code: 'E_UNSERIALIZABLE',
      key: 'handler',
    })
    await expect(cache.set('sym', Symbol('x'))).rejects.toThrow(/"sym"/)
    await expect(
      cache.setMany([
        { key: 'good', value: 1 },
        { key: 'bad', value: [() => 2] },
      ]),
    ).rejects.toMatchObject({
      code: 'E_UNSERIALIZABLE',
      key: 'bad',
    })
    expect(adapter.data.size).toBe(0)
  })

  it('reads an undecodable entry as a counted miss, never an exception', async () => {
    adapter.data.set('v:1:corrupt', { value: new Uint8Array([0xca, 1, 0, 9]), expiresAt: 0 })
    adapter.data.set('v:1:foreign', { value: Buffer.from('{"django":"pickle"}'), expiresAt: 0 })
    expect(await cache.get('corrupt')).toBeUndefined()
    expect(await cache.getOrSet('foreign', () => 'fresh')).toBe('fresh')
    expect(await cache.get('foreign')).toBe('fresh')
    expect(cache.stats()).toMatchObject({ undecodable: 2, misses: 2, hits: 1 })
  })
})

describe('TTL on a fake clock', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('expires entries after the default, per-call and string TTLs', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 't', ttl: '5m' })
    await cache.set('default', 1)
    await cache.set('short', 2, { ttl: 500 })
    await cache.set('day', 3, { ttl: '24h' })
    vi.advanceTimersByTime(499)
    expect(await cache.get('short')).toBe(2)
    vi.advanceTimersByTime(1)
    expect(await cache.get('short')).toBeUndefined()
    vi.advanceTimersByTime(5 * 60_000 - 501)
    expect(await cache.get('default')).toBe(1)
    vi.advanceTimersByTime(1)
    expect(await cache.get('default')).toBeUndefined()
    vi.advanceTimersByTime(24 * 3_600_000)
    expect(await cache.get('day')).toBeUndefined()
  })

  it('does not trust the store to expire: a stale entry the store still holds is a miss', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 't' })
    const now = Date.now()
    const entry = {
      value: 'old',
      createdAt: now - 2000,
      expiresAt: now - 1000,
      staleUntil: now - 1000,
      tags: undefined,
    }
    adapter.data.set('t:1:k', { value: encodeEntry(entry, 'k'), expiresAt: 0 })
    expect(await cache.get('k')).toBeUndefined()
  })

  it('jitter spreads expiry within [ttl * (1 - jitter), ttl]', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'j', ttl: 10_000, jitter: 0.2 })
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, i)
    const ttls = [...adapter.data.values()].map((item) => item.expiresAt - Date.now())
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(8_000)
    expect(Math.max(...ttls)).toBeLessThanOrEqual(10_000)
    expect(new Set(ttls).size).toBeGreaterThan(50)
    vi.advanceTimersByTime(8_000 - 1)
    expect(
      (await cache.getMany([...Array(200).keys()].map((i) => `k${i}`))).every((v) => v !== undefined),
    ).toBe(true)
    vi.advanceTimersByTime(2_001)
    expect(
      (await cache.getMany([...Array(200).keys()].map((i) => `k${i}`))).every((v) => v === undefined),
    ).toBe(true)
  })

  it('caches null with its own TTL (negative caching)', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'n', ttl: '24h', nullTtl: '1m' })
    const loader = vi.fn(async () => null)
    expect(await cache.getOrSet('osiris_course:999', loader)).toBeNull()
    expect(await cache.getOrSet('osiris_course:999', loader)).toBeNull()
    expect(loader).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(60_000)
    expect(await cache.getOrSet('osiris_course:999', loader)).toBeNull()
    expect(loader).toHaveBeenCalledTimes(2)
  })

  it('ttl 0 stores nothing (as in Django)', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'z' })
    expect(await cache.set('k', 1, { ttl: 0 })).toBe(true)
    expect(adapter.data.size).toBe(0)
  })
})

describe('invalidation by key and pattern', () => {
  it('deletes within its own prefix and version only', async () => {
    const adapter = new MapAdapter()
    const queries = createCache({ adapter, keyPrefix: 'ea_queries' })
    const v2 = createCache({ adapter, keyPrefix: 'ea_queries', version: 2 })
    const other = createCache({ adapter, keyPrefix: 'ea_platform' })
    await queries.setMany([
      { key: 'filter_counts:a', value: 1 },
      { key: 'filter_counts:b', value: 2 },
      { key: 'faculties', value: 3 },
    ])
    await v2.set('filter_counts:a', 4)
    await other.set('filter_counts:a', 5)
    adapter.data.set('unrelated:filter_counts:z', { value: new Uint8Array([1]), expiresAt: 0 })
    expect(await queries.deletePattern('filter_counts:*')).toBe(2)
    expect(await queries.get('faculties')).toBe(3)
    expect(await v2.get('filter_counts:a')).toBe(4)
    expect(await other.get('filter_counts:a')).toBe(5)
    expect(adapter.data.has('unrelated:filter_counts:z')).toBe(true)
    expect(await queries.delete('faculties')).toBe(true)
    expect(await queries.delete('faculties')).toBe(false)
    await v2.clear()
    expect(await other.get('filter_counts:a')).toBe(5)
    expect(await v2.get('filter_counts:a')).toBeUndefined()
  })

  it('treats glob characters of the prefix literally', async () => {
    const adapter = new MapAdapter()
    const star = createCache({ adapter, keyPrefix: 'a*' })
    const plain = createCache({ adapter, keyPrefix: 'ab' })
    await plain.set('k', 1)
    await star.set('k', 2)
    await star.deletePattern('*')
    expect(await plain.get('k')).toBe(1)
  })

  it('rejects an empty pattern', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'p' })
    await expect(cache.deletePattern('')).rejects.toMatchObject({ code: 'E_INVALID_PATTERN' })
  })
})

describe('observability', () => {
  it('emits events and counts per declared prefix', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'o', statsPrefixes: ['a'] })
    const seen: string[] = []
    const off = cache.on('hit', ({ key }) => seen.push(`hit ${key}`))
    cache.on('miss', ({ key }) => seen.push(`miss ${key}`))
    cache.on('set', ({ key }) => seen.push(`set ${key}`))
    cache.on('delete', ({ key }) => seen.push(`delete ${key}`))
    await cache.get('a:1')
    await cache.set('a:1', 1)
    await cache.get('a:1')
    off()
    await cache.get('a:1')
    await cache.delete('a:1')
    expect(seen).toEqual(['miss a:1', 'set a:1', 'hit a:1', 'delete a:1'])
    expect(cache.stats().byPrefix.a).toMatchObject({ hits: 2, misses: 1, sets: 1, deletes: 1 })
  })

  it('writes hit and miss lines at debug level through the given logger', async () => {
    const lines: string[] = []
    const logger = { debug: (_fields: object, message: string) => lines.push(message) }
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'lg', name: 'queries', logger })
    await cache.getOrSet('filter_counts:x', async () => 1)
    await cache.getOrSet('filter_counts:x', async () => 1)
    expect(lines).toEqual(['cache miss queries:filter_counts:x', 'cache hit queries:filter_counts:x'])
  })

  it('builds no debug line when the logger says debug is off', async () => {
    const debug = vi.fn()
    const cache = createCache({
      adapter: new MapAdapter(),
      keyPrefix: 'lg',
      logger: { debug, isLevelEnabled: () => false },
    })
    await cache.get('k')
    expect(debug).not.toHaveBeenCalled()
  })
})

describe('lifecycle', () => {
  it('rejects use after close with E_CLOSED and closes the adapter once', async () => {
    const adapter = new MapAdapter()
    const close = vi.spyOn(adapter, 'close')
    const cache = createCache({ adapter, keyPrefix: 'lc' })
    await cache.close()
    await cache.close()
    expect(close).toHaveBeenCalledTimes(1)
    await expect(cache.get('k')).rejects.toMatchObject({ code: 'E_CLOSED' })
    await expect(cache.getOrSet('k', () => 1)).rejects.toMatchObject({ code: 'E_CLOSED' })
    expect(cache.status()).toBe('closed')
  })
})
