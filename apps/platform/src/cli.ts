import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { isCacheError, redact } from '@cacheport/cache-core'
import { type App, createApp } from './app.js'
import { generatePassword } from './auth/passwords.js'
import { ROLES, type Role, UserService } from './auth/users.js'
import { startInstance } from './cluster.js'
import { type AppConfig, loadConfig } from './config.js'
import { openDatabase } from './db/connection.js'
import { countItems, migrateToLatest } from './db/migrations.js'
import { seedItems } from './db/seed.js'
import { AppError } from './lib/errors.js'
import { startTracing, type Tracing } from './observability.js'
import { startSimulators } from './simulators/index.js'
import type { Simulator } from './simulators/simulator.js'

const USAGE = `usage: cli <command> [options]

commands:
  demo                 seed if empty, start the simulators and the server, print the URL
  demo --instances N   the same with N app processes on consecutive ports over one database and one
                       Redis (CACHE_BACKEND=tiered unless set; REDIS_URL defaults to localhost)
  serve                start the server on the configured database and upstreams
  seed [--items N] [--seed S]   replace all items with N generated ones (default 20000)
  ingest <file>        ingest a Qlik export (.csv or .xlsx) and print the batch summary
  check-files [--limit N]       check items' files in Canvas and record the results
  users add <name> [--role staff|admin]   create a user; the password is read from stdin when
                       piped (echo "$PW" | cli users add ...), else generated and printed once
  users list           list the users and their roles

environment: DATABASE_URL, CACHE_BACKEND (memory, redis, tiered, noop), REDIS_URL, USE_CACHE,
CACHE_TTL_*, CACHE_GRACE_*, PORT, OSIRIS_BASE_URL, PEOPLE_BASE_URL, CANVAS_API_URL, CANVAS_API_TOKEN,
LOG_LEVEL, INSTANCE_NAME, SIMULATOR_LATENCY_MS, SESSION_SECRET, COOKIE_SECURE, INGEST_MAX_*`

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name)
  if (index === -1) return fallback
  const value = Number(args[index + 1])
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AppError(
      'E_VALIDATION',
      `${name} needs a whole number, got ${JSON.stringify(args[index + 1])}`,
      {
        field: name,
      },
    )
  }
  return value
}

async function seedIfEmpty(config: AppConfig, items: number): Promise<void> {
  const database = openDatabase(config.databaseUrl)
  try {
    await migrateToLatest(database.db, database.dialect)
    if ((await countItems(database.db)) === 0) {
      const started = performance.now()
      await seedItems(database, { items })
      console.log(
        `seeded ${items} items in ${Math.round(performance.now() - started)} ms (${database.location})`,
      )
    }
  } finally {
    await database.close()
  }
}

