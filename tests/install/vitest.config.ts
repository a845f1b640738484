import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One npm install and a handful of compilers and bundles: minutes, not the default seconds.
    hookTimeout: 240_000,
    testTimeout: 120_000,
  },
})
