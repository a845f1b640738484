import { createCache } from '@cacheport/cache-core'
import { expect, it } from 'vitest'
import { memoryAdapter } from '../src/index.js'

const gc = (globalThis as { gc?: () => void }).gc

function heapAfterGc(): number {
  if (gc === undefined)
    throw new Error('run with node --expose-gc (this package sets it in vitest.config.ts)')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const MB = 1024 * 1024
// 1M keys: on a quiet machine a few seconds. `pnpm bench -- growth` runs the same over 10M.
const KEYS = 1_000_000

it('keeps its heap flat over 1M distinct keys on a cache bounded to 1,000 entries, stats included', async () => {
  const cache = createCache({
    adapter: memoryAdapter({ maxEntries: 1000 }),
    keyPrefix: 'growth',
    statsPrefixes: ['user'],
  })
  // Half the keys under a declared prefix, half under none, as user-supplied keys would be.
  const keyOf = (i: number) => (i % 2 === 0 ? `user:${i}` : `k${i}`)
  // Warm up first: the store fills to its bound and the key memo to its size.
  for (let i = 0; i < 50_000; i++) await cache.set(keyOf(i), i)
  const before = heapAfterGc()
  for (let i = 50_000; i < KEYS; i++) await cache.set(keyOf(i), i)
  const grown = heapAfterGc() - before

  // Counted per prefix before, every key had a bucket of its own: about 150 MB for 1M keys.
  expect(grown / MB, 'heap growth after GC, in MB').toBeLessThan(8)
  const { byPrefix, sets } = cache.stats()
  expect(Object.keys(byPrefix)).toEqual(['user', '(other)'])
  expect(byPrefix.user!.sets).toBe(KEYS / 2)
  expect(sets).toBe(KEYS)
}, 180_000)
