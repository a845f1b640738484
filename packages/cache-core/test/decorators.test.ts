import { beforeEach, describe, expect, it } from 'vitest'
import { type Cache, Cached, cached, createCache, createCaches, invalidate } from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

interface ItemFilter {
  faculty?: string
  status?: string[]
  search?: string
}

let queries: Cache
let adapter: MapAdapter
beforeEach(() => {
  adapter = new MapAdapter()
  queries = createCache({ adapter, keyPrefix: 'ea_queries' })
})

describe('cached()', () => {
  it('caches by a stable digest of the arguments, ignoring object key order', async () => {
    let runs = 0
    const counts = cached(
      async (filter: ItemFilter, page: number) => {
        runs++
        return { page, faculty: filter.faculty }
      },
      { cache: queries, keyPrefix: 'filter_counts', ttl: '5m' },
    )
    const first = await counts({ faculty: 'EEMCS', status: ['ToDo'] }, 1)
    const second = await counts({ status: ['ToDo'], faculty: 'EEMCS' }, 1)
    expect(second).toEqual(first)
    expect(runs).toBe(1)
    await counts({ faculty: 'EEMCS', status: ['ToDo'] }, 2)
    expect(runs).toBe(2)
    expect(counts.key({ faculty: 'EEMCS', status: ['ToDo'] }, 1)).toMatch(/^filter_counts:/)
    expect([...adapter.data.keys()].every((key) => key.startsWith('ea_queries:1:filter_counts:'))).toBe(true)
  })

  it('needs a key prefix of its own, free of ":"', async () => {
    async function getFaculties() {
      return ['BMS', 'ET']
    }
    const wrapped = cached(getFaculties, { cache: queries, keyPrefix: 'faculties' })
    expect(wrapped.keyPrefix).toBe('faculties')
    expect(wrapped.key()).toBe('faculties:()')
    // @ts-expect-error: keyPrefix is required
    expect(() => cached(getFaculties, { cache: queries })).toThrow(/option "keyPrefix" is required/)
    expect(() => cached(async () => 1, { cache: queries, keyPrefix: 'a:b' })).toThrow(/must not contain ":"/)
  })

  it('uses a key function to leave clients out of the key, and invalidates one call', async () => {
    const client = { socket: Symbol('socket'), request: () => {} }
    let runs = 0
    const checkFile = cached(
      async (item: { materialId: number }, _http: typeof client) => {
        runs++
        return item.materialId % 2 === 0
      },
      { cache: queries, keyPrefix: 'file_exists', key: (item) => String(item.materialId) },
    )
    expect(await checkFile({ materialId: 42 }, client)).toBe(true)
    expect(await checkFile({ materialId: 42 }, { ...client })).toBe(true)
    expect(runs).toBe(1)
    expect(checkFile.key({ materialId: 42 }, client)).toBe('file_exists:42')
    expect(await checkFile.invalidate({ materialId: 42 }, client)).toBe(true)
    await checkFile({ materialId: 42 }, client)
    expect(runs).toBe(2)
  })

  it('refuses arguments that have no stable key instead of keying on a memory address', async () => {
    class HttpClient {
      agent = {}
    }
    const fetchCourse = cached(async (_code: string, _client: HttpClient) => ({}), {
      cache: queries,
      keyPrefix: 'osiris_course',
    })
    await expect(fetchCourse('201300069', new HttpClient())).rejects.toMatchObject({ code: 'E_UNKEYABLE' })
    expect(adapter.data.size).toBe(0)
  })

  it('computes tags from arguments and result, and invalidateAll clears only its prefix', async () => {
    const course = cached(
      async (code: string) => ({ code, faculty: code.startsWith('2') ? 'EEMCS' : 'BMS' }),
      {
        cache: queries,
        keyPrefix: 'osiris_course',
        tags: (args, result) => [`faculty:${result.faculty}`, `code:${args[0]}`],
      },
    )
    const other = cached(async () => 'x', { cache: queries, keyPrefix: 'other' })
    await course('2001')
    await course('1001')
    await other()
    await queries.invalidateTags(['faculty:EEMCS'])
    expect(await queries.get(course.key('2001'))).toBeUndefined()
    expect(await queries.get(course.key('1001'))).toEqual({ code: '1001', faculty: 'BMS' })
    // Physically removed: both osiris_course entries (one already invalid by its tag), nothing else.
    expect(await course.invalidateAll()).toBe(2)
    expect(await queries.get(other.key())).toBe('x')
  })

  it('resolves a cache by registry name at call time', async () => {
    const registry = createCaches(
      { queries: { adapter: 'map', keyPrefix: 'ea_queries' } },
      { adapters: { map: () => new MapAdapter() } },
    )
    const fn = cached(async (n: number) => n * 2, { cache: 'queries', keyPrefix: 'double' })
    expect(await fn(2)).toBe(4)
    expect(registry.get('queries').stats().byPrefix.double).toMatchObject({ misses: 1, sets: 1 })
    await registry.closeAll()
    const missing = cached(async () => 1, { cache: 'nope', keyPrefix: 'x', registry })
    await expect(missing()).rejects.toMatchObject({ code: 'E_UNKNOWN_CACHE' })
  })
})

