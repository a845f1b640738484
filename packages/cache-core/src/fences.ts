import type { Invalidation } from './bus.js'
import { compileGlob } from './glob.js'

/**
 * The permit of one running load to write its result. An invalidation of the load's key — delete,
 * set, pattern, tag or clear, here or delivered by the bus — that happens while the load runs
 * revokes it: the result still goes to the callers, but is not stored over the invalidation.
 */
export class Fence {
  /** Revoked outright: the key itself was invalidated. */
  revoked = false
  /** Tags invalidated while the load ran; a result carrying one of them is not stored. */
  revokedTags: Set<string> | undefined

  constructor(
    readonly full: string,
    /** The tags the load was asked to store its result with: fixed, computed from it, or none. */
    readonly tags: readonly string[] | 'computed' | undefined,
  ) {}

  /** Whether the result may carry one of `tags` (always, when its tags are computed from it). */
  mayCarry(tags: readonly string[]): boolean {
    if (this.tags === undefined) return false
    return this.tags === 'computed' || tags.some((tag) => (this.tags as readonly string[]).includes(tag))
  }

  /** Whether an entry with `tags` may still be written. */
  allows(tags: readonly string[] | undefined): boolean {
    if (this.revoked) return false
    if (this.revokedTags === undefined || tags === undefined) return true
    return !tags.some((tag) => this.revokedTags!.has(tag))
  }
}

/** The fences of every load running in this process, by full key. */
export class Fences {
  readonly #open = new Map<string, Set<Fence>>()

  /** A fence for a load of `full` that starts now; close it when the load ends. */
  open(full: string, tags?: readonly string[] | 'computed'): Fence {
    const fence = new Fence(full, tags)
    let set = this.#open.get(full)
    if (set === undefined) {
      set = new Set()
      this.#open.set(full, set)
    }
    set.add(fence)
    return fence
  }

  /** Forgets a fence once its load has ended. */
  close(fence: Fence): void {
    const set = this.#open.get(fence.full)
    if (set === undefined) return
    set.delete(fence)
    if (set.size === 0) this.#open.delete(fence.full)
  }

  /** The keys of running loads whose results may carry one of `tags`. */
  carrying(tags: readonly string[]): Set<string> {
    const found = new Set<string>()
    for (const [full, set] of this.#open) {
      for (const fence of set) if (fence.mayCarry(tags)) found.add(full)
    }
    return found
  }

  /** Revokes the fences an invalidation covers. */
  revoke(invalidation: Invalidation): void {
    if (this.#open.size === 0) return
    for (const key of invalidation.keys ?? []) {
      for (const fence of this.#open.get(key) ?? []) fence.revoked = true
    }
    if (invalidation.pattern !== undefined) {
      const matches = compileGlob(invalidation.pattern)
      for (const [full, set] of this.#open) if (matches(full)) for (const fence of set) fence.revoked = true
    }
    if (invalidation.all) {
      for (const set of this.#open.values()) {
        for (const fence of set) {
          // A tag invalidation names its tags; anything else that empties every L1 revokes every load.
          if (invalidation.tags === undefined) fence.revoked = true
          else {
            fence.revokedTags ??= new Set()
            for (const tag of invalidation.tags) fence.revokedTags.add(tag)
          }
        }
      }
    }
  }
}
