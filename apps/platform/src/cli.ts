import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { isCacheError } from '@cacheport/cache-core'
import { type App, createApp } from './app.js'
import { type AppConfig, loadConfig } from './config.js'
import { openDatabase } from './db/connection.js'
import { countItems, migrateToLatest } from './db/migrations.js'
import { seedItems } from './db/seed.js'
import { AppError } from './lib/errors.js'
import { startSimulators } from './simulators/index.js'
import type { Simulator } from './simulators/simulator.js'

const USAGE = `usage: cli <command> [options]

commands:
  demo                 seed if empty, start the simulators and the server, print the URL
  serve                start the server on the configured database and upstreams
  seed [--items N] [--seed S]   replace all items with N generated ones (default 20000)
  ingest <file>        ingest a Qlik export (.csv or .xlsx) and print the batch summary
  check-files [--limit N]       check items' files in Canvas and record the results

environment: DATABASE_URL, CACHE_BACKEND, REDIS_URL, USE_CACHE, CACHE_TTL_*, PORT, OSIRIS_BASE_URL,
PEOPLE_BASE_URL, CANVAS_API_URL, CANVAS_API_TOKEN, LOG_LEVEL, SIMULATOR_LATENCY_MS`

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

async function demo(): Promise<void> {
  const config = loadConfig()
  await seedIfEmpty(config, 20_000)
  const latencyRaw = process.env.SIMULATOR_LATENCY_MS?.trim() || '150'
  const latencyMs = Number(latencyRaw)
  if (!Number.isSafeInteger(latencyMs) || latencyMs < 0) {
    throw new AppError(
      'E_VALIDATION',
      `environment variable SIMULATOR_LATENCY_MS must be a whole number of milliseconds, got ${JSON.stringify(latencyRaw)}`,
      { field: 'SIMULATOR_LATENCY_MS' },
    )
  }
  const simulators = await startSimulators(config.canvasApiToken, { latencyMs })
  const upstreams = {
    osirisBaseUrl: config.osirisBaseUrl ?? simulators.osiris.url,
    peopleBaseUrl: config.peopleBaseUrl ?? simulators.people.url,
    canvasApiUrl: config.canvasApiUrl ?? simulators.canvas.url,
  }
  const app = await createApp({ ...config, ...upstreams })
  const url = await app.listen()
  onShutdown(async () => {
    await app.close()
    await simulators.stop()
  })
  const simulated = (name: string, configured: string | undefined, sim: Simulator) =>
    `${name.padEnd(8)} ${configured ? configured : `${sim.url} (simulator, ${latencyMs} ms latency)`}`
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
      simulated('osiris', config.osirisBaseUrl, simulators.osiris),
      simulated('people', config.peopleBaseUrl, simulators.people),
      simulated('canvas', config.canvasApiUrl, simulators.canvas),
      '',
      `try: curl '${url}/api/items/counts?faculty=EEMCS'  ·  ${url}/metrics  ·  Ctrl-C to stop`,
      '',
    ].join('\n'),
  )
}

async function serve(): Promise<void> {
  const app = await createApp(loadConfig())
  const url = await app.listen()
  onShutdown(() => app.close())
  console.log(`Easy Access is running at ${url}`)
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
        `${summary.updated} updated, ${summary.skipped} skipped, ${summary.failed} failed, ${summary.dropped} without material id`,
    )
    for (const failure of summary.failures) console.log(`  row ${failure.row}: ${failure.reason}`)
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
      const results = await app.canvas!.checkMany(refs)
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

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv
  switch (command) {
    case 'demo':
      return demo()
    case 'serve':
      return serve()
    case 'seed':
      return seed(args)
    case 'ingest':
      return ingest(args)
    case 'check-files':
      return checkFiles(args)
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
