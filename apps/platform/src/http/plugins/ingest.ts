import multipart from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'
import { AppError, AppErrorCodes, badInput } from '../../lib/errors.js'
import type { ServerDeps } from '../routes-common.js'

/**
 * Qlik uploads (admins only). The upload answers 202 once the file is parsed and checked; the rows
 * are merged in the background and `GET /api/ingest/batches/:batchId` reports the progress.
 */
export async function ingestRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { ingest, ingestLimits } = deps
  await app.register(multipart, { limits: { fileSize: ingestLimits.maxUploadBytes, files: 1 } })

  app.post('/api/ingest/qlik', { config: { access: 'admin' } }, async (request, reply) => {
    if (!request.isMultipart())
      throw badInput('file', 'upload the Qlik export as multipart/form-data in field "file"')
    const file = await request.file()
    if (!file) throw badInput('file', 'upload the Qlik export as multipart/form-data in field "file"')
    let data: Buffer
    try {
      data = await file.toBuffer()
    } catch (error) {
      if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new AppError(
          AppErrorCodes.TOO_LARGE,
          `the file is larger than the upload limit of ${ingestLimits.maxUploadBytes.toLocaleString('en')} bytes (INGEST_MAX_UPLOAD_BYTES)`,
          { field: 'file' },
        )
      }
      throw error
    }
    if (data.length === 0)
      throw new AppError(AppErrorCodes.MALFORMED_FILE, 'the uploaded file is empty', { field: 'file' })
    const job = await ingest.start(data, file.filename || 'upload')
    // The merge reports its own failure in the batch; this only keeps it from being unhandled.
    job.done.catch(() => undefined)
    const progress = await ingest.progress(job.batchId)
    return reply.status(202).header('location', `/api/ingest/batches/${job.batchId}`).send(progress)
  })

  app.get(
    '/api/ingest/batches/:batchId',
    {
      config: { access: 'admin' },
      schema: {
        params: {
          type: 'object',
          properties: { batchId: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (request) => {
      const { batchId } = request.params as { batchId: number }
      const progress = await ingest.progress(batchId)
      if (!progress) {
        throw new AppError(AppErrorCodes.NOT_FOUND, `no ingest batch ${batchId}`, { field: 'batchId' })
      }
      return progress
    },
  )
}
