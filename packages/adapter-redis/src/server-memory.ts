import type { StoreMemory } from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import type { RedisClient } from './types.js'

/** How long a sample of the server's memory state is served before the server is asked again. */
export const MEMORY_SAMPLE_INTERVAL_MS = 5_000

/**
 * Reads `used_memory`, `maxmemory`, `maxmemory_policy` and `evicted_keys` from the text of Redis
 * `INFO memory stats`; undefined when the text has none of them (not a Redis server, or a proxy that
 * filters INFO).
 */
export function parseServerMemory(info: string, sampledAt: number): StoreMemory | undefined {
  const fields = new Map<string, string>()
  for (const line of info.split('\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  const used = Number(fields.get('used_memory'))
  if (!Number.isFinite(used) || !fields.has('used_memory')) return undefined
  return {
    usedBytes: used,
    maxBytes: Number(fields.get('maxmemory') ?? 0) || 0,
    policy: fields.get('maxmemory_policy') ?? 'unknown',
    evictedKeys: Number(fields.get('evicted_keys') ?? 0) || 0,
    sampledAt,
  }
}

// A cluster's memory is the sum over its primaries; its limit is unset if any primary has none, and
// its policy is the first primary's (they are configured alike, and a mix is itself worth a warning).
function combine(samples: readonly StoreMemory[], sampledAt: number): StoreMemory | undefined {
  if (samples.length === 0) return undefined
  const policies = new Set(samples.map((s) => s.policy))
  return {
    usedBytes: samples.reduce((sum, s) => sum + s.usedBytes, 0),
    maxBytes: samples.some((s) => s.maxBytes === 0) ? 0 : samples.reduce((sum, s) => sum + s.maxBytes, 0),
    policy: policies.size === 1 ? samples[0]!.policy : [...policies].join(','),
    evictedKeys: samples.reduce((sum, s) => sum + s.evictedKeys, 0),
    sampledAt,
  }
}

/**
 * Samples the memory state of a Redis deployment (every primary of a cluster) for gauges and health
 * checks: at most one `INFO` per node per {@link MEMORY_SAMPLE_INTERVAL_MS}, however often it is
 * read, and concurrent readers share one round trip. A server that does not answer within
 * `timeoutMs` yields `undefined` rather than an old sample, so a dashboard never shows a stale
 * figure as current.
 */
export class ServerMemorySampler {
  #last: StoreMemory | undefined
  #pending: Promise<StoreMemory | undefined> | undefined

  constructor(
    private readonly client: RedisClient,
    private readonly timeoutMs: number,
    private readonly intervalMs = MEMORY_SAMPLE_INTERVAL_MS,
  ) {}

  /** The latest sample, taken now if the last one is older than the interval. */
  sample(): Promise<StoreMemory | undefined> {
    const last = this.#last
    if (last !== undefined && Date.now() - last.sampledAt < this.intervalMs) return Promise.resolve(last)
    this.#pending ??= this.take().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  private async take(): Promise<StoreMemory | undefined> {
    const isCluster = (this.client as { isCluster?: boolean }).isCluster === true
    const nodes: Redis[] = isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
    const now = Date.now()
    try {
      const texts = await Promise.all(nodes.map((node) => this.info(node)))
      const samples = texts.map((text) => parseServerMemory(text, now))
      this.#last = samples.includes(undefined) ? undefined : combine(samples as StoreMemory[], now)
    } catch {
      this.#last = undefined
    }
    return this.#last
  }

  private info(node: Redis): Promise<string> {
    // Never queue behind a reconnect: a health check must answer now, not when the server is back.
    if (node.status !== 'ready') return Promise.reject(new Error(`redis node is ${node.status}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('INFO timed out')), this.timeoutMs)
      node.info('memory', 'stats').then(
        (text) => {
          clearTimeout(timer)
          resolve(text)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}
