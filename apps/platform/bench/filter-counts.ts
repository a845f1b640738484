/**
 * Benchmark of the dashboard's most expensive call, `GET /api/items/counts`, on 200,000 items (or
 * as many as asked, 1M in about half a minute of seeding) in SQLite: cache off (USE_CACHE=false)
 * against warm memory and Redis caches, p50 and p99 over sequential requests. The app runs as its own process (`cli.ts serve`), as in production, so the
 * measuring client does not share its event loop. Run it directly
 * (`pnpm --filter @cacheport/platform bench`) or import `runFilterCountsBench` (the repository's
 * bench runner does).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { UserService } from '../src/auth/users.js'
import { openDatabase } from '../src/db/connection.js'
import { migrateToLatest } from '../src/db/migrations.js'
import { seedItems } from '../src/db/seed.js'

/** Options of {@link runFilterCountsBench}. */
export interface FilterCountsBenchOptions {
  /**
   * Items seeded into the temporary database.
   * @default 200000
   */
  items?: number
  /**
   * Requests measured per scenario with the cache off (each one runs the aggregate over every
   * item, so fewer on large databases: 40 up to 200,000 items, then proportionally fewer, at least 5).
   * @default min(40, max(5, round(8,000,000 / items)))
   */
  coldRequests?: number
  /**
   * Requests measured per scenario with a warm cache.
   * @default 2000
   */
  warmRequests?: number
  /**
   * Redis for the Redis rows; they are skipped when it cannot be reached.
   * @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
   */
  redisUrl?: string
}

/** One measured row: a scenario (query) on one cache mode. */
export interface FilterCountsRow {
  scenario: string
  mode: 'cache off' | 'memory (warm)' | 'redis (warm)'
  requests: number
  p50Ms: number
  p99Ms: number
  /** p50 with the cache off divided by this row's p50. */
  speedupP50: number
}

/** What the benchmark returns. */
export interface FilterCountsBenchResult {
  items: number
  seedMs: number
  rows: FilterCountsRow[]
  /** Why Redis rows are missing, when they are. */
  notes: string[]
}

const SCENARIOS: ReadonlyArray<[name: string, query: string]> = [
  ['all items', ''],
  ['faculty + search', '?faculty=EEMCS&search=lecture'],
]

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))

/** The admin the benchmark creates in its own temporary database and signs in as. */
const BENCH_USER = 'bench-admin'

const isCacheOff = (mode: FilterCountsRow['mode']): boolean => mode === 'cache off'

/** Starts `cli.ts serve` with `env`; resolves with the process and the URL it prints. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: APP_DIR,
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the app did not start within 30 s:\n${output}`))
    }, 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /running at (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ child, url: match[1]! })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the app exited with ${code}:\n${output}`))
    })
  })
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** A signed-in session: the API answers only those. */
interface Session {
  readonly cookie: string
  readonly csrfToken: string
}

async function signIn(base: string, username: string, password: string): Promise<Session> {
  const res = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (res.status !== 200)
    throw new Error(`sign-in as ${username} answered ${res.status}: ${await res.text()}`)
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  const { csrfToken } = (await res.json()) as { csrfToken: string }
  return { cookie, csrfToken }
}

async function measure(
  url: string,
  requests: number,
  session: Session,
): Promise<{ p50: number; p99: number }> {
  const times: number[] = []
  const headers = { cookie: session.cookie }
  for (let i = 0; i < requests; i++) {
    const started = performance.now()
    const res = await fetch(url, { headers })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

async function redisReachable(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
  })
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (error) {
    return `Redis rows skipped: ${url} is not reachable (${(error as Error).message})`
  } finally {
    redis.disconnect()
  }
}

