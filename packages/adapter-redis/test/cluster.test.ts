import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keySlot, type RedisAdapter, redisAdapter } from '../src/index.js'
import { type RedisCluster, startCluster } from './helpers/redis-server.js'
import { bytes, randomPrefix, until, untilStatus } from './helpers/shared.js'

// A real three-primary cluster on free loopback ports, started and killed by this file.
let cluster: RedisCluster
let adapter: RedisAdapter
let raw: Cluster
const slotOwners = new Map<number, number>()

beforeAll(async () => {
  cluster = await startCluster()
  const nodes = cluster.ports.map((port) => `127.0.0.1:${port}`)
  adapter = redisAdapter({ cluster: nodes })
  raw = new Cluster(nodes.slice(0, 1))
  await untilStatus(adapter, 'ready', 10_000)
  await until(() => raw.status === 'ready', 'the verifying cluster client', 10_000)
  for (const [start, end, primary] of await raw.cluster('SLOTS')) {
    for (let slot = start; slot <= end; slot++) slotOwners.set(slot, primary![1])
  }
})

afterAll(async () => {
  await adapter?.close()
  raw?.disconnect()
  await cluster?.stop()
})

/** How many of `keys` each primary holds, by port, from the cluster's own slot table. */
function spread(keys: readonly string[]): number[] {
  return cluster.ports.map((port) => keys.filter((key) => slotOwners.get(keySlot(key)) === port).length)
}

describe('Redis Cluster', () => {
  it('hashes keys to the same slots as the cluster does', async () => {
    const keys = [
      '123456789',
      'ea_platform:1:faculties',
      'a{user1000}.following',
      '{user1000}.followers',
      'foo{}{bar}',
      'é:ü',
    ]
    for (const key of keys) {
      expect(keySlot(key), key).toBe(
        Number((await cluster.cli(cluster.ports[0]!, 'cluster', 'keyslot', key)).trim()),
      )
    }
    expect(keySlot('123456789')).toBe(12739)
  })

  it('reads and writes keys spread over every primary: get, set, getMany, coalesced gets', async () => {
    const prefix = randomPrefix()
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}item:${i}`)
    for (const key of keys) await adapter.set(key, bytes(key), 30_000)
    expect(spread(keys).every((held) => held > 0)).toBe(true)

    const asked = [...keys, `${prefix}absent`]
    const many = await adapter.getMany(asked)
    expect(many.map((v) => v && new TextDecoder().decode(v))).toEqual([...keys, undefined])
    const one = await Promise.all(asked.map((key) => adapter.get(key)))
    expect(one.map((v) => v && new TextDecoder().decode(v))).toEqual([...keys, undefined])
    expect(await raw.pttl(keys[0]!)).toBeGreaterThan(29_000)
    await adapter.deleteMany(keys)
  })

  it('setMany and deleteMany span slots', async () => {
    const prefix = randomPrefix()
    const keys = Array.from({ length: 40 }, (_, i) => `${prefix}k${i}`)
    await adapter.setMany(keys.map((key) => ({ key, value: bytes(key), ttlMs: 30_000 })))
    expect(await Promise.all(keys.map((key) => raw.get(key)))).toEqual(keys)
    expect(await adapter.deleteMany([...keys, `${prefix}absent`])).toBe(keys.length)
    expect((await Promise.all(keys.map((key) => raw.exists(key)))).every((n) => n === 0)).toBe(true)
  })

  it('deletes by pattern on every primary and leaves every other key alone', async () => {
    const prefix = randomPrefix()
    const doomed = Array.from({ length: 90 }, (_, i) => `${prefix}filter_counts:${i}`)
    const kept = [
      ...Array.from({ length: 30 }, (_, i) => `${prefix}faculties:${i}`),
      `${prefix}filter_countsX`,
      `other${prefix}filter_counts:1`,
    ]
    for (const key of [...doomed, ...kept]) await raw.set(key, 'v', 'PX', 30_000)
    expect(spread(doomed).every((held) => held > 0)).toBe(true)

    expect(await adapter.deleteByPattern(`${prefix}filter_counts:*`)).toBe(doomed.length)
    expect((await Promise.all(doomed.map((key) => raw.exists(key)))).every((n) => n === 0)).toBe(true)
    expect((await Promise.all(kept.map((key) => raw.exists(key)))).every((n) => n === 1)).toBe(true)

    await adapter.clear(prefix)
    const ours = kept.filter((key) => key.startsWith(prefix))
    expect((await Promise.all(ours.map((key) => raw.exists(key)))).every((n) => n === 0)).toBe(true)
    expect(await raw.exists(`other${prefix}filter_counts:1`)).toBe(1)
    await raw.unlink(`other${prefix}filter_counts:1`)
  })

  it('takes and releases leases and carries pub/sub messages', async () => {
    const prefix = randomPrefix()
    const lease = `${prefix}#lease:k`
    expect(await adapter.setIfAbsent(lease, bytes('me'), 5000)).toBe(true)
    expect(await adapter.setIfAbsent(lease, bytes('you'), 5000)).toBe(false)
    expect(await adapter.deleteIfEquals(lease, bytes('you'))).toBe(false)
    expect(await adapter.deleteIfEquals(lease, bytes('me'))).toBe(true)

    const received: string[] = []
    const statuses: string[] = []
    const stop = await adapter.subscribe(
      `${prefix}bus`,
      (m) => received.push(m),
      (s) => statuses.push(s),
    )
    expect(statuses).toEqual(['ready'])
    await adapter.publish(`${prefix}bus`, 'invalidate:k')
    await until(() => received.length === 1, 'the published message')
    expect(received).toEqual(['invalidate:k'])
    await stop()
  })
})
