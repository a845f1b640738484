import type { CacheCounters } from './types.js'

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

/** The stats prefix of a key: the part before its first `:`, or the whole key. */
export function prefixOf(key: string): string {
  const colon = key.indexOf(':')
  return colon === -1 ? key : key.slice(0, colon)
}

/**
 * Counters of one cache, overall and per key prefix. Counting is on every hot path, so a counter
 * set per prefix is created once and then updated in place.
 */
export class StatsRecorder {
  /** Totals over every prefix. */
  readonly total: CacheCounters = emptyCounters()
  /** Entries read as misses because they could not be decoded. */
  undecodable = 0
  private readonly prefixes = new Map<string, CacheCounters>()

  /** The counters of `prefix`, created on first use. */
  of(prefix: string): CacheCounters {
    let counters = this.prefixes.get(prefix)
    if (counters === undefined) {
      counters = emptyCounters()
      this.prefixes.set(prefix, counters)
    }
    return counters
  }

  /** Adds `n` to counter `field` of `prefix` and of the total. */
  add(prefix: string, field: Exclude<keyof CacheCounters, 'loadTimeMs'>, n = 1): void {
    this.total[field] += n
    this.of(prefix)[field] += n
  }

  /** Records one loader run that took `ms`. */
  load(prefix: string, ms: number): void {
    const counters = this.of(prefix)
    this.total.loads++
    this.total.loadTimeMs += ms
    counters.loads++
    counters.loadTimeMs += ms
  }

  /** A snapshot that later counting does not change. */
  snapshot(): { total: CacheCounters; byPrefix: Record<string, CacheCounters> } {
    const byPrefix: Record<string, CacheCounters> = {}
    for (const [prefix, counters] of this.prefixes) byPrefix[prefix] = { ...counters }
    return { total: { ...this.total }, byPrefix }
  }
}
