import { type Cache, createCache, ErrorCodes } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { freePort, type RedisProcess, rawCommand, startRedis } from './helpers/redis-server.js'
import { bytes, until, untilStatus } from './helpers/shared.js'

// A redis-server of this file's own, killed, frozen and misconfigured on purpose; the shared server
// is never touched. Timeouts are short so every bound below is checked in real time.
const CACHE_TIMEOUT_MS = 250
const COMMAND_TIMEOUT_MS = 300
// Scheduling slack on a busy 2-core machine; the bounds themselves are what is asserted.
const SLACK_MS = 250

let server: RedisProcess
let adapter: RedisAdapter
let admin: Redis

beforeAll(async () => {
  server = await startRedis()
  adapter = redisAdapter({ url: server.url, commandTimeout: COMMAND_TIMEOUT_MS, connectTimeout: '300ms' })
  admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
})

beforeEach(async () => {
  // Each test starts from a healthy server, whatever the previous one did to it.
  await untilStatus(adapter, 'ready', 5000)
})

afterAll(async () => {
  await adapter?.close()
  admin?.disconnect()
  await server?.stop()
})

/** A cache on the shared adapter with a fresh breaker that opens quickly and probes again soon. */
function newCache(keyPrefix: string): Cache {
  return createCache({
    adapter,
    keyPrefix,
    timeout: CACHE_TIMEOUT_MS,
    breaker: { threshold: 3, cooldown: '100ms' },
  })
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await run()
  return { value, ms: performance.now() - started }
}

async function serverHas(key: string): Promise<boolean> {
  return (await rawCommand(server.port, `EXISTS ${key}`)).startsWith(':1')
}

describe('a server that goes away', () => {
  it('serves every getOrSet from its loader while the server is dead, each bounded, then writes again', async () => {
    const cache = newCache('dead')
    expect(await cache.getOrSet('before', () => 'stored')).toBe('stored')
    expect(await serverHas('dead:1:before')).toBe(true)

    await server.kill()
    await untilStatus(adapter, 'unavailable', 2000)
    let loads = 0
    for (let i = 0; i < 12; i++) {
      const { value, ms } = await timed(() =>
        cache.getOrSet(`down${i}`, () => {
          loads += 1
          return `v${i}`
        }),
      )
      expect(value).toBe(`v${i}`)
      // a read and a write, each abandoned at the cache's timeout at worst
      expect(ms).toBeLessThan(2 * CACHE_TIMEOUT_MS + SLACK_MS)
    }
    expect(loads).toBe(12)
    // Without a connection the adapter does not wait at all: nothing is queued.
    const direct = await timed(() => adapter.get('dead:1:before').catch((error: unknown) => error))
    expect(direct.value).toMatchObject({ code: ErrorCodes.ADAPTER })
    expect(direct.ms).toBeLessThan(COMMAND_TIMEOUT_MS / 2)

    await server.restart()
    await untilStatus(adapter, 'ready', 5000)
    // Nobody reconnects by hand: the client's backoff and the breaker's probe bring writes back.
    await until(
      async () => {
        await cache.getOrSet('after', () => 'stored again')
        return serverHas('dead:1:after')
      },
      'the cache to write to the restarted server',
      5000,
    )
    expect(await cache.get('after')).toBe('stored again')
  })

  it('bounds every call by the command timeout when the server stops answering', async () => {
    const cache = newCache('frozen')
    await cache.set('k', 'v')
    server.signal('SIGSTOP')
    try {
      const direct = await timed(() => adapter.get('frozen:1:k').catch((error: unknown) => error))
      expect(direct.value).toMatchObject({ code: ErrorCodes.TIMEOUT })
      expect((direct.value as Error).message).toContain(`no reply within ${COMMAND_TIMEOUT_MS}ms`)
      expect(direct.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5)
      expect(direct.ms).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS)
      const write = await timed(() =>
        adapter.set('frozen:1:w', bytes('w'), 60_000).catch((error: unknown) => error),
      )
      expect(write.value).toMatchObject({ code: ErrorCodes.TIMEOUT })
      expect((write.value as Error).message).toContain(
        `SET "frozen:1:w" got no reply within ${COMMAND_TIMEOUT_MS}ms`,
      )
      expect(write.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5)
      expect(write.ms).toBeLessThan(COMMAND_TIMEOUT_MS + SLACK_MS)

      const loaded = await timed(() => cache.getOrSet('cold', () => 'from loader'))
      expect(loaded.value).toBe('from loader')
      expect(loaded.ms).toBeLessThan(2 * CACHE_TIMEOUT_MS + SLACK_MS)
      const read = await timed(() => cache.get('k'))
      expect(read.value).toBeUndefined()
      expect(read.ms).toBeLessThan(CACHE_TIMEOUT_MS + SLACK_MS)
    } finally {
      server.signal('SIGCONT')
    }
    // The replies arrive late and are matched to their (abandoned) commands; the connection goes on.
    await until(async () => (await cache.get('k')) === 'v', 'reads after the server thawed', 3000)
  })

  it('drops a connection that stays silent for socketTimeout while replies are due, and connects again', async () => {
    const socketTimeoutMs = 400
    const watched = redisAdapter({ url: server.url, commandTimeout: 200, socketTimeout: socketTimeoutMs })
    const idle = redisAdapter({ url: server.url, commandTimeout: 200, socketTimeout: 0 })
    try {
      await untilStatus(watched, 'ready')
      await untilStatus(idle, 'ready')
      // No reply is due: however long the server stays quiet, a connection with nothing pending stays.
      await new Promise((resolve) => setTimeout(resolve, socketTimeoutMs * 2))
      expect(watched.status()).toBe('ready')

      server.signal('SIGSTOP')
      const frozenAt = performance.now()
      const reads = [watched.get('silent:1:k'), idle.get('silent:1:k')].map((read) =>
        read.catch((error: unknown) => error),
      )
      await until(() => watched.status() !== 'ready', 'the silent connection to be dropped', 5000)
      const droppedAfter = performance.now() - frozenAt
      expect(droppedAfter).toBeGreaterThanOrEqual(socketTimeoutMs - 5)
      // The adapter without a socket timeout keeps its connection, however long the silence.
      expect(idle.status()).toBe('ready')
      expect(await reads[0]).toMatchObject({ code: ErrorCodes.TIMEOUT })
    } finally {
      server.signal('SIGCONT')
    }
    try {
      await untilStatus(watched, 'ready', 5000)
      await watched.set('silent:1:k', bytes('back'), 10_000)
      expect(new TextDecoder().decode(await watched.get('silent:1:k'))).toBe('back')
    } finally {
      await watched.close()
      await idle.close()
    }
  })

  it('counts the wait for the first connection against the same command timeout', async () => {
    // The adapter declares its command timeout as the bound of every operation, and the core then
    // arms no timer of its own: a call that first waits for the connection may not get a second one.
    const timeoutMs = 600
    const thawAfterMs = 400
    server.signal('SIGSTOP')
    const late = redisAdapter({ url: server.url, commandTimeout: timeoutMs, connectTimeout: '2s' })
    // Thawed halfway through the first connection, and frozen again the moment it is ready, so the
    // GET that was waiting for it goes out to a server that will not answer.
    late.client.once('ready', () => server.signal('SIGSTOP'))
    const thaw = setTimeout(() => server.signal('SIGCONT'), thawAfterMs)
    try {
      const call = await timed(() => late.get('first:1:k').catch((error: unknown) => error))
      expect(late.status()).toBe('ready')
      expect(call.value).toMatchObject({ code: ErrorCodes.TIMEOUT })
      expect((call.value as Error).message).toContain(`no reply within ${timeoutMs}ms`)
      expect(call.ms).toBeGreaterThanOrEqual(timeoutMs - 5)
      expect(call.ms).toBeLessThan(thawAfterMs + timeoutMs - 100)
    } finally {
      clearTimeout(thaw)
      server.signal('SIGCONT')
      await late.close()
    }
  })
})

