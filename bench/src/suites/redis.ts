import { isDeepStrictEqual } from 'node:util'
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { KEY_COUNT, KEY_MASK, keys, largeValue, sampleValue } from '../fixtures.js'
import {
  addTargets,
  awaitedLoop,
  type Case,
  expectValue,
  find,
  formatDuration,
  inFlight,
  type Measurement,
  measure,
  note,
  ratioTarget,
  type SuiteReport,
  section,
  valueTarget,
} from '../harness.js'
import { type DedicatedRedis, startRedisServer } from '../redis-server.js'

/** Sequential reads per timed call: a few milliseconds of round trips per sample. */
const SEQUENTIAL = 200
/** Reads started together in the "in flight" comparison. */
const IN_FLIGHT = 1000
/** Concurrent callers of the stampede. */
const STAMPEDE = 1000
/** Keys matching the deleted pattern, and keys that must survive it. */
const PATTERN_KEYS = 100_000
/** Timed rounds of each pattern-delete contender; the median is reported. */
const PATTERN_ROUNDS = 3

const names = {
  rawOff: 'ioredis GET + JSON.parse (auto-pipelining off)',
  rawOn: 'ioredis GET + JSON.parse (auto-pipelining on)',
  bento: 'bentocache get (redis driver, L2 only)',
  cacheManager: 'cache-manager get (@keyv/redis)',
} as const

/** Contenders of the get-hit comparisons: each reads key `i` of its own warmed namespace. */
interface Reader {
  readonly name: string
  readonly get: (key: string) => Promise<unknown>
}

/**
 * Suite 2: a dedicated redis-server (never the shared one) serves Cacheport's Redis adapter, raw
 * ioredis and the peer libraries in turn.
 */
export async function redisSuite(report: SuiteReport): Promise<void> {
  const server = await startRedisServer()
  note(report, `dedicated redis-server on 127.0.0.1:${server.port} (pid ${server.pid}), persistence off`)
  const closers: Array<() => Promise<unknown>> = []
  try {
    await runAll(report, server, closers)
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
    await server.stop()
  }
}

async function runAll(report: SuiteReport, server: DedicatedRedis, closers: Array<() => Promise<unknown>>) {
  const rawOff = new Redis({ port: server.port, host: '127.0.0.1', enableAutoPipelining: false })
  const rawOn = new Redis({ port: server.port, host: '127.0.0.1', enableAutoPipelining: true })
  closers.push(
    () => rawOff.quit(),
    () => rawOn.quit(),
  )

  const bentoConnection = new Redis({ port: server.port, host: '127.0.0.1' })
  const bento = new BentoCache({
    default: 'redis',
    stores: { redis: bentostore().useL2Layer(redisDriver({ connection: bentoConnection })) },
  })
  closers.push(
    () => bento.disconnectAll(),
    () => bentoConnection.quit(),
  )

  const keyv = new Keyv({ store: new KeyvRedis(server.url()), namespace: 'cm' })
  const cacheManager = createCacheManager({ stores: [keyv], ttl: 3_600_000 })
  closers.push(() => cacheManager.disconnect())

  const json = JSON.stringify(sampleValue)
  const pipeline = rawOff.pipeline()
  for (const key of keys) pipeline.set(`raw:${key}`, json, 'PX', 3_600_000)
  await pipeline.exec()
  for (const key of keys) {
    await bento.set({ key, value: sampleValue, ttl: '1h' })
    await cacheManager.set(key, sampleValue)
  }

  const readers: Reader[] = [
    { name: names.rawOff, get: async (key) => JSON.parse((await rawOff.get(`raw:${key}`))!) },
    { name: names.rawOn, get: async (key) => JSON.parse((await rawOn.get(`raw:${key}`))!) },
    { name: names.bento, get: (key) => bento.get({ key }) },
    { name: names.cacheManager, get: (key) => cacheManager.get(key) },
  ]
  for (const reader of readers) await expectValue(reader.name, reader.get(keys[7]!), sampleValue)

  note(report, `${KEY_COUNT} warm keys per contender, the same ~200-byte value; raw clients store it as JSON`)
  const sequential = await measure(
    readers.map((r) => ({
      name: r.name,
      ops: SEQUENTIAL,
      run: awaitedLoop(SEQUENTIAL, (i) => r.get(keys[i & KEY_MASK]!)),
    })),
    { time: 1500 },
  )
  section(report, 'get hit — one at a time (each read awaited)', sequential, names.rawOff)

  const parallel = await measure(
    readers.map((r) => ({
      name: r.name,
      ops: IN_FLIGHT,
      run: inFlight(IN_FLIGHT, (i) => r.get(keys[i & KEY_MASK]!)),
    })),
    { time: 1500 },
  )
  section(report, `get hit — ${IN_FLIGHT} in flight`, parallel, names.rawOn)

  await stampede(report, rawOff, { bento, cacheManager, rawOn })
  await patternDelete(report, server)
  await largeValues(report, rawOff)
}

