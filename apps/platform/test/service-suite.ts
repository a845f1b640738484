import { isCacheError } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type CatalogueCourse, canvasIds, catalogue } from '../src/catalogue.js'
import { academicYearAt, canvasFileId } from '../src/domain.js'
import { CanvasClient } from '../src/services/canvas-client.js'
import { OsirisClient } from '../src/services/osiris-client.js'
import { json, qlikCsv, REDIS_URL, startTestApp, TEST_TOKEN, type TestApp } from './helpers.js'

/** Where a suite's database comes from: a prepared (migrated, seeded) URL and how to throw it away. */
export type DatabaseProvider = () => Promise<{ url: string; cleanup: () => Promise<void> | void }>

/** Every key under `pattern`, by SCAN (never KEYS on a shared server). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys
}

async function counts(t: TestApp, query = ''): Promise<Record<string, number>> {
  const res = await t.api.fetch(`/api/items/counts${query}`)
  expect(res.status).toBe(200)
  return (await json(res)) as Record<string, number>
}

/** What `stats().adapter` says for each `CACHE_BACKEND`. */
const ADAPTER_NAMES = { memory: 'memory', redis: 'redis', tiered: 'memory+redis', noop: 'noop' }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The caching behaviour of the services, as a user of the app sees it, on one adapter and one
 * database. With `noop` (and `USE_CACHE=false`) every call must reach the database or upstream.
 */
