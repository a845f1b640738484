import { memoryAdapter } from '@cacheport/adapter-memory'
import { Cached, cached, createCache, digestArgs } from '@cacheport/cache-core'
import { Cacheable, getFinalKey } from '@type-cacheable/core'
import { useAdapter } from '@type-cacheable/lru-cache-adapter'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { LRUCache } from 'lru-cache'
import { decoratedValue, digestSample, KEY_COUNT, KEY_MASK, keys, sampleValue } from '../fixtures.js'
import {
  addTargets,
  awaitedLoop,
  type Case,
  expectValue,
  find,
  measure,
  note,
  part,
  ratioTarget,
  type SuiteReport,
  section,
  syncLoop,
  valueTarget,
} from '../harness.js'

/** Operations per timed call: enough to bury the timer's own cost under sub-microsecond reads. */
const BATCH = 1024
/** Budget per contender, split over alternating rounds. */
const TIMING = { time: 1400, rounds: 2 } as const

const names = {
  parityGet: 'cacheport get (memory, parity)',
  refGet: 'cacheport get (memory, byReference)',
  getOrSet: 'cacheport getOrSet hit (memory, parity)',
  lruRaw: 'lru-cache get (raw, sync)',
  lruAwaited: 'lru-cache get (raw, awaited)',
  bentoGet: 'bentocache get (memory driver)',
  bentoGetOrSet: 'bentocache getOrSet hit (memory driver)',
  cmGet: 'cache-manager get (keyv memory)',
  cmWrap: 'cache-manager wrap hit (keyv memory)',
  cachedFn: 'cacheport cached(fn) hit',
  cachedMethod: 'cacheport @Cached method hit',
  tcDecorated: 'type-cacheable @Cacheable hit (lru-cache adapter)',
  digest: 'cacheport digestArgs(args)',
  json: 'JSON.stringify(args)',
  realCached: 'cacheport cached(fn) hit, fresh filter',
  realMethod: 'cacheport @Cached method hit, fresh filter',
  realMemo: 'hand-written async memo (JSON.stringify key), same store',
  builderKey: 'cacheport key builder: fn.key(filter)',
  tcBuilderKey: 'type-cacheable cacheKey builder: getFinalKey',
  builderHit: 'cacheport cached(fn) hit with a key builder',
} as const

/** Faculties the realistic filters pick from; with pages and statuses they make 64 distinct calls. */
const FACULTIES = ['EEMCS', 'TPM', 'AE', '3mE'] as const

/** A filter as a request handler builds it: a fresh object (and array) on every call. */
function freshFilter(i: number): { faculty: string; status: string[]; page: number; search: string } {
  return {
    faculty: FACULTIES[i & 3]!,
    status: (i & 4) === 0 ? ['ToDo', 'InProgress'] : ['Done'],
    page: (i >> 3) & 7,
    search: 'lecture',
  }
}

/** Suite 1: in-process hits, decorated calls and key digests beside raw lru-cache and peer libraries. */
export async function memorySuite(report: SuiteReport): Promise<void> {
  note(
    report,
    `${KEY_COUNT} warm keys per cache, the same ~200-byte value, ${BATCH} sequential operations per sample, ` +
      `${TIMING.rounds} alternating rounds`,
  )
  const closers: Array<() => Promise<unknown>> = []
  try {
    await part(report, 'get hits', () => gets(report, closers))
    await part(report, 'decorated calls', () => decorated(report, closers))
    await part(report, 'key digest', () => digests(report))
    await part(report, 'realistic decorated calls', () => realistic(report, closers))
    await part(report, 'key builder', () => keyBuilders(report, closers))
  } finally {
    for (const close of closers) await close()
  }
}

