import { createPostgresDatabase, prepareDatabase } from './helpers.js'
import { type DatabaseProvider, defineServiceTests } from './service-suite.js'

const postgres: DatabaseProvider = async () => {
  const database = await createPostgresDatabase()
  await prepareDatabase(database.url)
  return { url: database.url, cleanup: database.drop }
}

for (const backend of ['memory', 'redis', 'noop'] as const)
  defineServiceTests('PostgreSQL', backend, postgres)