/** Seeds a temporary database, runs every scenario on every mode, and returns the numbers. */
export async function runFilterCountsBench(
  options: FilterCountsBenchOptions = {},
): Promise<FilterCountsBenchResult> {
  const items = options.items ?? 200_000
  const coldRequests = options.coldRequests ?? Math.min(40, Math.max(5, Math.round(8_000_000 / items)))
  const warmRequests = options.warmRequests ?? 2000
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const dir = mkdtempSync(join(tmpdir(), 'ea-bench-'))
  const benchPassword = randomBytes(18).toString('base64url')
  const databaseUrl = join(dir, 'bench.sqlite')
  const notes: string[] = []
  const rows: FilterCountsRow[] = []
  try {
    const database = openDatabase(databaseUrl)
    const seedStarted = performance.now()
    try {
      await migrateToLatest(database.db, database.dialect)
      await seedItems(database, { items })
      // The API answers signed-in users only: the benchmark signs in as an admin of its own.
      await new UserService(database).upsert(BENCH_USER, benchPassword, 'admin')
    } finally {
      await database.close()
    }
    const seedMs = Math.round(performance.now() - seedStarted)

    const redisProblem = await redisReachable(redisUrl)
    if (redisProblem) notes.push(redisProblem)
    const suffix = randomBytes(4).toString('hex')
    const modes: Array<[FilterCountsRow['mode'], Record<string, string>]> = [
      ['cache off', { USE_CACHE: 'false' }],
      ['memory (warm)', { CACHE_BACKEND: 'memory' }],
      ...(redisProblem
        ? []
        : [
            ['redis (warm)', { CACHE_BACKEND: 'redis' }] as [FilterCountsRow['mode'], Record<string, string>],
          ]),
    ]
    const coldP50 = new Map<string, number>()
    for (const [mode, env] of modes) {
      const { child, url: base } = await serve({
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        CACHE_DEFAULT_KEY_PREFIX: `ea_platform_bench${suffix}`,
        CACHE_QUERIES_KEY_PREFIX: `ea_queries_bench${suffix}`,
        ...env,
      })
      try {
        const session = await signIn(base, BENCH_USER, benchPassword)
        for (const [scenario, query] of SCENARIOS) {
          const url = `${base}/api/items/counts${query}`
          const off = mode === 'cache off'
          // Warm-up: JIT, connection pools and, with a cache, the entry itself.
          await measure(url, off ? 3 : 500, session)
          const { p50, p99 } = await measure(url, off ? coldRequests : warmRequests, session)
          if (off) coldP50.set(scenario, p50)
          rows.push({
            scenario,
            mode,
            requests: off ? coldRequests : warmRequests,
            p50Ms: round(p50),
            p99Ms: round(p99),
            speedupP50: round(coldP50.get(scenario)! / p50, 1),
          })
        }
        // Leave the shared Redis as it was: the queries cache clears its own prefix only.
        const cleared = await fetch(`${base}/api/cache/queries/clear`, {
          method: 'POST',
          headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
        })
        if (!isCacheOff(mode) && cleared.status !== 200 && cleared.status !== 204) {
          notes.push(`${mode}: clearing the queries cache answered ${cleared.status}`)
        }
      } finally {
        await stop(child)
      }
    }
    return { items, seedMs, rows, notes }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** The result as a small text table. */
export function formatTable(result: FilterCountsBenchResult): string {
  const header = ['scenario', 'mode', 'requests', 'p50 ms', 'p99 ms', 'p50 speed-up']
  const lines = result.rows.map((r) => [
    r.scenario,
    r.mode,
    String(r.requests),
    r.p50Ms.toFixed(3),
    r.p99Ms.toFixed(3),
    `${r.speedupP50.toFixed(1)}×`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    `GET /api/items/counts on ${result.items.toLocaleString('en')} items (SQLite, seeded in ${result.seedMs} ms)`,
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...lines.map(fmt),
    ...result.notes,
  ].join('\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const items = Number(process.env.BENCH_ITEMS ?? 200_000)
  runFilterCountsBench({ items }).then(
    (result) => console.log(formatTable(result)),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
