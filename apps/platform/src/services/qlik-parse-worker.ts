import { parentPort, workerData } from 'node:worker_threads'
import { AppError } from '../lib/errors.js'
import { type ParseLimits, parseQlikExport } from './qlik-parser.js'

/** What the parent sends: the file (transferred, not copied) and the limits to enforce. */
export interface ParseRequest {
  data: Uint8Array
  filename: string
  limits: ParseLimits
}

/** Rows go back in slices so that the parent deserialises a little at a time between other requests. */
const SLICE = 1000

const { data, filename, limits } = workerData as ParseRequest
try {
  const { format, rows } = await parseQlikExport(data, filename, limits)
  for (let i = 0; i < rows.length; i += SLICE) {
    parentPort!.postMessage({ type: 'rows', rows: rows.slice(i, i + SLICE) })
  }
  parentPort!.postMessage({ type: 'done', format })
} catch (error) {
  const { code, field } = error instanceof AppError ? error : { code: undefined, field: undefined }
  parentPort!.postMessage({ type: 'error', code, field, message: (error as Error).message })
}
