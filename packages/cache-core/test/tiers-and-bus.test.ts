import { describe, expect, it } from 'vitest'
import { tick, twoInstances } from './helpers/instances.js'

describe('L1 across a bus reconnect', () => {
  it('never returns an L1 copy read while the bus was down, when the store says the key is gone', async () => {
    const { a, b } = twoInstances()
    await tick()
    await b.cache.set('k', 'old')
    await tick()
    expect(b.l1.data.has('tier:1:k')).toBe(true)
    b.l2.dropBus()
    // A deletes while B cannot hear it; B's L1 still holds the old copy.
    await a.cache.delete('k')
    const reading = b.cache.get('k')
    // The bus comes back while B's store read is in flight.
    b.l2.restoreBus()
    expect(await reading).toBeUndefined()
    expect(await b.cache.get('k')).toBeUndefined()
  })

  it('does the same for batched reads', async () => {
    const { a, b } = twoInstances()
    await tick()
    await b.cache.setMany([
      { key: 'x', value: 'old-x' },
      { key: 'y', value: 'old-y' },
    ])
    await tick()
    b.l2.dropBus()
    await a.cache.deleteMany(['x', 'y'])
    const reading = b.cache.getMany(['x', 'y'])
    b.l2.restoreBus()
    expect(await reading).toEqual([undefined, undefined])
  })
})
