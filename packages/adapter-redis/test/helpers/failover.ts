/**
 * A Redis Cluster failover under load, shared by the cluster failover tests and the `failover` bench
 * suite: callers run `getOrSet` and `getMany` on keys of every shard while one primary is failed over
 * (`CLUSTER FAILOVER` on its replica) or killed (SIGKILL), and every call is timed and checked.
 */
import { randomUUID } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type AnyCacheAdapter, type Cache, createCache } from '@cacheport/cache-core'
import type { RedisAdapterOptions } from '../../src/index.js'
import { keySlot } from '../../src/key-slot.js'
import { type RedisCluster, rawCommand, startCluster } from './redis-server.js'

/** How the primary is taken away. */
export type FailoverEvent = 'failover' | 'kill'

/** One failover run. */
export interface FailoverOptions {
  readonly cluster: RedisCluster
  /** Builds the adapter under test (the package's own `redisAdapter`, from source or from dist). */
  readonly redisAdapter: (options: RedisAdapterOptions) => AnyCacheAdapter
  /** `CLUSTER FAILOVER` on the replica of `primary`, or SIGKILL of `primary` itself. */
  readonly event: FailoverEvent
  /** The port of the primary to fail over; it must have a replica. */
  readonly primary: number
  /** Concurrent callers. @default 200 */
  readonly callers?: number
  /** Keys per shard. @default 30 */
  readonly keysPerShard?: number
  /** The cache's `timeout` and the adapter's `commandTimeout`, in milliseconds. @default 500 */
  readonly timeoutMs?: number
  /** How long each load takes, in milliseconds. @default 10 */
  readonly loaderMs?: number
  /** Load before the event, in milliseconds. @default 1000 */
  readonly beforeMs?: number
  /** Load after the promotion, in milliseconds. @default 2000 */
  readonly afterMs?: number
  /** Width of the windows hit rates are counted in, in milliseconds. @default 250 */
  readonly windowMs?: number
  /** Longest wait for the promotion, in milliseconds. @default 15000 */
  readonly promotionTimeoutMs?: number
  /** Runs right after the event, beside the callers, with keys of the failed shard (full keys). */
  readonly onEvent?: (failedKeys: string[]) => Promise<void>
}

/** The hit rate of one shard in one window of time. */
export interface ShardWindow {
  /** Start of the window, in milliseconds from the event. */
  readonly fromMs: number
  readonly calls: number
  readonly hits: number
}

/** What a failover run measured. */
export interface FailoverReport {
  readonly event: FailoverEvent
  /** Calls made (a getMany counts once). */
  readonly calls: number
  /** Keys read (a getMany counts each of its keys). */
  readonly reads: number
  /** The bound each call is held to: `timeoutMs` plus the loader time it waited for. */
  readonly timeoutMs: number
  /** Calls that took longer than their bound plus `slackMs`, with their durations. */
  readonly overBound: Array<{ op: string; ms: number; boundMs: number; atMs: number }>
  /** Longest call, loader time taken out, in milliseconds. */
  readonly worstMs: number
  /** The slack allowed over each bound: 250 ms (or half the timeout) plus `loopLagMs`. */
  readonly slackMs: number
  /** The longest the event loop was held up during the run, in milliseconds. */
  readonly loopLagMs: number
  /** Errors thrown to callers. */
  readonly thrown: string[]
  /** Reads that returned something other than the key's value. */
  readonly wrong: number
  /** Store failures the cache reported (`error` events), by code. */
  readonly errorEvents: Record<string, number>
  /** Milliseconds from the event to the promotion of the replica. */
  readonly promotedAtMs: number
  /** The shard that failed over (its primary's port at the start) and the healthy ones. */
  readonly failedShard: number
  readonly healthyShards: number[]
  /** Hits per window, per shard (by the port of its primary at the start). */
  readonly windows: Record<number, ShardWindow[]>
  /** Lowest hit rate of a healthy shard in any window of 20 reads or more, from the event on. */
  readonly healthyMinHitRate: number
  /** Overall hit rate of the healthy shards from the event on. */
  readonly healthyHitRate: number
  /**
   * Milliseconds from the promotion until the failed shard's hit rate stays at or above 95% in every
   * later window (0 when it never dropped); `Infinity` when it never got back there.
   */
  readonly recoveryMs: number
  /** Hit rate of the failed shard in the windows that start 1 s or more after the promotion. */
  readonly failedHitRateAfter1s: number
}

