import { Worker } from 'node:worker_threads'
import { AppError, type AppErrorCode } from '../lib/errors.js'
import type { ParseRequest } from './qlik-parse-worker.js'
import {
  type ParsedExport,
  type ParseLimits,
  parseQlikExport,
  type QlikFormat,
  type QlikRow,
} from './qlik-parser.js'

/** Files up to this size parse in a few milliseconds: a worker thread would cost more than it saves. */
export const INLINE_PARSE_BYTES = 128 * 1024

const WORKER = new URL('./qlik-parse-worker.mjs', import.meta.url)

type WorkerMessage =
  | { type: 'rows'; rows: QlikRow[] }
  | { type: 'done'; format: QlikFormat }
  | { type: 'error'; code?: AppErrorCode; field?: string; message: string }

/**
 * Parses an export off the event loop: a large file in a worker thread, so that a 60,000-row CSV or
 * a big workbook never holds up other requests; a small one in-line. Errors are the parser's.
 */
export async function parseExport(
  data: Uint8Array,
  filename: string,
  limits: ParseLimits,
): Promise<ParsedExport> {
  if (data.byteLength <= INLINE_PARSE_BYTES) return parseQlikExport(data, filename, limits)
  // A copy the worker may own: the caller's buffer may be a slice of a pooled one.
  const owned = new Uint8Array(data)
  const request: ParseRequest = { data: owned, filename, limits }
  const worker = new Worker(WORKER, { workerData: request, transferList: [owned.buffer] })
  const rows: QlikRow[] = []
  try {
    return await new Promise<ParsedExport>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'rows') {
          for (const row of message.rows) rows.push(row)
        } else if (message.type === 'done') {
          resolve({ format: message.format, rows })
        } else if (message.code) {
          reject(new AppError(message.code, message.message, message.field ? { field: message.field } : {}))
        } else {
          reject(new Error(`parsing ${filename} failed: ${message.message}`))
        }
      })
      worker.on('error', reject)
      worker.on('exit', (code) => reject(new Error(`the parser thread stopped (exit code ${code})`)))
    })
  } finally {
    await worker.terminate()
  }
}
