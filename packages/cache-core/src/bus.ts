import type { AdapterStatus, CacheAdapter } from './adapter.js'
import type { CacheLogger } from './types.js'

/**
 * An invalidation as it travels between instances. It never carries values: only which L1 entries
 * are no longer to be trusted. Full keys and patterns are sent as stored, so a receiver applies
 * them to its L1 without re-deriving anything.
 */
export interface Invalidation {
  /** Full keys to drop. */
  keys?: string[]
  /** A full-key glob to drop. */
  pattern?: string
  /** Drop every L1 entry of the cache (after `clear` or a tag invalidation). */
  all?: true
  /** With `all` after a tag invalidation: the tags, so loads of entries without them may still store. */
  tags?: string[]
  /**
   * The store side expires the entries into grace instead of deleting them. Receivers drop their L1
   * copies either way (`receive` does not read it); it is kept so a replay repeats what was asked.
   */
  soft?: true
}

interface Wire extends Invalidation {
  /** The sending instance, so it can ignore its own messages. */
  o: string
}

/** What the bus tells its cache. */
export interface BusHandlers {
  /** Another instance invalidated something. */
  onInvalidation(invalidation: Invalidation): void
  /** The subscription was established, lost or re-established. */
  onStatus(status: AdapterStatus): void
}

/**
 * Carries invalidations between the L1s of instances that share an L2, over the L2's own pub/sub,
 * on one channel per cache keyspace (`{keyPrefix}:{version}#bus`).
 */
export class InvalidationBus {
  private unsubscribe: (() => unknown) | undefined
  private closed = false
  private readonly instance = `${process.pid.toString(36)}.${Math.random().toString(36).slice(2, 10)}`

  constructor(
    private readonly adapter: CacheAdapter<any>,
    private readonly channel: string,
    private readonly handlers: BusHandlers,
    private readonly logger: CacheLogger | undefined,
    private readonly cache: string,
  ) {}

  /** Subscribes; failures are reported through `onStatus('unavailable')`, never thrown. */
  async start(): Promise<void> {
    try {
      const unsubscribe = await this.adapter.subscribe!(
        this.channel,
        (message) => this.receive(message),
        (status) => this.handlers.onStatus(status),
      )
      if (this.closed) await unsubscribe()
      else this.unsubscribe = unsubscribe
    } catch (error) {
      this.logger?.warn?.(
        { cache: this.cache, err: error },
        `cache "${this.cache}": invalidation bus unavailable`,
      )
      this.handlers.onStatus('unavailable')
    }
  }

  /** Tells every other instance; resolves false when the message could not be sent. */
  async publish(invalidation: Invalidation): Promise<boolean> {
    const wire: Wire = { o: this.instance, ...invalidation }
    try {
      await this.adapter.publish!(this.channel, JSON.stringify(wire))
      return true
    } catch (error) {
      this.logger?.warn?.(
        { cache: this.cache, err: error },
        `cache "${this.cache}": could not publish an invalidation; other instances keep their L1 until it expires`,
      )
      return false
    }
  }

  /** Ends the subscription. */
  async close(): Promise<void> {
    this.closed = true
    const unsubscribe = this.unsubscribe
    this.unsubscribe = undefined
    await unsubscribe?.()
  }

  private receive(message: string): void {
    let wire: Wire
    try {
      wire = JSON.parse(message) as Wire
    } catch {
      return
    }
    if (wire === null || typeof wire !== 'object' || wire.o === this.instance) return
    const invalidation: Invalidation = {}
    if (Array.isArray(wire.keys))
      invalidation.keys = wire.keys.filter((k): k is string => typeof k === 'string')
    if (typeof wire.pattern === 'string') invalidation.pattern = wire.pattern
    if (wire.all === true) invalidation.all = true
    if (invalidation.all && Array.isArray(wire.tags)) {
      invalidation.tags = wire.tags.filter((t): t is string => typeof t === 'string')
    }
    this.handlers.onInvalidation(invalidation)
  }
}
