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

/** Items in the database of each run: the seed's size, ten times it, and a million. */
const SIZES = [20_000, 200_000, 1_000_000] as const

/** The part of the script's result this suite reads. */
interface FilterCountsResult {
  items: number
  seedMs: number
  rows: Array<{ scenario: string; mode: string; p50Ms: number; p99Ms: number; speedupP50: number }>
  notes: string[]
}

/** The script's exports this suite uses. */
interface FilterCountsModule {
  runFilterCountsBench(options?: { redisUrl?: string; items?: number }): Promise<FilterCountsResult>
  formatTable?(result: FilterCountsResult): string
}

/** Why the platform suite cannot run, or undefined when the script is there. */
export function platformUnavailable(): string | undefined {
  return existsSync(platformScript)
    ? undefined
    : `${shownPath} does not exist yet (the example app's benchmark)`
}

/**
 * Suite 3: runs the example app's filter-counts benchmark at 20k, 200k and 1M items, prints each
 * table and one by size, and checks the warm speed-up of every row.
 */
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
    const results: FilterCountsResult[] = []
    for (const items of SIZES) {
      note(
        report,
        `running runFilterCountsBench({ items: ${items} }) from ${shownPath}${server ? ` with Redis on port ${server.port}` : ''}`,
      )
      const result = await module.runFilterCountsBench({
        items,
        ...(server ? { redisUrl: server.url() } : {}),
      })
      results.push(result)
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
            `platform ${items.toLocaleString('en')} items, ${row.scenario}, ${row.mode}: p50 vs cache off`,
            row.speedupP50,
            '>=',
            WARM_SPEEDUP,
            'x',
            `p50 ${row.p50Ms} ms`,
          ),
        )
      }
    }
    report.data.results = results
    const table = summaryTable(results)
    report.data.table = table
    console.log(`\n  filter counts by size (markdown)\n${table.map((line) => `  ${line}`).join('\n')}`)
  } finally {
    await server?.stop()
  }
}

/** One markdown row per size and scenario: p50 (p99) per mode, and the warm speed-ups. */
function summaryTable(results: readonly FilterCountsResult[]): string[] {
  const modes = [...new Set(results.flatMap((r) => r.rows.map((row) => row.mode)))]
  const lines = [
    `| items | seeded in | scenario | ${modes.map((m) => `${m} p50 (p99)`).join(' | ')} |`,
    `| ---: | ---: | --- | ${modes.map(() => '---:').join(' | ')} |`,
  ]
  for (const result of results) {
    for (const scenario of [...new Set(result.rows.map((r) => r.scenario))]) {
      const cells = modes.map((mode) => {
        const row = result.rows.find((r) => r.scenario === scenario && r.mode === mode)
        if (row === undefined) return ''
        const speedup = mode === 'cache off' ? '' : `, ${row.speedupP50.toFixed(0)}×`
        return `${row.p50Ms.toFixed(2)} ms (${row.p99Ms.toFixed(2)})${speedup}`
      })
      lines.push(
        `| ${result.items.toLocaleString('en')} | ${(result.seedMs / 1000).toFixed(1)} s | ${scenario} | ${cells.join(' | ')} |`,
      )
    }
  }
  return lines
}
