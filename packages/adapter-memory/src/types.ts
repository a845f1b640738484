/** Options of {@link memoryAdapter}. */
export interface MemoryAdapterOptions {
  /**
   * Most entries kept. When full, the least recently used entry is evicted first. Bookkeeping for
   * this many entries is allocated up front, so do not set it far above what you need.
   * @default 10_000
   */
  maxEntries?: number
  /**
   * Most bytes kept, counting each entry as its encoded length plus its key length. When full, the
   * least recently used entries are evicted until the new one fits. An entry larger than `maxBytes`
   * on its own is not stored at all (and, since a write replaces, any older entry under its key is
   * removed): the next read is a miss, as after an eviction. Cannot be combined with `byReference`,
   * whose entries have no known size.
   * @default 67_108_864 (64 MiB)
   */
  maxBytes?: number
  /**
   * Keep the core's entry objects as they are instead of encoded bytes, so hits skip decoding.
   * The hazards:
   * - every caller of `get` receives the same object, and a caller that mutates it changes the
   *   cached value for everyone (with bytes, each read is a fresh copy);
   * - values are never encoded, so a value that Redis could not store (a function, a class instance
   *   that loses its prototype) works here and fails, or comes back different, in production;
   * - only `maxEntries` bounds memory, since the size of an object graph is unknown.
   * Leave it off wherever behaviour must match Redis (tests of code that will run on Redis).
   * @default false
   */
  byReference?: boolean
}
