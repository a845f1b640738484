import { memoryAdapter } from '@cacheport/adapter-memory'
import { createCache } from '@cacheport/cache-core'
import { Redis as Redis5 } from 'ioredis5'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { watchdogWorks } from '../src/reply-watchdog.js'
import { IOREDIS_MAJOR } from './helpers/ioredis-major.js'
import { randomPrefix, SHARED_URL, untilStatus } from './helpers/shared.js'

describe('the reply watchdog', () => {
  // It subclasses ioredis' internal Command; a runtime check decides whether it can.
  it(`is used with ioredis ${IOREDIS_MAJOR} exactly when its Command supports it`, () => {
    expect(watchdogWorks()).toBe(IOREDIS_MAJOR >= 6)
  })
})

// An application on ioredis 5 hands the adapter its own client, while the adapter itself resolves
// whichever ioredis the test run uses (6, or 5 in the second run of `pnpm test`). Compiling this
// file is the type test: `client` must accept a client of either major (TS2322 before).
describe('a client of ioredis 5, passed in', () => {
  let client: Redis5
  let adapter: RedisAdapter
  beforeAll(async () => {
    client = new Redis5(SHARED_URL, { commandTimeout: 1000, enableOfflineQueue: false })
    adapter = redisAdapter({ client })
    await untilStatus(adapter, 'ready')
  })
  afterAll(async () => {
    await adapter.close()
    await client.quit()
  })

  it('reads, writes, deletes by pattern and publishes through it', async () => {
    const prefix = randomPrefix()
    const bytes = new TextEncoder().encode('v')
    await adapter.set(`${prefix}a`, bytes, 10_000)
    await adapter.setMany([{ key: `${prefix}b`, value: bytes, ttlMs: 10_000 }])
    // A lone get, then gets of one tick (coalesced into one MGET), then a batch.
    expect(await adapter.get(`${prefix}a`)).toEqual(Buffer.from('v'))
    const [a, b, missing] = await Promise.all([
      adapter.get(`${prefix}a`),
      adapter.get(`${prefix}b`),
      adapter.get(`${prefix}c`),
    ])
    expect([a, b, missing]).toEqual([Buffer.from('v'), Buffer.from('v'), undefined])
    expect(await adapter.getMany([`${prefix}a`, `${prefix}c`])).toEqual([Buffer.from('v'), undefined])
    expect(await adapter.setIfAbsent(`${prefix}lease`, bytes, 10_000)).toBe(true)
    expect(await adapter.deleteIfEquals(`${prefix}lease`, bytes)).toBe(true)
    expect(await adapter.deleteByPattern(`${prefix}*`)).toBe(2)
    await adapter.publish(`${prefix}channel`, 'm')
  })

  it('backs a tiered cache with its invalidation bus', async () => {
    const cache = createCache({ adapter, l1: memoryAdapter(), keyPrefix: randomPrefix().slice(0, -3) })
    await cache.ready()
    await cache.set('k', { n: 1 })
    expect(await cache.get('k')).toEqual({ n: 1 })
    expect(cache.stats()).toMatchObject({ circuit: 'closed', errors: 0 })
  })

  it('keeps the command timeout of the client', () => {
    expect(adapter.capabilities.operationTimeoutMs).toBe(1000)
  })
})
