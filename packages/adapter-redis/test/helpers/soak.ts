/**
 * The soak: mixed cache operations on Redis-only and tiered caches (memory L1 over Redis with the
 * invalidation bus) for a bounded time, while their connections are killed periodically with
 * `CLIENT KILL`. It records what callers saw and what the process kept, for the CI test (about 20
 * seconds) and the longer run of `pnpm bench -- soak` to judge.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { type AnyCacheAdapter, type Cache, createCache, isCacheError } from '@cacheport/cache-core'
import { Redis } from 'ioredis'

/** A Redis adapter as the soak sees it: from the package's source or its build alike. */
type SoakAdapter = AnyCacheAdapter & {
  readonly client: {
    eventNames(): Array<string | symbol>
    listenerCount(event: string | symbol): number
  }
}

/** What the soak runs on and for how long. */
export interface SoakOptions {
  /** A Redis server of the soak's own: its clients are killed, so never a shared one. */
  readonly url: string
  /** Builds each adapter (the package's source in tests, its build in the benchmark). */
  readonly redisAdapter: (options: { url: string; commandTimeout: string }) => SoakAdapter
  /** How long the measured part runs, after a warm-up of `warmupMs`. */
  readonly durationMs: number
  /** Operations and kills before the first measurement. @default 4000 */
  readonly warmupMs?: number
  /** Time between two `CLIENT KILL`s. @default 1000 */
  readonly killEveryMs?: number
  /** Concurrent callers per cache. @default 4 */
  readonly workers?: number
}

/** What the soak saw. */
export interface SoakReport {
  /** Operations completed by callers. */
  readonly operations: number
  /** Errors that reached a caller of a read or a write (get, getOrSet, getMany, has, set, setMany). */
  readonly readWriteErrors: string[]
  /**
   * Rejections of invalidations (delete, deletePattern, invalidateTags): the core rejects those with
   * `E_ADAPTER` when the store could not be reached, since the entries may remain.
   */
  readonly invalidationRejections: number
  /** Invalidation rejections of any other kind than that documented `E_ADAPTER`. */
  readonly unexpectedInvalidationErrors: string[]
  /** `CLIENT KILL`s sent. */
  readonly kills: number
  /** Connections those kills closed. */
  readonly killedConnections: number
  /** Listeners on each adapter's client after the warm-up. */
  readonly listenersBefore: number[]
  /** Listeners on each adapter's client at the end. */
  readonly listenersAfter: number[]
  /** `MaxListenersExceededWarning`s and other process warnings during the run. */
  readonly warnings: string[]
  /** Bytes of objects on the heap after a full GC (compiled code left out), after the warm-up. */
  readonly heapBefore: number
  /** The same at the end. */
  readonly heapAfter: number
  /** Reads that hit, over all reads, to show the caches kept caching. */
  readonly hitRate: number
}

// A full collection on demand, without requiring the process to start with --expose-gc.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/**
 * Bytes of objects on the heap after full collections. Compiled code is left out: V8 keeps
 * optimising (and deoptimising) the random mix of operations for minutes, which grows its code
 * space by some hundred KiB without anything being kept that should not be.
 */
function collect(): number {
  for (let i = 0; i < 4; i++) gc()
  let bytes = 0
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith('code')) bytes += space.space_used_size
  }
  return bytes
}

