import { encodeEntry } from './codec.js'
import { parseDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { Fence } from './fences.js'
import type { KeyInfo, KeySpace } from './keys.js'
import type { Reporter } from './reporter.js'
import type { Settings } from './settings.js'
import type { TagEpochs } from './tags.js'
import type { LeaseHeld, Put, Tiers } from './tiers.js'
import type { Duration, Entry, SetManyEntry, TagStamp } from './types.js'

/** The windows an entry may be served in after its TTL, resolved from call and cache options. */
export interface StaleRules {
  staleMs: number
  graceMs: number
  softTimeoutMs: number | undefined
  /** The call named its own grace window: it alone decides, not the window an entry was written with. */
  graceFromCall?: boolean
}

/** One value to write. */
export interface Write {
  key: string
  value: unknown
  ttl: Duration | undefined
  tags: readonly string[] | undefined
  /** For a loaded value: the load's permit, checked just before the store is written. */
  fence?: Fence
  /** For a loaded value: the epochs of `tags` read before the load started. */
  stamps?: readonly TagStamp[] | undefined
  /** This entry's grace window, when its loader chose one; else the rules' window. */
  graceMs?: number | undefined
  /** For a load under a lease: the lease it must still hold when the result is written. */
  lease?: LeaseHeld | undefined
}

/**
 * Turns values into entries and writes them: TTL (with jitter), the stale and grace windows, tag
 * stamps, encoding — all before anything touches a store, so a bad value leaves nothing half-written.
 */
export class Writer {
  constructor(
    private readonly cache: string,
    private readonly settings: Settings,
    private readonly keys: KeySpace,
    private readonly tiers: Tiers,
    private readonly tags: TagEpochs,
    private readonly reporter: Reporter,
  ) {}

  /** A TTL in milliseconds, the cache's default when absent, shortened by the cache's jitter. */
  ttlOf(ttl: Duration | undefined): number {
    const ms =
      ttl === undefined ? this.settings.ttlMs : parseDuration(ttl, { cache: this.cache, field: 'ttl' })
    if (ms === 0 || this.settings.jitter === 0) return ms
    return Math.max(1, Math.round(ms * (1 - Math.random() * this.settings.jitter)))
  }

  /** Writes one value or a batch; false when the store failed (fail-open), rejects on bad input. */
  async write(writes: readonly Write[], rules: StaleRules, single: boolean): Promise<boolean> {
    // Validate and encode every entry first: one bad value rejects the batch before any write.
    const prepared = writes.map((item) => {
      const info = this.keys.info(item.key)
      const ttlMs = this.ttlOf(item.ttl)
      return { item, info, ttlMs }
    })
    // A single write with a TTL of 0 stores nothing, so there is nothing to encode either.
    if (single && prepared[0]!.ttlMs === 0) return true
    return this.writePrepared(prepared, rules, single)
  }

  /**
   * An explicit write of one value (`set`, tags already checked): {@link write} without its arrays
   * and awaits while the tags' epochs are known; when they must be read first, the batch path.
   */
  writeOne(
    key: string,
    info: KeyInfo,
    value: unknown,
    ttl: Duration | undefined,
    tags: readonly string[] | undefined,
    rules: StaleRules,
  ): Promise<boolean> {
    const ttlMs = this.ttlOf(ttl)
    // A TTL of 0 stores nothing, so there is nothing to encode either.
    if (ttlMs === 0) return Promise.resolve(true)
    const stamps = tags === undefined ? undefined : this.tags.recall(tags)
    if (tags !== undefined && stamps === undefined) {
      return this.writePrepared([{ item: { key, value, ttl, tags }, info, ttlMs }], rules, true)
    }
    const entry = this.entryOf(value, ttlMs, rules)
    // Recalled epochs come in the order of the tags: already the entry's stamps.
    entry.tags = stamps
    const bytes = this.tiers.needsBytes ? encodeEntry(entry, key, this.cache, this.settings.codec) : undefined
    info.batch = undefined
    if (stamps !== undefined) this.keys.hintTags(info, stamps)
    const lifetimeMs = entry.staleUntil === 0 ? undefined : entry.staleUntil - entry.createdAt
    return this.tiers.putOne({ info, entry, bytes, lifetimeMs }).then((ok) => {
      if (ok) this.reporter.counted('sets', info)
      return ok
    })
  }

  private async writePrepared(
    items: ReadonlyArray<{ item: Write; info: KeyInfo; ttlMs: number }>,
    rules: StaleRules,
    single: boolean,
  ): Promise<boolean> {
    const prepared = items.map(({ item, info, ttlMs }) => {
      const entry = this.entryOf(
        item.value,
        ttlMs,
        item.graceMs === undefined ? rules : { ...rules, graceMs: item.graceMs },
      )
      const tags = this.tags.valid(item.tags)
      // Epochs read before a load started are the ones to stamp its result with: an invalidation of a
      // tag during the load then leaves the result stamped with the older epoch, read as a miss
      // everywhere. Epochs read lately stamp it at once, so it is encoded once, in its final form.
      const stamps = tags === undefined ? undefined : (item.stamps ?? this.tags.recall(tags))
      if (tags !== undefined && stamps !== undefined) entry.tags = stampsOf(tags, stamps)
      // A tagged entry not stamped yet is encoded again once it is: compress and encrypt only that form.
      const final = tags === undefined || entry.tags !== undefined
      const codec = final ? this.settings.codec : undefined
      const bytes = this.tiers.needsBytes ? encodeEntry(entry, item.key, this.cache, codec) : undefined
      if (single) info.batch = undefined
      if (entry.tags !== undefined) this.keys.hintTags(info, entry.tags)
      return { key: item.key, info, ttlMs, entry, bytes, tags, item, final }
    })
    const unstamped = [...new Set(prepared.flatMap((p) => (p.final ? [] : (p.tags ?? []))))]
    let current: readonly TagStamp[] | undefined
    if (unstamped.length > 0) {
      current = await this.tags.stamp(unstamped, Math.max(...prepared.map((p) => p.ttlMs)))
      if (current === undefined) {
        // Nothing was written, so the store keeps its older values: they go when it is back.
        this.tiers.keep({ keys: prepared.map((p) => p.info.full) })
        return false
      }
    }
    for (const p of prepared) {
      if (p.final) continue
      p.entry.tags = stampsOf(p.tags!, current!)!
      this.keys.hintTags(p.info, p.entry.tags)
      if (p.bytes !== undefined) p.bytes = encodeEntry(p.entry, p.key, this.cache, this.settings.codec)
    }
    // Checked after the last await before the write: a load whose key was invalidated while it ran
    // stores nothing.
    const kept = prepared.filter((p) => p.ttlMs > 0 && (p.item.fence?.allows(p.tags) ?? true))
    if (kept.length === 0) return true
    const puts: Put[] = kept.map((p) => ({
      info: p.info,
      entry: p.entry,
      bytes: p.bytes,
      lifetimeMs: p.entry.staleUntil === 0 ? undefined : p.entry.staleUntil - p.entry.createdAt,
      lease: p.item.lease,
    }))
    const ok = await this.tiers.put(puts, single)
    if (ok) for (const p of kept) this.reporter.counted('sets', p.info)
    return ok
  }

  /** `setMany`'s input, checked. */
  batch(entries: readonly SetManyEntry[]): Write[] {
    if (!Array.isArray(entries)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.cache}": setMany takes an array of { key, value }`,
        {
          cache: this.cache,
        },
      )
    }
    return entries.map((e) => ({ key: e.key, value: e.value, ttl: e.ttl, tags: e.tags }))
  }

  private entryOf(value: unknown, ttlMs: number, rules: StaleRules): Entry {
    const now = Date.now()
    const expiresAt = ttlMs > 0 ? now + ttlMs : 0
    const staleUntil = expiresAt === 0 ? 0 : expiresAt + Math.max(rules.staleMs, rules.graceMs)
    return { value, createdAt: now, expiresAt, staleUntil, tags: undefined }
  }
}

/** Each tag with its epoch among `stamps`, or undefined when one of them has none. */
function stampsOf(tags: readonly string[], stamps: readonly TagStamp[]): TagStamp[] | undefined {
  const out: TagStamp[] = []
  for (const tag of tags) {
    const found = stamps.find(([stamped]) => stamped === tag)
    if (found === undefined) return undefined
    out.push([tag, found[1]])
  }
  return out
}
