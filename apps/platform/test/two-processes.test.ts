import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InstanceProcess, startInstance } from '../src/cluster.js'
import { type Simulators, startSimulators } from '../src/simulators/index.js'
import { json, prepareDatabase, REDIS_URL, TEST_TOKEN, tempDir, uniqueSuffix } from './helpers.js'
import { scanKeys } from './service-suite.js'

describe('two app processes on one Redis', () => {
  const suffix = uniqueSuffix()
  const prefixes = { default: `ea_platform_p${suffix}`, queries: `ea_queries_p${suffix}` }
  let dir: ReturnType<typeof tempDir>
  let sims: Simulators
  let redis: Redis
  let a: InstanceProcess | undefined
  let b: InstanceProcess | undefined

  beforeAll(async () => {
    dir = tempDir()
    const databaseUrl = join(dir.path, 'shared.sqlite')
    await prepareDatabase(databaseUrl, 300)
    sims = await startSimulators(TEST_TOKEN, { latencyMs: 0 })
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    const env = {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      CACHE_BACKEND: 'redis',
      REDIS_URL,
      CACHE_DEFAULT_KEY_PREFIX: prefixes.default,
      CACHE_QUERIES_KEY_PREFIX: prefixes.queries,
      OSIRIS_BASE_URL: sims.osiris.url,
      PEOPLE_BASE_URL: sims.people.url,
      CANVAS_API_URL: sims.canvas.url,
      CANVAS_API_TOKEN: TEST_TOKEN,
    }
    ;[a, b] = await Promise.all([startInstance('A', env), startInstance('B', env)])
  }, 40_000)

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    if (redis) {
      for (const prefix of Object.values(prefixes)) {
        const keys = await scanKeys(redis, `${prefix}:*`)
        if (keys.length > 0) await redis.unlink(...keys)
      }
      redis.disconnect()
    }
    await sims?.stop()
    dir?.remove()
  })

  const stats = async (app: InstanceProcess) => (await json(await fetch(`${app.url}/api/cache/stats`))).caches

  it('the second process hits the filter counts the first one wrote, under the same key', async () => {
    const first = await json(await fetch(`${a!.url}/api/items/counts?faculty=EEMCS&search=lecture`))
    const keys = await scanKeys(redis, `${prefixes.queries}:1:filter_counts:*`)
    expect(keys).toHaveLength(1)

    const second = await json(await fetch(`${b!.url}/api/items/counts?search=LECTURE&faculty=eemcs`))
    expect(second).toEqual(first)
    expect(await scanKeys(redis, `${prefixes.queries}:1:filter_counts:*`)).toEqual(keys)
    expect((await stats(a!)).queries.byPrefix.filter_counts).toMatchObject({ misses: 1, loads: 1 })
    expect((await stats(b!)).queries.byPrefix.filter_counts).toMatchObject({ hits: 1, misses: 0, loads: 0 })
  })

  it('an Osiris lookup made by one process is not repeated by the other', async () => {
    const course = await json(await fetch(`${a!.url}/api/osiris/courses/2025-202561006-1B`))
    expect(course.cursuscode).toBe('202561006')
    const served = sims.osiris.requests()
    expect(served).toBe(2)
    expect(await json(await fetch(`${b!.url}/api/osiris/courses/202561006`))).toEqual(course)
    expect(sims.osiris.requests()).toBe(served)
    expect((await stats(b!)).default.byPrefix.osiris_course).toMatchObject({ hits: 1, loads: 0 })
  })

  it('an edit in one process invalidates the counts the other one reads', async () => {
    const before = await json(await fetch(`${b!.url}/api/items/counts`))
    const { items } = await json(await fetch(`${a!.url}/api/items?status=ToDo&perPage=25`))
    const res = await fetch(`${a!.url}/api/items/${items[0].material_id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow_status: 'InProgress' }),
    })
    expect(res.status).toBe(200)
    const after = await json(await fetch(`${b!.url}/api/items/counts`))
    expect(after).toEqual({ ...before, ToDo: before.ToDo - 1, InProgress: before.InProgress + 1 })
  })
})
