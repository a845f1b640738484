/**
 * Tags at scale: how an L1 of 100k entries keeps answering while a tag carried by 1% of them is
 * invalidated ten times a second by another instance, and what a tagged write costs on Redis — each
 * beside bentocache's tags.
 */
import { memoryAdapter } from '@cacheport/adapter-memory'
import { redisAdapter } from '@cacheport/adapter-redis'
import { type Cache, createCache } from '@cacheport/cache-core'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { KEY_MASK, keys, sampleValue } from '../fixtures.js'
import {
  addTargets,
  expectValue,
  find,
  formatOps,
  inFlight,
  interleave,
  interleavedSection,
  interleavedTarget,
  measure,
  note,
  part,
  ratioTarget,
  type SuiteReport,
  section,
  valueTarget,
} from '../harness.js'
import { type DedicatedRedis, withDedicatedRedis } from '../redis-server.js'

/** Entries each L1 holds. */
const ENTRIES = 100_000
/** Every this-many-th key carries the churned tag: 1%. */
const TAGGED_EVERY = 100
/** The churned tag, and how often another instance invalidates it. */
const HOT_TAG = 'faculty:EEMCS'
const INVALIDATE_EVERY_MS = 100
/** Length of one timed phase; phases alternate calm and churn, contender by contender. */
const PHASE_MS = 2_000
/** Calm/churn pairs per contender; the best of each kind is reported. */
const PHASE_PAIRS = 3
/** One-at-a-time writes: taking turns operation by operation, as the round trip dominates. */
const SEQUENTIAL_ROUNDS = { rounds: 9, opsPerRound: 1500, warmupOps: 500 } as const
/** Writes started together in the throughput comparison. */
const IN_FLIGHT = 200
const PARALLEL_TIMING = { time: 2000, rounds: 4, warmupTime: 200 } as const

/** The i-th key read: a stride over all entries, so every key comes round once per pass. */
const keyAt = (i: number): string => `item:${(i * 7919) % ENTRIES}`
const isTagged = (key: string): boolean => Number(key.slice(5)) % TAGGED_EVERY === 0
const tagsOf = (key: string): string[] => (isTagged(key) ? [HOT_TAG] : [])

/** One library's pair of instances: the one timed, and the other that invalidates the tag. */
interface Contender {
  readonly name: string
  /** One read of the timed instance (a getOrSet whose loader tags the hot keys). */
  readonly read: (key: string) => Promise<unknown>
  /** Invalidates the hot tag from the other instance. */
  readonly invalidate: () => Promise<unknown>
  /** L1 hits and reads of the timed instance so far, when the library counts them. */
  readonly counts?: () => { l1Hits: number; reads: number }
}

interface Phase {
  readsPerSec: number
  l1HitRate: number | undefined
  invalidations: number
}

/** Suite: tag churn over a 100k-entry L1, and tagged writes on Redis. */
export async function tagsSuite(report: SuiteReport): Promise<void> {
  await withDedicatedRedis(report, async (server) => {
    await part(report, 'tag churn over L1', () => churn(report, server))
    await part(report, 'tagged writes', () => taggedWrites(report, server))
  })
}

