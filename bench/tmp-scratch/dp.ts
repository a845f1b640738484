import { memoryAdapter } from '@cacheport/adapter-memory'
import { createCache } from '@cacheport/cache-core'
const cache = createCache({ adapter: memoryAdapter({ maxEntries: 2_000_000, maxBytes: 2 ** 31 }), keyPrefix: 'g', ttl: '1h' })
for (let i = 0; i < 1000; i++) await cache.set(`k:${i}`, { i })
for (let r = 0; r < 5; r++) {
  await cache.setMany(Array.from({ length: 1000 }, (_, j) => ({ key: `pat:${j}`, value: { j } })))
  let t = performance.now()
  const n = await cache.deletePattern('pat:*')
  console.log('deletePattern', n, (performance.now() - t).toFixed(2), 'ms')
  await cache.setMany(Array.from({ length: 1000 }, (_, j) => ({ key: `pat:${j}`, value: { j } })))
  t = performance.now()
  const m = (cache.adapter as any).deleteByPattern('g:1:pat:*')
  console.log('adapter.deleteByPattern', m, (performance.now() - t).toFixed(2), 'ms')
}
