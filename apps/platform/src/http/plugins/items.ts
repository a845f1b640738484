import type { FastifyInstance } from 'fastify'
import type { ItemFilter } from '../../services/item-query-service.js'
import { filterSchema, noSuchItem, parseMaterialId, type ServerDeps } from '../routes-common.js'

/** Items: the list with its counts, the faculties, one item, and staff edits. */
export async function itemRoutes(app: FastifyInstance, { queries, items }: ServerDeps): Promise<void> {
  app.get('/api/items', { schema: { querystring: filterSchema } }, async (request) =>
    queries.list(request.query as ItemFilter),
  )

  app.get(
    '/api/items/counts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { faculty: filterSchema.properties.faculty, search: filterSchema.properties.search },
        },
      },
    },
    async (request) => queries.getFilterCounts(request.query as ItemFilter),
  )

  app.get('/api/faculties', async () => queries.getFaculties())

  app.get('/api/items/:materialId', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    const item = await queries.getItem(id)
    if (!item) throw noSuchItem(id)
    return item
  })

  app.patch('/api/items/:materialId', async (request) => {
    const id = parseMaterialId((request.params as { materialId: string }).materialId)
    return items.update(id, request.body)
  })
}
