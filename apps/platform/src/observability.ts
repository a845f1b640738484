import type { CacheRegistry } from '@cacheport/cache-core'
import { type CacheInstrumentation, instrumentCaches } from '@cacheport/opentelemetry'
import { type CacheMetrics, registerCacheMetrics } from '@cacheport/prometheus'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { TracesExporter } from './config.js'

/** The app's Prometheus metrics: process defaults and every cache, on a registry of the app's own. */
export interface AppMetrics {
  /** What `/metrics` serves. */
  readonly registry: Registry
  /** Stops reporting the caches. */
  close(): void
}

/**
 * Registers the process metrics (CPU, memory, event loop lag, GC) and the caches' metrics on a new
 * prom-client registry. A registry per app, not prom-client's global one, so that two apps in one
 * process (the tests) do not report each other's caches.
 */
export function createMetrics(caches: CacheRegistry): AppMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const cacheMetrics: CacheMetrics = registerCacheMetrics(caches, { registry })
  return {
    registry,
    close() {
      cacheMetrics.close()
      registry.clear()
    },
  }
}

/**
 * Spans for the caches' reads, loads and invalidations, on the global tracer provider (the one
 * {@link startTracing} registers); `undefined` when tracing is off. Metrics stay with Prometheus.
 */
export function instrumentAppCaches(
  caches: CacheRegistry,
  tracing: TracesExporter,
): CacheInstrumentation | undefined {
  return tracing === 'off' ? undefined : instrumentCaches(caches, { metrics: false })
}

/** What {@link startTracing} returns. */
export interface Tracing {
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>
}

/**
 * Registers the process-wide tracer provider with the exporter the environment asks for: OTLP over
 * HTTP (which reads `OTEL_EXPORTER_OTLP_ENDPOINT` and its siblings itself) or the console. The
 * async-hooks context manager makes a request's span the parent of the cache spans under it.
 */
export function startTracing(exporter: TracesExporter, serviceName = 'easy-access'): Tracing | undefined {
  if (exporter === 'off') return undefined
  const spanExporter: SpanExporter =
    exporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter()
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: [new BatchSpanProcessor(spanExporter)],
  })
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  trace.setGlobalTracerProvider(provider)
  return {
    async shutdown() {
      await provider.shutdown()
      trace.disable()
      context.disable()
    },
  }
}
