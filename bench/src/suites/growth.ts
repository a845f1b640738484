/**
 * How cost grows with the work: each operation at 1k, 100k and 1M keys on memory and on Redis;
 * memory over many distinct keys; pattern deletes against hostile globs.
 */
import { memoryAdapter } from '@cacheport/adapter-memory'
import { redisAdapter } from '@cacheport/adapter-redis'
import { type Cache, createCache } from '@cacheport/cache-core'
import { addTargets, note, part, type SuiteReport, valueTarget } from '../harness.js'
import { type DedicatedRedis, redisAnswers, startRedisServer } from '../redis-server.js'

const MB = 1024 * 1024
const DISTINCT_KEYS = 10_000_000
const WARM_UP_KEYS = 1_000_000

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined)
    throw new Error('the growth suite needs node --expose-gc (the bench script passes it)')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Cost by size, heap after GC over 10M distinct keys on a memory cache of 1,000 entries; pattern deletes on hostile globs. */
export async function growthSuite(report: SuiteReport): Promise<void> {
  await part(report, 'cost by size', () => costBySize(report))

  await part(report, 'heap over distinct keys', async () => {
    const cache = createCache({
      adapter: memoryAdapter({ maxEntries: 1000 }),
      keyPrefix: 'growth',
      statsPrefixes: ['user'],
    })
    // Half the keys under a declared prefix, half under none, as user-supplied keys would be.
    const keyOf = (i: number) => (i % 2 === 0 ? `user:${i}` : `k${i}`)
    for (let i = 0; i < WARM_UP_KEYS; i++) await cache.set(keyOf(i), i)
    const before = heapAfterGc()
    const started = performance.now()
    for (let i = WARM_UP_KEYS; i < DISTINCT_KEYS; i++) await cache.set(keyOf(i), i)
    const seconds = (performance.now() - started) / 1000
    const after = heapAfterGc()
    const buckets = Object.keys(cache.stats().byPrefix).length
    note(
      report,
      `${DISTINCT_KEYS.toLocaleString('en')} distinct keys set: heap after GC ${(before / MB).toFixed(1)} MB after ${WARM_UP_KEYS.toLocaleString('en')}, ` +
        `${(after / MB).toFixed(1)} MB at the end (${seconds.toFixed(1)} s); byPrefix holds ${buckets} bucket(s)`,
    )
    report.data.heapGrowthMb = (after - before) / MB
    addTargets(
      report,
      valueTarget(
        'heap growth after GC, 1M → 10M distinct keys on a 1,000-entry memory cache',
        (after - before) / MB,
        '<=',
        8,
        'MB',
        `${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB`,
      ),
    )
    await cache.close()
  })

  await part(report, 'pattern delete on a hostile glob', async () => {
    const adapter = memoryAdapter({ maxEntries: 10_000 })
    for (let i = 0; i < 1000; i++)
      adapter.set(`${'a'.repeat(36)}${String(i).padStart(4, '0')}`, new Uint8Array(1), undefined)
    const started = performance.now()
    const removed = adapter.deleteByPattern('*a*a*a*a*a*a*a*a*b')
    const ms = performance.now() - started
    if (removed !== 0) throw new Error(`the hostile glob removed ${removed} keys; it matches none`)
    addTargets(
      report,
      valueTarget(
        'deleteByPattern("*a*a*a*a*a*a*a*a*b") over 1,000 keys of 40 characters',
        ms,
        '<=',
        50,
        'ms',
        'a backtracking RegExp took about 4 s per key',
      ),
    )
  })
}

/** Store sizes at which every operation is timed, grown in place in one cache. */
const SIZES = [1_000, 100_000, 1_000_000] as const
/** Keys written per `setMany` while a cache is filled. */
const FILL_CHUNK = 1000
/** Keys that a timed pattern delete matches, whatever the size of the store. */
const PATTERN_MATCHES = 1000
/** Timed repetitions of each figure; the fastest counts (other processes only ever add time). */
const REPEATS = 5

/** What one backend of the table needs: how to make its cache and how much each timing does. */
interface Backend {
  readonly name: 'memory' | 'redis'
  readonly cache: Cache
  /** Operations per timed run of the per-operation figures. */
  readonly ops: number
  /** Bytes the store holds for its entries now (heap after GC, or Redis `used_memory`). */
  readonly held: () => Promise<number>
  readonly close: () => Promise<void>
}

