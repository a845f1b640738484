import { describe, expect, it } from 'vitest'
import { createCache } from '../src/cache.js'
import { cached, cachedMany } from '../src/decorators.js'
import { createCaches } from '../src/registry.js'
import { MAX_STATS_PREFIXES, OTHER_PREFIX } from '../src/stats.js'
import { MapAdapter } from './helpers/adapters.js'

describe('stats per declared prefix', () => {
  it('counts a key under the longest declared prefix it starts with, and every other key under (other)', async () => {
    const cache = createCache({
      adapter: new MapAdapter(),
      keyPrefix: 's',
      statsPrefixes: ['user', 'user:profile', 'report'],
    })
    await cache.get('user:1')
    await cache.get('user:profile:1')
    await cache.get('user:profile')
    await cache.get('users:1')
    await cache.get('report')
    await cache.get('reporting:1')
    await cache.get('k1')
    const { byPrefix, misses } = cache.stats()
    expect(Object.keys(byPrefix).sort()).toEqual([OTHER_PREFIX, 'report', 'user', 'user:profile'])
    expect(byPrefix.user!.misses).toBe(1)
    expect(byPrefix['user:profile']!.misses).toBe(2)
    expect(byPrefix.report!.misses).toBe(1)
    expect(byPrefix[OTHER_PREFIX]!.misses).toBe(3)
    expect(misses).toBe(7)
  })

  it("counts a decorated function's keys under its keyPrefix", async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'd' })
    const double = cached(async (n: number) => n * 2, { cache, keyPrefix: 'double' })
    await double(1)
    await double(1)
    await cache.set('double:by-hand', 1)
    expect(cache.stats().byPrefix.double).toMatchObject({ misses: 1, hits: 1, loads: 1, sets: 2 })
  })

  it("counts a batch function's keys under its keyPrefix", async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'm' })
    const squares = cachedMany(async (ns: number[]) => ns.map((n) => n * n), { cache, keyPrefix: 'square' })
    await squares([1, 2])
    await squares([2, 3])
    expect(cache.stats().byPrefix.square).toMatchObject({ misses: 3, hits: 1, sets: 3 })
  })

  it('counts a key seen before its prefix was declared under that prefix from then on', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'late' })
    await cache.get('user:1')
    cache.declareStatsPrefix('user')
    await cache.get('user:1')
    const { byPrefix } = cache.stats()
    expect(byPrefix.user!.misses).toBe(1)
    expect(byPrefix[OTHER_PREFIX]!.misses).toBe(1)
  })

  it('takes statsPrefixes from a registry entry', async () => {
    const registry = createCaches(
      { queries: { adapter: 'map', keyPrefix: 'q', statsPrefixes: ['filter_counts'] } },
      { adapters: { map: () => new MapAdapter() }, makeDefault: false },
    )
    await registry.get('queries').get('filter_counts:all')
    expect(registry.get('queries').stats().byPrefix.filter_counts).toMatchObject({ misses: 1 })
    await registry.closeAll()
  })

  it('counts pattern deletes under the prefix the pattern starts with', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'p', statsPrefixes: ['user'] })
    await cache.setMany([
      { key: 'user:1', value: 1 },
      { key: 'user:2', value: 2 },
    ])
    await cache.deletePattern('user:*')
    expect(cache.stats().byPrefix.user).toMatchObject({ sets: 2, deletes: 2 })
  })

  it(`counts at most ${MAX_STATS_PREFIXES} prefixes apart; keys of later ones count under (other)`, async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'b' })
    for (let i = 0; i < MAX_STATS_PREFIXES + 10; i++) cache.declareStatsPrefix(`p${i}`)
    await cache.get(`p${MAX_STATS_PREFIXES + 5}:1`)
    const { byPrefix } = cache.stats()
    expect(Object.keys(byPrefix)).toHaveLength(MAX_STATS_PREFIXES + 1)
    expect(byPrefix[OTHER_PREFIX]!.misses).toBe(1)
  })

  it('keeps a prefix named __proto__ as a bucket of its own', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'x', statsPrefixes: ['__proto__'] })
    await cache.get('__proto__:1')
    const { byPrefix } = cache.stats()
    expect(Object.getPrototypeOf(byPrefix)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(byPrefix, '__proto__')?.value).toMatchObject({ misses: 1 })
  })

  it('rejects a statsPrefixes option that is not a short list of prefixes, naming what is wrong', () => {
    const adapter = new MapAdapter()
    const build = (statsPrefixes: unknown) => () =>
      createCache({ adapter, keyPrefix: 'v', statsPrefixes: statsPrefixes as string[] })
    expect(build('user')).toThrow(/option "statsPrefixes" must be an array of key prefixes, got string/)
    expect(build(['user', ''])).toThrow(
      /must list non-empty strings of well-formed Unicode, got "" at index 1/,
    )
    expect(build(['a\uD800'])).toThrow(/well-formed Unicode, got "a\\ud800" at index 0/)
    expect(build([OTHER_PREFIX])).toThrow(/must not list "\(other\)"/)
    expect(build(Array.from({ length: MAX_STATS_PREFIXES + 1 }, (_, i) => `p${i}`))).toThrow(
      expect.objectContaining({ code: 'E_INVALID_CONFIG', field: 'statsPrefixes' }),
    )
  })
})
