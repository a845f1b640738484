import { randomBytes } from 'node:crypto'
import { redisAdapter } from '@cacheport/adapter-redis'
import { type Cache, type CacheOptions, createCache } from '@cacheport/cache-core'
import type { Redis } from 'ioredis'
import { listingRows } from '../fixtures.js'
import {
  type Case,
  expectValue,
  find,
  formatDuration,
  measure,
  note,
  part,
  type SuiteReport,
  section,
} from '../harness.js'
import { withDedicatedRedis } from '../redis-server.js'

/** JSON sizes of the values written: 1 KB, 100 KB and 1 MB. */
const SIZES = [
  { label: '1 KB', bytes: 1_000 },
  { label: '100 KB', bytes: 100_000 },
  { label: '1 MB', bytes: 1_000_000 },
] as const

const KEY = randomBytes(32)

/** The pipelines compared; the threshold is the default (1 KiB) throughout. */
const CONTENDERS: ReadonlyArray<{ name: string; options: Partial<CacheOptions> }> = [
  { name: 'no compression', options: {} },
  { name: 'gzip', options: { compression: 'gzip' } },
  { name: 'deflate', options: { compression: 'deflate' } },
  { name: 'brotli (quality 4)', options: { compression: 'brotli' } },
  {
    name: 'gzip + AES-256-GCM',
    options: { compression: 'gzip', encryption: { keys: [{ id: 'k1', key: KEY }] } },
  },
  { name: 'AES-256-GCM only', options: { encryption: { keys: [{ id: 'k1', key: KEY }] } } },
]

/**
 * Compression and encryption on Redis: for JSON values of 1 KB, 100 KB and 1 MB, the bytes Redis
 * holds for the entry (STRLEN) and the time of one `set` plus one `get`, per pipeline.
 */
export async function compressionSuite(report: SuiteReport): Promise<void> {
  await withDedicatedRedis(report, async (server) => {
    const raw = server.client()
    const caches = CONTENDERS.map((c, i) =>
      createCache({
        adapter: redisAdapter({ url: server.url() }),
        keyPrefix: `z${i}`,
        ttl: '1h',
        ...c.options,
      }),
    )
    const table: Array<Record<string, string | number>> = []
    try {
      for (const size of SIZES) {
        await part(report, `set + get of ${size.label}`, () => bySize(report, raw, caches, size, table))
      }
    } finally {
      for (const cache of caches) await cache.close()
      await raw.quit()
    }
    report.data.compression = table
    console.log('\n  bytes stored and set + get time per pipeline')
    console.log('  | value | pipeline | bytes in Redis | vs uncompressed | set + get |')
    console.log('  | --- | --- | ---: | ---: | ---: |')
    for (const row of table) {
      console.log(`  | ${row.value} | ${row.pipeline} | ${row.bytes} | ${row.ratio} | ${row.time} |`)
    }
  })
}

async function bySize(
  report: SuiteReport,
  raw: Redis,
  caches: Cache[],
  size: (typeof SIZES)[number],
  table: Array<Record<string, string | number>>,
): Promise<void> {
  const value = listingRows(size.bytes)
  note(report, `${size.label} value: ${Buffer.byteLength(JSON.stringify(value))} bytes of JSON`)
  const cases: Case[] = CONTENDERS.map((c, i) => ({
    name: `${c.name} (${size.label})`,
    ops: 1,
    run: async () => {
      await caches[i]!.set('v', value)
      return caches[i]!.get('v')
    },
  }))
  for (const c of cases) await expectValue(c.name, c.run(), value)
  const stored: number[] = []
  for (const cache of caches) stored.push(await raw.strlen(cache.fullKey('v')))
  const large = size.bytes >= 1_000_000
  const measured = await measure(cases, large ? { time: 3000, rounds: 3 } : { time: 1500, rounds: 3 })
  section(report, `set + get of a ${size.label} JSON value on Redis`, measured, cases[0]!.name)
  CONTENDERS.forEach((c, i) => {
    table.push({
      value: size.label,
      pipeline: c.name,
      bytes: stored[i]!,
      ratio: `${((100 * stored[i]!) / stored[0]!).toFixed(1)} %`,
      time: formatDuration(find(measured, cases[i]!.name)!.nsPerOp),
    })
  })
}
