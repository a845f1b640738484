import { createHash } from 'node:crypto'
import {
  type AdapterCapabilities,
  type AdapterEntry,
  type AdapterStatus,
  type CacheAdapter,
  CacheError,
  ErrorCodes,
  escapeGlob,
  type MessageHandler,
  redact,
} from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import { connect, type ResolvedOptions } from './connection.js'
import { groupBySlot } from './key-slot.js'
import { ReplyWatchdog, TIMED_OUT, WatchedCommand } from './reply-watchdog.js'
import type { RedisAdapterOptions, RedisClient } from './types.js'

const CAPABILITIES = {
  shared: true,
  ttlPrecisionMs: 1,
  nativeBatch: true,
  atomicSetIfAbsent: true,
  pubsub: true,
  byReference: false,
} as const

/** A Lua script run by `EVALSHA`, sent whole by `EVAL` only when the server does not have it yet. */
interface LuaScript {
  readonly source: string
  readonly sha: string
}

function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// Compare-and-delete in one server-side step, so a lease holder never removes a lease that expired
// and was taken by another process in between.
const DELETE_IF_EQUALS = luaScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end return 0",
)

// A stretch of a pattern delete: a few SCAN pages, each unlinked where it was found, so the
// matched keys never travel to the client and back, which is most of the time a client-side loop
// takes. The server matches the same MATCH glob as a plain SCAN would, so exactly the same keys go.
// ARGV: cursor, pattern, COUNT per page, most pages; replies with the next cursor and how many keys
// were removed. Several pages per call save round trips; pages of at most SCAN_PAGE keys keep each
// SCAN reply and Lua table small, which costs the server less than one large page (measured).
// UNLINK goes in slices, since Lua's unpack() fails beyond a few thousand values.
const SCAN_UNLINK = luaScript(
  [
    'local cursor = ARGV[1]',
    'local pages = tonumber(ARGV[4])',
    'local removed = 0',
    'repeat',
    "  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', ARGV[3])",
    '  cursor = page[1]',
    '  local keys = page[2]',
    '  for i = 1, #keys, 1000 do',
    "    removed = removed + redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))",
    '  end',
    '  pages = pages - 1',
    "until cursor == '0' or pages == 0",
    'return {cursor, removed}',
  ].join('\n'),
)

/** Most keys one SCAN page of {@link SCAN_UNLINK} examines. */
const SCAN_PAGE = 1000

type Settle<T> = (value: T) => void

/** Single `get`s waiting for the end of the tick, to go out together as one MGET. */
interface PendingGets {
  readonly keys: string[]
  readonly resolves: Array<Settle<Uint8Array | undefined>>
  readonly rejects: Array<Settle<unknown>>
}

interface Subscription {
  readonly onMessage: MessageHandler
  readonly onStatus: ((status: AdapterStatus) => void) | undefined
  /** Last status told to `onStatus`, so a (re)subscription seen twice is reported once. */
  told: AdapterStatus | undefined
}

/**
 * The bytes as a Buffer for ioredis. A command sent at once is serialized into a new buffer on the
 * spot, so a view is enough; an auto-pipelined one keeps its arguments until the end of the tick,
 * so then the bytes are copied, lest the caller change them in between.
 */
