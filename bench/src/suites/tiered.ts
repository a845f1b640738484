import { isDeepStrictEqual } from 'node:util'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { redisAdapter } from '@cacheport/adapter-redis'
import { type Cache, createCache } from '@cacheport/cache-core'
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import type { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { KEY_COUNT, KEY_MASK, keys, sampleValue } from '../fixtures.js'
import {
  addTargets,
  awaitedLoop,
  type Case,
  expectValue,
  find,
  formatDuration,
  measure,
  note,
  part,
  ratioTarget,
  type SuiteReport,
  section,
  valueTarget,
} from '../harness.js'
import { commandsDuring, type DedicatedRedis, withDedicatedRedis } from '../redis-server.js'

/** Reads per timed call of the L1 tables: enough to bury the timer's own cost under microsecond hits. */
const BATCH = 1024
/** Reads per timed call when each one is a Redis round trip. */
const SEQUENTIAL = 200
/** Timed invalidations per contender, after {@link WARMUP_INVALIDATIONS} untimed ones. */
const INVALIDATIONS = 200
/** Invalidations run first and thrown away, so lazy set-up (JIT, first buffers) is not in the tail. */
const WARMUP_INVALIDATIONS = 20
/** How long another instance may keep serving an invalidated value before the run calls it broken. */
const STALE_LIMIT_MS = 2000

/** Budget per contender of the L1 table, split over alternating rounds. */
const L1_TIMING = { time: 2000, rounds: 4, warmupTime: 300 } as const
/** Round trips are what a busy machine disturbs most: more, shorter rounds give each a quiet one. */
const SEQUENTIAL_TIMING = { time: 2500, rounds: 5, warmupTime: 200 } as const

const names = {
  cacheport: 'cacheport get (memory L1 + redis L2 + bus)',
  bento: 'bentocache get (memory L1 + redis L2 + redis bus)',
  cacheManager: 'cache-manager get (keyv memory + @keyv/redis)',
  l2: 'cacheport get, no l1 (L2 hit, same Redis)',
  l1Dropped: 'cacheport get, L1 entry dropped first (L2 hit + L1 fill)',
} as const

/** A contender read by key; every contender of a table reads its own warm copy of the same keys. */
interface Reader {
  readonly name: string
  readonly get: (key: string) => Promise<unknown>
}

/** One instance of a tiered cache, as the invalidation measurement drives it. */
interface Instance {
  readonly get: (key: string) => Promise<unknown>
  readonly set: (key: string, value: unknown) => Promise<unknown>
  readonly delete: (key: string) => Promise<unknown>
  /** Reads answered by this instance's L1 so far, when the library counts them. */
  readonly l1Hits?: () => number
}

/** Latency figures of one invalidation contender, in milliseconds. */
interface Latency {
  readonly name: string
  /** Median time from A's call until B stopped reading the old value. */
  readonly p50: number
  /** 99th percentile (nearest rank) of the same. */
  readonly p99: number
  /** Slowest sample. */
  readonly max: number
  /** Median time until the invalidating call itself resolved. */
  readonly callP50: number
  /** Median reads the other instance made before it saw the change (the first one included). */
  readonly pollsP50: number
  readonly samples: number
}

/**
 * Suite 3: caches with an in-process L1 in front of Redis. L1 hits beside bentocache's and
 * cache-manager's tiered setups, L1 against L2 on the same server, and how long an invalidation
 * takes to reach another instance's L1. All on a redis-server of its own, never the shared one.
 */
export async function tieredSuite(report: SuiteReport): Promise<void> {
  await withDedicatedRedis(report, async (server) => {
    const admin = server.client()
    try {
      await part(report, 'tiered get hits', () => tieredGets(report, server, admin))
      await part(report, 'invalidation latency', () => invalidationLatency(report, server, admin))
    } finally {
      await admin.quit().catch(() => {})
    }
  })
}

/** L1 hits of the three libraries, then Cacheport's L1 against its L2 on the same entries. */
async function tieredGets(report: SuiteReport, server: DedicatedRedis, admin: Redis): Promise<void> {
  const closers: Array<() => Promise<unknown>> = []
  try {
    // What the README shows: a memory L1 in front of the Redis adapter, defaults otherwise.
    const near = memoryAdapter()
    const tiered = createCache({
      adapter: redisAdapter({ url: server.url() }),
      l1: near,
      keyPrefix: 'cp',
      ttl: '1h',
    })
    closers.push(() => tiered.close())
    // Same prefix, same server, no L1: it reads the very entries the tiered cache wrote.
    const l2Only = createCache({ adapter: redisAdapter({ url: server.url() }), keyPrefix: 'cp', ttl: '1h' })
    closers.push(() => l2Only.close())
    await busConnected(tiered)

    // bentocache's multi-tier setup as its documentation shows it, with room for every key in L1
    // (its memory driver keeps 1,000 items unless told otherwise, fewer than the keys read here).
    const bento = new BentoCache({
      default: 'multitier',
      stores: {
        multitier: bentostore()
          .useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: 10_000 }))
          .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port: server.port } }))
          .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port: server.port } })),
      },
    })
    closers.push(() => bento.disconnectAll())

    // cache-manager 7's tiers: a list of Keyv stores, read in order until one answers.
    const cacheManager = createCacheManager({
      stores: [new Keyv(), new Keyv({ store: new KeyvRedis(server.url()), namespace: 'cmt' })],
      ttl: 3_600_000,
    })
    closers.push(() => cacheManager.disconnect())

    for (const key of keys) {
      await tiered.set(key, sampleValue)
      await bento.set({ key, value: sampleValue, ttl: '1h' })
      await cacheManager.set(key, sampleValue)
    }

    const readers: Reader[] = [
      { name: names.cacheport, get: (key) => tiered.get(key) },
      { name: names.bento, get: (key) => bento.get({ key }) },
      { name: names.cacheManager, get: (key) => cacheManager.get(key) },
    ]
    const probe = keys[9]!
    for (const reader of readers) await expectValue(reader.name, reader.get(probe), sampleValue)
    // A read that went to Redis would be an L2 hit passing for an L1 one: every warm key must be
    // answered without a single command reaching the server.
    for (const reader of readers) await expectCommands(admin, reader, 'none')
    note(
      report,
      `${KEY_COUNT} warm keys per contender, the same ~200-byte value; each contender read every key ` +
        'without sending Redis a command (INFO commandstats)',
    )

    const key = (i: number) => keys[i & KEY_MASK]!
    const hits = await measure(
      readers.map((r) => ({ name: r.name, ops: BATCH, run: awaitedLoop(BATCH, (i) => r.get(key(i))) })),
      L1_TIMING,
    )
    section(report, 'tiered get hit (L1) — one caller, each read awaited', hits, names.bento)
    // Whether a hit hands back a copy or the stored object matters to a caller that mutates it.
    const copies: string[] = []
    const shares: string[] = []
    for (const reader of readers) {
      const first = await reader.get(probe)
      const second = await reader.get(probe)
      ;(first === second ? shares : copies).push(reader.name.split(' ')[0]!)
    }
    note(
      report,
      [
        copies.length > 0 ? `${copies.join(', ')}: every L1 hit is a fresh copy` : '',
        shares.length > 0 ? `${shares.join(', ')}: every L1 hit is the same stored object` : '',
      ]
        .filter(Boolean)
        .join('; '),
    )
    addTargets(
      report,
      ratioTarget(
        'tiered get hit vs bentocache tiered get',
        find(hits, names.cacheport),
        find(hits, names.bento),
        3,
      ),
    )

    // L1 against L2 on the same server and the same entries.
    const l1Miss: Reader = {
      name: names.l1Dropped,
      get: (key) => {
        near.delete(tiered.fullKey(key))
        return tiered.get(key)
      },
    }
    const l2: Reader = { name: names.l2, get: (key) => l2Only.get(key) }
    for (const reader of [l2, l1Miss]) {
      await expectValue(reader.name, reader.get(probe), sampleValue)
      await expectCommands(admin, reader, 'every read')
    }
    const tiers = await measure(
      [
        { name: names.cacheport, ops: BATCH, run: awaitedLoop(BATCH, (i) => tiered.get(key(i))) },
        ...[l2, l1Miss].map(
          (r): Case => ({
            name: r.name,
            ops: SEQUENTIAL,
            run: awaitedLoop(SEQUENTIAL, (i) => r.get(key(i))),
          }),
        ),
      ],
      SEQUENTIAL_TIMING,
    )
    section(report, 'cacheport L1 hit vs L2 hit — one caller, each read awaited', tiers, names.l2)
    const l1Hit = find(tiers, names.cacheport)
    const l2Hit = find(tiers, names.l2)
    if (l1Hit && l2Hit) {
      note(
        report,
        `an L1 hit takes ${formatDuration(l1Hit.nsPerOp)} against ${formatDuration(l2Hit.nsPerOp)} for a Redis ` +
          `round trip on loopback: ${(l1Hit.opsPerSec / l2Hit.opsPerSec).toFixed(0)}× as many reads per second`,
      )
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
  }
}

