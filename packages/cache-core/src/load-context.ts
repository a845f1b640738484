/**
 * What a loader can say about its own result: store it or not, for how long, under which tags and
 * with which grace window — and what it can know: the expired value still held in grace.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { parseDuration } from './duration.js'
import { CacheError, ErrorCodes } from './errors.js'
import type { Duration, GetOrSetOptions } from './types.js'
import type { Write } from './writer.js'

/** The second argument of a `getOrSet` loader (and what {@link loaderContext} returns inside `cached` functions). */
export interface LoaderContext<T> {
  /** Hand this result to the callers but store nothing (e.g. a partial answer from upstream). */
  skip(): void
  /** Time to live of this result; overrides the call's `ttl` and `nullTtl`. */
  ttl(ttl: Duration): void
  /** Tags of this result; replace the call's `tags`. */
  tags(tags: readonly string[]): void
  /** Grace window of this result (how long it may stand in after its TTL when a later load fails). */
  grace(grace: Duration): void
  /**
   * The expired value still held in its stale or grace window, if any: for a conditional request
   * upstream (ETag, `If-Modified-Since`) or a fallback on the loader's own terms.
   */
  readonly stale: T | undefined
}

/** The second argument of a `getOrSetMany` loader: the same decisions, per key. */
export interface BatchLoaderContext<T> {
  /** The context of one key of the batch. */
  of(key: string): LoaderContext<T>
  /** The expired values still held in grace, by key, for the keys that have one. */
  readonly stale: ReadonlyMap<string, T>
}

/** The decisions a loader made through its context, as the writer needs them. */
export interface LoadDecisions {
  skipped: boolean
  ttl: Duration | undefined
  tags: readonly string[] | undefined
  graceMs: number | undefined
}

/** One load's context: collects the loader's decisions until the load has settled. */
export class LoadControl<T> implements LoaderContext<T> {
  #skipped = false
  #ttl: Duration | undefined
  #tags: readonly string[] | undefined
  #graceMs: number | undefined

  constructor(
    private readonly cache: string,
    private readonly key: string,
    readonly stale: T | undefined,
  ) {}

  skip(): void {
    this.#skipped = true
  }

  ttl(ttl: Duration): void {
    // Parsed now, so a bad duration fails the loader where it was written, not the write later.
    parseDuration(ttl, { cache: this.cache, field: 'ctx.ttl' })
    this.#ttl = ttl
  }

  tags(tags: readonly string[]): void {
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag.length === 0)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${this.cache}": ctx.tags() for "${this.key}" takes an array of non-empty strings, got ${JSON.stringify(tags)}`,
        { cache: this.cache, key: this.key, field: 'ctx.tags' },
      )
    }
    this.#tags = tags
  }

  grace(grace: Duration): void {
    this.#graceMs = parseDuration(grace, { cache: this.cache, field: 'ctx.grace' })
  }

  /** The decisions, read once the loader has returned. */
  decisions(): LoadDecisions {
    return { skipped: this.#skipped, ttl: this.#ttl, tags: this.#tags, graceMs: this.#graceMs }
  }
}

/** A batch load's context: one {@link LoadControl} per key, made when the loader first asks. */
export class BatchLoadControl<T> implements BatchLoaderContext<T> {
  readonly #controls = new Map<string, LoadControl<T>>()

  constructor(
    private readonly cache: string,
    private readonly keys: ReadonlySet<string>,
    readonly stale: ReadonlyMap<string, T>,
  ) {}

  of(key: string): LoadControl<T> {
    let control = this.#controls.get(key)
    if (control !== undefined) return control
    if (!this.keys.has(key)) {
      throw new CacheError(
        ErrorCodes.INVALID_KEY,
        `cache "${this.cache}": ctx.of(${JSON.stringify(key)}): that key is not part of this batch`,
        { cache: this.cache, key },
      )
    }
    control = new LoadControl(this.cache, key, this.stale.get(key))
    this.#controls.set(key, control)
    return control
  }

  /** The decisions for `key`, or undefined when the loader made none. */
  decisionsFor(key: string): LoadDecisions | undefined {
    return this.#controls.get(key)?.decisions()
  }
}

const current = new AsyncLocalStorage<LoadControl<unknown> | BatchLoadControl<unknown>>()

// Loads running now. On Node 20 an enabled AsyncLocalStorage hooks every promise of the process, hits
// included, so the storage is switched off whenever no load runs; the next load switches it on.
let running = 0

function settled(): void {
  running--
  if (running === 0) current.disable()
}

/** Runs `loader` with `control` as its context argument and as {@link loaderContext}'s answer. */
export function runWithContext<C extends LoadControl<any> | BatchLoadControl<any>, R>(
  control: C,
  run: () => R,
): R {
  running++
  let result: R
  try {
    result = current.run(control, run)
  } catch (error) {
    settled()
    throw error
  }
  const pending = result as { then?: unknown } | null | undefined
  if (typeof pending?.then !== 'function') {
    settled()
    return result
  }
  return (result as PromiseLike<unknown>).then(
    (value) => {
      settled()
      return value
    },
    (error: unknown) => {
      settled()
      throw error
    },
  ) as R
}

/**
 * The context of the load running now, for loaders that cannot take it as an argument: functions
 * wrapped by `cached()` and `@Cached` methods. `undefined` outside a load (a cache hit does not
 * call the function at all), and in the loader of a batch (use {@link batchLoaderContext}).
 */
export function loaderContext<T = unknown>(): LoaderContext<T> | undefined {
  const control = current.getStore()
  return control instanceof LoadControl ? (control as LoaderContext<T>) : undefined
}

/** The context of the batch load running now (`cachedMany`), or `undefined` outside one. */
export function batchLoaderContext<T = unknown>(): BatchLoaderContext<T> | undefined {
  const control = current.getStore()
  return control instanceof BatchLoadControl ? (control as BatchLoaderContext<T>) : undefined
}

/** What to write for a loaded value, or `undefined` when the loader or `condition` said not to store it. */
export function plannedWrite<T>(
  key: string,
  value: T,
  decisions: LoadDecisions | undefined,
  options: { condition?: (value: T) => boolean; tags?: GetOrSetOptions<T>['tags'] } | undefined,
  defaultTtl: Duration | undefined,
): Write | undefined {
  if (decisions?.skipped) return undefined
  if (options?.condition && !options.condition(value)) return undefined
  const tags = decisions?.tags ?? (typeof options?.tags === 'function' ? options.tags(value) : options?.tags)
  return { key, value, ttl: decisions?.ttl ?? defaultTtl, tags, graceMs: decisions?.graceMs }
}
