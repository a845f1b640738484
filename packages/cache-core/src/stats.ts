import { CacheError, ErrorCodes } from './errors.js'
import { loneSurrogateAt } from './keys.js'
import type { CacheCounters } from './types.js'

/** Most prefixes one cache counts on their own; keys of any further prefix count under {@link OTHER_PREFIX}. */
export const MAX_STATS_PREFIXES = 256

/** The `byPrefix` bucket of keys under no declared prefix (and of errors that concern no key). */
export const OTHER_PREFIX = '(other)'

/** A fresh set of zeroed counters. */
export function emptyCounters(): CacheCounters {
  return {
    hits: 0,
    misses: 0,
    staleHits: 0,
    l1Hits: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    loads: 0,
    loadTimeMs: 0,
  }
}

/** The part of a key before its first `:`, or the whole key; what events report as `prefix`. */
export function prefixOf(key: string): string {
  const colon = key.indexOf(':')
  return colon === -1 ? key : key.slice(0, colon)
}

/**
 * Throws `E_INVALID_CONFIG` unless `prefixes` is an array of at most {@link MAX_STATS_PREFIXES}
 * non-empty, well-formed strings other than {@link OTHER_PREFIX}; the value of option `statsPrefixes`.
 */
export function checkStatsPrefixes(prefixes: unknown, cache: string): readonly string[] {
  const fail = (why: string): never => {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, `cache "${cache}": option "statsPrefixes" ${why}`, {
      cache,
      field: 'statsPrefixes',
    })
  }
  if (prefixes === undefined) return []
  if (!Array.isArray(prefixes)) return fail(`must be an array of key prefixes, got ${typeof prefixes}`)
  if (prefixes.length > MAX_STATS_PREFIXES) {
    fail(`lists ${prefixes.length} prefixes; at most ${MAX_STATS_PREFIXES} are counted apart`)
  }
  for (const [i, prefix] of prefixes.entries()) {
    if (typeof prefix !== 'string' || prefix === '' || loneSurrogateAt(prefix) !== -1) {
      fail(
        `must list non-empty strings of well-formed Unicode, got ${JSON.stringify(prefix) ?? typeof prefix} at index ${i}`,
      )
    }
    if (prefix === OTHER_PREFIX)
      fail(`must not list "${OTHER_PREFIX}", the name of the bucket for every other key`)
  }
  return prefixes as readonly string[]
}

/**
 * Counters of one cache, overall and per declared key prefix. A key counts under the longest
 * declared prefix it equals or starts with followed by `:`; every other key counts under
 * {@link OTHER_PREFIX}. Prefixes come from the `statsPrefixes` option and from the decorated
 * functions that use the cache, at most {@link MAX_STATS_PREFIXES} of them, so the memory stats
 * take does not grow with the number of distinct keys. Counting is on every hot path: the core looks
 * up a key's counters once and then updates them in place.
 */
export class StatsRecorder {
  /** Totals over every prefix. */
  readonly total: CacheCounters = emptyCounters()
  /** Entries read as misses because they could not be decoded. */
  undecodable = 0
  private readonly other: CacheCounters = emptyCounters()
  private readonly buckets = new Map<string, CacheCounters>()
  // Lengths of the declared prefixes: a key is looked up only at those of its `:` that could end one.
  private readonly lengths = new Set<number>()
  private longest = 0

  /**
   * Counts keys under `prefix` apart from now on; `false` when it already was, or when
   * {@link MAX_STATS_PREFIXES} are declared and it will count under {@link OTHER_PREFIX}.
   */
  declare(prefix: string): boolean {
    if (this.buckets.has(prefix) || this.buckets.size >= MAX_STATS_PREFIXES || prefix === OTHER_PREFIX) {
      return false
    }
    this.buckets.set(prefix, emptyCounters())
    this.lengths.add(prefix.length)
    if (prefix.length > this.longest) this.longest = prefix.length
    return true
  }

  /** The counters `key` (or a pattern) counts under; {@link OTHER_PREFIX}'s when it has no declared prefix. */
  of(key: string | undefined): CacheCounters {
    if (key === undefined || this.buckets.size === 0) return this.other
    let found = this.other
    const end = Math.min(key.length, this.longest)
    for (let i = key.indexOf(':'); i !== -1 && i <= end; i = key.indexOf(':', i + 1)) {
      if (this.lengths.has(i)) found = this.buckets.get(key.slice(0, i)) ?? found
    }
    if (key.length <= end && this.lengths.has(key.length)) found = this.buckets.get(key) ?? found
    return found
  }

  /** Adds `n` to counter `field` of `key`'s bucket and of the total. */
  add(key: string | undefined, field: Exclude<keyof CacheCounters, 'loadTimeMs'>, n = 1): void {
    this.total[field] += n
    this.of(key)[field] += n
  }

  /** Records one loader run for `key` that took `ms`. */
  load(key: string, ms: number): void {
    const counters = this.of(key)
    this.total.loads++
    this.total.loadTimeMs += ms
    counters.loads++
    counters.loadTimeMs += ms
  }

  /** A snapshot that later counting does not change: every declared prefix, and {@link OTHER_PREFIX}. */
  snapshot(): { total: CacheCounters; byPrefix: Record<string, CacheCounters> } {
    // fromEntries defines own properties, so a prefix named "__proto__" is a bucket like any other.
    const byPrefix: Record<string, CacheCounters> = Object.fromEntries(
      [...this.buckets].map(([prefix, counters]) => [prefix, { ...counters }]),
    )
    byPrefix[OTHER_PREFIX] = { ...this.other }
    return { total: { ...this.total }, byPrefix }
  }
}
