import { afterEach, describe, expect, it } from 'vitest'
import {
  type AdapterFactory,
  CacheError,
  cacheConfigFromEnv,
  createCaches,
  createCachesFromEnv,
  getDefaultCaches,
  invalidateKey,
  invalidatePattern,
  setDefaultCaches,
  useCacheFromEnv,
} from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

const built: Array<{ name: string; location: string | undefined; options: object }> = []
const adapters: Record<string, AdapterFactory> = {
  memory: (config) => {
    built.push({ name: config.cache, location: config.location, options: config.options })
    return new MapAdapter()
  },
  noop: () => Object.assign(new MapAdapter(), { name: 'noop' }),
}

// The seed's CACHES, as a registry configuration.
const CACHES = {
  default: { adapter: 'memory', keyPrefix: 'ea_platform', version: 1 },
  queries: { adapter: 'memory', keyPrefix: 'ea_queries', ttl: '5m' },
}

afterEach(() => {
  built.length = 0
  setDefaultCaches(undefined)
})

describe('createCaches', () => {
  it('builds named caches and closes them all', async () => {
    const caches = createCaches(CACHES, { adapters })
    expect(caches.names).toEqual(['default', 'queries'])
    expect(caches.get('queries').keyPrefix).toBe('ea_queries')
    expect(caches.get('queries').name).toBe('queries')
    await caches.get('queries').set('filter_counts:a', 1)
    expect(await caches.invalidatePattern('filter_counts:*', { cache: 'queries' })).toBe(1)
    expect(Object.keys(caches.stats())).toEqual(['default', 'queries'])
    await caches.closeAll()
    await expect(caches.get('default').get('k')).rejects.toMatchObject({ code: 'E_CLOSED' })
  })

  it('serves the seed helpers invalidatePattern and invalidateKey from the default registry', async () => {
    const caches = createCaches(CACHES, { adapters })
    expect(getDefaultCaches()).toBe(caches)
    const queries = caches.get('queries')
    await queries.set('filter_counts:x', 1)
    await queries.set('faculties', 2)
    expect(await invalidatePattern('filter_counts:*', { cache: 'queries' })).toBe(1)
    expect(await invalidateKey('faculties', { cache: 'queries' })).toBe(true)
    await expect(invalidateKey('k', { cache: 'nope' })).rejects.toThrow(
      'no cache named "nope"; configured caches: "default", "queries"',
    )
  })

  it.each([
    [
      { default: { adapter: 'memcached', keyPrefix: 'x' } },
      'E_UNKNOWN_ADAPTER',
      'cache "default": unknown adapter "memcached"; available adapters: memory, noop',
    ],
    [
      { default: { keyPrefix: 'x' } },
      'E_INVALID_CONFIG',
      'cache "default": option "adapter" must name an adapter',
    ],
    [
      { default: { adapter: 'memory', keyPrefix: 'x', TIMEOUT: 300 } },
      'E_INVALID_CONFIG',
      'cache "default": option "TIMEOUT" is not a cache option',
    ],
    [
      { queries: { adapter: 'memory', keyPrefix: 'x', ttl: '5 minutes' } },
      'E_INVALID_DURATION',
      'cache "queries": option "ttl" must be a duration',
    ],
    [
      { queries: { adapter: 'memory', keyPrefix: 'ea:queries' } },
      'E_INVALID_CONFIG',
      'cache "queries": option "keyPrefix" must not contain ":"',
    ],
    [{ queries: 'redis://localhost' }, 'E_INVALID_CONFIG', 'cache "queries": must be an object'],
    [
      { queries: { adapter: 'memory', keyPrefix: 'q', options: 5 } },
      'E_INVALID_CONFIG',
      'cache "queries": option "options" must be an object',
    ],
    [{}, 'E_INVALID_CONFIG', 'configure at least one cache'],
  ])('rejects %j with a coded error and builds no adapter', (config, code, message) => {
    let error: unknown
    try {
      createCaches(config as never, { adapters })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe(code)
    expect((error as CacheError).message).toContain(message)
    expect(built).toEqual([])
  })

  it('makes every cache a no-op when useCache is false, and says so when no noop adapter exists', () => {
    const caches = createCaches(CACHES, { adapters, useCache: false })
    expect(caches.get('default').adapter.name).toBe('noop')
    expect(caches.get('queries').adapter.name).toBe('noop')
    expect(() => createCaches(CACHES, { adapters: { memory: adapters.memory! }, useCache: false })).toThrow(
      /caching is switched off \(USE_CACHE=false\) but no "noop" adapter/,
    )
  })
})

describe('configuration from the environment', () => {
  it('overlays backend, location and per-cache fields', () => {
    const config = cacheConfigFromEnv(CACHES, {
      env: {
        CACHE_BACKEND: 'redis',
        REDIS_URL: 'redis://:s3cret@cache:6379/0',
        CACHE_QUERIES_TTL: '15m',
        CACHE_QUERIES_TIMEOUT: '250ms',
        CACHE_DEFAULT_VERSION: '2',
        CACHE_DEFAULT_JITTER: '0.1',
      },
    })
    expect(config).toEqual({
      default: {
        adapter: 'redis',
        keyPrefix: 'ea_platform',
        version: 2,
        location: 'redis://:s3cret@cache:6379/0',
        jitter: 0.1,
      },
      queries: {
        adapter: 'redis',
        keyPrefix: 'ea_queries',
        ttl: '15m',
        timeout: '250ms',
        location: 'redis://:s3cret@cache:6379/0',
      },
    })
  })

  it('names the variable in errors', () => {
    expect(() => cacheConfigFromEnv(CACHES, { env: { CACHE_QUERIES_TTL: 'soon' } })).toThrow(
      'environment variable CACHE_QUERIES_TTL must be a duration with a unit like "300s" or "5m", got "soon"',
    )
    expect(() => cacheConfigFromEnv(CACHES, { env: { CACHE_DEFAULT_JITTER: 'lots' } })).toThrow(
      /CACHE_DEFAULT_JITTER/,
    )
    expect(() => useCacheFromEnv({ USE_CACHE: 'maybe' })).toThrow(
      'environment variable USE_CACHE must be true or false, got "maybe"',
    )
  })

  it('reads USE_CACHE as the rollback switch', () => {
    expect(useCacheFromEnv({})).toBe(true)
    expect(useCacheFromEnv({ USE_CACHE: 'False' })).toBe(false)
    expect(useCacheFromEnv({ USE_CACHE: '0' })).toBe(false)
    const caches = createCachesFromEnv(CACHES, { adapters, env: { USE_CACHE: 'false' } })
    expect(caches.get('queries').adapter.name).toBe('noop')
  })

  it('passes location and adapter options to the factory', () => {
    createCaches(
      { default: { adapter: 'memory', keyPrefix: 'p', location: 'mem://x', options: { maxEntries: 10 } } },
      { adapters },
    )
    expect(built).toEqual([{ name: 'default', location: 'mem://x', options: { maxEntries: 10 } }])
  })
})
