import { createCache, isCacheError } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { type MemoryAdapter, memoryAdapter, memoryAdapterFactory } from '../src/index.js'

const bytes = (length: number, fill = 1) => new Uint8Array(length).fill(fill)

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw')
}

describe('memory adapter bounds', () => {
  it('evicts the least recently used entries first when maxBytes is reached', () => {
    // Each entry counts 200 value bytes + 2 key characters = 202; five do not fit in 1000.
    const adapter = memoryAdapter({ maxBytes: 1000 })
    for (const key of ['k0', 'k1', 'k2', 'k3']) adapter.set(key, bytes(200), undefined)
    adapter.get('k0')
    adapter.set('k4', bytes(200), undefined)
    expect(adapter.get('k1')).toBeUndefined()
    for (const key of ['k0', 'k2', 'k3', 'k4']) expect(adapter.get(key), key).toBeDefined()
    expect(adapter.byteSize).toBe(808)
  })

  it('evicts as many old entries as a large new one needs', () => {
    // 593 more bytes fit once the two oldest 202-byte entries are gone: 404 + 593 <= 1000.
    const adapter = memoryAdapter({ maxBytes: 1000 })
    for (const key of ['k0', 'k1', 'k2', 'k3']) adapter.set(key, bytes(200), undefined)
    adapter.set('big', bytes(590), undefined)
    expect(adapter.getMany(['k0', 'k1', 'k2', 'k3']).map((v) => v !== undefined)).toEqual([
      false,
      false,
      true,
      true,
    ])
    expect(adapter.get('big')).toBeDefined()
    expect(adapter.byteSize).toBeLessThanOrEqual(1000)
  })

  it('evicts the least recently used entry first when maxEntries is reached', () => {
    const adapter = memoryAdapter({ maxEntries: 3 })
    for (const key of ['a', 'b', 'c']) adapter.set(key, bytes(1), undefined)
    adapter.get('a')
    adapter.set('d', bytes(1), undefined)
    expect(adapter.getMany(['a', 'b', 'c', 'd']).map((v) => v !== undefined)).toEqual([
      true,
      false,
      true,
      true,
    ])
    expect(adapter.size).toBe(3)
  })

  it('keeps at most 10 000 entries by default', () => {
    const adapter = memoryAdapter()
    for (let i = 0; i <= 10_000; i++) adapter.set(`k${i}`, bytes(1), undefined)
    expect(adapter.size).toBe(10_000)
    expect(adapter.get('k0')).toBeUndefined()
    expect(adapter.get('k10000')).toBeDefined()
  })

  it('counts an entry as its value bytes plus its key length', () => {
    const adapter = memoryAdapter({ maxBytes: 110 })
    adapter.set('ten-chars!', bytes(100), undefined)
    expect(adapter.byteSize).toBe(110)
    adapter.set('eleven-char', bytes(100), undefined)
    expect(adapter.get('eleven-char')).toBeUndefined()
    expect(adapter.get('ten-chars!')).toBeDefined()
  })

  it('does not store an entry larger than maxBytes, and leaves the other entries alone', () => {
    const adapter = memoryAdapter({ maxBytes: 100 })
    adapter.set('small', bytes(10), undefined)
    adapter.set('huge', bytes(200), undefined)
    expect(adapter.get('huge')).toBeUndefined()
    expect(adapter.get('small')).toBeDefined()
    expect(adapter.setIfAbsent('huge-lease', bytes(200), 1000)).toBe(false)
  })

  it('an oversized write replaces: the older entry under its key is gone too', () => {
    const adapter = memoryAdapter({ maxBytes: 100 })
    adapter.set('k', bytes(10), undefined)
    adapter.set('k', bytes(200), undefined)
    expect(adapter.get('k')).toBeUndefined()
  })

  it('counts the copy it keeps, not the pooled buffer the bytes came from', () => {
    const adapter = memoryAdapter()
    const pooled = Buffer.from('abc')
    expect(pooled.buffer.byteLength).toBeGreaterThan(3)
    adapter.set('k', pooled, undefined)
    expect(adapter.byteSize).toBe(4)
    const stored = adapter.get('k')!
    expect(stored.buffer.byteLength).toBe(3)
    expect(Buffer.from(stored).toString()).toBe('abc')
  })
})

