import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely'
import { DEPARTMENTS, FACULTIES } from '../domain.js'
import type { Dialect } from './connection.js'
import type { Database } from './schema.js'

/** The schema's migrations, in order; each works on SQLite and PostgreSQL. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  const pg = dialect === 'postgres'
  const bigint = pg ? 'bigint' : 'integer'
  const timestamp = pg ? 'timestamptz' : 'text'
  const serial = pg ? 'serial' : 'integer'
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('faculties')
          .addColumn('abbreviation', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('departments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('faculty', 'text', (c) => c.notNull().references('faculties.abbreviation'))
          .execute()
        await db.schema
          .createTable('copyright_items')
          .addColumn('material_id', bigint, (c) => c.primaryKey())
          .addColumn('filename', 'text')
          .addColumn('title', 'text')
          .addColumn('author', 'text')
          .addColumn('publisher', 'text')
          .addColumn('remarks', 'text')
          .addColumn('period', 'text')
          .addColumn('department', 'text')
          .addColumn('course_code', 'text')
          .addColumn('course_name', 'text')
          .addColumn('owner', 'text')
          .addColumn('status', 'text')
          .addColumn('filetype', 'text')
          .addColumn('workflow_status', 'text', (c) => c.notNull().defaultTo('ToDo'))
          .addColumn('classification', 'text')
          .addColumn('type', 'text')
          .addColumn('ml_prediction', 'text')
          .addColumn('manual_classification', 'text')
          .addColumn('manual_identifier', 'text')
          .addColumn('scope', 'text')
          .addColumn('auditor', 'text')
          .addColumn('last_change', 'text')
          .addColumn('in_collection', 'text')
          .addColumn('reliability', 'text')
          .addColumn('pages_x_students', bigint)
          .addColumn('v2_manual_classification', 'text')
          .addColumn('v2_overnamestatus', 'text')
          .addColumn('v2_lengte', 'text')
          .addColumn('faculty', 'text', (c) => c.notNull().references('faculties.abbreviation'))
          .addColumn('url', 'text')
          .addColumn('file_exists', 'integer')
          .addColumn('last_canvas_check', timestamp)
          .addColumn('canvas_course_id', bigint)
          .addColumn('isbn', 'text')
          .addColumn('doi', 'text')
          .addColumn('pagecount', 'integer')
          .addColumn('wordcount', 'integer')
          .addColumn('picturecount', 'integer')
          .addColumn('count_students_registered', 'integer')
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('modified_at', timestamp, (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('copyright_items_workflow_status')
          .on('copyright_items')
          .column('workflow_status')
          .execute()
        await db.schema
          .createIndex('copyright_items_faculty_workflow')
          .on('copyright_items')
          .columns(['faculty', 'workflow_status'])
          .execute()
        await db.schema
          .createIndex('copyright_items_modified_at')
          .on('copyright_items')
          .column('modified_at')
          .execute()
        await db.schema
          .createTable('courses')
          .addColumn('cursuscode', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text')
          .addColumn('faculty', 'text')
          .addColumn('year', 'integer')
          .addColumn('updated_at', timestamp, (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('persons')
          .addColumn('input_name', 'text', (c) => c.primaryKey())
          .addColumn('faculty', 'text')
          .addColumn('updated_at', timestamp, (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('ingest_batches')
          .addColumn('id', serial, (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('format', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('rows_total', 'integer', (c) => c.notNull())
          .addColumn('created', 'integer', (c) => c.notNull())
          .addColumn('updated', 'integer', (c) => c.notNull())
          .addColumn('skipped', 'integer', (c) => c.notNull())
          .addColumn('failed', 'integer', (c) => c.notNull())
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('qlik_entries')
          .addColumn('id', serial, (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('batch_id', 'integer', (c) =>
            c.notNull().references('ingest_batches.id').onDelete('cascade'),
          )
          .addColumn('row_number', 'integer', (c) => c.notNull())
          .addColumn('material_id', bigint)
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .execute()
        await db.schema.createIndex('qlik_entries_batch').on('qlik_entries').column('batch_id').execute()
        await db.schema
          .createTable('item_changes')
          .addColumn('id', serial, (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('material_id', bigint, (c) => c.notNull())
          .addColumn('batch_id', 'integer')
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('field', 'text', (c) => c.notNull())
          .addColumn('old_value', 'text')
          .addColumn('new_value', 'text')
          .addColumn('changed_at', timestamp, (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('item_changes_material')
          .on('item_changes')
          .column('material_id')
          .execute()

        await db
          .insertInto('faculties')
          .values(FACULTIES.map((f) => ({ ...f })))
          .execute()
        await db
          .insertInto('departments')
          .values(Object.entries(DEPARTMENTS).map(([name, faculty]) => ({ name, faculty })))
          .execute()
      },
      async down(db: Kysely<any>) {
        for (const table of [
          'item_changes',
          'qlik_entries',
          'ingest_batches',
          'persons',
          'courses',
          'copyright_items',
          'departments',
          'faculties',
        ]) {
          await db.schema.dropTable(table).ifExists().execute()
        }
      },
    },
    '0002_users': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('username', 'text', (c) => c.primaryKey())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .execute()
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('users').ifExists().execute()
      },
    },
    '0003_ingest_progress': {
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable('ingest_batches')
          .addColumn('processed', 'integer', (c) => c.notNull().defaultTo(0))
          .execute()
        await db.schema
          .alterTable('ingest_batches')
          .addColumn('dropped', 'integer', (c) => c.notNull().defaultTo(0))
          .execute()
        await db.schema.alterTable('ingest_batches').addColumn('error', 'text').execute()
        // Batches of earlier versions were written whole in one transaction.
        await db.updateTable('ingest_batches').set({ processed: sql`rows_total` }).execute()
      },
      async down(db: Kysely<any>) {
        for (const column of ['processed', 'dropped', 'error']) {
          await db.schema.alterTable('ingest_batches').dropColumn(column).execute()
        }
      },
    },
  }
}

class InlineProvider implements MigrationProvider {
  constructor(private readonly list: Record<string, Migration>) {}
  async getMigrations() {
    return this.list
  }
}

/** Brings the schema up to date; throws with the failing migration's name when one fails. */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineProvider(migrations(dialect)) })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    const name = failed ? ` "${failed.migrationName}"` : ''
    throw new Error(`database migration${name} failed: ${(error as Error)?.message ?? 'unknown error'}`, {
      cause: error,
    })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** The number of copyright items; 0 tells the demo to seed. */
export async function countItems(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('copyright_items')
    .select(sql<number>`count(*)`.as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