export function defineServiceTests(
  label: string,
  backend: 'memory' | 'redis' | 'tiered' | 'noop',
  database: DatabaseProvider,
  env: Record<string, string> = {},
): void {
  const caching = backend !== 'noop' && env.USE_CACHE !== 'false'

  describe(`${label}: services on the ${backend} adapter${env.USE_CACHE === 'false' ? ' with USE_CACHE=false' : ''}`, () => {
    let t: TestApp
    let cleanup: () => Promise<void> | void
    let sample: { materialId: number; course_code: string; url: string; owner: string }
    let deleted: { materialId: number; url: string }
    // A course no other test looks up, so short-TTL clients never meet an entry written with 24 h.
    let otherCourse: string

    beforeAll(async () => {
      const db = await database()
      cleanup = db.cleanup
      t = await startTestApp(db.url, { CACHE_BACKEND: backend, ...env })
      const rows = await t.app.database.db
        .selectFrom('copyright_items')
        .select(['material_id as materialId', 'course_code', 'url', 'owner'])
        .orderBy('material_id')
        .execute()
      sample = rows.find((r) => !canvasIds.isDeleted(canvasFileId(r.url)!)) as typeof sample
      deleted = rows.find((r) => canvasIds.isDeleted(canvasFileId(r.url)!)) as typeof deleted
      const cursus = (code: string | null) => code?.split('-')[1]
      otherCourse = rows.find(
        (r) => cursus(r.course_code) && cursus(r.course_code) !== cursus(sample.course_code),
      )!.course_code as string
      expect(sample && deleted && otherCourse).toBeTruthy()
    })

    afterAll(async () => {
      await t?.stop()
      await cleanup?.()
    })

    beforeEach(() => {
      for (const sim of [t.sims.osiris, t.sims.people, t.sims.canvas]) {
        sim.clearForced()
        sim.resetCounters()
      }
    })

    it('answers the caches from the configured adapter', () => {
      const adapters = t.app.caches.entries().map(([, cache]) => cache.stats().adapter)
      const expected = caching ? ADAPTER_NAMES[backend] : 'noop'
      expect(adapters).toEqual([expected, expected])
    })

    it('a repeated read is answered in-process only with the tiered backend', async () => {
      const queries = t.app.caches.get('queries')
      const before = queries.stats().l1Hits
      await t.app.queries.getFilterCounts({ faculty: 'BMS', search: 'reader' })
      await t.app.queries.getFilterCounts({ faculty: 'BMS', search: 'reader' })
      expect(queries.stats().l1Hits - before).toBe(backend === 'tiered' && caching ? 1 : 0)
    })

    it('filter counts: a second identical call (after normalisation) does not query the database', async () => {
      const first = await t.app.queries.getFilterCounts({ faculty: 'EEMCS', search: 'lecture' })
      const truth = await t.app.database.db
        .selectFrom('copyright_items')
        .select(sql<number>`count(*)`.as('n'))
        .where('faculty', '=', 'EEMCS')
        .where(sql<boolean>`(lower(title) like '%lecture%' or lower(filename) like '%lecture%')`)
        .executeTakeFirstOrThrow()
      expect(first.All).toBe(Number(truth.n))
      expect(first.All).toBe(first.ToDo + first.InProgress + first.Done)
      expect(first.All).toBeGreaterThan(0)

      const before = t.app.database.queryCount()
      const second = await t.app.queries.getFilterCounts({ faculty: ' eemcs', search: 'LECTURE ' })
      expect(second).toEqual(first)
      expect(t.app.database.queryCount() - before).toBe(caching ? 0 : 1)
    })

    it('faculties: the list is read once, then served from the cache', async () => {
      const first = await t.app.queries.getFaculties()
      expect(first.map((f) => f.abbreviation)).toEqual(['BMS', 'EEMCS', 'ET', 'ITC', 'TNW', 'UNM'])
      const before = t.app.database.queryCount()
      expect(await t.app.queries.getFaculties()).toEqual(first)
      expect(t.app.database.queryCount() - before).toBe(caching ? 0 : 1)
    })

    it('Osiris course details: the second call, in either spelling, does not reach Osiris', async () => {
      const osiris = t.app.osiris!
      const course = await osiris.fetchCourseDetails(sample.course_code)
      expect(course?.cursuscode).toBe(sample.course_code.split('-')[1])
      expect(course?.teachers.length).toBeGreaterThan(0)
      expect(t.sims.osiris.requests('search')).toBe(1)
      expect(t.sims.osiris.requests('course')).toBe(1)

      const again = await osiris.fetchCourseDetails(course!.cursuscode)
      // A cached answer keeps the time Osiris was asked; without a cache each call asks anew.
      expect(again).toEqual(caching ? course : { ...course, fetchedAt: again!.fetchedAt })
      expect(t.sims.osiris.requests()).toBe(caching ? 2 : 4)
    })

    it('Osiris: a course Osiris does not know is cached as null', async () => {
      expect(await t.app.osiris!.fetchCourseDetails('999999999')).toBeNull()
      expect(await t.app.osiris!.fetchCourseDetails('999999999')).toBeNull()
      expect(t.sims.osiris.requests('search')).toBe(caching ? 1 : 2)
    })

    it('Osiris: a 503 is not cached; the next call asks again and caches the answer', async () => {
      const code = '2024-999990001-1A'
      t.sims.osiris.force('/cursussen/zoeken', 503)
      const failure = await t.app.osiris!.fetchCourseDetails(code).catch((e: unknown) => e)
      expect(failure).toMatchObject({ code: 'E_UPSTREAM', message: expect.stringContaining('503') })
      t.sims.osiris.clearForced()
      expect(await t.app.osiris!.fetchCourseDetails(code)).toBeNull()
      expect(t.sims.osiris.requests('search')).toBe(2)
      await t.app.osiris!.fetchCourseDetails(code)
      expect(t.sims.osiris.requests('search')).toBe(caching ? 2 : 3)
    })

    it('people pages: a person is looked up once; an unknown name is cached as null', async () => {
      const person = await t.app.osiris!.fetchPersonData(sample.owner)
      expect(person?.email).toMatch(/@utwente\.nl$/)
      expect(['BMS', 'EEMCS', 'ET', 'ITC', 'TNW', 'UNM']).toContain(person?.faculty)
      const served = t.sims.people.requests()
      expect(served).toBe(2)
      const again = await t.app.osiris!.fetchPersonData(`  ${sample.owner.toUpperCase()} `)
      expect(again).toEqual(caching ? person : { ...person, fetchedAt: again!.fetchedAt })
      expect(t.sims.people.requests()).toBe(caching ? 2 : 4)

      expect(await t.app.osiris!.fetchPersonData('Zyx Qwerty')).toBeNull()
      expect(await t.app.osiris!.fetchPersonData('Zyx Qwerty')).toBeNull()
      expect(t.sims.people.requests('overview')).toBe(caching ? 2 : 4)
    })

    it('Canvas: an existing file is checked once and its course found', async () => {
      const check = await t.app.canvas!.checkFileExistence(sample)
      expect(check).toMatchObject({ materialId: sample.materialId, exists: true })
      expect(check.courseId).toBe(Number(/courses\/(\d+)\//.exec(sample.url)![1]))
      expect(t.sims.canvas.requests()).toBe(2)
      const again = await t.app.canvas!.checkFileExistence({
        materialId: sample.materialId,
        url: sample.url,
      })
      // A cached answer keeps the time of the real check.
      if (caching) expect(again).toEqual(check)
      else expect({ ...again, checkedAt: check.checkedAt }).toEqual(check)
      expect(t.sims.canvas.requests()).toBe(caching ? 2 : 4)
    })

    it('Canvas: a 404 is an answer (exists: false) and is cached', async () => {
      const check = await t.app.canvas!.checkFileExistence(deleted)
      expect(check).toMatchObject({ exists: false, courseId: null })
      await t.app.canvas!.checkFileExistence(deleted)
      expect(t.sims.canvas.requests('file')).toBe(caching ? 1 : 2)
    })

    it('Canvas: timeouts and bodies that are not JSON are errors and are not cached', async () => {
      // A client with a short deadline on the app's own cache: the app's deadline is generous so
      // that a loaded test machine does not turn ordinary calls into timeouts.
      const canvas = new CanvasClient({
        apiUrl: t.sims.canvas.url,
        token: TEST_TOKEN,
        cache: t.app.caches.get('default'),
        ttl: '1h',
        timeoutMs: 200,
      })
      const item = { materialId: sample.materialId + 1_000_000, url: sample.url }
      t.sims.canvas.force('/api/v1/files/', 'timeout')
      const timedOut = await canvas.checkFileExistence(item).catch((e: unknown) => e)
      expect(timedOut).toMatchObject({
        code: 'E_UPSTREAM',
        message: expect.stringContaining('within 200 ms'),
      })
      t.sims.canvas.clearForced()
      t.sims.canvas.force('/api/v1/files/', 'bad-json')
      const garbage = await canvas.checkFileExistence(item).catch((e: unknown) => e)
      expect(garbage).toMatchObject({ code: 'E_UPSTREAM', message: expect.stringContaining('not JSON') })
      t.sims.canvas.clearForced()
      expect((await canvas.checkFileExistence(item)).exists).toBe(true)
      expect(t.sims.canvas.requests('file')).toBe(3)
      // The app's own client shares the entry: same cache, same key.
      await t.app.canvas!.checkFileExistence(item)
      expect(t.sims.canvas.requests('file')).toBe(caching ? 3 : 4)
    })

    it('an ingest that adds items changes the counts on the next read', async () => {
      const before = await counts(t, '?faculty=EEMCS')
      const upload = qlikCsv([
        {
          'Material id': 990001,
          Department: 'Computer Science',
          'Course code': '2025-202599001-1A',
          Title: 'New reader',
          Filetype: 'pdf',
        },
        { 'Material id': 990002, Department: 'Applied Mathematics', Title: 'New slides', Filetype: 'pptx' },
      ])
      const { status, body } = await t.api.ingest(upload)
      expect(status).toBe(202)
      expect(body).toMatchObject({ status: 'done', created: 2, updated: 0, rejected: 0 })
      const after = await counts(t, '?faculty=EEMCS')
      expect(after).toEqual({ ...before, All: before.All! + 2, ToDo: before.ToDo! + 2 })
    })

    it('an edit of the workflow status changes the counts on the next read', async () => {
      const row = await t.app.database.db
        .selectFrom('copyright_items')
        .select(['material_id', 'faculty'])
        .where('workflow_status', '=', 'ToDo')
        .orderBy('material_id')
        .executeTakeFirstOrThrow()
      const before = await counts(t, `?faculty=${row.faculty}`)
      const res = await t.api.fetch(`/api/items/${row.material_id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workflowStatus: 'Done' }),
      })
      expect(res.status).toBe(200)
      const after = await counts(t, `?faculty=${row.faculty}`)
      expect(after).toEqual({ ...before, ToDo: before.ToDo! - 1, Done: before.Done! + 1 })
    })

    it('Osiris: within its grace period an expired course is served while Osiris fails, not after', async () => {
      // Clients of the app's own cache with short lifetimes: the app's are a day and more.
      const client = (courseGrace: number) =>
        new OsirisClient({
          osirisBaseUrl: t.sims.osiris.url,
          peopleBaseUrl: t.sims.people.url,
          cache: t.app.caches.get('default'),
          courseTtl: 60,
          personTtl: 60,
          courseGrace,
          timeoutMs: 5_000,
        })
      const graceful = client(60_000)
      const course = await graceful.fetchCourseDetails(otherCourse)
      expect(course?.teachers.length).toBeGreaterThan(0)
      await sleep(90)
      t.sims.osiris.force('/cursussen/zoeken', 503)
      const staleBefore = t.app.caches.get('default').stats().staleHits
      const during = await graceful.fetchCourseDetails(otherCourse).catch((e: unknown) => e)
      // Osiris was asked (and failed) either way; only a cache has something older to offer.
      expect(t.sims.osiris.requests('search')).toBe(2)
      if (caching) {
        expect(during).toEqual(course)
        expect(t.app.caches.get('default').stats().staleHits - staleBefore).toBe(1)
      } else {
        expect(during).toMatchObject({ code: 'E_UPSTREAM' })
      }
      const strict = await client(0)
        .fetchCourseDetails(otherCourse)
        .catch((e: unknown) => e)
      expect(strict).toMatchObject({ code: 'E_UPSTREAM', message: expect.stringContaining('503') })
      t.sims.osiris.clearForced()
      await graceful.fetchCourseDetails.invalidate(otherCourse)
    })

    it('Canvas: within its grace period the last check is served while Canvas fails, with its time', async () => {
      const canvas = new CanvasClient({
        apiUrl: t.sims.canvas.url,
        token: TEST_TOKEN,
        cache: t.app.caches.get('default'),
        ttl: 60,
        grace: 60_000,
        timeoutMs: 5_000,
      })
      const item = { materialId: sample.materialId + 2_000_000, url: sample.url }
      const check = await canvas.checkFileExistence(item)
      await sleep(90)
      t.sims.canvas.force('/api/v1/files/', 503)
      const during = await canvas.checkFileExistence(item).catch((e: unknown) => e)
      if (caching) expect(during).toEqual(check)
      else expect(during).toMatchObject({ code: 'E_UPSTREAM', message: expect.stringContaining('503') })
      t.sims.canvas.clearForced()
      await canvas.checkFileExistence.invalidate(item)
    })

    // Courses of the catalogue no other test looks up, one per academic year asked for.
    const unusedCourse = (year: number, skip = 0): CatalogueCourse => {
      const used = new Set([sample.course_code, otherCourse].map((code) => code.split('-')[1]))
      return catalogue()
        .courses.filter((c) => c.year === year && !used.has(c.cursus))
        .at(-1 - skip)!
    }

    it('Osiris: a course of a past academic year lives for its own TTL, a current one for the usual', async () => {
      // October 2025: collegejaar 2025 is current, 2024 is past.
      const client = new OsirisClient({
        osirisBaseUrl: t.sims.osiris.url,
        peopleBaseUrl: t.sims.people.url,
        cache: t.app.caches.get('default'),
        courseTtl: 60,
        pastCourseTtl: '1h',
        personTtl: 60,
        timeoutMs: 5_000,
        now: () => Date.parse('2025-10-01T12:00:00Z'),
      })
      const past = unusedCourse(2024)
      const current = unusedCourse(2025)
      expect((await client.fetchCourseDetails(past.cursus))?.year).toBe(2024)
      expect((await client.fetchCourseDetails(current.cursus))?.year).toBe(2025)
      await sleep(90)
      await client.fetchCourseDetails(past.cursus)
      await client.fetchCourseDetails(current.cursus)
      // Only the current course expired and was asked for again.
      expect(t.sims.osiris.requests('search')).toBe(caching ? 3 : 4)
      await client.fetchCourseDetails.invalidate(past.cursus)
      await client.fetchCourseDetails.invalidate(current.cursus)
    })

    it('Osiris: when only the teachers page fails, the course comes without teachers and is not cached', async () => {
      const course = unusedCourse(2025, 1)
      t.sims.osiris.force('/student/osiris/owc/cursussen/', 503)
      const res = await t.api.fetch(`/api/osiris/courses/${course.cursus}`)
      expect(res.status).toBe(200)
      const partial = await json(res)
      expect(partial).toMatchObject({
        cursuscode: course.cursus,
        name: course.name,
        teachers: [],
        partial: true,
      })
      t.sims.osiris.clearForced()
      // Not stored: the next lookup asks Osiris again and gets (and keeps) the whole course.
      const whole = await t.api.getJson(`/api/osiris/courses/${course.cursus}`)
      expect(whole.teachers).toHaveLength(course.teachers.length)
      expect(whole).not.toHaveProperty('partial')
      expect(await t.api.getJson(`/api/osiris/courses/${course.cursus}`)).toEqual(
        caching ? whole : { ...whole, fetchedAt: expect.any(String) },
      )
      expect(t.sims.osiris.requests('search')).toBe(caching ? 2 : 3)
      await t.app.osiris!.fetchCourseDetails.invalidate(course.cursus)
    })

    it('Osiris: when only the teachers page fails, a whole course held in grace is served instead', async () => {
      const client = new OsirisClient({
        osirisBaseUrl: t.sims.osiris.url,
        peopleBaseUrl: t.sims.people.url,
        cache: t.app.caches.get('default'),
        courseTtl: 60,
        personTtl: 60,
        courseGrace: 60_000,
        timeoutMs: 5_000,
      })
      const code = unusedCourse(2024, 1).cursus
      const whole = await client.fetchCourseDetails(code)
      expect(whole?.teachers.length).toBeGreaterThan(0)
      await sleep(90)
      t.sims.osiris.force('/student/osiris/owc/cursussen/', 503)
      const during = await client.fetchCourseDetails(code)
      // Without a cache there is nothing older to offer: the course comes without its teachers.
      if (caching) expect(during).toEqual(whole)
      else expect(during).toMatchObject({ cursuscode: code, teachers: [], partial: true })
      expect(t.sims.osiris.requests('course')).toBe(2)
      t.sims.osiris.clearForced()
      await client.fetchCourseDetails.invalidate(code)
    })

    it('Canvas: an expired check is repeated conditionally; a 304 keeps it with the new time, without the folder', async () => {
      const canvas = new CanvasClient({
        apiUrl: t.sims.canvas.url,
        token: TEST_TOKEN,
        cache: t.app.caches.get('default'),
        ttl: 60,
        grace: 60_000,
        timeoutMs: 5_000,
      })
      const item = { materialId: sample.materialId + 3_000_000, url: sample.url }
      const first = await canvas.checkFileExistence(item)
      expect(first).toMatchObject({
        exists: true,
        etag: expect.any(String),
        lastModified: expect.any(String),
      })
      expect(t.sims.canvas.requests('folder')).toBe(1)
      await sleep(90)
      const again = await canvas.checkFileExistence(item)
      expect(again).toEqual({ ...first, checkedAt: again.checkedAt })
      expect(Date.parse(again.checkedAt)).toBeGreaterThan(Date.parse(first.checkedAt))
      // Only a cache holds the earlier check, whose ETag makes the request conditional.
      expect(t.sims.canvas.answered(304)).toBe(caching ? 1 : 0)
      expect(t.sims.canvas.requests('folder')).toBe(caching ? 1 : 2)
      // The revalidated check is stored with its new time.
      if (caching) expect(await canvas.checkFileExistence(item)).toEqual(again)
      // A file gone since is reported gone: Canvas answers the conditional request with a 404.
      await sleep(90)
      t.sims.canvas.force('/api/v1/files/', 404)
      expect(await canvas.checkFileExistence(item)).toMatchObject({
        exists: false,
        courseId: null,
        etag: null,
      })
      t.sims.canvas.clearForced()
      await canvas.checkFileExistence.invalidate(item)
    })

    it('Canvas: the simulator answers If-Modified-Since as Canvas does', async () => {
      const fileUrl = `${t.sims.canvas.url}/api/v1/files/${canvasFileId(sample.url)}`
      const headers = { authorization: `Bearer ${TEST_TOKEN}` }
      const full = await fetch(fileUrl, { headers })
      const lastModified = full.headers.get('last-modified')!
      await full.arrayBuffer()
      const since = (date: string) =>
        fetch(fileUrl, { headers: { ...headers, 'if-modified-since': date } }).then((r) => r.status)
      expect(await since(lastModified)).toBe(304)
      expect(await since(new Date(Date.parse(lastModified) - 1_000).toUTCString())).toBe(200)
    })

    it('Canvas: a check that found the file gone is asked again after its own TTL, an existing one is not', async () => {
      const canvas = new CanvasClient({
        apiUrl: t.sims.canvas.url,
        token: TEST_TOKEN,
        cache: t.app.caches.get('default'),
        ttl: '1h',
        goneTtl: 60,
        timeoutMs: 5_000,
      })
      const gone = { materialId: deleted.materialId + 4_000_000, url: deleted.url }
      const live = { materialId: sample.materialId + 4_000_000, url: sample.url }
      expect((await canvas.checkFileExistence(gone)).exists).toBe(false)
      expect((await canvas.checkFileExistence(live)).exists).toBe(true)
      await sleep(90)
      await canvas.checkFileExistence(gone)
      await canvas.checkFileExistence(live)
      expect(t.sims.canvas.requests('file')).toBe(caching ? 3 : 4)
      await canvas.checkFileExistence.invalidate(gone)
      await canvas.checkFileExistence.invalidate(live)
    })

    if ((backend === 'redis' || backend === 'tiered') && caching) {
      it('Redis keys live for the strategy table TTLs, plus the grace period of upstream answers', async () => {
        const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
        try {
          await t.app.queries.getFilterCounts({ faculty: 'ET' })
          await t.app.queries.getFaculties()
          const course = await t.app.osiris!.fetchCourseDetails(sample.course_code)
          // The catalogue's courses are of 2023 to 2025: past years by now.
          expect(course!.year).toBeLessThan(academicYearAt(Date.now()))
          await t.app.osiris!.fetchCourseDetails('999999999')
          await t.app.osiris!.fetchPersonData(sample.owner)
          await t.app.canvas!.checkFileExistence(sample)
          await t.app.canvas!.checkFileExistence(deleted)
          const defaultCache = t.app.caches.get('default')
          const keyOf = (key: string) => defaultCache.fullKey(key)
          // The app's own checks and courses: other tests wrote some with clients of their own TTLs.
          const expected: Array<[string, number]> = [
            [`${t.prefixes.queries}:1:filter_counts:*`, 5 * 60_000],
            [`${t.prefixes.default}:1:faculties:*`, 10 * 60_000],
            // TTL + grace: 7 d + 24 h for a course of a past year, 24 h + 24 h for "no such course",
            // 24 h + 7 d, 1 h + 6 h for a file and for a file that is gone.
            [keyOf(t.app.osiris!.fetchCourseDetails.key(sample.course_code)), 8 * 24 * 3_600_000],
            [keyOf(t.app.osiris!.fetchCourseDetails.key('999999999')), 48 * 3_600_000],
            [`${t.prefixes.default}:1:osiris_person:*`, (24 + 7 * 24) * 3_600_000],
            [keyOf(t.app.canvas!.checkFileExistence.key(sample)), 7 * 3_600_000],
            [keyOf(t.app.canvas!.checkFileExistence.key(deleted)), 7 * 3_600_000],
          ]
          for (const [pattern, ttl] of expected) {
            const keys = pattern.endsWith('*') ? await scanKeys(redis, pattern) : [pattern]
            expect(keys.length, pattern).toBeGreaterThan(0)
            for (const key of keys) {
              const pttl = await redis.pttl(key)
              expect(pttl, key).toBeGreaterThan(ttl - 60_000)
              expect(pttl, key).toBeLessThanOrEqual(ttl)
            }
          }
        } finally {
          redis.disconnect()
        }
      })
    }

    it('bad input never reaches a cache: a malformed course code is a validation error', async () => {
      const error = await t.app.osiris!.fetchCourseDetails('not-a-code').catch((e: unknown) => e)
      expect(isCacheError(error)).toBe(false)
      expect(error).toMatchObject({ code: 'E_VALIDATION', field: 'courseCode' })
      expect(t.sims.osiris.requests()).toBe(0)
    })
  })
}
