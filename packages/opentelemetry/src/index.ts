/**
 * OpenTelemetry spans and metrics for Cacheport caches, on `@opentelemetry/api` alone: whichever SDK
 * the application registers (or none) receives them.
 */
import type {
  Cache,
  CacheOperation,
  CacheRegistry,
  CacheStats,
  LoadEvent,
  OperationEvent,
  StoreMemory,
} from '@cacheport/cache-core'
import {
  type Attributes,
  context,
  type Link,
  type Meter,
  metrics,
  type ObservableResult,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'

/** The instrumentation scope name spans and metrics are reported under. */
export const INSTRUMENTATION_NAME = '@cacheport/opentelemetry'

/** Options of {@link instrumentCaches}. */
export interface CacheInstrumentationOptions {
  /**
   * The tracer spans are created with.
   * @default trace.getTracer('@cacheport/opentelemetry') — the globally registered provider's
   */
  tracer?: Tracer
  /**
   * The meter instruments are created with.
   * @default metrics.getMeter('@cacheport/opentelemetry') — the globally registered provider's
   */
  meter?: Meter
  /**
   * Put each call's key on its span (`cacheport.key`). Keys can hold personal data and make
   * attributes unbounded, so they are left out unless asked for.
   * @default false
   */
  recordKeys?: boolean
  /**
   * The calls that get a span. Loads always get one while `traces` is on.
   * @default ['getOrSet', 'getOrSetMany', 'delete', 'deleteMany', 'deletePattern', 'invalidateTags', 'clear']
   */
  spanOperations?: readonly CacheOperation[]
  /**
   * Create spans.
   * @default true
   */
  traces?: boolean
  /**
   * Report metrics.
   * @default true
   */
  metrics?: boolean
}

/** What {@link instrumentCaches} returns: add more caches, or stop. */
export interface CacheInstrumentation {
  /** Instruments `cache` too (a cache already instrumented is ignored). */
  add(cache: Cache): void
  /** Stops every span and metric of every cache instrumented by this call. */
  close(): void
}

const DEFAULT_SPAN_OPERATIONS: readonly CacheOperation[] = [
  'getOrSet',
  'getOrSetMany',
  'delete',
  'deleteMany',
  'deletePattern',
  'invalidateTags',
  'clear',
]
const INVALIDATIONS = new Set<CacheOperation>([
  'delete',
  'deleteMany',
  'deletePattern',
  'invalidateTags',
  'clear',
])
const CIRCUIT_STATES = ['closed', 'half-open', 'open'] as const
const BUS_STATES = ['off', 'connecting', 'connected', 'disconnected'] as const
// Loads whose span a later getOrSet span links to; more than this in flight and the oldest links are dropped.
const MAX_PENDING_LOADS = 10_000

type Field = 'hits' | 'l1Hits' | 'staleHits' | 'misses' | 'sets' | 'deletes' | 'loads'
const STAT_COUNTERS: ReadonlyArray<readonly [Field, string, string, string]> = [
  ['hits', 'cacheport.hits', '{hit}', 'Reads answered with a fresh entry (in-process tier included).'],
  ['l1Hits', 'cacheport.l1_hits', '{hit}', 'Fresh reads answered by the in-process tier (a subset of hits).'],
  ['staleHits', 'cacheport.stale_hits', '{hit}', 'Reads answered with a stale value.'],
  ['misses', 'cacheport.misses', '{miss}', 'Reads that found nothing usable.'],
  ['sets', 'cacheport.sets', '{entry}', 'Entries written.'],
  [
    'deletes',
    'cacheport.deletes',
    '{entry}',
    'Entries removed by deletes and invalidations by key or pattern.',
  ],
  ['loads', 'cacheport.loads', '{load}', 'Loader runs (each key of a batch load counts once).'],
]

function isRegistry(target: unknown): target is CacheRegistry {
  return (
    typeof target === 'object' &&
    target !== null &&
    typeof (target as CacheRegistry).entries === 'function' &&
    typeof (target as CacheRegistry).closeAll === 'function'
  )
}

/** `error.type` of the OpenTelemetry conventions: the stable code of a CacheError, else the class name. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code.startsWith('E_')) return code
  return error instanceof Error ? error.constructor.name : '_OTHER'
}

/**
 * Instruments `target` — one cache, a registry of caches (`createCaches`), or a list of caches — with
 * OpenTelemetry: spans for `getOrSet`, `getOrSetMany`, loads and invalidations, and the same counters,
 * histograms and gauges as `@cacheport/prometheus`, all built on the cache's documented events and
 * `stats()`. Spans are created when a call settles, with its real start and end times, under the
 * context that was active where the call was made.
 */
export function instrumentCaches(
  target: Cache | CacheRegistry | Iterable<Cache>,
  options: CacheInstrumentationOptions = {},
): CacheInstrumentation {
  const instrumentation = new Instrumentation(options)
  const caches = isRegistry(target)
    ? target.entries().map(([, cache]) => cache)
    : typeof (target as Cache).getOrSet === 'function'
      ? [target as Cache]
      : [...(target as Iterable<Cache>)]
  for (const cache of caches) instrumentation.add(cache)
  return instrumentation
}

// Where the events' measurements go: the synchronous instruments.
interface Recorders {
  operation: (cache: Cache, labels: Attributes, event: OperationEvent) => void
  load: (labels: Attributes, event: LoadEvent) => void
  error: (labels: Attributes) => void
}

class Instrumentation implements CacheInstrumentation {
  readonly #tracer: Tracer | undefined
  readonly #recordKeys: boolean
  readonly #spanOperations: ReadonlySet<CacheOperation>
  readonly #watched = new Map<Cache, Array<() => void>>()
  readonly #stopMetrics: Array<() => void> = []
  // Per key: the span of the latest load, for the getOrSet span that waited for it to link to.
  readonly #loadSpans = new Map<string, { context: SpanContext; startTime: number }>()
  readonly #record: Recorders | undefined

  constructor(options: CacheInstrumentationOptions) {
    this.#tracer =
      options.traces === false ? undefined : (options.tracer ?? trace.getTracer(INSTRUMENTATION_NAME))
    this.#recordKeys = options.recordKeys ?? false
    this.#spanOperations = new Set(options.spanOperations ?? DEFAULT_SPAN_OPERATIONS)
    if (options.metrics !== false) {
      this.#record = this.#instruments(options.meter ?? metrics.getMeter(INSTRUMENTATION_NAME))
    }
  }

  add(cache: Cache): void {
    if (this.#watched.has(cache)) return
    const stats = cache.stats()
    const labels: Attributes = { 'cacheport.cache': stats.name, 'cacheport.adapter': stats.adapter }
    const off: Array<() => void> = []
    const record = this.#record
    if (record !== undefined || this.#tracer !== undefined) {
      off.push(
        cache.on('operation', (event) => {
          record?.operation(cache, labels, event)
          if (this.#tracer !== undefined && this.#spanOperations.has(event.operation)) {
            this.#operationSpan(this.#tracer, labels, event)
          }
        }),
        cache.on('load', (event) => {
          record?.load(labels, event)
          if (this.#tracer !== undefined) this.#loadSpan(this.#tracer, labels, event)
        }),
      )
    }
    if (record !== undefined) {
      off.push(
        cache.on('error', ({ prefix, operation, code }) => {
          record.error({
            ...labels,
            'cacheport.prefix': prefix,
            'cacheport.operation': operation,
            'error.type': code,
          })
        }),
      )
    }
    this.#watched.set(cache, off)
  }

  close(): void {
    for (const off of this.#watched.values()) for (const unsubscribe of off) unsubscribe()
    this.#watched.clear()
    for (const stop of this.#stopMetrics.splice(0)) stop()
    this.#loadSpans.clear()
  }

  // ---------------------------------------------------------------- spans

  #operationSpan(tracer: Tracer, labels: Attributes, event: OperationEvent): void {
    const attributes: Attributes = {
      ...labels,
      'cacheport.operation': event.operation,
      'cacheport.keys.count': event.count,
    }
    if (event.prefix !== undefined) attributes['cacheport.prefix'] = event.prefix
    if (this.#recordKeys && event.key !== undefined) attributes['cacheport.key'] = event.key
    if (event.outcome !== undefined) {
      attributes['cacheport.outcome'] = event.outcome
      attributes['cacheport.hit'] = event.outcome !== 'miss'
    }
    if (event.outcomes !== undefined) {
      attributes['cacheport.hits'] = event.outcomes.hit + event.outcomes.l1
      attributes['cacheport.l1_hits'] = event.outcomes.l1
      attributes['cacheport.stale_hits'] = event.outcomes.stale
      attributes['cacheport.misses'] = event.outcomes.miss
    }
    if (INVALIDATIONS.has(event.operation)) attributes['cacheport.invalidation'] = true
    const links: Link[] = []
    if (event.key !== undefined && event.outcome === 'miss') {
      // The load this call ran or joined: its span is a sibling, linked so a trace view connects them.
      const load = this.#loadSpans.get(event.key)
      if (load !== undefined && load.startTime >= event.startTime) {
        links.push({ context: load.context })
        this.#loadSpans.delete(event.key)
      }
    }
    const span = tracer.startSpan(
      `${event.operation} ${labels['cacheport.cache']}`,
      { kind: SpanKind.INTERNAL, startTime: event.startTime, attributes, links },
      context.active(),
    )
    if (event.error !== undefined) {
      span.setAttribute('error.type', errorType(event.error))
      if (event.error instanceof Error) span.recordException(event.error, event.startTime + event.durationMs)
      span.setStatus({ code: SpanStatusCode.ERROR, message: (event.error as Error)?.message })
    }
    span.end(event.startTime + event.durationMs)
  }

  #loadSpan(tracer: Tracer, labels: Attributes, event: LoadEvent): void {
    const attributes: Attributes = {
      ...labels,
      'cacheport.prefix': event.prefix,
      'cacheport.keys.count': event.keys.length,
      'cacheport.load.batch': event.batch,
    }
    if (this.#recordKeys) {
      if (event.keys.length === 1) attributes['cacheport.key'] = event.keys[0]
      else attributes['cacheport.keys'] = [...event.keys]
    }
    const span = tracer.startSpan(
      `load ${labels['cacheport.cache']}`,
      { kind: SpanKind.INTERNAL, startTime: event.startTime, attributes },
      context.active(),
    )
    if (event.error !== undefined) {
      span.setAttribute('error.type', errorType(event.error))
      if (event.error instanceof Error) span.recordException(event.error, event.startTime + event.durationMs)
      span.setStatus({ code: SpanStatusCode.ERROR, message: (event.error as Error)?.message })
    }
    span.end(event.startTime + event.durationMs)
    if (!event.batch && event.keys.length === 1) {
      if (this.#loadSpans.size >= MAX_PENDING_LOADS) this.#loadSpans.clear()
      this.#loadSpans.set(event.keys[0]!, { context: span.spanContext(), startTime: event.startTime })
    }
  }

  // ---------------------------------------------------------------- metrics

  #instruments(meter: Meter): Recorders {
    const caches = () => [...this.#watched.keys()]
    const observe = (callback: (cache: Cache, stats: CacheStats, labels: Attributes) => void) => () => {
      for (const cache of caches()) {
        const stats = cache.stats()
        callback(cache, stats, { 'cacheport.cache': stats.name, 'cacheport.adapter': stats.adapter })
      }
    }
    const register = <R>(
      instrument: {
        addCallback(cb: (r: R) => void | Promise<void>): void
        removeCallback(cb: (r: R) => void | Promise<void>): void
      },
      callback: (result: R) => void | Promise<void>,
    ) => {
      instrument.addCallback(callback)
      this.#stopMetrics.push(() => instrument.removeCallback(callback))
    }

    for (const [field, name, unit, description] of STAT_COUNTERS) {
      register(meter.createObservableCounter(name, { unit, description }), (result: ObservableResult) =>
        observe((_cache, stats, labels) => {
          for (const [prefix, counters] of Object.entries(stats.byPrefix)) {
            result.observe(counters[field], { ...labels, 'cacheport.prefix': prefix })
          }
        })(),
      )
    }
    register(
      meter.createObservableGauge('cacheport.circuit.state', {
        unit: '1',
        description: 'Circuit breaker state of the store: 1 for the current state.',
      }),
      (result: ObservableResult) =>
        observe((_cache, stats, labels) => {
          for (const state of CIRCUIT_STATES)
            result.observe(stats.circuit === state ? 1 : 0, { ...labels, 'cacheport.state': state })
        })(),
    )
    register(
      meter.createObservableGauge('cacheport.bus.state', {
        unit: '1',
        description: 'Invalidation bus state of the in-process tier: 1 for the current state.',
      }),
      (result: ObservableResult) =>
        observe((_cache, stats, labels) => {
          for (const state of BUS_STATES)
            result.observe(stats.bus === state ? 1 : 0, { ...labels, 'cacheport.state': state })
        })(),
    )
    register(
      meter.createObservableGauge('cacheport.l1.entries', {
        unit: '{entry}',
        description: 'Entries held by the in-process tier.',
      }),
      (result: ObservableResult) =>
        observe((_cache, stats, labels) => {
          if (stats.l1Entries !== undefined) result.observe(stats.l1Entries, labels)
        })(),
    )
    register(
      meter.createObservableGauge('cacheport.invalidation.backlog', {
        unit: '{invalidation}',
        description: 'Invalidations the store could not take yet, kept for replay.',
      }),
      (result: ObservableResult) =>
        observe((_cache, stats, labels) => {
          const backlog = (stats as CacheStats & { invalidationBacklog?: unknown }).invalidationBacklog
          if (typeof backlog === 'number') result.observe(backlog, labels)
        })(),
    )
    const storeGauge = (name: string, unit: string, description: string, value: (m: StoreMemory) => number) =>
      register(meter.createObservableGauge(name, { unit, description }), async (result: ObservableResult) => {
        for (const [labels, memory] of await this.#memory()) result.observe(value(memory), labels)
      })
    storeGauge(
      'cacheport.store.memory.used',
      'By',
      'Memory used by the store server (Redis used_memory).',
      (m) => m.usedBytes,
    )
    storeGauge(
      'cacheport.store.memory.limit',
      'By',
      'Memory limit of the store server; 0 when unset (Redis maxmemory).',
      (m) => m.maxBytes,
    )
    storeGauge(
      'cacheport.store.evicted_keys',
      '{key}',
      'Keys the store server evicted since it started (Redis evicted_keys).',
      (m) => m.evictedKeys,
    )
    register(
      meter.createObservableGauge('cacheport.store.maxmemory_policy', {
        unit: '1',
        description:
          'Eviction policy of the store server (Redis maxmemory-policy) as an attribute; always 1.',
      }),
      async (result: ObservableResult) => {
        for (const [labels, memory] of await this.#memory())
          result.observe(1, { ...labels, 'cacheport.policy': memory.policy })
      },
    )

    const operations = meter.createHistogram('cacheport.operation.duration', {
      unit: 's',
      description: 'Time from a cache call to its answer, by operation.',
      advice: {
        explicitBucketBoundaries: [
          0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
        ],
      },
    })
    const loads = meter.createHistogram('cacheport.load.duration', {
      unit: 's',
      description: 'Time loaders took, per loader run (a batch load is one run).',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    })
    const loadFailures = meter.createCounter('cacheport.load_failures', {
      unit: '{load}',
      description: 'Loader runs that threw or rejected (nothing was cached).',
    })
    const errors = meter.createCounter('cacheport.errors', {
      unit: '{error}',
      description:
        'Store operations that failed or timed out (the cache failed open), by operation and error type.',
    })
    // Attribute sets per cache, prefix and operation, built once: a record per cache call must not
    // allocate (prefixes are bounded by the core, operations by the API).
    const attributeSets = new WeakMap<Attributes, Map<string, Attributes>>()
    const attributesOf = (labels: Attributes, prefix: string, operation?: CacheOperation): Attributes => {
      let sets = attributeSets.get(labels)
      if (sets === undefined) {
        sets = new Map()
        attributeSets.set(labels, sets)
      }
      const id = operation === undefined ? prefix : `${prefix}\u0000${operation}`
      let attributes = sets.get(id)
      if (attributes === undefined) {
        attributes = { ...labels, 'cacheport.prefix': prefix }
        if (operation !== undefined) attributes['cacheport.operation'] = operation
        sets.set(id, attributes)
      }
      return attributes
    }
    return {
      operation: (_cache, labels, event) => {
        operations.record(event.durationMs / 1000, attributesOf(labels, event.prefix ?? '', event.operation))
      },
      load: (labels, event) => {
        const attributes = attributesOf(labels, event.prefix)
        loads.record(event.durationMs / 1000, attributes)
        if (event.error !== undefined) loadFailures.add(1, attributes)
      },
      error: (attributes) => errors.add(1, attributes),
    }
  }

  /** The sampled server memory of every cache whose store reports it (adapters sample, not us). */
  async #memory(): Promise<Array<[Attributes, StoreMemory]>> {
    const answers = await Promise.all(
      [...this.#watched.keys()].map(async (cache): Promise<[Attributes, StoreMemory] | undefined> => {
        const memory = await cache.adapter.serverMemory?.().catch(() => undefined)
        if (memory === undefined) return undefined
        const stats = cache.stats()
        return [{ 'cacheport.cache': stats.name, 'cacheport.adapter': stats.adapter }, memory]
      }),
    )
    return answers.filter((answer) => answer !== undefined)
  }
}
