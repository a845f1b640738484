import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { academicYearAt } from '../src/domain.js'
import { json, prepareDatabase, startTestApp, type TestApp, tempDir } from './helpers.js'

describe('configuration', () => {
  it('has the strategy table as defaults and the seed\u2019s two caches', () => {
    const config = loadConfig({})
    expect(config.ttl).toEqual({
      filterCounts: '5m',
      faculties: '10m',
      osirisCourse: '24h',
      osirisPastCourse: '7d',
      osirisPerson: '24h',
      fileExists: '1h',
      fileGone: '1h',
    })
    expect(config.cacheBackend).toBe('memory')
    expect(config.caches.default).toMatchObject({ adapter: 'memory', keyPrefix: 'ea_platform', version: 1 })
    expect(config.caches.queries).toMatchObject({ adapter: 'memory', keyPrefix: 'ea_queries', ttl: '5m' })
  })

  it('takes TTL overrides from the environment', () => {
    const config = loadConfig({
      CACHE_TTL_FILTER_COUNTS: '15m',
      CACHE_TTL_OSIRIS_PERSON: '7d',
      CACHE_TTL_OSIRIS_PAST_COURSE: '30d',
      CACHE_TTL_FILE_GONE: '10m',
    })
    expect(config.ttl.filterCounts).toBe('15m')
    expect(config.caches.queries?.ttl).toBe('15m')
    expect(config.ttl.osirisPerson).toBe('7d')
    expect(config.ttl.osirisPastCourse).toBe('30d')
    expect(config.ttl.fileGone).toBe('10m')
  })

  it('counts academic years from 1 September, as Osiris does', () => {
    expect(academicYearAt(Date.parse('2026-08-31T23:59:59Z'))).toBe(2025)
    expect(academicYearAt(Date.parse('2026-09-01T00:00:00Z'))).toBe(2026)
    expect(academicYearAt(Date.parse('2027-03-15T12:00:00Z'))).toBe(2026)
  })

  it.each([
    [
      { CACHE_BACKEND: 'memcached' },
      'CACHE_BACKEND',
      /must be one of memory, redis, tiered, noop, got "memcached"/,
    ],
    [{ CACHE_BACKEND: 'tiered' }, 'REDIS_URL', /must be set with CACHE_BACKEND=tiered/],
    [{ CACHE_GRACE_OSIRIS_COURSE: 'a day' }, 'CACHE_GRACE_OSIRIS_COURSE', /must be a duration/],
    [{ CACHE_L1_MAX_ENTRIES: '0' }, 'CACHE_L1_MAX_ENTRIES', /whole number from 1/],
    [{ INSTANCE_NAME: 'a b' }, 'INSTANCE_NAME', /letters, digits/],
    [{ CACHE_TTL_FILTER_COUNTS: 'five minutes' }, 'CACHE_TTL_FILTER_COUNTS', /must be a duration/],
    [{ USE_CACHE: 'maybe' }, 'USE_CACHE', /must be true or false/],
    [{ PORT: '70000' }, 'PORT', /whole number from 0 to 65535/],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL', /must be a redis: or rediss: URL/],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL', /postgres:\/\/ URL or the path/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /must be one of/],
  ])('rejects %o with an error naming %s', (env, variable, message) => {
    let error: unknown
    try {
      loadConfig(env)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ name: 'CacheError', code: 'E_INVALID_CONFIG', field: variable })
    expect((error as Error).message).toContain(variable)
    expect((error as Error).message).toMatch(message)
  })

  it('tiered: both caches are memory in front of Redis, on the one REDIS_URL', () => {
    const config = loadConfig({ CACHE_BACKEND: 'tiered', REDIS_URL: 'redis://cache.internal:6380/2' })
    expect(config.cacheBackend).toBe('tiered')
    for (const name of ['default', 'queries']) {
      expect(config.caches[name]).toMatchObject({
        adapter: 'redis',
        location: 'redis://cache.internal:6380/2',
        l1: { adapter: 'memory', options: { maxEntries: 10_000 } },
      })
    }
    // The core's per-cache variables still apply on top, e.g. a cache without its in-process tier.
    const overridden = loadConfig({
      CACHE_BACKEND: 'tiered',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CACHE_DEFAULT_L1: 'none',
      CACHE_L1_MAX_ENTRIES: '500',
      CACHE_QUERIES_STALE_WHILE_REVALIDATE: '30s',
    })
    expect(overridden.caches.default?.l1).toBeUndefined()
    expect(overridden.caches.queries).toMatchObject({
      l1: { adapter: 'memory', options: { maxEntries: 500 } },
      staleWhileRevalidate: '30s',
    })
  })

  it('has grace periods for the upstream answers only, each configurable', () => {
    expect(loadConfig({}).grace).toEqual({ osirisCourse: '24h', osirisPerson: '7d', fileExists: '6h' })
    const config = loadConfig({ CACHE_GRACE_OSIRIS_COURSE: '3d', CACHE_GRACE_FILE_EXISTS: '0' })
    expect(config.grace).toEqual({ osirisCourse: '3d', osirisPerson: '7d', fileExists: 0 })
  })

  it('never prints a Redis password in an error', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://user:s3cret@host' })).toThrow(/user:\*\*\*@host/)
    expect(() => loadConfig({ REDIS_URL: 'http://user:s3cret@host' })).not.toThrow(/s3cret/)
  })
})

