import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { type RedisProcess, rawCommand, startRedis, startSentinel } from './helpers/redis-server.js'
import { bytes, until, untilStatus } from './helpers/shared.js'

// A primary, its replica and a Sentinel of this file's own, on free loopback ports.
let primary: RedisProcess
let replica: RedisProcess
let sentinel: RedisProcess
let adapter: RedisAdapter

beforeAll(async () => {
  // No wait for more replicas before the first sync.
  primary = await startRedis(['--repl-diskless-sync-delay', '0'])
  replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)])
  sentinel = await startSentinel(primary.port, 'cacheport')
  await until(
    async () => (await rawCommand(replica.port, 'ROLE')).includes('connected'),
    'the replica to sync',
    5000,
  )
  adapter = redisAdapter({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'cacheport' })
  await untilStatus(adapter, 'ready')
})

afterAll(async () => {
  await adapter?.close()
  await Promise.all([sentinel?.stop(), replica?.stop(), primary?.stop()])
})

describe('Sentinel', () => {
  it('finds the primary through the Sentinel and writes there', async () => {
    expect(adapter.endpoint).toBe(`sentinel "cacheport" via 127.0.0.1:${sentinel.port}`)
    await adapter.set('sentinel:k', bytes('v'), 30_000)
    expect(await rawCommand(primary.port, 'GET sentinel:k')).toBe('$1\r\nv\r\n')
  })

  it('follows a failover to the promoted replica', async () => {
    // The Sentinel accepts a failover once it has seen the replica healthy.
    await until(
      async () => (await rawCommand(sentinel.port, 'SENTINEL FAILOVER cacheport')) === '+OK\r\n',
      'the Sentinel to start a failover',
      10_000,
    )
    const promoted = new Redis(replica.url)
    try {
      await until(async () => (await promoted.role())[0] === 'master', 'the replica to be promoted', 10_000)
      // Writes fail (fail open) while the adapter moves over, then land on the new primary.
      await until(
        async () => {
          await adapter.set('sentinel:after', bytes('v'), 30_000).catch(() => undefined)
          return (await promoted.exists('sentinel:after')) === 1
        },
        'a write on the new primary',
        10_000,
      )
    } finally {
      promoted.disconnect()
    }
  })
})
