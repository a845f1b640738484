/**
 * The tiered cache on real Redis: an in-process L1 (memory) in front of Redis, kept coherent across
 * processes by the invalidation bus; stale-while-revalidate, grace and getOrSetMany. Every test runs
 * on redis-servers of this file's own (free loopback ports, killed by PID), so killing connections,
 * restarting a server and counting commands never touch the shared server.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { type Cache, type CacheOptions, createCache } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisAdapter } from '../src/index.js'
import { nodeFlags } from './helpers/ioredis-major.js'
import { type RedisProcess, rawCommand, startRedis } from './helpers/redis-server.js'

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const fixture = join(packageRoot, 'test', 'fixtures', 'tiered-instance.ts')

// How soon another instance must stop serving an invalidated L1 copy.
const BUS_BOUND_MS = 50
// Fixed reconnection delay of the child instances: long enough that an invalidation sent right
// after a connection was killed certainly lands while that instance is unsubscribed.
const CHILD_RETRY_MS = 300

const randomKeyPrefix = (what: string): string => `${what}${randomUUID().slice(0, 8)}`

/** What the fixture answers to `read`. */
interface ReadAnswer {
  values: unknown[]
  l1Hits: boolean[]
}

/** What the fixture answers to an invalidation: when it started and ended, in epoch milliseconds. */
interface Timed {
  startedAt: number
  endedAt: number
  result: unknown
}

