import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * A server span per request, active while the request's hooks and handler run, so the cache spans
 * of `@cacheport/opentelemetry` (and any other) become its children. Named after the route pattern
 * (`GET /api/items/:id`), not the URL, to keep span names few.
 */
export function traceRequests(app: FastifyInstance): void {
  const tracer = trace.getTracer('@cacheport/platform')
  const spans = new WeakMap<FastifyRequest, Span>()

  app.addHook('onRequest', (request, _reply, done) => {
    const span = tracer.startSpan(request.method, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?')[0] ?? request.url,
      },
    })
    spans.set(request, span)
    // Fastify runs the remaining hooks and the handler from this callback, inside the span's context.
    context.with(trace.setSpan(context.active(), span), done)
  })

  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request)
    if (span) {
      const route = request.routeOptions.url
      if (route) {
        span.updateName(`${request.method} ${route}`)
        span.setAttribute('http.route', route)
      }
      span.setAttribute('http.response.status_code', reply.statusCode)
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
    }
    done()
  })
}
