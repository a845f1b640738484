import { join } from 'node:path'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { json, prepareDatabase, startTestApp, type TestApp, tempDir } from './helpers.js'
import { type RedisServer, startRedisServer } from './redis-server.js'

/** The value of `name` for the labels given (a subset), read through the app's prom-client registry. */
async function metricValue(
  t: TestApp,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = t.app.metrics.getSingleMetric(name)
  if (!metric) throw new Error(`${name} is not registered`)
  const { values } = await metric.get()
  return values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value
}

describe('tracing configuration', () => {
  it('is off unless an OTLP endpoint or the console exporter is asked for', () => {
    expect(loadConfig({}).tracing).toBe('off')
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toBe('otlp')
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }).tracing).toBe('otlp')
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracing).toBe('console')
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })
        .tracing,
    ).toBe('off')
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'OTEL_TRACES_EXPORTER' }),
    )
  })
})

describe('metrics and traces of the app', () => {
  let t: TestApp
  const dir = tempDir()
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })

  beforeAll(async () => {
    // What startTracing does for `serve`, with spans kept in memory instead of exported.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(provider)
    const url = join(dir.path, 'observability.sqlite')
    await prepareDatabase(url, 100)
    t = await startTestApp(url, { OTEL_TRACES_EXPORTER: 'console' })
  }, 30_000)

  afterAll(async () => {
    await t?.stop()
    await provider.shutdown()
    trace.disable()
    context.disable()
    dir.remove()
  })

  it('counts a cached request in cacheport_hits_total, read through prom-client', async () => {
    const labels = { cache: 'queries', prefix: 'filter_counts', adapter: 'memory' }
    await t.api.getJson('/api/items/counts?faculty=BMS')
    const hits = (await metricValue(t, 'cacheport_hits_total', labels)) ?? 0
    const misses = (await metricValue(t, 'cacheport_misses_total', labels)) ?? 0
    await t.api.getJson('/api/items/counts?faculty=BMS')
    expect(await metricValue(t, 'cacheport_hits_total', labels)).toBe(hits + 1)
    expect(await metricValue(t, 'cacheport_misses_total', labels)).toBe(misses)
    expect(await metricValue(t, 'cacheport_circuit_state', { cache: 'queries', state: 'closed' })).toBe(1)
  })

  it('serves the registry at /metrics, process metrics included, without signing in', async () => {
    await t.api.getJson('/api/faculties')
    await t.api.getJson('/api/faculties')
    const res = await fetch(`${t.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(t.app.metrics.contentType)
    const text = await res.text()
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m)
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m)
    expect(text).toContain('# TYPE cacheport_hits_total counter')
    expect(text).toMatch(
      /^cacheport_hits_total\{cache="default",prefix="faculties",adapter="memory"\} [1-9]/m,
    )
    expect(text).toContain('# TYPE cacheport_operation_duration_seconds histogram')
  })

  it('traces a request, with the cache spans as its children', async () => {
    exporter.reset()
    await t.api.getJson('/api/items/counts?faculty=ET')
    await t.api.getJson('/api/items/counts?faculty=ET')
    const spans = exporter.getFinishedSpans()
    const requests = spans.filter((s) => s.name === 'GET /api/items/counts')
    expect(requests).toHaveLength(2)
    expect(requests[0]!.attributes).toMatchObject({
      'http.route': '/api/items/counts',
      'http.response.status_code': 200,
    })
    const childrenOf = (parent: ReadableSpan) =>
      spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)
    const [first, second] = requests.map(childrenOf)
    const outcome = (children: ReadableSpan[] | undefined) =>
      children?.find((s) => s.name === 'getOrSet queries')?.attributes['cacheport.outcome']
    expect(outcome(first)).toBe('miss')
    expect(first!.map((s) => s.name)).toContain('load queries')
    expect(outcome(second)).toBe('hit')
    // Keys can hold personal data (people's names): the app does not put them on spans.
    for (const span of spans) expect(span.attributes).not.toHaveProperty('cacheport.key')
    for (const span of [...first!, ...second!])
      expect(span.spanContext().traceId).toBe(span.parentSpanContext?.traceId)
  })
})

describe('/health with a Redis-backed cache', () => {
  let t: TestApp
  let redis: RedisServer
  const dir = tempDir()

  beforeAll(async () => {
    redis = await startRedisServer()
    const url = join(dir.path, 'health.sqlite')
    await prepareDatabase(url, 50)
    t = await startTestApp(url, { CACHE_BACKEND: 'redis', REDIS_URL: redis.url })
  }, 30_000)

  afterAll(async () => {
    await t?.stop()
    await redis?.kill()
    dir.remove()
  })

  it("shows each cache's Redis memory and warns when maxmemory is unset and nothing is evicted", async () => {
    const health = await json(await fetch(`${t.url}/health`))
    expect(health.status).toBe('ok')
    for (const name of ['default', 'queries']) {
      const { memory } = health.caches[name]
      expect(memory).toMatchObject({ maxBytes: 0, policy: 'noeviction', evictedKeys: 0 })
      expect(memory.usedBytes).toBeGreaterThan(0)
      expect(memory.warnings).toEqual([
        expect.stringMatching(/^maxmemory is unset/),
        expect.stringMatching(/^maxmemory-policy is noeviction/),
      ])
    }
  })
})

describe('/health with a Redis that may evict', () => {
  let t: TestApp
  let redis: RedisServer
  const dir = tempDir()

  beforeAll(async () => {
    redis = await startRedisServer({
      args: ['--save', '', '--appendonly', 'no', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'],
    })
    const url = join(dir.path, 'health-lru.sqlite')
    await prepareDatabase(url, 50)
    t = await startTestApp(url, { CACHE_BACKEND: 'redis', REDIS_URL: redis.url })
  }, 30_000)

  afterAll(async () => {
    await t?.stop()
    await redis?.kill()
    dir.remove()
  })

  it('shows the limit and the policy, without warnings', async () => {
    const health = await json(await fetch(`${t.url}/health`))
    expect(health.caches.queries.memory).toMatchObject({
      maxBytes: 64 * 1024 * 1024,
      policy: 'allkeys-lru',
      warnings: [],
    })
  })
})