function toBuffer(value: Uint8Array, copy: boolean): Buffer {
  if (copy) return Buffer.from(value)
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/**
 * A reply as the contract's bytes. The Buffer ioredis made for this reply is handed over as it is: it
 * is a Uint8Array, nobody else holds it, and the core reads Buffers without wrapping them again.
 */
function toBytes(reply: Buffer | null | undefined): Uint8Array | undefined {
  return reply ?? undefined
}

/**
 * A single `GET` on a single node, shaped so that its own promise is what the caller gets: it
 * resolves with the bytes or `undefined` and rejects with the adapter's error naming the key, with
 * no promise step of the adapter's in between, and its timeout is kept by the adapter's
 * {@link ReplyWatchdog} instead of a timer of its own.
 */
class SingleGet extends WatchedCommand {
  declare promise: Promise<Uint8Array | undefined>

  constructor(
    watchdog: ReplyWatchdog,
    key: string,
    keyPrefix: string | undefined,
    explain: (error: unknown, key: string) => Error,
  ) {
    super(watchdog, 'get', [key], { replyEncoding: null, keyPrefix })
    const reject = this.reject
    this.reject = (error: Error) => reject(explain(error, key))
  }

  // ioredis passes every reply through here; a missing key is null in RESP, undefined in the contract.
  override transformReply(reply: Buffer | Buffer[]): Buffer {
    return (reply ?? undefined) as Buffer
  }
}

/** Redis wants whole milliseconds >= 1; rounding up keeps a tiny TTL from meaning "forever". */
function pxOf(ttlMs: number): number {
  return ttlMs >= 1 ? Math.ceil(ttlMs) : 1
}

function tell(subscription: Subscription, status: AdapterStatus): void {
  if (subscription.told === status) return
  subscription.told = status
  subscription.onStatus?.(status)
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  if (items.length <= size) return [items as T[]]
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** What a failed command was about: a key, a batch of keys, or a described thing (pattern, channel). */
type Target = string | readonly string[] | { readonly text: string }

function describeTarget(target: Target): string {
  if (typeof target === 'string') return `"${target}"`
  if ('text' in target) return target.text
  return target.length === 1 ? `"${target[0]}"` : `of ${target.length} keys`
}

function noop(): void {}

/** An error reply from the server (ioredis' ReplyError), as opposed to a lost connection or a timeout. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}

/**
 * The Redis adapter: stores the core's encoded entries as binary strings in Redis (single node,
 * Sentinel or Cluster) through ioredis, and fails fast so the cache can fail open.
 *
 * - `get` → `GET` (the gets made while one is waiting for Redis: one `MGET`), `getMany` → `MGET`
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

  private readonly owned: boolean
  private readonly isCluster: boolean
  private readonly opts: ResolvedOptions
  private readonly ownTimeout: boolean
  private readonly copyValues: boolean
  // Single GETs on a single node go out as commands whose timeout one shared timer keeps.
  private readonly directGets: boolean
  private readonly keyPrefix: string | undefined
  private readonly watchdog = new ReplyWatchdog()
  // The latest of those GETs: replies come in order on one connection, so while it is answered,
  // every GET sent before it is too.
  private lastGet: SingleGet | undefined
  private closed = false
  private everReady: boolean
  private lastError: string | undefined
  private firstConnect: Promise<boolean> | undefined
  private pending: PendingGets | undefined
  /** GETs and coalesced MGETs sent by `get` and not answered yet. */
  private getsInFlight = 0
  private subscriber: RedisClient | undefined
  private subscribed = false
  private readonly channels = new Map<string, Set<Subscription>>()

  // ioredis emits `error` for every failed connection attempt; without a listener Node would throw.
  // The adapter only records it: the core counts failures and logs them once per burst.
  private readonly onError = (error: Error): void => {
    this.lastError = redact(error.message)
  }
  private readonly onReady = (): void => {
    this.everReady = true
    this.lastError = undefined
  }

  /** Connects (or adopts `options.client`); see {@link RedisAdapterOptions} for every option. */
  constructor(options: RedisAdapterOptions | string = {}) {
    const connection = connect(typeof options === 'string' ? { url: options } : options)
    this.client = connection.client
    this.owned = connection.owned
    this.endpoint = connection.endpoint
    this.opts = connection.resolved
    this.capabilities = Object.freeze({ ...CAPABILITIES, operationTimeoutMs: this.opts.commandTimeoutMs })
    this.ownTimeout = connection.needsOwnTimeout
    this.isCluster = (this.client as { isCluster?: boolean }).isCluster === true
    this.copyValues = this.client.options.enableAutoPipelining === true
    // Auto-pipelined clients keep ioredis' own path, which batches the commands of a tick.
    this.directGets = !this.isCluster && !this.ownTimeout && !this.copyValues
    this.keyPrefix = this.isCluster ? undefined : (this.client as Redis).options.keyPrefix
    this.everReady = this.client.status === 'ready'
    this.client.on('error', this.onError)
    this.client.on('ready', this.onReady)
  }

  /**
   * The entry under `key`, or `undefined`. A get made while other gets are waiting for Redis waits
   * for the end of the tick, and all such gets of the tick share one `MGET`.
   */
  get(key: string): Promise<Uint8Array | undefined> {
    // Batching pays only when several gets share the round trip; a lone get goes out at once, and
    // the gets that follow it in the same tick still travel together.
    if (!this.opts.coalesceGets || (this.getsInFlight === 0 && (this.lastGet?.isSettled ?? true))) {
      return this.getOne(key)
    }
    return new Promise((resolve, reject) => {
      let batch = this.pending
      if (batch === undefined) {
        batch = this.pending = { keys: [], resolves: [], rejects: [] }
        process.nextTick(this.flushGets)
      }
      batch.keys.push(key)
      batch.resolves.push(resolve)
      batch.rejects.push(reject)
    })
  }

  /** Entries for `keys`, aligned with them: one `MGET` (one per hash slot on a cluster). */
  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    try {
      const replies = await this.fetch(keys)
      return replies.map(toBytes)
    } catch (error) {
      throw this.failure('MGET', error, keys)
    }
  }

  /** `SET key value [PX ttl]`: the value and its expiry are written atomically. */
  set(key: string, value: Uint8Array, ttlMs: number | undefined): Promise<void> {
    const bytes = this.bytes(value)
    return this.send('SET', key, () =>
      ttlMs === undefined ? this.client.set(key, bytes) : this.client.set(key, bytes, 'PX', pxOf(ttlMs)),
    ).then(noop)
  }

  /** Every entry in one pipeline (per node on a cluster); rejects naming the first key that failed. */
  setMany(entries: ReadonlyArray<AdapterEntry<Uint8Array>>): Promise<void> {
    if (entries.length === 0) return Promise.resolve()
    if (this.isCluster) {
      // A cluster pipeline must stay on one node; auto-pipelining groups these per node instead.
      return Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttlMs))).then(noop)
    }
    const values = entries.map((e) => this.bytes(e.value))
    const keys = entries.map((e) => e.key)
    return this.send('SET', keys, () => {
      const pipeline = (this.client as Redis).pipeline()
      for (let i = 0; i < entries.length; i++) {
        const ttlMs = entries[i]!.ttlMs
        if (ttlMs === undefined) pipeline.set(keys[i]!, values[i]!)
        else pipeline.set(keys[i]!, values[i]!, 'PX', pxOf(ttlMs))
      }
      return pipeline.exec()
    }).then((results) => {
      if (results === null) throw this.failure('SET', new Error('the pipeline was discarded'), keys)
      for (let i = 0; i < results.length; i++) {
        const error = results[i]![0]
        if (error) throw this.failure('SET', error, keys[i]!)
      }
    })
  }

  /** `UNLINK key` (the memory is reclaimed in the background); `true` when the key existed. */
  delete(key: string): Promise<boolean> {
    return this.send('UNLINK', key, () => this.client.unlink(key)).then((removed) => removed > 0)
  }

  /** `UNLINK` of every key, in batches (per hash slot on a cluster); resolves with how many existed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    try {
      return await this.whenReady(() => this.unlink(this.client, keys))
    } catch (error) {
      throw this.failure('UNLINK', error, keys)
    }
  }

  /**
   * Removes every key matching the glob, a `SCAN MATCH` page at a time, never with `KEYS`, which
   * would block the server. On a single node (or Sentinel) a script unlinks each page on the server;
   * on a cluster, each primary is scanned and its keys unlinked per hash slot. Only keys the server
   * itself matched against `pattern` are removed.
   */
  async deleteByPattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string' || pattern === '') {
      throw new CacheError(
        ErrorCodes.INVALID_PATTERN,
        `redis ${this.endpoint}: deleteByPattern needs a non-empty glob`,
      )
    }
    try {
      await this.ready()
      if (!this.isCluster) return await this.scanAndUnlinkOnServer(this.client as Redis, pattern)
      // On a cluster, a script may only touch keys of the slots its node serves, and Redis 7 refuses
      // one whose keys span slots unless they were declared; the keys of each page therefore come
      // to the client and go back as one UNLINK per hash slot.
      const nodes = (this.client as Cluster).nodes('master')
      if (nodes.length === 0) throw new Error('no primary node is known yet')
      let removed = 0
      for (const n of await Promise.all(nodes.map((node) => this.scanAndUnlink(node, pattern)))) removed += n
      return removed
    } catch (error) {
      throw this.failure('SCAN/UNLINK', error, { text: `of pattern "${pattern}"` })
    }
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
    try {
      await this.ready()
      const nodes = this.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
      if (nodes.length === 0) throw new Error('no primary node is known yet')
      const found = new Set<string>()
      await Promise.all(
        nodes.map(async (node) => {
          let cursor = '0'
          do {
            const [next, keys] = await this.bound(
              node.scan(cursor, 'MATCH', pattern, 'COUNT', this.opts.scanCount),
            )
            cursor = next
            for (const key of keys) found.add(key)
          } while (cursor !== '0')
        }),
      )
      return [...found]
    } catch (error) {
      throw this.failure('SCAN', error, { text: `of pattern "${pattern}"` })
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
    await this.deleteByPattern(`${escapeGlob(prefix)}*`)
  }

  /** `SET key value NX PX ttl`: `true` when this call created the key (a lease was taken). */
  setIfAbsent(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    const bytes = this.bytes(value)
    return this.send('SET NX', key, () => this.client.set(key, bytes, 'PX', pxOf(ttlMs), 'NX')).then(
      (reply) => reply === 'OK',
    )
  }

  /** Removes `key` only while it holds exactly `value`, atomically (a script run with EVALSHA). */
  deleteIfEquals(key: string, value: Uint8Array): Promise<boolean> {
    // Copied: the script may have to be sent again after a NOSCRIPT reply, a round trip later.
    const bytes = Buffer.from(value)
    // Bounded as a whole: after a NOSCRIPT reply, the script itself is a second round trip.
    return this.send('compare-and-delete', key, () =>
      this.deadline(this.script(this.client, DELETE_IF_EQUALS, [key], [bytes])),
    ).then((removed) => Number(removed) > 0)
  }

  /** `PUBLISH channel message`, received by every subscriber in every process. */
  publish(channel: string, message: string): Promise<void> {
    return this.send('PUBLISH', { text: `on channel "${channel}"` }, () =>
      this.client.publish(channel, message),
    ).then(noop)
  }

  /**
   * Subscribes on a dedicated connection (opened on first use). `onStatus` hears `ready` each time
   * the subscription is (re)established and `unavailable` when it is lost, since messages published
   * in between are missed. When Redis is down, this still resolves: the subscription is made as soon
   * as the connection comes back.
   */
  async subscribe(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): Promise<() => Promise<void>> {
    if (this.closed) throw this.closedError('SUBSCRIBE')
    const subscriber = this.subscriberClient()
    const entry: Subscription = { onMessage, onStatus, told: undefined }
    let handlers = this.channels.get(channel)
    const isNew = handlers === undefined
    if (handlers === undefined) {
      handlers = new Set()
      this.channels.set(channel, handlers)
    }
    handlers.add(entry)

    const ended = async (): Promise<void> => {
      const set = this.channels.get(channel)
      if (set === undefined || !set.delete(entry) || set.size > 0) return
      this.channels.delete(channel)
      if (subscriber.status === 'ready' && this.subscriber === subscriber) {
        // A failure leaves a subscription nobody listens to; it ends with the connection.
        await this.bound(subscriber.unsubscribe(channel)).catch(() => undefined)
      }
    }

    if (subscriber.status !== 'ready') await this.waitFirstConnect(subscriber)
    if (subscriber.status === 'ready') {
      if (isNew) {
        try {
          await this.bound(subscriber.subscribe(channel))
        } catch (error) {
          handlers.delete(entry)
          if (handlers.size === 0) this.channels.delete(channel)
          throw this.failure('SUBSCRIBE', error, { text: `to channel "${channel}"` })
        }
      }
      this.subscribed = true
      tell(entry, 'ready')
    } else {
      tell(entry, this.statusOf(subscriber, true))
    }
    return ended
  }

  /** `ready`, `connecting` (first connection under way), `unavailable` (lost, retrying) or `closed`. */
  status(): AdapterStatus {
    if (this.closed) return 'closed'
    return this.statusOf(this.client, this.everReady || this.lastError !== undefined)
  }

  /**
   * Closes the connections the adapter opened (`QUIT`, then a hard disconnect if the server does not
   * answer). A client passed in as `client` is left open, for its owner to close.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const subscriber = this.subscriber
    this.subscriber = undefined
    this.channels.clear()
    subscriber?.disconnect()
    if (!this.owned) {
      this.client.off('error', this.onError)
      this.client.off('ready', this.onReady)
      return
    }
    if (this.client.status === 'ready') {
      try {
        await this.client.quit()
      } catch {
        // The server went away meanwhile; the disconnect below still releases the socket.
      }
    }
    this.client.disconnect()
  }

  // ---------------------------------------------------------------------------------------------

  private readonly flushGets = (): void => {
    const batch = this.pending!
    this.pending = undefined
    const { keys, resolves, rejects } = batch
    if (keys.length === 1) {
      this.getOne(keys[0]!).then(resolves[0], rejects[0])
      return
    }
    this.getsInFlight++
    this.fetch(keys).then(
      (replies) => {
        this.getsInFlight--
        for (let i = 0; i < replies.length; i++) resolves[i]!(toBytes(replies[i]))
      },
      (error: unknown) => {
        this.getsInFlight--
        for (let i = 0; i < keys.length; i++) rejects[i]!(this.failure('GET', error, keys[i]!))
      },
    )
  }

  /**
   * One `GET`. On a ready single node, the caller gets the command's own promise (see
   * {@link SingleGet}); elsewhere, a single promise step between ioredis and the caller.
   */
  private getOne(key: string): Promise<Uint8Array | undefined> {
    if (this.client.status !== 'ready' || this.closed || this.ownTimeout) {
      return this.send('GET', key, () => this.client.getBuffer(key)).then(toBytes)
    }
    if (this.directGets) {
      const command = new SingleGet(this.watchdog, key, this.keyPrefix, this.getFailed)
      this.lastGet = command
      try {
        ;(this.client as Redis).sendCommand(command)
      } catch (error) {
        command.reject(error instanceof Error ? error : new Error(String(error)))
      }
      return command.promise
    }
    let reply: Promise<Buffer | null>
    try {
      reply = this.client.getBuffer(key)
    } catch (error) {
      return Promise.reject(this.failure('GET', error, key))
    }
    this.getsInFlight++
    return reply.then(this.gotOne, (error: unknown) => {
      this.getsInFlight--
      throw this.failure('GET', error, key)
    })
  }

  private readonly getFailed = (error: unknown, key: string): CacheError => this.failure('GET', error, key)

  private readonly gotOne = (reply: Buffer | null): Uint8Array | undefined => {
    this.getsInFlight--
    return toBytes(reply)
  }

  /** MGET in batches; on a cluster one MGET per hash slot, all sent at once. Raw errors. */
  private fetch(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return this.whenReady(() => this.fetchNow(keys))
  }

  private async fetchNow(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (!this.isCluster) {
      const parts = chunk(keys, this.opts.batchSize)
      if (parts.length === 1) return await this.bound(this.client.mgetBuffer(parts[0]!))
      return (await Promise.all(parts.map((part) => this.bound(this.client.mgetBuffer(part))))).flat()
    }
    const out = new Array<Buffer | null>(keys.length)
    await Promise.all(
      groupBySlot(keys).map(async (positions) => {
        const replies = await this.bound(this.client.mgetBuffer(positions.map((i) => keys[i]!)))
        for (let j = 0; j < positions.length; j++) out[positions[j]!] = replies[j] ?? null
      }),
    )
    return out
  }

  /** UNLINK through `target` (the client, or one cluster node), never spanning hash slots on a cluster. */
  private async unlink(target: RedisClient, keys: readonly string[]): Promise<number> {
    const groups = this.isCluster
      ? groupBySlot(keys).flatMap((positions) =>
          chunk(
            positions.map((i) => keys[i]!),
            this.opts.batchSize,
          ),
        )
      : chunk(keys, this.opts.batchSize)
    let removed = 0
    for (const n of await Promise.all(groups.map((group) => this.bound(target.unlink(group))))) removed += n
    return removed
  }

  /**
   * Pattern delete on one server, `scanCount` keys examined per script call (see
   * {@link SCAN_UNLINK}). A server that refuses the script (an ACL user without scripting rights, a
   * proxy without EVAL) gets the same SCAN + UNLINK from the client instead, from the cursor reached
   * so far.
   */
  private async scanAndUnlinkOnServer(node: Redis, pattern: string): Promise<number> {
    const pages = Math.ceil(this.opts.scanCount / SCAN_PAGE)
    const count = String(Math.ceil(this.opts.scanCount / pages))
    let cursor = '0'
    let removed = 0
    do {
      let page: [next: string, removed: number]
      try {
        page = await this.bound(
          this.script<[string, number]>(node, SCAN_UNLINK, [], [cursor, pattern, count, String(pages)]),
        )
      } catch (error) {
        if (!isReplyError(error)) throw error
        return removed + (await this.scanAndUnlink(node, pattern, cursor))
      }
      cursor = String(page[0])
      removed += Number(page[1])
    } while (cursor !== '0')
    return removed
  }

  /** Runs `script` by its digest, sending its source once if the server does not know it yet. */
  private script<T = unknown>(
    target: RedisClient,
    script: LuaScript,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer>,
  ): Promise<T> {
    return (target.evalsha(script.sha, keys.length, ...keys, ...args) as Promise<T>).catch(
      (error: unknown) => {
        // First use on this server (or after SCRIPT FLUSH): send the script itself, which caches it.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
        return target.eval(script.source, keys.length, ...keys, ...args) as Promise<T>
      },
    )
  }

  private async scanAndUnlink(node: Redis, pattern: string, from = '0'): Promise<number> {
    const unlinks: Array<Promise<number>> = []
    let cursor = from
    try {
      do {
        const [next, keys] = await this.bound(
          node.scan(cursor, 'MATCH', pattern, 'COUNT', this.opts.scanCount),
        )
        cursor = next
        // Unlink while the scan goes on; SCAN may return a key twice, UNLINK then counts it once.
        if (keys.length > 0) unlinks.push(this.unlink(node, keys))
      } while (cursor !== '0')
    } finally {
      // Settle every UNLINK before reporting, so no rejection is left unhandled.
      await Promise.allSettled(unlinks)
    }
    let removed = 0
    for (const n of await Promise.all(unlinks)) removed += n
    return removed
  }

  /**
   * Sends a command at once when connected, so ioredis serializes its arguments before the caller
   * can touch them again, or else after the first connection (see `ready`). Failures become
   * CacheErrors naming `target`.
   */
  private send<T>(command: string, target: Target, issue: () => Promise<T>): Promise<T> {
    let reply: Promise<T>
    if (this.client.status === 'ready' && !this.closed) {
      try {
        reply = this.bound(issue())
      } catch (error) {
        return Promise.reject(this.failure(command, error, target))
      }
    } else {
      // The wait for the first connection counts against the same command timeout.
      reply = this.deadline(this.readySlow().then(() => this.bound(issue())))
    }
    return reply.catch((error: unknown) => {
      throw this.failure(command, error, target)
    })
  }

  /** A value as ioredis takes it; copied when it will not be serialized right away. */
  private bytes(value: Uint8Array): Buffer {
    return toBuffer(value, this.copyValues || this.client.status !== 'ready' || this.closed)
  }

  /**
   * Runs `run` at once when connected, or else after the first connection (see `ready`), the whole
   * within one command timeout, so that every operation keeps the `operationTimeoutMs` it declares.
   */
  private whenReady<T>(run: () => Promise<T>): Promise<T> {
    const waiting = this.ready()
    return waiting === undefined ? run() : this.deadline(waiting.then(run))
  }

  /**
   * Resolves when commands can be sent. Only the very first connection is waited for (at most one
   * command timeout); once the client has failed or been connected, a client that is not ready
   * means the store is down, and the call fails at once instead of queueing.
   */
  private ready(): Promise<void> | undefined {
    if (this.client.status === 'ready' && !this.closed) return undefined
    return this.readySlow()
  }

  private async readySlow(): Promise<void> {
    if (this.closed) throw this.closedError()
    if (this.client.status === 'ready') return
    if (!this.everReady && this.lastError === undefined) {
      this.firstConnect ??= this.waitFirstConnect(this.client)
      if (await this.firstConnect) return
    }
    if (this.closed) throw this.closedError()
    throw new Error(`not connected (${this.lastError ?? `connection ${this.client.status}`})`)
  }

  /** Waits for `client`'s first `ready` (true) or error, up to one command timeout (false). */
  private waitFirstConnect(client: RedisClient): Promise<boolean> {
    if (client.status === 'wait') client.connect().catch(() => undefined)
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        client.off('ready', onReady)
        client.off('error', onFail)
        client.off('end', onFail)
        resolve(ok)
      }
      const onReady = (): void => done(true)
      const onFail = (): void => done(false)
      const timer = setTimeout(onFail, this.opts.commandTimeoutMs)
      client.once('ready', onReady)
      client.once('error', onFail)
      client.once('end', onFail)
    })
  }

  /** Bounds a command by the command timeout when the client (one passed in) has none of its own. */
  private bound<T>(command: Promise<T>): Promise<T> {
    return this.ownTimeout ? this.deadline(command) : command
  }

  /** Rejects as a timed-out command when `work` has not settled within the command timeout. */
  private deadline<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(TIMED_OUT)), this.opts.commandTimeoutMs)
      work.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  private subscriberClient(): RedisClient {
    if (this.subscriber !== undefined) return this.subscriber
    // Redis reserves a subscribed connection for pub/sub, so commands keep their own connection.
    const subscriber: RedisClient = this.isCluster
      ? (this.client as Cluster).duplicate()
      : (this.client as Redis).duplicate({ autoResubscribe: false, enableOfflineQueue: false })
    subscriber.on('error', () => undefined) // the state is read from `status`, like the main client
    subscriber.on('message', (channel: string, message: string) => {
      const handlers = this.channels.get(channel)
      if (handlers === undefined) return
      for (const handler of handlers) {
        try {
          handler.onMessage(message)
        } catch {
          // One failing listener must not starve the others nor break the connection's reader.
        }
      }
    })
    subscriber.on('ready', () => {
      // Subscribe to every channel again: a new connection starts with none.
      const channels = [...this.channels.keys()]
      if (channels.length === 0 || this.closed) return
      this.bound(subscriber.subscribe(...channels)).then(
        () => this.notify('ready'),
        () => this.notify('unavailable'),
      )
    })
    subscriber.on('close', () => {
      if (this.subscribed) this.notify('unavailable')
    })
    this.subscriber = subscriber
    return subscriber
  }

  private notify(status: AdapterStatus): void {
    if (this.closed) return
    this.subscribed = status === 'ready'
    for (const handlers of this.channels.values()) {
      for (const handler of handlers) tell(handler, status)
    }
  }

  private statusOf(client: RedisClient, failedBefore: boolean): AdapterStatus {
    switch (client.status) {
      case 'ready':
        return 'ready'
      case 'close':
      case 'end':
        return 'unavailable'
      default:
        return failedBefore ? 'unavailable' : 'connecting'
    }
  }

  private closedError(operation = 'operation'): CacheError {
    return new CacheError(ErrorCodes.CLOSED, `redis ${this.endpoint}: ${operation} after close()`)
  }

  /** A CacheError for a failed command: the endpoint (redacted), the command, the key, the cause. */
  private failure(command: string, cause: unknown, target: Target): CacheError {
    if (cause instanceof CacheError) return cause
    const what = describeTarget(target)
    const reason = redact(cause instanceof Error ? cause.message : String(cause))
    if (reason === TIMED_OUT) {
      return new CacheError(
        ErrorCodes.TIMEOUT,
        `redis ${this.endpoint}: ${command} ${what} got no reply within ${this.opts.commandTimeoutMs}ms`,
        { cause },
      )
    }
    return new CacheError(
      ErrorCodes.ADAPTER,
      `redis ${this.endpoint}: ${command} ${what} failed: ${reason}`,
      {
        cause,
      },
    )
  }
}

/** Creates a {@link RedisAdapter} from a URL or options; the name users write in `createCache`. */
export function redisAdapter(options: RedisAdapterOptions | string = {}): RedisAdapter {
  return new RedisAdapter(options)
}
