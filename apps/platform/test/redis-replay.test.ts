import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prepareDatabase, startTestApp, type TestApp, tempDir } from './helpers.js'
import { type RedisServer, startRedisServer } from './redis-server.js'

type Counts = Record<'All' | 'ToDo' | 'InProgress' | 'Done', number>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Issue 14, item 4: an edit while Redis is down must not leave the counts wrong once Redis returns
 * with its data. Redis persists every write (AOF, fsync always) and comes back on the same port with
 * the same folder, so the counts cached before the outage are there again: only the core's replay of
 * the failed invalidation keeps them from being served.
 */
describe('an edit during a Redis outage, Redis back with its data', () => {
  let t: TestApp
  let redis: RedisServer
  let port: number
  const dataDir = tempDir()
  const dbDir = tempDir()
  const persistence = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir.path]

  beforeAll(async () => {
    redis = await startRedisServer({ args: persistence })
    port = redis.port
    const url = join(dbDir.path, 'replay.sqlite')
    await prepareDatabase(url, 200)
    t = await startTestApp(url, { CACHE_BACKEND: 'redis', REDIS_URL: redis.url })
  }, 30_000)

  afterAll(async () => {
    await t?.stop()
    await redis?.kill()
    dataDir.remove()
    dbDir.remove()
  })

  const counts = (): Promise<Counts> => t.api.getJson('/api/items/counts')
  const queriesStats = async () => (await t.api.getJson('/api/cache/stats')).caches.queries
  /** Polls the queries cache's stats until `done` holds, for 10 s at most. */
  async function statsWhen(done: (stats: any) => boolean): Promise<any> {
    let stats = await queriesStats()
    for (let waited = 0; !done(stats) && waited < 10_000; waited += 50) {
      await sleep(50)
      stats = await queriesStats()
    }
    return stats
  }
  /** The keys of the counts in the test's Redis, asked directly. */
  async function countKeys(): Promise<string[]> {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 })
    try {
      await client.connect()
      return await client.keys(`${t.prefixes.queries}*filter_counts*`)
    } finally {
      client.disconnect()
    }
  }

  it('serves the new counts on the next read, and the backlog drains', async () => {
    const before = await counts()
    expect(await counts()).toEqual(before)
    expect((await queriesStats()).byPrefix.filter_counts).toMatchObject({ hits: 1, loads: 1 })
    expect(await countKeys()).not.toEqual([])

    await redis.shutdown()

    const { items } = await t.api.getJson('/api/items?status=ToDo&perPage=25')
    const res = await t.api.send('PATCH', `/api/items/${items[0].materialId}`, {
      workflowStatus: 'InProgress',
    })
    expect(res.status).toBe(200)
    const expected: Counts = { ...before, ToDo: before.ToDo - 1, InProgress: before.InProgress + 1 }
    // The store could not take the invalidation: the core keeps it for replay.
    expect((await queriesStats()).invalidationBacklog).toBeGreaterThan(0)

    // Same port and folder: the app's client reconnects by itself, and Redis loads its AOF.
    redis = await startRedisServer({ port, args: persistence })
    // Redis is back with the counts from before the edit: without the replay they would be served.
    expect(await countKeys()).not.toEqual([])
    expect(await statsWhen((s) => s.status === 'ready')).toMatchObject({ status: 'ready' })

    const next = await counts()
    expect(next).not.toEqual(before)
    expect(next).toEqual(expected)
    expect(await statsWhen((s) => s.invalidationBacklog === 0)).toMatchObject({ invalidationBacklog: 0 })

    // Replayed and cached again: the next read is a hit in Redis, with the new counts.
    expect(await counts()).toEqual(expected)
    const cached = (await queriesStats()).byPrefix.filter_counts
    expect(await counts()).toEqual(expected)
    expect((await queriesStats()).byPrefix.filter_counts).toMatchObject({
      hits: cached.hits + 1,
      loads: cached.loads,
    })
  }, 30_000)
})
