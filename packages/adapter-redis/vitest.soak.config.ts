import { defineConfig } from 'vitest/config'

// The soak on its own, after the other tests, so that neither slows the other down. It runs on the
// default ioredis major: it is about the library over time, not about ioredis.
export default defineConfig({
  test: {
    include: ['test/soak.test.ts'],
    hookTimeout: 30_000,
  },
})
