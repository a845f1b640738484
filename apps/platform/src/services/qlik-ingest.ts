import type { Statement } from 'better-sqlite3'
import type { Insertable, Transaction } from 'kysely'
import type { Logger } from 'pino'
import type { IngestLimits } from '../config.js'
import type { DatabaseHandle } from '../db/connection.js'
import type { Database, ItemRow, NewItemRow } from '../db/schema.js'
import { CLASSIFICATIONS, cursusOfCourseCode, facultyOfDepartment, ITEM_STATUSES } from '../domain.js'
import { AppError, AppErrorCodes } from '../lib/errors.js'
import type { CacheInvalidation } from './cache-invalidation.js'
import { parseExport } from './qlik-parse.js'
import type { QlikColumn, QlikFormat, QlikRow } from './qlik-parser.js'

/** A row that was not ingested, with why. */
export interface IngestRejection {
  /** Row number in the file (the header is row 1). */
  row: number
  materialId: number | null
  reason: string
}

/** Where an ingest batch stands; once `status` is `done` it is the batch's summary. */
export interface IngestProgress {
  batchId: number
  /** `processing` while rows are merged; `failed` when the database failed part-way (see `error`). */
  status: 'processing' | 'done' | 'failed'
  source: string
  format: QlikFormat
  /** Data rows in the file. */
  rows: number
  /** Rows merged so far (of `rows`, less `dropped`). */
  processed: number
  created: number
  updated: number
  /** Rows that changed nothing. */
  unchanged: number
  /** Rows not ingested; `rejections` says why. */
  rejected: number
  /** Rows without a material id (dropped, as Qlik emits such subtotal rows). */
  dropped: number
  /** The first {@link MAX_REPORTED_REJECTIONS} rejected rows. */
  rejections: IngestRejection[]
  /** Why the batch failed, when it did. */
  error: string | null
}

/** An ingest that has been accepted and is being merged. */
export interface IngestJob {
  batchId: number
  /** Resolves with the summary when every row is merged; rejects when the batch failed. */
  done: Promise<IngestProgress>
}

/** Rejected rows a summary lists; all of them are in `qlik_entries`. */
export const MAX_REPORTED_REJECTIONS = 100

/**
 * Rows merged per transaction. better-sqlite3 runs each statement on the event loop, and a SQLite
 * transaction holds the app's one connection, so a chunk is kept to a few small statements with a
 * yield after each: other requests wait for at most one statement, and database reads for one chunk.
 */
const CHUNK_ROWS = 50
/** How often a long ingest lets the dashboard's counts catch up. */
const INVALIDATE_EVERY_MS = 2_000

type ItemFields = Omit<
  NewItemRow,
  'material_id' | 'created_at' | 'modified_at' | 'workflow_status' | 'faculty'
>
type Mapped = { materialId: number; fields: ItemFields }

/**
 * Who owns a field, and so what an ingest of an existing item may do with it:
 * - `qlik`: file and content metadata; the export's value replaces the stored one;
 * - `fill-blank`: ISBN and DOI, which staff may have corrected; the export only fills a blank;
 * - `keep-larger`: counts Qlik sometimes reports from a partial extraction;
 * - `staff`: the review (classification, remarks, …); set from the export on a new item only.
 * A blank or `-` cell is "no value in this export" and never clears anything.
 */
type Owner = 'qlik' | 'fill-blank' | 'keep-larger' | 'staff'

