/**
 * Turns adapter options into an ioredis client configured to fail fast, and into a description of
 * the endpoint that is safe to print (no password, ever).
 */
import { CacheError, ErrorCodes, parseDuration, redact } from '@cacheport/cache-core'
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type { RedisAdapterOptions, RedisClient } from './types.js'

/** Options after defaults, parsed once so no operation re-reads them. */
export interface ResolvedOptions {
  /** `commandTimeout` in milliseconds. */
  readonly commandTimeoutMs: number
  /** Whether concurrent gets share one MGET. */
  readonly coalesceGets: boolean
  /** COUNT of each SCAN. */
  readonly scanCount: number
  /** Most keys per MGET or UNLINK. */
  readonly batchSize: number
}

/** A client with what the adapter needs to know about it. */
export interface Connection {
  /** The client to send commands through. */
  readonly client: RedisClient
  /** The adapter opened the client, so it closes it. */
  readonly owned: boolean
  /** The client comes from the ioredis this package loaded, not from another copy of it. */
  readonly native: boolean
  /** `redis://host:port/db`, `cluster 10.0.0.1:7000,...` or `sentinel "name" via ...`, redacted. */
  readonly endpoint: string
  /** The client has no command timeout of its own, so the adapter bounds each call itself. */
  readonly needsOwnTimeout: boolean
  /** The adapter's own options, parsed. */
  readonly resolved: ResolvedOptions
  /**
   * `socketTimeout` in milliseconds when the adapter keeps it itself (a `SilenceWatch` on a single
   * node or Sentinel client it opened), else 0: ioredis keeps it, or nobody does.
   */
  readonly silenceMs: number
}

/** Reconnection delay: 50ms doubling to 2s, plus up to 10% jitter so many instances spread out. */
export function defaultRetryStrategy(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt - 1, 6))
  return base + Math.floor(Math.random() * base * 0.1)
}

function configError(field: string, message: string): CacheError {
  return new CacheError(ErrorCodes.INVALID_CONFIG, `redis adapter: option "${field}" ${message}`, { field })
}

function positiveInt(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1)
    throw configError(field, `must be a positive integer, got ${value}`)
  return value
}

function durationMs(value: RedisAdapterOptions['connectTimeout'], field: string, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value, { field })
}

/** The parts of a redis:// or rediss:// URL, validated. */
interface ParsedUrl {
  host: string
  port: number
  username: string | undefined
  password: string | undefined
  db: number | undefined
  tls: boolean
}

// A password of a URL may hold any character once percent-encoded; written raw, '/', '#', '?' and '%'
// break the URL apart, and the adapter cannot tell where the password was meant to end.
const PERCENT_ENCODE_HINT =
  'characters like / # ? % @ : and spaces in the user name or password must be percent-encoded, e.g. with encodeURIComponent(password)'

/** A percent-encoded user name or password of `url`, decoded. */
function decodeUserinfo(part: string, url: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw configError(
      'url',
      `has a user name or password that is not valid percent-encoding in "${redact(url)}" (${PERCENT_ENCODE_HINT})`,
    )
  }
}

/** Parses a Redis URL; errors name the redacted URL, never the password. */
export function parseRedisUrl(url: string): ParsedUrl {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw configError(
      'url',
      `must be a URL like "redis://host:6379/0", got "${redact(url)}" (${PERCENT_ENCODE_HINT})`,
    )
  }
  const scheme = parsed.protocol
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw configError('url', `must start with redis:// or rediss:// (TLS), got "${redact(url)}"`)
  }
  let db: number | undefined
  const path = parsed.pathname.replace(/^\/+/, '')
  if (path !== '') {
    db = Number(path)
    if (!/^\d+$/.test(path) || db > 65535) {
      throw configError('url', `must end in a database number like "/0", got "${redact(url)}"`)
    }
  }
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    username: parsed.username === '' ? undefined : decodeUserinfo(parsed.username, url),
    password: parsed.password === '' ? undefined : decodeUserinfo(parsed.password, url),
    db,
    tls: scheme === 'rediss:',
  }
}

