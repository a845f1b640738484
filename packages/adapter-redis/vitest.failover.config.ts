import { defineConfig } from 'vitest/config'

// The cluster failover tests on their own, after the other tests: they measure how long each call
// takes and how often it hits while 200 callers run, which other test files running beside them on a
// two-core machine would distort. `CACHEPORT_IOREDIS=5` runs them with ioredis 5, as
// vitest.ioredis5.config.ts does the others.
const ioredis5 = process.env.CACHEPORT_IOREDIS === '5'

export default defineConfig({
  resolve: ioredis5 ? { alias: [{ find: /^ioredis$/, replacement: 'ioredis5' }] } : {},
  test: {
    include: ['test/cluster-failover.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
