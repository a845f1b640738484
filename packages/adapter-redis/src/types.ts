import type { ConnectionOptions } from 'node:tls'
import type { Duration } from '@cacheport/cache-core'
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis'

/** An ioredis client the adapter can use: a single node (or Sentinel-managed) `Redis`, or a `Cluster`. */
export type RedisClient = Redis | Cluster

/**
 * An ioredis `Redis` or `Cluster` (5.x or 6.x) loaded from another copy of ioredis than the one this
 * package resolves, as happens when an application pins its own: the types of two copies never
 * match, so such a client is recognised by the methods the adapter relies on. At run time the
 * adapter then keeps to ioredis' public API (see the README on ioredis versions).
 */
export interface OtherIoredisClient {
  /** ioredis' connection status (`wait`, `connecting`, `ready`, `reconnecting`, `end`, ...). */
  readonly status: string
  /** The options the client was built with. */
  readonly options: object
  /** Sends a command object (every ioredis method ends here). */
  sendCommand(...args: never[]): unknown
  /** A new client with the same options (the adapter's pub/sub connection). */
  duplicate(...args: never[]): unknown
  /** Binary-safe `GET`. */
  getBuffer(...args: never[]): unknown
  /** Binary-safe `MGET`. */
  mgetBuffer(...args: never[]): unknown
  /** Adds an event listener. */
  on(...args: never[]): unknown
  /** Removes an event listener. */
  off(...args: never[]): unknown
}

/** One Sentinel process to ask for the current primary. */
export interface SentinelAddress {
  /** Host name or IP address of the Sentinel. */
  host: string
  /**
   * Port of the Sentinel.
   * @default 26379
   */
  port?: number
}

/**
 * Options of {@link RedisAdapter}. Give one of `url`, `host`/`port`, `sentinels` + `name`, `cluster`
 * or `client`; everything else has production defaults for a cache that fails open.
 *
 * ### Pool size, and what happens instead
 * ioredis does not pool connections: one socket carries every command of a client, and replies
 * come back in order, so any number of concurrent operations share it without waiting for a free
 * connection. django-redis' `CONNECTION_POOL_KWARGS.max_connections` therefore has no equivalent.
 * What a pool buys in Python (concurrency), the adapter gets by batching on that one socket: the
 * `get`s made while another is waiting for Redis go out as one `MGET` (`coalesceGets`), `getMany`
 * is one `MGET`, `setMany` one pipeline, and `autoPipelining` can merge the remaining commands of a
 * tick into one write. A second socket is opened only for pub/sub, which Redis requires to be
 * separate.
 */
