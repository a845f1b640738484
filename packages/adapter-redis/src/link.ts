/**
 * The adapter's connection in use: the client, whether commands can be sent now, and the deadlines
 * every operation keeps. Commands are never queued while disconnected: they fail at once, except
 * during the very first connection attempt, which they wait for up to `commandTimeout`.
 */
import { type AdapterStatus, type CacheError, redact } from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import { ClusterRoutes } from './cluster.js'
import type { Connection, ResolvedOptions } from './connection.js'
import { closedError, commandFailure, type Target } from './errors.js'
import { afterPendingIo, TIMED_OUT } from './reply-watchdog.js'
import { SilenceWatch } from './silence-watch.js'
import type { RedisClient } from './types.js'

/** `ready`, `connecting` (never failed yet), or `unavailable`, from an ioredis client's own status. */
export function statusOf(client: RedisClient, failedBefore: boolean): AdapterStatus {
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

/**
 * The bytes as a Buffer for ioredis. A command sent at once is serialized into a new buffer on the
 * spot, so a view is enough; an auto-pipelined one keeps its arguments until the end of the tick,
 * so then the bytes are copied, lest the caller change them in between.
 */
function toBuffer(value: Uint8Array, copy: boolean): Buffer {
  if (copy) return Buffer.from(value)
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** A client in use by one adapter, with its state, its deadlines and its error wording. */
export class Link {
  /** The ioredis client commands go through. */
  readonly client: RedisClient
  /** Where it connects, password redacted. */
  readonly endpoint: string
  /** The adapter's options, parsed. */
  readonly opts: ResolvedOptions
  /** A Redis Cluster rather than a single node (or Sentinel-managed one). */
  readonly isCluster: boolean
  /**
   * The adapter bounds each call with a timer of its own: the client (one passed in) has no command
   * timeout, or it is a cluster, where ioredis sends a command again after a lost connection or a
   * CLUSTERDOWN reply, each time with a new timeout, for as long as redirections are left.
   */
  readonly ownTimeout: boolean
  /** Redirects, key owners and slot map refreshes, on a cluster. */
  readonly routes: ClusterRoutes | undefined
  /** The client auto-pipelines, so values wait for the end of the tick before being serialized. */
  readonly copyValues: boolean
  /** ioredis' `keyPrefix` of a single-node client, which commands built by hand must carry. */
  readonly keyPrefix: string | undefined
  /** The client comes from the ioredis this package loaded, so commands built here fit it. */
  readonly native: boolean
  readonly #owned: boolean
  readonly #silence: SilenceWatch | undefined
  #closed = false
  #everReady: boolean
  #lastError: string | undefined
  #firstConnect: Promise<boolean> | undefined

  // ioredis emits `error` for every failed connection attempt; without a listener Node would throw.
  // Only the reason is kept: the core counts failures and logs them once per burst.
  readonly #onError = (error: Error): void => {
    this.#lastError = redact(error.message)
  }
  readonly #onReady = (): void => {
    this.#everReady = true
    this.#lastError = undefined
  }

  /** Takes over the client `connection` made (or adopted) and starts tracking its state. */
  constructor(connection: Connection) {
    this.client = connection.client
    this.#owned = connection.owned
    this.endpoint = connection.endpoint
    this.opts = connection.resolved
    this.isCluster = (this.client as { isCluster?: boolean }).isCluster === true
    this.ownTimeout = connection.needsOwnTimeout || this.isCluster
    this.routes = this.isCluster ? new ClusterRoutes(this.client as Cluster) : undefined
    this.copyValues = this.client.options.enableAutoPipelining === true
    this.native = connection.native
    this.keyPrefix = this.isCluster ? undefined : (this.client as Redis).options.keyPrefix
    this.#everReady = this.client.status === 'ready'
    this.#silence =
      connection.silenceMs > 0 ? new SilenceWatch(this.client as Redis, connection.silenceMs) : undefined
    this.client.on('error', this.#onError)
    this.client.on('ready', this.#onReady)
  }

  /**
   * While replies are due, holds the socket's writes until the end of the current tick, so that the
   * commands a burst of callers sends one by one (the continuations of a batch of replies, say)
   * leave in one write instead of one system call each. With nothing due, a command is written at
   * once: a lone caller waits for nothing. Writes keep their order either way. Only for commands
   * sent straight away, on a ready single node.
   */
  corkTick(): void {
    if (this.#corked !== undefined) return
    const client = this.client as Redis
    const stream = client.stream
    if (client.commandQueue.length === 0 || stream === undefined || stream.writableCorked > 0) return
    stream.cork()
    this.#corked = stream
    process.nextTick(this.#uncork)
  }

  #corked: Redis['stream'] | undefined
  readonly #uncork = (): void => {
    const stream = this.#corked
    this.#corked = undefined
    stream?.uncork()
  }

  /** `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** Commands can go out at once. */
  get isReady(): boolean {
    return this.client.status === 'ready' && !this.#closed
  }

  /** `ready`, `connecting` (first connection under way), `unavailable` (lost, retrying) or `closed`. */
  status(): AdapterStatus {
    if (this.#closed) return 'closed'
    return statusOf(this.client, this.#everReady || this.#lastError !== undefined)
  }

  /**
   * Sends a command at once when connected, so ioredis serializes its arguments before the caller
   * can touch them again, or else after the first connection (see `ready`). Failures become
   * CacheErrors naming `target`.
   */
  send<T>(command: string, target: Target, issue: () => Promise<T>): Promise<T> {
    const routes = this.routes
    // On a cluster, a redirect is followed within the same deadline, and never reported as a failure.
    if (routes !== undefined) {
      const direct = issue
      issue = () => routes.follow(direct)
    }
    let reply: Promise<T>
    if (this.isReady) {
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
  bytes(value: Uint8Array): Buffer {
    return toBuffer(value, this.copyValues || !this.isReady)
  }

  /**
   * Runs `run` at once when connected, or else after the first connection (see `ready`), the whole
   * within one command timeout, so that every operation keeps the `operationTimeoutMs` it declares.
   */
  whenReady<T>(run: () => Promise<T>): Promise<T> {
    const waiting = this.ready()
    return waiting === undefined ? run() : this.deadline(waiting.then(run))
  }

  /**
   * Resolves when commands can be sent. Only the very first connection is waited for (at most one
   * command timeout); once the client has failed or been connected, a client that is not ready
   * means the store is down, and the call fails at once instead of queueing.
   */
  ready(): Promise<void> | undefined {
    if (this.isReady) return undefined
    return this.readySlow()
  }

  /** {@link ready} once it is known that the client is not ready now. */
  async readySlow(): Promise<void> {
    if (this.#closed) throw this.closedError()
    if (this.client.status === 'ready') return
    if (!this.#everReady && this.#lastError === undefined) {
      this.#firstConnect ??= this.waitFirstConnect(this.client)
      if (await this.#firstConnect) return
    }
    if (this.#closed) throw this.closedError()
    throw new Error(`not connected (${this.#lastError ?? `connection ${this.client.status}`})`)
  }

  /** Waits for `client`'s first `ready` (true) or error, up to one command timeout (false). */
  waitFirstConnect(client: RedisClient): Promise<boolean> {
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
  bound<T>(command: Promise<T>): Promise<T> {
    return this.ownTimeout ? this.deadline(command) : command
  }

  /** Rejects as a timed-out command when `work` has not settled within the command timeout. */
  deadline<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(afterPendingIo, this.opts.commandTimeoutMs, () => {
        if (settled) return
        // On a cluster a node that does not answer may be failing over: watch the slot map.
        this.routes?.suspect()
        reject(new Error(TIMED_OUT))
      })
      work.then(
        (value) => {
          settled = true
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          settled = true
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  /** A CacheError for a failed command: the endpoint (redacted), the command, the key, the cause. */
  failure(command: string, cause: unknown, target: Target): CacheError {
    return commandFailure(this.endpoint, this.opts.commandTimeoutMs, command, cause, target)
  }

  /** The error of `operation` attempted after `close()`. */
  closedError(operation?: string): CacheError {
    return closedError(this.endpoint, operation)
  }

  /**
   * Marks the link closed and closes the client if the adapter opened it (`QUIT`, then a hard
   * disconnect if the server does not answer). A client passed in is left open for its owner.
   */
  async close(): Promise<void> {
    this.#closed = true
    this.routes?.close()
    this.#silence?.stop()
    if (!this.#owned) {
      this.client.off('error', this.#onError)
      this.client.off('ready', this.#onReady)
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
}
