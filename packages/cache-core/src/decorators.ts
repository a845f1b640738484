import { digestArgs } from './digest.js'
import { CacheError, ErrorCodes } from './errors.js'
import { escapeGlob } from './glob.js'
import { type CacheRegistry, resolveCache } from './registry.js'
import type { Cache, Duration, GetOrSetOptions, LeaseOptions } from './types.js'

/** Options of {@link cached} and {@link Cached}. */
export interface CachedOptions<Args extends unknown[] = any[], R = any> {
  /** The cache, or the name of a cache in the registry (resolved at call time). */
  cache: Cache | string
  /** Registry that resolves a cache name. @default the one made by the last createCaches() */
  registry?: CacheRegistry
  /** First part of every key of this function; must not contain `:`. @default `ClassName.method` or the function's name */
  keyPrefix?: string
  /** TTL of results. @default the cache's ttl */
  ttl?: Duration
  /** TTL of `null` results. @default the cache's nullTtl */
  nullTtl?: Duration
  /** Tags of every result, or computed from the arguments and the result. */
  tags?: readonly string[] | ((args: Args, result: R) => readonly string[])
  /**
   * Picks what the key depends on. A string result is used as written; anything else is digested.
   * Called with the method's `this`: the only way `this` takes part in a key.
   * @default every argument, digested
   */
  key?: (...args: Args) => unknown
  /** Return `false` to skip caching a result. */
  condition?: (result: R) => boolean
  /** Cross-process stampede protection for this function. */
  lease?: boolean | LeaseOptions
  /** Serve a stale result while one background refresh runs. @default the cache's */
  staleWhileRevalidate?: Duration
  /** Serve a stale result while the function fails. @default the cache's */
  grace?: Duration
  /** With a stale result at hand, wait at most this long for the function. @default the cache's */
  softTimeout?: Duration
}

/** A function wrapped by {@link cached}: same signature, plus key helpers. */
export interface CachedFunction<Args extends unknown[], R> {
  (...args: Args): Promise<R>
  /** The key (within the cache) a call with these arguments uses. */
  key(...args: Args): string
  /** Removes the cached result of a call with these arguments. */
  invalidate(...args: Args): Promise<boolean>
  /** Removes every cached result of this function. */
  invalidateAll(): Promise<number>
  /** The key prefix of this function. */
  readonly keyPrefix: string
}

/** A method decorator that works with standard (TC39) decorators and with `experimentalDecorators`. */
export interface CachedMethodDecorator {
  /** Standard decorators: only methods that return a Promise are accepted. */
  <This, Args extends any[], R>(
    value: (this: This, ...args: Args) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<R>>,
  ): (this: This, ...args: Args) => Promise<R>
  /** `experimentalDecorators`: only methods that return a Promise are accepted. */
  <T extends (...args: any[]) => Promise<any>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> | undefined
}

/** Wraps an async function so its results are cached under a stable key of its arguments. */
export function cached<Args extends unknown[], R>(
  fn: (...args: Args) => Promise<R> | R,
  options: CachedOptions<Args, Awaited<R>>,
): CachedFunction<Args, Awaited<R>> {
  if (typeof fn !== 'function') {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, 'cached(): the first argument must be a function', {
      field: 'fn',
    })
  }
  const prefix = options?.keyPrefix ?? fn.name
  checkPrefix(prefix, 'cached()')
  return wrap(fn as (...args: Args) => Promise<Awaited<R>>, options, () => prefix, 'cached()')
}

/** Caches a method's results; see {@link CachedOptions}. The default key prefix is `ClassName.method`. */
export function Cached(options: CachedOptions): CachedMethodDecorator {
  checkOptions(options, '@Cached()')
  return ((value: any, context: any, descriptor?: PropertyDescriptor) => {
    if (context !== null && typeof context === 'object' && 'kind' in context) {
      if (context.kind !== 'method') {
        throw new CacheError(ErrorCodes.INVALID_CONFIG, `@Cached() decorates methods, not a ${context.kind}`)
      }
      const method = String(context.name)
      let owner: string | undefined
      const replacement = wrap(
        value,
        options,
        () => options.keyPrefix ?? `${owner ?? 'anonymous'}.${method}`,
        '@Cached()',
      )
      // Initializers run when the class is defined (static) or an instance is built, so the owner is
      // known before any call, and also before `.invalidate()`, which has no instance to look at.
      context.addInitializer(function (this: unknown) {
        owner ??= declaringClass(this, replacement)
      })
      return replacement
    }
    // experimentalDecorators: (prototype or constructor, name, descriptor)
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `@Cached() decorates methods; "${String(context)}" is not one`,
      )
    }
    const owner = typeof value === 'function' ? value.name : value?.constructor?.name
    const prefix = options.keyPrefix ?? `${owner}.${String(context)}`
    descriptor.value = wrap(descriptor.value, options, () => prefix, '@Cached()')
    return descriptor
  }) as CachedMethodDecorator
}