async function gets(report: SuiteReport, closers: Array<() => Promise<unknown>>): Promise<void> {
  const parity = createCache({
    adapter: memoryAdapter({ maxEntries: 10_000 }),
    keyPrefix: 'bench',
    ttl: '1h',
  })
  const byRef = createCache({
    adapter: memoryAdapter({ maxEntries: 10_000, byReference: true }),
    keyPrefix: 'bench',
    ttl: '1h',
  })
  closers.push(
    () => parity.close(),
    () => byRef.close(),
  )
  for (const key of keys) {
    await parity.set(key, sampleValue)
    await byRef.set(key, sampleValue)
  }

  const lru = new LRUCache<string, typeof sampleValue>({ max: 10_000 })
  for (const key of keys) lru.set(key, sampleValue)

  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  })
  closers.push(() => bento.disconnectAll())
  for (const key of keys) await bento.set({ key, value: sampleValue, ttl: '1h' })

  // cache-manager 7 with no stores argument uses one Keyv over an in-process Map.
  const cacheManager = createCacheManager({ ttl: 3_600_000 })
  closers.push(() => cacheManager.disconnect())
  for (const key of keys) await cacheManager.set(key, sampleValue)

  const loader = async () => sampleValue
  const probe = keys[5]!
  await expectValue(names.parityGet, parity.get(probe), sampleValue)
  await expectValue(names.refGet, byRef.get(probe), sampleValue)
  await expectValue(names.getOrSet, parity.getOrSet(probe, loader), sampleValue)
  await expectValue(names.lruAwaited, lru.get(probe), sampleValue)
  await expectValue(names.bentoGet, bento.get({ key: probe }), sampleValue)
  await expectValue(names.bentoGetOrSet, bento.getOrSet({ key: probe, factory: loader }), sampleValue)
  await expectValue(names.cmGet, cacheManager.get(probe), sampleValue)
  await expectValue(names.cmWrap, cacheManager.wrap(probe, loader), sampleValue)

  const key = (i: number) => keys[i & KEY_MASK]!
  const cases: Case[] = [
    { name: names.parityGet, ops: BATCH, run: awaitedLoop(BATCH, (i) => parity.get(key(i))) },
    { name: names.refGet, ops: BATCH, run: awaitedLoop(BATCH, (i) => byRef.get(key(i))) },
    { name: names.getOrSet, ops: BATCH, run: awaitedLoop(BATCH, (i) => parity.getOrSet(key(i), loader)) },
    { name: names.lruRaw, ops: BATCH, run: syncLoop(BATCH, (i) => lru.get(key(i))) },
    { name: names.lruAwaited, ops: BATCH, run: awaitedLoop(BATCH, (i) => lru.get(key(i))) },
    { name: names.bentoGet, ops: BATCH, run: awaitedLoop(BATCH, (i) => bento.get({ key: key(i) })) },
    {
      name: names.bentoGetOrSet,
      ops: BATCH,
      run: awaitedLoop(BATCH, (i) => bento.getOrSet({ key: key(i), factory: loader })),
    },
    { name: names.cmGet, ops: BATCH, run: awaitedLoop(BATCH, (i) => cacheManager.get(key(i))) },
    { name: names.cmWrap, ops: BATCH, run: awaitedLoop(BATCH, (i) => cacheManager.wrap(key(i), loader)) },
  ]
  const measured = await measure(cases, TIMING)
  section(report, 'get hit — one caller, each read awaited', measured, names.lruAwaited)
  note(
    report,
    'parity mode returns a fresh decoded copy on every hit, as Redis would; byReference returns the stored object',
  )
  // cache-manager's default Keyv memory store hands back the very object it was given, so the
  // like-for-like comparison is with byReference; printed for the reader, not a target.
  const refGet = find(measured, names.refGet)
  const cmGet = find(measured, names.cmGet)
  const cmSharesObject = (await cacheManager.get(probe)) === sampleValue
  if (refGet && cmGet && cmSharesObject) {
    note(
      report,
      `cache-manager (keyv memory) returns the stored object itself, no copy; like for like, byReference get is ` +
        `${(refGet.opsPerSec / cmGet.opsPerSec).toFixed(2)}× cache-manager get`,
    )
  }

  const parityGet = find(measured, names.parityGet)
  addTargets(
    report,
    ratioTarget('memory get hit (parity) vs cache-manager get', parityGet, find(measured, names.cmGet), 1.5),
    ratioTarget('memory get hit (parity) vs bentocache get', parityGet, find(measured, names.bentoGet), 10),
    ratioTarget(
      'memory get hit (byReference) vs awaited raw lru-cache get',
      find(measured, names.refGet),
      find(measured, names.lruAwaited),
      0.5,
    ),
  )
}

