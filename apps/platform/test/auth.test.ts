import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UserService } from '../src/auth/users.js'
import { openDatabase } from '../src/db/connection.js'
import {
  type ApiClient,
  json,
  prepareDatabase,
  qlikCsv,
  signIn,
  startTestApp,
  TEST_USERS,
  type TestApp,
  tempDir,
} from './helpers.js'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))

/** A state-changing request, built fresh each time (a FormData body can be sent once). */
interface Mutation {
  method: string
  path: string
  body?: () => BodyInit
  contentType?: string
}

describe('sign-in, roles and cross-site protection', () => {
  let t: TestApp
  let dir: ReturnType<typeof tempDir>
  let staff: ApiClient
  let materialId: number

  beforeAll(async () => {
    dir = tempDir()
    const url = join(dir.path, 'auth.sqlite')
    await prepareDatabase(url, 50)
    t = await startTestApp(url)
    staff = await signIn(t.url, 'staff')
    materialId = (await t.api.getJson('/api/items?perPage=25')).items[0].materialId
  }, 30_000)
  afterAll(async () => {
    await t?.stop()
    dir?.remove()
  })

  const mutations = (): Mutation[] => [
    {
      method: 'PATCH',
      path: `/api/items/${materialId}`,
      body: () => JSON.stringify({ remarks: 'changed by an attacker' }),
      contentType: 'application/json',
    },
    {
      method: 'POST',
      path: '/api/canvas/check',
      body: () => JSON.stringify({ materialIds: [materialId] }),
      contentType: 'application/json',
    },
    {
      method: 'POST',
      path: '/api/ingest/qlik',
      body: () => {
        const form = new FormData()
        form.append('file', new Blob([qlikCsv([{ 'Material id': 990001, Title: 'Planted' }])]), 'x.csv')
        return form
      },
    },
    { method: 'POST', path: '/api/cache/queries/clear' },
    { method: 'DELETE', path: '/api/session' },
  ]
  const init = (m: Mutation, headers: Record<string, string> = {}): RequestInit => ({
    method: m.method,
    headers: { ...(m.contentType ? { 'content-type': m.contentType } : {}), ...headers },
    ...(m.body ? { body: m.body() } : {}),
  })

  /** The state the mutations would change, to prove a refused one changed nothing. */
  const snapshot = async () => ({
    item: await t.api.getJson(`/api/items/${materialId}`),
    planted: (await t.api.fetch('/api/items/990001')).status,
    queryMisses: (await t.api.getJson('/api/cache/stats')).caches.queries.misses,
  })

  it('covers every state-changing route of the server', () => {
    const routes = t.app.server
      .routeSummaries()
      .filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method))
      .map((r) => `${r.method} ${r.url}`)
    const covered = mutations().map((m) =>
      `${m.method} ${m.path}`.replace(`/${materialId}`, '/:materialId').replace('/queries/', '/:name/'),
    )
    // Signing in is the one state-changing route open to anonymous callers (it checks Origin only).
    expect(routes.filter((r) => r !== 'POST /api/session').sort()).toEqual(covered.sort())
  })

  it('refuses every state-changing route without a session, and changes nothing', async () => {
    const before = await snapshot()
    for (const m of mutations()) {
      const res = await fetch(`${t.url}${m.path}`, init(m))
      expect(res.status, `${m.method} ${m.path}`).toBe(401)
      expect(await json(res)).toMatchObject({ error: 'E_UNAUTHENTICATED' })
    }
    expect(await snapshot()).toEqual(before)
  })

  it('refuses every state-changing route from another site, even with the session and its token', async () => {
    const before = await snapshot()
    for (const m of mutations()) {
      const evil = await t.api.fetch(m.path, init(m, { origin: 'http://evil.example' }))
      expect(evil.status, `${m.method} ${m.path} with Origin`).toBe(403)
      expect(await json(evil)).toMatchObject({ error: 'E_CROSS_SITE', field: 'Origin' })
      const fetchSite = await t.api.fetch(m.path, init(m, { 'sec-fetch-site': 'cross-site' }))
      expect(fetchSite.status, `${m.method} ${m.path} with Sec-Fetch-Site`).toBe(403)
      // A cross-site form sends the cookie but cannot read the token.
      const noToken = await t.api.fetch(m.path, init(m, { 'x-csrf-token': '' }))
      expect(noToken.status, `${m.method} ${m.path} without token`).toBe(403)
      expect(await json(noToken)).toMatchObject({ error: 'E_CROSS_SITE', field: 'X-CSRF-Token' })
      const otherToken = await t.api.fetch(m.path, init(m, { 'x-csrf-token': staff.csrfToken }))
      expect(otherToken.status, `${m.method} ${m.path} with another session's token`).toBe(403)
    }
    expect(await snapshot()).toEqual(before)
  })

  it('lets staff read and edit items, and keeps ingest and cache clearing for admins', async () => {
    expect((await staff.fetch('/api/items/counts')).status).toBe(200)
    const edit = await staff.send('PATCH', `/api/items/${materialId}`, { remarks: 'checked by staff' })
    expect(edit.status).toBe(200)
    const before = await snapshot()
    for (const m of mutations().filter((m) => /ingest|cache/.test(m.path))) {
      const res = await staff.fetch(m.path, init(m))
      expect(res.status, `${m.method} ${m.path}`).toBe(403)
      expect(await json(res)).toMatchObject({ error: 'E_FORBIDDEN', field: 'role' })
    }
    expect(await snapshot()).toEqual(before)
    expect((await t.api.fetch('/api/cache/queries/clear', { method: 'POST' })).status).toBe(200)
  })

  it('asks for a session on every read except health, metrics and the sign-in page', async () => {
    for (const path of ['/api/items', '/api/items/counts', '/api/faculties', `/api/items/${materialId}`]) {
      expect((await fetch(`${t.url}${path}`)).status, path).toBe(401)
    }
    expect((await fetch(`${t.url}/api/osiris/people?name=Bakker`)).status).toBe(401)
    const page = await fetch(`${t.url}/?status=Done`, { redirect: 'manual' })
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/login?next=%2F%3Fstatus%3DDone')
    for (const path of ['/health', '/metrics', '/login'])
      expect((await fetch(`${t.url}${path}`)).status).toBe(200)
  })

  it('signs in with a session cookie that is HttpOnly and SameSite=Strict, and signs out', async () => {
    const wrong = await fetch(`${t.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: TEST_USERS.staff.username, password: 'not-the-password' }),
    })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.getSetCookie()).toEqual([])
    const unknown = await fetch(`${t.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'nobody', password: 'whatever-it-is' }),
    })
    expect(await json(unknown)).toEqual(
      await json(
        await fetch(`${t.url}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: TEST_USERS.staff.username, password: 'not-the-password' }),
        }),
      ),
    )

    const res = await fetch(`${t.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TEST_USERS.staff),
    })
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ user: { username: 'test-staff', role: 'staff' } })
    const [cookie] = res.headers.getSetCookie()
    expect(cookie).toMatch(/^ea_session=/)
    expect(cookie).toMatch(/; HttpOnly/i)
    expect(cookie).toMatch(/; SameSite=Strict/i)
    expect(cookie).toMatch(/; Path=\//i)

    const session = await signIn(t.url, 'staff')
    expect(await session.getJson('/api/session')).toMatchObject({ user: { username: 'test-staff' } })
    const out = await session.send('DELETE', '/api/session')
    expect(out.status).toBe(200)
    const ended = out.headers.getSetCookie()[0]!.split(';')[0]!
    const after = await fetch(`${t.url}/api/items/counts`, { headers: { cookie: ended } })
    expect(after.status).toBe(401)
  })

  it('stores passwords as salted scrypt hashes', async () => {
    const rows = await t.app.database.db.selectFrom('users').selectAll().execute()
    expect(rows.map((r) => r.username).sort()).toEqual(['test-admin', 'test-staff'])
    for (const row of rows) {
      expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
      expect(row.password_hash).not.toContain(TEST_USERS[row.role as 'admin' | 'staff'].password)
    }
  })
})

