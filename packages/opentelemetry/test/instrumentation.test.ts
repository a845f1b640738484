import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { redisAdapter } from '@cacheport/adapter-redis'
import { createCache } from '@cacheport/cache-core'
import { context, SpanStatusCode } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { instrumentCaches } from '../src/index.js'
import { readmeExample, typeCheck } from './helpers/readme.js'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')

// Parents come from the active context, as in an application with the Node SDK.
const contextManager = new AsyncLocalStorageContextManager()
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable())
})
afterAll(() => {
  context.disable()
})

const exporter = new InMemorySpanExporter()
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = tracerProvider.getTracer('test')

/** A reader that collects on demand, as a Prometheus scrape or an export interval would. */
class OnDemandReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  exporter.reset()
})
function track<T extends { close(): unknown }>(thing: T): T {
  closers.push(() => thing.close())
  return thing
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name)
const ms = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6
const durationMs = (span: ReadableSpan) => ms(span.duration)

describe('spans', () => {
  it('cover getOrSet and its load, under the caller’s span, with outcome and real timings', async () => {
    const cache = track(
      createCache({
        adapter: memoryAdapter(),
        l1: memoryAdapter(),
        keyPrefix: 'ea',
        name: 'queries',
        // Prefixes are attributes only when declared: every other key counts under "(other)".
        statsPrefixes: ['filter_counts'],
      }),
    )
    track(instrumentCaches(cache, { tracer, metrics: false }))
    await tracer.startActiveSpan('GET /api/items/counts', async (request) => {
      await cache.getOrSet('filter_counts:EEMCS', async () => {
        await sleep(30)
        return { ToDo: 3 }
      })
      await cache.getOrSet('filter_counts:EEMCS', async () => ({ ToDo: 0 }))
      await cache.get('filter_counts:EEMCS') // not spanned by default
      request.end()
    })
    const [request] = named('GET /api/items/counts')
    const [load] = named('load queries')
    const calls = named('getOrSet queries')
    expect(calls).toHaveLength(2)
    expect(exporter.getFinishedSpans().map((s) => s.name)).not.toContain('get queries')
    for (const span of [load!, ...calls]) {
      expect(span.parentSpanContext?.spanId).toBe(request!.spanContext().spanId)
      expect(span.spanContext().traceId).toBe(request!.spanContext().traceId)
    }
    expect(calls[0]!.attributes).toMatchObject({
      'cacheport.cache': 'queries',
      'cacheport.adapter': 'memory+memory',
      'cacheport.prefix': 'filter_counts',
      'cacheport.operation': 'getOrSet',
      'cacheport.outcome': 'miss',
      'cacheport.hit': false,
    })
    expect(calls[1]!.attributes).toMatchObject({ 'cacheport.outcome': 'l1', 'cacheport.hit': true })
    expect(calls[0]!.attributes['cacheport.key']).toBeUndefined()
    expect(load!.attributes).toMatchObject({
      'cacheport.prefix': 'filter_counts',
      'cacheport.load.batch': false,
    })
    // The call that waited for the load links to it.
    expect(calls[0]!.links.map((l) => l.context.spanId)).toEqual([load!.spanContext().spanId])
    // The spans carry the real times: the 30 ms load inside the call that waited for it.
    expect(durationMs(load!)).toBeGreaterThanOrEqual(25)
    expect(durationMs(calls[0]!)).toBeGreaterThanOrEqual(durationMs(load!))
    expect(ms(load!.startTime)).toBeGreaterThanOrEqual(ms(calls[0]!.startTime))
    expect(ms(load!.endTime)).toBeLessThanOrEqual(ms(calls[0]!.endTime) + 0.001)
  })

  it('record keys only when asked to', async () => {
    const cache = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'ea', name: 'keys' }))
    track(instrumentCaches(cache, { tracer, metrics: false, recordKeys: true }))
    await cache.getOrSet('person:s1234567', async () => 'Ada')
    expect(named('getOrSet keys')[0]!.attributes['cacheport.key']).toBe('person:s1234567')
    expect(named('load keys')[0]!.attributes['cacheport.key']).toBe('person:s1234567')
  })

  it('mark a failed load and the call that waited for it as errors', async () => {
    const cache = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'ea', name: 'failing' }))
    track(instrumentCaches(cache, { tracer, metrics: false }))
    await expect(
      cache.getOrSet('course:1', () => Promise.reject(new TypeError('osiris down'))),
    ).rejects.toThrow()
    for (const span of [...named('load failing'), ...named('getOrSet failing')]) {
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'osiris down' })
      expect(span.attributes['error.type']).toBe('TypeError')
      expect(span.events.map((e) => e.name)).toEqual(['exception'])
    }
    expect(named('load failing')).toHaveLength(1)
    expect(named('getOrSet failing')).toHaveLength(1)
  })

  it('cover getOrSetMany with counts per outcome, and its one batch load', async () => {
    const cache = track(
      createCache({ adapter: memoryAdapter(), keyPrefix: 'ea', name: 'batch', statsPrefixes: ['person'] }),
    )
    track(instrumentCaches(cache, { tracer, metrics: false }))
    await cache.set('person:1', 'Ada')
    await cache.getOrSetMany(['person:1', 'person:2', 'person:3'], async (keys) => keys)
    const [call] = named('getOrSetMany batch')
    expect(call!.attributes).toMatchObject({
      'cacheport.keys.count': 3,
      'cacheport.hits': 1,
      'cacheport.misses': 2,
      'cacheport.prefix': 'person',
    })
    expect(named('load batch')[0]!.attributes).toMatchObject({
      'cacheport.load.batch': true,
      'cacheport.keys.count': 2,
    })
  })

  it('cover invalidations, and stop when closed', async () => {
    const cache = track(createCache({ adapter: memoryAdapter(), keyPrefix: 'ea', name: 'inv' }))
    const instrumentation = instrumentCaches(cache, { tracer, metrics: false })
    await cache.delete('person:1')
    await cache.deletePattern('person:*')
    await cache.invalidateTags(['faculty:EEMCS'])
    await cache.clear()
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes['cacheport.invalidation']])).toEqual([
      ['delete inv', true],
      ['deletePattern inv', true],
      ['invalidateTags inv', true],
      ['clear inv', true],
    ])
    instrumentation.close()
    exporter.reset()
    await cache.getOrSet('x', async () => 1)
    expect(exporter.getFinishedSpans()).toEqual([])
  })
})

