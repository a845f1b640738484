/**
 * Pub/sub: `PUBLISH` on the command connection, subscriptions on a second connection opened on first
 * use (Redis reserves a subscribed connection for pub/sub), resubscribed after every reconnection.
 */
import type { AdapterStatus, MessageHandler } from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import { type Link, statusOf } from './link.js'
import { changed } from './reads.js'
import type { RedisClient } from './types.js'

interface Subscription {
  readonly onMessage: MessageHandler
  readonly onStatus: ((status: AdapterStatus) => void) | undefined
  /** Last status told to `onStatus`, so a (re)subscription seen twice is reported once. */
  told: AdapterStatus | undefined
}

function tell(subscription: Subscription, status: AdapterStatus): void {
  if (subscription.told === status) return
  subscription.told = status
  subscription.onStatus?.(status)
}

function noop(): void {}

/** The publish and subscribe side of an adapter over one {@link Link}. */
export class PubSub {
  readonly #link: Link
  #subscriber: RedisClient | undefined
  #subscribed = false
  readonly #channels = new Map<string, Set<Subscription>>()

  /** Publishes through `link` and subscribes on a duplicate of its client. */
  constructor(link: Link) {
    this.#link = link
  }

  /** `PUBLISH channel message`, received by every subscriber in every process. */
  publish(channel: string, message: string): Promise<void> {
    const link = this.#link
    return link
      .send('PUBLISH', { text: `on channel "${channel}"` }, () => link.client.publish(channel, message))
      .then(noop)
  }

  /**
   * Subscribes on the dedicated connection. `onStatus` hears `ready` each time the subscription is
   * (re)established and `unavailable` when it is lost, since messages published in between are
   * missed. When Redis is down, this still resolves: the subscription is made as soon as the
   * connection comes back.
   */
  async subscribe(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): Promise<() => Promise<void>> {
    const link = this.#link
    if (link.closed) throw link.closedError('SUBSCRIBE')
    const subscriber = this.#subscriberClient()
    const entry: Subscription = { onMessage, onStatus, told: undefined }
    let handlers = this.#channels.get(channel)
    const isNew = handlers === undefined
    if (handlers === undefined) {
      handlers = new Set()
      this.#channels.set(channel, handlers)
    }
    handlers.add(entry)

    const ended = async (): Promise<void> => {
      const set = this.#channels.get(channel)
      if (set === undefined || !set.delete(entry) || set.size > 0) return
      this.#channels.delete(channel)
      if (subscriber.status === 'ready' && this.#subscriber === subscriber) {
        // A failure leaves a subscription nobody listens to; it ends with the connection.
        await link.bound(subscriber.unsubscribe(channel)).catch(() => undefined)
      }
    }

    if (subscriber.status !== 'ready') await link.waitFirstConnect(subscriber)
    if (subscriber.status === 'ready') {
      if (isNew) {
        try {
          await link.bound(subscriber.subscribe(channel))
        } catch (error) {
          handlers.delete(entry)
          if (handlers.size === 0) this.#channels.delete(channel)
          throw link.failure('SUBSCRIBE', error, { text: `to channel "${channel}"` })
        }
      }
      this.#subscribed = true
      tell(entry, 'ready')
    } else {
      tell(entry, statusOf(subscriber, true))
    }
    return ended
  }

  /** Drops every subscription and the connection they used. */
  close(): void {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    this.#channels.clear()
    subscriber?.disconnect()
  }

  #subscriberClient(): RedisClient {
    if (this.#subscriber !== undefined) return this.#subscriber
    const link = this.#link
    // Redis reserves a subscribed connection for pub/sub, so commands keep their own connection.
    const subscriber: RedisClient = link.isCluster
      ? (link.client as Cluster).duplicate()
      : (link.client as Redis).duplicate({ autoResubscribe: false, enableOfflineQueue: false })
    subscriber.on('error', () => undefined) // the state is read from `status`, like the main client
    subscriber.on('message', (channel: string, message: string) => {
      // A message may announce a change (an invalidation): reads sent before it must not be shared.
      changed()
      const handlers = this.#channels.get(channel)
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
      const channels = [...this.#channels.keys()]
      if (channels.length === 0 || link.closed) return
      link.bound(subscriber.subscribe(...channels)).then(
        () => this.#notify('ready'),
        () => this.#notify('unavailable'),
      )
    })
    subscriber.on('close', () => {
      if (this.#subscribed) this.#notify('unavailable')
    })
    this.#subscriber = subscriber
    return subscriber
  }

  #notify(status: AdapterStatus): void {
    if (this.#link.closed) return
    this.#subscribed = status === 'ready'
    for (const handlers of this.#channels.values()) {
      for (const handler of handlers) tell(handler, status)
    }
  }
}
