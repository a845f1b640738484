import { trace } from '@opentelemetry/api'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startTracing } from '../src/observability.js'

describe('startTracing', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    delete process.env.OTEL_SERVICE_NAME
  })

  it('registers nothing when tracing is off', () => {
    expect(startTracing('off')).toBeUndefined()
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false)
  })

  it('prints spans with the console exporter, as the service OTEL_SERVICE_NAME names', async () => {
    const printed: unknown[] = []
    vi.spyOn(console, 'dir').mockImplementation((value) => void printed.push(value))
    process.env.OTEL_SERVICE_NAME = 'easy-access-test'
    const tracing = startTracing('console')
    expect(tracing).toBeDefined()
    trace.getTracer('t').startSpan('GET /api/items/counts').end()
    // Spans are exported in batches; shutting down flushes the last one.
    await tracing!.shutdown()
    expect(printed).toEqual([
      expect.objectContaining({
        name: 'GET /api/items/counts',
        resource: { attributes: expect.objectContaining({ 'service.name': 'easy-access-test' }) },
      }),
    ])
    // After shutdown the global provider is gone again.
    expect(trace.getTracer('t').startSpan('y').isRecording()).toBe(false)
  })

  it('names the service easy-access by default', async () => {
    const printed: Array<{ resource: { attributes: Record<string, unknown> } }> = []
    vi.spyOn(console, 'dir').mockImplementation((value) => void printed.push(value))
    const tracing = startTracing('console')
    trace.getTracer('t').startSpan('span').end()
    await tracing!.shutdown()
    expect(printed[0]?.resource.attributes['service.name']).toBe('easy-access')
  })
})
