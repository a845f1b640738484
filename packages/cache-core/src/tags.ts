import type { CacheAdapter } from './adapter.js'
import { CacheError, ErrorCodes } from './errors.js'
import { type Guard, MISS, type Miss } from './guard.js'
import { type KeySpace, loneSurrogateAt } from './keys.js'
import type { Entry, TagStamp } from './types.js'

// Tag lists up to this long are checked for repeats pairwise.
const SMALL_TAG_LIST = 8

// Stored form of an entry or epoch: bytes for ordinary adapters, the value itself for by-reference ones.
type Stored = Uint8Array | Entry | string

const TAG_TTL_FLOOR = 30 * 24 * 60 * 60_000
// How long an epoch this process read or created stamps its writes without being read again. A tag
// invalidated meanwhile by a process this one does not hear from leaves such writes stamped with the
// older epoch: read as misses everywhere, never as stale values, for this long at most.
const EPOCH_MEMO_MS = 1_000
// Most tags whose epochs are remembered; past this the memo starts over.
const EPOCH_MEMO_LIMIT = 10_000
const MAX_TTL = 10 * 365 * 24 * 60 * 60_000

const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')

/**
 * Whether an entry's tags still hold: `true` (all current), `false` (a tag was invalidated, or is
 * missing), or the time of the earliest soft invalidation of one of its tags.
 */
export type TagVerdict = boolean | number

// A softly invalidated tag holds `{new epoch}~{previous epoch}~{time}`: entries of the previous
// epoch are expired at that time into their grace window rather than gone. Epochs never hold "~".
const SOFT = '~'

/** A new, unique tag epoch (also used as a lease token). */
export const newEpoch = (): string => `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`

/**
 * Tags as epochs kept in the store, one key per tag (`{prefix}:{version}#tag:{tag}`). An entry is
 * stamped with the epochs of its tags when written; invalidating a tag gives it a new epoch, after
 * which every entry stamped with an older one reads as a miss — on every process, with no list of
 * tagged keys to maintain. A missing tag key (evicted, expired) invalidates its entries too.
 */
export class TagEpochs {
  // Epochs read or created lately, and when they were read: a tagged write then costs no round trip.
  readonly #known = new Map<string, { epoch: string; at: number }>()
  // Bumped by every invalidation this process hears of: a read that started before one must not put
  // the epoch it read (perhaps the one just replaced) back into the memo.
  #forgotten = 0

  constructor(
    private readonly cache: string,
    private readonly keys: KeySpace,
    private readonly store: CacheAdapter<any>,
    private readonly guard: Guard,
    private readonly byRef: boolean,
  ) {}

  /** Forgets the remembered epochs of tags that were (or are being) invalidated. */
  forget(tags: readonly string[]): void {
    this.#forgotten++
    for (const tag of tags) this.#known.delete(tag)
  }

  // Remembers what a read that started while `since` was current found.
  #remember(stamps: readonly TagStamp[], since: number, at: number): void {
    if (since !== this.#forgotten) return
    if (this.#known.size + stamps.length > EPOCH_MEMO_LIMIT) this.#known.clear()
    for (const [tag, epoch] of stamps) this.#known.set(tag, { epoch, at })
  }

  // The remembered epochs of every tag, or undefined when one is missing or too old.
  #recalled(tags: readonly string[], now: number): TagStamp[] | undefined {
    const stamps: TagStamp[] = []
    for (const tag of tags) {
      const known = this.#known.get(tag)
      if (known === undefined || now - known.at >= EPOCH_MEMO_MS) return undefined
      stamps.push([tag, known.epoch])
    }
    return stamps
  }

  /** The tags as given, de-duplicated; undefined for none; rejects anything but non-empty strings. */
  valid(tags: readonly string[] | undefined): string[] | undefined {
    if (tags === undefined) return undefined
    if (!Array.isArray(tags)) throw this.#badTags()
    const count = tags.length
    for (let i = 0; i < count; i++) {
      const tag: unknown = tags[i]
      if (typeof tag !== 'string' || tag.length === 0 || loneSurrogateAt(tag) !== -1) throw this.#badTags()
    }
    if (count === 0) return undefined
    // A write names a few tags, on every call: comparing them beats building a Set.
    if (count <= SMALL_TAG_LIST) {
      for (let i = 1; i < count; i++)
        for (let j = 0; j < i; j++) if (tags[i] === tags[j]) return [...new Set(tags)]
      return tags.slice()
    }
    return [...new Set(tags)]
  }

