import { randomUUID } from 'node:crypto'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { createCache } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { bytes, SHARED_URL, untilStatus } from './helpers/shared.js'

// Another application on the same Redis, writing lists, hashes and sets where the cache keeps entries.
let neighbour: Redis
beforeAll(() => {
  neighbour = new Redis(SHARED_URL)
})
afterAll(async () => {
  await neighbour.quit()
})

/** A key prefix of its own, and a cleanup of every key under it. */
function scope(): { prefix: string; cleanup: () => Promise<void> } {
  const prefix = `ft${randomUUID().slice(0, 8)}`
  return {
    prefix,
    cleanup: async () => {
      const keys = await neighbour.keys(`${prefix}:*`)
      if (keys.length > 0) await neighbour.unlink(keys)
    },
  }
}

// Each way a single GET can travel: the adapter's own command with a shared timer, a client of the
// caller's without a command timeout (the adapter bounds each call), and auto-pipelining.
const clients: Array<[string, () => RedisAdapter]> = [
  ['a connection of its own', () => redisAdapter(SHARED_URL)],
  ['a client without a command timeout', () => redisAdapter({ client: new Redis(SHARED_URL) })],
  ['an auto-pipelining connection', () => redisAdapter({ url: SHARED_URL, autoPipelining: true })],
]

describe.each(clients)('a key of another Redis type, over %s', (_, build) => {
  let adapter: RedisAdapter
  beforeAll(async () => {
    adapter = build()
    await untilStatus(adapter, 'ready')
  })
  afterAll(async () => {
    const owned = adapter.client
    await adapter.close()
    if (owned.status !== 'end') owned.disconnect()
  })

  it.each([
    ['a list', (key: string) => neighbour.rpush(key, 'a')],
    ['a hash', (key: string) => neighbour.hset(key, 'f', 'v')],
    ['a set', (key: string) => neighbour.sadd(key, 'm')],
  ])('%s is a miss for that key alone; the breaker stays closed', async (_, plant) => {
    const { prefix, cleanup } = scope()
    const cache = createCache({ adapter, keyPrefix: prefix })
    try {
      await cache.set('good', 42)
      await plant(cache.fullKey('foreign'))
      for (let i = 0; i < 10; i++) expect(await cache.get('foreign')).toBeUndefined()
      expect(await cache.get('good')).toBe(42)
      expect(cache.stats()).toMatchObject({ circuit: 'closed', errors: 0, undecodable: 10 })
    } finally {
      // The cache is left open: closing it would close the adapter the other tests share.
      await cleanup()
    }
  })
})

describe('a key of another Redis type', () => {
  let adapter: RedisAdapter
  beforeAll(async () => {
    adapter = redisAdapter(SHARED_URL)
    await untilStatus(adapter, 'ready')
  })
  afterAll(() => adapter.close())

  it('compare-and-delete of a foreign key removes nothing and does not fail', async () => {
    const { prefix, cleanup } = scope()
    const key = `${prefix}:lease`
    try {
      await neighbour.rpush(key, 'token')
      await expect(adapter.deleteIfEquals(key, bytes('token'))).resolves.toBe(false)
      expect(await neighbour.type(key)).toBe('list')
    } finally {
      await cleanup()
    }
  })

  it('a tiered cache reads it as a miss and keeps its L1 and its breaker', async () => {
    const { prefix, cleanup } = scope()
    const cache = createCache({ adapter, l1: memoryAdapter(), keyPrefix: prefix })
    try {
      await cache.set('good', 'kept')
      await neighbour.rpush(cache.fullKey('foreign'), 'a')
      for (let i = 0; i < 10; i++) expect(await cache.get('foreign')).toBeUndefined()
      expect(await cache.get('good')).toBe('kept')
      expect(cache.stats()).toMatchObject({ circuit: 'closed', errors: 0, undecodable: 10 })
    } finally {
      // The cache is left open: closing it would close the adapter the other tests share.
      await cleanup()
    }
  })
})
