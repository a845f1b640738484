import { boundKey } from './digest.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { StatsRecorder } from './stats.js'
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

  /** The key as stored; rejects keys that are not non-empty strings of well-formed Unicode. */
  full(key: string): string {
    assertKey(key, this.cache)
    return this.base + (key.length > this.maxKeyLength ? boundKey(key, this.maxKeyLength) : key)
  }

  /** Forgets every remembered key, so the next use of each one looks up its counters again. */
  forget(): void {
    this.#memo.clear()
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
        counters: this.recorder.of(key),
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
    if (tags.length > MAX_HINTED_TAGS) {
      info.batch = undefined
      return
    }
    const batch = [info.full]
    for (const [tag] of tags) batch.push(this.tagBase + tag)
    info.batch = batch
  }
}

// What a key (or pattern, or tag) must be before it reaches a store. Keys are JavaScript strings, but
// stores keep them as UTF-8, where a lone surrogate (half of a UTF-16 pair, e.g. '\uD800') has no
// encoding: Redis would receive U+FFFD instead, so 'a\uD800' and 'a\uDC00' would be one key there and
// two in memory. Such keys are refused on every adapter.

// With the `u` flag a well-formed pair is one code point, so this finds only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

// Keys in messages are cut to this many characters; the index says where the problem is.
const SHOWN_KEY_LENGTH = 80

/** Index of the first lone surrogate in `text`, or -1 when it is well-formed Unicode. */
export function loneSurrogateAt(text: string): number {
  const found = LONE_SURROGATE.exec(text)
  return found === null ? -1 : found.index
}

/**
 * Throws `E_INVALID_KEY` unless `key` is a non-empty string of well-formed Unicode; the message names
 * the cache, the key and the index of a lone surrogate.
 */
export function assertKey(key: unknown, cache: string): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheError(
      ErrorCodes.INVALID_KEY,
      `cache "${cache}": a key must be a non-empty string, got ${key === '' ? 'an empty string' : typeof key}`,
      { cache },
    )
  }
  const at = loneSurrogateAt(key)
  if (at !== -1) {
    throw new CacheError(
      ErrorCodes.INVALID_KEY,
      `cache "${cache}": key ${show(key)} ${surrogateProblem(key, at)}`,
      {
        cache,
        key,
      },
    )
  }
}

/** Throws `E_INVALID_PATTERN` unless `pattern` is a non-empty string of well-formed Unicode. */
export function assertPattern(pattern: unknown, cache: string): asserts pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new CacheError(
      ErrorCodes.INVALID_PATTERN,
      `cache "${cache}": a pattern must be a non-empty glob such as "filter_counts:*", got ${JSON.stringify(pattern)}`,
      { cache },
    )
  }
  const at = loneSurrogateAt(pattern)
  if (at !== -1) {
    throw new CacheError(
      ErrorCodes.INVALID_PATTERN,
      `cache "${cache}": pattern ${show(pattern)} ${surrogateProblem(pattern, at)}`,
      { cache },
    )
  }
}

function surrogateProblem(text: string, at: number): string {
  const unit = text.charCodeAt(at).toString(16)
  return `has a lone surrogate \\u${unit} at index ${at}; keys must be well-formed Unicode, because stores keep them as UTF-8, where it would become U+FFFD and merge with other keys`
}

function show(text: string): string {
  // JSON.stringify escapes lone surrogates as \udxxx, so the message itself stays well-formed.
  return text.length > SHOWN_KEY_LENGTH
    ? `${JSON.stringify(text.slice(0, SHOWN_KEY_LENGTH))}...`
    : JSON.stringify(text)
}
