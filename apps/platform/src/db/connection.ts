import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { redact } from '@cacheport/cache-core'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

/** Which SQL engine a {@link DatabaseHandle} talks to. */
export type Dialect = 'sqlite' | 'postgres'

/** An open database: the Kysely instance plus what the app and its tests need around it. */
export interface DatabaseHandle {
  /** The query builder. */
  readonly db: Kysely<Database>
  /** The engine behind it. */
  readonly dialect: Dialect
  /** Where it lives, safe to print (passwords redacted). */
  readonly location: string
  /** The better-sqlite3 connection, for bulk loads that bypass the query builder; SQLite only. */
  readonly sqlite: BetterSqlite3.Database | undefined
  /** Statements executed since open; tests read it to prove a cached call did not query. */
  queryCount(): number
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>
  /** Closes every connection. */
  close(): Promise<void>
}

const PG_INT8 = 20
const PG_TIMESTAMPTZ = 1184
const PG_TIMESTAMP = 1114

/**
 * Opens the database named by `url`: `postgres://…` for PostgreSQL, anything else is a SQLite file
 * path (created with its folder when missing) or `:memory:`.
 */
export function openDatabase(url: string): DatabaseHandle {
  let count = 0
  const log = () => {
    count++
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      // Per-pool parsers, so nothing global in `pg` changes: ids and counts fit a JS number, and
      // timestamps read as the same ISO strings SQLite stores.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
          if (oid === PG_INT8) return (v: string) => Number(v)
          if (oid === PG_TIMESTAMPTZ || oid === PG_TIMESTAMP) return (v: string) => new Date(v).toISOString()
          return pg.types.getTypeParser(oid, format as 'text')
        }) as typeof pg.types.getTypeParser,
      },
    })
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log })
    return handle(db, 'postgres', redact(url), undefined, () => count)
  }
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true })
  const sqlite = new BetterSqlite3(url)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  // SQLite's own lower() folds only A-Z, so "Über" would never match a search for "über" as it does
  // on PostgreSQL; JavaScript's folding is the one the app applies to the search text itself.
  sqlite.function('lower', { deterministic: true }, (value: unknown) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  )
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log })
  return handle(db, 'sqlite', url, sqlite, () => count)
}

function handle(
  db: Kysely<Database>,
  dialect: Dialect,
  location: string,
  sqlite: BetterSqlite3.Database | undefined,
  queryCount: () => number,
): DatabaseHandle {
  return {
    db,
    dialect,
    location,
    sqlite,
    queryCount,
    async ping() {
      await sql`select 1`.execute(db)
    },
    async close() {
      await db.destroy()
    },
  }
}
