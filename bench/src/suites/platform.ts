import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { note, type SuiteReport } from '../harness.js'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** The example application's own benchmark of its filter-counts endpoint. */
export const platformScript = join(repoRoot, 'apps', 'platform', 'bench', 'filter-counts.ts')
const shownPath = relative(repoRoot, platformScript)

/** Why the platform suite cannot run, or undefined when the script is there. */
export function platformUnavailable(): string | undefined {
  return existsSync(platformScript)
    ? undefined
    : `${shownPath} does not exist yet (the example app's benchmark)`
}

// The names the script may export its entry point under, most specific first.
const entryNames = ['runFilterCountsBench', 'benchFilterCounts', 'filterCountsBench', 'runBench', 'default']

/** Suite 3: runs the example app's filter-counts benchmark and keeps what it returns. */
export async function platformSuite(report: SuiteReport): Promise<void> {
  const module = (await import(pathToFileURL(platformScript).href)) as Record<string, unknown>
  const name =
    entryNames.find((n) => typeof module[n] === 'function') ??
    Object.keys(module).find((n) => typeof module[n] === 'function')
  if (!name) throw new Error(`${shownPath} exports no function to run`)
  note(report, `running ${name}() from ${shownPath}`)
  const result = await (module[name] as () => unknown)()
  report.data.result = result
  printResult(result)
}

function printResult(result: unknown): void {
  const rows = Array.isArray(result)
    ? result
    : result && typeof result === 'object' && Array.isArray((result as { rows?: unknown }).rows)
      ? (result as { rows: unknown[] }).rows
      : undefined
  if (rows?.every((row) => row && typeof row === 'object')) console.table(rows)
  else console.log(JSON.stringify(result, null, 2))
}
