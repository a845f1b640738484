import type { FastifyInstance } from 'fastify'
import { AppError, AppErrorCodes } from '../../lib/errors.js'
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
