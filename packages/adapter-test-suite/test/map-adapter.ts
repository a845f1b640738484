import {
  type AdapterCapabilities,
  type AdapterEntry,
  type AdapterStatus,
  type CacheAdapter,
  CacheError,
  compileGlob,
  ErrorCodes,
  type MessageHandler,
} from '@cacheport/cache-core'

interface Slot {
  value: Uint8Array
  expiresAt: number
}

/** What several adapters share when they point at "one server": entries and channels. */
export interface MapServer {
  entries: Map<string, Slot>
  channels: Map<string, Set<MessageHandler>>
}

/** A fresh, empty server for {@link MapAdapter}s. */
export function mapServer(): MapServer {
  return { entries: new Map(), channels: new Map() }
}

/**
 * The smallest complete adapter: a Map behind promises, answering on a later turn of the event loop
 * like a network store. The suite runs against it to show that it holds for asynchronous adapters
 * and that a plain, honest implementation passes.
 */
export class MapAdapter implements CacheAdapter<Uint8Array> {
  readonly name = 'map'
  readonly capabilities: AdapterCapabilities = {
    shared: true,
    ttlPrecisionMs: 1,
    nativeBatch: false,
    atomicSetIfAbsent: true,
    pubsub: true,
    byReference: false,
  }
  #closed = false

  constructor(private readonly server: MapServer) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.#turn('get')
    return this.#live(key)?.value.slice()
  }

  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    await this.#turn('getMany')
    return keys.map((key) => this.#live(key)?.value.slice())
  }

  async set(key: string, value: Uint8Array, ttlMs: number | undefined): Promise<void> {
    await this.#turn('set')
    this.#write(key, value, ttlMs)
  }

  async setMany(entries: ReadonlyArray<AdapterEntry>): Promise<void> {
    await this.#turn('setMany')
    for (const entry of entries) this.#write(entry.key, entry.value, entry.ttlMs)
  }

  async delete(key: string): Promise<boolean> {
    await this.#turn('delete')
    return this.#remove(key)
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    await this.#turn('deleteMany')
    return keys.filter((key) => this.#remove(key)).length
  }

  async deleteByPattern(pattern: string): Promise<number> {
    await this.#turn('deleteByPattern')
    const matches = compileGlob(pattern)
    return [...this.server.entries.keys()].filter((key) => matches(key) && this.#remove(key)).length
  }

  async clear(prefix: string): Promise<void> {
    await this.#turn('clear')
    for (const key of [...this.server.entries.keys()]) if (key.startsWith(prefix)) this.#remove(key)
  }

  async setIfAbsent(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    await this.#turn('setIfAbsent')
    if (this.#live(key) !== undefined) return false
    this.#write(key, value, ttlMs)
    return true
  }

  async deleteIfEquals(key: string, value: Uint8Array): Promise<boolean> {
    await this.#turn('deleteIfEquals')
    const current = this.#live(key)?.value
    if (current === undefined || Buffer.compare(current, value) !== 0) return false
    return this.#remove(key)
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#turn('publish')
    for (const handler of this.server.channels.get(channel) ?? []) setTimeout(() => handler(message), 1)
  }

  async subscribe(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): Promise<() => Promise<void>> {
    await this.#turn('subscribe')
    const handlers = this.server.channels.get(channel) ?? new Set<MessageHandler>()
    this.server.channels.set(channel, handlers)
    const handler: MessageHandler = (message) => onMessage(message)
    handlers.add(handler)
    setTimeout(() => onStatus?.('ready'), 1)
    return async () => {
      handlers.delete(handler)
    }
  }

  status(): AdapterStatus {
    return this.#closed ? 'closed' : 'ready'
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  // Answers on a later macrotask, as a socket would, and refuses work once closed.
  async #turn(operation: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#closed) throw new CacheError(ErrorCodes.CLOSED, `map adapter: ${operation} after close()`)
  }

  #live(key: string): Slot | undefined {
    const slot = this.server.entries.get(key)
    if (slot === undefined) return undefined
    if (slot.expiresAt !== 0 && slot.expiresAt <= Date.now()) {
      this.server.entries.delete(key)
      return undefined
    }
    return slot
  }

  #write(key: string, value: Uint8Array, ttlMs: number | undefined): void {
    this.server.entries.set(key, {
      value: value.slice(),
      expiresAt: ttlMs === undefined ? 0 : Date.now() + ttlMs,
    })
  }

  #remove(key: string): boolean {
    const live = this.#live(key) !== undefined
    this.server.entries.delete(key)
    return live
  }
}

/** An adapter whose store never answers a connection: every operation fails after a short delay. */
export class RefusingAdapter extends MapAdapter {
  constructor() {
    super(mapServer())
    for (const operation of [
      'get',
      'getMany',
      'set',
      'setMany',
      'delete',
      'deleteMany',
      'deleteByPattern',
      'clear',
      'setIfAbsent',
      'deleteIfEquals',
    ] as const) {
      Object.defineProperty(this, operation, {
        value: () =>
          new Promise((_, reject) =>
            setTimeout(
              () =>
                reject(
                  new CacheError(ErrorCodes.ADAPTER, `refusing adapter: ${operation}: connection refused`),
                ),
              20,
            ),
          ),
      })
    }
  }

  override status(): AdapterStatus {
    return 'unavailable'
  }
}