function onShutdown(close: () => Promise<void>): void {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: shutting down`)
    close().then(
      () => process.exit(0),
      (error) => {
        console.error(error)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

function simulatorLatency(): number {
  const latencyRaw = process.env.SIMULATOR_LATENCY_MS?.trim() || '150'
  const latencyMs = Number(latencyRaw)
  if (!Number.isSafeInteger(latencyMs) || latencyMs < 0) {
    throw new AppError(
      'E_VALIDATION',
      `environment variable SIMULATOR_LATENCY_MS must be a whole number of milliseconds, got ${JSON.stringify(latencyRaw)}`,
      { field: 'SIMULATOR_LATENCY_MS' },
    )
  }
  return latencyMs
}

/** The demo's users; their passwords are new on every start and printed with the URL. */
const DEMO_USERS: ReadonlyArray<{ username: string; role: Role }> = [
  { username: 'admin', role: 'admin' },
  { username: 'staff', role: 'staff' },
]

async function createDemoUsers(
  config: AppConfig,
): Promise<Array<{ username: string; role: Role; password: string }>> {
  const database = openDatabase(config.databaseUrl)
  try {
    const users = new UserService(database)
    const created = []
    for (const user of DEMO_USERS) {
      const password = generatePassword()
      await users.upsert(user.username, password, user.role)
      created.push({ ...user, password })
    }
    return created
  } finally {
    await database.close()
  }
}

function credentialLines(users: ReadonlyArray<{ username: string; role: Role; password: string }>): string[] {
  return [
    'sign in as',
    ...users.map(
      (u) =>
        `  ${u.username.padEnd(6)} ${u.password}   (${u.role === 'admin' ? 'admin: also ingest and cache clear' : 'staff: read and edit items'})`,
    ),
  ]
}

const simulated = (name: string, configured: string | undefined, sim: Simulator, latencyMs: number) =>
  `${name.padEnd(8)} ${configured ? configured : `${sim.url} (simulator, ${latencyMs} ms latency)`}`

async function demo(args: string[]): Promise<void> {
  const instances = option(args, '--instances', 1)
  if (instances < 1 || instances > MAX_INSTANCES) {
    throw new AppError('E_VALIDATION', `--instances must be from 1 to ${MAX_INSTANCES}, got ${instances}`, {
      field: '--instances',
    })
  }
  if (instances > 1) return demoInstances(instances)
  const config = loadConfig()
  await seedIfEmpty(config, 20_000)
  const demoUsers = await createDemoUsers(config)
  const latencyMs = simulatorLatency()
  const simulators = await startSimulators(config.canvasApiToken, { latencyMs })
  const upstreams = {
    osirisBaseUrl: config.osirisBaseUrl ?? simulators.osiris.url,
    peopleBaseUrl: config.peopleBaseUrl ?? simulators.people.url,
    canvasApiUrl: config.canvasApiUrl ?? simulators.canvas.url,
  }
  const tracing = startTracing(config.tracing)
  const app = await createApp({ ...config, ...upstreams })
  const url = await app.listen()
  onShutdown(async () => {
    await app.close()
    await simulators.stop()
    await tracing?.shutdown()
  })
  console.log(
    [
      '',
      `Easy Access is running at ${url}  (ready ${process.uptime().toFixed(1)} s after start)`,
      '',
      `database ${app.database.location} (${app.database.dialect})`,
      `caches   ${app.caches
        .entries()
        .map(([name, c]) => `${name}=${c.adapter.name}`)
        .join(', ')}${config.useCache ? '' : ' (USE_CACHE=false)'}`,
      simulated('osiris', config.osirisBaseUrl, simulators.osiris, latencyMs),
      simulated('people', config.peopleBaseUrl, simulators.people, latencyMs),
      simulated('canvas', config.canvasApiUrl, simulators.canvas, latencyMs),
      tracingLine(config.tracing),
      '',
      ...credentialLines(demoUsers),
      '',
      `open ${url} and sign in  ·  ${url}/metrics  ·  Ctrl-C to stop`,
      '',
    ].join('\n'),
  )
}

const MAX_INSTANCES = 8

/** The newest item in ToDo, so the demo can print an edit that changes the counts. */
async function sampleToDoItem(config: AppConfig): Promise<number | undefined> {
  const database = openDatabase(config.databaseUrl)
  try {
    const row = await database.db
      .selectFrom('copyright_items')
      .select('material_id')
      .where('workflow_status', '=', 'ToDo')
      .orderBy('modified_at', 'desc')
      .limit(1)
      .executeTakeFirst()
    return row?.material_id
  } finally {
    await database.close()
  }
}

/**
 * Several app processes over one database and one Redis, as a deployment behind a load balancer
 * runs them, with one set of simulators. Each instance has its own in-process tier; the invalidation
 * bus is what makes an edit on one show on the others at once.
 */
async function demoInstances(count: number): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env }
  if (!env.CACHE_BACKEND?.trim()) env.CACHE_BACKEND = 'tiered'
  if (env.CACHE_BACKEND.trim() === 'tiered' && !env.REDIS_URL?.trim())
    env.REDIS_URL = 'redis://127.0.0.1:6379'
  // One session key for every instance, so a sign-in on A is valid on B, as behind a load balancer.
  if (!env.SESSION_SECRET?.trim()) env.SESSION_SECRET = randomBytes(32).toString('hex')
  const config = loadConfig(env)
  if (config.port !== 0 && config.port + count - 1 > 65_535) {
    throw new AppError('E_VALIDATION', `PORT ${config.port} leaves no room for ${count} consecutive ports`, {
      field: 'PORT',
    })
  }
  await seedIfEmpty(config, 20_000)
  const demoUsers = await createDemoUsers(config)
  const latencyMs = simulatorLatency()
  const simulators = await startSimulators(config.canvasApiToken, { latencyMs })
  const shared = {
    ...env,
    OSIRIS_BASE_URL: config.osirisBaseUrl ?? simulators.osiris.url,
    PEOPLE_BASE_URL: config.peopleBaseUrl ?? simulators.people.url,
    CANVAS_API_URL: config.canvasApiUrl ?? simulators.canvas.url,
  }
  const names = Array.from({ length: count }, (_, i) => String.fromCharCode(65 + i))
  const width = Math.max(...names.map((n) => n.length))
  const started = await Promise.allSettled(
    names.map((name, i) =>
      startInstance(
        name,
        { ...shared, PORT: String(config.port === 0 ? 0 : config.port + i) },
        { onLine: (line) => console.log(`[${name.padEnd(width)}] ${line}`) },
      ),
    ),
  )
  const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(instances.map((instance) => instance.stop()))
    await simulators.stop()
    throw failed.reason
  }

  let stopping = false
  const stopAll = async () => {
    stopping = true
    await Promise.all(instances.map((instance) => instance.stop()))
    await simulators.stop()
  }
  onShutdown(stopAll)
  for (const instance of instances) {
    void instance.exited.then((code) => {
      if (stopping) return
      console.error(`instance ${instance.name} exited with code ${code}; stopping the others`)
      void stopAll().finally(() => process.exit(1))
    })
  }

  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]]
  const itemId = (await sampleToDoItem(config)) ?? 1
  const tiers = config.cacheBackend === 'tiered' && config.useCache
  const note =
    config.cacheBackend === 'memory' && config.useCache
      ? 'note     each instance has a memory cache of its own: an edit on one is not seen by the others until\n' +
        '         their entries expire. CACHE_BACKEND=tiered (or redis) shares them.'
      : tiers
        ? 'caches   memory (L1, per instance) in front of Redis (L2, shared); edits reach every L1 over the\n' +
          `         invalidation bus on ${redact(config.redisUrl ?? '')}`
        : `caches   ${config.useCache ? config.cacheBackend : 'noop (USE_CACHE=false)'}`
  console.log(
    [
      '',
      `Easy Access is running as ${count} instances over one database  (ready ${process.uptime().toFixed(1)} s after start)`,
      '',
      ...instances.map((instance) => `  ${instance.name.padEnd(width)}  ${instance.url}`),
      '',
      `database ${redact(config.databaseUrl)}`,
      note,
      simulated('osiris', config.osirisBaseUrl, simulators.osiris, latencyMs),
      simulated('people', config.peopleBaseUrl, simulators.people, latencyMs),
      simulated('canvas', config.canvasApiUrl, simulators.canvas, latencyMs),
      tracingLine(config.tracing),
      '',
      ...credentialLines(demoUsers),
      '',
      `try: open ${a.url} and ${b.url} side by side (one sign-in serves both), or with curl:`,
      `  curl -s -c jar -H 'content-type: application/json' -d '{"username":"staff","password":"${demoUsers[1]!.password}"}' ${a.url}/api/session   # prints the csrfToken`,
      `  curl -s -b jar ${b.url}/api/items/counts                    # B reads the counts (twice: the second is an L1 hit)`,
      `  curl -s -b jar -X PATCH ${a.url}/api/items/${itemId} -H "x-csrf-token: $TOKEN" -H 'content-type: application/json' -d '{"workflowStatus":"Done"}'`,
      `  curl -s -b jar ${b.url}/api/items/counts                    # B at once: ToDo one less, Done one more`,
      `  curl -s -b jar ${b.url}/api/cache/stats                     # l1Hits, staleHits per cache and key prefix`,
      '',
      'Ctrl-C stops every instance and the simulators.',
      '',
    ].join('\n'),
  )
}

