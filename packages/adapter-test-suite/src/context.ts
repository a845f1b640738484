import { randomBytes, randomUUID } from 'node:crypto'
import { type Cache, type CacheAdapter, type CacheOptions, createCache } from '@cacheport/cache-core'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import type { ResolvedSuiteOptions } from './types.js'

/** What a topic's tests use: the topic's adapter, fresh key prefixes and caches on them. */
export interface TopicContext {
  /** The suite's options, defaults applied. */
  readonly options: ResolvedSuiteOptions
  /** The adapter the topic built in `beforeAll`. */
  adapter(): CacheAdapter<Uint8Array>
  /** A new random prefix (`t` + 8 hex digits); every key under it is cleared after the test. */
  scope(): string
  /** A cache on the topic's adapter, under a fresh scope unless `keyPrefix` (from `scope()`) is given. */
  cache(overrides?: Partial<CacheOptions>): Cache
}

/** A random prefix no other test or suite run will use; never contains `:` or glob characters. */
export function randomScope(): string {
  return `t${randomUUID().slice(0, 8)}`
}

/**
 * Registers the hooks of one topic: builds an adapter before its tests, clears every scope a test
 * used after it (so a shared store is left as it was found) and closes the adapter at the end.
 */
export function useAdapter(options: ResolvedSuiteOptions): TopicContext {
  let current: CacheAdapter<Uint8Array> | undefined
  const used: string[] = []

  beforeAll(async () => {
    current = (await options.factory()) as CacheAdapter<Uint8Array>
  })
  afterEach(async () => {
    for (const scope of used.splice(0)) await current?.clear(scope)
  })
  afterAll(async () => {
    await current?.close()
  })

  const scope = (): string => {
    const id = randomScope()
    used.push(id)
    return id
  }

  const adapter = (): CacheAdapter<Uint8Array> => {
    if (current === undefined)
      throw new Error(`the ${options.name} adapter was not built (did the factory fail?)`)
    return current
  }

  return {
    options,
    adapter,
    scope,
    // Callers that pass keyPrefix take it from scope(), so it is already queued for cleanup.
    cache: (overrides = {}) =>
      createCache({
        ...options.cacheOptions,
        ...overrides,
        adapter: adapter(),
        keyPrefix: overrides.keyPrefix ?? scope(),
      }),
  }
}

/** The 256 byte values 0..255, in order. */
export function everyByte(): Uint8Array {
  const bytes = new Uint8Array(256)
  for (let i = 0; i < 256; i++) bytes[i] = i
  return bytes
}

/** `length` random bytes, as a plain Uint8Array (not a Buffer) like the core hands over. */
export function randomValue(length: number): Uint8Array {
  const buffer = randomBytes(length)
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** A short value whose bytes spell `text`, handy where the content only needs to be recognisable. */
export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value)
}

/**
 * Asserts `actual` holds exactly the bytes of `expected`. Compares by content rather than with
 * `toEqual`, so Buffers and Uint8Arrays compare equal and a 1 MiB mismatch prints one index, not a dump.
 */
export function expectBytes(actual: unknown, expected: Uint8Array, label = 'value'): void {
  expect(actual, `${label} should be a Uint8Array`).toBeInstanceOf(Uint8Array)
  const bytes = actual as Uint8Array
  expect(bytes.byteLength, `${label} length`).toBe(expected.byteLength)
  let firstDifference = -1
  for (let i = 0; i < bytes.byteLength; i++) {
    if (bytes[i] !== expected[i]) {
      firstDifference = i
      break
    }
  }
  expect(firstDifference, `${label}: first differing byte index`).toBe(-1)
}

/** Resolves after `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(5)
  }
}

/** How a call ended: a value, an error (thrown synchronously or rejected), or no answer in time. */
export type Outcome =
  | { kind: 'resolved'; value: unknown }
  | { kind: 'rejected'; error: unknown }
  | { kind: 'hung' }

/** Runs `call` and reports how it ended within `timeoutMs`; a synchronous throw counts as a rejection. */
export async function outcomeOf(call: () => unknown, timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hung' }), timeoutMs)
  })
  const settled = Promise.resolve()
    .then(call)
    .then(
      (value): Outcome => ({ kind: 'resolved', value }),
      (error: unknown): Outcome => ({ kind: 'rejected', error }),
    )
  try {
    return await Promise.race([settled, hung])
  } finally {
    clearTimeout(timer)
  }
}
