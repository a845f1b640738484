import type { AdapterCapabilities, AdapterEntry, CacheAdapter } from '../../src/adapter.js'
import { compileGlob } from '../../src/glob.js'

const CAPABILITIES: AdapterCapabilities = {
  shared: false,
  ttlPrecisionMs: 1,
  nativeBatch: true,
  atomicSetIfAbsent: true,
  pubsub: false,
  byReference: false,
}

/**
 * A complete in-process adapter over a Map, used by the core's unit tests so they need no other
 * package. It counts operations so tests can assert how often the store was reached.
 */
export class MapAdapter implements CacheAdapter {
  readonly name = 'map'
  readonly capabilities: AdapterCapabilities
  readonly ops: Record<string, number> = {}

  constructor(
    capabilities: Partial<AdapterCapabilities> = {},
    readonly data = new Map<string, { value: Uint8Array; expiresAt: number }>(),
  ) {
    this.capabilities = { ...CAPABILITIES, ...capabilities }
  }

  private count(op: string): void {
    this.ops[op] = (this.ops[op] ?? 0) + 1
  }

  private live(key: string): Uint8Array | undefined {
    const item = this.data.get(key)
    if (item === undefined) return undefined
    if (item.expiresAt !== 0 && item.expiresAt <= Date.now()) {
      this.data.delete(key)
      return undefined
    }
    return item.value
  }

  get(key: string) {
    this.count('get')
    return this.live(key)
  }
  getMany(keys: readonly string[]) {
    this.count('getMany')
    return keys.map((key) => this.live(key))
  }
  set(key: string, value: Uint8Array, ttlMs: number | undefined) {
    this.count('set')
    this.data.set(key, { value: value.slice(), expiresAt: ttlMs === undefined ? 0 : Date.now() + ttlMs })
  }
  setMany(entries: ReadonlyArray<AdapterEntry>) {
    this.count('setMany')
    for (const e of entries)
      this.data.set(e.key, {
        value: e.value.slice(),
        expiresAt: e.ttlMs === undefined ? 0 : Date.now() + e.ttlMs,
      })
  }
  delete(key: string) {
    this.count('delete')
    return this.live(key) !== undefined && this.data.delete(key)
  }
  deleteMany(keys: readonly string[]) {
    this.count('deleteMany')
    return keys.filter((key) => this.live(key) !== undefined && this.data.delete(key)).length
  }
  deleteByPattern(pattern: string) {
    this.count('deleteByPattern')
    const matches = compileGlob(pattern)
    let n = 0
    for (const key of [...this.data.keys()]) if (matches(key) && this.data.delete(key)) n++
    return n
  }
  keysByPattern(pattern: string) {
    this.count('keysByPattern')
    const matches = compileGlob(pattern)
    return [...this.data.keys()].filter((key) => matches(key) && this.live(key) !== undefined)
  }
  clear(prefix: string) {
    this.count('clear')
    for (const key of [...this.data.keys()]) if (key.startsWith(prefix)) this.data.delete(key)
  }
  setIfAbsent(key: string, value: Uint8Array, ttlMs: number) {
    this.count('setIfAbsent')
    if (this.live(key) !== undefined) return false
    this.data.set(key, { value: value.slice(), expiresAt: Date.now() + ttlMs })
    return true
  }
  setIfHolds(key: string, value: Uint8Array, ttlMs: number | undefined, leaseKey: string, token: Uint8Array) {
    this.count('setIfHolds')
    const holder = this.live(leaseKey)
    if (holder === undefined || Buffer.compare(holder, token) !== 0) return false
    this.data.set(key, { value: value.slice(), expiresAt: ttlMs === undefined ? 0 : Date.now() + ttlMs })
    return true
  }
  deleteIfEquals(key: string, value: Uint8Array) {
    this.count('deleteIfEquals')
    const current = this.live(key)
    if (current === undefined || Buffer.compare(current, value) !== 0) return false
    return this.data.delete(key)
  }
  close() {}
}

// The store operations the wrappers below re-implement.
const OPERATIONS = [
  'get',
  'getMany',
  'set',
  'setMany',
  'delete',
  'deleteMany',
  'deleteByPattern',
  'keysByPattern',
  'clear',
  'setIfAbsent',
  'setIfHolds',
  'deleteIfEquals',
] as const

/** Like MapAdapter, but every operation answers asynchronously, as a network store does. */
export class AsyncMapAdapter extends MapAdapter {
  constructor(capabilities: Partial<AdapterCapabilities> = {}, data?: MapAdapter['data']) {
    super({ shared: true, ...capabilities }, data)
  }
}
for (const method of OPERATIONS) {
  const sync = MapAdapter.prototype[method] as (...args: unknown[]) => unknown
  ;(AsyncMapAdapter.prototype as unknown as Record<string, unknown>)[method] = async function (
    this: MapAdapter,
    ...args: unknown[]
  ) {
    await Promise.resolve()
    return sync.apply(this, args)
  }
}

/** An adapter whose store is down: every operation throws or rejects (set `mode`). */
export class BrokenAdapter extends MapAdapter {
  /** `throw` throws synchronously, `reject` rejects, `hang` never settles, `ok` works. */
  mode: 'throw' | 'reject' | 'hang' | 'ok' = 'reject'
  calls = 0
}
for (const method of OPERATIONS) {
  const real = MapAdapter.prototype[method] as (...args: unknown[]) => unknown
  ;(BrokenAdapter.prototype as unknown as Record<string, unknown>)[method] = function (
    this: BrokenAdapter,
    ...args: unknown[]
  ) {
    this.calls++
    if (this.mode === 'throw') throw new Error('ECONNREFUSED 127.0.0.1:6390')
    if (this.mode === 'reject') return Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6390'))
    if (this.mode === 'hang') return new Promise(() => {})
    return real.apply(this, args)
  }
}