/** How the demo's banner says where spans go. */
function tracingLine(tracing: AppConfig['tracing']): string {
  if (tracing === 'console') return 'tracing  spans printed to the console (OTEL_TRACES_EXPORTER=console)'
  if (tracing === 'otlp') {
    const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    return `tracing  OTLP to ${endpoint ?? 'http://localhost:4318'}`
  }
  return 'tracing  off (set OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=console)'
}

async function serve(): Promise<void> {
  const config = loadConfig()
  const tracing: Tracing | undefined = startTracing(config.tracing)
  const app = await createApp(config)
  const url = await app.listen()
  onShutdown(async () => {
    await app.close()
    await tracing?.shutdown()
  })
  const instance = config.instanceName ? ` (instance ${config.instanceName})` : ''
  console.log(`Easy Access${instance} is running at ${url}`)
}

async function seed(args: string[]): Promise<void> {
  const config = loadConfig()
  const items = option(args, '--items', 20_000)
  const database = openDatabase(config.databaseUrl)
  try {
    await migrateToLatest(database.db, database.dialect)
    const started = performance.now()
    await seedItems(database, { items, seed: option(args, '--seed', 42) })
    console.log(
      `seeded ${items} items in ${Math.round(performance.now() - started)} ms (${database.location})`,
    )
  } finally {
    await database.close()
  }
  // Cached counts of the old items would outlive them in a shared store.
  const app = await createApp(config)
  try {
    await app.invalidation.itemsChanged()
  } finally {
    await app.close()
  }
}

