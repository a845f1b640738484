import { inspect } from 'node:util'
import { type CacheLogger, createCache, createCaches, ErrorCodes } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter, redisAdapterFactory } from '../src/index.js'
import { freePort, type RedisProcess, rawCommand, startRedis } from './helpers/redis-server.js'
import { bytes, until, untilStatus } from './helpers/shared.js'

const SECRET = 'secret'

/** Everything a user could see of an error: message, string form, and the full inspected cause chain. */
function visible(error: unknown): string {
  return [String(error), (error as Error)?.message, inspect(error, { depth: 10 })].join('\n')
}

/** Runs every adapter operation and returns what each failure shows. */
async function everyFailure(adapter: RedisAdapter): Promise<string[]> {
  const value = bytes('v')
  const calls: Array<() => unknown> = [
    () => adapter.get('k'),
    () => adapter.getMany(['a', 'b']),
    () => adapter.set('k', value, 1000),
    () => adapter.setMany([{ key: 'k', value, ttlMs: undefined }]),
    () => adapter.delete('k'),
    () => adapter.deleteMany(['a', 'b']),
    () => adapter.deleteByPattern('p:*'),
    () => adapter.clear('p:'),
    () => adapter.setIfAbsent('k', value, 1000),
    () => adapter.deleteIfEquals('k', value),
    () => adapter.publish('c', 'm'),
  ]
  const seen: string[] = []
  for (const call of calls) {
    try {
      await call()
      seen.push(`${call} resolved`)
    } catch (error) {
      seen.push(visible(error))
    }
  }
  return seen
}

/** A logger that keeps every line it is given, fields inspected in full. */
function recordingLogger(lines: string[]): CacheLogger {
  const keep = (fields: Record<string, unknown>, message: string) =>
    lines.push(`${message} ${inspect(fields, { depth: 10 })}`)
  return { debug: keep, warn: keep, error: keep }
}

describe('passwords never show', () => {
  it('on a server that is not there: errors, causes, status, endpoint, cache logs, events and stats', async () => {
    const port = await freePort()
    const adapter = redisAdapter({
      url: `redis://user:${SECRET}@127.0.0.1:${port}/0`,
      connectTimeout: '200ms',
    })
    const lines: string[] = []
    const cache = createCache({ adapter, keyPrefix: 'redact', timeout: 500, logger: recordingLogger(lines) })
    cache.on('error', (event) => lines.push(inspect(event, { depth: 10 })))
    try {
      const failures = await everyFailure(adapter)
      expect(failures.every((f) => f.includes('CacheError'))).toBe(true)
      expect(failures[0]).toContain(`redis://user:***@127.0.0.1:${port}/0`)

      await cache.get('k')
      await cache.set('k', 'v')
      expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded')
      lines.push(visible(await cache.delete('k').catch((e: unknown) => e)))
      const statuses: string[] = []
      const stop = await adapter.subscribe(
        'c',
        () => undefined,
        (s) => statuses.push(s),
      )
      await stop()

      expect(lines.some((l) => l.includes('user:***@'))).toBe(true)
      const everything = [
        ...failures,
        ...lines,
        ...statuses,
        adapter.status(),
        adapter.endpoint,
        JSON.stringify(cache.stats()),
      ].join('\n')
      expect(everything).not.toContain(SECRET)
      expect(adapter.status()).toBe('unavailable')
    } finally {
      await cache.close()
    }
  })

  describe('with an ACL user', () => {
    let server: RedisProcess

    beforeAll(async () => {
      server = await startRedis()
      const reply = await rawCommand(server.port, `ACL SETUSER app on >${SECRET} ~* &* +@all`)
      expect(reply).toBe('+OK\r\n')
    })

    afterAll(async () => {
      await server?.stop()
    })

    it('authenticates with user:password@ in the URL', async () => {
      const adapter = redisAdapter(`redis://app:${SECRET}@127.0.0.1:${server.port}/2`)
      try {
        await adapter.set('acl:k', bytes('v'), 10_000)
        expect(new TextDecoder().decode(await adapter.get('acl:k'))).toBe('v')
        expect(adapter.endpoint).toBe(`redis://app:***@127.0.0.1:${server.port}/2`)
      } finally {
        await adapter.close()
      }
    })

    it('reports a wrong password as unavailable without printing either password', async () => {
      const wrong = 'not-the-secret-either'
      const adapter = redisAdapter(`redis://app:${wrong}@127.0.0.1:${server.port}/0`)
      try {
        await until(() => adapter.status() === 'unavailable', 'the rejected login to show in status()', 3000)
        const failures = (await everyFailure(adapter)).join('\n')
        expect(failures).toContain('WRONGPASS')
        expect(failures).not.toContain(wrong)
        expect(failures).not.toContain(SECRET)
      } finally {
        await adapter.close()
      }
    })

    it('reports the right password once the server accepts it, without a restart', async () => {
      const adapter = redisAdapter(`redis://late:${SECRET}@127.0.0.1:${server.port}/0`)
      try {
        await until(() => adapter.status() === 'unavailable', 'the unknown user to be refused', 3000)
        expect(await rawCommand(server.port, `ACL SETUSER late on >${SECRET} ~* &* +@all`)).toBe('+OK\r\n')
        await untilStatus(adapter, 'ready', 5000)
        await adapter.set('late:k', bytes('v'), 10_000)
      } finally {
        await adapter.close()
      }
    })
  })
})

