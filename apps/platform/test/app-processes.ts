import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { type Simulators, startSimulators } from '../src/simulators/index.js'
import { prepareDatabase, simulatorEnv, TEST_TOKEN, tempDir } from './helpers.js'
import { scanKeys } from './service-suite.js'

/** One session key for every process of a test, so one sign-in serves them all. */
const SESSION_SECRET = randomBytes(32).toString('hex')

/** What tests that run the app as separate processes share: one prepared SQLite file and the simulators. */
export interface ProcessFixture {
  /** The SQLite file every process opens. */
  databaseUrl: string
  /** The upstream simulators every process is pointed at. */
  sims: Simulators
  /** An app process's env: `base`, then a free port, the shared database, session key and simulators, then `env`. */
  env(base: NodeJS.ProcessEnv, env: Record<string, string>): Record<string, string | undefined>
  /** Stops the simulators and removes the database's folder. */
  stop(): Promise<void>
}

/** Prepares a shared SQLite database of `items` items in a fresh folder and starts the simulators. */
export async function startProcessFixture(items: number): Promise<ProcessFixture> {
  const dir = tempDir()
  try {
    const databaseUrl = join(dir.path, 'shared.sqlite')
    await prepareDatabase(databaseUrl, items)
    const sims = await startSimulators(TEST_TOKEN, { latencyMs: 0 })
    return {
      databaseUrl,
      sims,
      env: (base, env) => ({
        ...base,
        PORT: '0',
        DATABASE_URL: databaseUrl,
        SESSION_SECRET,
        ...simulatorEnv(sims),
        ...env,
      }),
      async stop() {
        await sims.stop()
        dir.remove()
      },
    }
  } catch (error) {
    dir.remove()
    throw error
  }
}

/** Unlinks every key under the given prefixes, so a test leaves the shared Redis as it found it. */
export async function unlinkPrefixes(redis: Redis, prefixes: Record<string, string>): Promise<void> {
  for (const prefix of Object.values(prefixes)) {
    const keys = await scanKeys(redis, `${prefix}:*`)
    if (keys.length > 0) await redis.unlink(...keys)
  }
}
