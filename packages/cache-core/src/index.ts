/**
 * Cacheport core: caches with stable keys, a safe value codec, decorators, invalidation by key,
 * pattern and tag, stampede protection, fail-open behaviour and stats, on any adapter.
 */
export type {
  AdapterCapabilities,
  AdapterConfig,
  AdapterEntry,
  AdapterFactory,
  AdapterStatus,
  AnyCacheAdapter,
  CacheAdapter,
  MaybePromise,
  MessageHandler,
} from './adapter.js'
export type { CircuitState } from './breaker.js'
export { createCache } from './cache.js'
export { cloneValue, decodeEntry, encodeEntry } from './codec.js'
export {
  Cached,
  type CachedFunction,
  type CachedManyFunction,
  type CachedManyOptions,
  type CachedMethodDecorator,
  type CachedOptions,
  cached,
  cachedMany,
  invalidate,
} from './decorators.js'
export { boundKey, canonicalize, digestArgs, sha256 } from './digest.js'
export { parseDuration, parseOptionalDuration } from './duration.js'
export {
  CacheError,
  type CacheErrorDetails,
  type ErrorCode,
  ErrorCodes,
  isCacheError,
  redact,
} from './errors.js'
export { compileGlob, escapeGlob, type GlobMatcher, globToRegExp, matchGlob } from './glob.js'
export {
  type CacheConfig,
  CacheRegistry,
  type CreateCachesOptions,
  cacheConfigFromEnv,
  createCaches,
  createCachesFromEnv,
  type EnvConfigOptions,
  getDefaultCaches,
  invalidateKey,
  invalidatePattern,
  resolveCache,
  setDefaultCaches,
  useCacheFromEnv,
} from './registry.js'
export { MAX_STATS_PREFIXES, OTHER_PREFIX } from './stats.js'
export type {
  BatchLoader,
  BreakerOptions,
  Cache,
  CacheCounters,
  CacheEventName,
  CacheEvents,
  CacheLogger,
  CacheOptions,
  CacheStats,
  Duration,
  Entry,
  GetOrSetOptions,
  LeaseOptions,
  SetManyEntry,
  SetOptions,
  TagStamp,
} from './types.js'
