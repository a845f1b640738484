import { parseDuration, parseOptionalDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import { loneSurrogateAt } from './keys.js'
import { checkStatsPrefixes } from './stats.js'
import type { CacheLogger, CacheOptions, LeaseOptions } from './types.js'

/** Default TTL: Django's default TIMEOUT. */
export const DEFAULT_TTL = 5 * 60_000
const DEFAULT_TIMEOUT = 1_000
const DEFAULT_BULK_TIMEOUT = 60_000
const DEFAULT_MAX_KEY = 200
const DEFAULT_BACKLOG = 1_000

/**
 * Every option of {@link CacheOptions}. Typed so that the compiler fails when an option is added to
 * the interface but not here (or the reverse), which keeps "unknown option" errors honest.
 */
const CACHE_OPTIONS = {
  adapter: true,
  l1: true,
  bus: true,
  staleWhileRevalidate: true,
  grace: true,
  softTimeout: true,
  keyPrefix: true,
  version: true,
  name: true,
  ttl: true,
  nullTtl: true,
  jitter: true,
  timeout: true,
  bulkTimeout: true,
  breaker: true,
  lease: true,
  logger: true,
  maxKeyLength: true,
  maxPendingInvalidations: true,
  statsPrefixes: true,
} as const satisfies Record<keyof CacheOptions, true>

/**
 * The logger of a cache given none: store failures must not go unnoticed in an app that never
 * configured logging, so warnings and errors reach stderr. Debug lines stay off.
 */
export const stderrLogger: CacheLogger = {
  warn: (_fields, message) => console.warn(`[cacheport] ${message}`),
  error: (_fields, message) => console.error(`[cacheport] ${message}`),
}

/**
 * The known name closest to a misspelt `field` (at most two edits away), for "did you mean" hints.
 */
export function closestName(field: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const name of known) {
    const distance = editDistance(field.toLowerCase(), name.toLowerCase())
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    previous = current
  }
  return previous[b.length]!
}

/** The error for an option that `known` does not list, with a hint when it looks like a typo. */
export function unknownOption(
  where: string,
  field: string,
  what: string,
  known: readonly string[],
  cache?: string,
): CacheError {
  const hint = closestName(field, known)
  return new CacheError(
    ErrorCodes.INVALID_CONFIG,
    `${where}: option "${field}" is not ${what}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; known options: ${known.join(', ')}`,
    cache === undefined ? { field } : { cache, field },
  )
}

/** A lease with every duration resolved to milliseconds. */
export interface ResolvedLease {
  ttlMs: number
  waitMs: number
  pollMs: number
}

/** Every option of a cache but its adapters, validated and resolved once. */
export interface Settings {
  name: string
  keyPrefix: string
  version: string
  ttlMs: number
  nullTtlMs: number | undefined
  jitter: number
  timeoutMs: number
  bulkTimeoutMs: number
  maxKeyLength: number
  statsPrefixes: readonly string[]
  lease: ResolvedLease | undefined
  threshold: number
  cooldownMs: number
  staleMs: number
  graceMs: number
  softTimeoutMs: number | undefined
  bus: boolean | undefined
  backlogLimit: number
  /** The logger to use: the given one, {@link stderrLogger} when none was given, none when `false`. */
  logger: CacheLogger | undefined
}

/**
 * Validates every option except the adapters, with errors that name the cache and the field. The
 * registry calls it before building any adapter, so a typo never leaves a connection open.
 */
