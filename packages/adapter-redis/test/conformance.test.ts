import { runAdapterTestSuite } from '@cacheport/adapter-test-suite'
import { Redis } from 'ioredis'
import { afterAll } from 'vitest'
import { redisAdapter } from '../src/index.js'
import { freePort } from './helpers/redis-server.js'

// Database 9 of the shared server; the suite keys every test under a random prefix and clears it.
const url = process.env.CACHEPORT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9'
const deadPort = await freePort()
// Another program on the same database, writing a key of another Redis type under the cache's prefix.
const neighbour = new Redis(url, { lazyConnect: true })
afterAll(() => neighbour.quit())

runAdapterTestSuite({
  name: 'redis (db 9)',
  factory: () => redisAdapter({ url }),
  unreachable: () => redisAdapter({ url: `redis://127.0.0.1:${deadPort}/0`, connectTimeout: '200ms' }),
  unreachableTimeoutMs: 1500,
  plantForeignValue: async (fullKey) => {
    await neighbour.rpush(fullKey, 'a')
  },
})