describe('users add (CLI)', () => {
  it('creates a user whose piped password signs in, and refuses a second one of that name', async () => {
    const dir = tempDir()
    try {
      const databaseUrl = join(dir.path, 'cli.sqlite')
      await prepareDatabase(databaseUrl, 10)
      const run = (args: string[], input: string) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'users', ...args], {
          cwd: APP_DIR,
          env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
          input,
          encoding: 'utf8',
        })
      const created = run(['add', 'Jansen', '--role', 'admin'], 'a long enough password\n')
      expect(created.stderr).toBe('')
      expect(created.stdout).toBe('created admin jansen\n')
      const again = run(['add', 'jansen'], 'another long password\n')
      expect(again.status).toBe(1)
      expect(again.stderr).toContain('user "jansen" already exists')
      const database = openDatabase(databaseUrl)
      try {
        const users = new UserService(database)
        expect(await users.list()).toContainEqual({ username: 'jansen', role: 'admin' })
        await expect(users.create('pieters', 'short', 'staff')).rejects.toMatchObject({
          code: 'E_VALIDATION',
          field: 'password',
          message: 'password must be 12 to 1024 characters',
        })
        await expect(
          users.create('pieters', 'long enough password', 'root' as 'admin'),
        ).rejects.toMatchObject({
          field: 'role',
        })
        await expect(
          users.create('no spaces allowed', 'long enough password', 'staff'),
        ).rejects.toMatchObject({
          field: 'username',
        })
      } finally {
        await database.close()
      }

      const t = await startTestApp(databaseUrl)
      try {
        const jansen = await signIn(t.url, { username: 'jansen', password: 'a long enough password' })
        expect((await jansen.fetch('/api/cache/queries/clear', { method: 'POST' })).status).toBe(200)
      } finally {
        await t.stop()
      }
    } finally {
      dir.remove()
    }
  }, 90_000)
})