// Hit rates of windows with fewer reads are not judged.
const MIN_WINDOW_READS = 20

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The primary port owning each slot, from `CLUSTER NODES` as the node on `port` sees it. */
async function slotOwners(cluster: RedisCluster, port: number): Promise<Int32Array> {
  const owners = new Int32Array(16384).fill(-1)
  for (const line of (await cluster.cli(port, 'cluster', 'nodes')).trim().split('\n')) {
    const fields = line.split(' ')
    if (!fields[2]!.includes('master')) continue
    const owner = Number(fields[1]!.split(/[:@]/)[1])
    for (const range of fields.slice(8)) {
      if (range.startsWith('[')) continue
      const [from, to] = range.split('-').map(Number)
      for (let slot = from!; slot <= (to ?? from!); slot++) owners[slot] = owner
    }
  }
  return owners
}

/** `count` keys under `prefix` whose slots `owner` holds, each in a slot of its own. */
export function keysOn(owners: Int32Array, owner: number, prefix: string, count: number): string[] {
  const keys: string[] = []
  const slots = new Set<number>()
  for (let i = 0; keys.length < count; i++) {
    // A port that holds no slot (a replica, a node the view calls failed) would never fill the list.
    if (i === 1_000_000) throw new Error(`the node on port ${owner} holds fewer than ${count} slots`)
    const key = `${prefix}item:${i}`
    const slot = keySlot(key)
    if (owners[slot] === owner && !slots.has(slot)) {
      slots.add(slot)
      keys.push(key)
    }
  }
  return keys
}

/**
 * The cluster the failover scenario runs on: three primaries, each with a replica. A short node
 * timeout fails a killed primary over in about two seconds; `cluster-require-full-coverage no` lets
 * the healthy shards serve while one shard has no primary, which is how a cache cluster should run.
 */
export function startFailoverCluster(): Promise<RedisCluster> {
  return startCluster({
    replicas: 1,
    nodeTimeoutMs: 1000,
    args: ['--cluster-require-full-coverage', 'no', '--cluster-replica-validity-factor', '0'],
  })
}

/** Resolves once the node on `port` reports `role:master`, with the time it was seen. */
export async function untilPromoted(port: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    try {
      if ((await rawCommand(port, 'INFO replication', 300)).includes('role:master')) return performance.now()
    } catch {
      // a slow answer on a busy machine: ask again
    }
    if (performance.now() > deadline) throw new Error(`the replica on port ${port} was never promoted`)
    await sleep(10)
  }
}

/**
 * Asks the replica on `port` to take over from its primary (`CLUSTER FAILOVER`) and resolves once it
 * is a primary, with the time it was seen. Redis drops a manual failover the primary did not take
 * part in within a few seconds (a busy machine, a replica just attached); it is asked again then.
 */
export async function failOver(cluster: RedisCluster, port: number, timeoutMs = 20_000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    await cluster.cli(port, 'cluster', 'failover')
    try {
      return await untilPromoted(
        port,
        Math.max(0, Math.min(MANUAL_FAILOVER_MS, deadline - performance.now())),
      )
    } catch (error) {
      if (performance.now() >= deadline) throw error
    }
  }
}

// Redis gives up a manual failover after 5 s; a little more, and it is surely over.
const MANUAL_FAILOVER_MS = 6000

/** The port of the replica of `primary`, from the cluster's own view. */
export async function replicaOf(cluster: RedisCluster, primary: number): Promise<number> {
  for (const [port, role] of await cluster.topology(primary)) if (role === primary) return port
  throw new Error(`the primary on port ${primary} has no replica`)
}

