import type { AdapterFactory, AnyCacheAdapter } from './adapter.js'
import { createCache } from './cache.js'
import { parseDuration } from './duration.js'
import { CacheError, ErrorCodes, redact } from './errors.js'
import { resolveSettings, unknownOption } from './settings.js'
import type { Cache, CacheLogger, CacheOptions, CacheStats } from './types.js'

/**
 * One named cache of a registry, like an entry of Django's `CACHES`: the options of
 * {@link createCache} (every rule means the same here), with adapters named instead of built.
 */
export interface CacheConfig extends Omit<CacheOptions, 'adapter' | 'l1' | 'logger' | 'name'> {
  /** Name of an adapter factory given to {@link createCaches} (`memory`, `redis`, `noop`, ...). */
  adapter: string
  /**
   * Where the store lives, e.g. `redis://localhost:6379/0`; ignored by in-process adapters.
   * `undefined` (an unset `process.env.REDIS_URL`) means the adapter's default.
   */
  location?: string | undefined
  /** Options passed to the adapter factory (connect timeout, memory bounds, ...). */
  options?: Record<string, unknown>
  /**
   * An in-process first tier in front of the adapter: an adapter name (`'memory'`) or
   * `{ adapter, options }`. Kept coherent across instances by the adapter's pub/sub.
   */
  l1?: string | { adapter: string; options?: Record<string, unknown> }
}

/** Options of {@link createCaches}. */
export interface CreateCachesOptions {
  /** Adapter factories by the names `CacheConfig.adapter` uses. */
  adapters: Record<string, AdapterFactory>
  /**
   * `false` builds every cache on the `noop` adapter (the rollback switch; needs `adapters.noop`).
   * @default true
   */
  useCache?: boolean
  /**
   * Logger handed to every cache; `false` silences them (their `error` events still fire).
   * @default warnings and errors on stderr
   */
  logger?: CacheLogger | false
  /**
   * Make this registry the one that `@Cached({ cache: 'name' })`, `invalidatePattern` and
   * `invalidateKey` use when they are not given one.
   * @default true
   */
  makeDefault?: boolean
}

// Every field of CacheConfig; the compiler fails when the interface and this list drift apart.
const CONFIG_FIELDS = Object.keys({
  adapter: true,
  location: true,
  options: true,
  l1: true,
  keyPrefix: true,
  version: true,
  ttl: true,
  nullTtl: true,
  jitter: true,
  timeout: true,
  bulkTimeout: true,
  breaker: true,
  lease: true,
  maxKeyLength: true,
  maxPendingInvalidations: true,
  statsPrefixes: true,
  bus: true,
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
} as const satisfies Record<keyof CacheConfig, true>)

// The default registry lives on `globalThis` under a `Symbol.for` key, not in a module variable: an
// app that loads both builds of this package (ESM `import` here, CJS `require` in a dependency) must
// see one default registry, or a `cached()` from one build cannot find caches made by the other.
const DEFAULT_SLOT = Symbol.for('@cacheport/cache-core.defaultRegistry')
const shared = globalThis as { [DEFAULT_SLOT]?: CacheRegistry | undefined }

/** Named caches built from configuration, closed together. */
export class CacheRegistry {
  private readonly caches: ReadonlyMap<string, Cache>

  constructor(caches: ReadonlyMap<string, Cache>) {
    this.caches = caches
  }

  /** The names of the caches, in configuration order. */
  get names(): string[] {
    return [...this.caches.keys()]
  }

  /** Whether a cache of that name exists. */
  has(name: string): boolean {
    return this.caches.has(name)
  }

  /** The cache called `name`; throws `E_UNKNOWN_CACHE` naming the ones that exist. */
  get(name: string): Cache {
    const cache = this.caches.get(name)
    if (cache === undefined) {
      throw new CacheError(
        ErrorCodes.UNKNOWN_CACHE,
        `no cache named "${name}"; configured caches: ${this.names.map((n) => `"${n}"`).join(', ') || 'none'}`,
        { cache: name },
      )
    }
    return cache
  }

  /** Every cache with its name. */
  entries(): Array<[string, Cache]> {
    return [...this.caches.entries()]
  }

  /** Resolves once every cache is ready (see `Cache.ready`). */
  async ready(): Promise<void> {
    await Promise.all(this.entries().map(([, cache]) => cache.ready()))
  }