/** An application process running test/fixtures/tiered-instance.ts, driven over JSON lines. */
class Instance {
  private nextId = 1
  private readonly waiting = new Map<number, (answer: Record<string, unknown>) => void>()
  private readonly exited: Promise<unknown>

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', resolve))
    let buffered = ''
    proc.stdout!.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString()).split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        const answer = JSON.parse(line) as Record<string, unknown>
        const id = answer.id as number
        this.waiting.get(id)?.(answer)
        this.waiting.delete(id)
      }
    })
  }

  /** Spawns the process and resolves once its invalidation bus is subscribed. */
  static async start(name: string, url: string, keyPrefix: string): Promise<Instance> {
    const config = { url, keyPrefix, connectionName: name, retryMs: CHILD_RETRY_MS }
    const proc = spawn(process.execPath, [...nodeFlags(), fixture, JSON.stringify(config)], {
      cwd: packageRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const instance = new Instance(name, proc)
    await instance.answer(0, 10_000)
    return instance
  }

  /** Sends one request and resolves with its answer; rejects on an error answer or after 5 s. */
  request<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++
    const answer = this.answer(id, 5000)
    this.proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`)
    return answer as Promise<T>
  }

  /** Reads `keys` one by one. */
  async read(...keys: string[]): Promise<ReadAnswer> {
    const answer = await this.request<ReadAnswer & { found: boolean[] }>('read', { keys })
    return {
      values: answer.values.map((value, i) => (answer.found[i] ? value : undefined)),
      l1Hits: answer.l1Hits,
    }
  }

  /** The cache's warnings so far (the bus logs when it is lost and when it is back). */
  async warnings(): Promise<string[]> {
    return (await this.request<{ warnings: string[] }>('warnings')).warnings
  }

  /** Closes the cache and waits for the process to exit (killing it after 3 s). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000)
    try {
      await this.request('close').catch(() => undefined)
      this.proc.stdin!.end()
      await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  private answer(id: number, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`instance ${this.name}: no answer to request ${id} within ${timeoutMs}ms`))
      }, timeoutMs)
      this.waiting.set(id, (answer) => {
        clearTimeout(timer)
        if (answer.error !== undefined) reject(new Error(`instance ${this.name}: ${answer.error}`))
        else resolve(answer)
      })
    })
  }
}

/** The value at quantile `q` (0..1) of `samples`, nearest-rank. */
function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((x, y) => x - y)
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

/** A cache with an L1 in front of Redis, and the warnings it logs. */
function tieredCache(
  url: string,
  options: Partial<CacheOptions> & { keyPrefix: string },
): { cache: Cache; warnings: string[] } {
  const warnings: string[] = []
  const cache = createCache({
    adapter: redisAdapter({ url, retryStrategy: () => 50 }),
    l1: memoryAdapter(),
    ttl: '1m',
    logger: { warn: (_fields, message) => warnings.push(message) },
    ...options,
  })
  return { cache, warnings }
}

// The first connection of a bus is logged at debug level only; losing it and getting it back are
// warnings.
const busReconnected = (warnings: readonly string[]): number =>
  warnings.filter((w) => w.includes('invalidation bus reconnected')).length
const busLost = (warnings: readonly string[]): number =>
  warnings.filter((w) => w.includes('invalidation bus lost')).length

/**
 * Polls `check` until it holds; rejects naming `what` after `timeoutMs`. Measured on the monotonic
 * clock, because some tests below fake Date.
 */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A read answer for `n` keys that all missed L1 and Redis. */
function miss(n: number): ReadAnswer {
  return { values: Array(n).fill(undefined), l1Hits: Array(n).fill(false) }
}

describe('two processes sharing one Redis', () => {
  let server: RedisProcess
  let admin: Redis
  let a: Instance
  let b: Instance
  // Writes entries without an L1 and so without a bus: seeding never sends an invalidation, and
  // every invalidation an instance hears in these tests comes from the other instance.
  let seeder: Cache
  const keyPrefix = randomKeyPrefix('tiered')
  const channel = `${keyPrefix}:1#bus`
  // Per invalidation: how long B could still serve the old value after A's call returned (0 when
  // B had dropped it before), and how long after A's call started B had dropped it.
  const staleWindows: number[] = []
  const sinceStart: number[] = []

  beforeAll(async () => {
    server = await startRedis()
    admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
    // It reconnects by itself after the restart below; its connection errors are expected there.
    admin.on('error', () => undefined)
    seeder = createCache({ adapter: redisAdapter(server.url), keyPrefix, ttl: '1m' })
    ;[a, b] = await Promise.all([
      Instance.start('tiered-a', server.url, keyPrefix),
      Instance.start('tiered-b', server.url, keyPrefix),
    ])
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await seeder?.close()
    admin?.disconnect()
    await server?.stop()
    if (staleWindows.length > 0) {
      const line = (samples: number[]) =>
        `p50 ${quantile(samples, 0.5).toFixed(2)} ms, p99 ${quantile(samples, 0.99).toFixed(2)} ms, max ${Math.max(...samples).toFixed(2)} ms`
      console.info(
        `invalidation bus over ${staleWindows.length} invalidations: other process still had the old L1 copy ` +
          `after the invalidation returned: ${line(staleWindows)}; dropped it after the invalidation started: ${line(sinceStart)}`,
      )
    }
  })

  /** Both processes read `keys` twice: the first read fills L1 from Redis, the second is an L1 hit. */
  async function cachedInBoth(keys: string[], expected: unknown[]): Promise<void> {
    for (const instance of [a, b]) {
      const first = await instance.read(...keys)
      expect(first.values).toEqual(expected)
      const second = await instance.read(...keys)
      expect(second.values).toEqual(expected)
      expect(second.l1Hits).toEqual(keys.map(() => true))
    }
  }

  /**
   * B watches its L1 for `watched` while A invalidates; asserts that B's copies were gone within
   * BUS_BOUND_MS of A's invalidation returning, which is when A's caller considers it done.
   */
  async function invalidateInA(watched: string[], op: string, args: Record<string, unknown>) {
    await b.request('arm', { keys: watched })
    const sent = await a.request<Timed>(op, args)
    const { goneAt } = await b.request<{ goneAt: number | null }>('fired')
    expect(goneAt, `B still had ${watched.join(', ')} in L1 1s after A's ${op}`).not.toBeNull()
    const window = Math.max(0, goneAt! - sent.endedAt)
    staleWindows.push(window)
    sinceStart.push(goneAt! - sent.startedAt)
    expect(
      window,
      `B kept ${watched.join(', ')} in L1 for ${window.toFixed(1)} ms after A's ${op}`,
    ).toBeLessThan(BUS_BOUND_MS)
  }

  const ROUNDS = 17

  it(`drops the other process's L1 copy within ${BUS_BOUND_MS} ms of a delete by key (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `course:${round}`
      const value = { code: `2023${round}`, name: 'Signals and Systems' }
      await seeder.set(key, value)
      await cachedInBoth([key], [value])

      await invalidateInA([key], 'delete', { key })

      // The next read of either process misses L1 and finds nothing in Redis.
      for (const instance of [b, a]) expect(await instance.read(key)).toEqual(miss(1))
    }
  })

  it(`drops only the matching L1 copies within ${BUS_BOUND_MS} ms of a delete by pattern (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const matching = [`filter_counts:${round}:EEMCS`, `filter_counts:${round}:BMS`]
      const bystander = `faculties:${round}`
      const values = [{ total: round }, { total: round + 1 }, ['EEMCS', 'BMS']]
      for (const [i, key] of [...matching, bystander].entries()) await seeder.set(key, values[i])
      await cachedInBoth([...matching, bystander], values)

      await invalidateInA(matching, 'deletePattern', { pattern: `filter_counts:${round}:*` })

      const after = await b.read(...matching, bystander)
      expect(after.values).toEqual([undefined, undefined, values[2]])
      expect(after.l1Hits).toEqual([false, false, true])
    }
  })

  it(`drops the other process's L1 within ${BUS_BOUND_MS} ms of a tag invalidation (${ROUNDS - 1} rounds)`, async () => {
    for (let round = 0; round < ROUNDS - 1; round++) {
      const tagged = `people:${round}`
      const untagged = `buildings:${round}`
      await seeder.set(tagged, { name: 'J. Jansen' }, { tags: [`faculty:${round}`] })
      await seeder.set(untagged, ['Zilverling'])
      await cachedInBoth([tagged, untagged], [{ name: 'J. Jansen' }, ['Zilverling']])

      await invalidateInA([tagged], 'invalidateTags', { tags: [`faculty:${round}`] })

      // The tagged entry is gone everywhere; the untagged one is still served (from L1 or Redis).
      const after = await b.read(tagged, untagged)
      expect(after.values).toEqual([undefined, ['Zilverling']])
      expect(after.l1Hits[0]).toBe(false)
    }
  })

  it('never serves from L1 what was invalidated while its bus connection was killed', async () => {
    const keys = ['course:bus', 'course:gone', 'filter_counts:bus:1', 'people:bus']
    await seeder.set('course:bus', 'v1')
    await seeder.set('course:gone', 'doomed')
    await seeder.set('filter_counts:bus:1', 7)
    await seeder.set('people:bus', 'J. Jansen', { tags: ['faculty:bus'] })
    await cachedInBoth(keys, ['v1', 'doomed', 7, 'J. Jansen'])

    // Kill B's subscriber connection only; its command connection stays up.
    const clients = (await admin.client('LIST')) as string
    const subscriber = clients
      .split('\n')
      .find((line) => line.includes(`name=${b.name} `) && /\bsub=[1-9]/.test(line))
    expect(subscriber, `no subscribed connection named ${b.name} in CLIENT LIST`).toBeDefined()
    const lostBefore = busLost(await b.warnings())
    const reconnectedBefore = busReconnected(await b.warnings())
    await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(subscriber!)![1]!)
    await waitFor(async () => busLost(await b.warnings()) > lostBefore, 'B to notice its bus is gone', 2000)

    // While B cannot hear invalidations it reads Redis, not L1, which refills L1 with what is now there.
    const during = await b.read(...keys)
    expect(during.values).toEqual(['v1', 'doomed', 7, 'J. Jansen'])
    expect(during.l1Hits).toEqual([false, false, false, false])
    expect(await b.request('inL1', { keys })).toMatchObject({ present: [true, true, true, true] })

    await a.request('set', { key: 'course:bus', value: 'v2' })
    await a.request('delete', { key: 'course:gone' })
    await a.request('deletePattern', { pattern: 'filter_counts:bus:*' })
    await a.request('invalidateTags', { tags: ['faculty:bus'] })
    // Only A was subscribed when those went out, so B heard none of them.
    expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 1])

    await waitFor(
      async () => busReconnected(await b.warnings()) > reconnectedBefore,
      'B to resubscribe',
      CHILD_RETRY_MS + 2000,
    )
    expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 2])
    const after = await b.read(...keys)
    expect(after.values).toEqual(['v2', undefined, undefined, undefined])
    expect(after.l1Hits).toEqual([false, false, false, false])
    // L1 is in use again, with the new value.
    expect(await b.read('course:bus')).toEqual({ values: ['v2'], l1Hits: [true] })
  })

  it('never serves from L1 the value from before a Redis restart once it has reconnected', async () => {
    await seeder.set('course:restart', 'v1')
    await cachedInBoth(['course:restart'], ['v1'])
    const reconnectedBefore = busReconnected(await b.warnings())

    const lostBefore = busLost(await b.warnings())
    await server.kill()
    await waitFor(async () => busLost(await b.warnings()) > lostBefore, 'B to notice Redis is gone', 2000)
    await server.restart()
    // The restarted server is empty; A writes the new value as soon as it is reconnected, possibly
    // before B has resubscribed, so B may never hear of it.
    await waitFor(
      async () => (await a.request<Timed>('set', { key: 'course:restart', value: 'v2' })).result === true,
      'A to write again',
      CHILD_RETRY_MS + 2000,
    )
    await waitFor(
      async () => busReconnected(await b.warnings()) > reconnectedBefore,
      'B to resubscribe',
      CHILD_RETRY_MS + 2000,
    )
    // From here on B may answer from Redis or L1, but never with the value from before the restart.
    const seen: unknown[] = []
    await waitFor(
      async () => {
        const { values, l1Hits } = await b.read('course:restart')
        seen.push(values[0])
        return values[0] === 'v2' && l1Hits[0] === true
      },
      'B to serve the new value from L1',
      CHILD_RETRY_MS + 2000,
    )
    expect(seen).not.toContain('v1')
  })
})

