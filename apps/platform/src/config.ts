import { fileURLToPath } from 'node:url'
import {
  type CacheConfig,
  CacheError,
  cacheConfigFromEnv,
  type Duration,
  ErrorCodes,
  parseDuration,
  redact,
  useCacheFromEnv,
} from '@cacheport/cache-core'

/**
 * The cache backends an operator can pick with `CACHE_BACKEND`. `tiered` puts an in-process memory
 * tier (L1) of each instance in front of the shared Redis (L2), kept coherent by an invalidation bus
 * over Redis pub/sub.
 */
export const CACHE_BACKENDS = ['memory', 'redis', 'tiered', 'noop'] as const
/** One of {@link CACHE_BACKENDS}. */
export type CacheBackend = (typeof CACHE_BACKENDS)[number]

/** Time to live of each cached service, as the seed's strategy table sets them. */
export interface CacheTtls {
  /** `ItemQueryService.getFilterCounts`, in `queries`. */
  filterCounts: Duration
  /** `ItemQueryService.getFaculties`, in `default`. */
  faculties: Duration
  /** Osiris course details, in `default`. */
  osirisCourse: Duration
  /** Osiris course details of a past academic year, which no longer change. */
  osirisPastCourse: Duration
  /** People-page lookups, in `default`. */
  osirisPerson: Duration
  /** Canvas file existence, in `default`. */
  fileExists: Duration
  /** A Canvas check that found the file gone (401/403/404): it may come back (restored, permissions fixed). */
  fileGone: Duration
}

/** The seed's strategy table. */
export const DEFAULT_TTLS: Readonly<CacheTtls> = {
  filterCounts: '5m',
  faculties: '10m',
  osirisCourse: '24h',
  osirisPastCourse: '7d',
  osirisPerson: '24h',
  fileExists: '1h',
  fileGone: '1h',
}

/** The environment variable that overrides each TTL. */
export const TTL_VARIABLES: Readonly<Record<keyof CacheTtls, string>> = {
  filterCounts: 'CACHE_TTL_FILTER_COUNTS',
  faculties: 'CACHE_TTL_FACULTIES',
  osirisCourse: 'CACHE_TTL_OSIRIS_COURSE',
  osirisPastCourse: 'CACHE_TTL_OSIRIS_PAST_COURSE',
  osirisPerson: 'CACHE_TTL_OSIRIS_PERSON',
  fileExists: 'CACHE_TTL_FILE_EXISTS',
  fileGone: 'CACHE_TTL_FILE_GONE',
}

/**
 * How long past its TTL an upstream answer may still be served while that upstream fails (an Osiris
 * outage, a Canvas 5xx). The database-backed entries (filter counts, faculties) have none: the
 * database is the app's own, and counts must follow edits.
 */
export interface CacheGraces {
  /** Osiris course details: a day-old course beats an error page while Osiris is down. */
  osirisCourse: Duration
  /** People-page lookups: names, e-mail addresses and faculties change rarely. */
  osirisPerson: Duration
  /** Canvas file existence: the answer keeps the time of its check, so its age stays visible. */
  fileExists: Duration
}

/** Grace periods of the upstream lookups; `0` turns one off. */
export const DEFAULT_GRACES: Readonly<CacheGraces> = {
  osirisCourse: '24h',
  osirisPerson: '7d',
  fileExists: '6h',
}

/** The environment variable that overrides each grace period. */
export const GRACE_VARIABLES: Readonly<Record<keyof CacheGraces, string>> = {
  osirisCourse: 'CACHE_GRACE_OSIRIS_COURSE',
  osirisPerson: 'CACHE_GRACE_OSIRIS_PERSON',
  fileExists: 'CACHE_GRACE_FILE_EXISTS',
}

/** Entries the in-process tier of each cache holds at most, in `tiered` mode. */
export const DEFAULT_L1_MAX_ENTRIES = 10_000

