/**
 * Reads: `get` (a lone GET, or the gets of a tick coalesced into one MGET; a get of a key already
 * being read shares that read) and `getMany` (MGET in batches, per hash slot on a cluster).
 */
import type { CacheError } from '@cacheport/cache-core'
import type { Redis } from 'ioredis'
import { chunk } from './batches.js'
import { readBySlot } from './cluster.js'
import { isForeignType } from './errors.js'
import type { Link } from './link.js'
import { directCommands, type ReplyWatchdog, WatchedCommand } from './reply-watchdog.js'

type Settle<T> = (value: T) => void

/** What a get resolves with: the entry's bytes, or `undefined` for a miss. */
type Read = Promise<Uint8Array | undefined>

// Bumped by every write or invalidation an adapter of this process sends, and by every pub/sub
// message one receives. A read sent before either may answer with what they replaced, so a get
// made after them must not share it: it could know of the change (it may even have made it, or
// been told of it by the bus or by another cache of this process).
let changes = 0

/**
 * Marks that this process changed (or heard of a change to) what Redis holds: gets made from now on
 * send reads of their own instead of sharing those already on their way.
 */
export function changed(): void {
  changes++
}

/** Single `get`s waiting for the end of the tick, to go out together as one MGET. */
interface PendingGets {
  readonly keys: string[]
  readonly resolves: Array<Settle<Uint8Array | undefined>>
  readonly rejects: Array<Settle<unknown>>
}

/**
 * A reply as the contract's bytes. The Buffer ioredis made for this reply is handed over as it is: it
 * is a Uint8Array, nobody else holds it, and the core reads Buffers without wrapping them again.
 */
function toBytes(reply: Uint8Array | null | undefined): Uint8Array | undefined {
  return reply ?? undefined
}

/**
 * What a `GET` of a key holding another Redis type (a list, a hash) reads as: bytes that are no
 * cache entry, so the core reads a miss for that key and counts it as undecodable. Rejecting
 * instead would count as a store failure, and a few such reads would open the circuit breaker for
 * every key: whoever can write one key under the prefix could switch caching off. (`MGET` answers
 * nil for such keys, a plain miss.)
 */
function notAnEntry(): Uint8Array {
  return new Uint8Array(0)
}

/** `GET`'s failure handling: a foreign-typed key is {@link notAnEntry}, anything else rethrown. */
function foreignAsNotAnEntry(error: unknown): Uint8Array {
  if (isForeignType(error)) return notAnEntry()
  throw error
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
    /** The key read, for gets of the same key that come while it is on its way. */
    readonly key: string,
    keyPrefix: string | undefined,
    explain: (error: unknown, key: string) => Error,
    /** The value of `changes` when it was sent: gets may share it while that is still current. */
    readonly since: number,
  ) {
    super(watchdog, 'get', [key], { replyEncoding: null, keyPrefix })
    const { resolve, reject } = this
    this.reject = (error: Error) =>
      isForeignType(error) ? resolve(notAnEntry() as Buffer) : reject(explain(error, key))
  }

  // ioredis passes every reply through here; a missing key is null in RESP, undefined in the contract.
  override transformReply(reply: Buffer | Buffer[]): Buffer {
    return (reply ?? undefined) as Buffer
  }
}

/** The adapter's reads over one {@link Link}. */
export class Reads {
  readonly #link: Link
  readonly #watchdog: ReplyWatchdog
  // Single GETs on a single node go out as commands whose timeout one shared timer keeps.
  readonly #directGets: boolean
  // The latest of those GETs: replies come in order on one connection, so while it is answered,
  // every GET sent before it is too.
  #lastGet: SingleGet | undefined
  #pending: PendingGets | undefined
  /** GETs and coalesced MGETs sent by `get` and not answered yet. */
  #getsInFlight = 0
  // The read each key's gets share while it is on its way, as long as nothing changed since it
  // was sent (see `changes`): a thousand gets of a hot key cost one GET. A direct GET on its way
  // is not in here: it is `#lastGet`, which knows its key.
  readonly #reading = new Map<string, Read>()
  #readingSince = changes

  /** Reads through `link`, the timeouts of direct GETs kept by `watchdog`. */
  constructor(link: Link, watchdog: ReplyWatchdog) {
    this.#link = link
    this.#watchdog = watchdog
    this.#directGets = directCommands(link)
  }

