import type { CodecOptions } from './codec.js'
import { resolveCompression } from './compression.js'
import { parseDuration, parseOptionalDuration } from './duration.js'
import { resolveEncryption } from './encryption.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { CacheOptions, LeaseOptions } from './types.js'

/** Default TTL: Django's default TIMEOUT. */
export const DEFAULT_TTL = 5 * 60_000
const DEFAULT_TIMEOUT = 1_000
const DEFAULT_BULK_TIMEOUT = 60_000
const DEFAULT_MAX_KEY = 200

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
  lease: ResolvedLease | undefined
  threshold: number
  cooldownMs: number
  staleMs: number
  graceMs: number
  softTimeoutMs: number | undefined
  bus: boolean | undefined
  /** Compression and encryption of encoded entries; undefined when neither is on. */
  codec: CodecOptions | undefined
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
  const label = typeof options.name === 'string' && options.name ? options.name : String(keyPrefix)
  const invalid = (field: string, why: string, got: unknown) =>
    new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `cache "${label}": option "${field}" ${why}, got ${JSON.stringify(got) ?? String(got)}`,
      { cache: label, field },
    )
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    throw invalid('keyPrefix', 'must be a non-empty string', keyPrefix)
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
  const where = (field: string) => ({ cache: label, field })
  const jitter = options.jitter ?? 0
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw invalid('jitter', 'must be a number from 0 to 1 (the largest fraction cut from a TTL)', jitter)
  }
  const maxKeyLength = options.maxKeyLength ?? DEFAULT_MAX_KEY
  if (!Number.isInteger(maxKeyLength) || maxKeyLength < 64) {
    throw invalid('maxKeyLength', 'must be an integer of at least 64', maxKeyLength)
  }
  const timeoutMs =
    options.timeout === undefined ? DEFAULT_TIMEOUT : parseDuration(options.timeout, where('timeout'))
  if (timeoutMs < 1) throw invalid('timeout', 'must be at least 1ms', options.timeout)
  const bulkTimeoutMs =
    options.bulkTimeout === undefined
      ? Math.max(timeoutMs, DEFAULT_BULK_TIMEOUT)
      : parseDuration(options.bulkTimeout, where('bulkTimeout'))
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
  const softTimeoutMs = parseOptionalDuration(options.softTimeout, where('softTimeout'))
  const compression = resolveCompression(options.compression, label)
  const encryption = resolveEncryption(options.encryption, label)
  return {
    name: label,
    keyPrefix,
    version: String(version),
    ttlMs: options.ttl === undefined ? DEFAULT_TTL : parseDuration(options.ttl, where('ttl')),
    nullTtlMs: parseOptionalDuration(options.nullTtl, where('nullTtl')),
    jitter,
    timeoutMs,
    bulkTimeoutMs,
    maxKeyLength,
    lease: resolveLease(options.lease, label, 'lease'),
    threshold,
    cooldownMs: breaker ? parseDuration(breaker.cooldown ?? '5s', where('breaker.cooldown')) : 5_000,
    staleMs: parseOptionalDuration(options.staleWhileRevalidate, where('staleWhileRevalidate')) ?? 0,
    graceMs: parseOptionalDuration(options.grace, where('grace')) ?? 0,
    softTimeoutMs,
    bus: options.bus,
    codec: compression === undefined && encryption === undefined ? undefined : { compression, encryption },
  }
}

/** Resolves a lease option (`true` or `{ ttl, wait, pollInterval }`), or `undefined` when off. */
export function resolveLease(
  input: boolean | LeaseOptions | undefined,
  cache: string,
  field: string,
): ResolvedLease | undefined {
  if (input === undefined || input === false) return undefined
  const options = input === true ? {} : input
  const where = (name: string) => ({ cache, field: `${field}.${name}` })
  return {
    ttlMs: parseDuration(options.ttl ?? '10s', where('ttl')),
    waitMs: parseDuration(options.wait ?? '5s', where('wait')),
    pollMs: Math.max(1, parseDuration(options.pollInterval ?? '25ms', where('pollInterval'))),
  }
}
