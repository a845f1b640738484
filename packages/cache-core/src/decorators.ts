import { digestArgs } from './digest.js'
import { parseOptionalDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import { escapeGlob } from './glob.js'
import { type CacheRegistry, resolveCache } from './registry.js'
import { resolveLease, unknownOption } from './settings.js'
import type { Cache, GetOrSetOptions } from './types.js'

/**
 * Options of {@link cached} and {@link Cached}: where and under which prefix results go, how the key
 * and tags are made, and every per-call option of `getOrSet` (ttl, nullTtl, condition, lease,
 * staleWhileRevalidate, grace, softTimeout). Durations are milliseconds when a number.
 *
 * `Args` and `R` are the wrapped function's parameters and result. `cached()` infers them from the
 * function; a decorator cannot see its method, so annotate the callbacks' parameters (or write
 * `@Cached<[id: number], Course>(...)`) and the compiler checks them against the method.
 */
export interface CachedOptions<Args extends unknown[] = unknown[], R = unknown>
  extends Omit<GetOrSetOptions<R>, 'tags'> {
  /** The cache, or the name of a cache in the registry (resolved at call time). */
  cache: Cache | string
  /** Registry that resolves a cache name. @default the one made by the last createCaches() */
  registry?: CacheRegistry
  /**
   * First part of every key of this function; must not contain `:`. Required: class and function
   * names change with the build (tsc, tsx and minifiers name them differently), keys must not.
   */
  keyPrefix: string
  /** Tags of every result, or computed from the arguments and the result. */
  tags?: readonly string[] | ((args: Args, result: R) => readonly string[])
  /**
   * Picks what the key depends on. A string result is used as written; anything else is digested.
   * Called with the method's `this`: the only way `this` takes part in a key.
   * @default every argument, digested
   */
  key?: (...args: Args) => unknown
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

/**
 * A method decorator that works with standard (TC39) decorators and with `experimentalDecorators`.
 * Only methods that return a Promise are accepted, and their parameters and result must fit the
 * types the options' callbacks were written for (`A` and `R`).
 */
export interface CachedMethodDecorator<A extends unknown[] = unknown[], R = unknown> {
  /** Standard decorators. */
  <This, Args extends A, Result extends R>(
    value: (this: This, ...args: Args) => Promise<Result>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<Result>>,
  ): (this: This, ...args: Args) => Promise<Result>
  /** `experimentalDecorators`. */
  <Args extends A, Result extends R>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<(...args: Args) => Promise<Result>>,
  ): TypedPropertyDescriptor<(...args: Args) => Promise<Result>> | undefined
}

// Every option of cached(), @Cached and cachedMany(); the compiler keeps it in step with the types.
const CACHED_OPTIONS = Object.keys({
  cache: true,
  registry: true,
  keyPrefix: true,
  tags: true,
  key: true,
  ttl: true,
  nullTtl: true,
  condition: true,
  lease: true,
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
} as const satisfies Record<keyof CachedOptions | keyof CachedManyOptions<unknown, unknown>, true>)

// Marks the functions this module made, so invalidate() can refuse anything else with a clear error.
const WRAPPED = Symbol.for('@cacheport/cache-core.cached')

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
  const where = fn.name ? `cached() of "${fn.name}"` : 'cached()'
  checkOptions(options, where)
  return wrap(fn as (...args: Args) => Promise<Awaited<R>>, options)
}

/**
 * Caches a method's results under `keyPrefix`; see {@link CachedOptions}. Options are checked when
 * the decorator is applied, that is when the class is defined.
 */
export function Cached<A extends unknown[] = unknown[], R = unknown>(
  options: CachedOptions<A, R>,
): CachedMethodDecorator<A, R> {
  // Everything but a missing keyPrefix fails here already; that one waits for the method's name.
  checkOptions(options, '@Cached()', false)
  return ((value: any, context: any, descriptor?: PropertyDescriptor) => {
    if (context !== null && typeof context === 'object' && 'kind' in context) {
      if (context.kind !== 'method') {
        throw new CacheError(ErrorCodes.INVALID_CONFIG, `@Cached() decorates methods, not a ${context.kind}`)
      }
      const where = `@Cached() on "${String(context.name)}"`
      checkOptions(options, where)
      return wrap(value, options)
    }
    // experimentalDecorators: (prototype or constructor, name, descriptor)
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `@Cached() decorates methods; "${String(context)}" is not one`,
      )
    }
    const where = `@Cached() on "${String(context)}"`
    checkOptions(options, where)
    descriptor.value = wrap(descriptor.value, options)
    return descriptor
  }) as CachedMethodDecorator<A, R>
}

/**
 * Removes the cached result of one call of a {@link cached} function or `@Cached` method, with
 * arguments type-checked against its parameters: `await invalidate(service.getCourse, code)`.
 * A `key` option that reads `this` sees `undefined` here; call `method.invalidate.call(instance, ...)`
 * for those.
 */
export function invalidate<Args extends unknown[]>(
  fn: (...args: Args) => Promise<unknown>,
  ...args: Args
): Promise<boolean> {
  const target = fn as Partial<CachedFunction<Args, unknown>> & { [WRAPPED]?: true }
  if (typeof fn !== 'function' || target[WRAPPED] !== true || typeof target.invalidate !== 'function') {
    const name = typeof fn === 'function' && fn.name ? `"${fn.name}"` : 'its first argument'
    return Promise.reject(
      new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `invalidate(): ${name} is not a cached() function or @Cached method`,
        { field: 'fn' },
      ),
    )
  }
  return target.invalidate(...args)
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