describe('memory adapter answers synchronously', () => {
  it('returns plain values, not promises, from every operation', () => {
    const adapter = memoryAdapter()
    expect(adapter.set('k', bytes(3), 1000)).toBeUndefined()
    expect(adapter.get('k')).toBeInstanceOf(Uint8Array)
    expect(adapter.getMany(['k', 'x'])).toHaveLength(2)
    expect(adapter.setIfAbsent('k', bytes(1), 1000)).toBe(false)
    expect(adapter.deleteIfEquals('k', bytes(3))).toBe(true)
    expect(adapter.delete('k')).toBe(false)
    expect(adapter.deleteMany(['k'])).toBe(0)
    expect(adapter.deleteByPattern('*')).toBe(0)
    expect(adapter.clear('')).toBeUndefined()
  })

  it('lets a cache answer a hit without waiting on the store', async () => {
    const adapter = memoryAdapter()
    const cache = createCache({ adapter, keyPrefix: 'sync' })
    await cache.set('k', { n: 1 })
    const reads: unknown[] = []
    const pending = cache.get('k').then((value) => reads.push(value))
    // A hit resolves within one microtask, with no timer or store round trip in between.
    await Promise.resolve()
    expect(reads).toEqual([{ n: 1 }])
    await pending
  })
})

describe('memory adapter by reference', () => {
  it('hands back the very object it was given', () => {
    const adapter = memoryAdapter({ byReference: true })
    const entry = { value: { list: [1, 2] } }
    adapter.set('k', entry, undefined)
    expect(adapter.get('k')).toBe(entry)
    expect(adapter.capabilities.byReference).toBe(true)
  })

  it('through createCache, every read returns the same object, so a mutation is seen by all readers', async () => {
    const cache = createCache({ adapter: memoryAdapter({ byReference: true }), keyPrefix: 'byref' })
    const value = { list: [1, 2], at: new Date(0) }
    await cache.set('k', value)
    const first = await cache.get<typeof value>('k')
    expect(first).toBe(value)
    first!.list.push(3)
    expect(await cache.get('k')).toEqual({ list: [1, 2, 3], at: new Date(0) })
  })

  it('stores values the codec would refuse, unlike the default mode', async () => {
    const withFunction = { handler: () => 1 }
    const byRef = createCache({ adapter: memoryAdapter({ byReference: true }), keyPrefix: 'byref' })
    await byRef.set('k', withFunction)
    expect(await byRef.get('k')).toBe(withFunction)
    const bytesMode = createCache({ adapter: memoryAdapter(), keyPrefix: 'bytes' })
    await expect(bytesMode.set('k', withFunction)).rejects.toMatchObject({ code: 'E_UNSERIALIZABLE' })
  })

  it('compares deleteIfEquals by identity for objects', () => {
    const adapter = memoryAdapter({ byReference: true })
    const token = { id: 'holder-1' }
    adapter.set('lease', token, 1000)
    expect(adapter.deleteIfEquals('lease', { id: 'holder-1' })).toBe(false)
    expect(adapter.deleteIfEquals('lease', token)).toBe(true)
  })

  it('is bounded by maxEntries', () => {
    const adapter = memoryAdapter({ byReference: true, maxEntries: 2 })
    for (const key of ['a', 'b', 'c']) adapter.set(key, { key }, undefined)
    expect(adapter.size).toBe(2)
    expect(adapter.get('a')).toBeUndefined()
    expect(adapter.byteSize).toBe(0)
  })
})

