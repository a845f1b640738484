import { isCacheError } from './errors.js'
import type { KeyInfo } from './keys.js'
import { StatsRecorder } from './stats.js'
import type { CacheEventName, CacheEvents, CacheLogger, CacheOperation, ReadOutcome } from './types.js'

type Listener = (payload: never) => void

// Epoch milliseconds of `performance.now()`'s zero. Read once: the getter costs ~300 ns a call in Node 20.
const TIME_ORIGIN = performance.timeOrigin

/**
 * Everything a cache tells the outside about itself: counters, events and debug lines. Hot paths
 * call it on every read, so each method checks for listeners and debug logging before building a
 * payload.
 */
export class Reporter {
  /** Counters, overall and per prefix. */
  readonly recorder = new StatsRecorder()
  readonly #listeners: { [E in CacheEventName]?: Array<(payload: CacheEvents[E]) => void> } = {}
  /**
   * Whether anyone listens to `operation` events. The facade checks this one field before timing a
   * call, so a cache nobody observes never reads the clock on a hit.
   */
  timing = false

  constructor(
    private readonly cache: string,
    /** The application's logger, if any. */
    readonly logger: CacheLogger | undefined,
  ) {}

  /** Counts a fresh hit and returns its value. */
  hit(info: KeyInfo, value: unknown): unknown {
    this.recorder.total.hits++
    info.counters.hits++
    const near = info.nearHit
    info.nearHit = false
    // Only `operation` events read the outcome; a cache nobody times does not write it.
    if (this.timing) info.outcome = near ? 'l1' : 'hit'
    if (this.debugOn())
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache hit ${this.cache}:${info.key}`)
    if (this.#listeners.hit !== undefined) {
      this.emit('hit', {
        key: info.key,
        prefix: this.recorder.bucketOf(info.key),
        tier: near ? 'l1' : 'store',
      })
    }
    return value
  }

  /** Counts a hit answered by the in-process tier (also counted as a hit when served). */
  l1Hit(info: KeyInfo): void {
    this.recorder.total.l1Hits++
    info.counters.l1Hits++
    info.nearHit = true
  }

  /** Counts a miss. */
  missed(info: KeyInfo): void {
    this.recorder.total.misses++
    info.counters.misses++
    info.nearHit = false
    info.outcome = 'miss'
    if (this.debugOn())
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache miss ${this.cache}:${info.key}`)
    if (this.#listeners.miss !== undefined)
      this.emit('miss', { key: info.key, prefix: this.recorder.bucketOf(info.key) })
  }

  /** Counts a stale value served. */
  staleHit(info: KeyInfo): void {
    this.recorder.total.staleHits++
    info.counters.staleHits++
    info.nearHit = false
    info.outcome = 'stale'
    if (this.debugOn()) {
      this.logger!.debug!({ cache: this.cache, key: info.key }, `cache stale hit ${this.cache}:${info.key}`)
    }
    if (this.#listeners.stale !== undefined)
      this.emit('stale', { key: info.key, prefix: this.recorder.bucketOf(info.key) })
  }

  /**
   * Records one loader run of `keys` that started at `started` (a `performance.now()` reading):
   * load counters per prefix, and a `load` event for subscribers.
   */
  loaded(keys: readonly string[], batch: boolean, started: number, error?: unknown): void {
    const durationMs = performance.now() - started
    const share = durationMs / keys.length
    for (const key of keys) this.recorder.load(key, share)
    if (this.#listeners.load === undefined) return
    const prefix = keys.length === 0 ? '' : this.recorder.bucketOf(keys[0])
    const payload: CacheEvents['load'] = {
      keys,
      prefix,
      batch,
      startTime: TIME_ORIGIN + started,
      durationMs,
    }
    if (error !== undefined) payload.error = error
    this.emit('load', payload)
  }

  /**
   * Times one public call while `operation` has listeners: reports it once `pending` settles, with
   * how its key(s) were answered when `infos` are given. Resolves or rejects exactly as `pending`.
   */
  timed<T>(
    operation: CacheOperation,
    started: number,
    key: string | undefined,
    count: number,
    infos: readonly KeyInfo[] | undefined,
    pending: Promise<T>,
  ): Promise<T> {
    return pending.then(
      (value) => {
        this.settled(operation, started, key, count, infos)
        return value
      },
      (error: unknown) => {
        this.settled(operation, started, key, count, infos, error, true)
        throw error
      },
    )
  }

  /** Reports one public call that has just settled (see {@link timed}). */
  settled(
    operation: CacheOperation,
    started: number,
    key: string | undefined,
    count: number,
    infos: readonly KeyInfo[] | undefined,
    error?: unknown,
    failed = false,
  ): void {
    const payload: CacheEvents['operation'] = {
      operation,
      count,
      startTime: TIME_ORIGIN + started,
      durationMs: performance.now() - started,
    }
    if (key !== undefined) {
      payload.key = key
      payload.prefix = this.recorder.bucketOf(key)
    } else if (infos !== undefined && infos.length > 0) {
      payload.prefix = this.recorder.bucketOf(infos[0]!.key)
    }
    if (infos !== undefined && !failed) {
      if (key !== undefined && infos.length === 1) payload.outcome = infos[0]!.outcome
      else payload.outcomes = tally(infos)
    }
    if (failed) payload.error = error
    this.emit('operation', payload)
  }

  /** Counts a write or delete of one key and tells subscribers. */
  counted(field: 'sets' | 'deletes', info: KeyInfo): void {
    this.recorder.total[field]++
    info.counters[field]++
    const event = field === 'sets' ? 'set' : 'delete'
    if (this.#listeners[event] !== undefined)
      this.emit(event, { key: info.key, prefix: this.recorder.bucketOf(info.key) })
  }

  /** Counts one failed store operation and tells subscribers. */
  failed(operation: string, key: string | undefined, error: Error): void {
    const prefix = this.recorder.bucketOf(key)
    this.recorder.add(key, 'errors')
    if (this.#listeners.error === undefined) return
    const code = isCacheError(error) ? error.code : 'E_ADAPTER'
    this.emit('error', { operation, error, key, prefix, code })
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
    if (event === 'operation') this.timing = true
    return () => {
      const at = list.indexOf(listener)
      if (at !== -1) list.splice(at, 1)
      if (event === 'operation') this.timing = list.length > 0
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

// How many of the keys of a batch read were answered which way.
function tally(infos: readonly KeyInfo[]): Record<ReadOutcome, number> {
  const counts: Record<ReadOutcome, number> = { l1: 0, hit: 0, stale: 0, miss: 0 }
  for (const info of infos) if (info.outcome !== undefined) counts[info.outcome]++
  return counts
}
