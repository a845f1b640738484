/**
 * What a key (or pattern, or tag) must be before it reaches a store.
 *
 * Keys are JavaScript strings, but stores keep them as UTF-8, where a lone surrogate (half of a
 * UTF-16 pair, e.g. `'\uD800'`) has no encoding: Redis would receive U+FFFD instead, so `'a\uD800'`
 * and `'a\uDC00'` would be one key there and two in memory. Such keys are refused on every adapter.
 */
import { CacheError, ErrorCodes } from './errors.js'

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