async function decorated(report: SuiteReport, closers: Array<() => Promise<unknown>>): Promise<void> {
  const cache = createCache({ adapter: memoryAdapter({ maxEntries: 10_000 }), keyPrefix: 'bench', ttl: '1h' })
  closers.push(() => cache.close())

  const filterCounts = cached(async (_id: number, _filter: unknown) => decoratedValue, {
    cache,
    keyPrefix: 'filter_counts',
    ttl: '1h',
  })

  class ItemQueryService {
    @Cached({ cache, keyPrefix: 'filter_counts_method', ttl: '1h' })
    async filterCounts(_id: number, _filter: unknown): Promise<typeof decoratedValue> {
      return decoratedValue
    }
  }
  const service = new ItemQueryService()

  // type-cacheable's decorator is a legacy (experimentalDecorators) decorator; this project compiles
  // standard decorators, so it is applied by hand exactly as the legacy emit would. The documented
  // set-up makes the adapter the global client; `excludeContext` keeps `this` out of the key, as
  // Cacheport does. The cast bridges lru-cache's ESM and CommonJS declarations of the same class.
  const tcStore = new LRUCache<string, object>({ max: 10_000 }) as unknown as Parameters<typeof useAdapter>[0]
  useAdapter(tcStore, false, { excludeContext: true, ttlSeconds: 3600 })
  class TypeCacheableService {
    async filterCounts(_id: number, _filter: unknown): Promise<typeof decoratedValue> {
      return decoratedValue
    }
  }
  const proto = TypeCacheableService.prototype
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'filterCounts')!
  Object.defineProperty(
    proto,
    'filterCounts',
    Cacheable({ hashKey: 'filter_counts' })(proto, 'filterCounts', descriptor),
  )
  const tcService = new TypeCacheableService()

  const id = digestSample[0] as number
  const filter = digestSample[1]
  for (const [name, call] of [
    [names.cachedFn, () => filterCounts(id, filter)],
    [names.cachedMethod, () => service.filterCounts(id, filter)],
    [names.tcDecorated, () => tcService.filterCounts(id, filter)],
  ] as const) {
    await call() // the miss that fills the cache
    await expectValue(name, call(), decoratedValue)
  }

  const cases: Case[] = [
    { name: names.cachedFn, ops: BATCH, run: awaitedLoop(BATCH, () => filterCounts(id, filter)) },
    { name: names.cachedMethod, ops: BATCH, run: awaitedLoop(BATCH, () => service.filterCounts(id, filter)) },
    {
      name: names.tcDecorated,
      ops: BATCH,
      run: awaitedLoop(BATCH, () => tcService.filterCounts(id, filter)),
    },
  ]
  const measured = await measure(cases, TIMING)
  section(report, 'decorated call hit — same arguments every call', measured, names.tcDecorated)

  const tc = find(measured, names.tcDecorated)
  for (const name of [names.cachedFn, names.cachedMethod]) {
    const m = find(measured, name)
    addTargets(report, ratioTarget(`${name} vs type-cacheable hit`, m, tc, 20))
  }
}

async function digests(report: SuiteReport): Promise<void> {
  const cases: Case[] = [
    { name: names.digest, ops: BATCH, run: syncLoop(BATCH, () => digestArgs(digestSample)) },
    { name: names.json, ops: BATCH, run: syncLoop(BATCH, () => JSON.stringify(digestSample)) },
  ]
  const measured = await measure(cases, TIMING)
  section(report, `key digest of ${JSON.stringify(digestSample)}`, measured, names.json)
  note(report, `digestArgs(args) = ${JSON.stringify(digestArgs(digestSample))}`)

  const digest = find(measured, names.digest)
  addTargets(
    report,
    digest && valueTarget('key digest, absolute', digest.opsPerSec, '>=', 1e6, 'ops/s'),
    ratioTarget('key digest vs JSON.stringify of the same args', digest, find(measured, names.json), 1),
  )
}

/**
 * Decorated calls as an endpoint makes them: the arguments are built afresh for every call, so no
 * digest can be remembered by identity. Beside them, what an application would write by hand over
 * the same store: `JSON.stringify` of the arguments as the key, a read, and on a miss a call and a
 * write. Both sides use a by-reference memory store, so neither pays for copying the value.
 */