// Passwords as generators and people make them, each with characters that end a naive match early.
const HOSTILE = [
  'Zq9/Xk2+Lm==',
  'S3cr@TailLeak',
  'correct horse battery',
  'Colon:Sep:Arated',
  'Pct%Sure',
  'Hash#TagPw',
  'Mi/x@ed :%#Bag',
]

/** The password and every part of it of 3+ characters between the characters that split URLs. */
function fragments(password: string): string[] {
  const parts = password.split(/[/@ :%#+=]+/).filter((p) => p.length >= 3)
  return [password, encodeURIComponent(password), ...parts]
}

function expectHidden(password: string, seen: readonly string[]): void {
  const everything = seen.join('\n')
  for (const fragment of fragments(password))
    expect(everything, `"${fragment}" shows`).not.toContain(fragment)
}

/** Everything a user can see of an adapter: its string forms, JSON, endpoint and status. */
function printed(adapter: RedisAdapter): string[] {
  return [
    String(adapter),
    `${adapter}`,
    inspect(adapter, { depth: 10 }),
    JSON.stringify(adapter),
    adapter.endpoint,
  ]
}

describe.each(HOSTILE)('the hostile password %j', (password) => {
  it('written raw into the URL, never shows in the error or the adapter', async () => {
    const port = await freePort()
    const url = `redis://app:${password}@127.0.0.1:${port}/0`
    let adapter: RedisAdapter | undefined
    const seen: string[] = []
    try {
      // Raw '/', '#' or '%' break the URL: a configuration error. Others parse (the URL parser
      // encodes them), and the adapter then fails to reach the closed port.
      adapter = redisAdapter({ url, connectTimeout: '200ms' })
    } catch (error) {
      expect(error).toMatchObject({ code: ErrorCodes.INVALID_CONFIG, field: 'url' })
      expect((error as Error).message).toContain(`redis://app:***@127.0.0.1:${port}/0`)
      expect((error as Error).message).toContain('percent-encoded')
      seen.push(visible(error))
    }
    if (adapter !== undefined) {
      try {
        seen.push(...(await everyFailure(adapter)), ...printed(adapter))
      } finally {
        await adapter.close()
      }
    }
    // The registry path words its errors differently: check it as well.
    try {
      const caches = createCaches(
        {
          default: { adapter: 'redis', location: url, keyPrefix: 'pw', options: { connectTimeout: '200ms' } },
        },
        { adapters: { redis: redisAdapterFactory }, makeDefault: false },
      )
      await caches.closeAll()
    } catch (error) {
      seen.push(visible(error))
    }
    expectHidden(password, seen)
  })

  describe('percent-encoded, as the URL wants it', () => {
    let server: RedisProcess
    beforeAll(async () => {
      server = await startRedis()
      const admin = new Redis(server.url)
      await admin.call('ACL', 'SETUSER', 'app', 'on', `>${password}`, '~*', '&*', '+@all')
      await admin.quit()
    })
    afterAll(async () => {
      await server?.stop()
    })

    it('authenticates, and shows only *** in the endpoint, toString, inspect, JSON, logs and stats', async () => {
      const adapter = redisAdapter(`redis://app:${encodeURIComponent(password)}@127.0.0.1:${server.port}/0`)
      const lines: string[] = []
      const cache = createCache({ adapter, keyPrefix: 'pw', logger: recordingLogger(lines) })
      try {
        await cache.set('k', 'v')
        expect(await cache.get('k')).toBe('v')
        expect(adapter.endpoint).toBe(`redis://app:***@127.0.0.1:${server.port}/0`)
        expect(String(adapter)).toBe(`RedisAdapter(redis://app:***@127.0.0.1:${server.port}/0)`)
        expectHidden(password, [
          ...printed(adapter),
          inspect(cache, { depth: 10 }),
          JSON.stringify(cache.stats()),
          ...lines,
        ])
      } finally {
        await cache.close()
      }
    })

    it('a wrong password shows neither password in errors, logs, events or stats', async () => {
      const wrong = `${password}-Wrong`
      const adapter = redisAdapter(`redis://app:${encodeURIComponent(wrong)}@127.0.0.1:${server.port}/0`)
      const lines: string[] = []
      const cache = createCache({ adapter, keyPrefix: 'pw', timeout: 500, logger: recordingLogger(lines) })
      cache.on('error', (event) => lines.push(inspect(event, { depth: 10 })))
      try {
        await until(() => adapter.status() === 'unavailable', 'the rejected login to show in status()', 3000)
        const failures = await everyFailure(adapter)
        expect(failures.join('\n')).toContain('WRONGPASS')
        await cache.get('k')
        await cache.set('k', 'v')
        const seen = [...failures, ...lines, ...printed(adapter), JSON.stringify(cache.stats())]
        expectHidden(password, seen)
        expectHidden(wrong, seen)
      } finally {
        await cache.close()
      }
    })
  })
})
