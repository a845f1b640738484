import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { addTargets, note, type SuiteReport, valueTarget } from '../harness.js'
import { type DedicatedRedis, startRedisServer } from '../redis-server.js'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** The example application's own benchmark of its filter-counts endpoint. */
export const platformScript = join(repoRoot, 'apps', 'platform', 'bench', 'filter-counts.ts')
const shownPath = relative(repoRoot, platformScript)

/** How much faster a warm cache must answer than the database, at the median. */
const WARM_SPEEDUP = 20

/** The part of the script's result this suite reads. */
interface FilterCountsResult {
  rows: Array<{ scenario: string; mode: string; p50Ms: number; p99Ms: number; speedupP50: number }>
  notes: string[]
}

/** The script's exports this suite uses. */
interface FilterCountsModule {
  runFilterCountsBench(options?: { redisUrl?: string }): Promise<FilterCountsResult>
  formatTable?(result: FilterCountsResult): string
}

/** Why the platform suite cannot run, or undefined when the script is there. */
export function platformUnavailable(): string | undefined {
  return existsSync(platformScript)
    ? undefined
    : `${shownPath} does not exist yet (the example app's benchmark)`
}

/** Suite 3: runs the example app's filter-counts benchmark, prints its table and checks its target. */
export async function platformSuite(report: SuiteReport): Promise<void> {
  const module = (await import(pathToFileURL(platformScript).href)) as Partial<FilterCountsModule>
  if (typeof module.runFilterCountsBench !== 'function') {
    throw new Error(`${shownPath} does not export runFilterCountsBench()`)
  }

  // The Redis rows get a server of their own, like the redis suite; without redis-server on the
  // PATH the script falls back to its default location and says so in its notes.
  let server: DedicatedRedis | undefined
  try {
    server = await startRedisServer()
  } catch (error) {
    note(report, `no dedicated redis-server (${(error as Error).message}); the script picks its own Redis`)
  }
  try {
    note(
      report,
      `running runFilterCountsBench() from ${shownPath}${server ? ` with Redis on port ${server.port}` : ''}`,
    )
    const result = await module.runFilterCountsBench(server ? { redisUrl: server.url() } : {})
    report.data.result = result
    console.log()
    if (typeof module.formatTable === 'function') {
      for (const line of module.formatTable(result).split('\n')) console.log(`  ${line}`)
    } else {
      console.table(result.rows)
    }
    for (const row of result.rows) {
      if (row.mode === 'cache off') continue
      addTargets(
        report,
        valueTarget(
          `platform ${row.scenario}, ${row.mode}: p50 vs cache off`,
          row.speedupP50,
          '>=',
          WARM_SPEEDUP,
          'x',
          `p50 ${row.p50Ms} ms`,
        ),
      )
    }
  } finally {
    await server?.stop()
  }
}