describe('metrics', () => {
  async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await reader.collect()
    return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
  }
  const point = (metric: MetricData | undefined, attributes: Record<string, unknown>) =>
    (metric?.dataPoints as Array<DataPoint<unknown>> | undefined)?.find((p) =>
      Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
    )?.value

  it('report the counters, histograms and gauges of the Prometheus package', async () => {
    const reader = new OnDemandReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    closers.push(() => meterProvider.shutdown())
    const meter = meterProvider.getMeter('test')
    const cache = track(
      createCache({
        adapter: memoryAdapter(),
        l1: memoryAdapter(),
        keyPrefix: 'ea',
        name: 'm',
        statsPrefixes: ['item'],
      }),
    )
    track(instrumentCaches(cache, { meter, traces: false }))
    await cache.getOrSet('item:1', async () => 1)
    await cache.get('item:1')
    await expect(cache.getOrSet('item:2', () => Promise.reject(new Error('x')))).rejects.toThrow()

    const all = await collect(reader)
    const labels = {
      'cacheport.cache': 'm',
      'cacheport.adapter': 'memory+memory',
      'cacheport.prefix': 'item',
    }
    expect(point(all.get('cacheport.hits'), labels)).toBe(1)
    expect(point(all.get('cacheport.l1_hits'), labels)).toBe(1)
    expect(point(all.get('cacheport.misses'), labels)).toBe(2)
    expect(point(all.get('cacheport.loads'), labels)).toBe(2)
    expect(point(all.get('cacheport.load_failures'), labels)).toBe(1)
    const loads = point(all.get('cacheport.load.duration'), labels) as Histogram
    expect(loads.count).toBe(2)
    expect(all.get('cacheport.load.duration')!.descriptor.unit).toBe('s')
    const gets = point(all.get('cacheport.operation.duration'), {
      ...labels,
      'cacheport.operation': 'get',
    }) as Histogram
    expect(gets.count).toBe(1)
    const m = { 'cacheport.cache': 'm' }
    expect(point(all.get('cacheport.circuit.state'), { ...m, 'cacheport.state': 'closed' })).toBe(1)
    expect(point(all.get('cacheport.circuit.state'), { ...m, 'cacheport.state': 'open' })).toBe(0)
    expect(point(all.get('cacheport.l1.entries'), m)).toBe(1)
  })

  it('count store errors by operation and error type', async () => {
    const reader = new OnDemandReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    closers.push(() => meterProvider.shutdown())
    const inner = memoryAdapter()
    const down = Object.assign(Object.create(Object.getPrototypeOf(inner)), {
      name: 'memory',
      capabilities: inner.capabilities,
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      close: () => inner.close(),
    })
    const cache = track(
      createCache({
        adapter: down,
        keyPrefix: 'ea',
        name: 'down',
        breaker: false,
        statsPrefixes: ['course'],
      }),
    )
    track(instrumentCaches(cache, { meter: meterProvider.getMeter('test'), traces: false }))
    await cache.get('course:1')
    const all = await collect(reader)
    expect(
      point(all.get('cacheport.errors'), {
        'cacheport.cache': 'down',
        'cacheport.prefix': 'course',
        'cacheport.operation': 'get',
        'error.type': 'E_ADAPTER',
      }),
    ).toBe(1)
  })

  it('export the Redis server memory as gauges', async () => {
    const reader = new OnDemandReader()
    const meterProvider = new MeterProvider({ readers: [reader] })
    closers.push(() => meterProvider.shutdown())
    const adapter = redisAdapter({ url: process.env.CACHEPORT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9' })
    const cache = track(
      createCache({ adapter, keyPrefix: `otel_${randomBytes(4).toString('hex')}`, name: 'r' }),
    )
    track(instrumentCaches(cache, { meter: meterProvider.getMeter('test'), traces: false }))
    await cache.ready()
    await cache.set('k', 1)
    const memory = (await adapter.serverMemory())!
    const all = await collect(reader)
    const labels = { 'cacheport.cache': 'r', 'cacheport.adapter': 'redis' }
    expect(point(all.get('cacheport.store.memory.used'), labels)).toBeGreaterThan(0)
    expect(point(all.get('cacheport.store.memory.limit'), labels)).toBe(memory.maxBytes)
    expect(point(all.get('cacheport.store.evicted_keys'), labels)).toBe(memory.evictedKeys)
    expect(
      point(all.get('cacheport.store.maxmemory_policy'), { ...labels, 'cacheport.policy': memory.policy }),
    ).toBe(1)
    expect(all.get('cacheport.store.memory.used')!.descriptor.unit).toBe('By')
    await cache.clear()
  })
})

describe('README', () => {
  it('its example type-checks as a user would write it', () => {
    expect(typeCheck(packageDir, readmeExample(packageDir))).toEqual([])
  }, 60_000)
})