/** Loader runs and Redis commands when {@link STAMPEDE} callers miss the same cold key at once. */
async function stampede(
  report: SuiteReport,
  admin: Redis,
  peers: { bento: BentoCache<any>; cacheManager: ReturnType<typeof createCacheManager>; rawOn: Redis },
): Promise<void> {
  const contenders: Array<{
    name: string
    call: (key: string, loader: () => Promise<unknown>) => Promise<unknown>
  }> = [
    {
      name: 'ioredis GET, on a miss load + SET (no coalescing)',
      call: async (key, loader) => {
        const hit = await peers.rawOn.get(key)
        if (hit !== null) return JSON.parse(hit)
        const value = await loader()
        await peers.rawOn.set(key, JSON.stringify(value), 'PX', 3_600_000)
        return value
      },
    },
    {
      name: 'bentocache getOrSet (redis driver, L2 only)',
      call: (key, loader) => peers.bento.getOrSet({ key, factory: loader, ttl: '1h' }),
    },
    { name: 'cache-manager wrap (@keyv/redis)', call: (key, loader) => peers.cacheManager.wrap(key, loader) },
  ]

  console.log(`\n  stampede — ${STAMPEDE} concurrent getOrSet on one cold key, loader takes 20 ms`)
  console.log(
    `  ${'contender'.padEnd(52)}${'loader runs'.padStart(12)}${'commands'.padStart(10)}  by command`,
  )
  const rows: Array<{
    name: string
    loaderRuns: number
    commands: number
    byCommand: Record<string, number>
  }> = []
  for (const contender of contenders) {
    const key = `stampede:${contender.name.split(' ')[0]}:${Date.now()}`
    let runs = 0
    const loader = async () => {
      runs++
      await new Promise((resolve) => setTimeout(resolve, 20))
      return sampleValue
    }
    const { total, byCommand } = await commandsDuring(admin, async () => {
      const results = await Promise.all(Array.from({ length: STAMPEDE }, () => contender.call(key, loader)))
      if (!results.every((r) => isDeepStrictEqual(r, sampleValue))) {
        throw new Error(`${contender.name}: some stampede callers did not get the loader's value`)
      }
    })
    rows.push({ name: contender.name, loaderRuns: runs, commands: total, byCommand })
    const breakdown = Object.entries(byCommand)
      .map(([command, calls]) => `${command}×${calls}`)
      .join(' ')
    console.log(
      `  ${contender.name.padEnd(52)}${String(runs).padStart(12)}${String(total).padStart(10)}  ${breakdown}`,
    )
  }
  report.data.stampede = rows
}

/**
 * Runs `action` between a reset of the server's command statistics and a read of them, and counts
 * the commands it caused. Only valid on a server nothing else talks to (the dedicated one).
 */
async function commandsDuring(
  admin: Redis,
  action: () => Promise<void>,
): Promise<{ total: number; byCommand: Record<string, number> }> {
  await admin.call('CONFIG', 'RESETSTAT')
  await action()
  const info = String(await admin.call('INFO', 'commandstats'))
  const byCommand: Record<string, number> = {}
  let total = 0
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (!match) continue
    const command = match[1]!
    // The measurement's own CONFIG RESETSTAT and INFO are not the contender's.
    if (command === 'info' || command.startsWith('config')) continue
    const calls = Number(match[2])
    byCommand[command] = calls
    total += calls
  }
  return { total, byCommand }
}

