import { type Cache, type CachedFunction, cached, type Duration, loaderContext } from '@cacheport/cache-core'
import { canvasFileId } from '../domain.js'
import { AppError, AppErrorCodes, badInput } from '../lib/errors.js'
import { mapWithConcurrency, parseUpstreamJson, upstreamRequest } from '../lib/http-client.js'

/** The part of an item a file check needs. */
export interface FileRef {
  materialId: number
  url: string | null
}

/** The outcome of one Canvas check. */
export interface FileCheck {
  materialId: number
  /** The Canvas file id from the item's URL; `null` when the URL has none. */
  fileId: number | null
  /** Whether Canvas still has the file (401/403/404 count as "no"). */
  exists: boolean
  /** The Canvas course holding the file, when it exists and sits in a course folder. */
  courseId: number | null
  /** When Canvas was asked (a cached answer keeps the time of the real check). */
  checkedAt: string
  /** Canvas' `ETag` of the file, sent back as `If-None-Match` when the check is repeated; `null` without one. */
  etag: string | null
  /** Canvas' `Last-Modified` of the file, sent back as `If-Modified-Since`; `null` without one. */
  lastModified: string | null
}

/** One element of a batch check: the check, or the error that kept it from being made. */
export type BatchCheckResult =
  | { materialId: number; ok: true; check: FileCheck }
  | { materialId: number; ok: false; error: string }

/** Options of {@link CanvasClient}. */
export interface CanvasClientOptions {
  /** Canvas base URL (without `/api/v1`). */
  apiUrl: string
  /** API token, sent as `Authorization: Bearer …`. */
  token: string
  /** The cache holding the checks (the app's `default`). */
  cache: Cache
  /** TTL of a check (the seed: 1 h). */
  ttl: Duration
  /**
   * TTL of a check that found the file gone (401/403/404): a file can be restored, or its
   * permissions fixed, sooner than an existing one disappears.
   * @default the `ttl`
   */
  goneTtl?: Duration
  /**
   * How long past its TTL a check is still served while Canvas fails; it keeps its `checkedAt`.
   * @default 0
   */
  grace?: Duration
  /** Deadline of one HTTP request, in milliseconds. */
  timeoutMs: number
  /**
   * Checks a batch runs at once.
   * @default 50
   */
  concurrency?: number
}

const GONE = new Set([401, 403, 404])

/**
 * Canvas file existence, cached in `default` under `file_exists` for an hour. A file that is gone is
 * an answer (cached for `goneTtl`); a 5xx, a timeout or a body that is not JSON is a failure (thrown,
 * never cached), answered within the grace period with the last check, which keeps the time it was
 * made. An expired check still held in grace is repeated as a conditional request: when Canvas
 * answers 304 (the file is unchanged), the old check stands with the new time, and the folder is not
 * asked again.
 */
export class CanvasClient {
  /** Whether the item's file still exists in Canvas, and in which course. */
  readonly checkFileExistence: CachedFunction<[item: FileRef], FileCheck>
  private readonly options: CanvasClientOptions

  constructor(options: CanvasClientOptions) {
    this.options = options
    // The key is the material id and URL only, so every process and every client instance shares it.
    this.checkFileExistence = cached((item: FileRef) => this.check(checkRef(item)), {
      cache: options.cache,
      keyPrefix: 'file_exists',
      ttl: options.ttl,
      grace: options.grace ?? 0,
      key: (item: FileRef) => {
        const ref = checkRef(item)
        return { materialId: ref.materialId, url: ref.url }
      },
    })
  }

  /** Checks many items, at most `concurrency` at once; one failure does not stop the others. */
  async checkMany(
    items: readonly FileRef[],
    concurrency = this.options.concurrency ?? 50,
  ): Promise<BatchCheckResult[]> {
    return mapWithConcurrency(items, concurrency, async (item): Promise<BatchCheckResult> => {
      try {
        return { materialId: item.materialId, ok: true, check: await this.checkFileExistence(item) }
      } catch (error) {
        return { materialId: item.materialId, ok: false, error: (error as Error).message }
      }
    })
  }

  private async check(item: FileRef): Promise<FileCheck> {
    // Runs inside the cached function's load: its context decides this check's lifetime.
    const ctx = loaderContext<FileCheck>()
    const fileId = canvasFileId(item.url)
    const checkedAt = new Date().toISOString()
    const missing = { materialId: item.materialId, fileId, exists: false, courseId: null, checkedAt }
    if (fileId === null) return { ...missing, etag: null, lastModified: null }
    const { apiUrl, token, timeoutMs, goneTtl } = this.options
    const headers = { authorization: `Bearer ${token}` }
    const fileUrl = `${apiUrl}/api/v1/files/${fileId}`
    const stale = ctx?.stale
    const revalidating = stale?.exists === true && stale.fileId === fileId
    const file = await upstreamRequest(fileUrl, {
      service: 'Canvas',
      headers: revalidating ? { ...headers, ...conditionsOf(stale) } : headers,
      timeoutMs,
    })
    // Unchanged since the last check: its answer (course included) still holds, as of now.
    if (file.status === 304 && revalidating) return { ...stale, checkedAt }
    if (GONE.has(file.status)) {
      if (goneTtl !== undefined) ctx?.ttl(goneTtl)
      return { ...missing, etag: null, lastModified: null }
    }
    if (file.status !== 200) throw unexpected(file.status, fileUrl)
    const body = parseUpstreamJson<{ folder_id?: unknown }>('Canvas', fileUrl, file.text)
    const etag = file.headers.get('etag')
    const lastModified = file.headers.get('last-modified')

    let courseId: number | null = null
    if (typeof body.folder_id === 'number') {
      const folderUrl = `${apiUrl}/api/v1/folders/${body.folder_id}`
      const folder = await upstreamRequest(folderUrl, { service: 'Canvas', headers, timeoutMs })
      if (folder.status === 200) {
        const info = parseUpstreamJson<{ context_type?: unknown; context_id?: unknown }>(
          'Canvas',
          folderUrl,
          folder.text,
        )
        if (info.context_type === 'Course' && typeof info.context_id === 'number') courseId = info.context_id
      } else if (!GONE.has(folder.status)) {
        throw unexpected(folder.status, folderUrl)
      }
    }
    return { materialId: item.materialId, fileId, exists: true, courseId, checkedAt, etag, lastModified }
  }
}

// The conditional headers that ask Canvas whether the file changed since `check` (checks cached
// before validators were kept have none, and are asked unconditionally).
function conditionsOf(check: FileCheck): Record<string, string> {
  const conditions: Record<string, string> = {}
  if (typeof check.etag === 'string') conditions['if-none-match'] = check.etag
  if (typeof check.lastModified === 'string') conditions['if-modified-since'] = check.lastModified
  return conditions
}

function checkRef(item: FileRef): FileRef {
  if (
    item === null ||
    typeof item !== 'object' ||
    !Number.isSafeInteger(item.materialId) ||
    item.materialId <= 0
  ) {
    throw badInput('material_id', 'a file check needs an item with a positive whole material_id')
  }
  if (item.url !== null && typeof item.url !== 'string') throw badInput('url', 'url must be a string or null')
  return { materialId: item.materialId, url: item.url }
}

function unexpected(status: number, url: string): AppError {
  return new AppError(AppErrorCodes.UPSTREAM, `Canvas answered ${status} to ${new URL(url).pathname}`, {
    field: 'Canvas',
  })
}
