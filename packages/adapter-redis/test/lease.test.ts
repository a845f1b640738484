import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { nodeFlags } from './helpers/ioredis-major.js'
import { lineReader } from './helpers/line-reader.js'
import { SHARED_URL } from './helpers/shared.js'

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const child = join(packageRoot, 'test', 'fixtures', 'lease-child.ts')
const PROCESSES = 4
const CALLS_PER_PROCESS = 50

const raw = new Redis(SHARED_URL)
const keyPrefix = `lease${randomUUID().slice(0, 8)}`
const counterKey = `${keyPrefix}:loader-runs`

afterAll(async () => {
  const keys = await raw.keys(`${keyPrefix}*`)
  if (keys.length > 0) await raw.unlink(keys)
  raw.disconnect()
})

describe('cross-process lease', () => {
  it(`runs the loader once for ${PROCESSES} processes × ${CALLS_PER_PROCESS} concurrent getOrSet on one cold key`, async () => {
    const procs = Array.from({ length: PROCESSES }, () =>
      spawn(
        process.execPath,
        [
          ...nodeFlags(),
          child,
          SHARED_URL,
          keyPrefix,
          'filter_counts:cold',
          String(CALLS_PER_PROCESS),
          counterKey,
        ],
        { cwd: packageRoot, stdio: ['pipe', 'pipe', 'inherit'] },
      ),
    )
    const nextLine = procs.map(lineReader)
    const exits = procs.map((p) => new Promise<number | null>((resolve) => p.once('exit', resolve)))
    try {
      expect(await Promise.all(nextLine.map((next) => next()))).toEqual(Array(PROCESSES).fill('ready'))
      // Every process is connected before any starts, so they all race for the same cold key.
      for (const p of procs) p.stdin!.end('go\n')
      const reports = (await Promise.all(nextLine.map((next) => next()))).map(
        (line) => JSON.parse(line) as { loads: number; distinct: string[] },
      )
      expect(await Promise.all(exits)).toEqual(Array(PROCESSES).fill(0))

      expect(Number(await raw.get(counterKey))).toBe(1)
      expect(reports.reduce((sum, r) => sum + r.loads, 0)).toBe(1)
      for (const report of reports) {
        expect(report.distinct).toEqual([JSON.stringify({ faculty: 'EEMCS', counts: [3, 1, 4] })])
      }
      // The holder released its lease: nothing is left behind but the value itself.
      expect(await raw.exists(`${keyPrefix}:1#lease:filter_counts:cold`)).toBe(0)
    } finally {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    }
  })
})
