import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InstanceProcess, startInstance } from '../src/cluster.js'
import { openDatabase } from '../src/db/connection.js'
import { type ProcessFixture, startProcessFixture, unlinkPrefixes } from './app-processes.js'
import { type ApiClient, json, qlikCsv, REDIS_URL, signIn, uniqueSuffix } from './helpers.js'
import { type RedisServer, startRedisServer } from './redis-server.js'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
/** How soon an edit on one instance must show in another instance's counts. */
const COHERENCE_BOUND_MS = 500

type Counts = Record<'All' | 'ToDo' | 'InProgress' | 'Done', number>

/** The signed-in session of the running describe block (set in its beforeAll); instances share its key. */
let session: ApiClient
/** `fetch` of a full URL with the session. */
const authed = (url: string, init?: RequestInit) => {
  const { origin, pathname, search } = new URL(url)
  return session.at(origin).fetch(pathname + search, init)
}
const getJson = async (url: string) => {
  const res = await authed(url)
  expect(res.status, url).toBe(200)
  return json(res)
}
const counts = (base: string, query = ''): Promise<Counts> => getJson(`${base}/api/items/counts${query}`)
const stats = async (base: string) => (await getJson(`${base}/api/cache/stats`)).caches
const patch = (base: string, id: number, body: object) =>
  session.at(base).send('PATCH', `/api/items/${id}`, body)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `read` until `done` holds (or `limitMs` passes); resolves with the last value and the time taken. */
async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  limitMs = 2_000,
): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  for (;;) {
    const value = await read()
    const ms = performance.now() - started
    if (done(value) || ms > limitMs) return { value, ms }
    await sleep(5)
  }
}

/** The test's env for app processes: the test runner's own, minus what would steer the app elsewhere. */
function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('CACHE_')) delete env[name]
  delete env.USE_CACHE
  delete env.INSTANCE_NAME
  return env
}