describe('@Cached (standard decorators)', () => {
  it('runs in standard mode: decorators receive (value, context)', () => {
    const seen: string[] = []
    const probe = (_value: unknown, context: ClassMethodDecoratorContext) => {
      seen.push(context.kind)
    }
    class Probe {
      @probe
      method() {}
    }
    expect(new Probe()).toBeInstanceOf(Probe)
    expect(seen).toEqual(['method'])
  })

  it('caches methods under their keyPrefix and never keys on this', async () => {
    const calls: string[] = []
    class ItemQueryService {
      constructor(readonly db: { name: string }) {}

      @Cached({ cache: queries, keyPrefix: 'filter_counts', ttl: '5m' })
      async getFilterCounts(filter: ItemFilter): Promise<Record<string, number>> {
        calls.push(`${this.db.name}:${filter.faculty}`)
        return { ToDo: 1, InProgress: 2, Done: 3 }
      }

      @Cached({ cache: queries, keyPrefix: 'faculties' })
      async getFaculties(): Promise<string[]> {
        calls.push('faculties')
        return ['BMS']
      }
    }
    const a = new ItemQueryService({ name: 'worker-1' })
    const b = new ItemQueryService({ name: 'worker-2' })
    expect(await a.getFilterCounts({ faculty: 'ET' })).toEqual({ ToDo: 1, InProgress: 2, Done: 3 })
    expect(await b.getFilterCounts({ faculty: 'ET' })).toEqual({ ToDo: 1, InProgress: 2, Done: 3 })
    await a.getFaculties()
    await b.getFaculties()
    expect(calls).toEqual(['worker-1:ET', 'faculties'])
    expect([...adapter.data.keys()].sort()).toEqual([
      'ea_queries:1:faculties:()',
      'ea_queries:1:filter_counts:{"faculty":"ET"}',
    ])
    expect(await invalidate(a.getFilterCounts, { faculty: 'ET' })).toBe(true)
    await b.getFilterCounts({ faculty: 'ET' })
    expect(calls).toEqual(['worker-1:ET', 'faculties', 'worker-2:ET'])
  })

  it('shares keys between subclasses and works on static methods', async () => {
    class Base {
      @Cached({ cache: queries, keyPrefix: 'load' })
      async load(id: number): Promise<number> {
        return id
      }

      @Cached({ cache: queries, keyPrefix: 'version' })
      static async version(): Promise<string> {
        return '1'
      }
    }
    class Derived extends Base {}
    await new Derived().load(7)
    await new Base().load(7)
    await Base.version()
    expect([...adapter.data.keys()].sort()).toEqual(['ea_queries:1:load:7', 'ea_queries:1:version:()'])
  })

  it('types its callbacks and invalidate() by the method', async () => {
    interface Course {
      code: string
      faculty: string
    }
    class Osiris {
      @Cached<[code: string], Course>({
        cache: queries,
        keyPrefix: 'osiris_course',
        key: (code) => code.trim(),
        tags: (_args, course) => [`faculty:${course.faculty}`],
        condition: (course) => course.faculty !== '',
      })
      async course(code: string): Promise<Course> {
        return { code, faculty: 'EEMCS' }
      }

      // @ts-expect-error: the key callback takes a number, the method a string
      @Cached({ cache: queries, keyPrefix: 'osiris_person', key: (id: number) => id })
      async person(name: string): Promise<string> {
        return name
      }
    }
    const osiris = new Osiris()
    await osiris.course(' 201300069 ')
    expect(adapter.data.has('ea_queries:1:osiris_course:201300069')).toBe(true)
    // @ts-expect-error: course() takes a string
    const mistyped = () => invalidate(osiris.course, 201300069)
    expect(mistyped).toBeTypeOf('function')
    expect(await invalidate(osiris.course, '201300069')).toBe(true)
    expect(adapter.data.has('ea_queries:1:osiris_course:201300069')).toBe(false)
    await expect(invalidate(async () => 1)).rejects.toMatchObject({ code: 'E_INVALID_CONFIG', field: 'fn' })
  })

  it('is a type error on a method that does not return a Promise', () => {
    class Sync {
      // @ts-expect-error: a remote store cannot answer synchronously, so only async methods are accepted
      @Cached({ cache: queries, keyPrefix: 'count' })
      count(): number {
        return 1
      }
    }
    expect(new Sync().count).toBeTypeOf('function')
  })
})

describe('key option errors', () => {
  it('names the key option when what it returns has no stable key', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'k' })
    const fn = cached(async (_n: number) => 1, { cache, keyPrefix: 'bad_key', key: () => ({ run() {} }) })
    await expect(fn(1)).rejects.toMatchObject({ code: 'E_UNKEYABLE', field: 'key' })
    await expect(fn(1)).rejects.toThrow(
      /the "key" option of "bad_key" returned a value with no stable key: its result/,
    )
  })
})

describe('stale rules on cached functions', () => {
  it('serves the last result within grace while the function fails', async () => {
    const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'g' })
    let fail = false
    const fetchCourse = cached(
      async (code: string) => {
        if (fail) throw new Error('Osiris 503')
        return { code, name: 'Calculus' }
      },
      { cache, keyPrefix: 'osiris_course', ttl: 20, grace: '1h' },
    )
    await fetchCourse('201300069')
    await new Promise((resolve) => setTimeout(resolve, 30))
    fail = true
    expect(await fetchCourse('201300069')).toEqual({ code: '201300069', name: 'Calculus' })
    await expect(fetchCourse('other')).rejects.toThrow('Osiris 503')
    expect(cache.stats().staleHits).toBe(1)
  })
})
