import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { prng } from '../catalogue.js'

/** What a route handler answers. */
export interface SimResponse {
  status: number
  /** A JSON-serialisable value, or a string sent as is. */
  body: unknown
  /** `content-type`; JSON unless the body is a string. */
  contentType?: string
  /** Further headers (`etag`, `last-modified`). */
  headers?: Record<string, string>
}

/** A request as a route handler sees it. */
export interface SimRequest {
  method: string
  url: URL
  headers: IncomingMessage['headers']
  /** The raw request body (empty for GET). */
  body: string
  /** Named groups of the route's pattern. */
  params: Record<string, string>
}

/** One route of a simulator. */
export interface SimRoute {
  /** Name used by the request counters (`search`, `file`, ...). */
  name: string
  method: 'GET' | 'POST'
  /** Matched against the pathname; named groups become `params`. */
  path: RegExp
  handle(request: SimRequest): SimResponse
}

/** A failure forced on every request whose path matches: a status, a hang, or a body that is not JSON. */
export type ForcedBehaviour = number | 'timeout' | 'bad-json'

/** Latency and failure injection of a simulator. */
export interface SimulatorOptions {
  /**
   * Delay before each answer, in milliseconds.
   * @default 150
   */
  latencyMs?: number
  /**
   * Fraction of requests answered with a 5xx (0 to 1).
   * @default 0
   */
  errorRate?: number
  /**
   * Fraction of requests never answered (0 to 1), until the simulator stops.
   * @default 0
   */
  timeoutRate?: number
  /**
   * Seed of the failure dice, so a run with failures is repeatable.
   * @default 7
   */
  seed?: number
}

/**
 * A real HTTP server standing in for an upstream service: routes, latency, injected failures and
 * counters of what it served. Tests read the counters to tell a cache hit from an upstream call.
 */
export class Simulator {
  /** Name shown in logs (`osiris`, `people`, `canvas`). */
  readonly name: string
  private readonly routes: readonly SimRoute[]
  private readonly server: Server
  private readonly counts = new Map<string, number>()
  private readonly statuses = new Map<number, number>()
  private readonly forced: Array<{ match: string | RegExp; behaviour: ForcedBehaviour }> = []
  private random: () => number
  private latencyMs: number
  private errorRate: number
  private timeoutRate: number
  private total = 0
  private base: string | undefined

  constructor(name: string, routes: readonly SimRoute[], options: SimulatorOptions = {}) {
    this.name = name
    this.routes = routes
    this.latencyMs = options.latencyMs ?? 150
    this.errorRate = options.errorRate ?? 0
    this.timeoutRate = options.timeoutRate ?? 0
    this.random = prng(options.seed ?? 7)
    this.server = createServer((req, res) => {
      void this.serve(req, res)
    })
  }

  /** Listens on `port` (0 = a free one) on loopback; resolves with the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const address = this.server.address() as AddressInfo
    this.base = `http://${host}:${address.port}`
    return this.base
  }

  /** The base URL; throws before `start`. */
  get url(): string {
    if (this.base === undefined) throw new Error(`simulator "${this.name}" is not started`)
    return this.base
  }

  /** Stops listening and drops open connections, hung requests included. */
  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** Requests received in total, or for one route name. */
  requests(route?: string): number {
    return route === undefined ? this.total : (this.counts.get(route) ?? 0)
  }

  /** Answers sent with `status` (e.g. 304: conditional requests that found the resource unchanged). */
  answered(status: number): number {
    return this.statuses.get(status) ?? 0
  }

  /** Zeroes the counters. */
  resetCounters(): void {
    this.total = 0
    this.counts.clear()
    this.statuses.clear()
  }

  /** Answers every request whose path contains `match` (or matches the RegExp) with `behaviour`. */
  force(match: string | RegExp, behaviour: ForcedBehaviour): void {
    this.forced.push({ match, behaviour })
  }

  /** Removes every forced behaviour. */
  clearForced(): void {
    this.forced.length = 0
  }

  /** Changes latency and failure rates while running. */
  configure(options: SimulatorOptions): void {
    if (options.latencyMs !== undefined) this.latencyMs = options.latencyMs
    if (options.errorRate !== undefined) this.errorRate = options.errorRate
    if (options.timeoutRate !== undefined) this.timeoutRate = options.timeoutRate
    if (options.seed !== undefined) this.random = prng(options.seed)
  }

  private send(res: ServerResponse, response: SimResponse): void {
    this.statuses.set(response.status, (this.statuses.get(response.status) ?? 0) + 1)
    sendResponse(res, response)
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    this.total++
    let route: SimRoute | undefined
    let params: Record<string, string> = {}
    for (const candidate of this.routes) {
      const match = candidate.method === req.method ? candidate.path.exec(url.pathname) : null
      if (match) {
        route = candidate
        params = { ...match.groups }
        break
      }
    }
    if (route) this.counts.set(route.name, (this.counts.get(route.name) ?? 0) + 1)
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs))

    const forced = this.forced.find((f) =>
      typeof f.match === 'string' ? url.pathname.includes(f.match) : f.match.test(url.pathname),
    )?.behaviour
    const dice = this.random()
    if (forced === 'timeout' || (forced === undefined && dice < this.timeoutRate)) return
    if (forced === 'bad-json')
      return this.send(res, { status: 200, body: '{"hits": [', contentType: 'application/json' })
    if (typeof forced === 'number')
      return this.send(res, { status: forced, body: { error: `forced ${forced}` } })
    if (dice < this.timeoutRate + this.errorRate) {
      return this.send(res, { status: 503, body: { error: 'Service Unavailable' } })
    }
    if (!route)
      return this.send(res, { status: 404, body: { error: `no route for ${req.method} ${url.pathname}` } })
    try {
      this.send(res, route.handle({ method: req.method ?? 'GET', url, headers: req.headers, body, params }))
    } catch (error) {
      this.send(res, { status: 500, body: { error: (error as Error).message } })
    }
  }
}

function sendResponse(res: ServerResponse, response: SimResponse): void {
  // A 304 has no body, only the validators.
  if (response.status === 304) {
    res.writeHead(304, response.headers)
    res.end()
    return
  }
  const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body)
  const type =
    response.contentType ??
    (typeof response.body === 'string' ? 'text/html; charset=utf-8' : 'application/json')
  res.writeHead(response.status, {
    ...response.headers,
    'content-type': type,
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}
