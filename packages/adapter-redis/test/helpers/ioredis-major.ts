import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The ioredis major this test run uses: 5 under `vitest.ioredis5.config.ts`, 6 otherwise. */
export const IOREDIS_MAJOR = process.env.CACHEPORT_IOREDIS === '5' ? 5 : 6

const register = join(dirname(fileURLToPath(import.meta.url)), 'ioredis5-register.mjs')

/** Node flags for a spawned test process, so that it loads the same ioredis as the run. */
export function nodeFlags(): string[] {
  return IOREDIS_MAJOR === 5 ? ['--import', register, '--import', 'tsx'] : ['--import', 'tsx']
}
