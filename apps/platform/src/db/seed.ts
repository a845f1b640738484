import type BetterSqlite3 from 'better-sqlite3'
import { sql } from 'kysely'
import { canvasIds, catalogue, pick, prng, weighted } from '../catalogue.js'
import { CLASSIFICATIONS, V2_LENGTES, V2_MANUAL_CLASSIFICATIONS, V2_OVERNAMESTATUSES } from '../domain.js'
import type { DatabaseHandle } from './connection.js'
import type { NewItemRow } from './schema.js'

/** Options of {@link seedItems}. */
export interface SeedOptions {
  /**
   * How many items to create.
   * @default 20000
   */
  items?: number
  /**
   * PRNG seed; the same seed always gives the same items.
   * @default 42
   */
  seed?: number
  /**
   * Remove existing items (and their history) first.
   * @default true
   */
  replace?: boolean
}

const BLOCKS = ['1A', '1B', '2A', '2B', 'JAAR', 'SEM1', 'SEM2'] as const
const KINDS = ['Lecture', 'Slides', 'Reader', 'Chapter', 'Article', 'Exercises', 'Tutorial', 'Case study']
const PUBLISHERS = [
  'Elsevier',
  'Springer',
  'Wiley',
  'Pearson',
  'IEEE',
  'Sage',
  'Routledge',
  'Taylor & Francis',
  null,
]
const FILETYPE_EXT = { pdf: 'pdf', ppt: 'pptx', doc: 'docx', xlsx: 'xlsx', unknown: 'zip' } as const
/** Base of every generated timestamp, so seeds do not depend on the clock. */
const EPOCH = Date.parse('2025-09-01T08:00:00.000Z')
const DAY = 86_400_000

/** Generates `count` realistic items, deterministically from `seed`. */
export function* generateItems(count: number, seed = 42): Generator<NewItemRow> {
  const random = prng(seed)
  const { courses } = catalogue()
  const fileCounters = new Map<number, number>()
  for (let i = 0; i < count; i++) {
    const course = pick(random, courses)
    const block = pick(random, BLOCKS)
    const n = (fileCounters.get(course.canvasCourseId) ?? 0) + 1
    fileCounters.set(course.canvasCourseId, n)
    const fileId = canvasIds.fileId(course.canvasCourseId, n % 1000)
    const filetype = weighted(random, { pdf: 62, ppt: 22, doc: 8, xlsx: 3, unknown: 5 })
    const kind = pick(random, KINDS)
    const lastName = pick(random, [
      'Smith',
      'Jones',
      'Müller',
      'Dubois',
      'Janssen',
      'Rossi',
      'Nakamura',
      'Okafor',
    ])
    const pubYear = 1995 + Math.floor(random() * 30)
    const title = `${kind} ${1 + Math.floor(random() * 12)}: ${course.name}`
    const workflow = weighted(random, { ToDo: 55, InProgress: 15, Done: 30 })
    const done = workflow === 'Done'
    const created = EPOCH - Math.floor(random() * 400 * DAY)
    const modified = created + Math.floor(random() * (EPOCH - created))
    const classification = pick(random, CLASSIFICATIONS)
    const pagecount = filetype === 'pdf' || filetype === 'doc' ? 1 + Math.floor(random() * 300) : null
    const students = 10 + Math.floor(random() * 490)
    const teacher = course.teachers[0]!
    yield {
      material_id: 7_000_000 + i * 7 + Math.floor(random() * 7),
      filename: `${kind.toLowerCase().replace(/ /g, '_')}_${lastName.toLowerCase()}_${pubYear}.${FILETYPE_EXT[filetype]}`,
      title,
      author: random() < 0.8 ? `${lastName}, ${String.fromCharCode(65 + Math.floor(random() * 26))}.` : null,
      publisher: pick(random, PUBLISHERS),
      remarks:
        random() < 0.1
          ? pick(random, ['check licence', 'ask teacher', 'replace by link', 'duplicate'])
          : null,
      period: `${course.year}-${block}`,
      department: course.department,
      course_code: `${course.year}-${course.cursus}-${block}`,
      course_name: course.name,
      owner: teacher.name,
      status: weighted(random, { Published: 70, Unpublished: 20, Deleted: 10 }),
      filetype,
      workflow_status: workflow,
      classification,
      type: pick(random, ['file', 'link', 'page']),
      ml_prediction: pick(random, CLASSIFICATIONS),
      manual_classification: done ? classification : null,
      manual_identifier: null,
      scope: pick(random, ['course', 'module', 'programme']),
      auditor: done ? pick(random, ['E. Smit', 'R. Bakker', 'M. Visser']) : null,
      last_change: new Date(modified).toISOString().slice(0, 10),
      in_collection: random() < 0.2 ? 'yes' : 'no',
      reliability: pick(random, ['high', 'medium', 'low']),
      pages_x_students: pagecount === null ? null : pagecount * students,
      v2_manual_classification: done ? pick(random, V2_MANUAL_CLASSIFICATIONS) : null,
      v2_overnamestatus: done ? pick(random, V2_OVERNAMESTATUSES) : null,
      v2_lengte: done ? pick(random, V2_LENGTES) : null,
      faculty: course.faculty,
      url: `https://canvas.utwente.nl/courses/${course.canvasCourseId}/files/${fileId}`,
      file_exists: null,
      last_canvas_check: null,
      canvas_course_id: null,
      isbn: random() < 0.15 ? `978${String(Math.floor(random() * 1e10)).padStart(10, '0')}` : null,
      doi: random() < 0.15 ? `10.${1000 + Math.floor(random() * 9000)}/${Math.floor(random() * 1e6)}` : null,
      pagecount,
      wordcount: pagecount === null ? null : pagecount * (250 + Math.floor(random() * 300)),
      picturecount: pagecount === null ? null : Math.floor(random() * pagecount),
      count_students_registered: students,
      created_at: new Date(created).toISOString(),
      modified_at: new Date(modified).toISOString(),
    }
  }
}

