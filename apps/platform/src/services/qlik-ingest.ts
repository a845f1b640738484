import type { Transaction } from 'kysely'
import type { DatabaseHandle } from '../db/connection.js'
import type { Database, ItemRow, NewItemRow } from '../db/schema.js'
import { cursusOfCourseCode, facultyOfDepartment } from '../domain.js'
import type { CacheInvalidation } from './cache-invalidation.js'
import { parseQlikExport, type QlikColumn, type QlikFormat, type QlikRow } from './qlik-parser.js'

/** A row that could not be ingested, with why. */
export interface IngestFailure {
  /** Row number in the file (the header is row 1). */
  row: number
  materialId: number | null
  reason: string
}

/** The outcome of one ingest batch. */
export interface IngestSummary {
  batchId: number
  format: QlikFormat
  /** Data rows in the file. */
  rows: number
  created: number
  updated: number
  /** Rows that changed nothing. */
  skipped: number
  failed: number
  /** Rows without a material id (dropped, as Qlik emits such subtotal rows). */
  dropped: number
  failures: IngestFailure[]
}

type ItemFields = Omit<
  NewItemRow,
  'material_id' | 'created_at' | 'modified_at' | 'workflow_status' | 'faculty'
>
type Mapped = { materialId: number; fields: ItemFields }

const TEXT_FIELDS: ReadonlyArray<[QlikColumn, keyof ItemFields]> = [
  ['Period', 'period'],
  ['Department', 'department'],
  ['Course code', 'course_code'],
  ['Course name', 'course_name'],
  ['url', 'url'],
  ['Filename', 'filename'],
  ['Title', 'title'],
  ['Owner', 'owner'],
  ['Classification', 'classification'],
  ['Type', 'type'],
  ['ML Prediction', 'ml_prediction'],
  ['Manual classification', 'manual_classification'],
  ['Manual identifier', 'manual_identifier'],
  ['Scope', 'scope'],
  ['Remarks', 'remarks'],
  ['Auditor', 'auditor'],
  ['Last change', 'last_change'],
  ['Status', 'status'],
  ['ISBN', 'isbn'],
  ['DOI', 'doi'],
  ['In collection', 'in_collection'],
  ['Author', 'author'],
  ['Publisher', 'publisher'],
  ['Reliability', 'reliability'],
]
const NUMBER_FIELDS: ReadonlyArray<[QlikColumn, keyof ItemFields]> = [
  ['pagecount', 'pagecount'],
  ['wordcount', 'wordcount'],
  ['picturecount', 'picturecount'],
  ['Pages * Students', 'pages_x_students'],
  ['#students_registered', 'count_students_registered'],
]
/** Filled only while the item has none: staff may have corrected them. */
const FILL_BLANK = new Set<keyof ItemFields>(['isbn', 'doi'])
/** Qlik sometimes reports a partial extraction; the larger count is the better one. */
const KEEP_LARGER = new Set<keyof ItemFields>(['pagecount', 'wordcount', 'picturecount'])
const FILETYPES: Record<string, string> = {
  pdf: 'pdf',
  ppt: 'ppt',
  pptx: 'ppt',
  doc: 'doc',
  docx: 'doc',
  xls: 'xlsx',
  xlsx: 'xlsx',
}

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

function mapRow(row: QlikRow): Mapped {
  const raw = row.values['Material id']!
  const materialId = wholeNumber('Material id', raw)
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
  if ('Filetype' in row.values) {
    const type = row.values.Filetype?.toLowerCase().replace(/^\./, '') ?? null
    fields.filetype = type === null ? null : (FILETYPES[type] ?? 'unknown')
  }
  return { materialId, fields: fields as ItemFields }
}