/** Everything the application reads from its environment, validated. */
export interface AppConfig {
  /** HTTP port; 0 picks a free one. */
  port: number
  /** Interface to listen on. */
  host: string
  /** `postgres://…`, or the path of the SQLite file. */
  databaseUrl: string
  /** Adapter of every cache. */
  cacheBackend: CacheBackend
  /** Redis location when `cacheBackend` is `redis` or `tiered`. */
  redisUrl: string | undefined
  /** `false` turns every cache into the no-op adapter (the seed's rollback switch). */
  useCache: boolean
  /** TTLs of the cached services. */
  ttl: CacheTtls
  /** Grace periods of the upstream lookups. */
  grace: CacheGraces
  /** The named caches, ready for `createCaches` (environment overrides applied). */
  caches: Record<string, CacheConfig>
  /** Osiris base URL; `undefined` means "start the simulator" (demo) or "not configured". */
  osirisBaseUrl: string | undefined
  /** People pages base URL; `undefined` as for Osiris. */
  peopleBaseUrl: string | undefined
  /** Canvas base URL; `undefined` as for Osiris. */
  canvasApiUrl: string | undefined
  /** Canvas API token sent as a Bearer token. */
  canvasApiToken: string
  /** Deadline of one upstream HTTP request, in milliseconds. */
  upstreamTimeoutMs: number
  /** How many Canvas checks a batch runs at once. */
  canvasConcurrency: number
  /** pino level. */
  logLevel: string
  /** A name that tells instances of one deployment apart (`/health`, dashboard, logs). */
  instanceName: string | undefined
  /**
   * The secret the session cookies are encrypted and signed with; every instance behind one load
   * balancer needs the same. `undefined`: a random one per process (sessions end on restart).
   */
  sessionSecret: string | undefined
  /** Whether the session cookie is sent over HTTPS only (set behind TLS). */
  cookieSecure: boolean
  /** How long a session lasts without a new sign-in, in seconds. */
  sessionMaxAgeSeconds: number
  /** Limits of one Qlik upload. */
  ingestLimits: IngestLimits
  /**
   * Where request and cache spans go: `otlp` (`OTEL_EXPORTER_OTLP_ENDPOINT` set, or
   * `OTEL_TRACES_EXPORTER=otlp`), `console` (`OTEL_TRACES_EXPORTER=console`) or `off`.
   */
  tracing: TracesExporter
}

/** The span exporters `OTEL_TRACES_EXPORTER` can name (`none` reads as `off`). */
export const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const
/** Where spans go; `off` creates none. */
export type TracesExporter = 'otlp' | 'console' | 'off'

/** Limits of one Qlik upload; a file over any of them is refused before anything is written. */
export interface IngestLimits {
  /** Bytes of the uploaded file. */
  maxUploadBytes: number
  /** Data rows in the file. */
  maxRows: number
  /** Bytes an XLSX may unzip to; checked before the workbook is parsed. */
  maxUnzippedBytes: number
}

/** The default {@link IngestLimits}: a real export of 400,000 items is about 15 MB of CSV. */
export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = {
  maxUploadBytes: 32 * 1024 * 1024,
  maxRows: 500_000,
  maxUnzippedBytes: 256 * 1024 * 1024,
}

/** The SQLite file the app uses when `DATABASE_URL` is not set. */
export const DEFAULT_SQLITE_PATH = fileURLToPath(new URL('../data/platform.sqlite', import.meta.url))

/** The token the Canvas simulator accepts when `CANVAS_API_TOKEN` is not set. */
export const DEFAULT_CANVAS_TOKEN = 'demo-canvas-token'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

type Env = Record<string, string | undefined>

function invalid(variable: string, why: string, value?: string): CacheError {
  const got = value === undefined ? '' : `, got ${JSON.stringify(redact(value))}`
  return new CacheError(ErrorCodes.INVALID_CONFIG, `environment variable ${variable} ${why}${got}`, {
    field: variable,
  })
}

function read(env: Env, variable: string): string | undefined {
  const value = env[variable]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function readUrl(env: Env, variable: string, protocols: readonly string[]): string | undefined {
  const value = read(env, variable)
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(variable, `must be a URL (${protocols.join(' or ')})`, value)
  }
  if (!protocols.includes(url.protocol)) {
    throw invalid(variable, `must be a ${protocols.join(' or ')} URL`, value)
  }
  return value.replace(/\/+$/, '')
}

