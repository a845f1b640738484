/**
 * Durations: the one way every option of Cacheport spells a length of time.
 *
 * A duration is a number of milliseconds (finite, not negative; a fraction is rounded up to the
 * next whole millisecond, so a tiny positive TTL never becomes "no TTL"), or a string of a
 * non-negative decimal number (`1.5`, not `.5` or `1e3`) and a unit — `ms`, `s`, `m`, `h` or `d` — such as `'500ms'`, `'5m'`,
 * `'24h'`, `'7d'` or `'1.5h'`. Whitespace around the string and between number and unit is
 * ignored. Units are lower case only (`'5M'` could mean months). A bare numeric string such as
 * `'300'` is rejected: Django reads it as seconds, JavaScript as milliseconds, so it is ambiguous.
 * Durations longer than ten years are rejected too: such a value is far more likely a typo (an
 * extra zero, seconds written as milliseconds) than an intent.
 */
import { CacheError, ErrorCodes } from './errors.js'
import type { Duration } from './types.js'

/** Where a duration came from, for the error message: the cache (when known) and the option. */
export interface DurationSource {
  /** Name of the cache the option belongs to. */
  cache?: string | undefined
  /** Name of the option, e.g. `ttl` or `lease.wait`. */
  field: string
}

/** The longest accepted duration: ten years of 365 days, in milliseconds. */
export const MAX_DURATION_MS = 3650 * 86_400_000

const MAX_DURATION_BIG = BigInt(MAX_DURATION_MS)

// Parsed strings, so that a per-call `ttl: '5m'` costs one Map lookup. Bounded, because strings
// may come from outside (configuration, request data); when full it simply starts over.
const parsed = new Map<string, number>()
const PARSED_LIMIT = 1024

/** Parses a Duration into whole milliseconds. `where` names the cache and field for the error. */
export function parseDuration(input: Duration, where: DurationSource): number {
  if (typeof input === 'number') {
    // `+ 0` turns -0 into 0
    if (input >= 0 && input <= MAX_DURATION_MS) return Math.ceil(input) + 0
    throw input > MAX_DURATION_MS && input !== Number.POSITIVE_INFINITY
      ? tooLong(input, where)
      : invalid(input, where)
  }
  if (typeof input === 'string') {
    const known = parsed.get(input)
    if (known !== undefined) return known
    const ms = parseDurationText(input, where)
    if (parsed.size >= PARSED_LIMIT) parsed.clear()
    parsed.set(input, ms)
    return ms
  }
  throw invalid(input, where)
}

/** Like parseDuration but `undefined` passes through. */
export function parseOptionalDuration(
  input: Duration | undefined,
  where: DurationSource,
): number | undefined {
  return input === undefined ? undefined : parseDuration(input, where)
}

function parseDurationText(text: string, where: DurationSource): number {
  let start = 0
  let end = text.length
  while (start < end && isSpace(text.charCodeAt(start))) start++
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--

  // The number: digits, then optionally "." and more digits.
  let i = start
  let scale = 1n
  while (i < end && isDigit(text.charCodeAt(i))) i++
  if (i === start) throw invalid(text, where)
  let digits = text.slice(start, i)
  if (i < end && text.charCodeAt(i) === 46 /* . */) {
    const fractionStart = ++i
    while (i < end && isDigit(text.charCodeAt(i))) i++
    if (i === fractionStart) throw invalid(text, where)
    digits += text.slice(fractionStart, i)
    scale = 10n ** BigInt(i - fractionStart)
  }

  while (i < end && isSpace(text.charCodeAt(i))) i++
  const factor = unitFactor(text.slice(i, end))
  if (factor === 0n) throw invalid(text, where)

  // Integer arithmetic, because in floating point 1.1 * 1000 is 1100.0000000000002, which would
  // round up to 1101 ms.
  const scaled = BigInt(digits) * factor
  const ms = scaled / scale + (scaled % scale === 0n ? 0n : 1n)
  if (ms > MAX_DURATION_BIG) throw tooLong(text, where)
  return Number(ms)
}

/** Milliseconds per unit, 0n for anything that is not a unit. */
function unitFactor(unit: string): bigint {
  switch (unit) {
    case 'ms':
      return 1n
    case 's':
      return 1000n
    case 'm':
      return 60_000n
    case 'h':
      return 3_600_000n
    case 'd':
      return 86_400_000n
    default:
      return 0n
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13
}

function subject(where: DurationSource): string {
  return `${where.cache === undefined ? '' : `cache "${where.cache}": `}option "${where.field}"`
}

function invalid(input: unknown, where: DurationSource): CacheError {
  return new CacheError(
    ErrorCodes.INVALID_DURATION,
    `${subject(where)} must be a duration like "5m" or a number of milliseconds, got ${describe(input)}`,
    { cache: where.cache, field: where.field },
  )
}

function tooLong(input: unknown, where: DurationSource): CacheError {
  return new CacheError(
    ErrorCodes.INVALID_DURATION,
    `${subject(where)} must be at most 10 years ("3650d", ${MAX_DURATION_MS} ms); a longer duration is taken for a typo, got ${describe(input)}`,
    { cache: where.cache, field: where.field },
  )
}

function describe(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input)
  if (typeof input === 'bigint') return `${input}n`
  if (input === null || typeof input !== 'object') return String(input)
  return Array.isArray(input) ? 'an array' : 'an object'
}
