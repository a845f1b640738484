import type { Cache } from '@cacheport/cache-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { expectBytes, sleep, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

const DAY = 24 * 60 * 60 * 1000

type Reads = Record<string, Uint8Array | undefined>

/**
 * Expiry in real time. Every entry is written up front and read before and after one shared wait,
 * so the topic costs a single pause (about 0.4 s) however many cases it checks.
 */
export function ttlTests(options: ResolvedSuiteOptions): void {
  if (!options.stores) return
  describe('ttl', () => {
    const ctx = useAdapter(options)
    const names = [
      'short',
      'forever',
      'batch-short',
      'batch-forever',
      'gains-ttl',
      'loses-ttl',
      'one-ms',
      'thirty-days',
      'lease',
    ] as const
    let before: Reads = {}
    let after: Reads = {}
    let singleGetAfter: Uint8Array | undefined
    let deletedAfterExpiry: boolean | undefined
    let patternCountAfterExpiry: number | undefined
    let leaseTakenWhileHeld: boolean | undefined
    let leaseTakenAfterExpiry: boolean | undefined
    let leaseAfterRetake: Uint8Array | undefined
    let cache: Cache | undefined
    const cacheReads: { before: unknown[]; after: unknown[] } = { before: [], after: [] }

    beforeAll(async () => {
      if (!options.realTime) return
      const adapter = ctx.adapter()
      const s = ctx.scope()
      const k = (name: string) => `${s}:${name}`
      // Long enough to read back right after writing on a remote store, and a multiple of the
      // store's TTL step so a coarse store still expires it within the wait.
      const short = Math.max(150, adapter.capabilities.ttlPrecisionMs * 2)
      const atomic = adapter.capabilities.atomicSetIfAbsent && adapter.setIfAbsent !== undefined

      await adapter.set(k('short'), text('short'), short)
      await adapter.set(k('forever'), text('forever'), undefined)
      await adapter.setMany([
        { key: k('batch-short'), value: text('batch-short'), ttlMs: short },
        { key: k('batch-forever'), value: text('batch-forever'), ttlMs: undefined },
      ])
      await adapter.set(k('gains-ttl'), text('no expiry yet'), undefined)
      await adapter.set(k('gains-ttl'), text('now with expiry'), short)
      await adapter.set(k('loses-ttl'), text('with expiry'), short)
      await adapter.set(k('loses-ttl'), text('no expiry any more'), undefined)
      await adapter.set(k('one-ms'), text('one-ms'), 1)
      await adapter.set(k('thirty-days'), text('thirty-days'), 30 * DAY)
      await adapter.set(k('doomed'), text('doomed'), short)
      await adapter.set(k('doomed-pattern:1'), text('doomed'), short)
      await adapter.set(k('doomed-pattern:2'), text('doomed'), short)
      if (atomic) await adapter.setIfAbsent!(k('lease'), text('holder-1'), short)
      cache = ctx.cache()
      await cache.set('short', 'short', { ttl: short })
      await cache.set('default', 'default')

      before = read(names, await adapter.getMany(names.map(k)))
      if (atomic) leaseTakenWhileHeld = await adapter.setIfAbsent!(k('lease'), text('holder-2'), short)
      cacheReads.before = await cache.getMany(['short', 'default'])

      await sleep(short * 2 + 100)

      after = read(names, await adapter.getMany(names.map(k)))
      singleGetAfter = await adapter.get(k('short'))
      deletedAfterExpiry = await adapter.delete(k('doomed'))
      patternCountAfterExpiry = await adapter.deleteByPattern(`${s}:doomed-pattern:*`)
      if (atomic) {
        leaseTakenAfterExpiry = await adapter.setIfAbsent!(k('lease'), text('holder-3'), short)
        leaseAfterRetake = await adapter.get(k('lease'))
      }
      cacheReads.after = await cache.getMany(['short', 'default'])
    })

    const realTime = it.runIf(options.realTime)

    realTime('an entry with a TTL is readable at first and gone once the TTL has passed', () => {
      expectBytes(before.short, text('short'), 'before expiry')
      expect(after.short).toBeUndefined()
      expect(singleGetAfter).toBeUndefined()
    })

    realTime('an entry without a TTL does not expire', () => {
      expectBytes(after.forever, text('forever'))
    })

    realTime("setMany applies each entry's own TTL", () => {
      expectBytes(before['batch-short'], text('batch-short'), 'before expiry')
      expect(after['batch-short']).toBeUndefined()
      expectBytes(after['batch-forever'], text('batch-forever'))
    })

    realTime('a set with a TTL gives an entry that had none an expiry', () => {
      expectBytes(before['gains-ttl'], text('now with expiry'), 'before expiry')
      expect(after['gains-ttl']).toBeUndefined()
    })

    realTime('a set without a TTL removes the expiry the entry had', () => {
      expectBytes(after['loses-ttl'], text('no expiry any more'))
    })

    realTime('a TTL of 1 ms is accepted and expires', () => {
      expect(after['one-ms']).toBeUndefined()
    })

    realTime('a TTL of 30 days keeps the entry', () => {
      expectBytes(after['thirty-days'], text('thirty-days'))
    })

    realTime('an expired entry is not counted by delete or deleteByPattern', () => {
      expect(deletedAfterExpiry).toBe(false)
      expect(patternCountAfterExpiry).toBe(0)
    })

    realTime('setIfAbsent holds the key until its TTL passes, then lets it be taken again', (t) => {
      if (leaseTakenWhileHeld === undefined) t.skip()
      expectBytes(before.lease, text('holder-1'), 'lease before expiry')
      expect(leaseTakenWhileHeld).toBe(false)
      expect(leaseTakenAfterExpiry).toBe(true)
      expectBytes(leaseAfterRetake, text('holder-3'), 'lease after expiry')
    })

    realTime('through createCache: an entry set with a short ttl expires, one with the default stays', () => {
      expect(cacheReads.before).toEqual(['short', 'default'])
      expect(cacheReads.after).toEqual([undefined, 'default'])
    })
  })
}

function read(names: readonly string[], values: Array<Uint8Array | undefined>): Reads {
  return Object.fromEntries(names.map((name, i) => [name, values[i]]))
}