export interface RedisAdapterOptions {
  /**
   * Connection URL: `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for TLS.
   * `user:password@` authenticates as an ACL user (Redis 6+); `:password@` with the default user.
   * The password never appears in errors, logs or `status()`: URLs are redacted everywhere.
   * @default 'redis://127.0.0.1:6379/0' when no other location is given
   */
  url?: string
  /**
   * An existing ioredis `Redis` or `Cluster` to use instead of opening a connection. The adapter
   * never closes or reconfigures a client it did not open (it only adds an `error` listener, removed
   * on close); give it `enableOfflineQueue: false` and a `commandTimeout` to keep failures fast.
   * The connection options below are ignored with a client.
   * @default undefined
   */
  client?: RedisClient | OtherIoredisClient
  /**
   * Host of a single Redis server (ignored when `url`, `sentinels` or `cluster` is given).
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Port of a single Redis server.
   * @default 6379
   */
  port?: number
  /**
   * ACL user name (Redis 6+). Overrides the user of `url`.
   * @default undefined (the `default` user)
   */
  username?: string
  /**
   * Password (of `username`, or of the default user). Overrides the password of `url`.
   * @default undefined
   */
  password?: string
  /**
   * Database number (not supported by Redis Cluster, which only has database 0).
   * @default 0, or the `/db` of `url`
   */
  db?: number
  /**
   * TLS: `true` for the platform's trusted CAs, or Node's `tls.connect` options (CA, client
   * certificate, `servername`). A `rediss://` URL turns it on.
   * @default false
   */
  tls?: boolean | ConnectionOptions
  /**
   * Sentinels to ask for the primary of the group `name`; the adapter follows failovers.
   * @default undefined
   */
  sentinels?: SentinelAddress[]
  /**
   * Name of the Sentinel master group (`sentinel monitor <name> ...`). Required with `sentinels`.
   * @default undefined
   */
  name?: string
  /**
   * Password of the Sentinels themselves, when they require one.
   * @default undefined
   */
  sentinelPassword?: string
  /**
   * Seed nodes of a Redis Cluster (`'10.0.0.1:7000'`, `{ host, port }` or `redis://` URLs); the rest
   * of the cluster is discovered. `username`, `password` and `tls` apply to every node.
   * @default undefined
   */
  cluster?: ClusterNode[]
  /**
   * How long to wait for a TCP (and TLS) connection before the attempt fails and is retried with
   * backoff. django-redis: `SOCKET_CONNECT_TIMEOUT`.
   * @default '5s'
   */
  connectTimeout?: Duration
  /**
   * Longest wait for the reply to any one command; a command past it rejects with `E_TIMEOUT`. A
   * call made before the first connection is ready waits for it within the same time. The adapter
   * declares it as `capabilities.operationTimeoutMs`, so a cache whose own `timeout` is at least as
   * long arms no timer of its own per call; a shorter cache `timeout` still cuts each call short.
   * django-redis: `SOCKET_TIMEOUT`.
   * @default '1s'
   */
  commandTimeout?: Duration
  /**
   * A socket that receives no data for this long while replies are pending is destroyed and
   * reconnected, so a server that stopped answering (but kept its TCP connection) is detected and
   * `status()` leaves `ready`. On a single node or Sentinel the adapter keeps this watch itself with
   * one timer that looks at the socket four times per timeout (a silence is noticed between one
   * timeout and a quarter more after it began), instead of ioredis' timer and listener per command;
   * on a cluster ioredis keeps it. `0` turns the check off.
   * @default '5s'
   */
  socketTimeout?: Duration
  /**
   * How many reconnections a command caught by a connection loss may wait for before it fails.
   * Kept small: a cache should miss rather than queue.
   * @default 1
   */
  maxRetriesPerRequest?: number
  /**
   * Delay before reconnection attempt `attempt` (1, 2, ...), in milliseconds; return `null` to stop
   * reconnecting for good. The adapter never stops by default, so the cache recovers by itself.
   * @default exponential from 50ms, doubling up to 2s, plus up to 10% random jitter
   */
  retryStrategy?: (attempt: number) => number | null
  /**
   * Batch concurrent single `get`s: a `get` made while none is waiting for Redis goes out at once
   * as `GET`; those made while one is waiting are held to the end of the tick and go out as one
   * `MGET` (per hash slot on a cluster). Measured on a local Redis 7: ~4–7x more reads per second
   * with 100 concurrent readers, ~2x with 10, and nothing lost with one reader. A `get` of a key
   * whose read is already on its way shares it (1,000 concurrent gets of a hot key are one `GET`),
   * unless an adapter of this process has written or deleted anything, or received a pub/sub
   * message, since that read was sent. `false` sends one `GET` per `get`.
   * @default true
   */
  coalesceGets?: boolean
  /**
   * ioredis auto-pipelining: commands of the same tick are written to the socket together.
   * On a single node it cost a third of the throughput with one caller and only helped writes from
   * ~100 concurrent writers (measured), so it is off; on a cluster it groups the per-slot commands of
   * batches by node, so it is on. Values are copied when it is on, since they are sent a tick later.
   * @default false, true with `cluster`
   */
  autoPipelining?: boolean
  /**
   * Keys examined per round trip of `deleteByPattern` and `clear`. On a single node a script scans
   * and unlinks that many on the server per call, in `SCAN` pages of at most 1000, and holds the
   * server for as long (~2ms for 3000 keys on a small machine): larger means fewer round trips but
   * longer pauses for other clients. On a cluster it is the `COUNT` of each `SCAN`. Measured with
   * 100,000 matching keys among as many others: 1000 took ~20% longer than 3000; more gained little.
   * @default 3000
   */
  scanCount?: number
  /**
   * Most keys per `MGET` or `UNLINK` command; larger batches are split (and pipelined) so a single
   * command never blocks the server for long.
   * @default 1000
   */
  batchSize?: number
  /**
   * Name of the connections in `CLIENT LIST`, to find them on the server.
   * @default 'cacheport'
   */
  connectionName?: string
  /**
   * Any other ioredis option, for a single node or Sentinel (see ioredis' `RedisOptions`). The
   * options above take precedence; `enableOfflineQueue` is always `false`, since queueing commands
   * while disconnected would make a cache wait instead of failing open.
   * @default {}
   */
  redisOptions?: RedisOptions
  /**
   * Any other ioredis `Cluster` option (`scaleReads`, `natMap`, `slotsRefreshTimeout`, ...).
   * Per-node options go in `redisOptions`.
   * @default {}
   */
  clusterOptions?: Omit<ClusterOptions, 'redisOptions'>
}

/** What {@link redisAdapterFactory} accepts as a registry entry's `options` (plus `location` as `url`). */
export type RedisAdapterConfigOptions = Omit<RedisAdapterOptions, 'url' | 'client'>
