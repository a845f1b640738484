import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseServerMemory, type RedisAdapter, redisAdapter } from '../src/index.js'
import { ServerMemorySampler } from '../src/server-memory.js'
import { type RedisProcess, startRedis } from './helpers/redis-server.js'
import { untilStatus } from './helpers/shared.js'

// A redis-server of this file's own: its memory limit and policy are changed on purpose.
let server: RedisProcess
let admin: Redis
let adapter: RedisAdapter

beforeAll(async () => {
  server = await startRedis()
  admin = new Redis(server.url, { maxRetriesPerRequest: 0 })
  adapter = redisAdapter({ url: server.url, commandTimeout: 500 })
  await untilStatus(adapter, 'ready')
})

afterAll(async () => {
  await adapter?.close()
  admin?.disconnect()
  await server?.stop()
})

async function infoCalls(): Promise<number> {
  const stats = await admin.info('commandstats')
  return Number(/cmdstat_info:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

describe('serverMemory', () => {
  it('reports used memory, an unset limit and the default policy of a fresh server', async () => {
    const memory = await adapter.serverMemory()
    expect(memory).toMatchObject({ maxBytes: 0, policy: 'noeviction', evictedKeys: 0 })
    expect(memory!.usedBytes).toBeGreaterThan(100_000)
    expect(Math.abs(memory!.sampledAt - Date.now())).toBeLessThan(5_000)
  })

  it('samples: many reads within the interval cost the server one INFO', async () => {
    const fresh = redisAdapter({ url: server.url, commandTimeout: 500 })
    try {
      await untilStatus(fresh, 'ready')
      const before = await infoCalls()
      const answers = await Promise.all(Array.from({ length: 20 }, () => fresh.serverMemory()))
      await fresh.serverMemory()
      // admin's own INFO above and below is the other difference.
      expect((await infoCalls()) - before).toBe(2)
      expect(new Set(answers.map((a) => a!.sampledAt)).size).toBe(1)
    } finally {
      await fresh.close()
    }
  })

  it('sees a limit, an evicting policy and the keys evicted under it', async () => {
    await admin.config('SET', 'maxmemory', '4mb')
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    try {
      const value = 'x'.repeat(10_000)
      for (let i = 0; i < 1_000; i++) await admin.set(`evict:${i}`, value)
      const sampler = new ServerMemorySampler(admin, 500, 0)
      const memory = await sampler.sample()
      expect(memory).toMatchObject({ maxBytes: 4 * 1024 * 1024, policy: 'allkeys-lru' })
      expect(memory!.evictedKeys).toBeGreaterThan(0)
    } finally {
      await admin.config('SET', 'maxmemory', '0')
      await admin.config('SET', 'maxmemory-policy', 'noeviction')
      await admin.flushall()
    }
  })

  it('answers undefined, not an old sample, while the server is frozen', async () => {
    const sampler = new ServerMemorySampler(admin, 200, 0)
    expect(await sampler.sample()).toBeDefined()
    server.signal('SIGSTOP')
    try {
      const started = Date.now()
      expect(await sampler.sample()).toBeUndefined()
      expect(Date.now() - started).toBeLessThan(1_000)
    } finally {
      server.signal('SIGCONT')
    }
  })

  it('answers undefined once the adapter is closed', async () => {
    const closed = redisAdapter({ url: server.url })
    await closed.close()
    expect(await closed.serverMemory()).toBeUndefined()
  })
})

describe('parseServerMemory', () => {
  it('reads the four fields from INFO text and ignores the rest', () => {
    const text =
      '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\nmaxmemory_policy:volatile-lru\r\n\r\n# Stats\r\nevicted_keys:7\r\n'
    expect(parseServerMemory(text, 1)).toEqual({
      usedBytes: 1_048_576,
      maxBytes: 0,
      policy: 'volatile-lru',
      evictedKeys: 7,
      sampledAt: 1,
    })
    expect(parseServerMemory('# Server\r\nredis_version:7.0.0\r\n', 1)).toBeUndefined()
  })
})