/** What changes when `incoming` is merged into `existing`, by the ingest's rules. */
export function mergeChanges(existing: ItemRow, incoming: ItemFields): Partial<ItemRow> {
  const changes: Partial<Record<keyof ItemRow, unknown>> = {}
  for (const [field, value] of Object.entries(incoming) as Array<[keyof ItemFields, unknown]>) {
    const current = existing[field]
    if (FILL_BLANK.has(field)) {
      if ((current === null || current === '') && value !== null) changes[field] = value
    } else if (KEEP_LARGER.has(field)) {
      if (value !== null && (current === null || (value as number) > (current as number)))
        changes[field] = value
    } else if (value !== current) {
      changes[field] = value
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

/**
 * Qlik ingest: parse, stage every row of the batch, then create or update items, all in one
 * transaction, so a failure part-way leaves nothing behind. Invalidates the caches afterwards.
 */
export class QlikIngestService {
  private readonly database: DatabaseHandle
  private readonly invalidation: CacheInvalidation

  constructor(database: DatabaseHandle, invalidation: CacheInvalidation) {
    this.database = database
    this.invalidation = invalidation
  }

  /** Ingests one export file; throws `E_MALFORMED_FILE` (nothing written) when it is not a readable export. */
  async ingestFile(data: Uint8Array, source: string): Promise<IngestSummary> {
    const { format, rows } = await parseQlikExport(data, source)
    return this.ingestRows(rows, { source, format })
  }

  /** Ingests parsed rows as one batch. */
  async ingestRows(
    rows: readonly QlikRow[],
    meta: { source: string; format: QlikFormat },
  ): Promise<IngestSummary> {
    const now = new Date().toISOString()
    const seenCourses = new Map<string, { code: string; name: string | null }>()
    const seenPersons = new Set<string>()
    let changedCourses: string[] = []
    let newPersons: string[] = []
    const summary = await this.database.db.transaction().execute(async (trx) => {
      const batch = await trx
        .insertInto('ingest_batches')
        .values({
          source: meta.source.slice(0, 500),
          format: meta.format,
          status: 'processing',
          rows_total: rows.length,
          created: 0,
          updated: 0,
          skipped: 0,
          failed: 0,
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
      const result: IngestSummary = {
        batchId: batch.id,
        format: meta.format,
        rows: rows.length,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        dropped: 0,
        failures: [],
      }

      const staged: Array<{ row: QlikRow; mapped?: Mapped; error?: string }> = []
      for (const row of rows) {
        if (row.values['Material id'] === null || row.values['Material id'] === undefined) {
          result.dropped++
          continue
        }
        try {
          staged.push({ row, mapped: mapRow(row) })
        } catch (error) {
          if (!(error instanceof RowError)) throw error
          staged.push({ row, error: error.message })
        }
      }
      const entryIds = await this.stage(trx, batch.id, staged)

      const existing = await this.loadExisting(
        trx,
        staged.flatMap((s) => (s.mapped ? [s.mapped.materialId] : [])),
      )
      for (const [index, entry] of staged.entries()) {
        let outcome: 'created' | 'updated' | 'skipped' | 'failed'
        if (!entry.mapped) {
          outcome = 'failed'
          result.failures.push({ row: entry.row.rowNumber, materialId: null, reason: entry.error! })
        } else {
          outcome = await this.apply(trx, batch.id, entry.mapped, existing, now)
          if (outcome !== 'skipped') this.collectRelated(entry.mapped.fields, seenCourses, seenPersons)
        }
        result[outcome]++
        await trx
          .updateTable('qlik_entries')
          .set({ outcome, error: entry.error ?? null })
          .where('id', '=', entryIds[index]!)
          .execute()
      }

      changedCourses = await this.upsertCourses(trx, seenCourses, now)
      newPersons = await this.insertPersons(trx, seenPersons, now)

      await trx
        .updateTable('ingest_batches')
        .set({
          status: 'done',
          created: result.created,
          updated: result.updated,
          skipped: result.skipped,
          failed: result.failed,
        })
        .where('id', '=', batch.id)
        .execute()
      return result
    })
    if (summary.created + summary.updated > 0) await this.invalidation.itemsChanged()
    await this.invalidation.coursesChanged(changedCourses)
    await this.invalidation.personsChanged(newPersons)
    return summary
  }

  private async stage(
    trx: Transaction<Database>,
    batchId: number,
    staged: ReadonlyArray<{ row: QlikRow; mapped?: Mapped; error?: string }>,
  ): Promise<number[]> {
    const ids: number[] = []
    for (let i = 0; i < staged.length; i += 500) {
      const chunk = staged.slice(i, i + 500)
      const inserted = await trx
        .insertInto('qlik_entries')
        .values(
          chunk.map((s) => ({
            batch_id: batchId,
            row_number: s.row.rowNumber,
            material_id: s.mapped?.materialId ?? null,
            data: JSON.stringify(s.row.values),
            outcome: 'staged',
            error: s.error ?? null,
          })),
        )
        .returning('id')
        .execute()
      for (const row of inserted) ids.push(row.id)
    }
    return ids
  }

  private async loadExisting(trx: Transaction<Database>, ids: number[]): Promise<Map<number, ItemRow>> {
    const existing = new Map<number, ItemRow>()
    const unique = [...new Set(ids)]
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await trx
        .selectFrom('copyright_items')
        .selectAll()
        .where('material_id', 'in', unique.slice(i, i + 500))
        .execute()
      for (const row of rows) existing.set(row.material_id, row)
    }
    return existing
  }

  private async apply(
    trx: Transaction<Database>,
    batchId: number,
    { materialId, fields }: Mapped,
    existing: Map<number, ItemRow>,
    now: string,
  ): Promise<'created' | 'updated' | 'skipped'> {
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
      await trx.insertInto('copyright_items').values(row).execute()
      await trx
        .insertInto('item_changes')
        .values({
          material_id: materialId,
          batch_id: batchId,
          source: 'qlik',
          field: '*',
          old_value: null,
          new_value: 'created',
          changed_at: now,
        })
        .execute()
      // A later row of the same file for this id merges with this one.
      existing.set(materialId, row)
      return 'created'
    }
    const changes = mergeChanges(current, fields)
    const changed = Object.keys(changes) as Array<keyof ItemRow>
    if (changed.length === 0) return 'skipped'
    await trx
      .updateTable('copyright_items')
      .set({ ...changes, modified_at: now })
      .where('material_id', '=', materialId)
      .execute()
    await trx
      .insertInto('item_changes')
      .values(
        changed.map((field) => ({
          material_id: materialId,
          batch_id: batchId,
          source: 'qlik',
          field,
          old_value: text(current[field]),
          new_value: text(changes[field]),
          changed_at: now,
        })),
      )
      .execute()
    existing.set(materialId, { ...current, ...changes, modified_at: now })
    return 'updated'
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

  /** Creates unknown courses and renames known ones; returns the course numbers that changed. */
  private async upsertCourses(
    trx: Transaction<Database>,
    seen: Map<string, { code: string; name: string | null }>,
    now: string,
  ): Promise<string[]> {
    const changed: string[] = []
    for (const [cursus, { code, name }] of seen) {
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
    return changed
  }

  /** Records owners not seen before; returns their names. */
  private async insertPersons(
    trx: Transaction<Database>,
    names: Set<string>,
    now: string,
  ): Promise<string[]> {
    const created: string[] = []
    for (const name of names) {
      const known = await trx
        .selectFrom('persons')
        .select('input_name')
        .where('input_name', '=', name)
        .executeTakeFirst()
      if (known) continue
      await trx.insertInto('persons').values({ input_name: name, faculty: null, updated_at: now }).execute()
      created.push(name)
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