function nodeLabel(node: ClusterNode): string {
  if (typeof node === 'number') return `127.0.0.1:${node}`
  if (typeof node === 'string') return redact(node)
  return `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}`
}

/** Describes a client we did not open, from its own options. */
function describeClient(client: RedisClient): string {
  if (client instanceof Cluster || (client as { isCluster?: boolean }).isCluster === true) {
    const nodes = (client as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? []
    return `cluster ${nodes.map(nodeLabel).join(',')}`
  }
  const o = (client as Redis).options
  if (o.sentinels !== undefined && o.sentinels !== null && o.sentinels.length > 0) {
    return `sentinel "${o.name ?? ''}" via ${o.sentinels.map((s) => `${s.host}:${s.port ?? 26379}`).join(',')}`
  }
  if (o.path !== undefined && o.path !== null) return `redis+unix://${o.path}`
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`
}

/** Builds the client (or adopts the given one) with the fail-fast settings of the adapter. */
export function connect(options: RedisAdapterOptions): Connection {
  const cluster = options.cluster
  const sentinels = options.sentinels
  if (options.client !== undefined && (options.url !== undefined || cluster || sentinels)) {
    throw configError('client', 'cannot be combined with "url", "cluster" or "sentinels": give one of them')
  }
  if (cluster && sentinels)
    throw configError('cluster', 'cannot be combined with "sentinels": give one of them')
  if (cluster !== undefined && (!Array.isArray(cluster) || cluster.length === 0)) {
    throw configError('cluster', 'must be a non-empty array of nodes like "127.0.0.1:7000"')
  }
  if (sentinels !== undefined) {
    if (!Array.isArray(sentinels) || sentinels.length === 0) {
      throw configError('sentinels', 'must be a non-empty array of { host, port }')
    }
    if (typeof options.name !== 'string' || options.name === '') {
      throw configError('name', 'must name the Sentinel master group (as in "sentinel monitor <name> ...")')
    }
  }

  const commandTimeoutMs = durationMs(options.commandTimeout, 'commandTimeout', 1000)
  if (commandTimeoutMs < 1) throw configError('commandTimeout', 'must be at least 1ms')
  const resolved: ResolvedOptions = {
    commandTimeoutMs,
    coalesceGets: options.coalesceGets ?? true,
    scanCount: positiveInt(options.scanCount, 'scanCount', 3000),
    batchSize: positiveInt(options.batchSize, 'batchSize', 1000),
  }

  if (options.client !== undefined) {
    // A client of another ioredis copy has the same public API, which is all the adapter then uses.
    const client = options.client as RedisClient
    const ownTimeout = client.isCluster
      ? (client as Cluster).options.redisOptions?.commandTimeout
      : (client as Redis).options.commandTimeout
    const hasOwnTimeout = typeof ownTimeout === 'number'
    return {
      client,
      owned: false,
      native: client instanceof Redis || client instanceof Cluster,
      endpoint: describeClient(client),
      needsOwnTimeout: !hasOwnTimeout,
      silenceMs: 0,
      // The client's own timeout is the one its commands keep, so messages and the declared
      // operationTimeoutMs use it.
      resolved: hasOwnTimeout ? { ...resolved, commandTimeoutMs: ownTimeout as number } : resolved,
    }
  }

  const fromUrl = options.url === undefined ? undefined : parseRedisUrl(options.url)
  const tls = options.tls ?? fromUrl?.tls ?? false
  const retryStrategy = options.retryStrategy ?? defaultRetryStrategy
  const socketTimeoutMs = durationMs(options.socketTimeout, 'socketTimeout', 5000)
  const maxRetriesPerRequest = options.maxRetriesPerRequest ?? 1
  if (!Number.isInteger(maxRetriesPerRequest) || maxRetriesPerRequest < 0) {
    throw configError('maxRetriesPerRequest', `must be a whole number >= 0, got ${maxRetriesPerRequest}`)
  }
  const db = options.db ?? fromUrl?.db
  if (db !== undefined && (!Number.isInteger(db) || db < 0)) {
    throw configError('db', `must be a database number >= 0, got ${db}`)
  }

  // Shared by single nodes, Sentinel and every node of a cluster.
  const common: RedisOptions = {
    ...options.redisOptions,
    connectTimeout: durationMs(options.connectTimeout, 'connectTimeout', 5000),
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest,
    connectionName: options.connectionName ?? options.redisOptions?.connectionName ?? 'cacheport',
    // How long ioredis lets a socket it ends close by itself before destroying it. Its default (2s)
    // runs on a timer that is only cleared by the socket's `close` event, which a socket lost
    // before close() never emits again: the process then stays up 2s after close(). The adapter
    // sends QUIT first when connected, so there is nothing to wait for.
    disconnectTimeout: 0,
  }
  const username = options.username ?? fromUrl?.username ?? options.redisOptions?.username
  const password = options.password ?? fromUrl?.password ?? options.redisOptions?.password
  if (username !== undefined) common.username = username
  if (password !== undefined) common.password = password
  if (tls !== false) common.tls = tls === true ? {} : tls

  if (cluster) {
    if (db !== undefined && db !== 0)
      throw configError('db', 'must be 0 (or unset) with "cluster": Redis Cluster has one database')
    const { retryStrategy: _ignored, ...nodeOptions } = common
    if (socketTimeoutMs > 0) nodeOptions.socketTimeout = socketTimeoutMs
    const clusterOptions: ClusterOptions = {
      ...options.clusterOptions,
      redisOptions: nodeOptions,
      enableOfflineQueue: false,
      enableAutoPipelining: options.autoPipelining ?? true,
      clusterRetryStrategy: (attempt) => retryStrategy(attempt),
    }
    return {
      client: new Cluster(cluster, clusterOptions),
      owned: true,
      native: true,
      endpoint: `cluster ${cluster.map(nodeLabel).join(',')}`,
      needsOwnTimeout: false,
      resolved,
      silenceMs: 0,
    }
  }

  const single: RedisOptions = {
    ...common,
    db: db ?? 0,
    retryStrategy,
    enableOfflineQueue: false,
    enableAutoPipelining: options.autoPipelining ?? false,
  }
  let endpoint: string
  if (sentinels) {
    single.sentinels = sentinels.map((s) => ({ host: s.host, port: s.port ?? 26379 }))
    single.name = options.name!
    if (options.sentinelPassword !== undefined) single.sentinelPassword = options.sentinelPassword
    // Keep looking for a primary after a failover instead of giving up.
    single.sentinelRetryStrategy = retryStrategy
    // Move to the new primary as soon as the Sentinels announce it (+switch-master). Should that
    // announcement be missed, the old primary, now a replica, answers writes with READONLY: reconnect
    // then, which asks the Sentinels again.
    single.failoverDetector = options.redisOptions?.failoverDetector ?? true
    single.reconnectOnError ??= (error) => error.message.startsWith('READONLY')
    endpoint = `sentinel "${options.name}" via ${single.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
  } else {
    single.host = options.host ?? fromUrl?.host ?? options.redisOptions?.host ?? '127.0.0.1'
    single.port = options.port ?? fromUrl?.port ?? options.redisOptions?.port ?? 6379
    // Built from the parts actually used, in the shape redact() gives a URL: never a password.
    const auth =
      password === undefined ? (username === undefined ? '' : `${username}@`) : `${username ?? ''}:***@`
    endpoint = `${tls === false ? 'redis' : 'rediss'}://${auth}${single.host}:${single.port}/${single.db}`
  }
  // ioredis' own socketTimeout arms a timer and adds a listener for every command sent while none
  // is pending, about 3% of a single GET; the link keeps the same watch with one timer instead.
  // (`socketTimeout: 0` leaves any socketTimeout of `redisOptions` to ioredis, as before.)
  if (socketTimeoutMs > 0) delete single.socketTimeout
  return {
    client: new Redis(single),
    owned: true,
    native: true,
    endpoint,
    needsOwnTimeout: false,
    resolved,
    silenceMs: socketTimeoutMs,
  }
}