const TEXT_FIELDS: ReadonlyArray<[QlikColumn, keyof ItemFields, Owner]> = [
  ['Period', 'period', 'qlik'],
  ['Department', 'department', 'qlik'],
  ['Course code', 'course_code', 'qlik'],
  ['Course name', 'course_name', 'qlik'],
  ['url', 'url', 'qlik'],
  ['Filename', 'filename', 'qlik'],
  ['Title', 'title', 'qlik'],
  ['Owner', 'owner', 'qlik'],
  ['Type', 'type', 'qlik'],
  ['ML Prediction', 'ml_prediction', 'qlik'],
  ['Auditor', 'auditor', 'qlik'],
  ['Last change', 'last_change', 'qlik'],
  ['In collection', 'in_collection', 'qlik'],
  ['Author', 'author', 'qlik'],
  ['Publisher', 'publisher', 'qlik'],
  ['Reliability', 'reliability', 'qlik'],
  ['ISBN', 'isbn', 'fill-blank'],
  ['DOI', 'doi', 'fill-blank'],
  ['Classification', 'classification', 'staff'],
  ['Manual classification', 'manual_classification', 'staff'],
  ['Manual identifier', 'manual_identifier', 'staff'],
  ['Scope', 'scope', 'staff'],
  ['Remarks', 'remarks', 'staff'],
]
const NUMBER_FIELDS: ReadonlyArray<[QlikColumn, keyof ItemFields, Owner]> = [
  ['pagecount', 'pagecount', 'keep-larger'],
  ['wordcount', 'wordcount', 'keep-larger'],
  ['picturecount', 'picturecount', 'keep-larger'],
  ['Pages * Students', 'pages_x_students', 'qlik'],
  ['#students_registered', 'count_students_registered', 'qlik'],
]
const OWNER = new Map<keyof ItemFields, Owner>([
  ...[...TEXT_FIELDS, ...NUMBER_FIELDS].map(([, field, owner]) => [field, owner] as const),
  ['filetype', 'qlik'],
  ['status', 'qlik'],
])
const FILETYPES: Record<string, string> = {
  pdf: 'pdf',
  ppt: 'ppt',
  pptx: 'ppt',
  doc: 'doc',
  docx: 'doc',
  xls: 'xlsx',
  xlsx: 'xlsx',
}
const STATUS_BY_LOWER = new Map(ITEM_STATUSES.map((s) => [s.toLowerCase(), s]))
const CLASSIFICATION_BY_LOWER = new Map(CLASSIFICATIONS.map((c) => [c, c]))

class RowError extends Error {}

function wholeNumber(column: string, value: string): number {
  // Spreadsheets write whole numbers as `12.0` and thousands as `1,234` or `1.234`.
  const normalised = value.replace(/[ ,](?=\d{3}\b)/g, '').replace(/\.0+$/, '')
  if (!/^-?\d+$/.test(normalised))
    throw new RowError(`${column} must be a whole number, got ${JSON.stringify(value)}`)
  const n = Number(normalised)
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RowError(`${column} must be a whole number >= 0, got ${JSON.stringify(value)}`)
  return n
}

/** A value of a known set, matched without regard to case or repeated spaces; the row is reported otherwise. */
function known(column: string, value: string, byLower: ReadonlyMap<string, string>): string {
  const match = byLower.get(value.toLowerCase().replace(/\s+/g, ' '))
  if (match === undefined) {
    throw new RowError(
      `${column} must be one of ${[...byLower.values()].map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`,
    )
  }
  return match
}

function mapRow(row: QlikRow): Mapped {
  const materialId = wholeNumber('Material id', row.values['Material id']!)
  if (materialId === 0) throw new RowError('Material id must be positive')
  const fields = {} as Record<keyof ItemFields, unknown>
  for (const [column, field] of TEXT_FIELDS) {
    if (column in row.values) fields[field] = row.values[column] ?? null
  }
  for (const [column, field] of NUMBER_FIELDS) {
    if (!(column in row.values)) continue
    const value = row.values[column]
    fields[field] = value === null || value === undefined ? null : wholeNumber(column, value)
  }
  if (row.values.Status) fields.status = known('Status', row.values.Status, STATUS_BY_LOWER)
  if (row.values.Classification) {
    fields.classification = known('Classification', row.values.Classification, CLASSIFICATION_BY_LOWER)
  }
  if (row.values.Filetype) {
    const type = row.values.Filetype.toLowerCase().replace(/^\./, '')
    fields.filetype = FILETYPES[type] ?? 'unknown'
  }
  return { materialId, fields: fields as ItemFields }
}

