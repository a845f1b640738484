import { describe, expect, it } from 'vitest'
import { Cached, createCache, invalidate } from '../../src/index.js'
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

  it('caches methods under their keyPrefix and never keys on this', async () => {
    const adapter = new MapAdapter()
    const queries = createCache({ adapter, keyPrefix: 'ea_queries' })
    let runs = 0
    class ItemQueryService {
      constructor(readonly worker: number) {}

      @Cached({ cache: queries, keyPrefix: 'filter_counts', ttl: '5m' })
      async getFilterCounts(filter: { faculty: string }): Promise<number> {
        runs++
        return filter.faculty.length
      }
    }
    expect(await new ItemQueryService(1).getFilterCounts({ faculty: 'EEMCS' })).toBe(5)
    expect(await new ItemQueryService(2).getFilterCounts({ faculty: 'EEMCS' })).toBe(5)
    expect(runs).toBe(1)
    expect([...adapter.data.keys()]).toEqual(['ea_queries:1:filter_counts:{"faculty":"EEMCS"}'])
    expect(await invalidate(new ItemQueryService(3).getFilterCounts, { faculty: 'EEMCS' })).toBe(true)
    expect(adapter.data.size).toBe(0)
  })

  it('checks callbacks against the method and requires a keyPrefix', () => {
    const queries = createCache({ adapter: new MapAdapter(), keyPrefix: 'q' })
    expect(() => {
      class Service {
        // @ts-expect-error: the key callback takes a number, the method a string
        @Cached({ cache: queries, keyPrefix: 'person', key: (id: number) => id })
        async person(name: string): Promise<string> {
          return name
        }

        // @ts-expect-error: keyPrefix is required
        @Cached({ cache: queries })
        async load(): Promise<number> {
          return 1
        }
      }
      return Service
    }).toThrow(/@Cached\(\) on "load": option "keyPrefix" is required/)
  })

  it('is a type error on a method that does not return a Promise', () => {
    const queries = createCache({ adapter: new MapAdapter(), keyPrefix: 'q' })
    class Sync {
      // @ts-expect-error: only methods that return a Promise can be cached
      @Cached({ cache: queries, keyPrefix: 'count' })
      count(): number {
        return 1
      }
    }
    expect(new Sync().count).toBeTypeOf('function')
  })
})
