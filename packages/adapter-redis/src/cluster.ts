/**
 * What a Redis Cluster needs beyond ioredis' own handling: redirects followed per command, the node
 * that holds a key, and a slot map kept fresh while a node is unreachable.
 *
 * ioredis follows a MOVED or ASK reply of a command sent on its own, but a pipeline (auto-pipelining
 * groups the commands of a tick per node) is sent again only when all its errors are identical; after
 * a failover, a pipeline of commands for several slots gets a different MOVED for each, and ioredis
 * rejects them all and keeps its old slot map. Here each command that got a redirect is sent again
 * after one shared refresh of the slot map, on its own, where ioredis follows any further redirect.
 *
 * Auto-pipelining also groups a tick's commands by the slot map of the moment they were queued; when a
 * refresh lands before the group is sent and splits it, ioredis rejects the whole group without
 * sending it. Those commands are sent again on their own too, and count as no failure of the store.
 */
import type { Cluster } from 'ioredis'
import { chunk } from './batches.js'
import { isReplyError } from './errors.js'
import { groupBySlot, keySlot } from './key-slot.js'
import type { Link } from './link.js'
import { afterPendingIo, TIMED_OUT } from './reply-watchdog.js'

// What ioredis says, without sending anything, of an auto-pipeline whose slots the slot map no longer
// puts on one node: a refresh landed between queueing the commands and sending them.
const REGROUPED = 'All keys in the pipeline should belong to the same slots allocation group'

/**
 * `MOVED` or `ASK` when `error` is a cluster redirect, `REGROUPED` when ioredis refused to send an
 * auto-pipeline that a slot map refresh split across nodes, else `undefined`.
 */
export function redirectOf(error: unknown): 'MOVED' | 'ASK' | 'REGROUPED' | undefined {
  if (!(error instanceof Error)) return undefined
  const message = error.message
  if (!isReplyError(error)) return message === REGROUPED ? 'REGROUPED' : undefined
  if (message.startsWith('MOVED ')) return 'MOVED'
  if (message.startsWith('ASK ')) return 'ASK'
  return undefined
}

// While a node is suspect, the slot map is asked for this often, so that a promotion is seen well
// within a second; after SUSPECT_FAST_MS without news, less often.
const POLL_FAST_MS = 200
const POLL_SLOW_MS = 1000
const SUSPECT_FAST_MS = 30_000
// A node that failed is watched at least this long, even when its connection looks fine (a frozen
// server keeps its socket open while its replica takes over).
const WATCH_AFTER_FAILURE_MS = 10_000

/** The routing side of a cluster client: redirects, key owners and slot map refreshes. */
export class ClusterRoutes {
  readonly #client: Cluster
  #refreshing: Promise<void> | undefined
  #poll: NodeJS.Timeout | undefined
  #suspectSince = 0
  #watchUntil = 0
  #closed = false

  /** Routes of `client`. */
  constructor(client: Cluster) {
    this.#client = client
  }

  /** The `host:port` of the primary that serves `key`, as the client's slot map has it. */
  nodeOf(key: string): string | undefined {
    return this.#client.slots[keySlot(key)]?.[0]
  }

  /**
   * Runs `issue` (which must send its command synchronously) and, when the reply is a redirect,
   * sends it again: after one shared refresh of the slot map for MOVED, and outside any pipeline, so
   * that ioredis itself follows a further MOVED or the ASK of a slot being migrated. A command whose
   * pipeline a refresh split is sent again at once, on its own, under the new map. A failure that
   * is not a reply of the server (a lost connection, a timeout) starts watching the slot map.
   */
  follow<T>(issue: () => Promise<T>): Promise<T> {
    return issue().catch((error: unknown) => {
      const redirect = redirectOf(error)
      if (redirect === undefined) {
        if (!isReplyError(error)) this.suspect()
        throw error
      }
      if (redirect !== 'MOVED') return this.#alone(issue)
      return this.refresh().then(() => this.#alone(issue))
    })
  }

  /** `issue` with auto-pipelining off for the command it sends, so that ioredis follows its redirects. */
  #alone<T>(issue: () => Promise<T>): Promise<T> {
    const options = this.#client.options
    const before = options.enableAutoPipelining
    // ioredis decides per call, synchronously, whether a command joins the tick's pipeline.
    options.enableAutoPipelining = false
    try {
      return issue()
    } finally {
      options.enableAutoPipelining = before
    }
  }

