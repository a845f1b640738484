import type { Generated, Insertable, Selectable, Updateable } from 'kysely'

/** `faculties`: the faculties, keyed by abbreviation. */
export interface FacultyTable {
  abbreviation: string
  name: string
}

/** `departments`: each department mapped to its faculty. */
export interface DepartmentTable {
  name: string
  faculty: string
}

/**
 * `copyright_items`: one row per piece of course material. Timestamps are ISO-8601 strings in UTC on
 * both dialects; `file_exists` is 0/1/null so one code path writes it everywhere.
 */
export interface CopyrightItemTable {
  material_id: number
  filename: string | null
  title: string | null
  author: string | null
  publisher: string | null
  remarks: string | null
  period: string | null
  department: string | null
  course_code: string | null
  course_name: string | null
  owner: string | null
  status: string | null
  filetype: string | null
  workflow_status: string
  classification: string | null
  type: string | null
  ml_prediction: string | null
  manual_classification: string | null
  manual_identifier: string | null
  scope: string | null
  auditor: string | null
  last_change: string | null
  in_collection: string | null
  reliability: string | null
  pages_x_students: number | null
  v2_manual_classification: string | null
  v2_overnamestatus: string | null
  v2_lengte: string | null
  faculty: string
  url: string | null
  file_exists: number | null
  last_canvas_check: string | null
  canvas_course_id: number | null
  isbn: string | null
  doi: string | null
  pagecount: number | null
  wordcount: number | null
  picturecount: number | null
  count_students_registered: number | null
  created_at: string
  modified_at: string
}

/** `courses`: what is known of a course; a change here invalidates its cached Osiris entry. */
export interface CourseTable {
  cursuscode: string
  name: string | null
  faculty: string | null
  year: number | null
  updated_at: string
}

/** `persons`: course material owners; a change here invalidates their cached people-page entry. */
export interface PersonTable {
  input_name: string
  faculty: string | null
  updated_at: string
}

/** `ingest_batches`: one Qlik upload and its outcome. */
export interface IngestBatchTable {
  id: Generated<number>
  source: string
  format: string
  status: string
  rows_total: number
  /** Rows merged so far; the dashboard's progress bar. */
  processed: number
  created: number
  updated: number
  skipped: number
  failed: number
  /** Rows without a material id. */
  dropped: number
  /** Why the batch failed, when `status` is `failed`. */
  error: string | null
  created_at: string
}

/** `qlik_entries`: the staged rows of a batch, each with its outcome. */
export interface QlikEntryTable {
  id: Generated<number>
  batch_id: number
  row_number: number
  material_id: number | null
  data: string
  outcome: string
  error: string | null
}

/** `item_changes`: the audit trail of every field an ingest or an edit changed. */
export interface ItemChangeTable {
  id: Generated<number>
  material_id: number
  batch_id: number | null
  source: string
  field: string
  old_value: string | null
  new_value: string | null
  changed_at: string
}

/** `users`: who may sign in, with a scrypt hash of their password and their role. */
export interface UserTable {
  username: string
  password_hash: string
  role: string
  created_at: string
}

/** The whole schema, as Kysely sees it. */
export interface Database {
  faculties: FacultyTable
  departments: DepartmentTable
  copyright_items: CopyrightItemTable
  courses: CourseTable
  persons: PersonTable
  ingest_batches: IngestBatchTable
  qlik_entries: QlikEntryTable
  item_changes: ItemChangeTable
  users: UserTable
}

/** A `copyright_items` row as read. */
export type ItemRow = Selectable<CopyrightItemTable>
/** A `copyright_items` row as inserted. */
export type NewItemRow = Insertable<CopyrightItemTable>
/** A partial `copyright_items` row for updates. */
export type ItemUpdate = Updateable<CopyrightItemTable>