describe('memory adapter pub/sub', () => {
  it('delivers after the publishing call returns, never inside it', async () => {
    const adapter = memoryAdapter()
    const got: string[] = []
    adapter.subscribe('c', (message) => got.push(message))
    adapter.publish('c', 'm')
    expect(got).toEqual([])
    await Promise.resolve()
    expect(got).toEqual(['m'])
  })

  it('keeps delivering to other subscribers when one throws, and reports it as a process warning', async () => {
    const adapter = memoryAdapter()
    const got: string[] = []
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      adapter.subscribe('c', () => {
        throw new Error('handler bug')
      })
      adapter.subscribe('c', (message) => got.push(message))
      adapter.publish('c', 'm')
      await new Promise((resolve) => setImmediate(resolve))
      expect(got).toEqual(['m'])
      expect(warnings.map((w) => w.message)).toContain('handler bug')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('does not reach subscribers of another memory adapter', async () => {
    const first = memoryAdapter()
    const second = memoryAdapter()
    const got: string[] = []
    second.subscribe('c', (message) => got.push(message))
    first.publish('c', 'm')
    second.publish('c', 'marker')
    await new Promise((resolve) => setImmediate(resolve))
    expect(got).toEqual(['marker'])
  })
})

describe('memory adapter lifecycle', () => {
  it('after close, operations throw E_CLOSED naming the key, and subscribers hear "closed"', () => {
    const adapter = memoryAdapter()
    const statuses: string[] = []
    adapter.subscribe(
      'c',
      () => {},
      (status) => statuses.push(status),
    )
    adapter.set('k', bytes(1), undefined)
    adapter.close()
    const error = thrown(() => adapter.get('k'))
    expect(isCacheError(error, 'E_CLOSED')).toBe(true)
    expect((error as Error).message).toBe('memory adapter: get (key "k") called after close()')
    expect(statuses).toEqual(['closed'])
    expect(adapter.status()).toBe('closed')
  })

  it('rejects a value that is not bytes unless byReference, naming the key', () => {
    const adapter = memoryAdapter() as unknown as MemoryAdapter<unknown>
    const error = thrown(() => adapter.set('user:1', { not: 'bytes' }, undefined))
    expect(error).toMatchObject({ code: 'E_ADAPTER', key: 'user:1' })
    expect((error as Error).message).toContain('"user:1"')
  })
})

describe('memory adapter options', () => {
  it.each([
    [{ maxEntries: 0 }, 'maxEntries'],
    [{ maxEntries: 1.5 }, 'maxEntries'],
    [{ maxEntries: '10' }, 'maxEntries'],
    [{ maxBytes: -1 }, 'maxBytes'],
    [{ maxBytes: Number.POSITIVE_INFINITY }, 'maxBytes'],
    [{ byReference: 'yes' }, 'byReference'],
    [{ byReference: true, maxBytes: 1000 }, 'maxBytes'],
    [{ maxEntires: 10 }, 'maxEntires'],
  ])('rejects %j with E_INVALID_CONFIG naming option "%s"', (options, field) => {
    const error = thrown(() => memoryAdapter(options as never))
    expect(error).toMatchObject({ code: 'E_INVALID_CONFIG', field })
    expect((error as Error).message).toContain(`option "${field}"`)
  })

  it('registry factory: builds from options and names the cache in errors', () => {
    const adapter = memoryAdapterFactory({
      cache: 'queries',
      location: undefined,
      options: { maxEntries: 5 },
    })
    expect(adapter.name).toBe('memory')
    const error = thrown(() =>
      memoryAdapterFactory({ cache: 'queries', location: undefined, options: { maxBytes: 'lots' } }),
    )
    expect(error).toMatchObject({ code: 'E_INVALID_CONFIG', cache: 'queries', field: 'maxBytes' })
    expect((error as Error).message).toBe(
      'cache "queries": memory adapter: option "maxBytes" must be a whole number of bytes >= 1, got "lots"',
    )
  })
})

describe('memory adapter pattern deletes', () => {
  it('answers a pattern with many stars over a long key at once, as Redis does', () => {
    // A backtracking RegExp blocked the event loop for about four seconds on a 40-character key, and
    // each extra character multiplies that. The key here is 60 characters, so exponential matching
    // would take hours, while a linear matcher answers in microseconds: the bound catches a return to
    // backtracking without measuring the machine (the first call also pays for compiling the matcher).
    const adapter = memoryAdapter()
    adapter.set('a'.repeat(60), bytes(1), undefined)
    const started = performance.now()
    expect(adapter.deleteByPattern('*a*a*a*a*a*a*a*a*a*a*b')).toBe(0)
    expect(performance.now() - started).toBeLessThan(2_000)
    expect(adapter.size).toBe(1)
  })
})
