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
  // Each kept key, pattern and tag maps to whether every invalidation of it was soft: a hard one for
  // the same target wins, as a delete after (or before) an expiry into grace leaves nothing either way.
  #keys = new Map<string, boolean>()
  #patterns = new Map<string, { matches: GlobMatcher; soft: boolean }>()
  #tags = new Map<string, boolean>()
  #all = false

  constructor(private readonly limit: number) {}

  /** How many invalidations wait for replay (a collapsed backlog counts as one). */
  get size(): number {
    return this.#all ? 1 : this.#keys.size + this.#patterns.size + this.#tags.size
  }

  /** Keeps an invalidation that failed, soft or hard as it was made. */
  add(invalidation: Invalidation): void {
    if (this.#all) return
    if (invalidation.all && invalidation.tags === undefined) {
      this.#collapse()
      return
    }
    const soft = invalidation.soft === true
    for (const key of invalidation.keys ?? []) this.#keys.set(key, soft && this.#keys.get(key) !== false)
    const pattern = invalidation.pattern
    if (pattern !== undefined) {
      const kept = this.#patterns.get(pattern)
      if (kept === undefined) this.#patterns.set(pattern, { matches: compileGlob(pattern), soft })
      else kept.soft &&= soft
    }
    for (const tag of invalidation.tags ?? []) this.#tags.set(tag, soft && this.#tags.get(tag) !== false)
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
      for (const [pattern, { soft }] of this.#patterns) out.push(soft ? { pattern, soft } : { pattern })
      for (const [keys, soft] of split(this.#keys)) out.push(soft ? { keys, soft } : { keys })
      for (const [tags, soft] of split(this.#tags))
        out.push(soft ? { all: true, tags, soft } : { all: true, tags })
    }
    this.#all = false
    this.#keys = new Map()
    this.#patterns = new Map()
    this.#tags = new Map()
    return out
  }

  /** Whether a kept invalidation covers the entry stored under `full`. */
  covers(full: string): boolean {
    if (this.#all || this.#keys.has(full)) return true
    for (const { matches } of this.#patterns.values()) if (matches(full)) return true
    return false
  }

  /** Whether a kept tag invalidation covers an entry stamped with `tags`. */
  coversTags(tags: readonly TagStamp[]): boolean {
    if (this.#all) return true
    if (this.#tags.size === 0) return false
    return tags.some(([tag]) => this.#tags.has(tag))
  }

  // A collapsed backlog replays as a clear: hard, and always correct, only colder.
  #collapse(): void {
    this.#all = true
    this.#keys.clear()
    this.#patterns.clear()
    this.#tags.clear()
  }
}

// The hard targets and the soft ones, each as one list (empty lists left out).
function split(targets: ReadonlyMap<string, boolean>): Array<[string[], true?]> {
  const hard: string[] = []
  const soft: string[] = []
  for (const [target, isSoft] of targets) (isSoft ? soft : hard).push(target)
  const out: Array<[string[], true?]> = []
  if (hard.length > 0) out.push([hard])
  if (soft.length > 0) out.push([soft, true])
  return out
}
