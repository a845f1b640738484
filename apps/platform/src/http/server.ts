import { type CacheRegistry, ErrorCodes, isCacheError } from '@cacheport/cache-core'
import multipart from '@fastify/multipart'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify'
import type { Logger } from 'pino'
import type { DatabaseHandle } from '../db/connection.js'
import { WORKFLOW_FILTERS } from '../domain.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import type { CanvasClient, FileRef } from '../services/canvas-client.js'
import {
  type ItemFilter,
  type ItemQueryService,
  normaliseFilter,
  PAGE_SIZES,
  SORT_FIELDS,
} from '../services/item-query-service.js'
import type { ItemService } from '../services/item-service.js'
import type { OsirisClient } from '../services/osiris-client.js'
import type { QlikIngestService } from '../services/qlik-ingest.js'
import { renderDashboard } from './dashboard.js'
import { renderMetrics } from './metrics.js'

/** What the HTTP layer serves. */
export interface ServerDeps {
  logger: Logger
  database: DatabaseHandle
  caches: CacheRegistry
  queries: ItemQueryService
  items: ItemService
  ingest: QlikIngestService
  /** `undefined` when neither Osiris nor the people pages are configured. */
  osiris: OsirisClient | undefined
  /** `undefined` when Canvas is not configured. */
  canvas: CanvasClient | undefined
  /** Shown on the dashboard. */
  backend: string
  /** The instance's name, when it has one (`INSTANCE_NAME`). */
  instance?: string | undefined
}

const MAX_UPLOAD_BYTES = 50 * 1024 * 1024

const filterSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: WORKFLOW_FILTERS },
    faculty: { type: 'string', maxLength: 16 },
    search: { type: 'string', maxLength: 200 },
    page: { type: 'integer', minimum: 1 },
    perPage: { type: 'integer', enum: PAGE_SIZES },
    sort: { type: 'string', enum: SORT_FIELDS },
    order: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const

