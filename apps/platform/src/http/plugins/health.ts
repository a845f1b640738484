import type { FastifyInstance } from 'fastify'
import { renderMetrics } from '../metrics.js'
import type { ServerDeps } from '../routes-common.js'

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

/**
 * `/health` for load balancers and `/metrics` for Prometheus: public, since probes and scrapers do
 * not sign in, and neither shows item data.
 */
export async function healthRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { caches, database } = deps

  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8')
    return renderMetrics(caches)
  })

  app.get('/health', { config: { access: 'public' } }, async (_request, reply) => {
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
}
