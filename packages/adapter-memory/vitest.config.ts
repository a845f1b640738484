import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The stats memory test measures the heap after a full collection, which needs gc().
    execArgv: ['--expose-gc'],
  },
})