  /** Stats of every cache by name. */
  stats(): Record<string, CacheStats> {
    return Object.fromEntries(this.entries().map(([name, cache]) => [name, cache.stats()]))
  }

  /** Removes the keys matching `pattern` in one cache (the seed's `invalidate_pattern`). */
  invalidatePattern(pattern: string, options: { cache: string }): Promise<number> {
    return this.get(options.cache).deletePattern(pattern)
  }

  /** Removes one key of one cache (the seed's `invalidate_key`). */
  invalidateKey(key: string, options: { cache: string }): Promise<boolean> {
    return this.get(options.cache).delete(key)
  }

  /** Closes every cache; failures are collected and rethrown together after all were tried. */
  async closeAll(): Promise<void> {
    if (shared[DEFAULT_SLOT] === this) shared[DEFAULT_SLOT] = undefined
    const results = await Promise.allSettled(this.entries().map(([, cache]) => cache.close()))
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failures.length > 0) {
      throw new CacheError(
        ErrorCodes.ADAPTER,
        `closing caches failed: ${failures.map((f) => String(f.reason)).join('; ')}`,
        {
          cause: failures[0]!.reason,
        },
      )
    }
  }
}

/**
 * Builds named caches from configuration, validating every field with errors that name the cache
 * and the field; no adapter is created unless the whole configuration is valid.
 */
export function createCaches(
  config: Record<string, CacheConfig>,
  options: CreateCachesOptions,
): CacheRegistry {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      'createCaches: configuration must be an object of named caches',
    )
  }
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.adapters !== 'object' ||
    options.adapters === null
  ) {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      'createCaches: options.adapters must map adapter names to factories',
      {
        field: 'adapters',
      },
    )
  }
  const names = Object.keys(config)
  if (names.length === 0) {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, 'createCaches: configure at least one cache')
  }
  const useCache = options.useCache ?? true
  const plans = names.map((name) => planCache(name, config[name], options.adapters, useCache))
  const built = new Map<string, Cache>()
  const adapters: AnyCacheAdapter[] = []
  try {
    for (const plan of plans) {
      const adapter = plan.factory({
        cache: plan.name,
        location: plan.config.location,
        options: plan.config.options ?? {},
      })
      adapters.push(adapter)
      const l1 = plan.l1?.factory({ cache: plan.name, location: undefined, options: plan.l1.options })
      if (l1 !== undefined) adapters.push(l1)
      const { adapter: _name, location: _location, options: _options, l1: _l1, ...rules } = plan.config
      // Switched off (USE_CACHE=false), a cache has no tiers, so no bus to ask for.
      const tiered = l1 === undefined ? { ...rules, bus: undefined } : rules
      built.set(plan.name, createCache({ ...tiered, name: plan.name, adapter, l1, logger: options.logger }))
    }
  } catch (error) {
    // Don't leak connections of the caches built before the failing one.
    for (const adapter of adapters) void Promise.resolve(adapter.close()).catch(() => {})
    throw error
  }
  const registry = new CacheRegistry(built)
  if (options.makeDefault ?? true) shared[DEFAULT_SLOT] = registry
  return registry
}

