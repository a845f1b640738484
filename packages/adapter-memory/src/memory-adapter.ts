import { EventEmitter } from 'node:events'
import {
  type AdapterCapabilities,
  type AdapterConfig,
  type AdapterEntry,
  type AdapterFactory,
  type AdapterStatus,
  type CacheAdapter,
  CacheError,
  compileGlob,
  ErrorCodes,
  type MessageHandler,
} from '@cacheport/cache-core'
import { LRUCache } from 'lru-cache'
import type { MemoryAdapterOptions } from './types.js'

const DEFAULT_MAX_ENTRIES = 10_000
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const KNOWN_OPTIONS = new Set(['maxEntries', 'maxBytes', 'byReference'])

interface Subscription {
  active: boolean
  readonly onStatus: ((status: AdapterStatus) => void) | undefined
}

// lru-cache reads the clock at most once per millisecond instead of on every get (a tenth of a hit's
// cost). An entry may then outlive its TTL by under a millisecond here; the core checks the expiry
// written in every entry, so callers never see it.
const TTL_RESOLUTION_MS = 1

/**
 * An in-process store on lru-cache, bounded by entry count and by bytes. Every operation answers
 * synchronously. By default it stores encoded bytes, exactly like Redis, so code tested against it
 * behaves the same in production; see {@link MemoryAdapterOptions.byReference} for the faster mode.
 */
export class MemoryAdapter<Stored = Uint8Array> implements CacheAdapter<Stored> {
  /** Always `memory`. */
  readonly name = 'memory'
  /** Private to this process and this instance; everything else is supported. */
  readonly capabilities: AdapterCapabilities
  // lru-cache wants values that are not null/undefined; encoded bytes and core entries never are.
  readonly #store: LRUCache<string, {}>
  readonly #byReference: boolean
  readonly #bus = new EventEmitter()
  readonly #subscriptions = new Set<Subscription>()
  #closed = false

  /** Builds an adapter; throws `E_INVALID_CONFIG` naming the option when an option is out of range. */
  constructor(options: MemoryAdapterOptions = {}) {
    const { maxEntries, maxBytes, byReference } = resolveOptions(options, undefined)
    this.#byReference = byReference
    this.#store = byReference
      ? new LRUCache<string, {}>({ max: maxEntries, ttlResolution: TTL_RESOLUTION_MS })
      : new LRUCache<string, {}>({
          max: maxEntries,
          maxSize: maxBytes,
          // Key length in UTF-16 units approximates its bytes closely enough for a memory bound, and
          // costs nothing to read; at least 1 because lru-cache rejects zero-sized entries.
          sizeCalculation: (value, key) => Math.max(1, (value as Uint8Array).byteLength + key.length),
          ttlResolution: TTL_RESOLUTION_MS,
        })
    this.#bus.setMaxListeners(0)
    this.capabilities = Object.freeze({
      shared: false,
      ttlPrecisionMs: 1,
      nativeBatch: true,
      atomicSetIfAbsent: true,
      pubsub: true,
      byReference,
    })
  }

  /** Entries held right now, counting expired ones not yet swept. */
  get size(): number {
    return this.#store.size
  }

  /** Bytes counted against `maxBytes` (values plus keys); always 0 in by-reference mode. */
  get byteSize(): number {
    return this.#byReference ? 0 : this.#store.calculatedSize
  }

