import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../src/db/connection.js'
import { migrateToLatest } from '../src/db/migrations.js'
import { generateItems, seedItems } from '../src/db/seed.js'
import { tempDir } from './helpers.js'

describe('seeding SQLite', () => {
  it('writes exactly the generated items, in batches with a remainder, and keeps every item index', async () => {
    const dir = tempDir()
    const database = openDatabase(join(dir.path, 'seed.sqlite'))
    try {
      await migrateToLatest(database.db, database.dialect)
      const sqlite = database.sqlite!
      const indexes = () =>
        sqlite
          .prepare(
            "select name, sql from sqlite_master where type = 'index' and tbl_name = 'copyright_items' order by name",
          )
          .all()
      const before = indexes()
      expect(before.length).toBeGreaterThanOrEqual(3)

      // Not a multiple of the rows per statement: the last statement is a shorter one.
      const count = 1_003
      expect(await seedItems(database, { items: count, seed: 7 })).toBe(count)
      const stored = sqlite.prepare('select * from copyright_items order by material_id').all() as Array<
        Record<string, unknown>
      >
      const expected = [...generateItems(count, 7)].sort((a, b) => a.material_id - b.material_id)
      expect(stored).toHaveLength(count)
      for (const [i, item] of expected.entries()) expect(stored[i]).toMatchObject(item)
      // The indexes were built again, as they were defined, and the queries use them.
      expect(indexes()).toEqual(before)
      const plan = sqlite
        .prepare(
          "explain query plan select count(*) from copyright_items where faculty = 'EEMCS' group by workflow_status",
        )
        .all() as Array<{ detail: string }>
      expect(plan.map((p) => p.detail).join(' ')).toContain('copyright_items_faculty_workflow')

      // Seeding again replaces the items.
      expect(await seedItems(database, { items: 10, seed: 7 })).toBe(10)
      expect(sqlite.prepare('select count(*) as n from copyright_items').get()).toEqual({ n: 10 })
      expect(indexes()).toEqual(before)
    } finally {
      await database.close()
      dir.remove()
    }
  })
})
