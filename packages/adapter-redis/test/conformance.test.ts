import { runAdapterTestSuite } from '@cacheport/adapter-test-suite'
import { redisAdapter } from '../src/index.js'
import { freePort } from './helpers/redis-server.js'

// Database 9 of the shared server; the suite keys every test under a random prefix and clears it.
const url = process.env.CACHEPORT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9'
const deadPort = await freePort()

runAdapterTestSuite({
  name: 'redis (db 9)',
  factory: () => redisAdapter({ url }),
  unreachable: () => redisAdapter({ url: `redis://127.0.0.1:${deadPort}/0`, connectTimeout: '200ms' }),
  unreachableTimeoutMs: 1500,
})