  /** Refreshes the slot map once for every caller that asks while a refresh is under way. */
  refresh(): Promise<void> {
    this.#refreshing ??= new Promise<void>((resolve) => {
      // A failed refresh leaves the old map; the command sent again then meets the redirect again,
      // which ioredis follows on its own.
      this.#client.refreshSlotsCache(() => {
        this.#refreshing = undefined
        resolve()
      })
    })
    return this.#refreshing
  }

  /**
   * A node failed to answer: ask for the slot map every {@link POLL_FAST_MS} until every primary in
   * it is connected again and {@link WATCH_AFTER_FAILURE_MS} have passed, so that the promotion of a
   * replica is known before a command to the dead node would have told.
   */
  suspect(): void {
    if (this.#closed) return
    const now = Date.now()
    this.#watchUntil = now + WATCH_AFTER_FAILURE_MS
    if (this.#poll !== undefined) return
    this.#suspectSince = now
    this.#schedule(POLL_FAST_MS)
  }

  #schedule(ms: number): void {
    this.#poll = setTimeout(this.#tick, ms)
    this.#poll.unref()
  }

  readonly #tick = (): void => {
    this.#poll = undefined
    if (this.#closed) return
    void this.refresh().then(() => {
      if (this.#closed || this.#poll !== undefined) return
      const now = Date.now()
      if (now >= this.#watchUntil && this.#ownersConnected()) return
      this.#schedule(now - this.#suspectSince < SUSPECT_FAST_MS ? POLL_FAST_MS : POLL_SLOW_MS)
    })
  }

  /** Whether every primary of the slot map has a connection that is up. */
  #ownersConnected(): boolean {
    const ready = new Set<string>()
    for (const node of this.#client.nodes('master')) {
      if (node.status === 'ready') ready.add(`${node.options.host}:${node.options.port}`)
    }
    const seen = new Set<string>()
    for (const owners of this.#client.slots) {
      const owner = owners?.[0]
      if (owner === undefined || seen.has(owner)) continue
      if (!ready.has(owner)) return false
      seen.add(owner)
    }
    return true
  }

  /** Stops watching the slot map. */
  close(): void {
    this.#closed = true
    if (this.#poll !== undefined) clearTimeout(this.#poll)
    this.#poll = undefined
  }
}

/** Hears how the MGET of the keys at `positions` ended: their replies, or the error. */
export type SlotReplies = (
  positions: number[],
  replies: Array<Buffer | null> | undefined,
  error?: unknown,
) => void

/**
 * MGET of `keys` on a cluster: one per hash slot (split further past `batchSize`), all sent at once,
 * each following its own redirects. `settle` hears each MGET's outcome on its own, so a dead node
 * fails only its own keys; one timer of `commandTimeout` bounds them all, the wait for the first
 * connection included. `done` runs once every MGET has been settled.
 */
export function readBySlot(
  link: Link,
  keys: readonly string[],
  settle: SlotReplies,
  done?: () => void,
): void {
  const groups = groupBySlot(keys).flatMap((positions) => chunk(positions, link.opts.batchSize))
  const open = new Set(groups)
  const finish = (positions: number[], replies: Array<Buffer | null> | undefined, error?: unknown): void => {
    if (!open.delete(positions)) return
    settle(positions, replies, error)
    if (open.size > 0) return
    clearTimeout(timer)
    done?.()
  }
  const expire = (): void => {
    if (open.size > 0) link.routes!.suspect()
    for (const positions of [...open]) finish(positions, undefined, new Error(TIMED_OUT))
  }
  const timer = setTimeout(afterPendingIo, link.opts.commandTimeoutMs, expire)
  const routes = link.routes!
  const client = link.client
  const send = (): void => {
    for (const positions of groups) {
      let reply: Promise<Array<Buffer | null>>
      try {
        reply = routes.follow(() => client.mgetBuffer(positions.map((i) => keys[i]!)))
      } catch (error) {
        finish(positions, undefined, error)
        continue
      }
      reply.then(
        (replies) => finish(positions, replies),
        (error: unknown) => finish(positions, undefined, error),
      )
    }
  }
  const waiting = link.ready()
  if (waiting === undefined) send()
  else
    waiting.then(send, (error: unknown) => {
      for (const positions of [...open]) finish(positions, undefined, error)
    })
}