/** The key part for what a `key` option returned: a string as written, anything else digested. */
function pickedKey(picked: unknown, prefix: string): string {
  if (typeof picked === 'string' && picked !== '') return picked
  try {
    return digestArgs([picked])
  } catch (error) {
    const problem =
      error instanceof CacheError ? error.message.replace(/^argument 1/, 'its result') : String(error)
    throw new CacheError(
      ErrorCodes.UNKEYABLE,
      `the "key" option of "${prefix}" returned a value with no stable key: ${problem}`,
      {
        field: 'key',
        cause: error,
      },
    )
  }
}

function checkOptions(options: CachedOptions | undefined, where: string): void {
  if (options === null || typeof options !== 'object') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: options must be an object with at least "cache"`,
    )
  }
  if (options.cache === undefined || options.cache === null || options.cache === '') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: option "cache" must be a cache or the name of one`,
      {
        field: 'cache',
      },
    )
  }
  if (options.keyPrefix !== undefined) checkPrefix(options.keyPrefix, where)
  for (const field of ['key', 'condition'] as const) {
    if (options[field] !== undefined && typeof options[field] !== 'function') {
      throw new CacheError(ErrorCodes.INVALID_CONFIG, `${where}: option "${field}" must be a function`, {
        field,
      })
    }
  }
}

function checkPrefix(prefix: unknown, where: string): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix === '') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: option "keyPrefix" must be a non-empty string (the function has no name to default to)`,
      { field: 'keyPrefix' },
    )
  }
  if (prefix.includes(':')) {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: option "keyPrefix" must not contain ":", got "${prefix}"`,
      {
        field: 'keyPrefix',
      },
    )
  }
}

// The class that declares `method`: the prototype on `self`'s chain that holds it. Subclass
// instances then share the declaring class's keys instead of getting keys of their own.
function declaringClass(self: unknown, method: unknown): string {
  let proto =
    self !== null && (typeof self === 'object' || typeof self === 'function')
      ? Object.getPrototypeOf(self)
      : null
  if (
    typeof self === 'function' &&
    Object.values(Object.getOwnPropertyDescriptors(self)).some((d) => d.value === method)
  ) {
    return self.name
  }
  while (proto !== null) {
    for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(proto))) {
      if (descriptor.value === method) return proto.constructor?.name ?? 'anonymous'
    }
    proto = Object.getPrototypeOf(proto)
  }
  return 'anonymous'
}