function planCache(
  name: string,
  raw: unknown,
  adapters: Record<string, AdapterFactory>,
  useCache: boolean,
): {
  name: string
  config: CacheConfig
  factory: AdapterFactory
  l1: { factory: AdapterFactory; options: Record<string, unknown> } | undefined
} {
  const fail = (field: string, why: string) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${name}": ${field === '' ? '' : `option "${field}" `}${why}`,
      {
        cache: name,
        field,
      },
    )
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail('', 'must be an object')
  const config = raw as CacheConfig
  for (const field of Object.keys(config)) {
    if (!CONFIG_FIELDS.includes(field)) {
      throw unknownOption(`cache "${name}"`, field, 'a cache option', CONFIG_FIELDS, name)
    }
  }
  if (typeof config.adapter !== 'string' || config.adapter === '') {
    throw fail('adapter', `must name an adapter (${Object.keys(adapters).join(', ')})`)
  }
  if (config.location !== undefined && typeof config.location !== 'string')
    throw fail('location', 'must be a string')
  if (config.options !== undefined && (config.options === null || typeof config.options !== 'object')) {
    throw fail('options', 'must be an object')
  }
  const adapterName = useCache ? config.adapter : 'noop'
  const factory = adapters[adapterName]
  if (typeof factory !== 'function') {
    throw new CacheError(
      ErrorCodes.UNKNOWN_ADAPTER,
      useCache
        ? `cache "${name}": unknown adapter "${adapterName}"; available adapters: ${Object.keys(adapters).join(', ') || 'none'}`
        : `cache "${name}": caching is switched off (USE_CACHE=false) but no "noop" adapter was given to createCaches`,
      { cache: name, field: 'adapter' },
    )
  }
  // Every cache rule is checked here too, so that a typo fails before any adapter connects.
  const { adapter: _adapter, location: _location, options: _options, l1: rawL1, ...rules } = config
  resolveSettings({ ...rules, name })
  let l1: { factory: AdapterFactory; options: Record<string, unknown> } | undefined
  if (rawL1 !== undefined && useCache) {
    const l1Name = typeof rawL1 === 'string' ? rawL1 : rawL1?.adapter
    const l1Options = typeof rawL1 === 'object' && rawL1 !== null ? (rawL1.options ?? {}) : {}
    if (typeof l1Name !== 'string' || typeof l1Options !== 'object' || l1Options === null) {
      throw fail('l1', 'must be an adapter name such as "memory" or { adapter, options }')
    }
    const l1Factory = adapters[l1Name]
    if (typeof l1Factory !== 'function') {
      throw new CacheError(
        ErrorCodes.UNKNOWN_ADAPTER,
        `cache "${name}": unknown l1 adapter "${l1Name}"; available adapters: ${Object.keys(adapters).join(', ') || 'none'}`,
        { cache: name, field: 'l1' },
      )
    }
    l1 = { factory: l1Factory, options: l1Options }
  }
  return { name, config: useCache ? config : { ...config, adapter: 'noop' }, factory, l1 }
}

/** The registry made by the last {@link createCaches} call (unless it opted out), if any. */
export function getDefaultCaches(): CacheRegistry | undefined {
  return shared[DEFAULT_SLOT]
}

/** Makes `registry` the default one (or clears it with `undefined`). */
export function setDefaultCaches(registry: CacheRegistry | undefined): void {
  shared[DEFAULT_SLOT] = registry
}

/** Resolves a cache given as an instance or as a name in a registry (the default one if not given). */
export function resolveCache(cache: Cache | string, registry?: CacheRegistry): Cache {
  if (typeof cache !== 'string') return cache
  const from = registry ?? shared[DEFAULT_SLOT]
  if (from === undefined) {
    throw new CacheError(
      ErrorCodes.UNKNOWN_CACHE,
      `no cache registry to find cache "${cache}" in: call createCaches() first or pass a cache instance`,
      { cache },
    )
  }
  return from.get(cache)
}

/** Removes the keys matching `pattern` (a glob within the cache's own keyspace) from a cache. */
export async function invalidatePattern(
  pattern: string,
  options: { cache: Cache | string; registry?: CacheRegistry },
): Promise<number> {
  return resolveCache(options.cache, options.registry).deletePattern(pattern)
}

/** Removes one key from a cache. */
export async function invalidateKey(
  key: string,
  options: { cache: Cache | string; registry?: CacheRegistry },
): Promise<boolean> {
  return resolveCache(options.cache, options.registry).delete(key)
}

/** Options of {@link cacheConfigFromEnv}. */
export interface EnvConfigOptions {
  /** Where to read variables from. @default process.env */
  env?: Record<string, string | undefined>
}

/**
 * Overlays environment variables on a base configuration, so deployments change caches without code:
 * `CACHE_BACKEND` (adapter of every cache), `CACHE_LOCATION` or `REDIS_URL` (location of every cache),
 * and per cache `CACHE_<NAME>_ADAPTER`, `_LOCATION`, `_KEY_PREFIX`, `_VERSION`, `_TTL`, `_NULL_TTL`,
 * `_TIMEOUT`, `_JITTER`, `_L1` (an adapter name, or `none`), `_STALE_WHILE_REVALIDATE`, `_GRACE` and
 * `_SOFT_TIMEOUT`. Durations need a unit (`300s`, `5m`): a bare number is refused, because Django
 * settings count seconds where Cacheport counts milliseconds. `USE_CACHE` is read by
 * {@link useCacheFromEnv}. Errors name the variable.
 */
