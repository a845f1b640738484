import { CacheError, createCaches, ErrorCodes } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RedisAdapter, redisAdapter, redisAdapterFactory } from '../src/index.js'
import { bytes, randomPrefix, SHARED_URL, untilStatus } from './helpers/shared.js'

// Redis-specific behaviour on the shared server (db 9); the contract itself is in conformance.test.ts.
let raw: Redis
let adapter: RedisAdapter
let prefix = randomPrefix()

beforeAll(async () => {
  raw = new Redis(SHARED_URL)
  adapter = redisAdapter(SHARED_URL)
  await untilStatus(adapter, 'ready')
})

afterEach(async () => {
  const keys = await raw.keys(`${prefix}*`)
  if (keys.length > 0) await raw.unlink(keys)
})

afterAll(async () => {
  await adapter.close()
  raw.disconnect()
})

function key(name: string): string {
  return `${prefix}${name}`
}

describe('values and TTLs', () => {
  it('stores the bytes as given, a binary string readable by any client', async () => {
    prefix = randomPrefix()
    const all = new Uint8Array(256).map((_, i) => i)
    await adapter.set(key('bin'), all, undefined)
    expect([...((await raw.getBuffer(key('bin'))) ?? [])]).toEqual([...all])
    const back = await adapter.get(key('bin'))
    expect(back).toBeInstanceOf(Uint8Array)
    expect([...(back ?? [])]).toEqual([...all])
    const [many] = await adapter.getMany([key('bin')])
    expect(many).toBeInstanceOf(Uint8Array)
    expect([...(many ?? [])]).toEqual([...all])
  })

  it('writes a view into a larger buffer as only its own bytes', async () => {
    prefix = randomPrefix()
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9])
    await adapter.set(key('view'), backing.subarray(2, 5), undefined)
    expect([...((await raw.getBuffer(key('view'))) ?? [])]).toEqual([1, 2, 3])
  })

  it('stores the bytes as they were when set was called, auto-pipelined or not', async () => {
    prefix = randomPrefix()
    for (const autoPipelining of [false, true]) {
      const writer = new RedisAdapter({ url: SHARED_URL, autoPipelining })
      try {
        await untilStatus(writer, 'ready')
        const value = bytes('original')
        const many = bytes('original')
        const written = Promise.all([
          writer.set(key(`single-${autoPipelining}`), value, 10_000),
          writer.setMany([{ key: key(`many-${autoPipelining}`), value: many, ttlMs: 10_000 }]),
        ])
        // The caller reuses its buffers before the writes complete.
        value.fill(0x21)
        many.fill(0x21)
        await written
        expect(await raw.mget(key(`single-${autoPipelining}`), key(`many-${autoPipelining}`))).toEqual([
          'original',
          'original',
        ])
      } finally {
        await writer.close()
      }
    }
  })

  it('sets the expiry with the value (SET PX) and none without a TTL', async () => {
    prefix = randomPrefix()
    await adapter.set(key('ttl'), bytes('v'), 60_000)
    await adapter.set(key('forever'), bytes('v'), undefined)
    const pttl = await raw.pttl(key('ttl'))
    expect(pttl).toBeGreaterThan(59_000)
    expect(pttl).toBeLessThanOrEqual(60_000)
    expect(await raw.pttl(key('forever'))).toBe(-1)
  })

  it('rounds a fractional TTL up, so it still expires instead of living forever', async () => {
    prefix = randomPrefix()
    await adapter.set(key('tiny'), bytes('v'), 0.4)
    await adapter.setMany([{ key: key('tiny-many'), value: bytes('v'), ttlMs: 0.4 }])
    await new Promise((r) => setTimeout(r, 20))
    expect(await adapter.getMany([key('tiny'), key('tiny-many')])).toEqual([undefined, undefined])
  })

  it('uses the database number of the URL', async () => {
    prefix = randomPrefix()
    await adapter.set(key('db'), bytes('nine'), 10_000)
    const db0 = new Redis('redis://127.0.0.1:6379/0')
    try {
      expect(await db0.exists(key('db'))).toBe(0)
      expect(await raw.exists(key('db'))).toBe(1)
    } finally {
      db0.disconnect()
    }
  })
})