function wrap<Args extends unknown[], R>(
  fn: (...args: Args) => Promise<R> | R,
  options: CachedOptions<Args, R>,
  prefixFor: (self: unknown) => string,
  where: string,
): CachedFunction<Args, R> {
  checkOptions(options as CachedOptions, where)
  const keyFn = options.key
  const staticTags = Array.isArray(options.tags) ? (options.tags as readonly string[]) : undefined
  const tagFn = typeof options.tags === 'function' ? options.tags : undefined
  // Built once: the hot path (a hit) must not re-create option objects.
  const base: GetOrSetOptions<R> = {
    ttl: options.ttl,
    nullTtl: options.nullTtl,
    tags: staticTags,
    condition: options.condition,
    lease: options.lease,
    staleWhileRevalidate: options.staleWhileRevalidate,
    grace: options.grace,
    softTimeout: options.softTimeout,
  }
  let checkedPrefix: string | undefined
  // The cache this function last declared its prefix to, so that stats count its keys apart.
  let declaredTo: Cache | undefined

  function keyOf(self: unknown, args: Args): string {
    const prefix = prefixFor(self)
    if (prefix !== checkedPrefix) {
      checkPrefix(prefix, where)
      checkedPrefix = prefix
    }
    if (keyFn === undefined) return `${prefix}:${digestArgs(args)}`
    const picked = keyFn.apply(self, args)
    return `${prefix}:${pickedKey(picked, prefix)}`
  }

  const wrapped = function (this: unknown, ...args: Args): Promise<R> {
    let key: string
    let cache: Cache
    try {
      key = keyOf(this, args)
      cache = resolveCache(options.cache, options.registry)
      if (cache !== declaredTo) {
        cache.declareStatsPrefix(prefixFor(this))
        declaredTo = cache
      }
    } catch (error) {
      return Promise.reject(error)
    }
    const load = () => fn.apply(this, args)
    const perCall = tagFn === undefined ? base : { ...base, tags: (result: R) => tagFn(args, result) }
    return cache.getOrSet(key, load, perCall)
  } as CachedFunction<Args, R>

  Object.defineProperties(wrapped, {
    name: { value: fn.name, configurable: true },
    length: { value: fn.length, configurable: true },
    keyPrefix: { get: () => prefixFor(undefined), enumerable: true },
  })
  wrapped.key = function (this: unknown, ...args: Args) {
    return keyOf(this, args)
  }
  wrapped.invalidate = function (this: unknown, ...args: Args) {
    try {
      return resolveCache(options.cache, options.registry).delete(keyOf(this, args))
    } catch (error) {
      return Promise.reject(error)
    }
  }
  wrapped.invalidateAll = function (this: unknown) {
    try {
      return resolveCache(options.cache, options.registry).deletePattern(`${escapeGlob(prefixFor(this))}:*`)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return wrapped
}

/** Options of {@link cachedMany}. */
export interface CachedManyOptions<K, V> {
  /** The cache, or the name of a cache in the registry (resolved at call time). */
  cache: Cache | string
  /** Registry that resolves a cache name. @default the one made by the last createCaches() */
  registry?: CacheRegistry
  /** First part of every key; must not contain `:`. @default the function's name */
  keyPrefix?: string
  /** TTL of results. @default the cache's ttl */
  ttl?: Duration
  /** TTL of `null`/`undefined` results ("not found"). @default the cache's nullTtl */
  nullTtl?: Duration
  /** Tags of every result, or computed from it. */
  tags?: readonly string[] | ((result: V) => readonly string[])
  /** The key part of one item: a string is used as written, anything else is digested. @default the item, digested */
  key?: (item: K) => unknown
  /** Return `false` to skip caching a result. */
  condition?: (result: V) => boolean
}

/** A batch function wrapped by {@link cachedMany}: one cached result per item. */
export interface CachedManyFunction<K, V> {
  (items: readonly K[]): Promise<V[]>
  /** The key (within the cache) of one item. */
  key(item: K): string
  /** Removes the cached results of these items; resolves with how many were removed. */
  invalidate(...items: K[]): Promise<number>
  /** Removes every cached result of this function. */
  invalidateAll(): Promise<number>
  /** The key prefix of this function. */
  readonly keyPrefix: string
}

/**
 * The batch form of {@link cached} (the DataLoader pattern): wraps `fn(items) => values` so each item's
 * result is cached on its own, and one call of `fn` loads every item that missed — never an item
 * that another call is already loading.
 */
export function cachedMany<K, V>(
  fn: (items: K[]) => Promise<ReadonlyArray<V> | ReadonlyMap<K, V>>,
  options: CachedManyOptions<K, V>,
): CachedManyFunction<K, V> {
  if (typeof fn !== 'function') {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, 'cachedMany(): the first argument must be a function', {
      field: 'fn',
    })
  }
  checkOptions(options as CachedOptions, 'cachedMany()')
  const prefix = options.keyPrefix ?? fn.name
  checkPrefix(prefix, 'cachedMany()')
  let declaredTo: Cache | undefined
  const keyOf = (item: K): string => {
    const picked = options.key === undefined ? item : options.key(item)
    return `${prefix}:${pickedKey(picked, prefix)}`
  }
  const getOptions: GetOrSetOptions<V> = {
    ttl: options.ttl,
    nullTtl: options.nullTtl,
    tags: options.tags,
    condition: options.condition,
  }
  const wrapped = (async (items: readonly K[]) => {
    if (!Array.isArray(items)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cachedMany() "${prefix}": call it with an array of items`,
        {
          field: 'items',
        },
      )
    }
    const cache = resolveCache(options.cache, options.registry)
    if (cache !== declaredTo) {
      cache.declareStatsPrefix(prefix)
      declaredTo = cache
    }
    const byKey = new Map<string, K>()
    const keys = items.map((item) => {
      const key = keyOf(item)
      if (!byKey.has(key)) byKey.set(key, item)
      return key
    })
    return cache.getOrSetMany<V>(
      keys,
      async (missing) => {
        const wanted = missing.map((key) => byKey.get(key) as K)
        const result = await fn(wanted)
        if (!(result instanceof Map)) return result as ReadonlyArray<V>
        return new Map(missing.map((key, i) => [key, (result as ReadonlyMap<K, V>).get(wanted[i]!) as V]))
      },
      getOptions,
    )
  }) as CachedManyFunction<K, V>
  Object.defineProperty(wrapped, 'keyPrefix', { value: prefix, enumerable: true })
  wrapped.key = keyOf
  wrapped.invalidate = async (...items: K[]) =>
    resolveCache(options.cache, options.registry).deleteMany(items.map(keyOf))
  wrapped.invalidateAll = async () =>
    resolveCache(options.cache, options.registry).deletePattern(`${escapeGlob(prefix)}:*`)
  return wrapped
}
