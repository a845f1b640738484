import { type Cache, Cached, type CachedFunction, cached, type Duration } from '@cacheport/cache-core'
import { type ExpressionBuilder, sql } from 'kysely'
import type { DatabaseHandle } from '../db/connection.js'
import type { Database, ItemRow } from '../db/schema.js'
import {
  type CopyrightItem,
  type Faculty,
  WORKFLOW_FILTERS,
  WORKFLOW_STATUSES,
  type WorkflowFilter,
  type WorkflowStatus,
} from '../domain.js'
import { badInput } from '../lib/errors.js'
import { markLoaded, ReadLatency, trackRead } from './read-tracking.js'

/** Columns the item list can be sorted on. */
export const SORT_FIELDS = [
  'modifiedAt',
  'createdAt',
  'materialId',
  'title',
  'filename',
  'courseCode',
  'department',
  'faculty',
  'period',
  'workflowStatus',
] as const
/** One of {@link SORT_FIELDS}. */
export type SortField = (typeof SORT_FIELDS)[number]
const SORT_COLUMNS = {
  modifiedAt: 'modified_at',
  createdAt: 'created_at',
  materialId: 'material_id',
  title: 'title',
  filename: 'filename',
  courseCode: 'course_code',
  department: 'department',
  faculty: 'faculty',
  period: 'period',
  workflowStatus: 'workflow_status',
} as const satisfies Record<SortField, keyof ItemRow>

/** Page sizes the dashboard offers. */
export const PAGE_SIZES = [25, 50, 100] as const

/** What the dashboard filters on. */
export interface ItemFilter {
  /** A workflow state or `All`. @default 'All' */
  status?: WorkflowFilter
  /** Faculty abbreviation; all faculties when absent. */
  faculty?: string | null
  /** Case-insensitive substring of title, filename, course code, department or remarks. */
  search?: string | null
  /** 1-based page. @default 1 */
  page?: number
  /** 25, 50 or 100. @default 25 */
  perPage?: number
  /** Sort field. @default 'modifiedAt' */
  sort?: SortField
  /** Sort direction. @default 'desc' */
  order?: 'asc' | 'desc'
}

/** The part of a filter the counts depend on, normalised: the cache key of the counts. */
export interface CountFilter {
  faculty: string | null
  search: string | null
}

/** Items per workflow state within a faculty and search, plus their total. */
export type FilterCounts = Record<WorkflowFilter, number>

/** One page of items. */
export interface ItemPage {
  items: CopyrightItem[]
  page: number
  perPage: number
  /** Items matching the whole filter (all pages). */
  total: number
  totalPages: number
  /** The counts per workflow state for the same faculty and search (the tab badges). */
  counts: FilterCounts
}

const SEARCH_COLUMNS = ['title', 'filename', 'course_code', 'department', 'remarks'] as const

/** Normalises and validates a filter; throws `E_VALIDATION` naming the bad field. */
export function normaliseFilter(filter: ItemFilter): Required<ItemFilter> & CountFilter {
  const status = filter.status ?? 'All'
  if (!WORKFLOW_FILTERS.includes(status)) {
    throw badInput(
      'status',
      `status must be one of ${WORKFLOW_FILTERS.join(', ')}, got ${JSON.stringify(status)}`,
    )
  }
  const page = filter.page ?? 1
  if (!Number.isSafeInteger(page) || page < 1)
    throw badInput('page', `page must be a whole number >= 1, got ${page}`)
  const perPage = filter.perPage ?? 25
  if (!(PAGE_SIZES as readonly number[]).includes(perPage)) {
    throw badInput('perPage', `perPage must be one of ${PAGE_SIZES.join(', ')}, got ${perPage}`)
  }
  const sort = filter.sort ?? 'modifiedAt'
  if (!(SORT_FIELDS as readonly string[]).includes(sort)) {
    throw badInput('sort', `sort must be one of ${SORT_FIELDS.join(', ')}, got ${JSON.stringify(sort)}`)
  }
  const order = filter.order ?? 'desc'
  if (order !== 'asc' && order !== 'desc')
    throw badInput('order', `order must be asc or desc, got ${JSON.stringify(order)}`)
  return { status, page, perPage, sort, order, ...countFilter(filter) }
}

/** The counts' part of a filter: faculty upper-cased, search trimmed and lower-cased, blanks `null`. */
export function countFilter(filter: Pick<ItemFilter, 'faculty' | 'search'>): CountFilter {
  const faculty = filter.faculty?.trim().toUpperCase() || null
  const search = filter.search?.trim().toLowerCase() || null
  if (search !== null && search.length > 200)
    throw badInput('search', 'search must be at most 200 characters')
  return { faculty, search }
}