/** One row of the table: an operation and its figure at each size, per backend. */
type Figures = Record<string, Record<number, number>>

/** The value each entry holds: small, so that a million of them fit anywhere. */
function entryValue(i: number): { id: number; faculty: string; counts: number[] } {
  return { id: i, faculty: 'EEMCS', counts: [i % 97, i % 13] }
}

/** A pseudo-random key index below `size`: reads and writes land all over the keyspace. */
function spread(i: number, size: number): number {
  return Math.imul(i + 1, 2654435761) >>> (0 % size)
}

async function fastest(repeats: number, run: () => Promise<number>): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < repeats; r++) best = Math.min(best, await run())
  return best
}

/** Nanoseconds per operation of `ops` awaited calls of `op`, the fastest of {@link REPEATS} runs. */
function perOp(ops: number, op: (i: number) => unknown): Promise<number> {
  let offset = 0
  return fastest(REPEATS, async () => {
    const started = performance.now()
    for (let i = 0; i < ops; i++) await op(offset + i)
    offset += ops
    return ((performance.now() - started) * 1e6) / ops
  })
}

async function fill(cache: Cache, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += FILL_CHUNK) {
    const entries = []
    for (let i = start; i < Math.min(to, start + FILL_CHUNK); i++)
      entries.push({ key: `k:${i}`, value: entryValue(i) })
    // A write the store dropped (the cache fails open) would leave the table timing a smaller store.
    if (!(await cache.setMany(entries)))
      throw new Error(`filling keys ${start}… failed: the store dropped a write`)
  }
}

/** Times every operation of the table at one size; returns nanoseconds (per call, or per key held). */
async function timeAt(backend: Backend, size: number): Promise<Record<string, number>> {
  const { cache, ops } = backend
  const figures: Record<string, number> = {}
  figures.get = await perOp(ops, (i) => cache.get(`k:${spread(i, size)}`))
  figures.set = await perOp(ops, (i) => {
    const n = spread(i, size)
    return cache.set(`k:${n}`, entryValue(n))
  })
  let missed = 0
  const loader = async () => entryValue(-1)
  figures.getOrSetMiss = await fastest(REPEATS, async () => {
    const started = performance.now()
    for (let i = 0; i < ops; i++) await cache.getOrSet(`miss:${missed++}`, loader)
    const ns = ((performance.now() - started) * 1e6) / ops
    // The keys the misses wrote go again, untimed, so the store stays at `size`.
    await cache.deletePattern('miss:*')
    return ns
  })
  figures.deletePattern = await fastest(REPEATS, async () => {
    const entries = Array.from({ length: PATTERN_MATCHES }, (_, j) => ({
      key: `pat:${j}`,
      value: entryValue(j),
    }))
    await cache.setMany(entries)
    const started = performance.now()
    const removed = await cache.deletePattern('pat:*')
    const ns = (performance.now() - started) * 1e6
    if (removed !== PATTERN_MATCHES) {
      throw new Error(
        `${backend.name} at ${size}: deletePattern removed ${removed} keys, expected ${PATTERN_MATCHES}`,
      )
    }
    return ns
  })
  let tag = 0
  figures.invalidateTags = await perOp(Math.max(1, ops >> 2), () =>
    cache.invalidateTags([`faculty:${tag++ % 8}`]),
  )
  return figures
}

function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`
  return `${ns.toPrecision(3)} ns`
}

const ROWS: ReadonlyArray<[key: string, label: string]> = [
  ['get', '`get` (hit, a random key)'],
  ['set', '`set` (overwrite, a random key)'],
  ['getOrSetMiss', '`getOrSet` miss (loader + write)'],
  ['deletePattern', `\`deletePattern\` matching ${PATTERN_MATCHES.toLocaleString('en')} keys, per call`],
  ['invalidateTags', '`invalidateTags` (one tag)'],
  ['bytesPerEntry', 'memory held per entry added (heap after GC; Redis `used_memory`)'],
]

/**
 * Every operation at 1k, 100k and 1M keys, in one cache per backend grown in place: O(1) operations
 * keep their time as the store grows a thousandfold; a pattern delete walks the keyspace.
 */