  /**
   * The entry under `key`, or `undefined`. A get of a key whose read is on its way, sent since this
   * process last changed anything in Redis or heard of a change, shares that read. Otherwise a get
   * made while other gets are waiting for Redis waits for the end of the tick, and all such gets of
   * the tick share one `MGET`.
   */
  get(key: string): Read {
    if (!this.#link.opts.coalesceGets) return this.#getOne(key)
    const last = this.#lastGet
    // Batching pays only when several gets share the round trip; a lone get goes out at once, and
    // the gets that follow it in the same tick still travel together. Nothing is on its way then,
    // so there is nothing to share either: a single get pays for no bookkeeping.
    if (this.#getsInFlight === 0 && (last === undefined || last.isSettled)) {
      const read = this.#getOne(key)
      // Any read but a direct GET (which `#lastGet` keeps) is found by later gets in `#reading`.
      if (read !== this.#lastGet?.promise) this.#share(key, read)
      return read
    }
    if (this.#readingSince !== changes) {
      this.#reading.clear()
      this.#readingSince = changes
    } else {
      const shared = this.#reading.get(key)
      if (shared !== undefined) return shared
    }
    if (last !== undefined && !last.isSettled && last.key === key && last.since === changes)
      return last.promise
    const read = new Promise<Uint8Array | undefined>((resolve, reject) => {
      let batch = this.#pending
      if (batch === undefined) {
        batch = this.#pending = { keys: [], resolves: [], rejects: [] }
        process.nextTick(this.#flushGets)
      }
      batch.keys.push(key)
      batch.resolves.push(resolve)
      batch.rejects.push(reject)
    })
    this.#share(key, read)
    return read
  }

  /** Lets later gets of `key` share `read` until it settles (or something changes). */
  #share(key: string, read: Read): void {
    if (this.#readingSince !== changes) {
      this.#reading.clear()
      this.#readingSince = changes
    }
    this.#reading.set(key, read)
    const done = (): void => {
      if (this.#reading.get(key) === read) this.#reading.delete(key)
    }
    read.then(done, done)
  }

  /** Entries for `keys`, aligned with them: one `MGET` (one per hash slot on a cluster). */
  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    try {
      const replies = await this.#fetch(keys)
      return replies.map(toBytes)
    } catch (error) {
      throw this.#link.failure('MGET', error, keys)
    }
  }

  readonly #flushGets = (): void => {
    const batch = this.#pending!
    this.#pending = undefined
    const { keys, resolves, rejects } = batch
    if (keys.length === 1) {
      this.#getOne(keys[0]!).then(resolves[0], rejects[0])
      return
    }
    if (this.#link.isCluster) {
      this.#readCluster(keys, resolves, rejects)
      return
    }
    this.#getsInFlight++
    this.#fetch(keys).then(
      (replies) => {
        this.#getsInFlight--
        for (let i = 0; i < replies.length; i++) resolves[i]!(toBytes(replies[i]))
      },
      (error: unknown) => {
        this.#getsInFlight--
        for (let i = 0; i < keys.length; i++) rejects[i]!(this.#link.failure('GET', error, keys[i]!))
      },
    )
  }

  /**
   * One `GET`. On a ready single node, the caller gets the command's own promise (see
   * {@link SingleGet}); elsewhere, a single promise step between ioredis and the caller.
   */
  #getOne(key: string): Promise<Uint8Array | undefined> {
    const link = this.#link
    if (link.isCluster) return new Promise((resolve, reject) => this.#readCluster([key], [resolve], [reject]))
    if (!link.isReady || link.ownTimeout) {
      return link.send('GET', key, () => link.client.getBuffer(key).catch(foreignAsNotAnEntry)).then(toBytes)
    }
    if (this.#directGets) {
      const command = new SingleGet(this.#watchdog, key, link.keyPrefix, this.#getFailed, changes)
      this.#lastGet = command
      try {
        ;(link.client as Redis).sendCommand(command)
      } catch (error) {
        command.reject(error instanceof Error ? error : new Error(String(error)))
      }
      return command.promise
    }
    let reply: Promise<Buffer | null>
    try {
      reply = link.client.getBuffer(key)
    } catch (error) {
      return Promise.reject(link.failure('GET', error, key))
    }
    this.#getsInFlight++
    return reply.then(this.#gotOne, (error: unknown) => {
      this.#getsInFlight--
      if (isForeignType(error)) return notAnEntry()
      throw link.failure('GET', error, key)
    })
  }

  /**
   * Gets on a cluster: one MGET per hash slot, each settling its own callers, so that keys of a
   * node that fails or times out fail alone and the others are answered.
   */
  #readCluster(
    keys: readonly string[],
    resolves: Array<Settle<Uint8Array | undefined>>,
    rejects: Array<Settle<unknown>>,
  ): void {
    const link = this.#link
    this.#getsInFlight++
    readBySlot(
      link,
      keys,
      (positions, replies, error) => {
        for (let j = 0; j < positions.length; j++) {
          const i = positions[j]!
          if (replies === undefined) rejects[i]!(link.failure('GET', error, keys[i]!))
          else resolves[i]!(toBytes(replies[j]))
        }
      },
      () => this.#getsInFlight--,
    )
  }

  readonly #getFailed = (error: unknown, key: string): CacheError => this.#link.failure('GET', error, key)

  readonly #gotOne = (reply: Buffer | null): Uint8Array | undefined => {
    this.#getsInFlight--
    return toBytes(reply)
  }

  /** MGET in batches; on a cluster one MGET per hash slot, all sent at once. Raw errors. */
  #fetch(keys: readonly string[]): Promise<Array<Buffer | null>> {
    // A cluster read keeps its own deadline, the wait for the first connection included.
    if (this.#link.isCluster) return this.#fetchNow(keys)
    return this.#link.whenReady(() => this.#fetchNow(keys))
  }

  async #fetchNow(keys: readonly string[]): Promise<Array<Buffer | null>> {
    const link = this.#link
    if (!link.isCluster) {
      const parts = chunk(keys, link.opts.batchSize)
      if (parts.length === 1) return await link.bound(link.client.mgetBuffer(parts[0]!))
      return (await Promise.all(parts.map((part) => link.bound(link.client.mgetBuffer(part))))).flat()
    }
    const out = new Array<Buffer | null>(keys.length)
    return new Promise((resolve, reject) =>
      readBySlot(
        link,
        keys,
        (positions, replies, error) => {
          if (replies === undefined) reject(error)
          else for (let j = 0; j < positions.length; j++) out[positions[j]!] = replies[j] ?? null
        },
        () => resolve(out),
      ),
    )
  }
}
