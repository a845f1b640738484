import { boundKey } from './digest.js'
import { CacheError, ErrorCodes } from './errors.js'
import { prefixOf, type StatsRecorder } from './stats.js'
import type { CacheCounters, ReadOutcome } from './types.js'

// Keys whose full form and counters are remembered; past this the memo starts over (hot keys come
// back at once, so a plain reset beats LRU bookkeeping on every read).
const KEY_MEMO_LIMIT = 10_000
// Entries with more tags than this are checked in a second round trip rather than widening every read.
const MAX_HINTED_TAGS = 8

/** What a read needs to know about a key, computed once per key instead of once per read. */
export interface KeyInfo {
  /** The key as given by the caller. */
  key: string
  /** The key as stored. */
  full: string
  /** The counters of the key's prefix. */
  counters: CacheCounters
  /**
   * The full key followed by the tag keys the entry was last seen with. A read then fetches the
   * entry and its tag epochs in ONE batched call instead of two round trips.
   */
  batch: string[] | undefined
  /** How the key's latest read was answered; `operation` events report it. */
  outcome: ReadOutcome | undefined
  /** The in-process tier has just answered a read of this key; the hit that follows is an L1 hit. */
  nearHit: boolean
}

/**
 * The keyspace of one cache: `{keyPrefix}:{version}:{key}` for entries, and beside it namespaces no
 * user key can reach (`#tag:`, `#lease:`, `#bus`) because a user key always follows the `:`.
 */
export class KeySpace {
  /** What every entry key starts with. */
  readonly base: string
  /** What every tag-epoch key starts with. */
  readonly tagBase: string
  /** What every lease key starts with. */
  readonly leaseBase: string
  /** The channel of the invalidation bus. */
  readonly channel: string
  readonly #memo = new Map<string, KeyInfo>()

  constructor(
    private readonly cache: string,
    keyPrefix: string,
    version: string,
    private readonly maxKeyLength: number,
    private readonly recorder: StatsRecorder,
  ) {
    this.base = `${keyPrefix}:${version}:`
    this.tagBase = `${keyPrefix}:${version}#tag:`
    this.leaseBase = `${keyPrefix}:${version}#lease:`
    this.channel = `${keyPrefix}:${version}#bus`
  }

  /** The key as stored; rejects keys that are not non-empty strings. */
  full(key: string): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new CacheError(
        ErrorCodes.INVALID_KEY,
        `cache "${this.cache}": a key must be a non-empty string, got ${key === '' ? 'an empty string' : typeof key}`,
        { cache: this.cache },
      )
    }
    return this.base + (key.length > this.maxKeyLength ? boundKey(key, this.maxKeyLength) : key)
  }

  /** The stored form and counters of `key`, validated on first use and then remembered. */
  info(key: string): KeyInfo {
    // A key built by concatenation (a decorated call's prefix and argument digest) is a tree of pieces
    // until something reads it; reading one character makes V8 flatten it, after which hashing and
    // comparing it in the memo below cost a fraction of what they cost on the tree.
    if (typeof key === 'string' && key.length > 0) key.charCodeAt(0)
    let info = this.#memo.get(key)
    if (info === undefined) {
      const full = this.full(key)
      info = {
        key,
        full,
        counters: this.recorder.of(prefixOf(key)),
        batch: undefined,
        outcome: undefined,
        nearHit: false,
      }
      if (this.#memo.size >= KEY_MEMO_LIMIT) this.#memo.clear()
      this.#memo.set(key, info)
    }
    return info
  }

  /** {@link info} of every key; rejects anything but an array. */
  infos(keys: readonly string[]): KeyInfo[] {
    if (!Array.isArray(keys)) {
      throw new CacheError(
        ErrorCodes.INVALID_KEY,
        `cache "${this.cache}": keys must be an array of strings`,
        {
          cache: this.cache,
        },
      )
    }
    return keys.map((key) => this.info(key))
  }

  /** The lease key of an entry key. */
  leaseOf(info: KeyInfo): string {
    return this.leaseBase + info.full.slice(this.base.length)
  }

  /** Remembers the tags an entry was seen with, so the next read fetches their epochs with it. */
  hintTags(info: KeyInfo, tags: ReadonlyArray<readonly [string, string]>): void {
    info.batch =
      tags.length <= MAX_HINTED_TAGS ? [info.full, ...tags.map(([tag]) => this.tagBase + tag)] : undefined
  }
}