describe('batches', () => {
  it('getMany aligns replies with keys across MGET batches, misses and repeats included', async () => {
    prefix = randomPrefix()
    const small = new RedisAdapter({ url: SHARED_URL, batchSize: 3 })
    try {
      const keys = Array.from({ length: 10 }, (_, i) => key(`k${i}`))
      const stored = new Set(keys.filter((_, i) => i % 3 !== 0))
      await small.setMany([...stored].map((k) => ({ key: k, value: bytes(k), ttlMs: 10_000 })))
      const asked = [...keys, keys[1]!, key('absent')]
      const replies = await small.getMany(asked)
      expect(replies.map((r) => (r === undefined ? undefined : new TextDecoder().decode(r)))).toEqual(
        asked.map((k) => (stored.has(k) ? k : undefined)),
      )
    } finally {
      await small.close()
    }
  })

  it('setMany gives each entry its own TTL and deleteMany counts what existed', async () => {
    prefix = randomPrefix()
    await adapter.setMany([
      { key: key('a'), value: bytes('a'), ttlMs: 30_000 },
      { key: key('b'), value: bytes('b'), ttlMs: undefined },
    ])
    expect(await raw.pttl(key('a'))).toBeGreaterThan(29_000)
    expect(await raw.pttl(key('b'))).toBe(-1)
    expect(await adapter.deleteMany([key('a'), key('b'), key('c')])).toBe(2)
    expect(await raw.exists(key('a'), key('b'))).toBe(0)
  })
})

describe('pattern deletes', () => {
  it('removes the matching keys over many SCAN rounds and nothing else', async () => {
    prefix = randomPrefix()
    const tiny = new RedisAdapter({ url: SHARED_URL, scanCount: 7, batchSize: 4 })
    try {
      const doomed = Array.from({ length: 60 }, (_, i) => key(`filter_counts:${i}`))
      const kept = [key('faculties:1'), key('filter_countsX'), `${prefix.slice(0, -1)}filter_counts:1`]
      for (const k of [...doomed, ...kept]) await raw.set(k, 'v', 'PX', 30_000)
      expect(await tiny.deleteByPattern(`${prefix}filter_counts:*`)).toBe(60)
      expect(await raw.exists(...doomed)).toBe(0)
      expect(await raw.exists(...kept)).toBe(kept.length)
    } finally {
      await tiny.close()
    }
  })

  it('clear() treats glob characters in the prefix literally', async () => {
    const base = randomPrefix()
    prefix = base
    const literal = `${base}a*[b]?:`
    await raw.set(`${literal}1`, 'v', 'PX', 30_000)
    // Each of these matches the prefix read as a glob, but does not start with it.
    const lookalikes = [`${base}aXXb?:1`, `${base}a*b?:1`, `${base}a*[b]X:1`]
    for (const k of lookalikes) await raw.set(k, 'v', 'PX', 30_000)
    await adapter.clear(literal)
    expect(await raw.exists(`${literal}1`)).toBe(0)
    expect(await raw.exists(...lookalikes)).toBe(lookalikes.length)
  })

  it('refuses an empty prefix or pattern rather than touch the whole database', async () => {
    await expect(adapter.clear('')).rejects.toMatchObject({ code: ErrorCodes.INVALID_PATTERN })
    await expect(adapter.deleteByPattern('')).rejects.toMatchObject({ code: ErrorCodes.INVALID_PATTERN })
  })
})