export function resolveSettings(options: Omit<CacheOptions, 'adapter'>): Settings {
  if (options === null || typeof options !== 'object') {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, 'createCache: options must be an object')
  }
  const { keyPrefix } = options
  const named = typeof options.name === 'string' && options.name !== '' ? options.name : undefined
  const label = named ?? (typeof keyPrefix === 'string' && keyPrefix !== '' ? keyPrefix : undefined)
  // Without a name or prefix there is no cache to name yet: say which call failed instead.
  const where = label === undefined ? 'createCache' : `cache "${label}"`
  const invalid = (field: string, why: string, got: unknown) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: option "${field}" ${why}, got ${JSON.stringify(got) ?? String(got)}`,
      label === undefined ? { field } : { cache: label, field },
    )
  const known = Object.keys(CACHE_OPTIONS)
  for (const field of Object.keys(options)) {
    if (!Object.hasOwn(CACHE_OPTIONS, field)) {
      throw unknownOption(where, field, 'a cache option', known, label)
    }
  }
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    throw invalid('keyPrefix', 'must be a non-empty string', keyPrefix)
  }
  if (loneSurrogateAt(keyPrefix) !== -1) {
    throw invalid('keyPrefix', 'must be well-formed Unicode (it has a lone surrogate)', keyPrefix)
  }
  if (keyPrefix.includes(':')) {
    throw invalid('keyPrefix', 'must not contain ":" (it separates prefix, version and key)', keyPrefix)
  }
  const version = options.version ?? 1
  if (
    !(typeof version === 'number' && Number.isInteger(version) && version >= 0) &&
    !(typeof version === 'string' && /^[A-Za-z0-9_.-]+$/.test(version))
  ) {
    throw invalid(
      'version',
      'must be a non-negative integer or a string of letters, digits, "_", "." and "-"',
      version,
    )
  }
  // Past the keyPrefix check there always is a name to report.
  const name = label ?? keyPrefix
  const at = (field: string) => ({ cache: name, field })
  const jitter = options.jitter ?? 0
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw invalid('jitter', 'must be a number from 0 to 1 (the largest fraction cut from a TTL)', jitter)
  }
  const maxKeyLength = options.maxKeyLength ?? DEFAULT_MAX_KEY
  if (!Number.isInteger(maxKeyLength) || maxKeyLength < 64) {
    throw invalid('maxKeyLength', 'must be an integer of at least 64', maxKeyLength)
  }
  const timeoutMs =
    options.timeout === undefined ? DEFAULT_TIMEOUT : parseDuration(options.timeout, at('timeout'))
  if (timeoutMs < 1) throw invalid('timeout', 'must be at least 1ms', options.timeout)
  const bulkTimeoutMs =
    options.bulkTimeout === undefined
      ? Math.max(timeoutMs, DEFAULT_BULK_TIMEOUT)
      : parseDuration(options.bulkTimeout, at('bulkTimeout'))
  if (bulkTimeoutMs < 1) throw invalid('bulkTimeout', 'must be at least 1ms', options.bulkTimeout)
  const breaker = options.breaker
  if (breaker !== undefined && breaker !== false && (breaker === null || typeof breaker !== 'object')) {
    throw invalid('breaker', 'must be false or { threshold, cooldown }', breaker)
  }
  const threshold = breaker === false ? Number.POSITIVE_INFINITY : (breaker?.threshold ?? 5)
  if (typeof threshold !== 'number' || !(threshold >= 1)) {
    throw invalid('breaker.threshold', 'must be a number of at least 1', threshold)
  }
  if (options.bus !== undefined && typeof options.bus !== 'boolean') {
    throw invalid('bus', 'must be true or false', options.bus)
  }
  const softTimeoutMs = parseOptionalDuration(options.softTimeout, at('softTimeout'))
  const backlogLimit = options.maxPendingInvalidations ?? DEFAULT_BACKLOG
  if (!Number.isInteger(backlogLimit) || backlogLimit < 0) {
    throw invalid(
      'maxPendingInvalidations',
      'must be a whole number of invalidations, 0 or more',
      backlogLimit,
    )
  }
  const logger = options.logger
  if (logger !== undefined && logger !== false && (logger === null || typeof logger !== 'object')) {
    throw invalid('logger', 'must be a logger such as pino or console, or false to silence the cache', logger)
  }
  return {
    name,
    keyPrefix,
    version: String(version),
    ttlMs: options.ttl === undefined ? DEFAULT_TTL : parseDuration(options.ttl, at('ttl')),
    nullTtlMs: parseOptionalDuration(options.nullTtl, at('nullTtl')),
    jitter,
    timeoutMs,
    bulkTimeoutMs,
    maxKeyLength,
    statsPrefixes: checkStatsPrefixes(options.statsPrefixes, name),
    lease: resolveLease(options.lease, name, 'lease'),
    threshold,
    cooldownMs: breaker ? parseDuration(breaker.cooldown ?? '5s', at('breaker.cooldown')) : 5_000,
    staleMs: parseOptionalDuration(options.staleWhileRevalidate, at('staleWhileRevalidate')) ?? 0,
    graceMs: parseOptionalDuration(options.grace, at('grace')) ?? 0,
    softTimeoutMs,
    bus: options.bus,
    backlogLimit,
    logger: logger === false ? undefined : (logger ?? stderrLogger),
  }
}

/** Resolves a lease option (`true` or `{ ttl, wait, pollInterval }`), or `undefined` when off. */
export function resolveLease(
  input: boolean | LeaseOptions | undefined,
  cache: string | undefined,
  field: string,
): ResolvedLease | undefined {
  if (input === undefined || input === false) return undefined
  const options = input === true ? {} : input
  const at = (name: string) => ({ cache, field: `${field}.${name}` })
  return {
    ttlMs: parseDuration(options.ttl ?? '10s', at('ttl')),
    waitMs: parseDuration(options.wait ?? '5s', at('wait')),
    pollMs: Math.max(1, parseDuration(options.pollInterval ?? '25ms', at('pollInterval'))),
  }
}