/** Writes {@link PATTERN_KEYS} matching keys and as many foreign ones, all in database `db`. */
async function fillPatternKeys(client: Redis): Promise<void> {
  await client.flushdb()
  const value = 'x'.repeat(200)
  const groups: Array<[prefix: string, count: number]> = [
    ['pd:1:filter_counts:', PATTERN_KEYS],
    // Foreign keys a sloppy pattern would catch: another key prefix of the same cache, another
    // version of the same prefix, and a cache whose prefix starts the same way.
    ['pd:1:faculties:', PATTERN_KEYS / 2],
    ['pd:2:filter_counts:', PATTERN_KEYS / 4],
    ['pd_other:1:filter_counts:', PATTERN_KEYS / 4],
  ]
  for (const [prefix, count] of groups) {
    const pipeline = client.pipeline()
    for (let start = 0; start < count; start += 1000) {
      const args: string[] = []
      for (let i = start; i < Math.min(count, start + 1000); i++) args.push(`${prefix}${i}`, value)
      pipeline.mset(...args)
    }
    await pipeline.exec()
  }
}

/** The baseline every adapter is measured against: one SCAN page, then one UNLINK of it, in turn. */
async function scanUnlinkLoop(client: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let removed = 0
  do {
    const [next, page] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (page.length > 0) removed += await client.unlink(...page)
  } while (cursor !== '0')
  return removed
}

/** Counts keys matching `pattern` without KEYS. */
async function countKeys(client: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const [next, page] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 5000)
    cursor = next
    count += page.length
  } while (cursor !== '0')
  return count
}

/** Pattern delete among foreign keys: time of each contender and proof that nothing foreign went. */
async function patternDelete(report: SuiteReport, server: DedicatedRedis): Promise<void> {
  const db = 1
  const client = new Redis({ port: server.port, host: '127.0.0.1', db })
  try {
    const contenders: Array<{ name: string; run: () => Promise<number> }> = [
      {
        name: 'ioredis SCAN COUNT 1000 + UNLINK per page',
        run: () => scanUnlinkLoop(client, 'pd:1:filter_counts:*'),
      },
    ]
    const timings = new Map<string, number[]>()
    for (let round = 0; round < PATTERN_ROUNDS; round++) {
      for (const contender of contenders) {
        await fillPatternKeys(client)
        const started = performance.now()
        const removed = await contender.run()
        const elapsed = performance.now() - started
        const left = await countKeys(client, 'pd:1:filter_counts:*')
        const foreign = await client.dbsize()
        if (removed !== PATTERN_KEYS || left !== 0 || foreign !== PATTERN_KEYS) {
          throw new Error(
            `${contender.name}: removed ${removed}, ${left} matching keys left, ${PATTERN_KEYS * 2 - PATTERN_KEYS - foreign} foreign keys deleted`,
          )
        }
        timings.set(contender.name, [...(timings.get(contender.name) ?? []), elapsed])
      }
    }
    console.log(
      `\n  pattern delete — ${PATTERN_KEYS.toLocaleString('en')} matching keys among as many others`,
    )
    const medians = new Map<string, number>()
    for (const [name, times] of timings) {
      const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!
      medians.set(name, median)
      console.log(
        `  ${name.padEnd(52)}${formatDuration(median * 1e6).padStart(10)}  median of ${times.map((t) => t.toFixed(0)).join(', ')} ms; 0 foreign keys deleted`,
      )
    }
    report.data.patternDelete = Object.fromEntries(medians)
  } finally {
    await client.quit()
  }
}

/** A ~1 MB value written and read back, against the same round trip done by hand. */
async function largeValues(report: SuiteReport, raw: Redis): Promise<void> {
  const big = largeValue()
  const json = JSON.stringify(big)
  note(report, `large value: ${(Buffer.byteLength(json) / 2 ** 20).toFixed(2)} MiB as JSON`)
  const cases: Case[] = [
    {
      name: 'ioredis SET + GET, JSON (1 MB)',
      ops: 1,
      run: async () => {
        await raw.set('big:raw', JSON.stringify(big), 'PX', 3_600_000)
        return JSON.parse((await raw.get('big:raw'))!)
      },
    },
  ]
  for (const c of cases) await expectValue(c.name, c.run(), big)
  const measured: Measurement[] = await measure(cases, { time: 2000 })
  section(report, 'set + get of a 1 MB value', measured, cases[0]!.name)
  addTargets(
    report,
    ratioTarget('placeholder', find(measured, cases[0]!.name), find(measured, cases[0]!.name), 0.9),
  )
  addTargets(report, valueTarget('placeholder', 0, '<=', 1, 'runs'))
}