async function costBySize(report: SuiteReport): Promise<void> {
  const figures: Record<string, Figures> = {}
  const backends: Array<() => Promise<Backend>> = [
    async () => {
      const cache = createCache({
        adapter: memoryAdapter({ maxEntries: 2_000_000, maxBytes: 2 ** 31 }),
        keyPrefix: 'growth',
        ttl: '1h',
      })
      return {
        name: 'memory',
        cache,
        ops: 20_000,
        held: async () => heapAfterGc(),
        close: () => cache.close(),
      }
    },
  ]
  let server: DedicatedRedis | undefined
  if (await redisAnswers('127.0.0.1', 6379)) {
    backends.push(async () => {
      server = await startRedisServer()
      note(report, `cost by size: dedicated redis-server on 127.0.0.1:${server.port} (pid ${server.pid})`)
      const admin = server.client()
      const cache = createCache({
        adapter: redisAdapter({ url: server.url(), commandTimeout: '30s' }),
        keyPrefix: 'growth',
        ttl: '1h',
        // A pattern delete over a million keys, or a pipeline of a thousand writes on a busy
        // machine, takes longer than one ordinary operation may.
        timeout: '30s',
      })
      return {
        name: 'redis',
        cache,
        ops: 1000,
        held: async () => {
          const info = String(await admin.call('INFO', 'memory'))
          return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN)
        },
        close: async () => {
          await cache.close()
          await admin.quit()
          await server?.stop()
        },
      }
    })
  } else {
    note(report, 'cost by size: no Redis answers at 127.0.0.1:6379, so only the memory columns are measured')
  }

  for (const make of backends) {
    const backend = await make()
    const rows: Figures = {}
    figures[backend.name] = rows
    try {
      let held = await backend.held()
      let filled = 0
      for (const size of SIZES) {
        const started = performance.now()
        const added = size - filled
        await fill(backend.cache, filled, size)
        filled = size
        const fillSeconds = (performance.now() - started) / 1000
        // Per entry added since the last size: what the store holds beyond its fixed overhead.
        const now = await backend.held()
        const timed = await timeAt(backend, size)
        timed.bytesPerEntry = (now - held) / added
        held = now
        for (const [key, value] of Object.entries(timed)) {
          rows[key] ??= {}
          rows[key][size] = value
        }
        note(
          report,
          `${backend.name} at ${size.toLocaleString('en')} keys (filled in ${fillSeconds.toFixed(1)} s): ` +
            Object.entries(timed)
              .map(([k, v]) => `${k} ${k === 'bytesPerEntry' ? `${Math.round(v)} B` : formatNs(v)}`)
              .join(', '),
        )
      }
    } finally {
      await backend.close()
    }
  }
  report.data.costBySize = figures

  const columns = Object.keys(figures).flatMap((backend) => SIZES.map((size) => [backend, size] as const))
  const header = `| operation | ${columns.map(([b, size]) => `${b} ${size >= 1e6 ? `${size / 1e6}M` : `${size / 1e3}k`}`).join(' | ')} |`
  const lines = [header, `| --- | ${columns.map(() => '---:').join(' | ')} |`]
  for (const [key, label] of ROWS) {
    const cells = columns.map(([backend, size]) => {
      const value = figures[backend]?.[key]?.[size]
      if (value === undefined) return ''
      if (key !== 'bytesPerEntry') return formatNs(value)
      // A thousand entries are lost in the heap's own noise; the larger steps show the cost.
      return size === SIZES[0] && backend === 'memory' ? '—' : `${Math.round(value)} B`
    })
    lines.push(`| ${label} | ${cells.join(' | ')} |`)
  }
  console.log(`\n  cost by size (markdown)\n${lines.map((l) => `  ${l}`).join('\n')}`)
  report.data.costBySizeTable = lines.join('\n')

  // O(1) per operation: a thousandfold larger store may cost a few times more per call (CPU caches
  // and the allocator see a bigger working set), never anywhere near a thousand times.
  for (const [backend, rows] of Object.entries(figures)) {
    for (const key of ['get', 'set', 'getOrSetMiss', 'invalidateTags']) {
      const small = rows[key]?.[SIZES[0]]
      const large = rows[key]?.[SIZES[2]]
      if (small === undefined || large === undefined) continue
      addTargets(
        report,
        valueTarget(
          `${backend} ${key}: time per call at 1M keys vs 1k keys`,
          large / small,
          '<=',
          3,
          'x',
          `${formatNs(large)} vs ${formatNs(small)}`,
        ),
      )
    }
  }
}
