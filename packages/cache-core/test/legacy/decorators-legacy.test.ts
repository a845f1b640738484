import { describe, expect, it } from 'vitest'
import { Cached, createCache } from '../../src/index.js'
import { MapAdapter } from '../helpers/adapters.js'

// This folder compiles with `experimentalDecorators: true` (see its tsconfig.json), the mode of
// NestJS, TypeORM and older code bases.
describe('@Cached (experimentalDecorators)', () => {
  it('runs in legacy mode: decorators receive (target, key, descriptor)', () => {
    const seen: number[] = []
    const probe = (...args: unknown[]) => {
      seen.push(args.length)
    }
    class Probe {
      @probe
      method() {}
    }
    expect(new Probe()).toBeInstanceOf(Probe)
    expect(seen).toEqual([3])
  })

  it('caches methods with ClassName.method as prefix and never keys on this', async () => {
    const adapter = new MapAdapter()
    const queries = createCache({ adapter, keyPrefix: 'ea_queries' })
    let runs = 0
    class ItemQueryService {
      constructor(readonly worker: number) {}

      @Cached({ cache: queries, ttl: '5m' })
      async getFilterCounts(filter: { faculty: string }): Promise<number> {
        runs++
        return filter.faculty.length
      }
    }
    expect(await new ItemQueryService(1).getFilterCounts({ faculty: 'EEMCS' })).toBe(5)
    expect(await new ItemQueryService(2).getFilterCounts({ faculty: 'EEMCS' })).toBe(5)
    expect(runs).toBe(1)
    expect([...adapter.data.keys()]).toEqual([
      'ea_queries:1:ItemQueryService.getFilterCounts:{"faculty":"EEMCS"}',
    ])
  })

  it('is a type error on a method that does not return a Promise', () => {
    const queries = createCache({ adapter: new MapAdapter(), keyPrefix: 'q' })
    class Sync {
      // @ts-expect-error: only methods that return a Promise can be cached
      @Cached({ cache: queries })
      count(): number {
        return 1
      }
    }
    expect(new Sync().count).toBeTypeOf('function')
  })
})