describe.each([
  ['with the invalidation bus (the default for an L1 over Redis)', true],
  ['without the invalidation bus', false],
])('while Redis is down, %s', (_title, bus) => {
  let server: RedisProcess
  let cache: Cache
  let warnings: string[]
  const loads: string[] = []
  const fallsBackOnL1 = it

  beforeAll(async () => {
    // Only Date is faked: entries age by the clock the core reads, while ioredis keeps real timers.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-02T09:00:00Z') })
    server = await startRedis()
    ;({ cache, warnings } = tieredCache(server.url, {
      keyPrefix: randomKeyPrefix('down'),
      grace: '1h',
      bus,
      breaker: false,
    }))
    if (bus) await waitFor(() => cache.stats().bus === 'connected', 'the bus to connect', 3000)
    await cache.set('faculties', ['BMS', 'EEMCS'], { ttl: '1h' })
    await cache.set('course:42', 'Signals and Systems', { ttl: '1m' })
    expect(await cache.get('faculties')).toEqual(['BMS', 'EEMCS'])
    expect(cache.stats().l1Hits).toBe(1)
    // course:42 is now past its TTL but within its grace period.
    vi.setSystemTime(Date.now() + 61_000)
    await server.kill()
    await waitFor(
      () => cache.status() === 'unavailable' && (!bus || busLost(warnings) === 1),
      'the outage to show',
      3000,
    )
  })

  afterAll(async () => {
    vi.useRealTimers()
    await cache?.close()
    await server?.stop()
  })

  fallsBackOnL1('keeps serving L1 hits', async () => {
    expect(await cache.get('faculties')).toEqual(['BMS', 'EEMCS'])
    expect(
      await cache.getOrSet('faculties', () => {
        loads.push('faculties')
        return []
      }),
    ).toEqual(['BMS', 'EEMCS'])
    expect(loads).toEqual([])
  })

  it('runs the loader on a miss, and serves its result from L1 until Redis is back', async () => {
    const loader = () => {
      loads.push('course:7')
      return 'Calculus 1A'
    }
    expect(await cache.getOrSet('course:7', loader)).toBe('Calculus 1A')
    expect(await cache.getOrSet('course:7', loader)).toBe('Calculus 1A')
    expect(await cache.get('course:7')).toBe('Calculus 1A')
    expect(loads).toEqual(['course:7'])
  })

  fallsBackOnL1('serves a stale entry within grace when the loader throws, and the error after', async () => {
    const osirisDown = async (): Promise<string> => {
      throw new Error('Osiris answered 503')
    }
    expect(await cache.getOrSet('course:42', osirisDown)).toBe('Signals and Systems')
    expect(cache.stats().staleHits).toBe(1)
    vi.setSystemTime(Date.now() + 60 * 60_000)
    await expect(cache.getOrSet('course:42', osirisDown)).rejects.toThrow('Osiris answered 503')
  })

  if (bus)
    it('empties L1 when the bus reconnects, so what only L1 held is not served', async () => {
      await server.restart()
      await waitFor(() => busReconnected(warnings) === 1, 'the bus to reconnect', 3000)
      // course:7 was loaded during the outage and never reached Redis: gone with L1, read as a miss.
      await waitFor(
        async () => (await cache.get('course:7')) === undefined,
        'course:7 to read as a miss',
        3000,
      )
      expect(await cache.getOrSet('course:7', () => 'Calculus 1B')).toBe('Calculus 1B')
      expect(await cache.get('course:7')).toBe('Calculus 1B')
    })
})

