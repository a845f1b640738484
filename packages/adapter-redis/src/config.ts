/**
 * Registry entries for the Redis adapter: their options checked one by one, so a mistake names the
 * cache and the option instead of surfacing as an ioredis error later.
 */
import { type AdapterConfig, CacheError, ErrorCodes, redact } from '@cacheport/cache-core'
import type { RedisAdapterConfigOptions, RedisAdapterOptions } from './types.js'

type Check = (value: unknown) => boolean

const isDuration: Check = (v) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string'
const isCount: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0
const isString: Check = (v) => typeof v === 'string'
const isBoolean: Check = (v) => typeof v === 'boolean'
const isObject: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
const isArray: Check = (v) => Array.isArray(v)

// What each option must be, in the words of the error message.
const FIELDS: Record<keyof RedisAdapterConfigOptions, [Check, string]> = {
  host: [isString, 'a host name'],
  port: [isCount, 'a port number'],
  username: [isString, 'a string'],
  password: [isString, 'a string'],
  db: [isCount, 'a database number'],
  tls: [(v) => isBoolean(v) || isObject(v), 'true, false or TLS options'],
  sentinels: [isArray, 'an array of { host, port }'],
  name: [isString, 'the Sentinel master group name'],
  sentinelPassword: [isString, 'a string'],
  cluster: [isArray, 'an array of nodes like "10.0.0.1:7000"'],
  connectTimeout: [isDuration, 'a duration like "5s" or a number of milliseconds'],
  commandTimeout: [isDuration, 'a duration like "1s" or a number of milliseconds'],
  socketTimeout: [isDuration, 'a duration like "5s" or a number of milliseconds'],
  maxRetriesPerRequest: [isCount, 'a whole number'],
  retryStrategy: [(v) => typeof v === 'function', 'a function'],
  coalesceGets: [isBoolean, 'true or false'],
  autoPipelining: [isBoolean, 'true or false'],
  scanCount: [isCount, 'a positive whole number'],
  batchSize: [isCount, 'a positive whole number'],
  connectionName: [isString, 'a string'],
  redisOptions: [isObject, 'an object of ioredis options'],
  clusterOptions: [isObject, 'an object of ioredis Cluster options'],
}

// django-redis spellings people bring from settings.py, with where they went.
const DJANGO_NAMES: Record<string, string> = {
  SOCKET_CONNECT_TIMEOUT: 'use "connectTimeout" (a duration: 5 seconds is "5s")',
  SOCKET_TIMEOUT: 'use "commandTimeout" (a duration: 5 seconds is "5s")',
  CONNECTION_POOL_KWARGS:
    'ioredis multiplexes one connection, so there is no pool to size; concurrent reads are batched ("coalesceGets", "autoPipelining")',
  max_connections:
    'ioredis multiplexes one connection, so there is no pool to size; concurrent reads are batched ("coalesceGets", "autoPipelining")',
  CLIENT_CLASS: 'not needed: the adapter is the client',
  PARSER_CLASS: 'not needed: ioredis has its own reply parser',
}

function invalid(cache: string, field: string, message: string): CacheError {
  return new CacheError(ErrorCodes.INVALID_CONFIG, `cache "${cache}": ${message}`, { cache, field })
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(redact(value))
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}

/**
 * The adapter options of a registry entry: `location` is the Redis URL, `options` are
 * {@link RedisAdapterConfigOptions}. Unknown or mistyped options are rejected with
 * `E_INVALID_CONFIG` naming the cache and the option (django-redis names get a pointer to theirs).
 */
export function adapterOptionsOf(config: AdapterConfig): RedisAdapterOptions {
  const { cache, location, options } = config
  for (const [field, value] of Object.entries(options)) {
    if (value === undefined) continue
    const rule = FIELDS[field as keyof RedisAdapterConfigOptions]
    if (rule === undefined) {
      const hint = DJANGO_NAMES[field]
      throw invalid(
        cache,
        field,
        hint === undefined
          ? `unknown redis adapter option "${field}"; known options: ${Object.keys(FIELDS).join(', ')}`
          : `redis adapter option "${field}" is django-redis' name: ${hint}`,
      )
    }
    if (!rule[0](value)) {
      throw invalid(cache, field, `redis adapter option "${field}" must be ${rule[1]}, got ${show(value)}`)
    }
  }
  if (location !== undefined && typeof location !== 'string') {
    throw invalid(
      cache,
      'location',
      `location must be a Redis URL like "redis://host:6379/0", got ${show(location)}`,
    )
  }
  return { ...(options as RedisAdapterConfigOptions), url: location }
}

/** Runs `build`; an error of the adapter's own validation, which does not know the cache, gets its name. */
export function namingCache<T>(cache: string, build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (error instanceof CacheError && error.cache === undefined) {
      throw new CacheError(error.code, `cache "${cache}": ${error.message}`, {
        cache,
        field: error.field,
        cause: error,
      })
    }
    throw error
  }
}
