import { randomBytes } from 'node:crypto'
import type { CacheOptions } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { type TopicContext, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

// Envelope flag bits (see the core's codec): bit 2 compressed, bit 3 encrypted.
const COMPRESSED = 0b100
const ENCRYPTED = 0b1000

// Query-result-like JSON, about 60 KB: compresses well, like most cached data.
const rows = Array.from({ length: 800 }, (_, i) => ({
  id: i,
  faculty: 'EEMCS',
  workflowStatus: i % 3 === 0 ? 'ToDo' : 'Done',
  title: `Course ${i % 41}: Introduction`,
}))

const ring = (...ids: string[]): NonNullable<CacheOptions['encryption']> => ({
  keys: ids.map((id) => ({ id, key: keys.get(id)! })),
})
const keys = new Map(['k2025', 'k2026', 'foreign'].map((id) => [id, randomBytes(32)]))

/**
 * Compressed, encrypted, tampered and foreign-key entries: the core seals entries before the
 * adapter sees them, so every byte-storing adapter must hand them back exactly, and a cache must
 * read whatever another cache with other settings wrote to the same store the same way.
 */
export function pipelineTests(options: ResolvedSuiteOptions): void {
  describe('compression and encryption', () => {
    const ctx = useAdapter(options)
    if (options.stores) storing(ctx)
    else dummy(ctx)
  })
}

/** The stored bytes of `key` in a cache of this scope. */
async function raw(ctx: TopicContext, prefix: string, key: string): Promise<Uint8Array | undefined> {
  return (await ctx.adapter().get(`${prefix}:1:${key}`)) as Uint8Array | undefined
}

function storing(ctx: TopicContext): void {
  it('stores compressed entries smaller, and caches without compression read them', async (t) => {
    const prefix = ctx.scope()
    const gzip = ctx.cache({ keyPrefix: prefix, compression: 'gzip' })
    const plain = ctx.cache({ keyPrefix: prefix })
    await gzip.set('rows', rows)
    expect(await gzip.get('rows')).toEqual(rows)
    expect(await plain.get('rows')).toEqual(rows)
    await plain.set('plain', rows)
    expect(await gzip.get('plain')).toEqual(rows)
    if (ctx.adapter().capabilities.byReference) t.skip()
    const packed = (await raw(ctx, prefix, 'rows'))!
    expect(packed[2]! & COMPRESSED).toBe(COMPRESSED)
    expect(packed.byteLength * 5).toBeLessThan((await raw(ctx, prefix, 'plain'))!.byteLength)
  })

  it('brotli entries and small entries below the threshold read back alike', async () => {
    const cache = ctx.cache({ compression: { algorithm: 'brotli', threshold: 2048 } })
    await cache.setMany([
      { key: 'big', value: rows },
      { key: 'small', value: { id: 1 } },
    ])
    expect(await cache.getMany(['big', 'small'])).toEqual([rows, { id: 1 }])
  })

  it('stores encrypted entries without their plaintext, and a rotated ring still reads them', async (t) => {
    const prefix = ctx.scope()
    const before = ctx.cache({ keyPrefix: prefix, encryption: ring('k2025') })
    await before.set('grade', { student: 'S4711', grade: 8.5 }, { tags: ['course:TI1316'] })
    const rotated = ctx.cache({ keyPrefix: prefix, encryption: ring('k2026', 'k2025') })
    expect(await rotated.get('grade')).toEqual({ student: 'S4711', grade: 8.5 })
    await rotated.set('newer', 'written with k2026')
    expect(await rotated.get('newer')).toBe('written with k2026')
    // An in-process store that keeps entries by reference never holds bytes to seal.
    if (ctx.adapter().capabilities.byReference) t.skip()
    // The old ring does not hold k2026: the newer entry is a miss for it, not an error.
    expect(await before.get('newer')).toBeUndefined()
    const sealed = Buffer.from((await raw(ctx, prefix, 'grade'))!)
    expect(sealed[2]! & ENCRYPTED).toBe(ENCRYPTED)
    expect(sealed.includes('S4711')).toBe(false)
    expect(sealed.includes('course:TI1316')).toBe(false)
  })

  it('compresses, then encrypts, when both are asked for', async (t) => {
    const prefix = ctx.scope()
    const both = ctx.cache({ keyPrefix: prefix, compression: 'gzip', encryption: ring('k2026') })
    await both.set('rows', rows)
    expect(await both.get('rows')).toEqual(rows)
    if (ctx.adapter().capabilities.byReference) t.skip()
    const sealed = (await raw(ctx, prefix, 'rows'))!
    expect(sealed[2]! & (COMPRESSED | ENCRYPTED)).toBe(COMPRESSED | ENCRYPTED)
    expect(sealed.byteLength).toBeLessThan(JSON.stringify(rows).length / 5)
  })

  it('reads a tampered entry as a miss, and getOrSet loads and replaces it', async (t) => {
    if (ctx.adapter().capabilities.byReference) t.skip()
    const prefix = ctx.scope()
    const cache = ctx.cache({ keyPrefix: prefix, encryption: ring('k2026') })
    await cache.set('k', { grade: 6 })
    const tampered = Buffer.from((await raw(ctx, prefix, 'k'))!)
    tampered[tampered.length - 20]! ^= 0x01
    await ctx.adapter().set(`${prefix}:1:k`, tampered, undefined)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.getOrSet('k', () => ({ grade: 9 }))).toEqual({ grade: 9 })
    expect(await cache.get('k')).toEqual({ grade: 9 })
  })

  it('reads entries under a foreign or retired key, or encrypted ones without a ring, as misses', async (t) => {
    if (ctx.adapter().capabilities.byReference) t.skip()
    const prefix = ctx.scope()
    const foreign = ctx.cache({ keyPrefix: prefix, encryption: ring('foreign') })
    await foreign.set('k', 'secret')
    const ours = ctx.cache({ keyPrefix: prefix, encryption: ring('k2026') })
    const none = ctx.cache({ keyPrefix: prefix })
    expect(await ours.get('k')).toBeUndefined()
    expect(await none.get('k')).toBeUndefined()
    let loads = 0
    expect(await ours.getOrSet('k', () => `reloaded ${++loads}`)).toBe('reloaded 1')
    expect(await ours.getOrSet('k', () => `reloaded ${++loads}`)).toBe('reloaded 1')
    expect(ours.stats().undecodable).toBeGreaterThan(0)
  })
}

function dummy(ctx: TopicContext): void {
  it('a cache with compression and encryption stores nothing and runs every loader', async () => {
    const cache = ctx.cache({ compression: 'gzip', encryption: ring('k2026') })
    expect(await cache.set('k', rows)).toBe(true)
    expect(await cache.get('k')).toBeUndefined()
    let loads = 0
    await cache.getOrSet('k', () => ++loads)
    await cache.getOrSet('k', () => ++loads)
    expect(loads).toBe(2)
  })
}