type Subscriber = {
  channel: string
  onMessage: (m: string) => void
  onStatus?: (s: 'ready' | 'unavailable') => void
}

/**
 * One store shared by several "instances" in this process, standing in for a Redis that several
 * application processes use: `connect()` gives each instance its own asynchronous adapter over the
 * same data, with pub/sub whose delivery can be cut per connection.
 */
export class SharedStore {
  readonly data = new Map<string, { value: Uint8Array; expiresAt: number }>()
  private readonly subscribers = new Set<Subscriber & { connection: SharedConnection }>()

  connect(): SharedConnection {
    return new SharedConnection(this)
  }

  /** Delivers to every subscriber of `channel` whose connection is up, after a macrotask (as a network would). */
  deliver(channel: string, message: string): void {
    for (const s of this.subscribers) {
      if (s.channel === channel && s.connection.busUp)
        setTimeout(() => s.connection.busUp && s.onMessage(message), 0)
    }
  }

  add(subscriber: Subscriber & { connection: SharedConnection }): () => void {
    this.subscribers.add(subscriber)
    return () => this.subscribers.delete(subscriber)
  }

  statusOf(connection: SharedConnection, status: 'ready' | 'unavailable'): void {
    for (const s of this.subscribers) if (s.connection === connection) s.onStatus?.(status)
  }
}

/** One instance's connection to a {@link SharedStore}. */
export class SharedConnection extends AsyncMapAdapter {
  busUp = true
  storeUp = true
  published = 0

  constructor(private readonly shared: SharedStore) {
    super({ pubsub: true }, shared.data)
  }

  async publish(channel: string, message: string) {
    this.published++
    if (!this.busUp) throw new Error('connection lost')
    this.shared.deliver(channel, message)
  }

  async subscribe(
    channel: string,
    onMessage: (m: string) => void,
    onStatus?: (s: 'ready' | 'unavailable') => void,
  ) {
    const off = this.shared.add({ channel, onMessage, onStatus, connection: this })
    setTimeout(() => onStatus?.(this.busUp ? 'ready' : 'unavailable'), 0)
    return () => {
      off()
    }
  }

  /** Cuts this connection's subscription (messages published meanwhile are lost to it). */
  dropBus(): void {
    this.busUp = false
    this.shared.statusOf(this, 'unavailable')
  }

  /** Restores the subscription. */
  restoreBus(): void {
    this.busUp = true
    this.shared.statusOf(this, 'ready')
  }

  /** Loses the whole connection: every store operation rejects and the bus is down. */
  cutOff(): void {
    this.storeUp = false
    this.dropBus()
  }

  /** Reconnects after {@link cutOff}; the store comes back with its data. */
  reconnect(): void {
    this.storeUp = true
    this.restoreBus()
  }
}
for (const method of OPERATIONS) {
  const inherited = AsyncMapAdapter.prototype[method] as (...args: unknown[]) => Promise<unknown>
  ;(SharedConnection.prototype as unknown as Record<string, unknown>)[method] = function (
    this: SharedConnection,
    ...args: unknown[]
  ) {
    if (!this.storeUp) return Promise.reject(new Error('ECONNRESET'))
    return inherited.apply(this, args)
  }
}

/**
 * A sharded store of two nodes, `a` and `b`, each a {@link BrokenAdapter} that can be taken down on
 * its own: a key whose name ends in `@b` lives on `b`, every other key on `a`. It names each key's
 * node as a Redis Cluster adapter does, so the core keeps its health per node.
 */
export class TwoNodeAdapter implements CacheAdapter {
  readonly name = 'two-nodes'
  readonly capabilities: AdapterCapabilities = { ...CAPABILITIES, shared: true, sharded: true }
  readonly nodes = { a: new BrokenAdapter(), b: new BrokenAdapter() }

  constructor() {
    this.nodes.a.mode = 'ok'
    this.nodes.b.mode = 'ok'
  }

  nodeOf(key: string): 'a' | 'b' {
    return key.endsWith('@b') ? 'b' : 'a'
  }

  #on(key: string): BrokenAdapter {
    return this.nodes[this.nodeOf(key)]
  }

  get(key: string) {
    return this.#on(key).get(key)
  }
  // A batch must stay on one node, as a cluster's MGET must stay in one slot.
  getMany(keys: readonly string[]) {
    if (new Set(keys.map((key) => this.nodeOf(key))).size > 1) throw new Error('CROSSSLOT')
    return keys.length === 0 ? [] : this.#on(keys[0]!).getMany(keys)
  }
  set(key: string, value: Uint8Array, ttlMs: number | undefined) {
    return this.#on(key).set(key, value, ttlMs)
  }
  setMany(entries: ReadonlyArray<AdapterEntry>) {
    if (new Set(entries.map((e) => this.nodeOf(e.key))).size > 1) throw new Error('CROSSSLOT')
    return entries.length === 0 ? undefined : this.#on(entries[0]!.key).setMany(entries)
  }
  delete(key: string) {
    return this.#on(key).delete(key)
  }
  async deleteMany(keys: readonly string[]) {
    let removed = 0
    for (const key of keys) if (await this.#on(key).delete(key)) removed++
    return removed
  }
  async deleteByPattern(pattern: string) {
    return (await this.nodes.a.deleteByPattern(pattern)) + (await this.nodes.b.deleteByPattern(pattern))
  }
  async clear(prefix: string) {
    await this.nodes.a.clear(prefix)
    await this.nodes.b.clear(prefix)
  }
  close() {}
}