async function churn(report: SuiteReport, server: DedicatedRedis): Promise<void> {
  const closers: Array<() => Promise<unknown>> = []
  try {
    const contenders = [await cacheport(server, closers), await bento(server, closers)]
    note(
      report,
      `${ENTRIES} entries in each L1, 1 in ${TAGGED_EVERY} tagged ${HOT_TAG}; churn: another instance invalidates ` +
        `${HOT_TAG} every ${INVALIDATE_EVERY_MS} ms; reads are getOrSet (loaders tag their results), one at a time, ` +
        `${PHASE_PAIRS} × ${PHASE_MS / 1000} s calm and ${PHASE_PAIRS} × ${PHASE_MS / 1000} s churn per library, alternated`,
    )
    const results = new Map<string, { calm: Phase[]; churn: Phase[] }>()
    for (const c of contenders) results.set(c.name, { calm: [], churn: [] })
    let offset = 0
    for (let pair = 0; pair < PHASE_PAIRS; pair++) {
      for (const c of pair % 2 === 0 ? contenders : [...contenders].reverse()) {
        const r = results.get(c.name)!
        const order = pair % 2 === 0 ? [false, true] : [true, false]
        for (const churning of order) {
          const phase = await runPhase(c, churning, offset)
          offset += 1_000_003
          ;(churning ? r.churn : r.calm).push(phase)
        }
      }
    }

    console.log(
      `\n  tag churn — ${ENTRIES} L1 entries, 1% tagged, the tag invalidated 10×/s by another instance`,
    )
    console.log(
      `  ${'contender'.padEnd(58)}${'reads/s'.padStart(10)}${'L1 hit rate'.padStart(13)}${'invalidations'.padStart(15)}`,
    )
    const rows: Array<{ name: string; phase: Phase }> = []
    for (const c of contenders) {
      const r = results.get(c.name)!
      for (const [label, phases] of [
        ['calm', r.calm],
        ['churn', r.churn],
      ] as const) {
        // The fastest phase of each kind: other processes on the machine only ever slow one down.
        const best = phases.reduce((a, b) => (b.readsPerSec > a.readsPerSec ? b : a))
        const hitRates = phases.map((p) => p.l1HitRate).filter((h): h is number => h !== undefined)
        const hitRate = hitRates.length === 0 ? undefined : median(hitRates)
        const phase = { ...best, l1HitRate: hitRate }
        rows.push({ name: `${c.name}, ${label}`, phase })
        console.log(
          `  ${`${c.name}, ${label}`.padEnd(58)}${formatOps(phase.readsPerSec).padStart(10)}` +
            `${(hitRate === undefined ? 'n/a' : `${(hitRate * 100).toFixed(2)}%`).padStart(13)}` +
            `${String(phase.invalidations).padStart(15)}`,
        )
      }
    }
    report.data.tagChurn = rows
    note(report, 'L1 hit rate: the median over phases of l1Hits / reads; bentocache does not count L1 hits')
    const calm = rows.find((r) => r.name === `${contenders[0]!.name}, calm`)!.phase
    const churned = rows.find((r) => r.name === `${contenders[0]!.name}, churn`)!.phase
    const bentoChurn = rows.find((r) => r.name === `${contenders[1]!.name}, churn`)!.phase
    addTargets(
      report,
      valueTarget(
        'L1 hit rate under tag churn vs calm',
        churned.l1HitRate! / calm.l1HitRate!,
        '>=',
        0.98,
        'x',
        `${(churned.l1HitRate! * 100).toFixed(2)}% vs ${(calm.l1HitRate! * 100).toFixed(2)}%`,
      ),
      valueTarget(
        'reads under tag churn vs bentocache under the same churn',
        churned.readsPerSec / bentoChurn.readsPerSec,
        '>=',
        1,
        'x',
        `${formatOps(churned.readsPerSec)} vs ${formatOps(bentoChurn.readsPerSec)} reads/s`,
      ),
    )
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Reads for {@link PHASE_MS}, with the other instance invalidating the tag meanwhile when `churning`. */
async function runPhase(c: Contender, churning: boolean, offset: number): Promise<Phase> {
  let invalidations = 0
  let stop = false
  // The invalidations run beside the reads, each awaited before the next is due.
  const invalidating = (async () => {
    if (!churning) return
    let next = performance.now() + INVALIDATE_EVERY_MS
    while (!stop) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
      if (stop) break
      await c.invalidate()
      invalidations++
      next += INVALIDATE_EVERY_MS
    }
  })()
  const before = c.counts?.()
  const started = performance.now()
  const ends = started + PHASE_MS
  let reads = 0
  while (performance.now() < ends) {
    // Batches of reads between clock checks; a macrotask now and then lets timers and the bus run.
    for (let j = 0; j < 256; j++) await c.read(keyAt(offset + reads++))
    await new Promise((resolve) => setImmediate(resolve))
  }
  const elapsed = performance.now() - started
  stop = true
  await invalidating
  const after = c.counts?.()
  const l1HitRate =
    before && after && after.reads > before.reads
      ? (after.l1Hits - before.l1Hits) / (after.reads - before.reads)
      : undefined
  return { readsPerSec: (reads / elapsed) * 1000, l1HitRate, invalidations }
}

async function cacheport(server: DedicatedRedis, closers: Array<() => Promise<unknown>>): Promise<Contender> {
  const make = (): Cache =>
    createCache({
      adapter: redisAdapter({ url: server.url() }),
      l1: memoryAdapter({ maxEntries: ENTRIES * 2 }),
      keyPrefix: 'churn',
      ttl: '1h',
    })
  const reader = make()
  const other = make()
  closers.push(
    () => reader.close(),
    () => other.close(),
  )
  await Promise.all([reader.ready(), other.ready()])
  for (let start = 0; start < ENTRIES; start += 1000) {
    await other.setMany(
      Array.from({ length: 1000 }, (_, j) => {
        const key = `item:${start + j}`
        const tags = tagsOf(key)
        return { key, value: sampleValue, tags: tags.length > 0 ? tags : undefined }
      }),
    )
  }
  const loader = async () => sampleValue
  const tagged = { tags: [HOT_TAG] }
  const read = (key: string) =>
    isTagged(key) ? reader.getOrSet(key, loader, tagged) : reader.getOrSet(key, loader)
  // Twice: a read that raced the bus messages of the writes above does not fill L1 (by design).
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < ENTRIES; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => read(`item:${i + j}`)))
    }
  }
  await expectValue('cacheport tiered getOrSet', read('item:100'), sampleValue)
  if ((reader.stats().l1Entries ?? 0) < ENTRIES) {
    throw new Error(
      `cacheport: L1 holds ${reader.stats().l1Entries} entries after warming, expected ${ENTRIES}`,
    )
  }
  return {
    name: 'cacheport (memory L1 + redis L2 + bus)',
    read,
    invalidate: () => other.invalidateTags([HOT_TAG]),
    counts: () => {
      const s = reader.stats()
      return { l1Hits: s.l1Hits, reads: s.hits + s.misses + s.staleHits }
    },
  }
}