describe('a read racing an invalidation on the same instance', () => {
  let server: RedisProcess
  let cache: Cache

  beforeAll(async () => {
    server = await startRedis()
    ;({ cache } = tieredCache(server.url, { keyPrefix: randomKeyPrefix('race') }))
    await waitFor(() => cache.stats().bus === 'connected', 'the bus to connect', 3000)
  })

  afterAll(async () => {
    await cache?.close()
    await server?.stop()
  })

  // deletePattern and clear take several round trips (SCAN, then UNLINK): a read that starts in
  // between still finds the old entry in Redis and must not put it back into L1.
  const cases = [
    { op: 'delete', run: () => cache.delete('filter_counts:1') },
    { op: 'invalidateTags', run: () => cache.invalidateTags(['items']) },
    { op: 'deletePattern', run: () => cache.deletePattern('filter_counts:*') },
    { op: 'clear', run: () => cache.clear() },
  ]
  for (const { op, run } of cases) {
    it(`never serves from L1 what ${op} removed while a read was under way`, async () => {
      await cache.set('filter_counts:1', { total: 3 }, { tags: ['items'] })
      const removing = run()
      // Started after the invalidation, finished before it: either answer is right for this read.
      await cache.get('filter_counts:1')
      await removing
      expect(await cache.get('filter_counts:1')).toBeUndefined()
    })
  }
})