describe('HTTP API', () => {
  let t: TestApp
  let dir: ReturnType<typeof tempDir>
  const get = (path: string) => t.api.fetch(path)

  beforeAll(async () => {
    dir = tempDir()
    const url = join(dir.path, 'api.sqlite')
    await prepareDatabase(url, 300)
    t = await startTestApp(url)
  })
  afterAll(async () => {
    await t?.stop()
    dir?.remove()
  })

  it('lists items newest first with counts, filtered by status, faculty and search', async () => {
    const res = await get('/api/items?status=ToDo&faculty=EEMCS&perPage=50')
    expect(res.status).toBe(200)
    const page = await json(res)
    expect(page.perPage).toBe(50)
    expect(page.total).toBe(page.counts.ToDo)
    expect(page.items.length).toBe(Math.min(50, page.total))
    for (const item of page.items) expect(item).toMatchObject({ workflowStatus: 'ToDo', faculty: 'EEMCS' })
    const dates = page.items.map((i: { modifiedAt: string }) => i.modifiedAt)
    expect(dates).toEqual([...dates].sort().reverse())

    const search = await json(await get('/api/items?search=READER'))
    expect(search.total).toBeGreaterThan(0)
    for (const item of search.items) {
      const haystack = [item.title, item.filename, item.courseCode, item.department, item.remarks].join(' ')
      expect(haystack.toLowerCase()).toContain('reader')
    }
  })

  it('treats % and _ in a search as plain characters', async () => {
    const page = await json(await get(`/api/items?search=${encodeURIComponent('%_')}`))
    expect(page.total).toBe(0)
  })

  it.each([
    ['/api/items?status=Pending', 'status', 'status must be equal to one of the allowed values'],
    ['/api/items?page=0', 'page', 'page must be >= 1'],
    [
      '/api/items?perPage=1000',
      'perPage',
      'perPage must be equal to one of the allowed values (25, 50, 100)',
    ],
    ['/api/items?sort=password', 'sort', 'sort must be equal to one of the allowed values'],
    ['/api/items/12ab', 'materialId', 'material id must be a positive whole number, got "12ab"'],
    ['/api/canvas/items/abc/file-exists', 'materialId', 'material id must be a positive whole number'],
    ['/api/osiris/people', 'name', "must have required property 'name'"],
    ['/api/osiris/courses/hello', 'courseCode', 'course code must look like 2025-202500095-1B'],
  ])('%s is a 400 naming %s', async (path, field, message) => {
    const res = await get(path)
    expect(res.status).toBe(400)
    const body = await json(res)
    expect(body.field).toBe(field)
    expect(body.message).toContain(message)
  })

  it('PATCH validates the body and leaves the item unchanged on bad input', async () => {
    const { items } = await json(await get('/api/items?perPage=25'))
    const target = items[0]
    const patch = (body: unknown) =>
      t.api.fetch(`/api/items/${target.materialId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const bad = await patch({ workflowStatus: 'Done', v2Lengte: 'Enormous' })
    expect(bad.status).toBe(400)
    expect(await json(bad)).toMatchObject({ field: 'v2Lengte' })
    const unknown = await patch({ faculty: 'ET' })
    expect(unknown.status).toBe(400)
    expect(await json(unknown)).toMatchObject({ field: 'faculty' })
    expect((await json(await get(`/api/items/${target.materialId}`))).workflowStatus).toBe(
      target.workflowStatus,
    )

    const ok = await patch({ workflowStatus: 'InProgress', remarks: 'asked the teacher', v2Lengte: 'Kort' })
    expect(ok.status).toBe(200)
    expect(await json(ok)).toMatchObject({
      workflowStatus: 'InProgress',
      remarks: 'asked the teacher',
      v2Lengte: 'Kort',
    })
    const missing = await t.api.fetch(`/api/items/1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ remarks: 'x' }),
    })
    expect(missing.status).toBe(404)
  })

  it('answers 404 for courses and people the upstreams do not know, and 502 when they fail', async () => {
    expect((await get('/api/osiris/courses/2025-999999998-1A')).status).toBe(404)
    expect((await get('/api/osiris/people?name=Nobody%20Known')).status).toBe(404)
    t.sims.osiris.force('/cursussen/zoeken', 500)
    const failed = await get('/api/osiris/courses/2025-999999997-1A')
    t.sims.osiris.clearForced()
    expect(failed.status).toBe(502)
    expect(await json(failed)).toMatchObject({
      error: 'E_UPSTREAM',
      message: expect.stringContaining('500'),
    })
  })

  it('checks a batch of files and records the results on the items', async () => {
    const { items } = await json(await get('/api/items?perPage=25&sort=materialId&order=asc'))
    const ids = items.map((i: { materialId: number }) => i.materialId)
    const res = await t.api.fetch(`/api/canvas/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ materialIds: [...ids, 424242] }),
    })
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body).toMatchObject({ checked: 25, errors: 0, unknownIds: [424242] })
    expect(body.exists + body.missing).toBe(25)
    const after = await json(await get('/api/items?perPage=25&sort=materialId&order=asc'))
    for (const item of after.items) expect(item.fileExists).not.toBeNull()
    const bad = await t.api.fetch(`/api/canvas/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ materialIds: ['x'] }),
    })
    expect(bad.status).toBe(400)
  })

  it('reports cache stats per cache, clears one cache, and 404s an unknown one', async () => {
    await get('/api/items/counts')
    await get('/api/items/counts')
    const { caches } = await json(await get('/api/cache/stats'))
    expect(Object.keys(caches)).toEqual(['default', 'queries'])
    expect(caches.queries.byPrefix.filter_counts.hits).toBeGreaterThan(0)
    const cleared = await t.api.fetch(`/api/cache/queries/clear`, { method: 'POST' })
    expect(await json(cleared)).toEqual({ cleared: 'queries' })
    const misses = (await json(await get('/api/cache/stats'))).caches.queries.misses
    await get('/api/items/counts')
    expect((await json(await get('/api/cache/stats'))).caches.queries.misses).toBe(misses + 1)
    expect((await t.api.fetch(`/api/cache/nope/clear`, { method: 'POST' })).status).toBe(404)
  })

  it('says where an Osiris answer came from and how old it is', async () => {
    const lookup = async (type: string, q: string) =>
      json(await get(`/api/osiris/lookup?type=${type}&q=${encodeURIComponent(q)}`))
    const first = await lookup('course', '2025-202561006-1B')
    expect(first).toMatchObject({ type: 'course', source: 'upstream', ageSeconds: 0 })
    expect(first.result).toMatchObject({ cursuscode: '202561006', fetchedAt: first.fetchedAt })
    const again = await lookup('course', '202561006')
    expect(again).toMatchObject({ source: 'memory', fetchedAt: first.fetchedAt, result: first.result })
    t.sims.osiris.force('/cursussen/zoeken', 500)
    try {
      const unknown = await get('/api/osiris/lookup?type=course&q=2025-202561007-1B')
      expect(unknown.status).toBe(502)
    } finally {
      t.sims.osiris.clearForced()
    }
    expect(await lookup('person', 'Nobody Else')).toMatchObject({
      source: 'upstream',
      result: null,
      ageSeconds: null,
    })
    expect((await get('/api/osiris/lookup?type=faculty&q=xx')).status).toBe(400)
  })

  it('reports the hit rate over time and the latency of cached and uncached counts', async () => {
    await t.api.fetch('/api/cache/queries/clear', { method: 'POST' })
    const before = (await json(await get('/api/cache/stats'))).countsLatency
    await get('/api/items/counts?faculty=BMS')
    await get('/api/items/counts?faculty=BMS')
    await get('/api/items/counts?faculty=BMS')
    const stats = await json(await get('/api/cache/stats'))
    expect(stats.countsLatency.uncached.count).toBe(before.uncached.count + 1)
    expect(stats.countsLatency.cached.count).toBe(before.cached.count + 2)
    expect(stats.countsLatency.cached.avgMs).toBeGreaterThanOrEqual(0)
    const now = stats.history.at(-1)
    expect(now.caches.queries.hits).toBeGreaterThanOrEqual(2)
    expect(now.caches.queries.hitRate).toBeGreaterThan(0)
    expect(now.caches.queries.hitRate).toBeLessThanOrEqual(1)
  })

  it('reports health of the database and each cache', async () => {
    const res = await get('/health')
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({
      status: 'ok',
      instance: null,
      database: { status: 'up', dialect: 'sqlite' },
      caches: {
        default: { adapter: 'memory', status: 'ready', l1Hits: 0, staleHits: 0 },
        queries: { adapter: 'memory', status: 'ready', l1Hits: 0, staleHits: 0 },
      },
    })
  })

  it('renders the dashboard with tabs, counts, faculties, the table, upload form and cache panel', async () => {
    const res = await get('/?status=Done&faculty=ET')
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await res.text()
    const counts = await json(await get('/api/items/counts?faculty=ET'))
    for (const status of ['All', 'ToDo', 'InProgress', 'Done']) {
      expect(html).toContain(`data-testid="count-${status}">${counts[status].toLocaleString('en')}<`)
    }
    expect(html).toContain('data-testid="tab-Done" aria-selected="true"')
    expect(html).toContain('<option value="ET" selected>')
    expect(html).toContain('data-testid="upload-form"')
    expect(html).toContain('data-testid="cache-queries"')
    expect((await get('/?perPage=7')).status).toBe(400)
  })
})
