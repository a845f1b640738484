/**
 * The Redis adapter of Cacheport: ioredis on a single node, Sentinel or Cluster, with TLS and ACL
 * users, failing fast so the cache fails open.
 */
export { defaultRetryStrategy } from './connection.js'
export { keySlot } from './key-slot.js'
export { RedisAdapter, redisAdapter, redisAdapterFactory } from './redis-adapter.js'
export { MEMORY_SAMPLE_INTERVAL_MS, parseServerMemory } from './server-memory.js'
export type {
  OtherIoredisClient,
  RedisAdapterConfigOptions,
  RedisAdapterOptions,
  RedisClient,
  SentinelAddress,
} from './types.js'
