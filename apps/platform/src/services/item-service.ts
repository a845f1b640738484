import type { DatabaseHandle } from '../db/connection.js'
import type { ItemUpdate } from '../db/schema.js'
import {
  type CopyrightItem,
  V2_LENGTES,
  V2_MANUAL_CLASSIFICATIONS,
  V2_OVERNAMESTATUSES,
  WORKFLOW_STATUSES,
} from '../domain.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import type { CacheInvalidation } from './cache-invalidation.js'
import type { FileCheck } from './canvas-client.js'
import { toItem } from './item-query-service.js'

/** The fields staff may edit on an item, named as the API names them. */
export interface ItemPatch {
  workflowStatus?: string
  remarks?: string | null
  v2ManualClassification?: string | null
  v2Overnamestatus?: string | null
  v2Lengte?: string | null
}

const CHOICES: Record<Exclude<keyof ItemPatch, 'remarks'>, readonly string[]> = {
  workflowStatus: WORKFLOW_STATUSES,
  v2ManualClassification: V2_MANUAL_CLASSIFICATIONS,
  v2Overnamestatus: V2_OVERNAMESTATUSES,
  v2Lengte: V2_LENGTES,
}
/** The column behind each editable field. */
const COLUMNS = {
  workflowStatus: 'workflow_status',
  remarks: 'remarks',
  v2ManualClassification: 'v2_manual_classification',
  v2Overnamestatus: 'v2_overnamestatus',
  v2Lengte: 'v2_lengte',
} as const satisfies Record<keyof ItemPatch, string>
/** Every field {@link ItemService.update} accepts. */
export const EDITABLE_FIELDS = Object.keys(COLUMNS)

/** Validates a patch; throws `E_VALIDATION` naming the first bad field. */
export function validatePatch(patch: unknown): ItemPatch {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw badInput('body', 'body must be a JSON object of the fields to change')
  }
  const entries = Object.entries(patch)
  if (entries.length === 0)
    throw badInput('body', `body must change at least one of ${EDITABLE_FIELDS.join(', ')}`)
  for (const [field, value] of entries) {
    if (!EDITABLE_FIELDS.includes(field)) {
      throw badInput(
        field,
        `field "${field}" cannot be edited; editable fields: ${EDITABLE_FIELDS.join(', ')}`,
      )
    }
    if (field === 'remarks') {
      if (value !== null && (typeof value !== 'string' || value.length > 2000)) {
        throw badInput('remarks', 'remarks must be a string of at most 2000 characters, or null')
      }
      continue
    }
    const choices = CHOICES[field as keyof typeof CHOICES]
    const nullable = field !== 'workflowStatus'
    if (!(nullable && value === null) && !choices.includes(value as string)) {
      throw badInput(
        field,
        `${field} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}${nullable ? ' or null' : ''}, got ${JSON.stringify(value)}`,
      )
    }
  }
  return patch as ItemPatch
}

/** Writes to items: staff edits and recorded Canvas checks, each followed by the cache invalidation it needs. */
export class ItemService {
  private readonly database: DatabaseHandle
  private readonly invalidation: CacheInvalidation

  constructor(database: DatabaseHandle, invalidation: CacheInvalidation) {
    this.database = database
    this.invalidation = invalidation
  }

  /** Applies a staff edit, records each changed field, and invalidates the counts. */
  async update(materialId: number, patch: unknown): Promise<CopyrightItem> {
    if (!Number.isSafeInteger(materialId) || materialId <= 0) {
      throw badInput(
        'materialId',
        `material id must be a positive whole number, got ${JSON.stringify(materialId)}`,
      )
    }
    const changes = validatePatch(patch)
    const now = new Date().toISOString()
    const result = await this.database.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('copyright_items')
        .selectAll()
        .where('material_id', '=', materialId)
        .executeTakeFirst()
      if (!row)
        throw new AppError(AppErrorCodes.NOT_FOUND, `no item with material id ${materialId}`, {
          field: 'materialId',
        })
      const update: ItemUpdate = {}
      const audit = []
      for (const [field, value] of Object.entries(changes) as Array<[keyof ItemPatch, string | null]>) {
        const column = COLUMNS[field]
        if (row[column] === value) continue
        update[column] = value as never
        audit.push({
          material_id: materialId,
          batch_id: null,
          source: 'edit',
          field: column,
          old_value: row[column],
          new_value: value,
          changed_at: now,
        })
      }
      if (audit.length === 0) return { row, changed: false }
      update.modified_at = now
      await trx.updateTable('copyright_items').set(update).where('material_id', '=', materialId).execute()
      await trx.insertInto('item_changes').values(audit).execute()
      return { row: { ...row, ...update }, changed: true }
    })
    if (result.changed) await this.invalidation.itemsChanged()
    return toItem(result.row as typeof result.row & { modified_at: string })
  }

  /**
   * Stores Canvas checks on their items. Counts and faculties do not depend on these columns, so no
   * cache is invalidated; the checks themselves are cached by the Canvas client.
   */
  async recordFileChecks(checks: readonly FileCheck[]): Promise<number> {
    if (checks.length === 0) return 0
    await this.database.db.transaction().execute(async (trx) => {
      for (const check of checks) {
        await trx
          .updateTable('copyright_items')
          .set({
            file_exists: check.exists ? 1 : 0,
            last_canvas_check: check.checkedAt,
            canvas_course_id: check.courseId,
          })
          .where('material_id', '=', check.materialId)
          .execute()
      }
    })
    return checks.length
  }
}
