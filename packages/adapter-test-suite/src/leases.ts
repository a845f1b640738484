import type { CacheAdapter } from '@cacheport/cache-core'
import { describe, expect, it, type TestContext } from 'vitest'
import { expectBytes, type TopicContext, text, useAdapter } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

type Atomic = Required<Pick<CacheAdapter<Uint8Array>, 'setIfAbsent' | 'deleteIfEquals'>> &
  CacheAdapter<Uint8Array>

/**
 * `setIfAbsent` and `deleteIfEquals`, the two operations cross-process leases are built on. They run
 * only when the adapter declares `capabilities.atomicSetIfAbsent`.
 */
export function leaseTests(options: ResolvedSuiteOptions): void {
  if (!options.stores) return
  describe('leases', () => {
    storing(useAdapter(options))
  })
}

function storing(ctx: TopicContext): void {
  // Skips the calling test when the adapter does not declare the capability.
  const atomic = (t: TestContext): Atomic => {
    const adapter = ctx.adapter()
    if (!adapter.capabilities.atomicSetIfAbsent) t.skip()
    return adapter as Atomic
  }

  // setIfHolds is optional on its own: the adapters that offer it must write only under the lease.
  const holding = (t: TestContext) => {
    const adapter = ctx.adapter()
    if (typeof adapter.setIfHolds !== 'function') t.skip()
    return adapter as Required<Pick<CacheAdapter<Uint8Array>, 'setIfHolds'>> & CacheAdapter<Uint8Array>
  }

  it('setIfHolds writes while the lease holds the token, and refuses once it is gone or taken', async (t) => {
    const adapter = holding(t)
    const s = ctx.scope()
    await adapter.set(`${s}:lease`, text('token-1'), 10_000)
    expect(await adapter.setIfHolds(`${s}:k`, text('first'), 10_000, `${s}:lease`, text('token-1'))).toBe(
      true,
    )
    expectBytes(await adapter.get(`${s}:k`), text('first'))
    // Another holder's token: refused, the entry stays.
    expect(await adapter.setIfHolds(`${s}:k`, text('other'), 10_000, `${s}:lease`, text('token-2'))).toBe(
      false,
    )
    expectBytes(await adapter.get(`${s}:k`), text('first'))
    // The lease revoked (deleted): refused, nothing written.
    await adapter.delete(`${s}:lease`)
    expect(await adapter.setIfHolds(`${s}:k`, text('late'), undefined, `${s}:lease`, text('token-1'))).toBe(
      false,
    )
    expectBytes(await adapter.get(`${s}:k`), text('first'))
  })

  it('setIfAbsent stores on an absent key and resolves true', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    expect(await adapter.setIfAbsent(`${s}:lease`, text('holder-1'), 10_000)).toBe(true)
    expectBytes(await adapter.get(`${s}:lease`), text('holder-1'))
  })

  it('setIfAbsent leaves a present key alone and resolves false', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    await adapter.set(`${s}:lease`, text('holder-1'), undefined)
    expect(await adapter.setIfAbsent(`${s}:lease`, text('holder-2'), 10_000)).toBe(false)
    expectBytes(await adapter.get(`${s}:lease`), text('holder-1'))
  })

  it('exactly one of 20 concurrent setIfAbsent calls wins, and its value is the one stored', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => adapter.setIfAbsent(`${s}:lease`, text(`holder-${i}`), 10_000)),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    expectBytes(await adapter.get(`${s}:lease`), text(`holder-${results.indexOf(true)}`))
  })

  it('deleteIfEquals removes the key when it holds equal bytes, compared by content', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    await adapter.setIfAbsent(`${s}:lease`, text('holder-1'), 10_000)
    expect(await adapter.deleteIfEquals(`${s}:lease`, text('holder-1'))).toBe(true)
    expect(await adapter.get(`${s}:lease`)).toBeUndefined()
    expect(await adapter.setIfAbsent(`${s}:lease`, text('holder-2'), 10_000)).toBe(true)
  })

  it('deleteIfEquals leaves the key when its bytes differ, even by one byte or by length', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    await adapter.set(`${s}:lease`, text('holder-1'), undefined)
    expect(await adapter.deleteIfEquals(`${s}:lease`, text('holder-2'))).toBe(false)
    expect(await adapter.deleteIfEquals(`${s}:lease`, text('holder-'))).toBe(false)
    expect(await adapter.deleteIfEquals(`${s}:lease`, text('holder-10'))).toBe(false)
    expect(await adapter.deleteIfEquals(`${s}:lease`, new Uint8Array(0))).toBe(false)
    expectBytes(await adapter.get(`${s}:lease`), text('holder-1'))
  })

  it('deleteIfEquals on an absent key resolves false', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    expect(await adapter.deleteIfEquals(`${s}:never-written`, text('holder-1'))).toBe(false)
  })

  it('setIfAbsent and deleteIfEquals handle binary values with every byte', async (t) => {
    const adapter = atomic(t)
    const s = ctx.scope()
    const token = new Uint8Array(256).map((_, i) => 255 - i)
    expect(await adapter.setIfAbsent(`${s}:lease`, token, 10_000)).toBe(true)
    expect(await adapter.deleteIfEquals(`${s}:lease`, token.slice())).toBe(true)
  })
}
