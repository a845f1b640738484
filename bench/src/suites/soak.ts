/**
 * The long soak: the same run as adapter-redis' soak test (mixed operations on Redis-only and tiered
 * caches while `CLIENT KILL` closes their connections), for minutes instead of seconds.
 * `CACHEPORT_SOAK_MS` sets the measured time (default 5 minutes).
 */
import { redisAdapter } from '@cacheport/adapter-redis'
import { runSoak } from '../../../packages/adapter-redis/test/helpers/soak.js'
import { addTargets, note, type SuiteReport, valueTarget } from '../harness.js'
import { withDedicatedRedis } from '../redis-server.js'

const DURATION_MS = Number(process.env.CACHEPORT_SOAK_MS ?? 300_000)

/** Runs the long soak on a redis-server of its own and checks its targets. */
export async function soakSuite(report: SuiteReport): Promise<void> {
  await withDedicatedRedis(report, async (server) => {
    note(report, `soak of ${DURATION_MS / 1000} s after a warm-up, CLIENT KILL every second`)
    const soak = await runSoak({ url: server.url(), redisAdapter, durationMs: DURATION_MS })
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
    note(
      report,
      `${soak.operations} operations, ${soak.kills} kills closing ${soak.killedConnections} connections, ` +
        `${soak.invalidationRejections} invalidations rejected with E_ADAPTER (the store was unreachable), ` +
        `hit rate ${(soak.hitRate * 100).toFixed(1)}%`,
    )
    report.data.soak = soak
    const leaked = soak.listenersAfter.reduce(
      (sum, n, i) => sum + Math.max(0, n - soak.listenersBefore[i]!),
      0,
    )
    addTargets(
      report,
      valueTarget('errors thrown to readers and writers', soak.readWriteErrors.length, '<=', 0, 'errors'),
      valueTarget(
        'invalidation errors other than E_ADAPTER',
        soak.unexpectedInvalidationErrors.length,
        '<=',
        0,
        'errors',
      ),
      valueTarget('listeners added to the clients', leaked, '<=', 0, 'listeners'),
      valueTarget('process warnings (MaxListenersExceeded, ...)', soak.warnings.length, '<=', 0, 'errors'),
      valueTarget(
        'heap of objects after GC, end vs start',
        soak.heapAfter / soak.heapBefore,
        '<=',
        1.1,
        'x',
        `${mib(soak.heapAfter)} vs ${mib(soak.heapBefore)} MiB`,
      ),
    )
  })
}