/** A small deterministic generator (mulberry32), so every run makes the same choices. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function listeners(adapter: SoakAdapter): number {
  const client = adapter.client
  return client.eventNames().reduce((sum, name) => sum + client.listenerCount(name), 0)
}

const KEYS = 300
const TAGS = 8

/** One caller: a random mix of every cache operation, until `running()` says stop. */
async function worker(
  cache: Cache,
  seed: number,
  running: () => boolean,
  seen: { operations: number; readWrite: string[]; rejections: number; unexpected: string[] },
): Promise<void> {
  const next = random(seed)
  const key = () => `${next() < 0.5 ? 'course' : 'people'}:${Math.floor(next() * KEYS)}`
  const tag = () => `faculty:${Math.floor(next() * TAGS)}`
  while (running()) {
    const roll = next()
    let invalidation = false
    try {
      if (roll < 0.4) await cache.get(key())
      else if (roll < 0.55) await cache.getOrSet(key(), async () => ({ at: Date.now() }), { tags: [tag()] })
      else if (roll < 0.65) await cache.set(key(), { n: roll }, { tags: [tag()] })
      else if (roll < 0.75) await cache.getMany([key(), key(), key()])
      else if (roll < 0.8) await cache.has(key())
      else if (roll < 0.85)
        await cache.setMany([
          { key: key(), value: 1 },
          { key: key(), value: 2 },
        ])
      else {
        invalidation = true
        if (roll < 0.93) await cache.delete(key())
        else if (roll < 0.97) await cache.invalidateTags([tag()])
        else await cache.deletePattern(`course:${Math.floor(next() * 10)}*`)
      }
    } catch (error) {
      const described = `${(error as Error)?.name}: ${(error as Error)?.message}`
      if (!invalidation) seen.readWrite.push(described)
      else if (isCacheError(error, 'E_ADAPTER')) seen.rejections++
      else seen.unexpected.push(described)
    }
    seen.operations++
    // A pause now and then: a steady load rather than a spinning one, which on a shared CI machine
    // would starve the reconnections and timers the soak is about.
    if (seen.operations % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** Runs the soak and reports; closes everything it opened. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { url, durationMs, warmupMs = 4000, killEveryMs = 1000, workers = 4 } = options
  const adapters: SoakAdapter[] = []
  const make = () => {
    const adapter = options.redisAdapter({ url, commandTimeout: '500ms' })
    adapters.push(adapter)
    return adapter
  }
  // A Redis-only cache, and two tiered caches of "two processes" sharing one keyspace and bus.
  const caches = [
    createCache({ adapter: make(), keyPrefix: 'soak_redis', ttl: '30s' }),
    createCache({
      adapter: make(),
      l1: memoryAdapter({ maxEntries: 500 }),
      keyPrefix: 'soak_tiered',
      ttl: '30s',
    }),
    createCache({
      adapter: make(),
      l1: memoryAdapter({ maxEntries: 500 }),
      keyPrefix: 'soak_tiered',
      ttl: '30s',
    }),
  ]
  await Promise.all(caches.map((cache) => cache.ready()))

  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
  process.on('warning', onWarning)
  const admin = new Redis(url)
  admin.on('error', () => undefined)
  const seen = { operations: 0, readWrite: [] as string[], rejections: 0, unexpected: [] as string[] }
  let phase: 'warmup' | 'measured' | 'done' = 'warmup'
  let kills = 0
  let killedConnections = 0
  const running = () => phase !== 'done'
  let killer: NodeJS.Timeout | undefined
  const callers = caches.flatMap((cache, c) =>
    Array.from({ length: workers }, (_, w) => worker(cache, 1 + c * 100 + w, running, seen)),
  )
  try {
    // Connections are killed from the start: the first failures load code and fill caches (source
    // maps of error stacks, in a test runner) once, which the warm-up leaves out of the comparison.
    killer = setInterval(() => {
      // Commands and subscriptions in turn: the bus's connection is a pub/sub one.
      const type = kills % 2 === 0 ? 'normal' : 'pubsub'
      kills++
      admin.call('CLIENT', 'KILL', 'TYPE', type, 'SKIPME', 'yes').then(
        (closed) => {
          killedConnections += Number(closed)
        },
        () => undefined,
      )
    }, killEveryMs)
    await new Promise((resolve) => setTimeout(resolve, warmupMs))
    const listenersBefore = adapters.map(listeners)
    const heapBefore = collect()
    phase = 'measured'
    await new Promise((resolve) => setTimeout(resolve, durationMs))
    clearInterval(killer)
    phase = 'done'
    await Promise.all(callers)
    // Let the last reconnections finish, so the listeners counted are those of a settled client.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const heapAfter = collect()
    const reads = caches.reduce((sum, cache) => sum + cache.stats().hits + cache.stats().misses, 0)
    const hits = caches.reduce((sum, cache) => sum + cache.stats().hits, 0)
    return {
      operations: seen.operations,
      readWriteErrors: seen.readWrite,
      invalidationRejections: seen.rejections,
      unexpectedInvalidationErrors: seen.unexpected,
      kills,
      killedConnections,
      listenersBefore,
      listenersAfter: adapters.map(listeners),
      warnings,
      heapBefore,
      heapAfter,
      hitRate: reads === 0 ? 0 : hits / reads,
    }
  } finally {
    clearInterval(killer)
    phase = 'done'
    await Promise.allSettled(callers)
    process.off('warning', onWarning)
    await Promise.allSettled(caches.map((cache) => cache.close()))
    admin.disconnect()
  }
}
