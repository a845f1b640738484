/**
 * The core's coherence model on the memory store: two cache instances, each with its own memory L1,
 * share one memory adapter as their L2 and talk over its pub/sub. Each instance reaches the store
 * through a {@link Connection} that can lose its bus subscription or the whole store, so random
 * command sequences (see cache-core's test/model) run with bus drops and outages, in process.
 */
import {
  type AdapterCapabilities,
  type AdapterEntry,
  type AdapterStatus,
  type CacheAdapter,
  createCache,
  type MessageHandler,
} from '@cacheport/cache-core'
import { describe, it } from 'vitest'
import { checkProperty, type Mix, replay, type World } from '../../cache-core/test/model/commands.js'
import type { Instance } from '../../cache-core/test/model/model.js'
import { ISSUE_SCENARIOS } from '../../cache-core/test/model/scenarios.js'
import { type MemoryAdapter, memoryAdapter } from '../src/index.js'

// A glob character in the prefix: a pattern delete or clear that forgot to escape it would reach the
// foreign keys below.
const PREFIX = 'pbt*'
const FOREIGN = [
  `${PREFIX}:2:user:1`,
  `${PREFIX}:10:user:1`,
  'pbtX:1:user:1',
  'other:1:item:1',
  'user:1',
  `${PREFIX}:1`,
]

const unreachable = (operation: string) => new Error(`connect ECONNREFUSED 127.0.0.1:6390 (${operation})`)

/**
 * One instance's way to the shared store, as a network connection would be: while the store is
 * down every call fails, and while its bus is down its subscriber hears nothing and is told so.
 * With `latency`, every call answers a microtask later, as over a network, so calls are in flight
 * while later steps run; without it, the store answers synchronously, as the memory adapter does.
 */
class Connection implements CacheAdapter {
  readonly name = 'memory'
  readonly capabilities: AdapterCapabilities
  busUp = true
  readonly #statusListeners = new Set<(status: AdapterStatus) => void>()

  constructor(
    private readonly store: MemoryAdapter,
    private readonly network: { down: boolean },
    private readonly latency: boolean,
  ) {
    this.capabilities = store.capabilities
  }

  /** Whether this instance's subscriber hears what is published. */
  get hearing(): boolean {
    return this.busUp && !this.network.down
  }

  /** Tells the subscriber what it can hear now, as a client tells of a lost or restored connection. */
  announce(): void {
    for (const listener of this.#statusListeners) listener(this.hearing ? 'ready' : 'unavailable')
  }

  #call<T>(operation: string, body: (store: MemoryAdapter) => T): T | Promise<T> {
    const reach = () => {
      if (this.network.down) throw unreachable(operation)
      return body(this.store)
    }
    return this.latency ? Promise.resolve().then(reach) : reach()
  }

