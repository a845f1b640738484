import { AppError, AppErrorCodes } from './errors.js'

/** An upstream answer that was not a failure: 2xx, or a 4xx the caller interprets. */
export interface UpstreamResponse {
  status: number
  /** The body as text (empty for a 304). */
  text: string
  /** The answer's headers (validators such as `etag` and `last-modified`). */
  headers: Headers
}

/** Options of {@link upstreamRequest}. */
export interface UpstreamRequestOptions {
  /** Service name for error messages (`Osiris`, `Canvas`, ...). */
  service: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  /** JSON body of a POST. */
  json?: unknown
  /** Deadline of the whole request, in milliseconds. */
  timeoutMs: number
}

/**
 * One HTTP request to an upstream service with a deadline. Network errors, timeouts and 5xx answers
 * throw `E_UPSTREAM`: callers let that reach their cached loader, so failures are never cached.
 */
export async function upstreamRequest(
  url: string,
  options: UpstreamRequestOptions,
): Promise<UpstreamResponse> {
  const { service, timeoutMs } = options
  let response: Response
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: {
        accept: 'application/json, text/html;q=0.9',
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError'
    throw new AppError(
      AppErrorCodes.UPSTREAM,
      timedOut
        ? `${service} did not answer ${options.method ?? 'GET'} ${pathOf(url)} within ${timeoutMs} ms`
        : `${service} could not be reached for ${pathOf(url)}: ${(error as Error).message}`,
      { field: service, cause: error },
    )
  }
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    throw new AppError(AppErrorCodes.UPSTREAM, `${service} broke off its answer to ${pathOf(url)}`, {
      field: service,
      cause: error,
    })
  }
  if (response.status >= 500) {
    throw new AppError(AppErrorCodes.UPSTREAM, `${service} answered ${response.status} to ${pathOf(url)}`, {
      field: service,
    })
  }
  return { status: response.status, text, headers: response.headers }
}

/** Parses an upstream JSON body; a body that is not JSON throws `E_UPSTREAM` naming the service. */
export function parseUpstreamJson<T>(service: string, url: string, text: string): T {
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new AppError(
      AppErrorCodes.UPSTREAM,
      `${service} answered ${pathOf(url)} with a body that is not JSON`,
      {
        field: service,
        cause: error,
      },
    )
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

/** Runs `task` on every element with at most `limit` running at once; results keep their order. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