  #badTags(): CacheError {
    return new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${this.cache}": tags must be an array of non-empty strings of well-formed Unicode (no lone surrogates)`,
      { cache: this.cache, field: 'tags' },
    )
  }

  /** The epoch held in a stored tag key. */
  epochOf(stored: Stored): string {
    const text = this.textOf(stored)
    const soft = text.indexOf(SOFT)
    return soft === -1 ? text : text.slice(0, soft)
  }

  private textOf(stored: Stored): string {
    return this.byRef ? String(stored) : latin1(stored as Uint8Array)
  }

  /** How an entry stamped with `epoch` stands against the stored tag key `current`. */
  private verdict(current: Stored | undefined, epoch: string): TagVerdict {
    if (current === undefined) return false
    const text = this.textOf(current)
    if (text === epoch) return true
    const [now, previous, at] = text.split(SOFT)
    if (now === epoch) return true
    return previous === epoch && at !== undefined && Number(at) > 0 ? Number(at) : false
  }

  /** Combines the verdicts of an entry's tags: any `false` wins, else the earliest soft time. */
  private combine(tags: readonly TagStamp[], current: (tag: string) => Stored | undefined): TagVerdict {
    let result: TagVerdict = true
    for (const [tag, epoch] of tags) {
      const one = this.verdict(current(tag), epoch)
      if (one === false) return false
      if (typeof one === 'number' && (result === true || one < (result as number))) result = one
    }
    return result
  }

  /**
   * The writes that invalidate each tag softly: a new epoch that remembers the one before, so
   * entries of that one expire into grace instead of going. Reads the current epochs first.
   */
  async softBumps(tags: readonly string[]): Promise<Array<{ key: string; value: Stored; ttlMs: number }>> {
    this.forget(tags)
    const keys = tags.map((tag) => this.keys.tagBase + tag)
    const raws = await this.store.getMany(keys)
    const now = Date.now()
    return keys.map((key, i) => {
      const raw = raws[i]
      const epoch = newEpoch()
      const text = raw === undefined ? epoch : `${epoch}${SOFT}${this.epochOf(raw)}${SOFT}${now}`
      return { key, value: this.stored(text), ttlMs: this.ttl(0) }
    })
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
    this.forget(tags)
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
  check(entries: ReadonlyArray<Entry | undefined>): TagVerdict[] | Promise<TagVerdict[]> {
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
    // An epoch that could not be read (its node failed) leaves the entries carrying it unverified.
    const judge = (raws: Array<Stored | undefined | Miss> | Miss): TagVerdict[] => {
      if (raws !== MISS) this.#notice(index, raws)
      return entries.map((entry) => {
        if (entry?.tags === undefined) return true
        if (raws === MISS || entry.tags.some(([tag]) => raws[index.get(tag)!] === MISS)) return false
        return this.combine(entry.tags, (tag) => raws[index.get(tag)!] as Stored | undefined)
      })
    }
    const raws = this.guard.readMany<Stored | undefined>('getMany', tagKeys, (keys) =>
      this.store.getMany(keys),
    )
    return raws instanceof Promise ? raws.then(judge) : judge(raws)
  }

  /** Checks tag epochs fetched with the entry in one batch; undefined when a tag was not among them. */
  judgeHinted(
    tags: readonly TagStamp[],
    batch: readonly string[],
    answer: ReadonlyArray<Stored | undefined>,
  ): TagVerdict | undefined {
    for (const [tag] of tags) if (batch.indexOf(this.keys.tagBase + tag, 1) === -1) return undefined
    const current = (tag: string) => answer[batch.indexOf(this.keys.tagBase + tag, 1)]
    if (this.#known.size > 0) {
      for (const [tag] of tags) this.#noticeOne(tag, current(tag))
    }
    return this.combine(tags, current)
  }

  /** The remembered epochs of every tag, when each was read lately; no store operation. */
  recall(tags: readonly string[]): TagStamp[] | undefined {
    return this.#known.size === 0 ? undefined : this.#recalled(tags, Date.now())
  }

  /** The current epoch of each tag, creating missing ones; undefined when the store failed. */
  async stamp(tags: readonly string[], entryTtlMs: number): Promise<TagStamp[] | undefined> {
    const now = Date.now()
    const recalled = this.#recalled(tags, now)
    if (recalled !== undefined) return recalled
    const since = this.#forgotten
    const stamps = await this.#read(tags, entryTtlMs)
    if (stamps !== undefined) this.#remember(stamps, since, now)
    return stamps
  }

  // A tag read by an entry check that no longer holds the remembered epoch (another process
  // invalidated it, or it was evicted) is forgotten, so the next write reads it afresh.
  // An epoch its node could not answer for is forgotten too: nothing vouches for it any more.
  #notice(index: ReadonlyMap<string, number>, raws: ReadonlyArray<Stored | undefined | Miss>): void {
    if (this.#known.size === 0) return
    for (const [tag, i] of index) {
      const raw = raws[i]
      if (raw === MISS) this.#known.delete(tag)
      else this.#noticeOne(tag, raw)
    }
  }

  #noticeOne(tag: string, raw: Stored | undefined): void {
    const known = this.#known.get(tag)
    if (known !== undefined && (raw === undefined || this.epochOf(raw) !== known.epoch)) {
      this.#known.delete(tag)
    }
  }

  async #read(tags: readonly string[], entryTtlMs: number): Promise<TagStamp[] | undefined> {
    const keys = tags.map((tag) => this.keys.tagBase + tag)
    const raws = await this.guard.readMany<Stored | undefined>('getMany', keys, (part) =>
      this.store.getMany(part),
    )
    if (raws === MISS || raws.some((raw) => raw === MISS)) return undefined
    const stamps: TagStamp[] = []
    for (let i = 0; i < tags.length; i++) {
      const raw = raws[i] as Stored | undefined
      if (raw !== undefined) {
        stamps.push([tags[i]!, this.epochOf(raw)])
        continue
      }
      const epoch = newEpoch()
      const stored = this.stored(epoch)
      const node = this.guard.nodeOf?.(keys[i]!)
      const ttl = this.ttl(entryTtlMs)
      const created = this.store.setIfAbsent
        ? await this.guard.call(
            'setIfAbsent',
            undefined,
            () => this.store.setIfAbsent!(keys[i]!, stored, ttl),
            undefined,
            undefined,
            node,
          )
        : (await this.guard.call(
            'set',
            undefined,
            () => this.store.set(keys[i]!, stored, ttl),
            undefined,
            undefined,
            node,
          )) !== MISS
      if (created === MISS) return undefined
      if (created) {
        stamps.push([tags[i]!, epoch])
        continue
      }
      // Another writer created the tag first: use its epoch.
      const again = await this.guard.call(
        'get',
        undefined,
        () => this.store.get(keys[i]!),
        undefined,
        undefined,
        node,
      )
      if (again === MISS || again === undefined) return undefined
      stamps.push([tags[i]!, this.epochOf(again)])
    }
    return stamps
  }
}
