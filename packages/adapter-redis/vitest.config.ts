import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The soak loads the machine for its whole run, and the failover tests time their calls: each
    // runs on its own (vitest.soak.config.ts, vitest.failover.config.ts).
    exclude: ['test/soak.test.ts', 'test/cluster-failover.test.ts'],
    // Real servers and a real cluster start in hooks; each test bounds its own waits well below these.
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
})