describe('a server that answers with errors', () => {
  beforeAll(async () => {
    await admin.connect()
  })

  it('fails open on OOM: writes are dropped, reads and loaders go on', async () => {
    const cache = newCache('oom')
    await cache.set('kept', 'v')
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    try {
      const error = await adapter.set('oom:1:x', bytes('v'), 1000).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: ErrorCodes.ADAPTER })
      expect((error as Error).message).toMatch(
        /^redis redis:\/\/127\.0\.0\.1:\d+\/0: SET "oom:1:x" failed: OOM /,
      )
      expect(await cache.set('x', 'v')).toBe(false)
      expect(await cache.getOrSet('cold', () => 'from loader')).toBe('from loader')
      expect(await cache.get('kept')).toBe('v')
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    await until(async () => cache.set('x', 'v'), 'writes after memory was freed', 3000)
  })

  it('fails open on READONLY (a replica of a primary that is gone)', async () => {
    const cache = newCache('readonly')
    await cache.set('kept', 'v')
    await admin.replicaof('127.0.0.1', await freePort())
    try {
      const error = await adapter.set('readonly:1:x', bytes('v'), 1000).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: ErrorCodes.ADAPTER })
      expect((error as Error).message).toContain('READONLY')
      expect(await cache.set('x', 'v')).toBe(false)
      expect(await cache.getOrSet('cold', () => 'from loader')).toBe('from loader')
      expect(await cache.get('kept')).toBe('v')
    } finally {
      await admin.replicaof('NO', 'ONE')
    }
    await until(async () => cache.set('x', 'v'), 'writes once the server is a primary again', 3000)
  })
})

describe('pub/sub across an outage', () => {
  it('reports the subscription lost and re-established, and delivers again afterwards', async () => {
    const publisher = redisAdapter({ url: server.url, commandTimeout: COMMAND_TIMEOUT_MS })
    const received: string[] = []
    const statuses: string[] = []
    const stop = await adapter.subscribe(
      'invalidations',
      (message) => received.push(message),
      (status) => statuses.push(status),
    )
    try {
      expect(statuses).toEqual(['ready'])
      await publisher.publish('invalidations', 'one')
      await until(() => received.includes('one'), 'the first message')

      await server.kill()
      await until(() => statuses.includes('unavailable'), 'the loss to be reported', 2000)
      await server.restart()
      await until(() => statuses.at(-1) === 'ready', 'the subscription to be re-established', 5000)
      await until(
        async () => {
          await publisher.publish('invalidations', 'two').catch(() => undefined)
          return received.includes('two')
        },
        'a message after the restart',
        5000,
      )
      expect(statuses).toEqual(['ready', 'unavailable', 'ready'])
    } finally {
      await stop()
      await publisher.close()
    }
  })
})