/** What changes when `incoming` is merged into the existing item, by the owner of each field. */
export function mergeChanges(existing: ItemRow, incoming: ItemFields): Partial<ItemRow> {
  const changes: Partial<Record<keyof ItemRow, unknown>> = {}
  for (const [field, value] of Object.entries(incoming) as Array<[keyof ItemFields, unknown]>) {
    if (value === null || value === undefined) continue
    const current = existing[field]
    switch (OWNER.get(field)) {
      case 'qlik':
        if (value !== current) changes[field] = value
        break
      case 'fill-blank':
        if (current === null || current === '') changes[field] = value
        break
      case 'keep-larger':
        if (current === null || (value as number) > (current as number)) changes[field] = value
        break
      default:
        // Staff-owned, or a field nobody declared an owner for: an ingest never overwrites it.
        break
    }
  }
  if ('department' in changes) {
    const faculty = facultyOfDepartment(changes.department as string | null)
    if (faculty !== existing.faculty) changes.faculty = faculty
  }
  return changes as Partial<ItemRow>
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value)
}

/** Maps a row, or records why it cannot be ingested. */
function stage(row: QlikRow): Staged {
  try {
    return { row, mapped: mapRow(row) }
  } catch (error) {
    if (!(error instanceof RowError)) throw error
    const raw = row.values['Material id'] ?? ''
    return { row, error: error.message, materialId: /^\d{1,15}$/.test(raw) ? Number(raw) : null }
  }
}

