import { describe, expect, it, vi } from 'vitest'
import { createCache, decodeEntry } from '../src/index.js'
import { AsyncMapAdapter, MapAdapter } from './helpers/adapters.js'
import { tick, twoInstances } from './helpers/instances.js'

describe('tags', () => {
  it('invalidates exactly the entries with the tag, on every reader of the store', async () => {
    const adapter = new AsyncMapAdapter()
    const writer = createCache({ adapter, keyPrefix: 'tg' })
    const otherProcess = createCache({ adapter, keyPrefix: 'tg' })
    await writer.set('a', 1, { tags: ['faculty:EEMCS'] })
    await writer.set('b', 2, { tags: ['faculty:EEMCS', 'period:2025-1A'] })
    await writer.set('c', 3, { tags: ['faculty:BMS'] })
    await writer.set('d', 4)
    expect(await otherProcess.getMany(['a', 'b', 'c', 'd'])).toEqual([1, 2, 3, 4])
    await otherProcess.invalidateTags(['faculty:EEMCS'])
    expect(await writer.getMany(['a', 'b', 'c', 'd'])).toEqual([undefined, undefined, 3, 4])
    expect(await writer.get('b')).toBeUndefined()
    await writer.set('a', 10, { tags: ['faculty:EEMCS'] })
    expect(await otherProcess.get('a')).toBe(10)
  })

  it('refuses tags that are not non-empty strings, naming the option, and keeps what was stored', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'badtags' })
    await cache.set('a', 'kept', { tags: ['t'] })
    const bad: unknown[] = [['t', ''], ['t', 7], 't', ['t', 'x\uD800']]
    for (const tags of bad) {
      await expect(cache.set('a', 'other', { tags: tags as string[] })).rejects.toMatchObject({
        code: 'E_INVALID_CONFIG',
        field: 'tags',
        message: expect.stringContaining('tags must be an array of non-empty strings'),
      })
    }
    expect(await cache.get('a')).toBe('kept')
  })

  it('stores a tag named twice once: the entry goes with either invalidation', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'twice' })
    await cache.set('a', 1, { tags: ['x', 'y', 'x'] })
    await cache.set('b', 2, { tags: ['y', 'y'] })
    const storedTags = (key: string) =>
      decodeEntry([...adapter.data].find(([full]) => full.endsWith(`:${key}`))![1].value)!.tags!.map(
        ([tag]) => tag,
      )
    expect(storedTags('a')).toEqual(['x', 'y'])
    expect(storedTags('b')).toEqual(['y'])
    expect(await cache.getMany(['a', 'b'])).toEqual([1, 2])
    await cache.invalidateTags(['x'])
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, 2])
    await cache.invalidateTags(['y'])
    expect(await cache.get('b')).toBeUndefined()
  })

  it('reads a tagged entry and its tag epochs in one batched call', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'one' })
    await cache.set('course:1', 'ET', { tags: ['faculty:ET', 'period:2025-1A'] })
    const before = { ...adapter.ops }
    expect(await cache.get('course:1')).toBe('ET')
    expect(await cache.get('course:1')).toBe('ET')
    expect(adapter.ops.getMany! - (before.getMany ?? 0)).toBe(2)
    expect(adapter.ops.get ?? 0).toBe(before.get ?? 0)
    // Rewritten with other tags: the old hint misses a tag, so that read checks it separately, once.
    await cache.set('course:1', 'BMS', { tags: ['faculty:BMS'] })
    await cache.invalidateTags(['faculty:BMS'])
    expect(await cache.get('course:1')).toBeUndefined()
    await cache.set('course:1', 'plain')
    expect(await cache.get('course:1')).toBe('plain')
  })

  it('treats an evicted tag key as invalidation (safe under eviction)', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'ev' })
    await cache.set('a', 1, { tags: ['t'] })
    adapter.data.delete('ev:1#tag:t')
    expect(await cache.get('a')).toBeUndefined()
  })

  it('keeps tag keys out of the cache keyspace so clear and patterns leave them alone', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'ks' })
    await cache.set('x:1', 1, { tags: ['t'] })
    expect(await cache.deletePattern('*')).toBe(1)
    expect(adapter.data.has('ks:1#tag:t')).toBe(true)
  })

  it('computes tags from a loaded value', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'tf' })
    await cache.getOrSet('course:1', async () => ({ faculty: 'ET' }), {
      tags: (v) => [`faculty:${v.faculty}`],
    })
    await cache.invalidateTags(['faculty:ET'])
    expect(await cache.get('course:1')).toBeUndefined()
  })

  it('rejects bad tags before storing', async () => {
    const adapter = new MapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'bt' })
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toMatchObject({
      code: 'E_INVALID_CONFIG',
      field: 'tags',
    })
    expect(adapter.data.size).toBe(0)
  })
})

describe('tag epochs remembered for writes', () => {
  it('stamps repeated tagged writes without reading the tag again', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'mem' })
    await cache.set('a', 1, { tags: ['faculty:EEMCS'] })
    const reads = adapter.ops.getMany ?? 0
    for (let i = 0; i < 5; i++) await cache.set(`b${i}`, i, { tags: ['faculty:EEMCS'] })
    expect(adapter.ops.getMany ?? 0).toBe(reads)
    expect(await cache.getMany(['a', 'b4'])).toEqual([1, 4])
  })

  it('reads the tag afresh after this process invalidated it, so the next write is served', async () => {
    const adapter = new AsyncMapAdapter()
    const cache = createCache({ adapter, keyPrefix: 'mem' })
    await cache.set('a', 1, { tags: ['faculty:EEMCS'] })
    await cache.invalidateTags(['faculty:EEMCS'])
    await cache.set('a', 2, { tags: ['faculty:EEMCS'] })
    expect(await cache.get('a')).toBe(2)
  })

  it('never serves a write stamped with an epoch another process replaced; reads learn the new one', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
    try {
      const adapter = new AsyncMapAdapter()
      const writer = createCache({ adapter, keyPrefix: 'mem' })
      const other = createCache({ adapter, keyPrefix: 'mem' })
      await writer.set('a', 'old', { tags: ['t'] })
      // Another process, which this one does not hear from (no bus), invalidates the tag.
      await other.invalidateTags(['t'])
      // The remembered epoch is the replaced one: the write reads as a miss, never as a stale value.
      await writer.set('a', 'new', { tags: ['t'] })
      expect(await other.get('a')).toBeUndefined()
      // Reading the tag showed the writer the new epoch: its next write stands.
      expect(await writer.get('a')).toBeUndefined()
      await writer.set('a', 'newer', { tags: ['t'] })
      expect(await other.get('a')).toBe('newer')
      // Without a read in between, the remembered epoch is read again after a second at most.
      await other.invalidateTags(['t'])
      await writer.set('b', 'lost', { tags: ['t'] })
      expect(await other.get('b')).toBeUndefined()
      vi.advanceTimersByTime(1_000)
      await writer.set('b', 'kept', { tags: ['t'] })
      expect(await other.get('b')).toBe('kept')
    } finally {
      vi.useRealTimers()
    }
  })

  it('forgets a tag when the bus delivers its invalidation', async () => {
    const { a, b } = twoInstances()
    await tick()
    await a.cache.set('x', 1, { tags: ['t'] })
    await b.cache.invalidateTags(['t'])
    await tick()
    await a.cache.set('x', 2, { tags: ['t'] })
    expect(await b.cache.get('x')).toBe(2)
  })
})
