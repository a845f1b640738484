import { type Cache, type CacheOptions, createCache } from '../../src/index.js'
import { MapAdapter, type SharedConnection, SharedStore } from './adapters.js'

/** One application instance over a {@link SharedStore}: its cache, its own L1 and its own connection. */
export interface Instance {
  cache: Cache
  l1: MapAdapter
  l2: SharedConnection
}

/** Two application instances sharing one store, each with its own L1 kept coherent by the bus. */
export function twoInstances(options: Partial<CacheOptions> = {}): {
  shared: SharedStore
  a: Instance
  b: Instance
} {
  const shared = new SharedStore()
  const make = (): Instance => {
    const l2 = shared.connect()
    const l1 = new MapAdapter({ shared: false })
    const cache = createCache({ adapter: l2, l1, keyPrefix: 'tier', ttl: '1m', ...options })
    return { cache, l1, l2 }
  }
  return { shared, a: make(), b: make() }
}

/** Lets queued timers (bus deliveries, subscription answers) run. */
export const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))

/** A promise and the functions that settle it, for loaders the test finishes when it wants. */
export function deferred<T>(): {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
} {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
