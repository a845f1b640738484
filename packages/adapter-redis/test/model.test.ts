/**
 * The core's coherence model on real Redis: two cache instances, each with its own memory L1, share
 * a redis-server this file starts (persisted, so a restart brings the data back, like a persisted
 * Redis or a promoted replica) and talk over its pub/sub. Bus drops kill an instance's subscriber
 * connection (`CLIENT KILL ID`); outages kill the server and start it again. Fewer runs than on the
 * memory store: each step waits for the network.
 */
import { randomUUID } from 'node:crypto'
import { memoryAdapter } from '@cacheport/adapter-memory'
import { type Cache, createCache } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { checkProperty, type Mix, replay, type World } from '../../cache-core/test/model/commands.js'
import type { Instance } from '../../cache-core/test/model/model.js'
import { ISSUE_SCENARIOS } from '../../cache-core/test/model/scenarios.js'
import { redisAdapter } from '../src/index.js'
import { type RedisProcess, startRedis } from './helpers/redis-server.js'

// How long a published invalidation may take to reach the other instance's subscriber.
const DELIVERY_MS = 30
// A call not settled by then waits for a loader the run has not released yet.
const CALL_MS = 250
// Reconnection delay of both instances: a dropped bus stays down long enough to miss messages.
const RETRY_MS = 100

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

let server: RedisProcess
let admin: Redis

// The test's own connection, for CLIENT KILL and the foreign keys; its outages are expected.
function adminClient(): Redis {
  const client = new Redis(server.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 })
  client.on('error', () => undefined)
  return client
}

beforeAll(async () => {
  server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
  admin = adminClient()
  await admin.connect()
})

afterAll(async () => {
  admin?.disconnect()
  await server?.stop()
})

/** A command to the server that survives the server having been restarted since the last one. */
async function adminCall<T>(call: (client: Redis) => Promise<T>): Promise<T> {
  if (admin.status !== 'ready') {
    admin.disconnect()
    admin = adminClient()
    await admin.connect()
  }
  return call(admin)
}

async function redisWorld(): Promise<World> {
  const run = randomUUID().slice(0, 8)
  // A glob character in the prefix: a pattern delete or clear that forgot to escape it would reach
  // the foreign keys below.
  const keyPrefix = `pbt*${run}`
  const foreign = [
    `${keyPrefix}:2:user:1`,
    `${keyPrefix}:10:user:1`,
    `pbtX${run}:1:user:1`,
    `other${run}:1:item:1`,
    `${keyPrefix}:1`,
  ]
  const names = [`model-${run}-a`, `model-${run}-b`]
  const caches = names.map((connectionName) =>
    createCache({
      adapter: redisAdapter({
        url: server.url,
        connectionName,
        commandTimeout: '500ms',
        retryStrategy: () => RETRY_MS,
      }),
      l1: memoryAdapter({ maxEntries: 64 }),
      keyPrefix,
      ttl: '1h',
      timeout: '500ms',
      // Every call reaches the store, so an outage and a recovery take effect at the next call.
      breaker: false,
    }),
  ) as unknown as [Cache, Cache]
  await Promise.all(caches.map((cache) => cache.ready()))
  const busOf = (at: Instance) => caches[at].stats().bus
  return {
    caches,
    sync: () => sleep(DELIVERY_MS),
    async dropBus(at: Instance) {
      const clients = await adminCall((client) => client.client('LIST') as Promise<string>)
      const line = clients.split('\n').find((l) => l.includes(`name=${names[at]} `) && /\bsub=[1-9]/.test(l))
      if (line === undefined) return
      await adminCall((client) => client.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!))
      await until(() => busOf(at) !== 'connected', `instance ${at} to notice its bus is gone`, 1_000).catch(
        () => undefined,
      )
    },
    async restoreBus(at: Instance) {
      await until(() => busOf(at) === 'connected', `instance ${at} to resubscribe`)
    },
    async outage() {
      await server.kill()
      await until(() => busOf(0) !== 'connected' && busOf(1) !== 'connected', 'both buses to go down')
    },
    async recover() {
      await server.restart()
      await until(() => busOf(0) === 'connected' && busOf(1) === 'connected', 'both buses to come back')
      // Each instance's command connection reconnects on its own schedule, after its subscriber or
      // before it; what an instance kept reaches the other once its replay has gone through (retried
      // within milliseconds of the bus coming back). Recovered means that has happened.
      await until(
        () => caches.every((cache) => cache.stats().invalidationBacklog === 0),
        'the kept invalidations to be replayed',
      )
    },
    settled: (op) => Promise.race([op.then(() => undefined), sleep(CALL_MS)]),
    async plantForeign() {
      await adminCall((client) => client.mset(...foreign.flatMap((key) => [key, key])))
    },
    async checkForeign() {
      const found = await adminCall((client) => client.mget(...foreign))
      foreign.forEach((key, i) => {
        if (found[i] !== key) {
          throw new Error(
            `keyspace: the foreign key "${key}" was ${found[i] === null ? 'deleted' : 'changed'}`,
          )
        }
      })
    },
    async close() {
      await Promise.all(caches.map((cache) => cache.close()))
    },
  }
}

const MIX: Mix = {
  reads: 4,
  writes: 2,
  invalidations: 3,
  slow: 2,
  failing: 1,
  busDrops: 1,
  outages: 1,
  overlap: 1,
  overlapLoads: true,
}
const RUNS = 12
const MAX_LENGTH = 20
const TIMEOUT_MS = 120_000

describe('coherence model on Redis', () => {
  it.each(ISSUE_SCENARIOS)('issue 8: %s', async (_, script) => {
    await replay(redisWorld, script)
  })

  it(
    'no read returns a value invalidated before it started, with racing loads, bus drops and outages',
    async () => {
      await checkProperty(redisWorld, {
        checks: { stale: true, singleFlight: false },
        mix: MIX,
        numRuns: RUNS,
        maxLength: MAX_LENGTH,
      })
    },
    TIMEOUT_MS,
  )

  it(
    'concurrent callers of one key in one process run its loader once; nothing outside the keyspace changes',
    async () => {
      await checkProperty(redisWorld, {
        checks: { stale: false, singleFlight: true },
        mix: { ...MIX, slow: 4, overlap: 4, invalidations: 5 },
        numRuns: RUNS,
        maxLength: MAX_LENGTH,
      })
    },
    TIMEOUT_MS,
  )
})
