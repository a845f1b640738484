import { cached, createCache, encodeEntry } from '@cacheport/cache-core'
const value = { ToDo: 12, Done: 30 }
const bytes = Buffer.from(encodeEntry({ value, createdAt: Date.now(), expiresAt: Date.now() + 1e7, staleUntil: Date.now() + 1e7 } as any, 'k'))
const json = Buffer.from(JSON.stringify(value))
const fake: any = {
  name: 'fake', capabilities: { shared: true, operationTimeoutMs: 1000 },
  get: (_k: string) => Promise.resolve(Buffer.from(bytes)), getMany: async () => [], set: async () => {}, setMany: async () => {}, delete: async () => true, deleteMany: async () => 0, deleteByPattern: async () => 0, clear: async () => {}, close: async () => {},
}
const cache = createCache({ adapter: fake, keyPrefix: 'cp', ttl: '1h' })
const fn = async (_id: number, _f: unknown) => value
const dec = cached(fn, { cache, keyPrefix: 'fc', ttl: '1h' })
const filter = { faculty: 'EEMCS', status: ['ToDo', 'Done'], page: 3 }
const memo = async (id: number, f: unknown) => {
  const key = `memo:fc:${id}:${JSON.stringify(f)}`
  const hit = await fake.get(key)
  if (hit !== null) return JSON.parse(json.toString())
  return fn(id, f)
}
let _s: unknown
const cases: Record<string, () => Promise<unknown>> = {
  memo: () => memo(42, filter),
  cached: () => dec(42, filter),
  get: () => cache.get('k'),
}
const only = process.argv[2]
const best: Record<string, number> = {}
for (let r = 0; r < (only ? 30 : 15); r++) {
  for (const [name, f] of Object.entries(cases)) {
    if (only && name !== only) continue
    const t0 = performance.now()
    for (let i = 0; i < 100000; i++) _s = await f()
    best[name] = Math.min(best[name] ?? 1e9, ((performance.now() - t0) * 1e3) / 1e5)
  }
}
console.log(best)
