import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { type RedisProcess, rawCommand, startRedis } from './helpers/redis-server.js'
import { bytes, untilStatus } from './helpers/shared.js'

// Which commands reach the server, read from its own INFO commandstats: a server of this file's own,
// so nobody else's traffic is counted.
let server: RedisProcess
let adapter: RedisAdapter

beforeAll(async () => {
  server = await startRedis()
  adapter = redisAdapter(server.url)
  await untilStatus(adapter, 'ready')
})

beforeEach(async () => {
  await rawCommand(server.port, 'CONFIG RESETSTAT')
})

afterAll(async () => {
  await adapter?.close()
  await server?.stop()
})

/** Calls per command since the last reset, e.g. `{ mget: 1 }`. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await rawCommand(server.port, 'INFO commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2])
  // The INFO and CONFIG of this helper are not the adapter's.
  delete calls.info
  delete calls['config|resetstat']
  return calls
}

describe('commands sent', () => {
  it('sends the concurrent gets of one tick as a single MGET', async () => {
    await adapter.set('a', bytes('A'), 10_000)
    await rawCommand(server.port, 'CONFIG RESETSTAT')
    const values = await Promise.all(['a', 'b', 'a', 'c'].map((key) => adapter.get(key)))
    expect(values.map((v) => v && new TextDecoder().decode(v))).toEqual(['A', undefined, 'A', undefined])
    expect(await commandCalls()).toEqual({ mget: 1 })
  })

  it('sends a lone get as GET, and every get as GET when coalescing is off', async () => {
    await adapter.get('a')
    expect(await commandCalls()).toEqual({ get: 1 })
    const plain = redisAdapter({ url: server.url, coalesceGets: false })
    try {
      await untilStatus(plain, 'ready')
      await rawCommand(server.port, 'CONFIG RESETSTAT')
      await Promise.all(['a', 'b', 'c'].map((key) => plain.get(key)))
      expect(await commandCalls()).toEqual({ get: 3 })
    } finally {
      await plain.close()
    }
  })

  it('writes with SET PX, deletes with UNLINK and pattern-deletes with SCAN, never KEYS or DEL', async () => {
    await adapter.setMany([
      { key: 'p:1', value: bytes('1'), ttlMs: 10_000 },
      { key: 'p:2', value: bytes('2'), ttlMs: 10_000 },
    ])
    await adapter.delete('p:1')
    expect(await adapter.deleteByPattern('p:*')).toBe(1)
    await adapter.clear('p:')
    const calls = await commandCalls()
    expect(calls).toMatchObject({ set: 2, unlink: 2 })
    expect(calls.scan).toBeGreaterThanOrEqual(2)
    expect(calls.keys).toBeUndefined()
    expect(calls.del).toBeUndefined()
  })

  it('runs compare-and-delete from the script cache, loading the script once after a flush', async () => {
    await rawCommand(server.port, 'SCRIPT FLUSH')
    await adapter.setIfAbsent('lease', bytes('me'), 5000)
    expect(await adapter.deleteIfEquals('lease', bytes('me'))).toBe(true)
    await adapter.setIfAbsent('lease', bytes('me'), 5000)
    expect(await adapter.deleteIfEquals('lease', bytes('me'))).toBe(true)
    expect(await commandCalls()).toMatchObject({ set: 2, evalsha: 2, eval: 1 })
  })
})
