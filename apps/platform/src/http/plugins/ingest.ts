import multipart from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'
import { AppError, AppErrorCodes, badInput } from '../../lib/errors.js'
import type { ServerDeps } from '../routes-common.js'

/** Qlik uploads (admins only). */
export async function ingestRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { ingest, ingestLimits } = deps
  await app.register(multipart, { limits: { fileSize: ingestLimits.maxUploadBytes, files: 1 } })

  app.post('/api/ingest/qlik', { config: { access: 'admin' } }, async (request) => {
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
          `the file is larger than the upload limit of ${ingestLimits.maxUploadBytes} bytes (INGEST_MAX_UPLOAD_BYTES)`,
          { field: 'file' },
        )
      }
      throw error
    }
    if (data.length === 0)
      throw new AppError(AppErrorCodes.MALFORMED_FILE, 'the uploaded file is empty', { field: 'file' })
    return ingest.ingestFile(data, file.filename || 'upload')
  })
}
