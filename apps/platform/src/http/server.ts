import { ErrorCodes, isCacheError } from '@cacheport/cache-core'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify'
import { AppError, AppErrorCodes } from '../lib/errors.js'
import auth, { type Access } from './plugins/auth.js'
import { cacheRoutes } from './plugins/cache.js'
import { canvasRoutes } from './plugins/canvas.js'
import { healthRoutes } from './plugins/health.js'
import { ingestRoutes } from './plugins/ingest.js'
import { itemRoutes } from './plugins/items.js'
import { osirisRoutes } from './plugins/osiris.js'
import { pageRoutes } from './plugins/page.js'
import type { ServerDeps } from './routes-common.js'
import { traceRequests } from './tracing.js'

/** A route as registered: method, URL pattern and who may call it. */
export interface RouteSummary {
  method: string
  url: string
  access: Access
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the server with its access, for the tests that prove each one is guarded. */
    routeSummaries(): RouteSummary[]
  }
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

/**
 * Builds the Fastify app: sign-in once for every route, then one plugin per resource (items, Osiris,
 * Canvas, ingest, caches, health and metrics, the page).
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Request lines go to debug (below) so that info shows only what an operator acts on.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  })
  // First, so that every later hook (sign-in included) runs inside the request's span.
  if (deps.tracing) traceRequests(app)
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
    if ((error as FastifyError).code?.startsWith('FST_CSRF_')) {
      return reply.status(403).send({
        error: AppErrorCodes.CROSS_SITE,
        field: 'X-CSRF-Token',
        message:
          'the request has no valid CSRF token: send the token from GET /api/session in the X-CSRF-Token header',
      })
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

  const routes: RouteSummary[] = []
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, access: route.config?.access ?? 'staff' })
    }
  })
  app.decorate('routeSummaries', () => [...routes])

  await app.register(auth, { users: deps.users, ...deps.session })
  for (const plugin of [
    pageRoutes,
    itemRoutes,
    osirisRoutes,
    canvasRoutes,
    ingestRoutes,
    cacheRoutes,
    healthRoutes,
  ]) {
    await app.register(plugin, deps)
  }
  return app
}
