import type { CacheRegistry } from '@cacheport/cache-core'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { UserService } from './auth/users.js'
import { buildCaches } from './caches.js'
import type { AppConfig } from './config.js'
import { type DatabaseHandle, openDatabase } from './db/connection.js'
import { migrateToLatest } from './db/migrations.js'
import { buildServer } from './http/server.js'
import { createLogger } from './logger.js'
import { type AppMetrics, createMetrics, instrumentAppCaches } from './observability.js'
import { CacheInvalidation } from './services/cache-invalidation.js'
import { CanvasClient } from './services/canvas-client.js'
import { ItemQueryService } from './services/item-query-service.js'
import { ItemService } from './services/item-service.js'
import { OsirisClient } from './services/osiris-client.js'
import { QlikIngestService } from './services/qlik-ingest.js'
import { CacheHistory } from './services/read-tracking.js'

/** A running (or ready to run) Easy Access application. */
export interface App {
  readonly config: AppConfig
  readonly logger: Logger
  readonly database: DatabaseHandle
  readonly caches: CacheRegistry
  readonly queries: ItemQueryService
  readonly items: ItemService
  readonly ingest: QlikIngestService
  readonly users: UserService
  readonly osiris: OsirisClient | undefined
  readonly canvas: CanvasClient | undefined
  readonly invalidation: CacheInvalidation
  readonly server: FastifyInstance
  /** The prom-client registry `/metrics` serves (process and cache metrics). */
  readonly metrics: AppMetrics['registry']
  /** Starts listening on `config.port`; resolves with the base URL. */
  listen(): Promise<string>
  /** Stops the server, closes the caches and the database. */
  close(): Promise<void>
}

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /** Logger to use; one at `config.logLevel` otherwise. */
  logger?: Logger
  /** Open database to use instead of `config.databaseUrl` (not closed by the app). */
  database?: DatabaseHandle
}

/**
 * Wires the application: database (migrated), caches from configuration, services and the HTTP
 * server. The caches become the default registry, so one app runs per process at a time.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel)
  const database = options.database ?? openDatabase(config.databaseUrl)
  try {
    await migrateToLatest(database.db, database.dialect)
  } catch (error) {
    if (!options.database) await database.close()
    throw error
  }
  const caches = buildCaches(config, logger)
  // In tiered mode, the first reads are served in-process only once the invalidation bus is up.
  await caches.ready()
  const defaultCache = caches.get('default')
  const queries = new ItemQueryService(database, defaultCache, config.ttl.faculties)
  const osiris =
    config.osirisBaseUrl && config.peopleBaseUrl
      ? new OsirisClient({
          osirisBaseUrl: config.osirisBaseUrl,
          peopleBaseUrl: config.peopleBaseUrl,
          cache: defaultCache,
          courseTtl: config.ttl.osirisCourse,
          pastCourseTtl: config.ttl.osirisPastCourse,
          personTtl: config.ttl.osirisPerson,
          courseGrace: config.grace.osirisCourse,
          personGrace: config.grace.osirisPerson,
          timeoutMs: config.upstreamTimeoutMs,
        })
      : undefined
  const canvas = config.canvasApiUrl
    ? new CanvasClient({
        apiUrl: config.canvasApiUrl,
        token: config.canvasApiToken,
        cache: defaultCache,
        ttl: config.ttl.fileExists,
        goneTtl: config.ttl.fileGone,
        grace: config.grace.fileExists,
        timeoutMs: config.upstreamTimeoutMs,
        concurrency: config.canvasConcurrency,
      })
    : undefined
  const invalidation = new CacheInvalidation(
    caches,
    queries,
    osiris,
    logger.child({ component: 'invalidation' }),
  )
  const items = new ItemService(database, invalidation)
  const ingest = new QlikIngestService(
    database,
    invalidation,
    config.ingestLimits,
    logger.child({ component: 'ingest' }),
  )
  const users = new UserService(database)
  const history = new CacheHistory(caches)
  const metrics = createMetrics(caches)
  const instrumentation = instrumentAppCaches(caches, config.tracing)
  const backend = config.useCache ? config.cacheBackend : `${config.cacheBackend} (USE_CACHE=false: noop)`
  const server = await buildServer({
    logger,
    database,
    caches,
    queries,
    items,
    ingest,
    users,
    osiris,
    canvas,
    backend,
    instance: config.instanceName,
    session: {
      secret: config.sessionSecret,
      secure: config.cookieSecure,
      maxAgeSeconds: config.sessionMaxAgeSeconds,
    },
    ingestLimits: config.ingestLimits,
    history,
    metrics: metrics.registry,
    tracing: config.tracing !== 'off',
  })

  let closed = false
  return {
    config,
    logger,
    database,
    caches,
    queries,
    items,
    ingest,
    users,
    osiris,
    canvas,
    invalidation,
    server,
    metrics: metrics.registry,
    async listen() {
      await server.listen({ port: config.port, host: config.host })
      const address = server.server.address()
      const port = typeof address === 'object' && address ? address.port : config.port
      return `http://${config.host}:${port}`
    },
    async close() {
      if (closed) return
      closed = true
      history.close()
      await server.close()
      instrumentation?.close()
      metrics.close()
      // A merge still running would write to a closed database.
      await ingest.idle()
      try {
        await caches.closeAll()
      } finally {
        if (!options.database) await database.close()
      }
    },
  }
}
