import { type Cache, createCache } from '@cacheport/cache-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keySlot, type RedisAdapter, redisAdapter } from '../src/index.js'
import { watchdogWorks } from '../src/reply-watchdog.js'
import {
  type FailoverReport,
  failOver,
  keysOn,
  replicaOf,
  runFailover,
  startFailoverCluster,
} from './helpers/failover.js'
import { IOREDIS_MAJOR } from './helpers/ioredis-major.js'
import type { RedisCluster } from './helpers/redis-server.js'
import { bytes, randomPrefix, until } from './helpers/shared.js'

// The default command timeout: a healthy node answers well within it even on a busy machine.
const TIMEOUT_MS = 1000
let cluster: RedisCluster

beforeAll(async () => {
  cluster = await startFailoverCluster()
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

/** The slot owners as the node on `port` sees them. */
async function owners(port: number): Promise<Int32Array> {
  const table = new Int32Array(16384).fill(-1)
  for (const line of (await cluster.cli(port, 'cluster', 'nodes')).trim().split('\n')) {
    const fields = line.split(' ')
    if (!fields[2]!.includes('master')) continue
    for (const range of fields.slice(8)) {
      const [from, to] = range.split('-').map(Number)
      for (let slot = from!; slot <= (to ?? from!); slot++) table[slot] = Number(fields[1]!.split(/[:@]/)[1])
    }
  }
  return table
}

/** Waits until every live node reports `cluster_state:ok` and agrees that `primary` owns `slot`. */
async function untilSettled(primary: number, slot: number): Promise<void> {
  await until(
    async () => {
      for (const port of cluster.allPorts) {
        let info: string
        try {
          info = await cluster.cli(port, 'cluster', 'info')
        } catch {
          continue // a killed node
        }
        if (!info.includes('cluster_state:ok')) return false
        if ((await owners(port))[slot] !== primary) return false
      }
      return true
    },
    'the cluster to settle after the failover',
    15_000,
  )
}

/** An adapter on the test cluster, with the tests' command timeout. */
function clusterAdapter(): RedisAdapter {
  return redisAdapter({ cluster: cluster.allPorts.map((p) => `127.0.0.1:${p}`), commandTimeout: TIMEOUT_MS })
}

/** A cache over a new cluster adapter for keys made by `keysOn` under `prefix`, and its error messages. */
function clusterCache(prefix: string): { adapter: RedisAdapter; cache: Cache; errors: string[] } {
  const adapter = clusterAdapter()
  const cache = createCache({ adapter, keyPrefix: prefix.slice(0, -3), version: 1, timeout: TIMEOUT_MS })
  const errors: string[] = []
  cache.on('error', ({ error }) => errors.push(error.message))
  return { adapter, cache, errors }
}

function summary(report: FailoverReport): string {
  return JSON.stringify(
    {
      calls: report.calls,
      over: report.overBound.slice(0, 5),
      worstMs: report.worstMs,
      thrown: report.thrown.slice(0, 3),
      wrong: report.wrong,
      errors: report.errorEvents,
      promotedAtMs: report.promotedAtMs,
      healthyMin: report.healthyMinHitRate,
      recoveryMs: report.recoveryMs,
      failed: report.windows[report.failedShard]!.map((w) => `${w.fromMs}:${w.hits}/${w.calls}`).join(' '),
      healthy: report.healthyShards.map((shard) =>
        report.windows[shard]!.map((w) => `${w.fromMs}:${w.hits}/${w.calls}`).join(' '),
      ),
    },
    null,
    1,
  )
}

describe('Redis Cluster failover', () => {
  // This file runs once per ioredis major (vitest.failover.config.ts); ioredis 5's Command lacks what
  // the reply watchdog needs, which tells the two apart.
  it(`runs on ioredis ${IOREDIS_MAJOR}`, () => {
    expect(watchdogWorks()).toBe(IOREDIS_MAJOR >= 6)
  })

  it('follows MOVED per command in coalesced reads and pipelined writes after a planned failover', async () => {
    const primary = cluster.ports[0]!
    const replica = await replicaOf(cluster, primary)
    const prefix = randomPrefix()
    const keys = keysOn(await owners(primary), primary, prefix, 10)
    const { cache, errors } = clusterCache(prefix)
    const other = clusterAdapter()
    try {
      const names = keys.map((key) => key.slice(prefix.length))
      for (const name of names) await cache.set(name, `v:${name}`)

      await failOver(cluster, replica)
      await untilSettled(replica, keySlot(keys[0]!))

      // One MGET per slot, all auto-pipelined to the old primary: each gets its own MOVED.
      expect(await cache.getMany(names)).toEqual(names.map((name) => `v:${name}`))
      let loads = 0
      const loaded = await Promise.all(
        names.map((name) =>
          cache.getOrSet(name, () => {
            loads++
            return `loaded:${name}`
          }),
        ),
      )
      expect(loaded).toEqual(names.map((name) => `v:${name}`))
      expect(loads).toBe(0)
      // Concurrent writes of one tick go out as one pipeline per node, answered with mixed MOVEDs too;
      // so do the deletes and leases of a second adapter that has not seen this failover either.
      const leases = keysOn(await owners(replica), replica, randomPrefix(), 5)
      await other.getMany([keys[0]!])
      await failOver(cluster, primary)
      await untilSettled(primary, keySlot(keys[0]!))
      await Promise.all(names.map((name) => cache.set(name, `w:${name}`)))
      expect(await Promise.all(names.map((name) => cache.get(name)))).toEqual(
        names.map((name) => `w:${name}`),
      )
      expect(errors).toEqual([])
      const [deleted, taken] = await Promise.all([
        Promise.all(keys.slice(0, 5).map((key) => other.delete(key))),
        Promise.all(leases.map((lease) => other.setIfAbsent(lease, bytes('me'), 10_000))),
      ])
      expect(deleted).toEqual([true, true, true, true, true])
      expect(taken).toEqual([true, true, true, true, true])
      expect(await Promise.all(leases.map((lease) => other.deleteIfEquals(lease, bytes('me'))))).toEqual(
        taken,
      )
      expect(await other.deleteMany(keys)).toBe(5)
    } finally {
      await cache.close()
      await other.close()
    }
  }, 40_000)

  it('follows ASK per command while a slot migrates', async () => {
    // Each node's own word on its role: after the failovers above, another node's view can lag.
    const primaries: number[] = []
    for (const port of cluster.allPorts)
      if ((await cluster.cli(port, 'role')).startsWith('master')) primaries.push(port)
    const [from, to] = primaries
    const prefix = randomPrefix()
    const keys = keysOn(await owners(from!), from!, prefix, 5)
    const names = keys.map((key) => key.slice(prefix.length))
    const slot = keySlot(keys[0]!)
    const { cache, errors } = clusterCache(prefix)
    const idOf = async (port: number) => (await cluster.cli(port, 'cluster', 'myid')).trim()
    try {
      for (const name of names) await cache.set(name, `v:${name}`)
      // The first key moves to the other primary while its slot is still served by the first.
      await cluster.cli(to!, 'cluster', 'setslot', String(slot), 'importing', await idOf(from!))
      await cluster.cli(from!, 'cluster', 'setslot', String(slot), 'migrating', await idOf(to!))
      expect(await cluster.cli(from!, 'migrate', '127.0.0.1', String(to), keys[0]!, '0', '5000')).toContain(
        'OK',
      )
      expect(await cluster.cli(from!, 'get', keys[0]!)).toContain('ASK')

      // One pipeline to the first primary: four replies and one ASK.
      expect(await cache.getMany(names)).toEqual(names.map((name) => `v:${name}`))
      expect(await Promise.all(names.map((name) => cache.get(name)))).toEqual(
        names.map((name) => `v:${name}`),
      )
      await Promise.all(names.map((name) => cache.set(name, `w:${name}`)))
      expect(await cache.getMany(names)).toEqual(names.map((name) => `w:${name}`))
      expect(errors).toEqual([])
    } finally {
      await cache.close()
      for (const port of [to!, from!])
        await cluster.cli(port, 'cluster', 'setslot', String(slot), 'node', await idOf(to!))
    }
  }, 20_000)

  it('sends again, on their own, the commands of an auto-pipeline that a slot map refresh split before it went out', async () => {
    const primary = cluster.ports[0]!
    const prefix = randomPrefix()
    const keys = keysOn(await owners(primary), primary, prefix, 6)
    const names = keys.map((key) => key.slice(prefix.length))
    const { adapter, cache, errors } = clusterCache(prefix)
    // ioredis queues a tick's commands per node by the slot map of that moment and, when the pipeline
    // goes out, checks the slots against the map's node groups again; a refresh that lands in between
    // and moves one slot into another group makes it refuse the whole pipeline. The refresh is
    // emulated by giving the first key's slot a group of its own while the commands wait to be sent.
    const groups = (adapter.client as unknown as { _groupsBySlot: Array<number | undefined> })._groupsBySlot
    const slot = keySlot(keys[0]!)
    const split = async <T>(run: () => Promise<T>): Promise<T> => {
      const before = groups[slot]
      groups[slot] = -1
      try {
        return await run()
      } finally {
        groups[slot] = before
      }
    }
    try {
      await cache.getMany(names)
      await split(() => Promise.all(names.map((name) => cache.set(name, `v:${name}`))))
      expect(errors).toEqual([])
      expect(await cache.getMany(names)).toEqual(names.map((name) => `v:${name}`))
      expect(await split(() => cache.getMany(names))).toEqual(names.map((name) => `v:${name}`))
      expect(await split(() => Promise.all(names.map((name) => cache.get(name))))).toEqual(
        names.map((name) => `v:${name}`),
      )
      await split(() => Promise.all(names.slice(0, 3).map((name) => cache.delete(name))))
      expect(await cache.getMany(names)).toEqual(names.map((name, i) => (i < 3 ? undefined : `v:${name}`)))
      expect(errors).toEqual([])
      expect(cache.stats().nodeCircuits).toEqual({})
    } finally {
      await cache.close()
    }
  }, 20_000)

  it('a planned failover under 200 callers: every call bounded, no errors, healthy shards keep hitting', async () => {
    const report = await runFailover({
      cluster,
      redisAdapter,
      event: 'failover',
      primary: cluster.ports[1]!,
      timeoutMs: TIMEOUT_MS,
    })
    const why = summary(report)
    expect(report.thrown, why).toEqual([])
    expect(report.wrong, why).toBe(0)
    expect(report.overBound, why).toEqual([])
    expect(report.healthyMinHitRate, why).toBeGreaterThan(0.95)
    expect(report.failedHitRateAfter1s, why).toBeGreaterThan(0.95)
    expect(report.recoveryMs, why).toBeLessThanOrEqual(1000)
  }, 40_000)

  it('a killed primary under 200 callers: every call bounded, only its shard fails open, back within 1 s', async () => {
    const direct: RedisAdapter = clusterAdapter()
    const probes: Array<{ op: string; ms: number }> = []
    const time = async (op: string, run: () => Promise<unknown>) => {
      const start = performance.now()
      await run().catch(() => undefined)
      probes.push({ op, ms: performance.now() - start })
    }
    try {
      await direct.getMany([randomPrefix()])
      const report = await runFailover({
        cluster,
        redisAdapter,
        event: 'kill',
        primary: cluster.ports[2]!,
        timeoutMs: TIMEOUT_MS,
        // Right after the kill, each kind of operation on the dead primary's keys, straight on an adapter.
        onEvent: async (keys) => {
          await time('get', () => direct.get(keys[0]!))
          await time('getMany', () => direct.getMany(keys.slice(0, 3)))
          await time('set', () => direct.set(keys[1]!, bytes('x'), 10_000))
          await time('delete', () => direct.delete(keys[2]!))
          await time('setIfAbsent', () => direct.setIfAbsent(`${keys[3]!}#lease`, bytes('x'), 10_000))
        },
      })
      const why = `${summary(report)}\nprobes: ${JSON.stringify(probes)}`
      expect(report.thrown, why).toEqual([])
      expect(report.wrong, why).toBe(0)
      expect(probes.length, why).toBe(5)
      for (const probe of probes) expect(probe.ms, why).toBeLessThan(TIMEOUT_MS + report.slackMs)
      expect(report.overBound, why).toEqual([])
      expect(report.healthyMinHitRate, why).toBeGreaterThan(0.95)
      expect(report.failedHitRateAfter1s, why).toBeGreaterThan(0.95)
      expect(report.recoveryMs, why).toBeLessThanOrEqual(1000)
    } finally {
      await direct.close()
    }
  }, 40_000)
})
