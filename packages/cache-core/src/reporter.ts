import type { KeyInfo } from './keys.js'
import { prefixOf, StatsRecorder } from './stats.js'
import type { CacheEventName, CacheEvents, CacheLogger } from './types.js'

type Listener = (payload: never) => void

/**
 * Everything a cache tells the outside about itself: counters, events and debug lines. Hot paths
 * call it on every read, so each method checks for listeners and debug logging before building a
 * payload.
 */
export class Reporter {
  /** Counters, overall and per prefix. */
  readonly recorder = new StatsRecorder()
  readonly #listeners: { [E in CacheEventName]?: Array<(payload: CacheEvents[E]) => void> } = {}

  constructor(
    private readonly cache: string,
    /** The application's logger, if any. */
    readonly logger: CacheLogger | undefined,
  ) {}

  /** Counts a fresh hit and returns its value. */
  hit(info: KeyInfo, value: unknown): unknown {
    this.recorder.total.hits++
    info.counters.hits++
    if (this.debugOn())
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache hit ${this.cache}:${info.key}`)
    if (this.#listeners.hit !== undefined) this.emit('hit', { key: info.key, prefix: prefixOf(info.key) })
    return value
  }

  /** Counts a hit answered by the in-process tier (also counted as a hit when served). */
  l1Hit(info: KeyInfo): void {
    this.recorder.total.l1Hits++
    info.counters.l1Hits++
  }

  /** Counts a miss. */
  missed(info: KeyInfo): void {
    this.recorder.total.misses++
    info.counters.misses++
    if (this.debugOn())
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache miss ${this.cache}:${info.key}`)
    if (this.#listeners.miss !== undefined) this.emit('miss', { key: info.key, prefix: prefixOf(info.key) })
  }

  /** Counts a stale value served. */
  staleHit(info: KeyInfo): void {
    this.recorder.total.staleHits++
    info.counters.staleHits++
    if (this.debugOn()) {
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache stale hit ${this.cache}:${info.key}`)
    }
  }

  /** Counts a write or delete of one key and tells subscribers. */
  counted(field: 'sets' | 'deletes', info: KeyInfo): void {
    this.recorder.total[field]++
    info.counters[field]++
    const event = field === 'sets' ? 'set' : 'delete'
    if (this.#listeners[event] !== undefined) this.emit(event, { key: info.key, prefix: prefixOf(info.key) })
  }

  /** Counts one failed store operation and tells subscribers. */
  failed(operation: string, key: string | undefined, error: Error): void {
    this.recorder.add(key, 'errors')
    this.emit('error', { operation, error, key })
  }

  /** Logs a warning, when there is a logger. */
  warn(fields: Record<string, unknown>, message: string): void {
    this.logger?.warn?.({ cache: this.cache, ...fields }, message)
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    let list = this.#listeners[event] as Array<(payload: CacheEvents[E]) => void> | undefined
    if (list === undefined) {
      list = []
      ;(this.#listeners as Record<string, unknown>)[event] = list
    }
    list.push(listener)
    return () => {
      const at = list.indexOf(listener)
      if (at !== -1) list.splice(at, 1)
    }
  }

  /** Calls every listener of `event`; a listener that throws is logged, never propagated. */
  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const list = this.#listeners[event] as Listener[] | undefined
    if (list === undefined) return
    for (const listener of [...list]) {
      try {
        ;(listener as (p: CacheEvents[E]) => void)(payload)
      } catch (error) {
        this.logger?.error?.(
          { cache: this.cache, event, err: error },
          `cache "${this.cache}": a "${event}" listener threw`,
        )
      }
    }
  }

  private debugOn(): boolean {
    const logger = this.logger
    return logger?.debug !== undefined && (logger.isLevelEnabled?.('debug') ?? true)
  }
}