async function realistic(report: SuiteReport, closers: Array<() => Promise<unknown>>): Promise<void> {
  const adapter = memoryAdapter({ maxEntries: 10_000, byReference: true })
  const cache = createCache({ adapter, keyPrefix: 'bench', ttl: '1h' })
  closers.push(() => cache.close())
  const compute = async (_id: number, _filter: unknown) => decoratedValue
  const filterCounts = cached(compute, { cache, keyPrefix: 'filter_counts', ttl: '1h' })
  class ItemQueryService {
    @Cached({ cache, keyPrefix: 'filter_counts_method', ttl: '1h' })
    async filterCounts(_id: number, _filter: unknown): Promise<typeof decoratedValue> {
      return decoratedValue
    }
  }
  const service = new ItemQueryService()
  const memo = async (id: number, filter: unknown): Promise<typeof decoratedValue> => {
    const key = `memo:${JSON.stringify([id, filter])}`
    const hit = adapter.get(key) as typeof decoratedValue | undefined
    if (hit !== undefined) return hit
    const value = await compute(id, filter)
    adapter.set(key, value, 3_600_000)
    return value
  }
  for (let i = 0; i < 64; i++) {
    await filterCounts(42, freshFilter(i))
    await service.filterCounts(42, freshFilter(i))
    await memo(42, freshFilter(i))
  }
  for (const [name, call] of [
    [names.realCached, () => filterCounts(42, freshFilter(5))],
    [names.realMethod, () => service.filterCounts(42, freshFilter(5))],
    [names.realMemo, () => memo(42, freshFilter(5))],
  ] as const) {
    await expectValue(name, call(), decoratedValue)
  }
  const hitsBefore = cache.stats().hits
  const cases: Case[] = [
    { name: names.realCached, ops: BATCH, run: awaitedLoop(BATCH, (i) => filterCounts(42, freshFilter(i))) },
    {
      name: names.realMethod,
      ops: BATCH,
      run: awaitedLoop(BATCH, (i) => service.filterCounts(42, freshFilter(i))),
    },
    { name: names.realMemo, ops: BATCH, run: awaitedLoop(BATCH, (i) => memo(42, freshFilter(i))) },
  ]
  const measured = await measure(cases, TIMING)
  const stats = cache.stats()
  if (stats.misses > 128 || stats.hits === hitsBefore) {
    throw new Error(`realistic decorated calls: expected hits only, got ${stats.misses} misses`)
  }
  section(
    report,
    `decorated call hit — fresh arguments per call, e.g. (42, ${JSON.stringify(freshFilter(5))})`,
    measured,
    names.realMemo,
  )
  const memoRow = find(measured, names.realMemo)
  addTargets(
    report,
    ratioTarget(
      'cached(fn), fresh filter vs hand-written memo',
      find(measured, names.realCached),
      memoRow,
      0.75,
    ),
    ratioTarget(
      '@Cached, fresh filter vs hand-written memo',
      find(measured, names.realMethod),
      memoRow,
      0.75,
    ),
  )
}

/**
 * A `key` option that builds the key from the fields the result depends on, beside type-cacheable's
 * `cacheKey` builder: the cost of turning a call into its key, which every hit pays.
 */
async function keyBuilders(report: SuiteReport, closers: Array<() => Promise<unknown>>): Promise<void> {
  const cache = createCache({
    adapter: memoryAdapter({ maxEntries: 10_000, byReference: true }),
    keyPrefix: 'bench',
    ttl: '1h',
  })
  closers.push(() => cache.close())
  type Filter = ReturnType<typeof freshFilter>
  const build = (filter: Filter) => `${filter.faculty}:${filter.page}:${filter.status.join('|')}`
  const filterCounts = cached(async (_filter: Filter) => decoratedValue, {
    cache,
    keyPrefix: 'filter_counts',
    ttl: '1h',
    key: build,
  })
  const tcBuild = (args: unknown[]) => build(args[0] as Filter)
  const expected = `filter_counts:${build(freshFilter(5))}`
  if (
    filterCounts.key(freshFilter(5)) !== expected ||
    getFinalKey(tcBuild, 'filter_counts', 'filterCounts', [freshFilter(5)], undefined) !== expected
  ) {
    throw new Error('key builder: the two libraries do not build the same key')
  }
  for (let i = 0; i < 64; i++) await filterCounts(freshFilter(i))
  const cases: Case[] = [
    { name: names.builderKey, ops: BATCH, run: syncLoop(BATCH, (i) => filterCounts.key(freshFilter(i))) },
    {
      name: names.tcBuilderKey,
      ops: BATCH,
      run: syncLoop(BATCH, (i) =>
        getFinalKey(tcBuild, 'filter_counts', 'filterCounts', [freshFilter(i)], undefined),
      ),
    },
    { name: names.builderHit, ops: BATCH, run: awaitedLoop(BATCH, (i) => filterCounts(freshFilter(i))) },
  ]
  const measured = await measure(cases, TIMING)
  section(
    report,
    'key builder — key: (filter) => faculty:page:statuses, as one string',
    measured,
    names.tcBuilderKey,
  )
  const ours = find(measured, names.builderKey)
  const theirs = find(measured, names.tcBuilderKey)
  addTargets(report, ratioTarget('key builder vs type-cacheable cacheKey builder (speed)', ours, theirs, 1))
}
