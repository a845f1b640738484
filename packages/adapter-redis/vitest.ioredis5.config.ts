import { defineConfig, mergeConfig } from 'vitest/config'
import base from './vitest.config.js'

// The same tests with `ioredis` resolved to ioredis 5 (the `ioredis5` dev dependency), since the
// adapter supports both majors as a peer dependency. Processes the tests spawn follow the same
// switch (see test/helpers/ioredis-major.ts).
export default mergeConfig(
  base,
  defineConfig({
    resolve: { alias: [{ find: /^ioredis$/, replacement: 'ioredis5' }] },
    test: { env: { CACHEPORT_IOREDIS: '5' } },
  }),
)