/** A material id from the URL; anything but a positive whole number is a 400 naming the field. */
export function parseMaterialId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) === 0) {
    throw badInput('materialId', `material id must be a positive whole number, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

function fieldOf(error: FastifyError): string {
  const first = error.validation?.[0]
  if (!first) return 'request'
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty
  return (
    missing ??
    (first.instancePath.replace(/^\//, '').replace(/\//g, '.') || error.validationContext || 'request')
  )
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0]
  if (!first) return error.message
  const field = fieldOf(error)
  const allowed = (first.params as { allowedValues?: unknown[] } | undefined)?.allowedValues
  const base = first.message ?? 'is invalid'
  return `${field} ${base}${allowed ? ` (${allowed.map((v) => JSON.stringify(v)).join(', ')})` : ''}`
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Builds the Fastify app: JSON API, dashboard, metrics and health. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { database, caches, queries, items, ingest, logger } = deps
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Request lines go to debug (below) so that info shows only what an operator acts on.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  })
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })
  await app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1 } })

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.statusCode >= 500) request.log.warn({ err: error }, error.message)
      return reply
        .status(error.statusCode)
        .send({ error: error.code, field: error.field, message: error.message })
    }
    if ((error as FastifyError).validation) {
      const field = fieldOf(error as FastifyError)
      return reply
        .status(400)
        .send({ error: AppErrorCodes.VALIDATION, field, message: validationMessage(error as FastifyError) })
    }
    if (isCacheError(error)) {
      const status =
        error.code === ErrorCodes.UNKNOWN_CACHE
          ? 404
          : error.code === ErrorCodes.ADAPTER || error.code === ErrorCodes.TIMEOUT
            ? 503
            : 400
      return reply.status(status).send({ error: error.code, field: error.field, message: error.message })
    }
    const status = (error as FastifyError).statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    return reply.status(status).send({
      error: (error as FastifyError).code ?? 'E_INTERNAL',
      message: status >= 500 ? 'internal error' : error.message,
    })
  })

  const requireOsiris = () => {
    if (!deps.osiris) {
      throw new AppError(
        AppErrorCodes.UPSTREAM,
        'Osiris is not configured: set OSIRIS_BASE_URL and PEOPLE_BASE_URL',
        {
          field: 'OSIRIS_BASE_URL',
        },
      )
    }
    return deps.osiris
  }
  const requireCanvas = () => {
    if (!deps.canvas) {
      throw new AppError(AppErrorCodes.UPSTREAM, 'Canvas is not configured: set CANVAS_API_URL', {
        field: 'CANVAS_API_URL',
      })
    }
    return deps.canvas
  }
  const cacheStats = () =>
    Object.fromEntries(
      caches.entries().map(([name, cache]) => [name, { ...cache.stats(), status: cache.status() }]),
    )

  app.get('/', { schema: { querystring: filterSchema } }, async (request, reply) => {
    const query = request.query as ItemFilter
    const f = normaliseFilter(query)
    const [page, faculties] = await Promise.all([queries.list(query), queries.getFaculties()])
    reply.type('text/html; charset=utf-8')
    return renderDashboard({
      filter: {
        status: f.status,
        faculty: f.faculty ?? '',
        search: query.search?.trim() ?? '',
        page: f.page,
        perPage: f.perPage,
      },
      page,
      faculties,
      caches: cacheStats(),
      backend: deps.backend,
      instance: deps.instance,
    })
  })

  app.get('/api/items', { schema: { querystring: filterSchema } }, async (request) =>
    queries.list(request.query as ItemFilter),
  )

  app.get(
    '/api/items/counts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { faculty: filterSchema.properties.faculty, search: filterSchema.properties.search },
        },
      },
    },
    async (request) => queries.getFilterCounts(request.query as ItemFilter),
  )

  app.get('/api/faculties', async () => queries.getFaculties())

  app.get('/api/items/:materialId', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    const item = await queries.getItem(id)
    if (!item)
      throw new AppError(AppErrorCodes.NOT_FOUND, `no item with material id ${id}`, { field: 'materialId' })
    return item
  })

  app.patch('/api/items/:materialId', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    return items.update(id, request.body)
  })

  app.get('/api/osiris/courses/:code', async (request, reply) => {
    const code = (request.params as { code: string }).code
    const course = await requireOsiris().fetchCourseDetails(code)
    if (course === null) {
      return reply
        .status(404)
        .send({ error: AppErrorCodes.NOT_FOUND, field: 'code', message: `Osiris has no course ${code}` })
    }
    return course
  })

  app.get(
    '/api/osiris/people',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 2, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const name = (request.query as { name: string }).name
      const person = await requireOsiris().fetchPersonData(name)
      if (person === null) {
        return reply.status(404).send({
          error: AppErrorCodes.NOT_FOUND,
          field: 'name',
          message: `the people pages have no match for ${name}`,
        })
      }
      return person
    },
  )

  app.get('/api/canvas/items/:materialId/file-exists', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    const item = await queries.getItem(id)
    if (!item)
      throw new AppError(AppErrorCodes.NOT_FOUND, `no item with material id ${id}`, { field: 'materialId' })
    const check = await requireCanvas().checkFileExistence(item)
    if (check.checkedAt !== item.last_canvas_check) await items.recordFileChecks([check])
    return check
  })

  app.post(
    '/api/canvas/check',
    {
      schema: {
        body: {
          type: 'object',
          required: ['materialIds'],
          additionalProperties: false,
          properties: {
            materialIds: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { type: 'integer', minimum: 1 },
            },
          },
        },
      },
    },
    async (request) => {
      const canvas = requireCanvas()
      const ids = [...new Set((request.body as { materialIds: number[] }).materialIds)]
      const rows = await database.db
        .selectFrom('copyright_items')
        .select(['material_id', 'url'])
        .where('material_id', 'in', ids)
        .execute()
      const found = new Map<number, FileRef>(rows.map((r) => [r.material_id, r]))
      const results = await canvas.checkMany([...found.values()])
      const checks = results.flatMap((r) => (r.ok ? [r.check] : []))
      await items.recordFileChecks(checks)
      const missingIds = ids.filter((id) => !found.has(id))
      return {
        checked: checks.length,
        exists: checks.filter((c) => c.exists).length,
        missing: checks.filter((c) => !c.exists).length,
        errors: results.length - checks.length,
        unknownIds: missingIds,
        results,
      }
    },
  )

  app.post('/api/ingest/qlik', async (request) => {
    if (!request.isMultipart())
      throw badInput('file', 'upload the Qlik export as multipart/form-data in field "file"')
    const file = await request.file()
    if (!file) throw badInput('file', 'upload the Qlik export as multipart/form-data in field "file"')
    const data = await file.toBuffer()
    if (data.length === 0)
      throw new AppError(AppErrorCodes.MALFORMED_FILE, 'the uploaded file is empty', { field: 'file' })
    return ingest.ingestFile(data, file.filename || 'upload')
  })

  app.get('/api/cache/stats', async () => ({ caches: cacheStats() }))

  app.post('/api/cache/:name/clear', async (request) => {
    const name = (request.params as { name: string }).name
    await caches.get(name).clear()
    return { cleared: name }
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8')
    return renderMetrics(caches)
  })

  app.get('/health', async (_request, reply) => {
    let databaseStatus: { status: 'up' | 'down'; dialect: string; error?: string }
    try {
      await withTimeout(database.ping(), 2_000, 'database')
      databaseStatus = { status: 'up', dialect: database.dialect }
    } catch (error) {
      databaseStatus = { status: 'down', dialect: database.dialect, error: (error as Error).message }
    }
    // `adapter` names the tiers ("memory+redis"); l1Hits and staleHits show whether they pay off.
    const cacheHealth = Object.fromEntries(
      caches.entries().map(([name, cache]) => {
        const { adapter, l1Hits, staleHits } = cache.stats()
        return [name, { adapter, status: cache.status(), l1Hits, staleHits }]
      }),
    )
    // Caches fail open, so an unavailable one degrades speed, not correctness: only the database decides 503.
    const degraded = Object.values(cacheHealth).some((c) => c.status !== 'ready')
    const status = databaseStatus.status === 'down' ? 'down' : degraded ? 'degraded' : 'ok'
    reply.status(status === 'down' ? 503 : 200)
    return { status, instance: deps.instance ?? null, database: databaseStatus, caches: cacheHealth }
  })

  return app
}
