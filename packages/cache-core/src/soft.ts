/**
 * Soft invalidation: instead of deleting an entry, expire it into its grace window. The next read
 * loads, as after a hard invalidation, but the old value may still stand in while the loader fails
 * or (with a soft timeout) is slow. It is never served while a refresh runs, and never as fresh.
 */
import type { CacheAdapter } from './adapter.js'
import { type CodecOptions, decodeEntry, encodeEntry } from './codec.js'
import type { Entry } from './types.js'

/** Options of the invalidation methods (`delete`, `deleteMany`, `invalidateTags`). */
export interface InvalidateOptions {
  /**
   * Expire the entries into their grace window instead of deleting them: the next read loads, but
   * the old value can stand in if the loader fails or is slow. Entries without a grace window (or
   * without a TTL) are deleted, as by a hard invalidation.
   * @default false (hard: delete)
   */
  soft?: boolean
}

/**
 * `entry` as invalidated softly at `at`, judged at `now`: expired at `at` at the latest, in grace for
 * the window it was written with; `undefined` when no grace is left (it is then gone).
 */
export function softened(entry: Entry, at: number, now: number): Entry | undefined {
  if (entry.expiresAt === 0) return undefined
  const window = entry.staleUntil - entry.expiresAt
  const expiresAt = Math.min(entry.expiresAt, at)
  const staleUntil = Math.min(entry.staleUntil, expiresAt + window)
  if (staleUntil <= now || window <= 0) return undefined
  return { ...entry, expiresAt, staleUntil, invalidated: true }
}

/**
 * Softly invalidates the entries under `fulls` in the store: each is read and written back expired
 * (or deleted when it has no grace to spend). Resolves with how many entries were invalidated.
 *
 * A write that lands between the read and the write back is replaced by the softened older entry:
 * never served as fresh, it costs one extra load.
 */
export async function softInvalidate(
  store: CacheAdapter<any>,
  byRef: boolean,
  codec: CodecOptions | undefined,
  fulls: readonly string[],
): Promise<number> {
  const raws = await store.getMany(fulls)
  const now = Date.now()
  const rewrites: Array<{ key: string; value: unknown; ttlMs: number }> = []
  const gone: string[] = []
  raws.forEach((raw, i) => {
    if (raw === undefined || raw === null) return
    const entry = byRef ? asEntry(raw) : decodeEntry(raw as Uint8Array, codec)
    if (entry === undefined || (entry.staleUntil !== 0 && entry.staleUntil <= now)) return
    const soft = softened(entry, now, now)
    if (soft === undefined) gone.push(fulls[i]!)
    else {
      const value = byRef ? soft : encodeEntry(soft, fulls[i]!, undefined, codec)
      rewrites.push({ key: fulls[i]!, value, ttlMs: Math.max(1, soft.staleUntil - now) })
    }
  })
  if (rewrites.length > 0) await store.setMany(rewrites as never)
  if (gone.length > 0) await store.deleteMany(gone)
  return rewrites.length + gone.length
}

// Bounds the reads and writes of one step of a soft pattern invalidation.
const PATTERN_BATCH = 500

/**
 * Softly invalidates every entry whose full key matches `pattern`, a batch of keys at a time. An
 * adapter that cannot list keys gets a hard pattern delete instead (`listed` is then false), which
 * never serves an old value where a soft one might have.
 */
export async function softInvalidatePattern(
  store: CacheAdapter<any>,
  byRef: boolean,
  codec: CodecOptions | undefined,
  pattern: string,
): Promise<{ count: number; listed: boolean }> {
  if (typeof store.keysByPattern !== 'function') {
    return { count: await store.deleteByPattern(pattern), listed: false }
  }
  const keys = await store.keysByPattern(pattern)
  let count = 0
  for (let i = 0; i < keys.length; i += PATTERN_BATCH) {
    count += await softInvalidate(store, byRef, codec, keys.slice(i, i + PATTERN_BATCH))
  }
  return { count, listed: true }
}

// By reference, only entries this core wrote qualify; lease tokens and foreign values do not.
function asEntry(raw: unknown): Entry | undefined {
  const entry = raw as Entry
  return typeof entry === 'object' &&
    typeof entry.expiresAt === 'number' &&
    typeof entry.staleUntil === 'number'
    ? entry
    : undefined
}
