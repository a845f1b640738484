import type { Cache, StoreMemory } from '@cacheport/cache-core'
import type { FastifyInstance } from 'fastify'
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

/** A cache's store memory as `/health` shows it, with what an operator should fix. */
interface MemoryHealth {
  usedBytes: number
  /** 0: no `maxmemory`. */
  maxBytes: number
  policy: string
  evictedKeys: number
  warnings: string[]
}

/**
 * The server memory of a Redis-backed cache (sampled by the adapter, so probes do not add INFO
 * calls), or `undefined` for stores that do not report it or do not answer in time.
 */
async function memoryHealth(cache: Cache): Promise<MemoryHealth | undefined> {
  const sample = cache.adapter.serverMemory
  if (!sample) return undefined
  let memory: StoreMemory | undefined
  try {
    memory = await withTimeout(sample.call(cache.adapter), 1_000, 'cache store')
  } catch {
    return undefined
  }
  if (!memory) return undefined
  const warnings: string[] = []
  // A cache that may fill memory must be allowed to evict; otherwise Redis grows until the host
  // kills it, or (noeviction) refuses every write once full.
  if (memory.maxBytes === 0) {
    warnings.push('maxmemory is unset: Redis grows until the host runs out of memory; set maxmemory')
  }
  if (memory.policy === 'noeviction') {
    warnings.push(
      'maxmemory-policy is noeviction: once full, Redis refuses writes instead of evicting; use allkeys-lru or volatile-lru',
    )
  }
  const { usedBytes, maxBytes, policy, evictedKeys } = memory
  return { usedBytes, maxBytes, policy, evictedKeys, warnings }
}

/**
 * `/health` for load balancers (with each Redis store's memory and what to fix about it) and
 * `/metrics` for Prometheus (prom-client: process and cache metrics): public, since probes and
 * scrapers do not sign in, and neither shows item data.
 */
export async function healthRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { caches, database, metrics } = deps

  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    reply.type(metrics.contentType)
    return metrics.metrics()
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
      await Promise.all(
        caches.entries().map(async ([name, cache]) => {
          const { adapter, l1Hits, staleHits } = cache.stats()
          const memory = await memoryHealth(cache)
          const health = { adapter, status: cache.status(), l1Hits, staleHits, ...(memory && { memory }) }
          return [name, health] as const
        }),
      ),
    )
    // Caches fail open, so an unavailable one degrades speed, not correctness: only the database decides 503.
    const degraded = Object.values(cacheHealth).some((c) => c.status !== 'ready')
    const status = databaseStatus.status === 'down' ? 'down' : degraded ? 'degraded' : 'ok'
    reply.status(status === 'down' ? 503 : 200)
    return { status, instance: deps.instance ?? null, database: databaseStatus, caches: cacheHealth }
  })
}