/** Runs one failover under load and reports what the callers saw. */
export async function runFailover(options: FailoverOptions): Promise<FailoverReport> {
  const { cluster, event, primary } = options
  const callers = options.callers ?? 200
  const timeoutMs = options.timeoutMs ?? 500
  const loaderMs = options.loaderMs ?? 10
  const windowMs = options.windowMs ?? 250
  // A busy two-core machine delays timers and replies; the bound is asserted with this much slack,
  // plus the longest the event loop was held up during the run (a timer cannot fire any sooner).
  const baseSlackMs = Math.max(250, timeoutMs / 2)
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  const replica = await replicaOf(cluster, primary)
  const owners = await slotOwners(cluster, primary)
  const shards = [...new Set(owners)].filter((port) => port !== -1)
  const prefix = `fo${randomUUID().slice(0, 8)}:1:`
  const keyShard = new Map<string, number>()
  const keys: string[] = []
  for (const shard of shards) {
    for (const full of keysOn(owners, shard, prefix, options.keysPerShard ?? 30)) {
      const key = full.slice(prefix.length)
      keyShard.set(key, shard)
      keys.push(key)
    }
  }
  const adapter = options.redisAdapter({
    cluster: cluster.allPorts.map((port) => `127.0.0.1:${port}`),
    commandTimeout: timeoutMs,
  })
  const cache: Cache = createCache({
    adapter,
    keyPrefix: prefix.slice(0, -3),
    version: 1,
    timeout: timeoutMs,
  })
  const errorEvents: Record<string, number> = {}
  cache.on('error', ({ code }) => {
    errorEvents[code] = (errorEvents[code] ?? 0) + 1
  })
  const expected = (key: string) => ({ key, payload: `value of ${key}` })
  // Loads per key, as [start, end] on the monotonic clock, to tell a hit from a call that waited for one.
  const loads = new Map<string, Array<[number, number]>>()
  const loader = (key: string) => async () => {
    const span: [number, number] = [performance.now(), Number.POSITIVE_INFINITY]
    const list = loads.get(key) ?? []
    loads.set(key, list)
    list.push(span)
    await sleep(loaderMs)
    span[1] = performance.now()
    return expected(key)
  }
  const loadTimeIn = (key: string, from: number, to: number): number => {
    let total = 0
    for (const [start, end] of loads.get(key) ?? []) {
      const overlap = Math.min(end, to) - Math.max(start, from)
      if (overlap > 0) total += overlap
    }
    return total
  }
  try {
    await cache.getMany(keys.slice(0, 1))
    for (const key of keys) await cache.getOrSet(key, loader(key))

    interface Read {
      at: number
      shard: number
      hit: boolean
    }
    const reads: Read[] = []
    // Calls past the bound with the base slack; those past it with the loop's delay too are reported.
    const calls$: Array<FailoverReport['overBound'][number] & { spent: number }> = []
    const thrown: string[] = []
    let wrong = 0
    let calls = 0
    let worstMs = 0
    let eventAt = Number.POSITIVE_INFINITY
    let running = true
    const pick = () => keys[Math.floor(Math.random() * keys.length)]!
    const timed = (op: string, start: number, end: number, waitedForLoads: number) => {
      calls++
      const spent = end - start - waitedForLoads
      worstMs = Math.max(worstMs, spent)
      if (spent > timeoutMs + baseSlackMs)
        calls$.push({
          spent,
          op,
          ms: Math.round(end - start),
          boundMs: Math.round(timeoutMs + waitedForLoads),
          atMs: Math.round(start - eventAt),
        })
    }
    const caller = async (index: number) => {
      // One caller in five reads batches of five keys, as a page listing several entries would.
      const batches = index % 5 === 0
      while (running) {
        const start = performance.now()
        try {
          if (batches) {
            const asked = [pick(), pick(), pick(), pick(), pick()]
            const values = await cache.getMany(asked)
            const end = performance.now()
            timed('getMany', start, end, 0)
            asked.forEach((key, i) => {
              const value = values[i] as ReturnType<typeof expected> | undefined
              if (value !== undefined && value.payload !== expected(key).payload) wrong++
              reads.push({ at: start, shard: keyShard.get(key)!, hit: value !== undefined })
            })
          } else {
            const key = pick()
            const value = (await cache.getOrSet(key, loader(key))) as ReturnType<typeof expected>
            const end = performance.now()
            const waited = loadTimeIn(key, start, end)
            timed('getOrSet', start, end, waited)
            if (value?.payload !== expected(key).payload) wrong++
            reads.push({ at: start, shard: keyShard.get(key)!, hit: waited === 0 })
          }
        } catch (error) {
          thrown.push(String(error))
        }
        // A little think time keeps 200 callers from starving the machine's two cores.
        await sleep(5 + Math.random() * 10)
      }
    }
    loopDelay.enable()
    const running$ = Array.from({ length: callers }, (_, i) => caller(i))
    await sleep(options.beforeMs ?? 1000)
    eventAt = performance.now()
    const promotionTimeoutMs = options.promotionTimeoutMs ?? 15_000
    let promoted: Promise<number>
    if (event === 'failover') promoted = failOver(cluster, replica, promotionTimeoutMs)
    else {
      await cluster.node(primary).kill()
      promoted = untilPromoted(replica, promotionTimeoutMs)
    }
    const probing = options.onEvent?.(
      keys.filter((key) => keyShard.get(key) === primary).map((key) => prefix + key),
    )
    const promotedAt = await promoted
    await sleep(options.afterMs ?? 2000)
    running = false
    await Promise.all(running$)
    await probing
    loopDelay.disable()
    const loopLagMs = Math.round(loopDelay.max / 1e6)
    const slackMs = baseSlackMs + loopLagMs
    const overBound = calls$.filter((c) => c.spent > timeoutMs + slackMs).map(({ spent: _, ...c }) => c)

    // Windows from the event to the end, per shard.
    const windows: Record<number, ShardWindow[]> = {}
    // A loop, not Math.max(...): a run on a fast machine records more reads than a call takes arguments.
    let end = eventAt
    for (const read of reads) if (read.at > end) end = read.at
    for (const shard of shards) {
      const list: ShardWindow[] = []
      for (let from = eventAt; from < end; from += windowMs) {
        const inside = reads.filter((r) => r.shard === shard && r.at >= from && r.at < from + windowMs)
        list.push({
          fromMs: Math.round(from - eventAt),
          calls: inside.length,
          hits: inside.filter((r) => r.hit).length,
        })
      }
      windows[shard] = list
    }
    const rate = (ws: ShardWindow[]) => {
      const total = ws.reduce((n, w) => n + w.calls, 0)
      return total === 0 ? 1 : ws.reduce((n, w) => n + w.hits, 0) / total
    }
    const healthyShards = shards.filter((shard) => shard !== primary)
    const healthy = healthyShards.flatMap((shard) => windows[shard]!)
    const promotedAtMs = promotedAt - eventAt
    const failed = windows[primary]!
    let recoveredFrom = Number.POSITIVE_INFINITY
    for (let i = failed.length - 1; i >= 0; i--) {
      const w = failed[i]!
      if (w.calls >= MIN_WINDOW_READS && w.hits / w.calls < 0.95) break
      recoveredFrom = w.fromMs
    }
    return {
      event,
      calls,
      reads: reads.length,
      timeoutMs,
      overBound,
      worstMs: Math.round(worstMs),
      slackMs,
      loopLagMs,
      thrown,
      wrong,
      errorEvents,
      promotedAtMs: Math.round(promotedAtMs),
      failedShard: primary,
      healthyShards,
      windows,
      // Windows with a handful of reads (the callers were all waiting on the failed shard) say little.
      healthyMinHitRate: Math.min(
        ...healthy.filter((w) => w.calls >= MIN_WINDOW_READS).map((w) => w.hits / w.calls),
      ),
      healthyHitRate: rate(healthy),
      recoveryMs: Math.max(0, recoveredFrom - promotedAtMs),
      failedHitRateAfter1s: rate(failed.filter((w) => w.fromMs >= promotedAtMs + 1000)),
    }
  } finally {
    await cache.close()
  }
}
