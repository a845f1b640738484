import type { FastifyInstance } from 'fastify'
import { AppError, AppErrorCodes } from '../../lib/errors.js'
import type { FileRef } from '../../services/canvas-client.js'
import { noSuchItem, parseMaterialId, type ServerDeps } from '../routes-common.js'

/** Canvas file checks: one item's, or a batch that records its results on the items. */
export async function canvasRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { database, queries, items } = deps
  const requireCanvas = () => {
    if (!deps.canvas) {
      throw new AppError(AppErrorCodes.UPSTREAM, 'Canvas is not configured: set CANVAS_API_URL', {
        field: 'CANVAS_API_URL',
      })
    }
    return deps.canvas
  }

  app.get('/api/canvas/items/:materialId/file-exists', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    const item = await queries.getItem(id)
    if (!item) throw noSuchItem(id)
    const check = await requireCanvas().checkFileExistence(item)
    if (check.checkedAt !== item.lastCanvasCheck) await items.recordFileChecks([check])
    return check
  })

  app.post(
    '/api/canvas/check',
    {
      schema: {
        body: {
          type: 'object',
          required: ['materialIds'],
          additionalProperties: false,
          properties: {
            materialIds: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { type: 'integer', minimum: 1 },
            },
          },
        },
      },
    },
    async (request) => {
      const canvas = requireCanvas()
      const ids = [...new Set((request.body as { materialIds: number[] }).materialIds)]
      const rows = await database.db
        .selectFrom('copyright_items')
        .select(['material_id', 'url'])
        .where('material_id', 'in', ids)
        .execute()
      const found = new Map<number, FileRef>(
        rows.map((r) => [r.material_id, { materialId: r.material_id, url: r.url }]),
      )
      const results = await canvas.checkMany([...found.values()])
      const checks = results.flatMap((r) => (r.ok ? [r.check] : []))
      await items.recordFileChecks(checks)
      return {
        checked: checks.length,
        exists: checks.filter((c) => c.exists).length,
        missing: checks.filter((c) => !c.exists).length,
        errors: results.length - checks.length,
        unknownIds: ids.filter((id) => !found.has(id)),
        results,
      }
    },
  )
}
