import { Cacheable } from '@type-cacheable/core'
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
  ratioTarget,
  type SuiteReport,
  section,
  syncLoop,
  valueTarget,
} from '../harness.js'

/** Operations per timed call: enough to bury the timer's own cost under sub-microsecond reads. */
const BATCH = 1024

const names = {
  lruRaw: 'lru-cache get (raw, sync)',
  lruAwaited: 'lru-cache get (raw, awaited)',
  bentoGet: 'bentocache get (memory driver)',
  bentoGetOrSet: 'bentocache getOrSet hit (memory driver)',
  cmGet: 'cache-manager get (keyv memory)',
  cmWrap: 'cache-manager wrap hit (keyv memory)',
  tcDecorated: 'type-cacheable @Cacheable hit (lru-cache adapter)',
  json: 'JSON.stringify(args)',
} as const

/** Suite 1: in-process hits, decorated calls and key digests beside raw lru-cache and peer libraries. */
export async function memorySuite(report: SuiteReport): Promise<void> {
  note(
    report,
    `${KEY_COUNT} warm keys per cache, the same ~200-byte value, ${BATCH} sequential operations per sample`,
  )

  const lru = new LRUCache<string, typeof sampleValue>({ max: 10_000 })
  for (const key of keys) lru.set(key, sampleValue)

  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  })
  for (const key of keys) await bento.set({ key, value: sampleValue, ttl: '1h' })

  // cache-manager 7 with no stores argument uses one Keyv over an in-process Map.
  const cacheManager = createCacheManager({ ttl: 3_600_000 })
  for (const key of keys) await cacheManager.set(key, sampleValue)

  const loader = async () => sampleValue
  await expectValue(names.lruAwaited, lru.get(keys[0]!), sampleValue)
  await expectValue(names.bentoGet, bento.get({ key: keys[0]! }), sampleValue)
  await expectValue(names.bentoGetOrSet, bento.getOrSet({ key: keys[0]!, factory: loader }), sampleValue)
  await expectValue(names.cmGet, cacheManager.get(keys[0]!), sampleValue)
  await expectValue(names.cmWrap, cacheManager.wrap(keys[0]!, loader), sampleValue)

  const getCases: Case[] = [
    { name: names.lruRaw, ops: BATCH, run: syncLoop(BATCH, (i) => lru.get(keys[i & KEY_MASK]!)) },
    { name: names.lruAwaited, ops: BATCH, run: awaitedLoop(BATCH, (i) => lru.get(keys[i & KEY_MASK]!)) },
    {
      name: names.bentoGet,
      ops: BATCH,
      run: awaitedLoop(BATCH, (i) => bento.get({ key: keys[i & KEY_MASK]! })),
    },
    {
      name: names.bentoGetOrSet,
      ops: BATCH,
      run: awaitedLoop(BATCH, (i) => bento.getOrSet({ key: keys[i & KEY_MASK]!, factory: loader })),
    },
    { name: names.cmGet, ops: BATCH, run: awaitedLoop(BATCH, (i) => cacheManager.get(keys[i & KEY_MASK]!)) },
    {
      name: names.cmWrap,
      ops: BATCH,
      run: awaitedLoop(BATCH, (i) => cacheManager.wrap(keys[i & KEY_MASK]!, loader)),
    },
  ]
  const gets = await measure(getCases)
  section(report, 'get hit — one caller, each read awaited', gets, names.lruAwaited)

  // type-cacheable's decorator is a legacy (experimentalDecorators) decorator; this project compiles
  // standard decorators, so it is applied by hand exactly as the legacy emit would.
  // The documented set-up: the adapter becomes the global client. `excludeContext` keeps `this` out
  // of the key, as Cacheport does.
  // The cast bridges lru-cache's ESM and CommonJS type declarations of the same class.
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
  const [id, filter] = digestSample
  await tcService.filterCounts(id as number, filter)
  await expectValue(names.tcDecorated, tcService.filterCounts(id as number, filter), decoratedValue)

  const decoratedCases: Case[] = [
    {
      name: names.tcDecorated,
      ops: BATCH,
      run: awaitedLoop(BATCH, () => tcService.filterCounts(id as number, filter)),
    },
  ]
  const decorated = await measure(decoratedCases)
  section(report, 'decorated call hit — same arguments every call', decorated, names.tcDecorated)

  const digestCases: Case[] = [
    { name: names.json, ops: BATCH, run: syncLoop(BATCH, () => JSON.stringify(digestSample)) },
  ]
  const digests = await measure(digestCases)
  section(report, `key digest of ${JSON.stringify(digestSample)}`, digests, names.json)

  await bento.disconnectAll()
  await cacheManager.disconnect()
}