/** A database row as the API shows it. */
export function toItem(row: ItemRow): CopyrightItem {
  return {
    materialId: row.material_id,
    filename: row.filename,
    title: row.title,
    author: row.author,
    publisher: row.publisher,
    remarks: row.remarks,
    period: row.period,
    department: row.department,
    courseCode: row.course_code,
    courseName: row.course_name,
    owner: row.owner,
    status: row.status,
    filetype: row.filetype,
    workflowStatus: row.workflow_status as WorkflowStatus,
    classification: row.classification,
    manualClassification: row.manual_classification,
    v2ManualClassification: row.v2_manual_classification,
    v2Overnamestatus: row.v2_overnamestatus,
    v2Lengte: row.v2_lengte,
    faculty: row.faculty,
    url: row.url,
    fileExists: row.file_exists === null ? null : Boolean(row.file_exists),
    lastCanvasCheck: row.last_canvas_check,
    canvasCourseId: row.canvas_course_id,
    isbn: row.isbn,
    doi: row.doi,
    pagecount: row.pagecount,
    wordcount: row.wordcount,
    picturecount: row.picturecount,
    countStudentsRegistered: row.count_students_registered,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
  }
}

function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`
}

function matching(eb: ExpressionBuilder<Database, 'copyright_items'>, filter: CountFilter) {
  const conditions = []
  if (filter.faculty !== null) conditions.push(eb('faculty', '=', filter.faculty))
  if (filter.search !== null) {
    const pattern = likePattern(filter.search)
    conditions.push(
      eb.or(
        SEARCH_COLUMNS.map((column) => sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`),
      ),
    )
  }
  return eb.and(conditions)
}

/**
 * The dashboard's queries. The filter counts (an aggregate over every matching item) and the faculty
 * list are cached as the seed's strategy table says; the item page itself is not, since it changes
 * with every edit and is cheap with the indexes.
 */
export class ItemQueryService {
  /** Faculties ordered by abbreviation; cached in `default` under `faculties`. */
  readonly getFaculties: CachedFunction<[], Faculty[]>
  /** How long filter-count reads take, answered by the cache or by the database (the dashboard's panel). */
  readonly countsLatency = new ReadLatency()
  private readonly database: DatabaseHandle

  constructor(database: DatabaseHandle, defaultCache: Cache, facultiesTtl: Duration) {
    this.database = database
    this.getFaculties = cached(() => this.loadFaculties(), {
      cache: defaultCache,
      keyPrefix: 'faculties',
      ttl: facultiesTtl,
    })
  }

  /** One page of items matching `filter`, newest change first unless sorted otherwise. */
  async list(filter: ItemFilter = {}): Promise<ItemPage> {
    const f = normaliseFilter(filter)
    const counts = await this.getFilterCounts(f)
    const rows = await this.database.db
      .selectFrom('copyright_items')
      .selectAll()
      .where((eb) => {
        const base = matching(eb, f)
        return f.status === 'All' ? base : eb.and([base, eb('workflow_status', '=', f.status)])
      })
      .orderBy(SORT_COLUMNS[f.sort], f.order)
      .orderBy('material_id', f.order)
      .limit(f.perPage)
      .offset((f.page - 1) * f.perPage)
      .execute()
    const total = counts[f.status]
    return {
      items: rows.map(toItem),
      page: f.page,
      perPage: f.perPage,
      total,
      totalPages: Math.max(1, Math.ceil(total / f.perPage)),
      counts,
    }
  }

  /**
   * Items per workflow state within the filter's faculty and search. Only those two take part in the
   * key (normalised), so every tab, page and sort order of one search shares one cached entry.
   */
  async getFilterCounts(filter: Pick<ItemFilter, 'faculty' | 'search'> = {}): Promise<FilterCounts> {
    const normalised = countFilter(filter)
    const { value, loaded, ms } = await trackRead(() => this.filterCounts(normalised))
    this.countsLatency.record(loaded, ms)
    return value
  }

  /** An item by material id, or `undefined`. */
  async getItem(materialId: number): Promise<CopyrightItem | undefined> {
    const row = await this.database.db
      .selectFrom('copyright_items')
      .selectAll()
      .where('material_id', '=', materialId)
      .executeTakeFirst()
    return row ? toItem(row) : undefined
  }

  // The TTL is the `queries` cache's default, which the configuration sets from the strategy table
  // (CACHE_TTL_FILTER_COUNTS): a decorator's options are fixed when the class is defined.
  @Cached({ cache: 'queries', keyPrefix: 'filter_counts' })
  private async filterCounts(filter: CountFilter): Promise<FilterCounts> {
    markLoaded()
    const rows = await this.database.db
      .selectFrom('copyright_items')
      .select(['workflow_status', sql<number>`count(*)`.as('n')])
      .where((eb) => matching(eb, filter))
      .groupBy('workflow_status')
      .execute()
    const counts = { All: 0, ToDo: 0, InProgress: 0, Done: 0 } as FilterCounts
    for (const row of rows) {
      if ((WORKFLOW_STATUSES as readonly string[]).includes(row.workflow_status)) {
        counts[row.workflow_status as WorkflowStatus] = Number(row.n)
      }
      counts.All += Number(row.n)
    }
    return counts
  }

  private async loadFaculties(): Promise<Faculty[]> {
    return this.database.db
      .selectFrom('faculties')
      .select(['abbreviation', 'name'])
      .orderBy('abbreviation')
      .execute()
  }
}