/**
 * Reads every warm key through `reader` and checks what reached Redis: nothing for an L1 hit, at
 * least one command per read for an L2 hit. Throws when the reads are not what their label says.
 */
async function expectCommands(admin: Redis, reader: Reader, expected: 'none' | 'every read'): Promise<void> {
  const { total, byCommand } = await commandsDuring(admin, async () => {
    for (const key of keys) await reader.get(key)
  })
  const ok = expected === 'none' ? total === 0 : total >= KEY_COUNT
  if (!ok) {
    throw new Error(
      `${reader.name}: ${KEY_COUNT} warm reads sent Redis ${total} commands ${JSON.stringify(byCommand)}, ` +
        `expected ${expected === 'none' ? 'none (L1 hits)' : `at least ${KEY_COUNT} (L2 hits)`}`,
    )
  }
}

/** Resolves once the cache's invalidation bus is subscribed; until then its L1 is not used. */
async function busConnected(cache: Cache, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (cache.stats().bus !== 'connected') {
    if (performance.now() > deadline) {
      throw new Error(
        `cache "${cache.name}": invalidation bus still ${cache.stats().bus} after ${timeoutMs} ms`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Two instances of each library in this process — each with its own L1, Redis connections and bus
 * subscription, sharing one Redis — both warm; A invalidates a key and B reads it until it no longer
 * gets the old value from its L1.
 */
async function invalidationLatency(report: SuiteReport, server: DedicatedRedis, admin: Redis): Promise<void> {
  const closers: Array<() => Promise<unknown>> = []
  try {
    const cacheport = (): Cache => {
      const cache = createCache({
        adapter: redisAdapter({ url: server.url() }),
        l1: memoryAdapter(),
        keyPrefix: 'inv',
        ttl: '1h',
      })
      closers.push(() => cache.close())
      return cache
    }
    const [a, b] = [cacheport(), cacheport()]
    await busConnected(a)
    await busConnected(b)
    const bento = (): BentoCache<any> => {
      const connection = { host: '127.0.0.1', port: server.port }
      const cache = new BentoCache({
        default: 'multitier',
        prefix: 'inv-bento',
        stores: {
          multitier: bentostore()
            .useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: 10_000 }))
            .useL2Layer(redisDriver({ connection }))
            .useBus(redisBusDriver({ connection })),
        },
      })
      closers.push(() => cache.disconnectAll())
      return cache
    }
    const [bentoA, bentoB] = [bento(), bento()]

    const ours = (cache: Cache): Instance => ({
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value),
      delete: (key) => cache.delete(key),
      l1Hits: () => cache.stats().l1Hits,
    })
    const theirs = (cache: BentoCache<any>): Instance => ({
      get: (key) => cache.get({ key }),
      set: (key, value) => cache.set({ key, value, ttl: '1h' }),
      delete: (key) => cache.delete({ key }),
    })
    const pairs = [
      { library: 'cacheport', a: ours(a), b: ours(b) },
      { library: 'bentocache', a: theirs(bentoA), b: theirs(bentoB) },
    ]

    const rows: Latency[] = []
    for (const pair of pairs) {
      for (const kind of ['delete', 'set'] as const) {
        const name = `${pair.library} ${kind === 'delete' ? 'delete' : 'set (new value)'} → other instance`
        rows.push(await latency(name, admin, pair.a, pair.b, kind, `${pair.library}:${kind}`))
      }
    }
    if (b.stats().bus !== 'connected') {
      throw new Error(`cacheport instance B: invalidation bus ${b.stats().bus} at the end of the run`)
    }

    console.log(
      `\n  invalidation reaching another instance's L1 — ${INVALIDATIONS} invalidations each, loopback`,
    )
    console.log(
      `  ${'contender'.padEnd(46)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'call p50'.padStart(11)}${'reads p50'.padStart(11)}`,
    )
    for (const row of rows) {
      const ms = (value: number) => formatDuration(value * 1e6).padStart(10)
      console.log(
        `  ${row.name.padEnd(46)}${ms(row.p50)}${ms(row.p99)}${ms(row.max)}${ms(row.callP50).padStart(11)}${String(row.pollsP50).padStart(11)}`,
      )
    }
    console.log(
      "  (time from A's call until B's read no longer returns the old value; call p50 = until A's own call resolved)",
    )
    report.data.invalidation = rows
    for (const row of rows.filter((r) => r.name.startsWith('cacheport'))) {
      addTargets(
        report,
        valueTarget(
          `invalidation visible in another instance's L1, p99 (${row.name.includes('delete') ? 'delete' : 'set'})`,
          row.p99,
          '<=',
          50,
          'ms',
          `p50 ${row.p50.toFixed(2)} ms, max ${row.max.toFixed(2)} ms over ${row.samples}`,
        ),
      )
    }

    await part(report, 'cache-manager coherence', () => cacheManagerCoherence(report, server))
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
  }
}

