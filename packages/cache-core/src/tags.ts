import type { CacheAdapter } from './adapter.js'
import { CacheError, ErrorCodes } from './errors.js'
import { type Guard, MISS, type Miss } from './guard.js'
import { type KeySpace, loneSurrogateAt } from './keys.js'
import type { Entry, TagStamp } from './types.js'

// Stored form of an entry or epoch: bytes for ordinary adapters, the value itself for by-reference ones.
type Stored = Uint8Array | Entry | string

const TAG_TTL_FLOOR = 30 * 24 * 60 * 60_000
const MAX_TTL = 10 * 365 * 24 * 60 * 60_000

const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')

/** A new, unique tag epoch (also used as a lease token). */
export const newEpoch = (): string => `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`

/**
 * Tags as epochs kept in the store, one key per tag (`{prefix}:{version}#tag:{tag}`). An entry is
 * stamped with the epochs of its tags when written; invalidating a tag gives it a new epoch, after
 * which every entry stamped with an older one reads as a miss — on every process, with no list of
 * tagged keys to maintain. A missing tag key (evicted, expired) invalidates its entries too.
 */
export class TagEpochs {
  constructor(
    private readonly cache: string,
    private readonly keys: KeySpace,
    private readonly store: CacheAdapter<any>,
    private readonly guard: Guard,
    private readonly byRef: boolean,
  ) {}

  /** The tags as given, de-duplicated; undefined for none; rejects anything but non-empty strings. */
  valid(tags: readonly string[] | undefined): string[] | undefined {
    if (tags === undefined) return undefined
    if (
      !Array.isArray(tags) ||
      tags.some((tag) => typeof tag !== 'string' || tag.length === 0 || loneSurrogateAt(tag) !== -1)
    ) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.cache}": tags must be an array of non-empty strings of well-formed Unicode (no lone surrogates)`,
        { cache: this.cache, field: 'tags' },
      )
    }
    return tags.length === 0 ? undefined : [...new Set(tags)]
  }

  /** The epoch held in a stored tag key. */
  epochOf(stored: Stored): string {
    return this.byRef ? String(stored) : latin1(stored as Uint8Array)
  }

  /** An epoch in the form the store keeps. */
  stored(epoch: string): Stored {
    return this.byRef ? epoch : Buffer.from(epoch, 'latin1')
  }

  /** How long a tag key lives: well past its entries, so an eviction is the only way to lose it early. */
  ttl(entryTtlMs: number): number {
    return Math.min(MAX_TTL, Math.max(TAG_TTL_FLOOR, entryTtlMs * 2))
  }

  /** The writes that give each tag a new epoch. */
  bumps(tags: readonly string[]): Array<{ key: string; value: Stored; ttlMs: number }> {
    return tags.map((tag) => ({
      key: this.keys.tagBase + tag,
      value: this.stored(newEpoch()),
      ttlMs: this.ttl(0),
    }))
  }

  /**
   * Whether each entry's tags still carry the epochs it was written with. All tag keys of all entries
   * are read in one batch; a tag key that is missing invalidates its entries.
   */
  check(entries: ReadonlyArray<Entry | undefined>): boolean[] | Promise<boolean[]> {
    const tagKeys: string[] = []
    const index = new Map<string, number>()
    for (const entry of entries) {
      for (const [tag] of entry?.tags ?? []) {
        if (!index.has(tag)) {
          index.set(tag, tagKeys.length)
          tagKeys.push(this.keys.tagBase + tag)
        }
      }
    }
    if (tagKeys.length === 0) return entries.map(() => true)
    const judge = (raws: Array<Stored | undefined> | Miss): boolean[] =>
      entries.map((entry) => {
        if (entry?.tags === undefined) return true
        if (raws === MISS) return false
        return entry.tags.every(([tag, epoch]) => {
          const current = raws[index.get(tag)!]
          return current !== undefined && this.epochOf(current) === epoch
        })
      })
    const raws = this.guard.call('getMany', undefined, () => this.store.getMany(tagKeys))
    return raws instanceof Promise ? raws.then(judge) : judge(raws as Stored[] | Miss)
  }

  /** Checks tag epochs fetched with the entry in one batch; undefined when a tag was not among them. */
  judgeHinted(
    tags: readonly TagStamp[],
    batch: readonly string[],
    answer: ReadonlyArray<Stored | undefined>,
  ): boolean | undefined {
    for (const [tag, epoch] of tags) {
      const at = batch.indexOf(this.keys.tagBase + tag, 1)
      if (at === -1) return undefined
      const current = answer[at]
      if (current === undefined || this.epochOf(current) !== epoch) return false
    }
    return true
  }

  /** The current epoch of each tag, creating missing ones; undefined when the store failed. */
  async stamp(tags: readonly string[], entryTtlMs: number): Promise<TagStamp[] | undefined> {
    const keys = tags.map((tag) => this.keys.tagBase + tag)
    const raws = await this.guard.call('getMany', undefined, () => this.store.getMany(keys))
    if (raws === MISS) return undefined
    const stamps: TagStamp[] = []
    for (let i = 0; i < tags.length; i++) {
      const raw = raws[i]
      if (raw !== undefined) {
        stamps.push([tags[i]!, this.epochOf(raw)])
        continue
      }
      const epoch = newEpoch()
      const stored = this.stored(epoch)
      const ttl = this.ttl(entryTtlMs)
      const created = this.store.setIfAbsent
        ? await this.guard.call('setIfAbsent', undefined, () =>
            this.store.setIfAbsent!(keys[i]!, stored, ttl),
          )
        : (await this.guard.call('set', undefined, () => this.store.set(keys[i]!, stored, ttl))) !== MISS
      if (created === MISS) return undefined
      if (created) {
        stamps.push([tags[i]!, epoch])
        continue
      }
      // Another writer created the tag first: use its epoch.
      const again = await this.guard.call('get', undefined, () => this.store.get(keys[i]!))
      if (again === MISS || again === undefined) return undefined
      stamps.push([tags[i]!, this.epochOf(again)])
    }
    return stamps
  }
}
