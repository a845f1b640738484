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
export { CacheImpl, createCache } from './cache.js'
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
export { type DurationSource, parseDuration, parseOptionalDuration } from './duration.js'
export {
  CacheError,
  type CacheErrorDetails,
  type ErrorCode,
  ErrorCodes,
  isCacheError,
  redact,
} from './errors.js'
export { escapeGlob, globToRegExp } from './glob.js'
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
