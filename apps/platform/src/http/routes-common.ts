import type { CacheRegistry } from '@cacheport/cache-core'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { UserService } from '../auth/users.js'
import type { IngestLimits } from '../config.js'
import type { DatabaseHandle } from '../db/connection.js'
import { WORKFLOW_FILTERS } from '../domain.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import type { CanvasClient } from '../services/canvas-client.js'
import { type ItemQueryService, PAGE_SIZES, SORT_FIELDS } from '../services/item-query-service.js'
import type { ItemService } from '../services/item-service.js'
import type { OsirisClient } from '../services/osiris-client.js'
import type { QlikIngestService } from '../services/qlik-ingest.js'
import type { CacheHistory } from '../services/read-tracking.js'

/** What the HTTP layer serves. */
export interface ServerDeps {
  logger: Logger
  database: DatabaseHandle
  caches: CacheRegistry
  queries: ItemQueryService
  items: ItemService
  ingest: QlikIngestService
  users: UserService
  /** `undefined` when neither Osiris nor the people pages are configured. */
  osiris: OsirisClient | undefined
  /** `undefined` when Canvas is not configured. */
  canvas: CanvasClient | undefined
  /** Shown on the dashboard. */
  backend: string
  /** The instance's name, when it has one (`INSTANCE_NAME`). */
  instance?: string | undefined
  /** Session cookie settings. */
  session: { secret: string | undefined; secure: boolean; maxAgeSeconds: number }
  /** Limits of one Qlik upload. */
  ingestLimits: IngestLimits
  /** Hit rates over the last minutes, for the cache panel's chart. */
  history: CacheHistory
  /** The prom-client registry `/metrics` serves. */
  metrics: Registry
  /** Whether each request gets a server span (tracing is configured). */
  tracing: boolean
}

/** The query string of the item list and the dashboard. */
export const filterSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: WORKFLOW_FILTERS },
    faculty: { type: 'string', maxLength: 16 },
    search: { type: 'string', maxLength: 200 },
    page: { type: 'integer', minimum: 1 },
    perPage: { type: 'integer', enum: PAGE_SIZES },
    sort: { type: 'string', enum: SORT_FIELDS },
    order: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const

/** A material id from the URL; anything but a positive whole number is a 400 naming the field. */
export function parseMaterialId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) === 0) {
    throw badInput('materialId', `material id must be a positive whole number, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

/** A 404 for an item that does not exist. */
export function noSuchItem(id: number): AppError {
  return new AppError(AppErrorCodes.NOT_FOUND, `no item with material id ${id}`, { field: 'materialId' })
}