function checkOptions(
  options: unknown,
  where: string,
  prefixRequired = true,
): asserts options is CachedOptions<any, any> {
  if (options === null || typeof options !== 'object') {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: options must be an object with at least "cache" and "keyPrefix"`,
    )
  }
  const given = options as Partial<Record<keyof CachedOptions, unknown>>
  for (const field of Object.keys(given)) {
    if (!CACHED_OPTIONS.includes(field)) {
      throw unknownOption(where, field, 'an option of cached functions', CACHED_OPTIONS)
    }
  }
  const fail = (field: string, why: string) =>
    new CacheError(ErrorCodes.INVALID_CONFIG, `${where}: option "${field}" ${why}`, { field })
  if (given.cache === undefined || given.cache === null || given.cache === '') {
    throw fail('cache', 'must be a cache or the name of one')
  }
  if (given.keyPrefix === undefined && prefixRequired) {
    throw fail(
      'keyPrefix',
      'is required: class and function names change with the build tool (tsc, tsx, minifiers), so keys derived from them would differ between builds of one app',
    )
  }
  if (given.keyPrefix !== undefined && (typeof given.keyPrefix !== 'string' || given.keyPrefix === '')) {
    throw fail('keyPrefix', `must be a non-empty string, got ${JSON.stringify(given.keyPrefix)}`)
  }
  if (typeof given.keyPrefix === 'string' && given.keyPrefix.includes(':')) {
    throw fail('keyPrefix', `must not contain ":", got "${given.keyPrefix}"`)
  }
  for (const field of ['key', 'condition'] as const) {
    if (given[field] !== undefined && typeof given[field] !== 'function') {
      throw fail(field, 'must be a function')
    }
  }
  const tags = given.tags
  if (
    tags !== undefined &&
    typeof tags !== 'function' &&
    !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string' && tag !== ''))
  ) {
    throw fail('tags', `must be an array of strings or a function, got ${JSON.stringify(tags)}`)
  }
  // Durations fail here, when the function is declared, rather than on its first call in production.
  try {
    for (const field of ['ttl', 'nullTtl', 'staleWhileRevalidate', 'grace', 'softTimeout'] as const) {
      parseOptionalDuration(given[field] as never, { field })
    }
    resolveLease(given.lease as never, undefined, 'lease')
  } catch (error) {
    if (!(error instanceof CacheError)) throw error
    throw new CacheError(error.code, `${where}: ${error.message}`, { field: error.field, cause: error })
  }
}

function wrap<Args extends unknown[], R>(
  fn: (...args: Args) => Promise<R> | R,
  options: CachedOptions<Args, R>,
): CachedFunction<Args, R> {
  const prefix = options.keyPrefix
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
  // The cache this function last declared its prefix to, so that stats count its keys apart.
  let declaredTo: Cache | undefined

  // Joined once: every key is this and one more piece, a single concatenation per call.
  const head = `${prefix}:`

  function keyOf(self: unknown, args: Args): string {
    if (keyFn === undefined) return head + digestArgs(args)
    const picked =
      args.length === 1
        ? (keyFn as unknown as (this: unknown, arg: unknown) => unknown).call(self, args[0])
        : keyFn.apply(self, args)
    return head + (typeof picked === 'string' && picked !== '' ? picked : pickedKey(picked, prefix))
  }

  const wrapped = function (this: unknown, ...args: Args): Promise<R> {
    let key: string
    let cache: Cache
    try {
      key = keyOf(this, args)
      cache = resolveCache(options.cache, options.registry)
      if (cache !== declaredTo) {
        cache.declareStatsPrefix(prefix)
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
    keyPrefix: { value: prefix, enumerable: true },
    [WRAPPED]: { value: true },
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
  wrapped.invalidateAll = () => {
    try {
      return resolveCache(options.cache, options.registry).deletePattern(`${escapeGlob(prefix)}:*`)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return wrapped
}

/**
 * Options of {@link cachedMany}: where and under which prefix results go, how an item's key is made,
 * and every per-call option of `getOrSetMany` (ttl, nullTtl, tags, condition, staleWhileRevalidate,
 * grace, softTimeout, lease). Durations are milliseconds when a number.
 */
export interface CachedManyOptions<K, V> extends GetOrSetOptions<V> {
  /** The cache, or the name of a cache in the registry (resolved at call time). */
  cache: Cache | string
  /** Registry that resolves a cache name. @default the one made by the last createCaches() */
  registry?: CacheRegistry
  /** First part of every key; must not contain `:`. Required, like {@link CachedOptions.keyPrefix}. */
  keyPrefix: string
  /** The key part of one item: a string is used as written, anything else is digested. @default the item, digested */
  key?: (item: K) => unknown
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
  checkOptions(options, fn.name ? `cachedMany() of "${fn.name}"` : 'cachedMany()')
  const prefix = options.keyPrefix
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
    lease: options.lease,
    staleWhileRevalidate: options.staleWhileRevalidate,
    grace: options.grace,
    softTimeout: options.softTimeout,
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
