import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisAdapter } from '../src/index.js'
import { type RedisProcess, startRedis } from './helpers/redis-server.js'
import { runSoak } from './helpers/soak.js'

// Bounded for CI; `pnpm bench -- soak` runs the same soak for longer. CACHEPORT_SOAK_MS overrides.
const DURATION_MS = Number(process.env.CACHEPORT_SOAK_MS ?? 15_000)

let server: RedisProcess
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
})

describe('soak: Redis and tiered caches while their connections are killed', () => {
  it(
    'throws no error to readers and writers, leaks no listener and keeps the heap flat',
    async () => {
      const report = await runSoak({ url: server.url, redisAdapter, durationMs: DURATION_MS })
      console.log(
        `soak ${DURATION_MS} ms: ${report.operations} operations, ${report.kills} CLIENT KILLs ` +
          `(${report.killedConnections} connections), ${report.invalidationRejections} invalidations ` +
          `rejected with E_ADAPTER, hit rate ${(report.hitRate * 100).toFixed(1)}%, heap after GC ` +
          `${(report.heapBefore / 2 ** 20).toFixed(1)} -> ${(report.heapAfter / 2 ** 20).toFixed(1)} MiB`,
      )
      // The soak did what it says: connections were killed while callers kept working.
      expect(report.killedConnections).toBeGreaterThan(report.kills / 2)
      expect(report.operations).toBeGreaterThan(1000)
      expect(report.hitRate).toBeGreaterThan(0)

      expect(report.readWriteErrors).toEqual([])
      expect(report.unexpectedInvalidationErrors).toEqual([])
      expect(report.listenersAfter).toEqual(report.listenersBefore)
      expect(report.warnings).toEqual([])
      expect(report.heapAfter).toBeLessThanOrEqual(report.heapBefore * 1.1)
    },
    DURATION_MS + 30_000,
  )
})