  /** The entry under `key`, or `undefined`; the returned bytes belong to the store, so read them only. */
  get(key: string): Stored | undefined {
    if (this.#closed) throw closedError('get', key)
    return this.#store.get(key) as Stored | undefined
  }

  /** Entries for `keys`, aligned with them. */
  getMany(keys: readonly string[]): Array<Stored | undefined> {
    if (this.#closed) throw closedError('getMany', keys[0])
    const values = new Array<Stored | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) values[i] = this.#store.get(keys[i]!) as Stored | undefined
    return values
  }

  /** Stores `value` under `key` for `ttlMs` (forever when `undefined`); skipped when larger than `maxBytes`. */
  set(key: string, value: Stored, ttlMs: number | undefined): void {
    if (this.#closed) throw closedError('set', key)
    this.#store.set(key, this.#toStored(key, value), { ttl: ttlMs ?? 0 })
  }

  /** Stores every entry. */
  setMany(entries: ReadonlyArray<AdapterEntry<Stored>>): void {
    if (this.#closed) throw closedError('setMany', entries[0]?.key)
    for (const entry of entries) {
      this.#store.set(entry.key, this.#toStored(entry.key, entry.value), { ttl: entry.ttlMs ?? 0 })
    }
  }

  /** Removes `key`; `true` when a live entry was removed. */
  delete(key: string): boolean {
    if (this.#closed) throw closedError('delete', key)
    return this.#remove(key)
  }

  /** Removes `keys`; how many live entries were removed. */
  deleteMany(keys: readonly string[]): number {
    if (this.#closed) throw closedError('deleteMany', keys[0])
    let removed = 0
    for (const key of keys) if (this.#remove(key)) removed++
    return removed
  }

  /** Removes every key matching the Redis-style glob `pattern`; how many were removed. */
  deleteByPattern(pattern: string): number {
    if (this.#closed) throw closedError('deleteByPattern', pattern)
    return this.#removeWhere(compileGlob(pattern))
  }

  /** The live keys matching the glob. */
  keysByPattern(pattern: string): string[] {
    if (this.#closed) throw closedError('keysByPattern', pattern)
    const matches = compileGlob(pattern)
    this.#store.purgeStale()
    const found: string[] = []
    for (const key of this.#store.keys()) if (matches(key)) found.push(key)
    return found
  }

  /** Removes every key that starts with `prefix`, taken literally. */
  clear(prefix: string): void {
    if (this.#closed) throw closedError('clear', prefix)
    this.#removeWhere((key) => key.startsWith(prefix))
  }

  /** Stores `value` only when `key` holds no live entry; `true` when it did. */
  setIfAbsent(key: string, value: Stored, ttlMs: number): boolean {
    if (this.#closed) throw closedError('setIfAbsent', key)
    if (this.#store.has(key)) return false
    this.#store.set(key, this.#toStored(key, value), { ttl: ttlMs })
    // An entry over maxBytes is not stored, and then this call did not take the key.
    return this.#store.has(key)
  }

  /** Stores `value` under `key` only while `leaseKey` holds exactly `token`; `true` when it did. */
  setIfHolds(
    key: string,
    value: Stored,
    ttlMs: number | undefined,
    leaseKey: string,
    token: Stored,
  ): boolean {
    if (this.#closed) throw closedError('setIfHolds', key)
    const holder = this.#store.get(leaseKey)
    if (holder === undefined || !sameValue(holder, token)) return false
    this.#store.set(key, this.#toStored(key, value), { ttl: ttlMs ?? 0 })
    return true
  }

  /** Removes `key` only while it holds exactly `value` (same bytes, or the same object by reference). */
  deleteIfEquals(key: string, value: Stored): boolean {
    if (this.#closed) throw closedError('deleteIfEquals', key)
    const current = this.#store.peek(key)
    if (current === undefined || !sameValue(current, value)) return false
    this.#store.delete(key)
    return true
  }

  /**
   * Delivers `message` to this adapter's subscribers of `channel`, after the current call stack (as
   * a network bus would), so a handler never runs inside the publisher's own operation.
   */
  publish(channel: string, message: string): void {
    if (this.#closed) throw closedError('publish', channel)
    const handlers = this.#bus.listeners(channel) as Array<(message: string) => void>
    if (handlers.length === 0) return
    queueMicrotask(() => {
      for (const handler of handlers) handler(message)
    })
  }

  /** Subscribes to `channel` on this adapter; `onStatus` hears `ready` at once and `closed` on close(). */
  subscribe(
    channel: string,
    onMessage: MessageHandler,
    onStatus?: (status: AdapterStatus) => void,
  ): () => void {
    if (this.#closed) throw closedError('subscribe', channel)
    const subscription: Subscription = { active: true, onStatus }
    const deliver = (message: string) => {
      if (!subscription.active) return
      try {
        onMessage(message)
      } catch (error) {
        // One failing subscriber must not starve the others or crash the publisher's process.
        process.emitWarning(error instanceof Error ? error : new Error(String(error)), {
          code: 'CACHEPORT_SUBSCRIBER',
          detail: `memory adapter: a subscriber of channel "${channel}" threw`,
        })
      }
    }
    this.#bus.on(channel, deliver)
    this.#subscriptions.add(subscription)
    queueMicrotask(() => {
      if (subscription.active) onStatus?.('ready')
    })
    return () => {
      subscription.active = false
      this.#subscriptions.delete(subscription)
      this.#bus.off(channel, deliver)
    }
  }

  /** `ready` until closed. */
  status(): AdapterStatus {
    return this.#closed ? 'closed' : 'ready'
  }

  /** Drops every entry and subscription; later operations throw `E_CLOSED`. Safe to call twice. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#store.clear()
    for (const subscription of this.#subscriptions) {
      subscription.active = false
      subscription.onStatus?.('closed')
    }
    this.#subscriptions.clear()
    this.#bus.removeAllListeners()
  }

  #toStored(key: string, value: Stored): {} {
    if (this.#byReference) return value as {}
    if (!(value instanceof Uint8Array)) {
      throw new CacheError(
        ErrorCodes.ADAPTER,
        `memory adapter: value for key "${key}" must be a Uint8Array, got ${describeValue(value)} (only a byReference adapter stores objects)`,
        { key },
      )
    }
    // Always copy: the caller may reuse its buffer, and a Buffer from Node's pool is a view into a
    // shared 8 KiB slab that would stay alive (and uncounted) for as long as the entry.
    return new Uint8Array(value)
  }

  #remove(key: string): boolean {
    const live = this.#store.has(key)
    this.#store.delete(key)
    return live
  }

  #removeWhere(matches: (key: string) => boolean): number {
    // Sweeping first frees expired entries too, and keys() only lists live ones, so the count is
    // of live entries, as Redis would report.
    this.#store.purgeStale()
    const doomed: string[] = []
    for (const key of this.#store.keys()) if (matches(key)) doomed.push(key)
    for (const key of doomed) this.#store.delete(key)
    return doomed.length
  }
}

/** Builds a {@link MemoryAdapter}; `byReference: true` makes it store the core's objects as they are. */
export function memoryAdapter(
  options?: MemoryAdapterOptions & { byReference?: false },
): MemoryAdapter<Uint8Array>
export function memoryAdapter(options: MemoryAdapterOptions & { byReference: true }): MemoryAdapter<unknown>
export function memoryAdapter(
  options?: MemoryAdapterOptions,
): MemoryAdapter<Uint8Array> | MemoryAdapter<unknown>
export function memoryAdapter(
  options: MemoryAdapterOptions = {},
): MemoryAdapter<Uint8Array> | MemoryAdapter<unknown> {
  return new MemoryAdapter(options)
}

/** Builds a memory adapter from a registry entry's `options`; errors name the cache and the option. */
export const memoryAdapterFactory: AdapterFactory = (config: AdapterConfig) => {
  resolveOptions(config.options as MemoryAdapterOptions, config.cache)
  return new MemoryAdapter<unknown>(config.options as MemoryAdapterOptions)
}

function resolveOptions(
  options: MemoryAdapterOptions,
  cache: string | undefined,
): { maxEntries: number; maxBytes: number; byReference: boolean } {
  const where = cache === undefined ? 'memory adapter' : `cache "${cache}": memory adapter`
  const fail = (field: string, problem: string): never => {
    throw new CacheError(ErrorCodes.INVALID_CONFIG, `${where}: option "${field}" ${problem}`, {
      cache,
      field,
    })
  }
  if (typeof options !== 'object' || options === null) {
    throw new CacheError(
      ErrorCodes.INVALID_CONFIG,
      `${where}: options must be an object, got ${describeValue(options)}`,
      {
        cache,
      },
    )
  }
  for (const field of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(field))
      fail(field, `is not an option; expected one of ${[...KNOWN_OPTIONS].join(', ')}`)
  }
  const { maxEntries = DEFAULT_MAX_ENTRIES, maxBytes, byReference = false } = options
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    fail('maxEntries', `must be a whole number >= 1, got ${describeValue(maxEntries)}`)
  }
  if (typeof byReference !== 'boolean')
    fail('byReference', `must be true or false, got ${describeValue(byReference)}`)
  if (byReference && maxBytes !== undefined) {
    fail(
      'maxBytes',
      'cannot be combined with "byReference": stored objects have no known size; bound by "maxEntries"',
    )
  }
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
    fail('maxBytes', `must be a whole number of bytes >= 1, got ${describeValue(maxBytes)}`)
  }
  return { maxEntries, maxBytes: maxBytes ?? DEFAULT_MAX_BYTES, byReference }
}

function closedError(operation: string, key: string | undefined): CacheError {
  const target = key === undefined ? '' : ` (key "${key}")`
  return new CacheError(ErrorCodes.CLOSED, `memory adapter: ${operation}${target} called after close()`, {
    key,
  })
}

function sameValue(current: unknown, expected: unknown): boolean {
  if (current instanceof Uint8Array && expected instanceof Uint8Array) {
    if (current.byteLength !== expected.byteLength) return false
    for (let i = 0; i < current.byteLength; i++) if (current[i] !== expected[i]) return false
    return true
  }
  return Object.is(current, expected)
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return value.constructor?.name ?? 'object'
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}
