/** The Easy Access domain: the vocabularies of copyright items and the faculties they belong to. */

/** Workflow states of a copyright item, in the order the dashboard shows them. */
export const WORKFLOW_STATUSES = ['ToDo', 'InProgress', 'Done'] as const
/** One of {@link WORKFLOW_STATUSES}. */
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number]
/** A dashboard tab: one workflow state or all of them. */
export type WorkflowFilter = WorkflowStatus | 'All'
/** Every value the `status` filter accepts. */
export const WORKFLOW_FILTERS: readonly WorkflowFilter[] = ['All', ...WORKFLOW_STATUSES]

/** Publication states in Canvas. */
export const ITEM_STATUSES = ['Published', 'Unpublished', 'Deleted'] as const
/** File types as Qlik reports them after normalisation. */
export const FILETYPES = ['pdf', 'ppt', 'doc', 'xlsx', 'unknown'] as const

/** The 13 classifications Qlik assigns. */
export const CLASSIFICATIONS = [
  'open access',
  'korte overname',
  'middellange overname',
  'lange overname',
  'eigen materiaal',
  'eigen materiaal - titelindicatie',
  'eigen materiaal - powerpoint',
  'eigen materiaal - overig',
  'toestemming van rechthebbende',
  'licentie',
  'wettelijke exceptie',
  'niet gepubliceerd',
  'onbekend',
] as const

/** Staff's manual classification (v2 workflow). */
export const V2_MANUAL_CLASSIFICATIONS = [
  'Ja (open licentie)',
  'Ja (eigen werk)',
  'Ja (korte overname)',
  'Ja (toestemming)',
  'Nee',
  'Onbekend',
] as const
/** Whether reuse (overname) applies, as staff recorded it. */
export const V2_OVERNAMESTATUSES = ['Overname', 'Geen overname', 'Onbekend'] as const
/** Length of the reused part. */
export const V2_LENGTES = ['Kort', 'Middellang', 'Lang', 'Onbekend'] as const

/** A faculty of the university; `UNM` collects departments that map to none. */
export interface Faculty {
  /** Short name, the primary key (`EEMCS`). */
  abbreviation: string
  /** Full name. */
  name: string
}

/** The real faculties, ordered by abbreviation. */
export const FACULTIES: readonly Faculty[] = [
  { abbreviation: 'BMS', name: 'Behavioural, Management and Social Sciences' },
  { abbreviation: 'EEMCS', name: 'Electrical Engineering, Mathematics and Computer Science' },
  { abbreviation: 'ET', name: 'Engineering Technology' },
  { abbreviation: 'ITC', name: 'Geo-Information Science and Earth Observation' },
  { abbreviation: 'TNW', name: 'Science and Technology' },
  { abbreviation: 'UNM', name: 'Unmapped' },
]

/** Departments as Qlik names them, each mapped to its faculty. */
export const DEPARTMENTS: Readonly<Record<string, string>> = {
  'Behavioural Sciences': 'BMS',
  'Communication Science': 'BMS',
  'Industrial Engineering and Business Information Systems': 'BMS',
  'Public Administration': 'BMS',
  'Psychology of Conflict, Risk and Safety': 'BMS',
  'Computer Science': 'EEMCS',
  'Electrical Engineering': 'EEMCS',
  'Applied Mathematics': 'EEMCS',
  'Business Information Technology': 'EEMCS',
  'Mechanical Engineering': 'ET',
  'Civil Engineering': 'ET',
  'Industrial Design Engineering': 'ET',
  'Earth Observation Science': 'ITC',
  'Geo-information Processing': 'ITC',
  'Urban and Regional Planning and Geo-information Management': 'ITC',
  'Applied Physics': 'TNW',
  'Chemical Science and Engineering': 'TNW',
  'Biomedical Technology': 'TNW',
  'Technical Medicine': 'TNW',
  'University College Twente': 'UNM',
  'Language Centre': 'UNM',
}

/** The faculty of a department; unknown or missing departments are `UNM`. */
export function facultyOfDepartment(department: string | null | undefined): string {
  return (department && DEPARTMENTS[department]) || 'UNM'
}

/**
 * A copyright item as the API returns it. The whole API names fields in camelCase; the database keeps
 * the seed's snake_case columns, and `toItem` is the one place that maps them. Qlik's own bookkeeping
 * columns (type, ML prediction, auditor, …) stay inside the app.
 */
export interface CopyrightItem {
  materialId: number
  filename: string | null
  title: string | null
  author: string | null
  publisher: string | null
  remarks: string | null
  period: string | null
  department: string | null
  courseCode: string | null
  courseName: string | null
  owner: string | null
  status: string | null
  filetype: string | null
  workflowStatus: WorkflowStatus
  classification: string | null
  manualClassification: string | null
  v2ManualClassification: string | null
  v2Overnamestatus: string | null
  v2Lengte: string | null
  faculty: string
  url: string | null
  fileExists: boolean | null
  lastCanvasCheck: string | null
  canvasCourseId: number | null
  isbn: string | null
  doi: string | null
  pagecount: number | null
  wordcount: number | null
  picturecount: number | null
  countStudentsRegistered: number | null
  createdAt: string
  modifiedAt: string
}

/**
 * The academic year (Osiris' `collegejaar`) at `time`: it starts on 1 September, so November 2026 is
 * in 2026 and March 2027 still is.
 */
export function academicYearAt(time: number): number {
  const date = new Date(time)
  return date.getUTCMonth() >= 8 ? date.getUTCFullYear() : date.getUTCFullYear() - 1
}

/**
 * The Osiris course number inside a course code: `2025-202500095-1B` → `202500095`. A bare number is
 * returned as is, so both spellings of one course share a cache entry. `null` when there is none.
 */
export function cursusOfCourseCode(courseCode: string): string | null {
  const trimmed = courseCode.trim()
  if (/^\d{5,12}$/.test(trimmed)) return trimmed
  const match = /^\d{4}-(\d{5,12})-[0-9A-Z]{1,4}$/i.exec(trimmed)
  return match ? match[1]! : null
}

/** The Canvas file id at the end of a file URL (`…/files/123`), or `null`. */
export function canvasFileId(url: string | null | undefined): number | null {
  if (!url) return null
  const match = /\/files\/(\d+)\/?(?:[?#].*)?$/.exec(url)
  return match ? Number(match[1]) : null
}