function change(
  materialId: number,
  batchId: number,
  field: string,
  oldValue: string | null,
  newValue: string | null,
  at: string,
): Insertable<Database['item_changes']> {
  return {
    material_id: materialId,
    batch_id: batchId,
    source: 'qlik',
    field,
    old_value: oldValue,
    new_value: newValue,
    changed_at: at,
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

type Staged = { row: QlikRow; mapped?: Mapped; error?: string; materialId?: number | null }
type Outcome = 'created' | 'updated' | 'skipped' | 'failed'

/**
 * Qlik ingest. A file is parsed and checked against the limits first (off the event loop), so a file
 * that is refused writes nothing. The rows are then staged and merged in transactions of
 * {@link CHUNK_ROWS} rows, yielding between them, while the batch row records the progress; the
 * caches are invalidated as the merge goes and at its end.
 */
export class QlikIngestService {
  private readonly database: DatabaseHandle
  private readonly invalidation: CacheInvalidation
  private readonly limits: IngestLimits
  private readonly logger: Logger | undefined
  private readonly running = new Set<Promise<unknown>>()
  private readonly statements = new Map<string, Statement>()

  constructor(
    database: DatabaseHandle,
    invalidation: CacheInvalidation,
    limits: IngestLimits,
    logger?: Logger,
  ) {
    this.database = database
    this.invalidation = invalidation
    this.limits = limits
    this.logger = logger
  }

  /** Ingests one export file and resolves with its summary; throws (nothing written) when the file is refused. */
  async ingestFile(data: Uint8Array, source: string): Promise<IngestProgress> {
    const job = await this.start(data, source)
    return job.done
  }

  /**
   * Parses and checks the file, records the batch, and starts merging it in the background. Throws
   * `E_MALFORMED_FILE` or `E_TOO_LARGE`, naming the row, column or limit, before anything is written.
   */
  async start(data: Uint8Array, source: string): Promise<IngestJob> {
    if (data.byteLength > this.limits.maxUploadBytes) {
      throw new AppError(
        AppErrorCodes.TOO_LARGE,
        `the file is larger than the upload limit of ${this.limits.maxUploadBytes.toLocaleString('en')} bytes (INGEST_MAX_UPLOAD_BYTES)`,
        { field: 'file' },
      )
    }
    const { format, rows } = await parseExport(data, source, this.limits)
    // Rows are mapped chunk by chunk as they are merged: mapping 60,000 here would hold up the server.
    const withId = rows.filter(
      (row) => row.values['Material id'] !== null && row.values['Material id'] !== undefined,
    )
    const dropped = rows.length - withId.length
    const batch = await this.database.db
      .insertInto('ingest_batches')
      .values({
        source: source.slice(0, 500),
        format,
        status: 'processing',
        rows_total: rows.length,
        processed: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        dropped,
        error: null,
        created_at: new Date().toISOString(),
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    const done = this.merge(batch.id, withId)
    this.running.add(done)
    void done.then(
      () => this.running.delete(done),
      () => this.running.delete(done),
    )
    return { batchId: batch.id, done }
  }

  /** Where batch `batchId` stands, or `undefined` when there is no such batch. */
  async progress(batchId: number): Promise<IngestProgress | undefined> {
    const batch = await this.database.db
      .selectFrom('ingest_batches')
      .selectAll()
      .where('id', '=', batchId)
      .executeTakeFirst()
    if (!batch) return undefined
    const rejected = await this.database.db
      .selectFrom('qlik_entries')
      .select(['row_number', 'material_id', 'error'])
      .where('batch_id', '=', batchId)
      .where('outcome', '=', 'failed')
      .orderBy('row_number')
      .limit(MAX_REPORTED_REJECTIONS)
      .execute()
    return {
      batchId: batch.id,
      status: batch.status as IngestProgress['status'],
      source: batch.source,
      format: batch.format as QlikFormat,
      rows: batch.rows_total,
      processed: batch.processed,
      created: batch.created,
      updated: batch.updated,
      unchanged: batch.skipped,
      rejected: batch.failed,
      dropped: batch.dropped,
      rejections: rejected.map((r) => ({
        row: r.row_number,
        materialId: r.material_id,
        reason: r.error ?? '',
      })),
      error: batch.error,
    }
  }

  /** Resolves when every ingest this service started has finished (the app's close). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running])
  }

  private async merge(batchId: number, rows: readonly QlikRow[]): Promise<IngestProgress> {
    const courses = new Map<string, { code: string; name: string | null }>()
    const persons = new Set<string>()
    let changedSinceInvalidation = false
    let lastInvalidation = performance.now()
    try {
      for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
        const changed = await this.mergeChunk(
          batchId,
          rows.slice(i, i + CHUNK_ROWS).map(stage),
          courses,
          persons,
        )
        changedSinceInvalidation ||= changed
        if (changedSinceInvalidation && performance.now() - lastInvalidation > INVALIDATE_EVERY_MS) {
          await this.invalidation.itemsChanged()
          changedSinceInvalidation = false
          lastInvalidation = performance.now()
        }
        await yieldToEventLoop()
      }
      const changedCourses = await this.upsertCourses(courses)
      const newPersons = await this.insertPersons(persons)
      await this.database.db
        .updateTable('ingest_batches')
        .set({ status: 'done' })
        .where('id', '=', batchId)
        .execute()
      if (changedSinceInvalidation) await this.invalidation.itemsChanged()
      await this.invalidation.coursesChanged(changedCourses)
      await this.invalidation.personsChanged(newPersons)
    } catch (error) {
      this.logger?.error({ err: error, batchId }, 'ingest batch failed')
      await this.database.db
        .updateTable('ingest_batches')
        .set({ status: 'failed', error: (error as Error).message.slice(0, 1000) })
        .where('id', '=', batchId)
        .execute()
        .catch(() => undefined)
      // What was merged before the failure is in the database: the counts must show it.
      await this.invalidation.itemsChanged()
      throw error
    }
    return (await this.progress(batchId))!
  }

  /**
   * Merges one chunk in one transaction, with a handful of statements (multi-row inserts; one update
   * per changed item), since on SQLite every statement of it runs on the event loop. Resolves whether
   * any item changed.
   */
  private async mergeChunk(
    batchId: number,
    chunk: readonly Staged[],
    courses: Map<string, { code: string; name: string | null }>,
    persons: Set<string>,
  ): Promise<boolean> {
    const now = new Date().toISOString()
    return this.database.db.transaction().execute(async (trx) => {
      const existing = await this.loadExisting(
        trx,
        chunk.flatMap((s) => (s.mapped ? [s.mapped.materialId] : [])),
      )
      const tally = { created: 0, updated: 0, skipped: 0, failed: 0 }
      const outcomes: Outcome[] = []
      const inserts: ItemRow[] = []
      const updates: Array<{ materialId: number; changes: Partial<ItemRow> }> = []
      const audit: Array<Insertable<Database['item_changes']>> = []
      for (const entry of chunk) {
        let outcome: Outcome = 'failed'
        if (entry.mapped) {
          const { materialId, fields } = entry.mapped
          const current = existing.get(materialId)
          if (!current) {
            const row = {
              ...emptyItem(),
              ...fields,
              material_id: materialId,
              workflow_status: 'ToDo',
              faculty: facultyOfDepartment(fields.department),
              created_at: now,
              modified_at: now,
            } as ItemRow
            inserts.push(row)
            audit.push(change(materialId, batchId, '*', null, 'created', now))
            // A later row of the same chunk for this id merges with this one.
            existing.set(materialId, row)
            outcome = 'created'
          } else {
            const changes = mergeChanges(current, fields)
            const changed = Object.keys(changes) as Array<keyof ItemRow>
            if (changed.length === 0) outcome = 'skipped'
            else {
              const pending = inserts.find((row) => row.material_id === materialId)
              if (pending) Object.assign(pending, changes)
              else updates.push({ materialId, changes })
              for (const field of changed) {
                audit.push(
                  change(materialId, batchId, field, text(current[field]), text(changes[field]), now),
                )
              }
              existing.set(materialId, { ...current, ...changes, modified_at: now })
              outcome = 'updated'
            }
          }
          if (outcome !== 'skipped') this.collectRelated(fields, courses, persons)
        }
        tally[outcome]++
        outcomes.push(outcome)
      }
      await this.insertRows(trx, 'copyright_items', inserts)
      await yieldToEventLoop()
      for (const { materialId, changes } of updates) {
        await trx
          .updateTable('copyright_items')
          .set({ ...changes, modified_at: now })
          .where('material_id', '=', materialId)
          .execute()
      }
      await this.insertRows(trx, 'item_changes', audit)
      await yieldToEventLoop()
      await this.insertRows(
        trx,
        'qlik_entries',
        chunk.map((s, i) => ({
          batch_id: batchId,
          row_number: s.row.rowNumber,
          material_id: s.mapped?.materialId ?? s.materialId ?? null,
          data: JSON.stringify(s.row.values),
          outcome: outcomes[i]!,
          error: s.error ?? null,
        })),
      )
      await yieldToEventLoop()
      await trx
        .updateTable('ingest_batches')
        .set((eb) => ({
          processed: eb('processed', '+', chunk.length),
          created: eb('created', '+', tally.created),
          updated: eb('updated', '+', tally.updated),
          skipped: eb('skipped', '+', tally.skipped),
          failed: eb('failed', '+', tally.failed),
        }))
        .where('id', '=', batchId)
        .execute()
      return tally.created + tally.updated > 0
    })
  }

  /**
   * Inserts rows of one shape. On SQLite through a prepared statement kept for the app's life (the
   * same connection, so inside `trx`): compiling a 50-row insert each time cost more than running it.
   */
  private async insertRows<T extends 'copyright_items' | 'item_changes' | 'qlik_entries'>(
    trx: Transaction<Database>,
    table: T,
    rows: ReadonlyArray<Insertable<Database[T]>>,
  ): Promise<void> {
    if (rows.length === 0) return
    const sqlite = this.database.sqlite
    if (!sqlite) {
      await trx
        .insertInto(table)
        .values(rows as never)
        .execute()
      return
    }
    const columns = Object.keys(rows[0]!)
    const key = `${table}(${columns.join(',')})`
    let statement = this.statements.get(key)
    if (!statement) {
      statement = sqlite.prepare(
        `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`,
      )
      this.statements.set(key, statement)
    }
    for (const row of rows) statement.run(columns.map((c) => (row as Record<string, unknown>)[c]))
  }

  private async loadExisting(trx: Transaction<Database>, ids: number[]): Promise<Map<number, ItemRow>> {
    const existing = new Map<number, ItemRow>()
    const unique = [...new Set(ids)]
    if (unique.length === 0) return existing
    const rows = await trx
      .selectFrom('copyright_items')
      .selectAll()
      .where('material_id', 'in', unique)
      .execute()
    for (const row of rows) existing.set(row.material_id, row)
    return existing
  }

  private collectRelated(
    fields: ItemFields,
    courses: Map<string, { code: string; name: string | null }>,
    persons: Set<string>,
  ): void {
    const cursus = fields.course_code ? cursusOfCourseCode(fields.course_code) : null
    if (cursus !== null) courses.set(cursus, { code: fields.course_code!, name: fields.course_name ?? null })
    if (fields.owner) persons.add(fields.owner)
  }

  /** Creates unknown courses and renames known ones, a chunk per transaction; returns the course numbers that changed. */
  private async upsertCourses(seen: Map<string, { code: string; name: string | null }>): Promise<string[]> {
    const changed: string[] = []
    const entries = [...seen]
    for (let i = 0; i < entries.length; i += CHUNK_ROWS) {
      const now = new Date().toISOString()
      await this.database.db.transaction().execute(async (trx) => {
        for (const [cursus, { code, name }] of entries.slice(i, i + CHUNK_ROWS)) {
          const year = /^(\d{4})-/.exec(code)?.[1]
          const current = await trx
            .selectFrom('courses')
            .selectAll()
            .where('cursuscode', '=', cursus)
            .executeTakeFirst()
          if (!current) {
            await trx
              .insertInto('courses')
              .values({
                cursuscode: cursus,
                name,
                faculty: null,
                year: year ? Number(year) : null,
                updated_at: now,
              })
              .execute()
            changed.push(cursus)
          } else if (name !== null && current.name !== name) {
            await trx
              .updateTable('courses')
              .set({ name, updated_at: now })
              .where('cursuscode', '=', cursus)
              .execute()
            changed.push(cursus)
          }
        }
      })
      await yieldToEventLoop()
    }
    return changed
  }

  /** Records owners not seen before, a chunk per transaction; returns their names. */
  private async insertPersons(names: Set<string>): Promise<string[]> {
    const created: string[] = []
    const all = [...names]
    for (let i = 0; i < all.length; i += CHUNK_ROWS) {
      const now = new Date().toISOString()
      await this.database.db.transaction().execute(async (trx) => {
        for (const name of all.slice(i, i + CHUNK_ROWS)) {
          const known = await trx
            .selectFrom('persons')
            .select('input_name')
            .where('input_name', '=', name)
            .executeTakeFirst()
          if (known) continue
          await trx
            .insertInto('persons')
            .values({ input_name: name, faculty: null, updated_at: now })
            .execute()
          created.push(name)
        }
      })
      await yieldToEventLoop()
    }
    return created
  }
}

function emptyItem(): Omit<
  ItemRow,
  'material_id' | 'workflow_status' | 'faculty' | 'created_at' | 'modified_at'
> {
  return {
    filename: null,
    title: null,
    author: null,
    publisher: null,
    remarks: null,
    period: null,
    department: null,
    course_code: null,
    course_name: null,
    owner: null,
    status: null,
    filetype: null,
    classification: null,
    type: null,
    ml_prediction: null,
    manual_classification: null,
    manual_identifier: null,
    scope: null,
    auditor: null,
    last_change: null,
    in_collection: null,
    reliability: null,
    pages_x_students: null,
    v2_manual_classification: null,
    v2_overnamestatus: null,
    v2_lengte: null,
    url: null,
    file_exists: null,
    last_canvas_check: null,
    canvas_course_id: null,
    isbn: null,
    doi: null,
    pagecount: null,
    wordcount: null,
    picturecount: null,
    count_students_registered: null,
  }
}
