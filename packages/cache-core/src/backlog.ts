import type { Invalidation } from './bus.js'
import { compileGlob, type GlobMatcher } from './glob.js'
import type { TagStamp } from './types.js'

/**
 * Invalidations the store could not take, kept to be replayed when it answers again — before any
 * read is served from it, so an outage cannot turn a lost delete into a stale value served for a
 * whole TTL (a persisted Redis or a promoted replica comes back with the old entries).
 *
 * Deletions commute, so the backlog keeps them coalesced rather than as a log: a set of keys, of
 * patterns and of tags. Past `limit` items it gives up on detail and keeps one "everything": the
 * replay then clears the cache's whole keyspace, which is always correct, only colder.
 */
export class InvalidationBacklog {
  #keys = new Set<string>()
  #patterns = new Map<string, GlobMatcher>()
  #tags = new Set<string>()
  #all = false

  constructor(private readonly limit: number) {}

  /** How many invalidations wait for replay (a collapsed backlog counts as one). */
  get size(): number {
    return this.#all ? 1 : this.#keys.size + this.#patterns.size + this.#tags.size
  }

  /** Keeps an invalidation that failed. */
  add(invalidation: Invalidation): void {
    if (this.#all) return
    if (invalidation.all && invalidation.tags === undefined) {
      this.#collapse()
      return
    }
    for (const key of invalidation.keys ?? []) this.#keys.add(key)
    const pattern = invalidation.pattern
    if (pattern !== undefined && !this.#patterns.has(pattern))
      this.#patterns.set(pattern, compileGlob(pattern))
    for (const tag of invalidation.tags ?? []) this.#tags.add(tag)
    if (this.size > this.limit) this.#collapse()
  }

  /**
   * Forgets kept deletes of `keys`: the store took a newer write of each, which a late replay of the
   * delete would only throw away. Patterns and tags that cover them stay (replaying them is safe).
   */
  written(keys: readonly string[]): void {
    for (const key of keys) this.#keys.delete(key)
  }

  /** Everything pending, as the invalidations to replay in order; the backlog is then empty. */
  take(): Invalidation[] {
    const out: Invalidation[] = []
    if (this.#all) out.push({ all: true })
    else {
      for (const pattern of this.#patterns.keys()) out.push({ pattern })
      if (this.#keys.size > 0) out.push({ keys: [...this.#keys] })
      if (this.#tags.size > 0) out.push({ all: true, tags: [...this.#tags] })
    }
    this.#all = false
    this.#keys = new Set()
    this.#patterns = new Map()
    this.#tags = new Set()
    return out
  }

  /** Whether a kept invalidation covers the entry stored under `full`. */
  covers(full: string): boolean {
    if (this.#all || this.#keys.has(full)) return true
    for (const matches of this.#patterns.values()) if (matches(full)) return true
    return false
  }

  /** Whether a kept tag invalidation covers an entry stamped with `tags`. */
  coversTags(tags: readonly TagStamp[]): boolean {
    if (this.#all) return true
    if (this.#tags.size === 0) return false
    return tags.some(([tag]) => this.#tags.has(tag))
  }

  #collapse(): void {
    this.#all = true
    this.#keys.clear()
    this.#patterns.clear()
    this.#tags.clear()
  }
}
