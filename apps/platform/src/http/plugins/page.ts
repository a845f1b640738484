import type { FastifyInstance } from 'fastify'
import { type ItemFilter, normaliseFilter } from '../../services/item-query-service.js'
import { renderDashboard } from '../dashboard.js'
import { filterSchema, type ServerDeps } from '../routes-common.js'
import { cacheStats } from './cache.js'

/** The dashboard page; a browser without a session is sent to the sign-in page. */
export async function pageRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { queries, caches } = deps
  app.get(
    '/',
    { schema: { querystring: filterSchema }, config: { signInRedirect: true } },
    async (request, reply) => {
      const query = request.query as ItemFilter
      const f = normaliseFilter(query)
      const [page, faculties] = await Promise.all([queries.list(query), queries.getFaculties()])
      reply.type('text/html; charset=utf-8')
      return renderDashboard({
        filter: {
          status: f.status,
          faculty: f.faculty ?? '',
          search: query.search?.trim() ?? '',
          page: f.page,
          perPage: f.perPage,
        },
        page,
        faculties,
        caches: cacheStats(caches),
        backend: deps.backend,
        instance: deps.instance,
        user: request.user!,
        csrfToken: reply.generateCsrf(),
      })
    },
  )
}