describe('stale-while-revalidate', () => {
  let server: RedisProcess
  let writer: ReturnType<typeof tieredCache>
  let reader: ReturnType<typeof tieredCache>

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-02T09:00:00Z') })
    server = await startRedis()
    const keyPrefix = randomKeyPrefix('swr')
    const rules = { keyPrefix, ttl: '1m', staleWhileRevalidate: '30s', grace: '1h' }
    writer = tieredCache(server.url, rules)
    reader = tieredCache(server.url, rules)
    await waitFor(
      () => writer.cache.stats().bus === 'connected' && reader.cache.stats().bus === 'connected',
      'both buses to connect',
      3000,
    )
  })

  afterAll(async () => {
    vi.useRealTimers()
    await Promise.all([writer?.cache.close(), reader?.cache.close()])
    await server?.stop()
  })

  it('answers 100 concurrent readers of an expired entry with the stale value at once and refreshes once', async () => {
    await writer.cache.set('filter_counts:EEMCS', { total: 1 })
    vi.setSystemTime(Date.now() + 61_000)

    let runs = 0
    let finish: (value: { total: number }) => void = () => {}
    const loader = () => {
      runs++
      return new Promise<{ total: number }>((resolve) => {
        finish = resolve
      })
    }
    const readers = Promise.all(
      Array.from({ length: 100 }, () => reader.cache.getOrSet('filter_counts:EEMCS', loader)),
    )
    // Every reader has its answer while the one refresh is still running (it never ends by itself).
    const answers = await Promise.race([
      readers,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the readers waited for the refresh')), 1000),
      ),
    ])
    expect(answers).toEqual(Array(100).fill({ total: 1 }))
    expect(runs).toBe(1)
    expect(reader.cache.stats()).toMatchObject({ staleHits: 1, loads: 0 })

    finish({ total: 2 })
    // The refresh reaches Redis, so the other instance sees it too.
    await waitFor(
      async () => JSON.stringify(await writer.cache.get('filter_counts:EEMCS')) === '{"total":2}',
      'the refreshed value in Redis',
      2000,
    )
    expect(await reader.cache.getOrSet('filter_counts:EEMCS', loader)).toEqual({ total: 2 })
    expect(runs).toBe(1)
  })
})

