import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresDatabase, prepareDatabase, startTestApp, type TestApp, tempDir } from './helpers.js'

const databases = {
  SQLite: async () => {
    const dir = tempDir()
    const url = join(dir.path, 'search.sqlite')
    await prepareDatabase(url, 20)
    return { url, cleanup: async () => dir.remove() }
  },
  PostgreSQL: async () => {
    const database = await createPostgresDatabase()
    await prepareDatabase(database.url, 20)
    return { url: database.url, cleanup: database.drop }
  },
}

for (const [label, provide] of Object.entries(databases)) {
  describe(`search on ${label}`, () => {
    let t: TestApp
    let cleanup: () => Promise<void>

    beforeAll(async () => {
      const database = await provide()
      cleanup = database.cleanup
      t = await startTestApp(database.url)
      const { created } = await t.app.ingest.ingestFile(
        Buffer.from(
          'Material id,Title,Filename,Department\n' +
            '990101,Über Ökonomie,ÉCOLE-reader.pdf,Applied Physics\n' +
            '990102,Ancient Greek: ΑΘΗΝΑ,athena.pdf,Applied Physics\n',
        ),
        'accents.csv',
      )
      expect(created).toBe(2)
    })
    afterAll(async () => {
      await t?.stop()
      await cleanup?.()
    })

    const found = async (search: string) =>
      (await t.app.queries.list({ search, perPage: 100 })).items.map((i) => i.materialId)

    it.each([
      ['its own title', 'Über Ökonomie', 990101],
      ['lower case', 'über ökonomie', 990101],
      ['upper case', 'ÜBER ÖKONOMIE', 990101],
      ['an accented capital in a file name', 'école', 990101],
      ['Greek capitals', 'αθηνα', 990102],
    ])('finds an item by %s, whatever the case of its non-ASCII letters', async (_what, search, id) => {
      expect(await found(search)).toEqual([id])
      expect((await t.app.queries.getFilterCounts({ search })).All).toBe(1)
    })
  })
}
