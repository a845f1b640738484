import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InstanceProcess, startInstance } from '../src/cluster.js'
import { type ProcessFixture, startProcessFixture, unlinkPrefixes } from './app-processes.js'
import { type ApiClient, REDIS_URL, signIn, uniqueSuffix } from './helpers.js'
import { scanKeys } from './service-suite.js'

describe('two app processes on one Redis', () => {
  const suffix = uniqueSuffix()
  const prefixes = { default: `ea_platform_p${suffix}`, queries: `ea_queries_p${suffix}` }
  let fixture: ProcessFixture
  let redis: Redis
  let a: InstanceProcess | undefined
  let b: InstanceProcess | undefined
  let onA: ApiClient
  let onB: ApiClient

  beforeAll(async () => {
    fixture = await startProcessFixture(300)
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    const env = fixture.env(process.env, {
      LOG_LEVEL: 'warn',
      CACHE_BACKEND: 'redis',
      REDIS_URL,
      CACHE_DEFAULT_KEY_PREFIX: prefixes.default,
      CACHE_QUERIES_KEY_PREFIX: prefixes.queries,
    })
    const options = { startTimeoutMs: 80_000 }
    ;[a, b] = await Promise.all([startInstance('A', env, options), startInstance('B', env, options)])
    onA = await signIn(a.url, 'staff')
    onB = onA.at(b.url)
  }, 100_000)

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    if (redis) {
      await unlinkPrefixes(redis, prefixes)
      redis.disconnect()
    }
    await fixture?.stop()
  })

  const stats = async (client: ApiClient) => (await client.getJson('/api/cache/stats')).caches

  it('the second process hits the filter counts the first one wrote, under the same key', async () => {
    const first = await onA.getJson(`/api/items/counts?faculty=EEMCS&search=lecture`)
    const keys = await scanKeys(redis, `${prefixes.queries}:1:filter_counts:*`)
    expect(keys).toHaveLength(1)

    const second = await onB.getJson(`/api/items/counts?search=LECTURE&faculty=eemcs`)
    expect(second).toEqual(first)
    expect(await scanKeys(redis, `${prefixes.queries}:1:filter_counts:*`)).toEqual(keys)
    expect((await stats(onA)).queries.byPrefix.filter_counts).toMatchObject({ misses: 1, loads: 1 })
    expect((await stats(onB)).queries.byPrefix.filter_counts).toMatchObject({ hits: 1, misses: 0, loads: 0 })
  })

  it('an Osiris lookup made by one process is not repeated by the other', async () => {
    const course = await onA.getJson(`/api/osiris/courses/2025-202561006-1B`)
    expect(course.cursuscode).toBe('202561006')
    const served = fixture.sims.osiris.requests()
    expect(served).toBe(2)
    expect(await onB.getJson(`/api/osiris/courses/202561006`)).toEqual(course)
    expect(fixture.sims.osiris.requests()).toBe(served)
    expect((await stats(onB)).default.byPrefix.osiris_course).toMatchObject({ hits: 1, loads: 0 })
  })

  it('an edit in one process invalidates the counts the other one reads', async () => {
    const before = await onB.getJson(`/api/items/counts`)
    const { items } = await onA.getJson(`/api/items?status=ToDo&perPage=25`)
    const res = await onA.send('PATCH', `/api/items/${items[0].materialId}`, {
      workflowStatus: 'InProgress',
    })
    expect(res.status).toBe(200)
    const after = await onB.getJson(`/api/items/counts`)
    expect(after).toEqual({ ...before, ToDo: before.ToDo - 1, InProgress: before.InProgress + 1 })
  })
})
