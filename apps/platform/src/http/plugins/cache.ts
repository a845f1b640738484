import type { FastifyInstance } from 'fastify'
import type { ServerDeps } from '../routes-common.js'

/** Cache statistics and clearing a cache (admins only). */
export async function cacheRoutes(
  app: FastifyInstance,
  { caches, history, queries }: ServerDeps,
): Promise<void> {
  app.get('/api/cache/stats', async () => ({
    caches: cacheStats(caches),
    // Hit rate per 10 s over the last minutes, the last point being the interval still running.
    history: history.history(),
    // Filter counts, the expensive aggregate: reads the cache answered vs reads the database did.
    countsLatency: queries.countsLatency.summary(),
  }))

  app.post('/api/cache/:name/clear', { config: { access: 'admin' } }, async (request) => {
    const name = (request.params as { name: string }).name
    await caches.get(name).clear()
    return { cleared: name }
  })
}

/** Each cache's counters and status, as the stats route and the dashboard show them. */
export function cacheStats(caches: ServerDeps['caches']) {
  return Object.fromEntries(
    caches.entries().map(([name, cache]) => [name, { ...cache.stats(), status: cache.status() }]),
  )
}
