import {
  type Cache,
  type CachedFunction,
  type Duration,
  digestArgs,
  escapeGlob,
  type GetOrSetOptions,
} from '@cacheport/cache-core'

/** Options of {@link cachedLookup}. */
export interface CachedLookupOptions<Args extends unknown[]> {
  /** The cache holding the results. */
  cache: Cache
  /** First part of every key; must not contain `:`. */
  keyPrefix: string
  /** Time to live of a result. */
  ttl: Duration
  /** How long past its TTL a result may still be served while the lookup fails; `0` turns it off. */
  grace: Duration
  /** What the key depends on: a non-empty string is used as written, anything else is digested. */
  key: (...args: Args) => unknown
}

/**
 * An upstream lookup cached like `cached()` does it (same keys, `invalidate`, `invalidateAll`), with a
 * grace period of its own. The core's `cached()` takes no per-function grace, and a cache-wide one
 * would also keep the database-backed entries of the same cache (faculties) past their TTL.
 */
export function cachedLookup<Args extends unknown[], R>(
  fn: (...args: Args) => Promise<R>,
  options: CachedLookupOptions<Args>,
): CachedFunction<Args, R> {
  const { cache, keyPrefix } = options
  // Built once: a hit must not allocate option objects.
  const getOptions: GetOrSetOptions<R> = { ttl: options.ttl, grace: options.grace }
  const keyOf = (args: Args): string => {
    const picked = options.key(...args)
    return `${keyPrefix}:${typeof picked === 'string' && picked !== '' ? picked : digestArgs([picked])}`
  }
  const lookup = ((...args: Args): Promise<R> => {
    let key: string
    try {
      key = keyOf(args)
    } catch (error) {
      return Promise.reject(error)
    }
    return cache.getOrSet(key, () => fn(...args), getOptions)
  }) as CachedFunction<Args, R>
  Object.defineProperty(lookup, 'keyPrefix', { value: keyPrefix, enumerable: true })
  lookup.key = (...args: Args) => keyOf(args)
  lookup.invalidate = async (...args: Args) => cache.delete(keyOf(args))
  lookup.invalidateAll = async () => cache.deletePattern(`${escapeGlob(keyPrefix)}:*`)
  return lookup
}