async function withApp(config: AppConfig, run: (app: App) => Promise<void>): Promise<void> {
  const app = await createApp(config)
  try {
    await run(app)
  } finally {
    await app.close()
  }
}

async function ingest(args: string[]): Promise<void> {
  const file = args.find((a) => !a.startsWith('--'))
  if (!file) throw new AppError('E_VALIDATION', 'ingest needs the path of a Qlik export', { field: 'file' })
  const data = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new AppError('E_VALIDATION', `cannot read ${file}: ${error.code ?? error.message}`, {
      field: 'file',
    })
  })
  await withApp(loadConfig(), async (app) => {
    const summary = await app.ingest.ingestFile(data, basename(file))
    console.log(
      `batch ${summary.batchId} (${summary.format}, ${summary.rows} rows): ${summary.created} created, ` +
        `${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.rejected} rejected, ${summary.dropped} without material id`,
    )
    for (const rejection of summary.rejections) console.log(`  row ${rejection.row}: ${rejection.reason}`)
    if (summary.rejected > summary.rejections.length) {
      console.log(
        `  … and ${summary.rejected - summary.rejections.length} more (table qlik_entries, batch ${summary.batchId})`,
      )
    }
  })
}

async function checkFiles(args: string[]): Promise<void> {
  const config = loadConfig()
  const limit = option(args, '--limit', 0)
  let simulator: Awaited<ReturnType<typeof startSimulators>> | undefined
  if (!config.canvasApiUrl) {
    simulator = await startSimulators(config.canvasApiToken, { latencyMs: 20 })
    console.log(`CANVAS_API_URL is not set: checking against the Canvas simulator at ${simulator.canvas.url}`)
  }
  try {
    await withApp({ ...config, canvasApiUrl: config.canvasApiUrl ?? simulator?.canvas.url }, async (app) => {
      let query = app.database.db
        .selectFrom('copyright_items')
        .select(['material_id', 'url'])
        .orderBy('material_id')
      if (limit > 0) query = query.limit(limit)
      const refs = await query.execute()
      const started = performance.now()
      const results = await app.canvas!.checkMany(
        refs.map((r) => ({ materialId: r.material_id, url: r.url })),
      )
      const checks = results.flatMap((r) => (r.ok ? [r.check] : []))
      await app.items.recordFileChecks(checks)
      const exists = checks.filter((c) => c.exists).length
      console.log(
        `checked ${refs.length} files in ${Math.round(performance.now() - started)} ms: ${exists} exist, ` +
          `${checks.length - exists} missing, ${results.length - checks.length} failed`,
      )
      for (const failure of results.filter((r) => !r.ok).slice(0, 10)) {
        if (!failure.ok) console.log(`  ${failure.materialId}: ${failure.error}`)
      }
    })
  } finally {
    await simulator?.stop()
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}

async function usersCommand(args: string[]): Promise<void> {
  const [action, name] = args
  const config = loadConfig()
  const database = openDatabase(config.databaseUrl)
  try {
    await migrateToLatest(database.db, database.dialect)
    const users = new UserService(database)
    if (action === 'list') {
      for (const user of await users.list()) console.log(`${user.username}\t${user.role}`)
      return
    }
    if (action !== 'add' || !name) {
      throw new AppError('E_VALIDATION', 'usage: users add <name> [--role staff|admin] | users list', {
        field: 'users',
      })
    }
    const roleIndex = args.indexOf('--role')
    const role = (roleIndex === -1 ? 'staff' : args[roleIndex + 1]) as Role
    if (!ROLES.includes(role)) {
      throw new AppError(
        'E_VALIDATION',
        `--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`,
        {
          field: '--role',
        },
      )
    }
    // A password on the command line would stay in the shell history and the process list.
    const piped = !process.stdin.isTTY
    const password = piped ? await readStdin() : generatePassword()
    const user = await users.create(name, password, role)
    console.log(`created ${user.role} ${user.username}${piped ? '' : ` with password ${password}`}`)
  } finally {
    await database.close()
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv
  switch (command) {
    case 'demo':
      return demo(args)
    case 'serve':
      return serve()
    case 'seed':
      return seed(args)
    case 'ingest':
      return ingest(args)
    case 'check-files':
      return checkFiles(args)
    case 'users':
      return usersCommand(args)
    default:
      console.log(USAGE)
      if (command !== undefined && command !== 'help' && command !== '--help') process.exitCode = 2
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof AppError || isCacheError(error)) console.error(`error: ${error.message}`)
  else console.error(error)
  process.exit(1)
})
