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
  StoreMemory,
} from './adapter.js'
export type { CircuitState } from './breaker.js'
export { createCache } from './cache.js'
export { type CodecOptions, cloneValue, decodeEntry, encodeEntry } from './codec.js'
export type {
  BuiltinCompression,
  CompressionOptions,
  Compressor,
  ResolvedCompression,
} from './compression.js'
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
export type { EncryptionKey, EncryptionOptions, Keyring } from './encryption.js'
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
  type BatchLoaderContext,
  batchLoaderContext,
  type LoaderContext,
  loaderContext,
} from './load-context.js'
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
export type { InvalidateOptions } from './soft.js'
export { MAX_STATS_PREFIXES, OTHER_PREFIX } from './stats.js'
export type {
  BatchLoader,
  BreakerOptions,
  Cache,
  CacheCounters,
  CacheEventName,
  CacheEvents,
  CacheLogger,
  CacheOperation,
  CacheOptions,
  CacheStats,
  Duration,
  Entry,
  GetOrSetOptions,
  LeaseOptions,
  LoadEvent,
  OperationEvent,
  ReadOutcome,
  SetManyEntry,
  SetOptions,
  TagStamp,
} from './types.js'
