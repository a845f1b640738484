import type { FastifyInstance } from 'fastify'
import { AppError, AppErrorCodes } from '../../lib/errors.js'
import type { CourseDetails, PersonData } from '../../services/osiris-client.js'
import { trackRead } from '../../services/read-tracking.js'
import type { ServerDeps } from '../routes-common.js'

/** Osiris course details and people-page lookups. */
export async function osirisRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const requireOsiris = () => {
    if (!deps.osiris) {
      throw new AppError(
        AppErrorCodes.UPSTREAM,
        'Osiris is not configured: set OSIRIS_BASE_URL and PEOPLE_BASE_URL',
        { field: 'OSIRIS_BASE_URL' },
      )
    }
    return deps.osiris
  }

  // The dashboard's Osiris panel: a lookup, and where its answer came from and how old it is.
  app.get(
    '/api/osiris/lookup',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['type', 'q'],
          properties: {
            type: { type: 'string', enum: ['course', 'person'] },
            q: { type: 'string', minLength: 2, maxLength: 200 },
          },
        },
      },
    },
    async (request) => {
      const { type, q } = request.query as { type: 'course' | 'person'; q: string }
      const osiris = requireOsiris()
      const cache = deps.caches.get('default')
      const prefix = type === 'course' ? 'osiris_course' : 'osiris_person'
      const counters = () => cache.stats().byPrefix[prefix] ?? { l1Hits: 0, staleHits: 0 }
      const before = counters()
      const { value, loaded, ms } = await trackRead<CourseDetails | PersonData | null>(() =>
        type === 'course' ? osiris.fetchCourseDetails(q) : osiris.fetchPersonData(q),
      )
      const after = counters()
      // The loader says whether the upstream answered; otherwise the counters' movement names the
      // tier. Another lookup of the same kind at the same moment could blur that, which a lookup
      // panel can live with.
      const source = loaded
        ? 'upstream'
        : after.staleHits > before.staleHits
          ? 'stale'
          : after.l1Hits > before.l1Hits
            ? 'l1'
            : cache.adapter.name
      return {
        type,
        query: q,
        source,
        ms: Math.round(ms * 100) / 100,
        fetchedAt: value?.fetchedAt ?? null,
        ageSeconds: value ? Math.max(0, Math.round((Date.now() - Date.parse(value.fetchedAt)) / 1000)) : null,
        result: value,
      }
    },
  )

  app.get('/api/osiris/courses/:code', async (request, reply) => {
    const code = (request.params as { code: string }).code
    const course = await requireOsiris().fetchCourseDetails(code)
    if (course === null) {
      return reply
        .status(404)
        .send({ error: AppErrorCodes.NOT_FOUND, field: 'code', message: `Osiris has no course ${code}` })
    }
    return course
  })

  app.get(
    '/api/osiris/people',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 2, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const name = (request.query as { name: string }).name
      const person = await requireOsiris().fetchPersonData(name)
      if (person === null) {
        return reply.status(404).send({
          error: AppErrorCodes.NOT_FOUND,
          field: 'name',
          message: `the people pages have no match for ${name}`,
        })
      }
      return person
    },
  )
}