export function cacheConfigFromEnv(
  base: Record<string, CacheConfig>,
  options: EnvConfigOptions = {},
): Record<string, CacheConfig> {
  const env = options.env ?? process.env
  const out: Record<string, CacheConfig> = {}
  for (const [name, config] of Object.entries(base)) {
    const upper = name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
    const read = (suffix: string): string | undefined => {
      const value = env[`CACHE_${upper}_${suffix}`]
      return value === undefined || value.trim() === '' ? undefined : value.trim()
    }
    const next: CacheConfig = { ...config }
    const backend = read('ADAPTER') ?? nonEmpty(env.CACHE_BACKEND)
    if (backend !== undefined) next.adapter = backend
    const location = read('LOCATION') ?? nonEmpty(env.CACHE_LOCATION) ?? nonEmpty(env.REDIS_URL)
    if (location !== undefined) next.location = location
    const l1 = read('L1')
    if (l1 !== undefined) {
      if (l1 === 'none') delete next.l1
      else next.l1 = l1
    }
    const keyPrefix = read('KEY_PREFIX')
    if (keyPrefix !== undefined) next.keyPrefix = keyPrefix
    const version = read('VERSION')
    if (version !== undefined) next.version = /^\d+$/.test(version) ? Number(version) : version
    for (const [suffix, field] of [
      ['TTL', 'ttl'],
      ['NULL_TTL', 'nullTtl'],
      ['TIMEOUT', 'timeout'],
      ['STALE_WHILE_REVALIDATE', 'staleWhileRevalidate'],
      ['GRACE', 'grace'],
      ['SOFT_TIMEOUT', 'softTimeout'],
    ] as const) {
      const value = read(suffix)
      if (value === undefined) continue
      const variable = `CACHE_${upper}_${suffix}`
      // A bare number is ambiguous here: Django's TIMEOUT is seconds, Cacheport's numbers are
      // milliseconds. Guessing either way silently caches for 1000 times too long or too short.
      if (/^\d+(\.\d+)?$/.test(value)) {
        throw new CacheError(
          ErrorCodes.INVALID_DURATION,
          `environment variable ${variable} is a bare number (${JSON.stringify(value)}); give it a unit: "${value}s" for seconds, "${value}ms" for milliseconds, or e.g. "5m"`,
          { cache: name, field },
        )
      }
      const duration = value
      try {
        parseDuration(duration, { field })
      } catch (error) {
        throw new CacheError(
          ErrorCodes.INVALID_DURATION,
          `environment variable ${variable} must be a duration with a unit like "300s" or "5m", got ${JSON.stringify(redact(value))}`,
          { cache: name, field, cause: error },
        )
      }
      next[field] = duration
    }
    const jitter = read('JITTER')
    if (jitter !== undefined) {
      const n = Number(jitter)
      if (!Number.isFinite(n) || n < 0 || n > 1) {
        throw new CacheError(
          ErrorCodes.INVALID_CONFIG,
          `environment variable CACHE_${upper}_JITTER must be a number from 0 to 1, got ${JSON.stringify(jitter)}`,
          { cache: name, field: 'jitter' },
        )
      }
      next.jitter = n
    }
    out[name] = next
  }
  return out
}

/**
 * Reads the rollback switch `USE_CACHE` (`true/false`, `1/0`, `yes/no`, `on/off`; unset = true).
 * Anything else is an error naming the variable rather than a silent guess.
 */
export function useCacheFromEnv(env: Record<string, string | undefined> = process.env): boolean {
  const raw = env.USE_CACHE
  if (raw === undefined || raw.trim() === '') return true
  const value = raw.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off'].includes(value)) return false
  throw new CacheError(
    ErrorCodes.INVALID_CONFIG,
    `environment variable USE_CACHE must be true or false, got ${JSON.stringify(raw)}`,
    { field: 'USE_CACHE' },
  )
}

/** {@link createCaches} on a base configuration overlaid with the environment, honouring `USE_CACHE`. */
export function createCachesFromEnv(
  base: Record<string, CacheConfig>,
  options: CreateCachesOptions & EnvConfigOptions,
): CacheRegistry {
  const env = options.env ?? process.env
  return createCaches(cacheConfigFromEnv(base, { env }), {
    ...options,
    useCache: options.useCache ?? useCacheFromEnv(env),
  })
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}
