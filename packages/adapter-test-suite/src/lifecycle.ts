import type { AnyCacheAdapter, CacheAdapter } from '@cacheport/cache-core'
import { createCache, isCacheError } from '@cacheport/cache-core'
import { describe, expect, it } from 'vitest'
import { outcomeOf, randomScope, text } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

const STATUSES = ['ready', 'connecting', 'unavailable', 'closed']

/** Name, declared capabilities, status and close: the parts of the contract around the operations. */
export function lifecycleTests(options: ResolvedSuiteOptions): void {
  describe('lifecycle', () => {
    // Each test builds and closes its own adapter, since closing is what it is about.
    const fresh = async (): Promise<CacheAdapter<Uint8Array>> =>
      (await options.factory()) as CacheAdapter<Uint8Array>
    const withFresh = async (use: (adapter: CacheAdapter<Uint8Array>) => Promise<void>): Promise<void> => {
      const adapter = await fresh()
      try {
        await use(adapter)
      } finally {
        await adapter.close()
      }
    }

    it('name is a non-empty string and capabilities have the documented shape (byReference only unshared)', async () => {
      await withFresh(async (adapter) => {
        expect(typeof adapter.name).toBe('string')
        expect(adapter.name.length).toBeGreaterThan(0)
        const caps = adapter.capabilities
        const required = [
          'atomicSetIfAbsent',
          'byReference',
          'nativeBatch',
          'pubsub',
          'shared',
          'ttlPrecisionMs',
        ]
        const optional = [
          ...(caps.operationTimeoutMs === undefined ? [] : ['operationTimeoutMs']),
          ...(caps.sharded === undefined ? [] : ['sharded']),
        ]
        expect(Object.keys(caps).sort()).toEqual([...required, ...optional].sort())
        if (caps.sharded !== undefined) {
          expect(typeof caps.sharded, 'capabilities.sharded').toBe('boolean')
          // A sharded store names each key's node, which the core keeps its health by.
          if (caps.sharded) expect(typeof adapter.nodeOf, 'a sharded adapter has nodeOf').toBe('function')
        }
        if (caps.operationTimeoutMs !== undefined) {
          expect(
            caps.operationTimeoutMs,
            'capabilities.operationTimeoutMs is a positive number',
          ).toBeGreaterThan(0)
        }
        for (const flag of ['shared', 'nativeBatch', 'atomicSetIfAbsent', 'pubsub', 'byReference'] as const) {
          expect(typeof caps[flag], `capabilities.${flag}`).toBe('boolean')
        }
        expect(Number.isInteger(caps.ttlPrecisionMs), 'capabilities.ttlPrecisionMs is a whole number').toBe(
          true,
        )
        expect(caps.ttlPrecisionMs).toBeGreaterThanOrEqual(1)
        // Only an in-process store can hand objects back as they were stored.
        if (caps.byReference) expect(caps.shared, 'a byReference adapter is not shared').toBe(false)
      })
    })

    it('optional methods exist exactly when the capabilities declare them', async () => {
      await withFresh(async (adapter) => {
        const has = (method: keyof AnyCacheAdapter) => typeof adapter[method] === 'function'
        expect(has('setIfAbsent'), 'setIfAbsent').toBe(adapter.capabilities.atomicSetIfAbsent)
        expect(has('deleteIfEquals'), 'deleteIfEquals').toBe(adapter.capabilities.atomicSetIfAbsent)
        expect(has('publish'), 'publish').toBe(adapter.capabilities.pubsub)
        expect(has('subscribe'), 'subscribe').toBe(adapter.capabilities.pubsub)
      })
    })

    it('capabilities stay the same after operations', async () => {
      await withFresh(async (adapter) => {
        const declared = { ...adapter.capabilities }
        const s = randomScope()
        await adapter.set(`${s}:k`, text('v'), 1000)
        await adapter.get(`${s}:k`)
        await adapter.clear(s)
        expect({ ...adapter.capabilities }).toEqual(declared)
      })
    })

    it('close() of an adapter that was never used resolves', async () => {
      const adapter = await fresh()
      const outcome = await outcomeOf(() => adapter.close(), 3000)
      expect(outcome.kind).toBe('resolved')
    })

    it('close() is idempotent', async () => {
      const adapter = await fresh()
      await adapter.get(`${randomScope()}:k`)
      await adapter.close()
      const again = await outcomeOf(() => adapter.close(), 3000)
      expect(again.kind).toBe('resolved')
    })

    it('status() reports a known state, and closed after close()', async (t) => {
      const adapter = await fresh()
      if (adapter.status === undefined) {
        await adapter.close()
        t.skip()
      }
      expect(STATUSES).toContain(adapter.status!())
      await adapter.close()
      expect(adapter.status!()).toBe('closed')
    })

    it('operations after close() settle or fail at once instead of hanging', async () => {
      const adapter = await fresh()
      await adapter.close()
      const s = randomScope()
      const calls: Array<[string, () => unknown]> = [
        ['get', () => adapter.get(`${s}:k`)],
        ['getMany', () => adapter.getMany([`${s}:k`])],
        ['set', () => adapter.set(`${s}:k`, text('v'), 1000)],
        ['setMany', () => adapter.setMany([{ key: `${s}:k`, value: text('v'), ttlMs: 1000 }])],
        ['delete', () => adapter.delete(`${s}:k`)],
        ['deleteMany', () => adapter.deleteMany([`${s}:k`])],
        ['deleteByPattern', () => adapter.deleteByPattern(`${s}:*`)],
        ['clear', () => adapter.clear(s)],
      ]
      for (const [name, call] of calls) {
        const outcome = await outcomeOf(call, 3000)
        expect(outcome.kind, `${name} after close()`).not.toBe('hung')
      }
    })

    it('through createCache: close() makes later calls reject with E_CLOSED', async () => {
      const adapter = await fresh()
      const cache = createCache({ ...options.cacheOptions, adapter, keyPrefix: randomScope() })
      await cache.close()
      const error = await cache.get('k').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isCacheError(error, 'E_CLOSED'), `expected a CacheError E_CLOSED, got ${String(error)}`).toBe(
        true,
      )
      await adapter.close()
    })
  })
}