describe('demo --instances 2: tiered instances over one Redis and one database', () => {
  const suffix = uniqueSuffix()
  const prefixes = { default: `ea_platform_c${suffix}`, queries: `ea_queries_c${suffix}` }
  let fixture: ProcessFixture
  let redis: Redis
  let demo: ChildProcess | undefined
  let demoExit: Promise<number | null>
  let output = ''
  let a: string
  let b: string
  let printedItem: number

  beforeAll(async () => {
    fixture = await startProcessFixture(300)
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    // The demo as a user starts it; only the upstreams are the test's, so it can fail them on purpose.
    demo = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', '--instances', '2'], {
      cwd: APP_DIR,
      env: fixture.env(baseEnv(), {
        LOG_LEVEL: 'warn',
        REDIS_URL,
        CACHE_DEFAULT_KEY_PREFIX: prefixes.default,
        CACHE_QUERIES_KEY_PREFIX: prefixes.queries,
        // The course it looks up is of a past academic year, which has a TTL of its own.
        CACHE_TTL_OSIRIS_COURSE: '300ms',
        CACHE_TTL_OSIRIS_PAST_COURSE: '300ms',
        SIMULATOR_LATENCY_MS: '0',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    demoExit = new Promise((resolve) => demo!.once('close', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${output}`)), 80_000)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ctrl-C stops every instance')) {
          clearTimeout(timer)
          resolve()
        }
      }
      demo!.stdout!.on('data', onData)
      demo!.stderr!.on('data', onData)
      void demoExit.then((code) => {
        clearTimeout(timer)
        reject(new Error(`the demo exited with ${code}:\n${output}`))
      })
    })
    a = /^ {2}A {2}(http:\/\/\S+)$/m.exec(output)![1]!
    b = /^ {2}B {2}(http:\/\/\S+)$/m.exec(output)![1]!
    printedItem = Number(/PATCH \S+\/api\/items\/(\d+) /.exec(output)![1])
    // The credentials the demo prints: what a user signs in with.
    const password = /^ {2}admin +(\S+) /m.exec(output)![1]!
    session = await signIn(a, { username: 'admin', password })
  }, 100_000)

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGINT')
      await demoExit
    }
    if (redis) {
      await unlinkPrefixes(redis, prefixes)
      redis.disconnect()
    }
    await fixture?.stop()
  })

  it('prints two instances on two ports, both tiered, named in /health', async () => {
    expect(a).not.toBe(b)
    expect(output).toContain('memory (L1, per instance) in front of Redis (L2, shared)')
    for (const [name, url] of [
      ['A', a],
      ['B', b],
    ] as const) {
      // Right after start a Redis connection may still be opening ("connecting", so "degraded").
      let health = await getJson(`${url}/health`)
      for (let tries = 0; health.status !== 'ok' && tries < 50; tries++) {
        await sleep(100)
        health = await getJson(`${url}/health`)
      }
      expect(health).toMatchObject({
        status: 'ok',
        instance: name,
        caches: {
          default: { adapter: 'memory+redis', status: 'ready' },
          queries: { adapter: 'memory+redis', status: 'ready' },
        },
      })
    }
  })

  it('both instances read the counts once from the shared tier, then from their own L1', async () => {
    const first = await counts(a)
    expect(await counts(a)).toEqual(first)
    expect(await counts(b)).toEqual(first)
    expect(await counts(b)).toEqual(first)
    // A loaded them from the database; B found A's entry in Redis; each answered its second read in-process.
    expect((await stats(a)).queries.byPrefix.filter_counts).toMatchObject({ misses: 1, loads: 1, l1Hits: 1 })
    expect((await stats(b)).queries.byPrefix.filter_counts).toMatchObject({ hits: 2, loads: 0, l1Hits: 1 })
    expect((await getJson(`${b}/health`)).caches.queries.l1Hits).toBe(1)
    const metrics = await (await fetch(`${b}/metrics`)).text()
    expect(metrics).toMatch(
      /^cacheport_l1_hits_total\{cache="queries",prefix="filter_counts",adapter="memory\+redis"\} 1$/m,
    )
  })

  it(`an edit on A shows in B's counts within ${COHERENCE_BOUND_MS} ms, though B held them in its L1`, async () => {
    const before = await counts(b)
    const l1Before = (await stats(b)).queries.l1Hits
    expect(await counts(b)).toEqual(before)
    expect((await stats(b)).queries.l1Hits).toBe(l1Before + 1)

    // The item the demo prints in its curl example: the steps of the README, as a user runs them.
    const res = await patch(a, printedItem, { workflowStatus: 'Done' })
    expect(res.status).toBe(200)
    const expected = { ...before, ToDo: before.ToDo - 1, Done: before.Done + 1 }
    const seen = await waitFor(
      () => counts(b),
      (value) => value.ToDo === expected.ToDo,
    )
    console.log(`tiered: B showed A's edit ${seen.ms.toFixed(1)} ms after A answered the PATCH`)
    expect(seen.value).toEqual(expected)
    expect(seen.ms).toBeLessThan(COHERENCE_BOUND_MS)
  })

  it(`an ingest on A shows in B's counts per faculty within ${COHERENCE_BOUND_MS} ms`, async () => {
    const before = await counts(b, '?faculty=EEMCS')
    expect(await counts(b, '?faculty=EEMCS')).toEqual(before)
    const upload = await session.at(a).ingest(
      qlikCsv([
        { 'Material id': 880001, Department: 'Computer Science', Title: 'Tiered reader', Filetype: 'pdf' },
        { 'Material id': 880002, Department: 'Electrical Engineering', Title: 'Bus slides', Filetype: 'ppt' },
      ]),
    )
    expect(upload.status).toBe(202)
    expect(upload.body).toMatchObject({ status: 'done', created: 2, rejected: 0 })
    const seen = await waitFor(
      () => counts(b, '?faculty=EEMCS'),
      (value) => value.All === before.All + 2,
    )
    console.log(`tiered: B showed A's ingest ${seen.ms.toFixed(1)} ms after it finished`)
    expect(seen.value).toEqual({ ...before, All: before.All + 2, ToDo: before.ToDo + 2 })
    expect(seen.ms).toBeLessThan(COHERENCE_BOUND_MS)
  })

  it('an Osiris outage within grace: both instances answer with the expired course', async () => {
    const course = await getJson(`${a}/api/osiris/courses/2025-202561006-1B`)
    expect(course.cursuscode).toBe('202561006')
    fixture.sims.osiris.resetCounters()
    await sleep(350) // past the 300 ms TTL the demo was started with, well within the 24 h grace
    fixture.sims.osiris.force('/cursussen/zoeken', 503)
    expect(await getJson(`${a}/api/osiris/courses/202561006`)).toEqual(course)
    // B never asked Osiris for it: the expired entry it serves comes from the shared tier.
    expect(await getJson(`${b}/api/osiris/courses/202561006`)).toEqual(course)
    expect(fixture.sims.osiris.requests('search')).toBe(2)
    for (const url of [a, b]) {
      expect((await stats(url)).default.byPrefix.osiris_course.staleHits).toBe(1)
      const metrics = await (await fetch(`${url}/metrics`)).text()
      expect(metrics).toMatch(
        /^cacheport_stale_hits_total\{cache="default",prefix="osiris_course",adapter="memory\+redis"\} 1$/m,
      )
    }

    fixture.sims.osiris.clearForced()
    // Osiris answers again: a fresh course, fetched now.
    const fresh = await getJson(`${b}/api/osiris/courses/202561006`)
    expect(fresh).toEqual({ ...course, fetchedAt: fresh.fetchedAt })
    expect(Date.parse(fresh.fetchedAt)).toBeGreaterThan(Date.parse(course.fetchedAt))
    expect(fixture.sims.osiris.requests('search')).toBe(3)
    expect((await stats(b)).default.byPrefix.osiris_course).toMatchObject({ staleHits: 1, loads: 2 })
  })

  it('Ctrl-C stops both instances', async () => {
    demo!.kill('SIGINT')
    expect(await demoExit).toBe(0)
    for (const url of [a, b]) {
      await expect(fetch(`${url}/health`)).rejects.toThrow()
    }
  })
})

describe('tiered instances when Redis goes away', () => {
  let fixture: ProcessFixture
  let server: RedisServer
  let a: InstanceProcess | undefined
  let b: InstanceProcess | undefined

  beforeAll(async () => {
    fixture = await startProcessFixture(300)
    server = await startRedisServer()
    const env = fixture.env(baseEnv(), { LOG_LEVEL: 'error', CACHE_BACKEND: 'tiered', REDIS_URL: server.url })
    // A start takes seconds on a busy machine; two at once, longer.
    const options = { startTimeoutMs: 80_000 }
    ;[a, b] = await Promise.all([startInstance('A', env, options), startInstance('B', env, options)])
    session = await signIn(a.url, 'staff')
  }, 100_000)

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await server?.kill()
    await fixture?.stop()
  })

  /** The counts as the database has them, asked directly. */
  async function truth(faculty?: string): Promise<Counts> {
    const database = openDatabase(fixture.databaseUrl)
    try {
      let query = database.db
        .selectFrom('copyright_items')
        .select(['workflow_status', sql<number>`count(*)`.as('n')])
        .groupBy('workflow_status')
      if (faculty) query = query.where('faculty', '=', faculty)
      const rows = await query.execute()
      const result: Counts = { All: 0, ToDo: 0, InProgress: 0, Done: 0 }
      for (const row of rows) {
        result[row.workflow_status as keyof Counts] = Number(row.n)
        result.All += Number(row.n)
      }
      return result
    } finally {
      await database.close()
    }
  }

  /**
   * Reads and times a request. Fail-open bounds each store operation by the cache's 1 s deadline; a
   * request makes at most a read, a write and a publish, so it answers within 3 s even on a busy
   * machine, where a hung store would keep it waiting for good.
   */
  async function timed<T>(read: () => Promise<T>): Promise<T> {
    const started = performance.now()
    const value = await read()
    expect(performance.now() - started).toBeLessThan(3_000)
    return value
  }

  it('both keep answering, from their L1 and from the database, and edits still count', async () => {
    const before = await truth()
    for (const url of [a!.url, b!.url]) {
      expect(await counts(url)).toEqual(before)
      expect(await counts(url)).toEqual(before)
      expect((await stats(url)).queries.l1Hits).toBe(1)
    }

    await server.kill()

    for (const url of [a!.url, b!.url]) {
      // Cached in L1 before the outage: answered in-process (a hit without a load), though the
      // core counts it as an L1 hit only while the bus vouches for L1.
      const held = (await stats(url)).queries.byPrefix.filter_counts
      expect(await timed(() => counts(url))).toEqual(before)
      expect((await stats(url)).queries.byPrefix.filter_counts).toMatchObject({
        hits: held.hits + 1,
        loads: held.loads,
      })
      // Never cached: the database answers.
      expect(await timed(() => counts(url, '?faculty=EEMCS'))).toEqual(await truth('EEMCS'))
      expect((await stats(url)).queries.byPrefix.filter_counts.loads).toBe(held.loads + 1)
      const health = await timed(() => getJson(`${url}/health`))
      expect(health.status).toBe('degraded')
      expect(health.caches.queries.status).not.toBe('ready')
    }

    // An edit on A: the database takes it, A drops its own copy, and its next counts are the new ones.
    const { items } = await getJson(`${a!.url}/api/items?status=ToDo&perPage=25`)
    const res = await timed(() => patch(a!.url, items[0].materialId, { workflowStatus: 'InProgress' }))
    expect(res.status).toBe(200)
    const after = await timed(() => counts(a!.url))
    expect(after).toEqual({ ...before, ToDo: before.ToDo - 1, InProgress: before.InProgress + 1 })
    expect(after).toEqual(await truth())
    // B cannot be told while Redis is down; it still answers (its copy expires with the counts' TTL).
    expect([before, after]).toContainEqual(await timed(() => counts(b!.url)))
    expect((await stats(a!.url)).queries.errors).toBeGreaterThan(0)
  })
})
