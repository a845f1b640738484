import { inspect } from 'node:util'
import {
  type AdapterCapabilities,
  type AdapterConfig,
  type AdapterEntry,
  type AdapterFactory,
  type AdapterStatus,
  type CacheAdapter,
  CacheError,
  ErrorCodes,
  escapeGlob,
  type MessageHandler,
  type StoreMemory,
} from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import { adapterOptionsOf, namingCache } from './config.js'
import { connect } from './connection.js'
import { isForeignType } from './errors.js'
import { Link } from './link.js'
import { deleteByPattern, unlinkKeys } from './pattern-delete.js'
import { PubSub } from './pubsub.js'
import { changed, Reads } from './reads.js'
import { directCommands, ReplyWatchdog, WatchedCommand } from './reply-watchdog.js'
import { DELETE_IF_EQUALS, runScript, SET_IF_HOLDS } from './scripts.js'
import { ServerMemorySampler } from './server-memory.js'
import type { RedisAdapterOptions, RedisClient } from './types.js'

const CAPABILITIES = {
  shared: true,
  ttlPrecisionMs: 1,
  nativeBatch: true,
  atomicSetIfAbsent: true,
  pubsub: true,
  byReference: false,
} as const

/** Redis wants whole milliseconds >= 1; rounding up keeps a tiny TTL from meaning "forever". */
function pxOf(ttlMs: number): number {
  return ttlMs >= 1 ? Math.ceil(ttlMs) : 1
}

function noop(): void {}

/** A key of another Redis type (a list, planted by someone else) does not hold the value compared. */
function foreignIsNotEqual(error: unknown): number {
  if (isForeignType(error)) return 0
  throw error
}

/**
 * A `SET` on a ready single node whose own promise is what the caller gets: it resolves with nothing
 * and rejects with the adapter's error naming the key, with no promise step of the adapter's in
 * between, and its timeout is kept by the adapter's {@link ReplyWatchdog} instead of a timer of its
 * own (as single GETs are).
 */
class SingleSet extends WatchedCommand {
  declare promise: Promise<void>

  constructor(
    watchdog: ReplyWatchdog,
    args: Array<string | Buffer | number>,
    keyPrefix: string | undefined,
    explain: (error: unknown) => Error,
  ) {
    super(watchdog, 'set', args, { keyPrefix })
    const { reject } = this
    this.reject = (error: Error) => reject(explain(error))
  }

  // The reply is always OK; the contract's set resolves with nothing.
  override transformReply(): Buffer {
    return undefined as unknown as Buffer
  }
}

/**
 * The Redis adapter: stores the core's encoded entries as binary strings in Redis (single node,
 * Sentinel or Cluster) through ioredis, and fails fast so the cache can fail open.
 *
 * - `get` → `GET` (the gets made while one is waiting for Redis: one `MGET`; gets of a key being
 *   read share that read), `getMany` → `MGET`
 *   (per slot on a cluster), `set` → `SET key value PX ttl`, `setMany` → one pipeline, deletes →
 *   `UNLINK`.
 * - `deleteByPattern`/`clear` → a script scanning `SCAN MATCH` pages and unlinking them on the
 *   server (on a cluster, `SCAN` + batched `UNLINK` from the client on every primary); never `KEYS`.
 * - `setIfAbsent` → `SET NX PX`; `deleteIfEquals` → a compare-and-delete script (EVALSHA).
 * - `publish`/`subscribe` → Redis pub/sub over a second connection opened on first use.
 *
 * Commands are never queued while disconnected: they fail at once (after the very first connection
 * attempt, which they wait for up to `commandTimeout`), each reply is awaited at most
 * `commandTimeout`, and errors are `CacheError`s (`E_ADAPTER`, `E_TIMEOUT`) whose messages name the
 * endpoint with its password redacted.
 */
export class RedisAdapter implements CacheAdapter<Uint8Array> {
  /** Identifies the adapter in stats, logs and health output. */
  readonly name = 'redis'
  /**
   * Everything Redis offers the core: shared, 1ms TTLs, batches, SET NX, pub/sub; bytes only. Every
   * single and batch operation settles within `commandTimeout` (`operationTimeoutMs`), so the core
   * needs no timer of its own around them.
   */
  readonly capabilities: AdapterCapabilities
  /** The ioredis client in use, for commands the adapter does not cover. */
  readonly client: RedisClient
  /** Where the adapter connects, safe to print: the password is always redacted. */
  readonly endpoint: string