/** Rows per INSERT statement on SQLite: 40 rows × 43 columns stays far under its 32,766 parameters. */
const SQLITE_ROWS_PER_INSERT = 40

/**
 * Fills the database with generated items in one transaction: multi-row inserts through prepared
 * statements on SQLite, with the item indexes built once at the end, and multi-row inserts on
 * PostgreSQL. Returns how many items were written.
 */
export async function seedItems(handle: DatabaseHandle, options: SeedOptions = {}): Promise<number> {
  const count = options.items ?? 20_000
  const seed = options.seed ?? 42
  const replace = options.replace ?? true
  const items = generateItems(count, seed)
  if (handle.sqlite) {
    seedSqlite(handle.sqlite, items, replace)
    return count
  }
  await handle.db.transaction().execute(async (trx) => {
    if (replace) {
      await sql`delete from item_changes`.execute(trx)
      await sql`delete from copyright_items`.execute(trx)
    }
    // 500 rows × 43 columns stays under PostgreSQL's 65,535 parameters per statement.
    let chunk: NewItemRow[] = []
    for (const item of items) {
      chunk.push(item)
      if (chunk.length === 500) {
        await trx.insertInto('copyright_items').values(chunk).execute()
        chunk = []
      }
    }
    if (chunk.length > 0) await trx.insertInto('copyright_items').values(chunk).execute()
  })
  return count
}

/**
 * The SQLite seed. Keeping three indexes up to date row by row is most of the cost of a large seed,
 * so they are dropped inside the transaction and built again once, from their own definitions, at
 * its end; a failure rolls all of it back. Rows go in by SQLITE_ROWS_PER_INSERT per statement.
 */
function seedSqlite(sqlite: BetterSqlite3.Database, items: Iterable<NewItemRow>, replace: boolean): void {
  const indexes = sqlite
    .prepare(
      "select name, sql from sqlite_master where type = 'index' and tbl_name = 'copyright_items' and sql is not null",
    )
    .all() as Array<{ name: string; sql: string }>
  const statements = new Map<number, BetterSqlite3.Statement>()
  const insert = (columns: readonly string[], rows: number): BetterSqlite3.Statement => {
    let statement = statements.get(rows)
    if (statement === undefined) {
      const tuple = `(${columns.map(() => '?').join(', ')})`
      statement = sqlite.prepare(
        `insert into copyright_items (${columns.join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}`,
      )
      statements.set(rows, statement)
    }
    return statement
  }
  sqlite.transaction(() => {
    if (replace) sqlite.exec('delete from item_changes; delete from copyright_items;')
    for (const index of indexes) sqlite.exec(`drop index "${index.name.replaceAll('"', '""')}"`)
    let columns: string[] | undefined
    // Positional parameters: binding by name costs a lookup per column per row.
    let params: unknown[] = []
    let rows = 0
    for (const item of items) {
      columns ??= Object.keys(item)
      for (const column of columns) params.push(item[column as keyof NewItemRow])
      if (++rows === SQLITE_ROWS_PER_INSERT) {
        insert(columns, rows).run(params)
        params = []
        rows = 0
      }
    }
    if (rows > 0) insert(columns!, rows).run(params)
    for (const index of indexes) sqlite.exec(index.sql)
  })()
}
