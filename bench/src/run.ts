/**
 * Runs the benchmark suites named on the command line (`pnpm bench -- memory redis`), or every suite
 * that can run here, in one process so that ratios compare like with like. Prints each suite's tables
 * and targets, a summary of every target, and writes everything to `results/latest.json`.
 *
 * A missed target is reported, not fatal: the exit code is non-zero only when a suite crashed or the
 * command line named an unknown suite.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { newReport, printTargets, type SuiteReport } from './harness.js'
import { redisAnswers } from './redis-server.js'
import { compressionSuite } from './suites/compression.js'
import { failoverSuite } from './suites/failover.js'
import { growthSuite } from './suites/growth.js'
import { memorySuite } from './suites/memory.js'
import { platformSuite, platformUnavailable } from './suites/platform.js'
import { redisSuite } from './suites/redis.js'
import { soakSuite } from './suites/soak.js'
import { tagsSuite } from './suites/tags.js'
import { tieredSuite } from './suites/tiered.js'

interface Suite {
  /** What the suite compares, printed as its heading. */
  readonly title: string
  /** Why it cannot run here, or undefined when it can. */
  readonly unavailable?: () => Promise<string | undefined>
  /** Fills the report; throws on a crash. */
  readonly run: (report: SuiteReport) => Promise<void>
}

const suites: Record<string, Suite> = {
  memory: {
    title: 'memory — in-process hits, decorated calls and key digests',
    run: memorySuite,
  },
  growth: {
    title: 'growth — heap over 10M distinct keys on a bounded memory cache, hostile pattern deletes',
    run: growthSuite,
  },
  redis: {
    title: 'redis — Redis adapter beside raw ioredis, bentocache and cache-manager',
    // The suite runs on a redis-server of its own; a machine without Redis at the usual place is
    // taken as one without Redis at all.
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: redisSuite,
  },
  tiered: {
    title:
      'tiered — memory L1 over Redis L2: L1 hits beside bentocache and cache-manager, invalidation latency',
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: tieredSuite,
  },
  compression: {
    title: 'compression — bytes stored and set + get time of 1 KB, 100 KB and 1 MB JSON values on Redis',
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: compressionSuite,
  },
  tags: {
    title: 'tags — a 100k-entry L1 under tag churn, and tagged writes on Redis, beside bentocache',
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: tagsSuite,
  },
  soak: {
    title: 'soak — Redis and tiered caches under CLIENT KILL for minutes: errors, listeners, heap',
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: soakSuite,
  },
  failover: {
    title:
      'failover — Redis Cluster (3 primaries + 3 replicas) failing over under 200 callers: calls over the bound, hit rate per shard, recovery',
    unavailable: async () =>
      (await redisAnswers('127.0.0.1', 6379))
        ? undefined
        : 'no Redis answers at 127.0.0.1:6379 (install and start Redis to run this suite)',
    run: failoverSuite,
  },
  platform: {
    title: "platform — the example app's filter-counts endpoint, cache off vs warm",
    unavailable: async () => platformUnavailable(),
    run: platformSuite,
  },
}

const resultsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json')

async function main(): Promise<number> {
  const requested = process.argv.slice(2).filter((arg) => arg !== '--')
  const unknown = requested.filter((name) => !(name in suites))
  if (unknown.length > 0) {
    console.error(
      `unknown suite ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${Object.keys(suites).join(', ')}`,
    )
    return 2
  }
  const selected = requested.length > 0 ? requested : Object.keys(suites)
  const startedAt = new Date()
  console.log(
    `Cacheport benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, suites: ${selected.join(', ')}`,
  )

  const reports: SuiteReport[] = []
  for (const name of selected) {
    const suite = suites[name]!
    const report = newReport(name)
    reports.push(report)
    console.log(`\n=== ${suite.title}`)
    const reason = await suite.unavailable?.()
    if (reason) {
      report.skipped = reason
      console.log(`  SKIPPED: ${reason}`)
      continue
    }
    const started = performance.now()
    try {
      await suite.run(report)
    } catch (error) {
      report.errors.push(error instanceof Error ? (error.stack ?? error.message) : String(error))
      console.log(
        `  ERROR: suite "${name}" stopped: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
    printTargets(report.targets)
    console.log(`  (${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  }

  const all = reports.flatMap((r) => r.targets.map((t) => ({ suite: r.suite, ...t })))
  const failed = all.filter((t) => !t.pass)
  console.log('\n=== summary')
  for (const r of reports) {
    if (r.skipped) console.log(`  ${r.suite}: skipped — ${r.skipped}`)
    for (const error of r.errors) console.log(`  ${r.suite}: ERROR — ${error.split('\n')[0]}`)
  }
  console.log(`  targets: ${all.length - failed.length} PASS, ${failed.length} FAIL`)
  for (const t of failed) console.log(`  FAIL  [${t.suite}] ${t.label}`)

  await mkdir(dirname(resultsFile), { recursive: true })
  const durationMs = Math.round(performance.now())
  await writeFile(
    resultsFile,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        durationMs,
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim(),
        suites: reports,
        summary: { pass: all.length - failed.length, fail: failed.length },
      },
      null,
      2,
    )}\n`,
  )
  console.log(`  results written to ${resultsFile} (${(durationMs / 1000).toFixed(1)} s in total)`)
  return reports.some((r) => r.errors.length > 0) ? 1 : 0
}

process.exitCode = await main()