async function bento(server: DedicatedRedis, closers: Array<() => Promise<unknown>>): Promise<Contender> {
  const make = () =>
    new BentoCache({
      default: 'tiered',
      stores: {
        tiered: bentostore()
          .useL1Layer(memoryDriver({ maxSize: '200mb', maxItems: ENTRIES * 2 }))
          .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port: server.port } }))
          .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port: server.port } })),
      },
    })
  const reader = make()
  const other = make()
  closers.push(
    () => reader.disconnectAll(),
    () => other.disconnectAll(),
  )
  const factory = async () => sampleValue
  const read = (key: string) => reader.getOrSet({ key, factory, ttl: '1h', tags: tagsOf(key) })
  for (let i = 0; i < ENTRIES; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => read(`item:${i + j}`)))
  }
  await expectValue('bentocache tiered getOrSet', read('item:100'), sampleValue)
  return {
    name: 'bentocache (memory L1 + redis L2 + redis bus)',
    read,
    invalidate: () => other.deleteByTag({ tags: [HOT_TAG] }),
  }
}

/** Sequential tagged writes on Redis alone, Cacheport beside bentocache. */
async function taggedWrites(report: SuiteReport, server: DedicatedRedis): Promise<void> {
  const closers: Array<() => Promise<unknown>> = []
  try {
    const cache = createCache({ adapter: redisAdapter({ url: server.url() }), keyPrefix: 'tw', ttl: '1h' })
    closers.push(() => cache.close())
    const connection = server.client()
    const bentoCache = new BentoCache({
      default: 'redis',
      stores: { redis: bentostore().useL2Layer(redisDriver({ connection })) },
    })
    closers.push(
      () => bentoCache.disconnectAll(),
      () => connection.quit(),
    )
    const tags = [HOT_TAG, 'period:2025-1A']
    const ours = 'cacheport set with 2 tags (redis adapter)'
    const theirs = 'bentocache set with 2 tags (redis driver, L2 only)'
    await cache.set('probe', sampleValue, { tags })
    await bentoCache.set({ key: 'probe', value: sampleValue, ttl: '1h', tags })
    await expectValue(ours, cache.get('probe'), sampleValue)
    await expectValue(theirs, bentoCache.get({ key: 'probe' }), sampleValue)
    // No library: the value serialized and SET, on a client of its own. A library that serializes
    // the value and waits for its write to be acknowledged cannot go faster, one write at a time.
    const floor = 'ioredis SET of JSON.stringify(value), no library (the floor)'
    const floorClient = server.client()
    closers.push(() => floorClient.quit())
    const measured = await interleave(
      [
        { name: ours, op: (i) => cache.set(keys[i & KEY_MASK]!, sampleValue, { tags }) },
        {
          name: theirs,
          op: (i) => bentoCache.set({ key: keys[i & KEY_MASK]!, value: sampleValue, ttl: '1h', tags }),
        },
        {
          name: floor,
          op: (i) =>
            floorClient.set(
              `floor:${keys[i & KEY_MASK]}`,
              JSON.stringify({ value: sampleValue, tags }),
              'PX',
              3_600_000,
            ),
        },
      ],
      SEQUENTIAL_ROUNDS,
    )
    interleavedSection(report, 'tagged writes — one at a time (each awaited)', measured, theirs)
    // Tagged writes of both libraries, IN_FLIGHT at a time: the same for every pair of clients below.
    const inFlightRows = (ourCache: Cache, theirCache: typeof bentoCache) =>
      measure(
        [
          {
            name: ours,
            ops: IN_FLIGHT,
            run: inFlight(IN_FLIGHT, (i) => ourCache.set(keys[i & KEY_MASK]!, sampleValue, { tags })),
          },
          {
            name: theirs,
            ops: IN_FLIGHT,
            run: inFlight(IN_FLIGHT, (i) =>
              theirCache.set({ key: keys[i & KEY_MASK]!, value: sampleValue, ttl: '1h', tags }),
            ),
          },
        ],
        PARALLEL_TIMING,
      )
    const parallel = await inFlightRows(cache, bentoCache)
    section(report, `tagged writes — ${IN_FLIGHT} in flight`, parallel, theirs)
    // The same with both clients auto-pipelining (the Redis adapter's option, ioredis' for bentocache):
    // the round trips are shared, so what is left is each library's own work per write.
    const piped = createCache({
      adapter: redisAdapter({ url: server.url(), autoPipelining: true }),
      keyPrefix: 'twp',
      ttl: '1h',
    })
    closers.push(() => piped.close())
    const pipedConnection = server.client({ enableAutoPipelining: true })
    const pipedBento = new BentoCache({
      default: 'redis',
      prefix: 'twp',
      stores: { redis: bentostore().useL2Layer(redisDriver({ connection: pipedConnection })) },
    })
    closers.push(
      () => pipedBento.disconnectAll(),
      () => pipedConnection.quit(),
    )
    await piped.set('probe', sampleValue, { tags })
    await pipedBento.set({ key: 'probe', value: sampleValue, ttl: '1h', tags })
    const pipedRows = await inFlightRows(piped, pipedBento)
    section(report, `tagged writes — ${IN_FLIGHT} in flight, both clients auto-pipelining`, pipedRows, theirs)
    await expectValue(ours, piped.get(keys[5]!), sampleValue)
    // What was written reads back, tags and all.
    await expectValue(ours, cache.get(keys[3]!), sampleValue)
    addTargets(
      report,
      // One at a time the round trip is most of a write, and the floor above is itself only ~1.2×
      // bentocache: here the target is to be ahead; the 1.2× targets are the throughput tables.
      interleavedTarget('tagged set one at a time vs bentocache', measured, ours, theirs, 1.0),
      ratioTarget(
        `tagged set, ${IN_FLIGHT} in flight vs bentocache`,
        find(parallel, ours),
        find(parallel, theirs),
        1.2,
      ),
      ratioTarget(
        `tagged set, ${IN_FLIGHT} in flight, auto-pipelining vs bentocache`,
        find(pipedRows, ours),
        find(pipedRows, theirs),
        1.2,
      ),
    )
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
  }
}
