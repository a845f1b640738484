import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import pino from 'pino'
import { type App, createApp } from '../src/app.js'
import { type Role, UserService } from '../src/auth/users.js'
import { loadConfig } from '../src/config.js'
import { openDatabase } from '../src/db/connection.js'
import { migrateToLatest } from '../src/db/migrations.js'
import { seedItems } from '../src/db/seed.js'
import { type Simulators, startSimulators } from '../src/simulators/index.js'

/** The shared Redis of the machine; tests only touch keys under their own random prefixes. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/** Server database the PostgreSQL tests create their own databases from. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** The Canvas token the simulator accepts in tests. */
export const TEST_TOKEN = 'test-token'
/** Items every test database starts with. */
export const SEED_ITEMS = 600

/** A random suffix that keeps one test file's Redis keys apart from every other's. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex')
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'ea-platform-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** A PostgreSQL database of its own, dropped by `drop`. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `ea_test_${uniqueSuffix()}`
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(POSTGRES_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL })
      await client.connect()
      try {
        await client.query(`drop database if exists ${name} with (force)`)
      } finally {
        await client.end()
      }
    },
  }
}

/** The users every test database has, one per role. */
export const TEST_USERS: Readonly<Record<Role, { username: string; password: string }>> = {
  admin: { username: 'test-admin', password: 'admin-password-for-tests' },
  staff: { username: 'test-staff', password: 'staff-password-for-tests' },
}

/** Migrates and seeds `databaseUrl` with the test's small item set and {@link TEST_USERS}. */
export async function prepareDatabase(databaseUrl: string, items = SEED_ITEMS): Promise<void> {
  const database = openDatabase(databaseUrl)
  try {
    await migrateToLatest(database.db, database.dialect)
    await seedItems(database, { items })
    const users = new UserService(database)
    for (const [role, user] of Object.entries(TEST_USERS)) {
      await users.upsert(user.username, user.password, role as Role)
    }
  } finally {
    await database.close()
  }
}

/** A signed-in HTTP client: sends the session cookie, and the CSRF token on state-changing requests. */
export interface ApiClient {
  /** The server's base URL. */
  readonly url: string
  /** The `Cookie` header value of the session. */
  readonly cookie: string
  /** The session's CSRF token. */
  readonly csrfToken: string
  /** `fetch` of `url + path` with the session (and the token unless `init.headers` sets one). */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** GET `path` as JSON. */
  getJson(path: string): Promise<any>
  /** Sends `body` as JSON. */
  send(method: string, path: string, body?: unknown): Promise<Response>
  /** Posts a Qlik export as multipart/form-data. */
  upload(content: string | Uint8Array<ArrayBuffer>, filename?: string): Promise<Response>
  /**
   * Uploads an export and waits for its merge: `status` 202 and the final progress (the summary), or
   * the refusal's status and error body.
   */
  ingest(content: string | Uint8Array<ArrayBuffer>, filename?: string): Promise<{ status: number; body: any }>
  /** The same session against another instance (instances that share `SESSION_SECRET`). */
  at(url: string): ApiClient
}

/** Signs in to the app at `url` as the test user of `role`, or with the given credentials. */
export async function signIn(
  url: string,
  as: Role | { username: string; password: string } = 'admin',
): Promise<ApiClient> {
  const user = typeof as === 'string' ? TEST_USERS[as] : as
  const res = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
  })
  if (res.status !== 200)
    throw new Error(`sign-in as ${user.username} answered ${res.status}: ${await res.text()}`)
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  const { csrfToken } = (await res.json()) as { csrfToken: string }
  return sessionClient(url, cookie, csrfToken)
}

function sessionClient(url: string, cookie: string, csrfToken: string): ApiClient {
  const client: ApiClient = {
    url,
    cookie,
    csrfToken,
    fetch(path, init = {}) {
      const headers = new Headers(init.headers)
      headers.set('cookie', cookie)
      if (!headers.has('x-csrf-token')) headers.set('x-csrf-token', csrfToken)
      return fetch(`${url}${path}`, { ...init, headers })
    },
    async getJson(path) {
      const answer = await client.fetch(path)
      if (!answer.ok) throw new Error(`GET ${path} answered ${answer.status}: ${await answer.text()}`)
      return answer.json()
    },
    send(method, path, body) {
      return client.fetch(path, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      })
    },
    upload(content, filename = 'export.csv') {
      const form = new FormData()
      form.append('file', new Blob([content]), filename)
      return client.fetch('/api/ingest/qlik', { method: 'POST', body: form })
    },
    async ingest(content, filename) {
      const res = await client.upload(content, filename)
      const body = await res.json()
      if (res.status !== 202) return { status: res.status, body }
      let progress = body
      for (let polls = 0; progress.status === 'processing'; polls++) {
        if (polls > 3000) throw new Error(`ingest batch ${body.batchId} still processing after 30 s`)
        await new Promise((resolve) => setTimeout(resolve, 10))
        progress = await client.getJson(`/api/ingest/batches/${body.batchId}`)
      }
      return { status: res.status, body: progress }
    },
    at(other) {
      return sessionClient(other, cookie, csrfToken)
    },
  }
  return client
}

/** The env that points an app at the test's simulators. */
export function simulatorEnv(sims: Simulators): Record<string, string> {
  return {
    OSIRIS_BASE_URL: sims.osiris.url,
    PEOPLE_BASE_URL: sims.people.url,
    CANVAS_API_URL: sims.canvas.url,
    CANVAS_API_TOKEN: TEST_TOKEN,
  }
}

/** A running app on a free port with its simulators (no latency). */
export interface TestApp {
  app: App
  url: string
  sims: Simulators
  /** The key prefixes its caches use (random per test app, so Redis keys never collide). */
  prefixes: { default: string; queries: string }
  /** A client signed in as the test admin. */
  api: ApiClient
  stop(): Promise<void>
}

/** Starts simulators and an app on `databaseUrl` (already prepared) with `env` on top of test defaults. */
export async function startTestApp(databaseUrl: string, env: Record<string, string> = {}): Promise<TestApp> {
  const sims = await startSimulators(TEST_TOKEN, { latencyMs: 0 })
  const suffix = uniqueSuffix()
  const prefixes = { default: `ea_platform_t${suffix}`, queries: `ea_queries_t${suffix}` }
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    ...simulatorEnv(sims),
    UPSTREAM_TIMEOUT_MS: '5000',
    CACHE_DEFAULT_KEY_PREFIX: prefixes.default,
    CACHE_QUERIES_KEY_PREFIX: prefixes.queries,
    ...env,
  })
  const app = await createApp(config, { logger: pino({ level: 'silent' }) })
  const url = await app.listen()
  const api = await signIn(url, 'admin')
  return {
    app,
    url,
    sims,
    prefixes,
    api,
    async stop() {
      // Leave the shared Redis as we found it: each cache clears only its own prefix.
      await Promise.allSettled(app.caches.entries().map(([, cache]) => cache.clear()))
      await app.close()
      await sims.stop()
    },
  }
}

/** Builds a Qlik CSV from rows of column → value (columns from the first row). */
export function qlikCsv(rows: ReadonlyArray<Record<string, string | number>>): string {
  const columns = Object.keys(rows[0] ?? {})
  const quote = (v: string | number) => {
    const text = String(v)
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
  }
  return [
    columns.map(quote).join(','),
    ...rows.map((r) => columns.map((c) => quote(r[c] ?? '')).join(',')),
  ].join('\n')
}

/** A response's JSON body; tests assert its shape themselves. */
export function json(res: Response): Promise<any> {
  return res.json()
}