  readonly #link: Link
  readonly #reads: Reads
  readonly #watchdog = new ReplyWatchdog()
  // Single SETs on a ready single node go out as commands whose timeout the watchdog keeps.
  readonly #directSets: boolean
  readonly #pubsub: PubSub
  #memory: ServerMemorySampler | undefined

  /** Connects (or adopts `options.client`); see {@link RedisAdapterOptions} for every option. */
  constructor(options: RedisAdapterOptions | string = {}) {
    const link = new Link(connect(typeof options === 'string' ? { url: options } : options))
    this.#link = link
    this.#reads = new Reads(link, this.#watchdog)
    this.#directSets = directCommands(link)
    this.#pubsub = new PubSub(link)
    this.client = link.client
    this.endpoint = link.endpoint
    this.capabilities = Object.freeze({
      ...CAPABILITIES,
      operationTimeoutMs: link.opts.commandTimeoutMs,
      sharded: link.isCluster,
    })
  }

  /**
   * On a cluster, the `host:port` of the primary serving `key` as the client's slot map has it now,
   * so the core keeps fail-open decisions per node; `undefined` on a single node or Sentinel.
   */
  nodeOf(key: string): string | undefined {
    return this.#link.routes?.nodeOf(key)
  }

  /**
   * The entry under `key`, or `undefined`. A get of a key whose read is already on its way shares
   * it, unless an adapter of this process has written or deleted anything, or received a pub/sub
   * message, since that read was sent. Other gets made while gets are waiting for Redis wait for the
   * end of the tick, and all such gets of the tick share one `MGET`.
   */
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#reads.get(key)
  }

  /** Entries for `keys`, aligned with them: one `MGET` (one per hash slot on a cluster). */
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.#reads.getMany(keys)
  }

  /** `SET key value [PX ttl]`: the value and its expiry are written atomically. */
  set(key: string, value: Uint8Array, ttlMs: number | undefined): Promise<void> {
    changed()
    const link = this.#link
    const bytes = link.bytes(value)
    if (this.#directSets && link.isReady) {
      const command = new SingleSet(
        this.#watchdog,
        ttlMs === undefined ? [key, bytes] : [key, bytes, 'PX', pxOf(ttlMs)],
        link.keyPrefix,
        (error) => link.failure('SET', error, key),
      )
      link.corkTick()
      try {
        ;(link.client as Redis).sendCommand(command)
      } catch (error) {
        command.reject(error instanceof Error ? error : new Error(String(error)))
      }
      return command.promise
    }
    return link
      .send('SET', key, () =>
        ttlMs === undefined ? link.client.set(key, bytes) : link.client.set(key, bytes, 'PX', pxOf(ttlMs)),
      )
      .then(noop)
  }

  /** Every entry in one pipeline (per node on a cluster); rejects naming the first key that failed. */
  setMany(entries: ReadonlyArray<AdapterEntry<Uint8Array>>): Promise<void> {
    if (entries.length === 0) return Promise.resolve()
    changed()
    const link = this.#link
    if (link.isCluster) {
      // A cluster pipeline must stay on one node; auto-pipelining groups these per node instead.
      return Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttlMs))).then(noop)
    }
    const values = entries.map((e) => link.bytes(e.value))
    const keys = entries.map((e) => e.key)
    return link
      .send('SET', keys, () => {
        const pipeline = (link.client as Redis).pipeline()
        for (let i = 0; i < entries.length; i++) {
          const ttlMs = entries[i]!.ttlMs
          if (ttlMs === undefined) pipeline.set(keys[i]!, values[i]!)
          else pipeline.set(keys[i]!, values[i]!, 'PX', pxOf(ttlMs))
        }
        return pipeline.exec()
      })
      .then((results) => {
        if (results === null) throw link.failure('SET', new Error('the pipeline was discarded'), keys)
        for (let i = 0; i < results.length; i++) {
          const error = results[i]![0]
          if (error) throw link.failure('SET', error, keys[i]!)
        }
      })
  }

  /** `UNLINK key` (the memory is reclaimed in the background); `true` when the key existed. */
  delete(key: string): Promise<boolean> {
    changed()
    const link = this.#link
    return link.send('UNLINK', key, () => link.client.unlink(key)).then((removed) => removed > 0)
  }

  /** `UNLINK` of every key, in batches (per hash slot on a cluster); resolves with how many existed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    changed()
    const link = this.#link
    try {
      return await link.whenReady(() => unlinkKeys(link, link.client, keys))
    } catch (error) {
      throw link.failure('UNLINK', error, keys)
    }
  }

  /**
   * Removes every key matching the glob, a `SCAN MATCH` page at a time, never with `KEYS`, which
   * would block the server. On a single node (or Sentinel) a script unlinks each page on the server;
   * on a cluster, each primary is scanned and its keys unlinked per hash slot. Only keys the server
   * itself matched against `pattern` are removed.
   */
  deleteByPattern(pattern: string): Promise<number> {
    changed()
    return deleteByPattern(this.#link, pattern)
  }

  /**
   * The keys matching the glob: `SCAN MATCH` page by page on the server, or on every primary of a
   * cluster, never `KEYS`. SCAN may return a key twice; each is listed once.
   */
  async keysByPattern(pattern: string): Promise<string[]> {
    if (typeof pattern !== 'string' || pattern === '') {
      throw new CacheError(
        ErrorCodes.INVALID_PATTERN,
        `redis ${this.endpoint}: keysByPattern needs a non-empty glob`,
      )
    }
    const link = this.#link
    try {
      // Only the first connection is waited for within a command timeout; the walk itself is bulk
      // work, bounded per SCAN page like a pattern delete.
      const waiting = link.ready()
      if (waiting !== undefined) await link.deadline(waiting)
      {
        const nodes = link.isCluster ? (link.client as Cluster).nodes('master') : [link.client as Redis]
        if (nodes.length === 0) throw new Error('no primary node is known yet')
        const found = new Set<string>()
        await Promise.all(
          nodes.map(async (node) => {
            let cursor = '0'
            do {
              const [next, keys] = await link.bound(
                node.scan(cursor, 'MATCH', pattern, 'COUNT', link.opts.scanCount),
              )
              cursor = next
              for (const key of keys) found.add(key)
            } while (cursor !== '0')
          }),
        )
        return [...found]
      }
    } catch (error) {
      if (error instanceof CacheError) throw error
      throw link.failure('SCAN', error, { text: `of pattern "${pattern}"` })
    }
  }

  /** Removes every key starting with the literal `prefix` (escaped, then matched as `prefix*`). */
  async clear(prefix: string): Promise<void> {
    if (typeof prefix !== 'string' || prefix === '') {
      // An empty prefix would match every key of the database, other applications' included.
      throw new CacheError(
        ErrorCodes.INVALID_PATTERN,
        `redis ${this.endpoint}: clear needs a non-empty key prefix`,
      )
    }
    changed()
    await deleteByPattern(this.#link, `${escapeGlob(prefix)}*`)
  }

  /** `SET key value NX PX ttl`: `true` when this call created the key (a lease was taken). */
  setIfAbsent(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    changed()
    const link = this.#link
    const bytes = link.bytes(value)
    return link
      .send('SET NX', key, () => link.client.set(key, bytes, 'PX', pxOf(ttlMs), 'NX'))
      .then((reply) => reply === 'OK')
  }

  /**
   * Stores `value` only while `leaseKey` holds `token`, atomically (a script run with EVALSHA). On a
   * cluster the two keys live in different slots, where one script cannot reach both: there the
   * lease is read and the entry written in two steps, which leaves a window of one round trip.
   */
  setIfHolds(
    key: string,
    value: Uint8Array,
    ttlMs: number | undefined,
    leaseKey: string,
    token: Uint8Array,
  ): Promise<boolean> {
    changed()
    const link = this.#link
    const bytes = Buffer.from(value)
    const held = Buffer.from(token)
    const px = ttlMs === undefined ? '0' : String(pxOf(ttlMs))
    const routes = link.routes
    if (routes !== undefined) {
      // Both steps follow their own redirects: the two keys may live on different nodes.
      return link.send('set-if-holds', key, async () => {
        const holder = await routes.follow(() => link.client.getBuffer(leaseKey))
        if (holder === null || !holder.equals(held)) return false
        await routes.follow(() =>
          px === '0' ? link.client.set(key, bytes) : link.client.set(key, bytes, 'PX', px),
        )
        return true
      })
    }
    return link
      .send('set-if-holds', key, () =>
        link.deadline(runScript(link.client, SET_IF_HOLDS, [key, leaseKey], [bytes, held, px])),
      )
      .then((written) => Number(written) === 1)
  }

  /** Removes `key` only while it holds exactly `value`, atomically (a script run with EVALSHA). */
  deleteIfEquals(key: string, value: Uint8Array): Promise<boolean> {
    changed()
    const link = this.#link
    // Copied: the script may have to be sent again after a NOSCRIPT reply, a round trip later.
    const bytes = Buffer.from(value)
    // Bounded as a whole: after a NOSCRIPT reply, the script itself is a second round trip.
    return link
      .send('compare-and-delete', key, () =>
        link.deadline(runScript(link.client, DELETE_IF_EQUALS, [key], [bytes]).catch(foreignIsNotEqual)),
      )
      .then((removed) => Number(removed) > 0)
  }

  /** `PUBLISH channel message`, received by every subscriber in every process. */
  publish(channel: string, message: string): Promise<void> {
    return this.#pubsub.publish(channel, message)
  }

  /**
   * Subscribes on a dedicated connection (opened on first use). `onStatus` hears `ready` each time
   * the subscription is (re)established and `unavailable` when it is lost, since messages published
   * in between are missed. When Redis is down, this still resolves: the subscription is made as soon
   * as the connection comes back.
   */
  subscribe(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): Promise<() => Promise<void>> {
    return this.#pubsub.subscribe(channel, onMessage, onStatus)
  }

  /**
   * The server's `used_memory`, `maxmemory`, `maxmemory-policy` and `evicted_keys` (summed over the
   * primaries of a cluster), sampled at most every 5 s; `undefined` while the server cannot answer.
   */
  serverMemory(): Promise<StoreMemory | undefined> {
    if (this.#link.closed) return Promise.resolve(undefined)
    this.#memory ??= new ServerMemorySampler(this.client, this.#link.opts.commandTimeoutMs)
    return this.#memory.sample()
  }

  /** `ready`, `connecting` (first connection under way), `unavailable` (lost, retrying) or `closed`. */
  status(): AdapterStatus {
    return this.#link.status()
  }

  /** `RedisAdapter(<endpoint>)`: where it connects, password redacted. */
  toString(): string {
    return `RedisAdapter(${this.endpoint})`
  }

  /** What `JSON.stringify` (and JSON loggers) show: the name and the redacted endpoint, not the client. */
  toJSON(): { name: string; endpoint: string } {
    return { name: this.name, endpoint: this.endpoint }
  }

  // Printing the adapter (console.log, a logger serialising its context) would otherwise show the
  // ioredis client and its options, password included.
  [inspect.custom](): string {
    return `RedisAdapter { endpoint: '${this.endpoint}', status: '${this.status()}' }`
  }

  /**
   * Closes the connections the adapter opened (`QUIT`, then a hard disconnect if the server does not
   * answer). A client passed in as `client` is left open, for its owner to close.
   */
  async close(): Promise<void> {
    if (this.#link.closed) return
    const closing = this.#link.close()
    this.#pubsub.close()
    await closing
  }
}

/** Creates a {@link RedisAdapter} from a URL or options; the name users write in `createCache`. */
export function redisAdapter(options: RedisAdapterOptions | string = {}): RedisAdapter {
  return new RedisAdapter(options)
}

/**
 * Builds a {@link RedisAdapter} from a registry entry: `location` is the Redis URL, `options` are
 * `RedisAdapterConfigOptions`. Unknown or mistyped options are rejected with
 * `E_INVALID_CONFIG` naming the cache and the option (django-redis names get a pointer to theirs).
 */
export const redisAdapterFactory: AdapterFactory = (config: AdapterConfig) =>
  namingCache(config.cache, () => new RedisAdapter(adapterOptionsOf(config)))
