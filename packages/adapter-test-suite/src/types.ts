import type { AnyCacheAdapter, CacheOptions } from '@cacheport/cache-core'

/** A group of conformance tests; each lives in its own file and can be skipped on its own. */
export type SuiteTopic =
  | 'basic'
  | 'batch'
  | 'ttl'
  | 'patterns'
  | 'keys'
  | 'tags'
  | 'isolation'
  | 'leases'
  | 'pubsub'
  | 'lifecycle'
  | 'failures'
  | 'foreign-types'

/** Every topic, in the order the suite registers them. */
export const SUITE_TOPICS: readonly SuiteTopic[] = [
  'basic',
  'batch',
  'ttl',
  'patterns',
  'keys',
  'tags',
  'isolation',
  'leases',
  'pubsub',
  'lifecycle',
  'failures',
  'foreign-types',
]

/** Options of {@link runAdapterTestSuite}. */
export interface AdapterSuiteOptions {
  /** Shown in describe() titles, e.g. `memory` or `redis (db 9)`. */
  name: string
  /**
   * Builds a fresh adapter. Each topic builds one in `beforeAll` and closes it in `afterAll`; the
   * lifecycle tests build (and close) a few more. Adapters from one factory must share their store,
   * the way two Redis adapters on one URL do: the suite never relies on that, but it keys every test
   * under a random prefix so suites can run side by side on one server.
   */
  factory: () => AnyCacheAdapter | Promise<AnyCacheAdapter>
  /**
   * `false` for adapters that store nothing (no-op, Django's DummyCache): the suite then asserts that
   * reads always miss, writes resolve, deletes report nothing removed and every `getOrSet` runs its
   * loader.
   * @default true
   */
  stores?: boolean
  /**
   * Run the tests that wait for real TTLs to pass (one wait of about half a second per topic that
   * needs it). Turn off only for stores whose expiry cannot be observed in real time.
   * @default true
   */
  realTime?: boolean
  /**
   * Write 1 MiB values in the binary round-trip tests.
   * @default true
   */
  largeValues?: boolean
  /**
   * Topics to leave out, for stores that cannot do them at all. Tests of optional capabilities
   * (leases, pub/sub) skip themselves when `capabilities` says the adapter lacks them.
   * @default []
   */
  skip?: readonly SuiteTopic[]
  /**
   * Builds an adapter whose store cannot be reached (a closed port, a stopped server). When given,
   * the failure tests check that every operation rejects in bounded time and that a cache on it
   * fails open. Leave it out for in-process stores.
   */
  unreachable?: () => AnyCacheAdapter | Promise<AnyCacheAdapter>
  /**
   * Longest an operation against the `unreachable` adapter may take before it rejects.
   * @default 3000
   */
  unreachableTimeoutMs?: number
  /**
   * Writes, under the store key `fullKey`, a value of another kind than the adapter stores (for
   * Redis: a list, as `RPUSH fullKey a`), the way another program sharing the store could. When
   * given, the foreign-types tests check that such a key reads as a miss counted as undecodable and
   * never as a store failure. Leave it out for stores that hold one kind of value only.
   */
  plantForeignValue?: (fullKey: string) => Promise<void>
  /**
   * How long the pub/sub tests wait for a message to arrive.
   * @default 2000
   */
  messageTimeoutMs?: number
  /**
   * Extra options for every cache the suite builds with `createCache` (e.g. a longer `timeout` for a
   * remote store under load). `adapter` and `keyPrefix` are always the suite's own.
   * @default {}
   */
  cacheOptions?: Partial<Omit<CacheOptions, 'adapter' | 'keyPrefix'>>
}

/** {@link AdapterSuiteOptions} with every default applied. */
export interface ResolvedSuiteOptions
  extends Required<Omit<AdapterSuiteOptions, 'unreachable' | 'plantForeignValue'>> {
  unreachable: AdapterSuiteOptions['unreachable']
  plantForeignValue: AdapterSuiteOptions['plantForeignValue']
}