/**
 * Warms {@link INVALIDATIONS} + {@link WARMUP_INVALIDATIONS} keys in both instances, then, one key
 * at a time, has A delete it (or write a new value) while B keeps reading it; a sample is the time
 * from A's call to B's first read that no longer returns the old value.
 */
async function latency(
  name: string,
  admin: Redis,
  a: Instance,
  b: Instance,
  kind: 'delete' | 'set',
  prefix: string,
): Promise<Latency> {
  const total = WARMUP_INVALIDATIONS + INVALIDATIONS
  const own = Array.from({ length: total }, (_, i) => `${prefix}:${i}`)
  for (const key of own) await a.set(key, sampleValue)
  // A's writes were published too; let them land before B fills its L1, or they would empty it again.
  await settle()
  for (const key of own) {
    await expectValue(`${name}: instance A`, a.get(key), sampleValue)
    await expectValue(`${name}: instance B`, b.get(key), sampleValue)
  }
  await settle()
  const { total: commands } = await commandsDuring(admin, async () => {
    for (const key of own) {
      await a.get(key)
      await b.get(key)
    }
  })
  if (commands !== 0)
    throw new Error(`${name}: warm reads sent Redis ${commands} commands; the L1s are not warm`)

  const samples: number[] = []
  const calls: number[] = []
  const polls: number[] = []
  for (let i = 0; i < total; i++) {
    const key = own[i]!
    const fresh = kind === 'set' ? { ...sampleValue, total: sampleValue.total + 1 + i } : undefined
    const started = performance.now()
    let called = 0
    const invalidation = (kind === 'delete' ? a.delete(key) : a.set(key, fresh)).then(() => {
      called = performance.now()
    })
    let reads = 0
    const l1HitsBefore = b.l1Hits?.()
    for (;;) {
      reads++
      const value = await b.get(key)
      if (!isDeepStrictEqual(value, sampleValue)) {
        if (!isDeepStrictEqual(value, fresh)) {
          throw new Error(`${name}: instance B read ${JSON.stringify(value)} for "${key}"`)
        }
        break
      }
      if (performance.now() - started > STALE_LIMIT_MS) {
        throw new Error(`${name}: instance B still read the old value of "${key}" after ${STALE_LIMIT_MS} ms`)
      }
      // Reads answered from L1 never leave the microtask queue; the bus message needs the event loop.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const seen = performance.now()
    await invalidation
    // Every read but the last came from B's L1: had B's L1 been bypassed, the figure would be a
    // Redis round trip, not the time the invalidation took to arrive.
    if (l1HitsBefore !== undefined) {
      const l1Reads = b.l1Hits!() - l1HitsBefore
      if (l1Reads !== reads - 1) {
        throw new Error(
          `${name}: instance B answered ${l1Reads} of ${reads} reads of "${key}" from L1, expected all but the last`,
        )
      }
    }
    if (i < WARMUP_INVALIDATIONS) continue
    samples.push(seen - started)
    calls.push(called - started)
    polls.push(reads)
  }
  const sorted = [...samples].sort((x, y) => x - y)
  return {
    name,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    callP50: percentile(
      [...calls].sort((x, y) => x - y),
      0.5,
    ),
    pollsP50: percentile(
      [...polls].sort((x, y) => x - y),
      0.5,
    ),
    samples: samples.length,
  }
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/** Gives messages already on the wire time to arrive: a few loopback round trips, with room. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50))
}

/**
 * cache-manager's tiers have no bus: what one instance deletes, another keeps serving from its
 * memory store. Checked on two instances rather than assumed, and reported as a note.
 */
async function cacheManagerCoherence(report: SuiteReport, server: DedicatedRedis): Promise<void> {
  const instance = () =>
    createCacheManager({
      stores: [new Keyv(), new Keyv({ store: new KeyvRedis(server.url()), namespace: 'cm-inv' })],
      ttl: 3_600_000,
    })
  const [a, b] = [instance(), instance()]
  try {
    // Its get does not copy an L2 hit into L1, so an instance holds a key in memory only after
    // writing it itself: here, both loaded the value and wrote it.
    await b.set('coherence', sampleValue)
    await a.set('coherence', sampleValue)
    await a.del('coherence')
    await settle()
    const after = await b.get('coherence')
    note(
      report,
      isDeepStrictEqual(after, sampleValue)
        ? 'cache-manager (keyv memory + @keyv/redis) has no invalidation bus: after instance A deleted a key, ' +
            'instance B still returned the old value from its memory store 50 ms later'
        : 'cache-manager: after instance A deleted a key, instance B no longer returned it',
    )
  } finally {
    await a.disconnect()
    await b.disconnect()
  }
}