  get(key: string) {
    return this.#call('get', (store) => store.get(key))
  }
  getMany(keys: readonly string[]) {
    return this.#call('getMany', (store) => store.getMany(keys))
  }
  set(key: string, value: Uint8Array, ttlMs: number | undefined) {
    return this.#call('set', (store) => store.set(key, value, ttlMs))
  }
  setMany(entries: ReadonlyArray<AdapterEntry>) {
    return this.#call('setMany', (store) => store.setMany(entries))
  }
  delete(key: string) {
    return this.#call('delete', (store) => store.delete(key))
  }
  deleteMany(keys: readonly string[]) {
    return this.#call('deleteMany', (store) => store.deleteMany(keys))
  }
  deleteByPattern(pattern: string) {
    return this.#call('deleteByPattern', (store) => store.deleteByPattern(pattern))
  }
  clear(prefix: string) {
    return this.#call('clear', (store) => store.clear(prefix))
  }
  setIfAbsent(key: string, value: Uint8Array, ttlMs: number) {
    return this.#call('setIfAbsent', (store) => store.setIfAbsent(key, value, ttlMs))
  }
  deleteIfEquals(key: string, value: Uint8Array) {
    return this.#call('deleteIfEquals', (store) => store.deleteIfEquals(key, value))
  }
  publish(channel: string, message: string) {
    return this.#call('publish', (store) => store.publish(channel, message))
  }
  subscribe(channel: string, onMessage: MessageHandler, onStatus?: (status: AdapterStatus) => void) {
    const listener = (status: AdapterStatus) => onStatus?.(status)
    const unsubscribe = this.store.subscribe(
      channel,
      (message) => {
        if (this.hearing) onMessage(message)
      },
      (status) => listener(status === 'ready' && !this.hearing ? 'unavailable' : status),
    )
    this.#statusListeners.add(listener)
    return () => {
      this.#statusListeners.delete(listener)
      unsubscribe()
    }
  }
  status(): AdapterStatus {
    return this.network.down ? 'unavailable' : 'ready'
  }
  // The store is shared: the world closes it once, after both instances.
  close() {}
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

async function memoryWorld(latency: boolean): Promise<World> {
  // Small bounds: a run holds a few dozen entries, and each adapter allocates its bounds up front.
  const store = memoryAdapter({ maxEntries: 64 })
  const network = { down: false }
  const connections = [
    new Connection(store, network, latency),
    new Connection(store, network, latency),
  ] as const
  const caches = [0, 1].map((at) =>
    createCache({
      adapter: connections[at]!,
      l1: memoryAdapter({ maxEntries: 64 }),
      keyPrefix: PREFIX,
      ttl: '1h',
      // Every call reaches the store, so an outage and a recovery take effect at the next call.
      breaker: false,
    }),
  ) as [ReturnType<typeof createCache>, ReturnType<typeof createCache>]
  await Promise.all(caches.map((cache) => cache.ready()))
  const bytes = (text: string) => new TextEncoder().encode(text)
  return {
    caches,
    // The memory store delivers in a microtask; one turn of the event loop later everything is in.
    sync: nextTurn,
    async dropBus(at: Instance) {
      connections[at].busUp = false
      connections[at].announce()
    },
    async restoreBus(at: Instance) {
      connections[at].busUp = true
      connections[at].announce()
    },
    async outage() {
      network.down = true
      for (const connection of connections) connection.announce()
    },
    async recover() {
      network.down = false
      for (const connection of connections) {
        connection.busUp = true
        connection.announce()
      }
    },
    // Every store call answers within microtasks: a call still pending after one turn waits for a loader.
    settled: (op) => Promise.race([op.then(() => undefined), nextTurn()]),
    async plantForeign() {
      for (const key of FOREIGN) store.set(key, bytes(key), undefined)
    },
    async checkForeign() {
      for (const key of FOREIGN) {
        const found = store.get(key)
        if (found === undefined || new TextDecoder().decode(found) !== key) {
          throw new Error(
            `keyspace: the foreign key "${key}" was ${found === undefined ? 'deleted' : 'changed'}`,
          )
        }
      }
    },
    async close() {
      await Promise.all(caches.map((cache) => cache.close()))
      store.close()
    },
  }
}

const FAULTLESS: Mix = {
  reads: 4,
  writes: 2,
  invalidations: 3,
  slow: 2,
  failing: 1,
  busDrops: 0,
  outages: 0,
  overlap: 1,
  overlapLoads: true,
}
// No load is in flight when the next step starts: what a fault does, apart from loads racing invalidations.
const SEQUENTIAL: Mix = { ...FAULTLESS, slow: 0, overlapLoads: false }
const RUNS = 60
// Generous: a run takes milliseconds, but a failure shrinks through many more.
const TIMEOUT_MS = 60_000
const STALE = { stale: true, singleFlight: false }

describe.each([
  ['answering at once', false],
  ['answering a microtask later', true],
])('coherence model on the memory store %s', (_, latency) => {
  const world = () => memoryWorld(latency)

  it.each(ISSUE_SCENARIOS)('issue 8: %s', async (_, script) => {
    await replay(world, script)
  })

  it(
    'no read returns a value invalidated before it started, with loads racing invalidations',
    async () => {
      await checkProperty(world, { checks: STALE, mix: FAULTLESS, numRuns: RUNS })
    },
    TIMEOUT_MS,
  )

  it(
    'no read returns a value invalidated before it started, across bus drops',
    async () => {
      await checkProperty(world, {
        checks: STALE,
        mix: { ...SEQUENTIAL, busDrops: 3, overlap: 2 },
        numRuns: RUNS,
      })
    },
    TIMEOUT_MS,
  )

  it(
    'no read returns a value invalidated before it started, across store outages',
    async () => {
      await checkProperty(world, {
        checks: STALE,
        mix: { ...SEQUENTIAL, outages: 2 },
        numRuns: RUNS,
      })
    },
    TIMEOUT_MS,
  )

  it(
    'no read returns a value invalidated before it started, with racing loads, bus drops and outages',
    async () => {
      await checkProperty(world, {
        checks: STALE,
        mix: { ...FAULTLESS, busDrops: 1, outages: 1 },
        numRuns: RUNS,
      })
    },
    TIMEOUT_MS,
  )

  it(
    'concurrent callers of one key in one process run its loader once',
    async () => {
      await checkProperty(world, {
        checks: { stale: false, singleFlight: true },
        mix: { ...FAULTLESS, slow: 4, invalidations: 1, writes: 1, overlap: 4 },
        numRuns: RUNS,
      })
    },
    TIMEOUT_MS,
  )

  it(
    'nothing outside the cache keyspace changes, whatever the sequence',
    async () => {
      await checkProperty(world, {
        checks: { stale: false, singleFlight: false },
        mix: { ...FAULTLESS, invalidations: 6, busDrops: 1, outages: 1 },
        numRuns: RUNS,
      })
    },
    TIMEOUT_MS,
  )
})
