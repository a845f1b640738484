import { afterEach, describe, expect, it } from 'vitest'
import {
  CacheError,
  cached,
  createCaches,
  getDefaultCaches,
  isCacheError,
  setDefaultCaches,
} from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

// The ESM and CJS builds of this package are two module instances when an app loads both. These
// tests stand in for "the other copy" with what it shares with this one: Symbol.for keys.
afterEach(() => setDefaultCaches(undefined))

describe('one identity across copies of the package', () => {
  it('recognises a CacheError thrown by another copy, and nothing else', () => {
    class OtherCopysCacheError extends Error {
      readonly code = 'E_UNKNOWN_CACHE'
      constructor() {
        super('no cache named "queries"')
        Object.defineProperty(this, Symbol.for('@cacheport/cache-core.CacheError'), { value: true })
      }
    }
    const foreign = new OtherCopysCacheError()
    expect(foreign instanceof CacheError).toBe(true)
    expect(isCacheError(foreign, 'E_UNKNOWN_CACHE')).toBe(true)
    expect(isCacheError(foreign, 'E_ADAPTER')).toBe(false)
    expect(new Error('plain') instanceof CacheError).toBe(false)
    expect(isCacheError({ code: 'E_UNKNOWN_CACHE' })).toBe(false)
    expect(new CacheError('E_ADAPTER', 'down') instanceof CacheError).toBe(true)
  })

  it('keeps the default registry where another copy finds it', async () => {
    const slot = Symbol.for('@cacheport/cache-core.defaultRegistry')
    const registry = createCaches(
      { queries: { adapter: 'map', keyPrefix: 'identity' } },
      { adapters: { map: () => new MapAdapter() }, logger: false },
    )
    expect((globalThis as Record<symbol, unknown>)[slot]).toBe(registry)
    // A registry the other copy made is the default here too.
    setDefaultCaches(undefined)
    ;(globalThis as Record<symbol, unknown>)[slot] = registry
    expect(getDefaultCaches()).toBe(registry)
    const double = cached(async (n: number) => n * 2, { cache: 'queries', keyPrefix: 'double' })
    expect(await double(21)).toBe(42)
    await registry.closeAll()
    expect((globalThis as Record<symbol, unknown>)[slot]).toBeUndefined()
  })
})
