import { memoryAdapterFactory } from '@cacheport/adapter-memory'
import { noopAdapterFactory } from '@cacheport/adapter-noop'
import { redisAdapterFactory } from '@cacheport/adapter-redis'
import { type CacheRegistry, createCaches } from '@cacheport/cache-core'
import type { Logger } from 'pino'
import type { AppConfig } from './config.js'

/** The adapters an operator can choose from with `CACHE_BACKEND`. */
export const ADAPTERS = {
  memory: memoryAdapterFactory,
  redis: redisAdapterFactory,
  noop: noopAdapterFactory,
}

/**
 * Builds the app's named caches (`default` and `queries`, the seed's CACHES) and makes them the
 * registry that `@Cached({ cache: 'queries' })` resolves. Hits and misses log at debug level through
 * a child of the app's logger.
 */
export function buildCaches(config: AppConfig, logger: Logger): CacheRegistry {
  return createCaches(config.caches, {
    adapters: ADAPTERS,
    useCache: config.useCache,
    logger: logger.child({ component: 'cache' }),
    makeDefault: true,
  })
}