describe('leases', () => {
  it('setIfAbsent takes a key once and deleteIfEquals only removes the holder’s value', async () => {
    prefix = randomPrefix()
    const mine = new Uint8Array([0, 255, 1, 254])
    expect(await adapter.setIfAbsent(key('lease'), mine, 5000)).toBe(true)
    expect(await adapter.setIfAbsent(key('lease'), bytes('theirs'), 5000)).toBe(false)
    expect(await raw.pttl(key('lease'))).toBeGreaterThan(4000)
    expect(await adapter.deleteIfEquals(key('lease'), new Uint8Array([0, 255, 1, 253]))).toBe(false)
    expect(await raw.exists(key('lease'))).toBe(1)
    expect(await adapter.deleteIfEquals(key('lease'), mine)).toBe(true)
    expect(await raw.exists(key('lease'))).toBe(0)
    expect(await adapter.deleteIfEquals(key('lease'), mine)).toBe(false)
  })
})

describe('connection lifecycle', () => {
  it('lets calls made before the first connection wait for it', async () => {
    prefix = randomPrefix()
    const fresh = redisAdapter({ url: SHARED_URL })
    try {
      expect(fresh.status()).toBe('connecting')
      await fresh.set(key('early'), bytes('v'), 10_000)
      expect(new TextDecoder().decode(await fresh.get(key('early')))).toBe('v')
      expect(fresh.status()).toBe('ready')
    } finally {
      await fresh.close()
    }
    expect(fresh.status()).toBe('closed')
    await expect(fresh.get(key('early'))).rejects.toMatchObject({ code: ErrorCodes.CLOSED })
  })

  it('declares the command timeout that bounds each of its operations', async () => {
    const bounded = (options: ConstructorParameters<typeof RedisAdapter>[0]) => {
      const a = new RedisAdapter(options)
      void a.close()
      return a.capabilities.operationTimeoutMs
    }
    expect(bounded({ url: SHARED_URL })).toBe(1000)
    expect(bounded({ url: SHARED_URL, commandTimeout: '250ms' })).toBe(250)
    const timed = new Redis(SHARED_URL, { lazyConnect: true, commandTimeout: 700 })
    const untimed = new Redis(SHARED_URL, { lazyConnect: true })
    try {
      // A client's own timeout is the one its commands keep; without one, the adapter's applies.
      expect(bounded({ client: timed })).toBe(700)
      expect(bounded({ client: untimed })).toBe(1000)
      expect(bounded({ client: untimed, commandTimeout: '300ms' })).toBe(300)
    } finally {
      timed.disconnect()
      untimed.disconnect()
    }
  })

  it('leaves a client it was given open, and takes its listeners back', async () => {
    prefix = randomPrefix()
    const client = new Redis(SHARED_URL, { enableOfflineQueue: false, commandTimeout: 1000 })
    const listeners = client.listenerCount('error')
    const borrowed = new RedisAdapter({ client })
    try {
      await untilStatus(borrowed, 'ready')
      await borrowed.set(key('borrowed'), bytes('v'), 10_000)
      expect(await client.get(key('borrowed'))).toBe('v')
      await borrowed.close()
      expect(client.status).toBe('ready')
      expect(client.listenerCount('error')).toBe(listeners)
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })

  it('describes its endpoint without the password', async () => {
    const a = new RedisAdapter({
      url: 'redis://app:hunter2@127.0.0.1:1/3',
      commandTimeout: 50,
      retryStrategy: () => null,
    })
    const b = new RedisAdapter({ host: '127.0.0.1', port: 1, password: 'hunter2', retryStrategy: () => null })
    try {
      expect(a.endpoint).toBe('redis://app:***@127.0.0.1:1/3')
      expect(b.endpoint).toBe('redis://:***@127.0.0.1:1/0')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('rejects URLs and options it cannot use, naming the option', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => new RedisAdapter({ url: 'http://127.0.0.1:6379' }), 'url'],
      [() => new RedisAdapter({ url: 'redis://127.0.0.1:6379/nine' }), 'url'],
      [
        () => new RedisAdapter({ url: SHARED_URL, cluster: ['127.0.0.1:7000'], client: {} as Redis }),
        'client',
      ],
      [() => new RedisAdapter({ sentinels: [{ host: '127.0.0.1' }] }), 'name'],
      [() => new RedisAdapter({ cluster: ['127.0.0.1:7000'], db: 2 }), 'db'],
      [() => new RedisAdapter({ url: SHARED_URL, batchSize: 0 }), 'batchSize'],
      [() => new RedisAdapter({ url: SHARED_URL, commandTimeout: 'soon' }), 'commandTimeout'],
    ]
    for (const [build, field] of cases) {
      const error = (() => {
        try {
          build()
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(error, field).toBeInstanceOf(CacheError)
      expect((error as CacheError).field, field).toBe(field)
      expect((error as CacheError).message, field).toContain(`"${field}"`)
    }
  })
})

describe('redisAdapterFactory', () => {
  it('builds an adapter from a registry entry: location plus options', async () => {
    prefix = randomPrefix()
    const built = redisAdapterFactory({
      cache: 'queries',
      location: SHARED_URL,
      options: { commandTimeout: '2s', connectTimeout: 5000, coalesceGets: false },
    }) as RedisAdapter
    try {
      expect(built).toBeInstanceOf(RedisAdapter)
      await built.set(key('factory'), bytes('v'), 10_000)
      expect(await raw.get(key('factory'))).toBe('v')
    } finally {
      await built.close()
    }
  })

  it('serves a registry: createCaches builds caches on it by name', async () => {
    prefix = randomPrefix()
    const keyPrefix = prefix.slice(0, prefix.indexOf(':'))
    const registry = createCaches(
      {
        queries: {
          adapter: 'redis',
          location: SHARED_URL,
          keyPrefix,
          ttl: '5m',
          options: { commandTimeout: '2s' },
        },
      },
      { adapters: { redis: redisAdapterFactory }, makeDefault: false },
    )
    try {
      await registry.get('queries').set('filter_counts:all', { ToDo: 3, Done: 1 })
      expect(await registry.get('queries').get('filter_counts:all')).toEqual({ ToDo: 3, Done: 1 })
      expect(await raw.exists(`${keyPrefix}:1:filter_counts:all`)).toBe(1)
    } finally {
      await registry.closeAll()
    }
  })

  it('names the cache and the option that is wrong, and where django-redis settings went', () => {
    const attempt = (options: Record<string, unknown>, location: string | undefined = SHARED_URL) => {
      try {
        redisAdapterFactory({ cache: 'queries', location, options })
      } catch (error) {
        return error as CacheError
      }
      throw new Error('expected the factory to reject')
    }
    const unknown = attempt({ comandTimeout: '1s' })
    expect(unknown.code).toBe(ErrorCodes.INVALID_CONFIG)
    expect(unknown.cache).toBe('queries')
    expect(unknown.field).toBe('comandTimeout')
    expect(unknown.message).toMatch(/^cache "queries": unknown redis adapter option "comandTimeout"/)

    const django = attempt({ SOCKET_TIMEOUT: 5 })
    expect(django.message).toContain('"commandTimeout"')
    expect(attempt({ CONNECTION_POOL_KWARGS: { max_connections: 50 } }).message).toContain(
      'multiplexes one connection',
    )

    const mistyped = attempt({ db: 'nine' })
    expect(mistyped.field).toBe('db')
    expect(mistyped.message).toBe(
      'cache "queries": redis adapter option "db" must be a database number, got "nine"',
    )

    const badUrl = attempt({}, 'redis://user:hunter2@127.0.0.1:6379/x')
    expect(badUrl.field).toBe('url')
    expect(badUrl.message).toMatch(/^cache "queries": /)
    expect(badUrl.message).not.toContain('hunter2')
  })
})
