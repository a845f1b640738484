/**
 * Redis Cluster failover under load: adapter-redis' failover scenario
 * (`packages/adapter-redis/test/helpers/failover.ts`) on a 6-node cluster of its own (3 primaries, 3
 * replicas, `cluster-node-timeout` 1 s, `cluster-require-full-coverage no`), once with a planned
 * failover (`CLUSTER FAILOVER` on a replica) and once with a primary killed (SIGKILL), each under 200
 * callers of `getOrSet` and `getMany`. Reports calls over the bound (`timeout` plus the loader time a
 * call waited for), hit rate per shard over time and the failed shard's recovery time.
 */
import { redisAdapter } from '@cacheport/adapter-redis'
import {
  type FailoverReport,
  runFailover,
  startFailoverCluster,
} from '../../../packages/adapter-redis/test/helpers/failover.js'
import type { RedisCluster } from '../../../packages/adapter-redis/test/helpers/redis-server.js'
import { addTargets, note, type SuiteReport, valueTarget } from '../harness.js'

const TIMEOUT_MS = 500

/** Hit rates of one shard, window by window, as `12%` cells. */
function timeline(report: FailoverReport, shard: number): string {
  return report.windows[shard]!.map((w) =>
    w.calls === 0
      ? '   - '
      : `${Math.round((100 * w.hits) / w.calls)
          .toString()
          .padStart(4)}%`,
  ).join('')
}

function print(report: SuiteReport, run: FailoverReport, label: string): void {
  const windowMs = run.windows[run.failedShard]![1]?.fromMs ?? 250
  note(
    report,
    `${label}: ${run.calls} calls (${run.reads} keys read), promotion ${run.promotedAtMs} ms after the event, ` +
      `worst call ${run.worstMs} ms beyond its loader time (bound ${run.timeoutMs} ms + ${run.slackMs} ms slack, of which ${run.loopLagMs} ms the longest event-loop delay seen), ` +
      `${run.overBound.length} over it, ${run.thrown.length} errors thrown, ${run.wrong} wrong values, ` +
      `store failures reported: ${JSON.stringify(run.errorEvents)}`,
  )
  console.log(`    hit rate per ${windowMs} ms from the event (promotion at ${run.promotedAtMs} ms):`)
  console.log(
    `    ${'shard'.padEnd(16)}${run.windows[run.failedShard]!.map((w) => `${w.fromMs}`.padStart(6)).join('')}`,
  )
  for (const shard of [run.failedShard, ...run.healthyShards]) {
    const name = `${shard === run.failedShard ? 'failed' : 'healthy'} :${shard}`
    console.log(`    ${name.padEnd(16)}${timeline(run, shard).replace(/(.{5})/g, ' $1')}`)
  }
  addTargets(
    report,
    valueTarget(`${label}: calls over timeout + loader time`, run.overBound.length, '<=', 0, 'calls'),
    valueTarget(`${label}: errors thrown to callers`, run.thrown.length, '<=', 0, 'errors'),
    valueTarget(`${label}: wrong values`, run.wrong, '<=', 0, 'calls'),
    valueTarget(
      `${label}: lowest hit rate of a healthy shard in any ${windowMs} ms window of 20 reads or more`,
      Math.round(run.healthyMinHitRate * 1000) / 10,
      '>=',
      95,
      '%',
      `overall ${(run.healthyHitRate * 100).toFixed(1)}%`,
    ),
    valueTarget(
      `${label}: failed shard's hits back after the promotion`,
      Math.round(run.recoveryMs),
      '<=',
      1000,
      'ms',
      `${(run.failedHitRateAfter1s * 100).toFixed(1)}% hits from 1 s after it`,
    ),
  )
}

/** Runs a planned failover and a killed primary on a cluster of its own. */
export async function failoverSuite(report: SuiteReport): Promise<void> {
  let cluster: RedisCluster | undefined
  try {
    cluster = await startFailoverCluster()
    note(
      report,
      `6-node cluster on ports ${cluster.allPorts.join(', ')}; timeout and commandTimeout ${TIMEOUT_MS} ms, loads of 10 ms, 200 callers (1 in 5 reading batches of 5 keys), 30 keys per shard`,
    )
    const planned = await runFailover({
      cluster,
      redisAdapter,
      event: 'failover',
      primary: cluster.ports[0]!,
      timeoutMs: TIMEOUT_MS,
    })
    print(report, planned, 'planned failover')
    const killed = await runFailover({
      cluster,
      redisAdapter,
      event: 'kill',
      primary: cluster.ports[1]!,
      timeoutMs: TIMEOUT_MS,
    })
    print(report, killed, 'killed primary')
    report.data.failover = { planned, killed }
  } finally {
    await cluster?.stop()
  }
}