function readInt(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const value = read(env, variable)
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalid(variable, `must be a whole number from ${min} to ${max}`, value)
  }
  return n
}

function readDuration(env: Env, variable: string, fallback: Duration): Duration {
  const value = read(env, variable)
  if (value === undefined) return fallback
  const duration = /^\d+$/.test(value) ? Number(value) : value
  try {
    parseDuration(duration, { field: variable })
  } catch {
    throw invalid(variable, 'must be a duration like "15m", "24h", "7d" or a number of milliseconds', value)
  }
  return duration
}

/**
 * Reads and validates the configuration. Every error is a `CacheError` with code `E_INVALID_CONFIG`
 * (or the core's duration code) whose message and `field` name the offending variable.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const backendRaw = read(env, 'CACHE_BACKEND') ?? 'memory'
  if (!(CACHE_BACKENDS as readonly string[]).includes(backendRaw)) {
    throw invalid('CACHE_BACKEND', `must be one of ${CACHE_BACKENDS.join(', ')}`, backendRaw)
  }
  const cacheBackend = backendRaw as CacheBackend
  const configuredRedis = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:'])
  // Tiered mode exists for several instances sharing one Redis: a silent localhost default would
  // give each host a Redis of its own and an invalidation bus that reaches nobody.
  if (cacheBackend === 'tiered' && configuredRedis === undefined) {
    throw invalid(
      'REDIS_URL',
      'must be set with CACHE_BACKEND=tiered: the Redis every instance shares (second tier and invalidation bus)',
    )
  }
  const redisUrl = configuredRedis ?? (cacheBackend === 'redis' ? 'redis://127.0.0.1:6379' : undefined)
  const useCache = useCacheFromEnv(env)

  const databaseUrl = read(env, 'DATABASE_URL') ?? DEFAULT_SQLITE_PATH
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(databaseUrl) && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw invalid('DATABASE_URL', 'must be a postgres:// URL or the path of a SQLite file', databaseUrl)
  }

  const ttl = Object.fromEntries(
    (Object.keys(DEFAULT_TTLS) as Array<keyof CacheTtls>).map((name) => [
      name,
      readDuration(env, TTL_VARIABLES[name], DEFAULT_TTLS[name]),
    ]),
  ) as unknown as CacheTtls

  const grace = Object.fromEntries(
    (Object.keys(DEFAULT_GRACES) as Array<keyof CacheGraces>).map((name) => [
      name,
      readDuration(env, GRACE_VARIABLES[name], DEFAULT_GRACES[name]),
    ]),
  ) as unknown as CacheGraces

  const instanceName = read(env, 'INSTANCE_NAME')
  if (instanceName !== undefined && !/^[A-Za-z0-9_.-]{1,32}$/.test(instanceName)) {
    throw invalid('INSTANCE_NAME', 'must be 1 to 32 letters, digits, "_", "." or "-"', instanceName)
  }

  const logLevel = read(env, 'LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.includes(logLevel))
    throw invalid('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`, logLevel)

  const sessionSecret = read(env, 'SESSION_SECRET')
  if (sessionSecret !== undefined && sessionSecret.length < 32) {
    throw invalid('SESSION_SECRET', 'must be at least 32 characters (e.g. `openssl rand -hex 32`)')
  }
  const cookieSecureRaw = read(env, 'COOKIE_SECURE') ?? 'false'
  if (cookieSecureRaw !== 'true' && cookieSecureRaw !== 'false') {
    throw invalid('COOKIE_SECURE', 'must be true or false', cookieSecureRaw)
  }

  const timeout = readDuration(env, 'CACHE_TIMEOUT', '1s')
  const l1MaxEntries = readInt(env, 'CACHE_L1_MAX_ENTRIES', DEFAULT_L1_MAX_ENTRIES, 1, 10_000_000)
  const tiers: Pick<CacheConfig, 'adapter' | 'l1'> =
    cacheBackend === 'tiered'
      ? { adapter: 'redis', l1: { adapter: 'memory', options: { maxEntries: l1MaxEntries } } }
      : { adapter: cacheBackend }
  // Like the seed's CACHES: `default` holds the long-lived lookups, `queries` the dashboard
  // aggregates, whose default TTL is the filter counts' TTL (the seed's TIMEOUT 300). In tiered
  // mode both get an L1: the counts most of all, since every instance must drop them on an edit.
  const base: Record<string, CacheConfig> = {
    default: {
      ...tiers,
      location: redisUrl,
      keyPrefix: 'ea_platform',
      version: 1,
      ttl: '5m',
      timeout,
      options: {},
    },
    queries: {
      ...tiers,
      location: redisUrl,
      keyPrefix: 'ea_queries',
      version: 1,
      ttl: ttl.filterCounts,
      timeout,
      options: {},
    },
  }
  // Per-cache overrides (CACHE_QUERIES_KEY_PREFIX, CACHE_DEFAULT_L1, CACHE_DEFAULT_GRACE, ...) come
  // from the core. Its CACHE_BACKEND names an adapter, which `tiered` is not: the base already has it.
  const caches = cacheConfigFromEnv(base, { env: { ...env, CACHE_BACKEND: undefined } })

  const tracesExporterRaw = read(env, 'OTEL_TRACES_EXPORTER')
  if (
    tracesExporterRaw !== undefined &&
    !(TRACES_EXPORTERS as readonly string[]).includes(tracesExporterRaw)
  ) {
    throw invalid('OTEL_TRACES_EXPORTER', `must be one of ${TRACES_EXPORTERS.join(', ')}`, tracesExporterRaw)
  }
  // As the OpenTelemetry SDKs read it: an endpoint alone turns OTLP export on.
  const tracing: TracesExporter =
    tracesExporterRaw === 'none'
      ? 'off'
      : ((tracesExporterRaw as TracesExporter | undefined) ??
        (read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined ||
        read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined
          ? 'otlp'
          : 'off'))

  return {
    port: readInt(env, 'PORT', 3000, 0, 65_535),
    host: read(env, 'HOST') ?? '127.0.0.1',
    databaseUrl,
    cacheBackend,
    redisUrl,
    useCache,
    ttl,
    grace,
    caches,
    osirisBaseUrl: readUrl(env, 'OSIRIS_BASE_URL', ['http:', 'https:']),
    peopleBaseUrl: readUrl(env, 'PEOPLE_BASE_URL', ['http:', 'https:']),
    canvasApiUrl: readUrl(env, 'CANVAS_API_URL', ['http:', 'https:']),
    canvasApiToken: read(env, 'CANVAS_API_TOKEN') ?? DEFAULT_CANVAS_TOKEN,
    upstreamTimeoutMs: readInt(env, 'UPSTREAM_TIMEOUT_MS', 5_000, 1, 120_000),
    canvasConcurrency: readInt(env, 'CANVAS_CONCURRENCY', 50, 1, 500),
    logLevel,
    instanceName,
    sessionSecret,
    cookieSecure: cookieSecureRaw === 'true',
    sessionMaxAgeSeconds: readInt(env, 'SESSION_MAX_AGE_SECONDS', 8 * 3600, 60, 30 * 24 * 3600),
    ingestLimits: {
      maxUploadBytes: readInt(
        env,
        'INGEST_MAX_UPLOAD_BYTES',
        DEFAULT_INGEST_LIMITS.maxUploadBytes,
        1024,
        1024 * 1024 * 1024,
      ),
      maxRows: readInt(env, 'INGEST_MAX_ROWS', DEFAULT_INGEST_LIMITS.maxRows, 1, 5_000_000),
      maxUnzippedBytes: readInt(
        env,
        'INGEST_MAX_UNZIPPED_BYTES',
        DEFAULT_INGEST_LIMITS.maxUnzippedBytes,
        1024,
        4 * 1024 * 1024 * 1024,
      ),
    },
    tracing,
  }
}