describe('getOrSetMany', () => {
  let server: RedisProcess
  let seeder: Cache
  let reader: ReturnType<typeof tieredCache>

  beforeAll(async () => {
    server = await startRedis()
    const keyPrefix = randomKeyPrefix('many')
    seeder = createCache({ adapter: redisAdapter(server.url), keyPrefix, ttl: '1m' })
    reader = tieredCache(server.url, { keyPrefix })
    await waitFor(() => reader.cache.stats().bus === 'connected', 'the bus to connect', 3000)
  })

  afterAll(async () => {
    await Promise.all([seeder?.close(), reader?.cache.close()])
    await server?.stop()
  })

  /** Calls per command since the last CONFIG RESETSTAT, without this file's own INFO and CONFIG. */
  async function commandCalls(): Promise<Record<string, number>> {
    const info = await rawCommand(server.port, 'INFO commandstats')
    const calls: Record<string, number> = {}
    for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2])
    delete calls.info
    delete calls['config|resetstat']
    return calls
  }

  it('reads 100 keys with one MGET and loads the 60 misses in one call, then serves all from L1', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `course:${i}`)
    await seeder.setMany(keys.slice(0, 40).map((key) => ({ key, value: `cached ${key}` })))
    await rawCommand(server.port, 'CONFIG RESETSTAT')

    const calls: string[][] = []
    const loader = async (missing: string[]) => {
      calls.push(missing)
      return missing.map((key) => `loaded ${key}`)
    }
    const expected = keys.map((key, i) => (i < 40 ? `cached ${key}` : `loaded ${key}`))
    expect(await reader.cache.getOrSetMany(keys, loader)).toEqual(expected)
    expect(calls).toEqual([keys.slice(40)])
    // One read, one pipelined write of the 60 loaded entries, one invalidation for other instances.
    expect(await commandCalls()).toEqual({ mget: 1, set: 60, publish: 1 })

    await rawCommand(server.port, 'CONFIG RESETSTAT')
    const l1Before = reader.cache.stats().l1Hits
    expect(await reader.cache.getOrSetMany(keys, loader)).toEqual(expected)
    expect(calls).toHaveLength(1)
    expect(reader.cache.stats().l1Hits - l1Before).toBe(100)
    expect(await commandCalls()).toEqual({})
  })

  it('serves stale entries within grace when the batch loader throws', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-02T09:00:00Z') })
    const graceful = tieredCache(server.url, { keyPrefix: randomKeyPrefix('grace'), grace: '1h' })
    try {
      await graceful.cache.setMany([
        { key: 'course:1', value: 'Calculus 1A' },
        { key: 'course:2', value: 'Linear Algebra' },
      ])
      vi.setSystemTime(Date.now() + 61_000)
      const osirisDown = async (): Promise<string[]> => {
        throw new Error('Osiris answered 503')
      }
      expect(await graceful.cache.getOrSetMany(['course:1', 'course:2'], osirisDown)).toEqual([
        'Calculus 1A',
        'Linear Algebra',
      ])
    } finally {
      vi.useRealTimers()
      await graceful.cache.close()
    }
  })
})
