import { join } from 'node:path'
import { prepareDatabase, tempDir } from './helpers.js'
import { type DatabaseProvider, defineServiceTests } from './service-suite.js'

const sqlite: DatabaseProvider = async () => {
  const dir = tempDir()
  const url = join(dir.path, 'platform.sqlite')
  await prepareDatabase(url)
  return { url, cleanup: dir.remove }
}

for (const backend of ['memory', 'redis', 'tiered', 'noop'] as const)
  defineServiceTests('SQLite', backend, sqlite)
// The seed's rollback switch: configured for Redis, but every cache is the no-op adapter.
defineServiceTests('SQLite', 'redis', sqlite, { USE_CACHE: 'false' })
