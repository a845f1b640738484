import { createCache, escapeGlob, globToRegExp } from '@cacheport/cache-core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisAdapter, redisAdapter } from '../src/index.js'
import { watchdogWorks } from '../src/reply-watchdog.js'
import { type RedisProcess, rawCommand, startRedis } from './helpers/redis-server.js'
import { bytes, until, untilStatus } from './helpers/shared.js'

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

/** Calls of `command` since the last reset that the server answered with an error. */
async function failedCalls(command: string): Promise<number> {
  const info = await rawCommand(server.port, 'INFO commandstats')
  const match = new RegExp(`^cmdstat_${command}:.*failed_calls=(\\d+)`, 'm').exec(info)
  return match === null ? 0 : Number(match[1])
}

/** Which of `keys` the server still holds, in the order given (read by a client of its own). */
async function survivors(keys: readonly string[]): Promise<string[]> {
  const reader = new Redis(server.url)
  try {
    const values = await reader.mget(keys as string[])
    return keys.filter((_, i) => values[i] !== null)
  } finally {
    reader.disconnect()
  }
}

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
  it('sends the first get of a tick at once and the gets that follow it as a single MGET', async () => {
    await adapter.set('a', bytes('A'), 10_000)
    await rawCommand(server.port, 'CONFIG RESETSTAT')
    const values = await Promise.all(['a', 'b', 'a', 'c'].map((key) => adapter.get(key)))
    expect(values.map((v) => v && new TextDecoder().decode(v))).toEqual(['A', undefined, 'A', undefined])
    expect(await commandCalls()).toEqual({ get: 1, mget: 1 })

    await rawCommand(server.port, 'CONFIG RESETSTAT')
    const many = await Promise.all(Array.from({ length: 1000 }, (_, i) => adapter.get(i % 2 ? 'a' : 'b')))
    expect(many.filter((v) => v !== undefined)).toHaveLength(500)
    // "b" goes out at once and its other gets share it; the gets of "a" share the one read held
    // to the end of the tick, which, with a single key left, is a GET.
    expect(await commandCalls()).toEqual({ get: 2 })
  })

  it('sends one GET for 1,000 concurrent gets of one key, through the cache too', async () => {
    await adapter.set('hot', bytes('H'), 10_000)
    await rawCommand(server.port, 'CONFIG RESETSTAT')
    const values = await Promise.all(Array.from({ length: 1000 }, () => adapter.get('hot')))
    expect(values.every((v) => v !== undefined && new TextDecoder().decode(v) === 'H')).toBe(true)
    expect(await commandCalls()).toEqual({ get: 1 })

    const cache = createCache({ adapter: redisAdapter(server.url), keyPrefix: 'hot', ttl: '1m' })
    try {
      await cache.set('filter', { counts: { ToDo: 3 } })
      await rawCommand(server.port, 'CONFIG RESETSTAT')
      const read = await Promise.all(Array.from({ length: 1000 }, () => cache.get<any>('filter')))
      expect(await commandCalls()).toEqual({ get: 1 })
      // One reply, yet every caller owns its value: changing one changes no other.
      expect(read.every((v) => v.counts.ToDo === 3)).toBe(true)
      read[0].counts.ToDo = 99
      expect(read[1].counts.ToDo).toBe(3)
    } finally {
      await cache.close()
    }
  })

  it('gives a get made after a write a read of its own, even while an older read of the key is out', async () => {
    await adapter.set('w', bytes('old'), 10_000)
    const other = redisAdapter(server.url)
    try {
      await untilStatus(other, 'ready')
      const text = (v: Uint8Array | undefined) => v && new TextDecoder().decode(v)
      // All in one tick, on one connection: Redis runs them in this order.
      const before = adapter.get('w')
      const write = adapter.set('w', bytes('new'), 10_000)
      const after = adapter.get('w')
      expect([text(await before), text(await after)]).toEqual(['old', 'new'])
      await write

      // A write by another adapter of the process counts as well.
      const first = adapter.get('w')
      const written = other.set('w', bytes('newer'), 10_000)
      await written
      // The first read may have been answered by now; either way the next one must see the write.
      expect(text(await adapter.get('w'))).toBe('newer')
      expect(text(await first)).toMatch(/^(new|newer)$/)
    } finally {
      await other.close()
    }
  })

  it('stops sharing a read that is out once a pub/sub message arrives', async () => {
    await adapter.set('m', bytes('M'), 10_000)
    let heard = 0
    const unsubscribe = await adapter.subscribe('news', () => {
      heard++
    })
    // A BLPOP holds the adapter's connection, so the GETs sent after it wait in line: they stay on
    // their way for as long as this test needs, with no timing involved.
    const holder = adapter.client.blpop('hold', 5)
    try {
      const reads = [adapter.get('m'), adapter.get('m')]
      await rawCommand(server.port, 'PUBLISH news changed')
      await until(() => heard === 1, 'the message')
      reads.push(adapter.get('m'))
      await rawCommand(server.port, 'CONFIG RESETSTAT')
      await rawCommand(server.port, 'LPUSH hold go')
      expect((await Promise.all(reads)).map((v) => v && new TextDecoder().decode(v))).toEqual(['M', 'M', 'M'])
      await holder
      // The two gets before the message shared one GET; the one after it sent its own.
      const calls = await commandCalls()
      expect(calls.get).toBe(2)
      expect(calls.mget).toBeUndefined()
    } finally {
      await unsubscribe()
    }
  })

  it('sends gets awaited one at a time as GETs, and every get as GET when coalescing is off', async () => {
    for (let i = 0; i < 3; i++) await adapter.get('a')
    expect(await commandCalls()).toEqual({ get: 3 })
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

  // ioredis 5's Command lacks what the reply watchdog needs, so its SETs take ioredis' own path.
  it.skipIf(!watchdogWorks())(
    'writes a burst of SETs made while replies are due in one go, in order with other commands',
    async () => {
      const stream = (adapter.client as Redis).stream as unknown as Record<
        '_write' | '_writev',
        (...args: unknown[]) => void
      >
      let writes = 0
      const originals = { _write: stream._write, _writev: stream._writev }
      for (const name of ['_write', '_writev'] as const) {
        const original = originals[name]
        stream[name] = function (this: unknown, ...args: unknown[]) {
          writes++
          return original.apply(this, args)
        }
      }
      try {
        // A lone write leaves at once; the fifty made while it is out leave together.
        const first = adapter.set('burst:first', bytes('first'), 10_000)
        const rest = Array.from({ length: 50 }, (_, i) => adapter.set(`burst:${i}`, bytes(`v${i}`), 10_000))
        await Promise.all([first, ...rest])
        expect(writes).toBe(2)
        const reader = new Redis(server.url)
        try {
          expect(await reader.get('burst:first')).toBe('first')
          expect(await reader.mget(Array.from({ length: 50 }, (_, i) => `burst:${i}`))).toEqual(
            Array.from({ length: 50 }, (_, i) => `v${i}`),
          )
          // Writes held for the tick keep their order with the other commands of the tick.
          const pending = adapter.set('burst:first', bytes('again'), 10_000)
          await Promise.all([
            pending,
            adapter.set('burst:k', bytes('1'), 10_000),
            adapter.delete('burst:k'),
            adapter.set('burst:k', bytes('2'), 10_000),
            adapter.set('burst:j', bytes('1'), 10_000),
            adapter.delete('burst:j'),
          ])
          expect(await reader.mget('burst:first', 'burst:k', 'burst:j')).toEqual(['again', '2', null])
        } finally {
          reader.disconnect()
        }
      } finally {
        Object.assign(stream, originals)
      }
    },
  )

  it.skipIf(!watchdogWorks())(
    'arms no timer per single GET or SET: one shared timer keeps their deadlines',
    async () => {
      // Gets not coalesced, so that each of them is a GET of its own.
      const plain = redisAdapter({ url: server.url, coalesceGets: false })
      try {
        await plain.set('timers:warm', bytes('w'), 10_000)
        const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
        const before = timers()
        // Twenty of each at once, all waiting for their replies when the timers are counted.
        const pending: Array<Promise<unknown>> = []
        for (let i = 0; i < 20; i++) pending.push(plain.set(`timers:${i}`, bytes(String(i)), 10_000))
        for (let i = 0; i < 20; i++) pending.push(plain.get('timers:warm'))
        const during = timers()
        const replies = await Promise.all(pending)
        // ioredis would arm one per command (40 here); the watchdog arms at most one.
        expect(during - before).toBeLessThanOrEqual(1)
        expect(replies.slice(20).map((reply) => Buffer.from(reply as Uint8Array).toString())).toEqual(
          Array.from({ length: 20 }, () => 'w'),
        )
      } finally {
        await plain.close()
      }
    },
  )

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

  it('deletes by pattern with a script per stretch of SCAN pages, the keys never leaving the server', async () => {
    await rawCommand(server.port, 'SCRIPT FLUSH')
    const paged = redisAdapter({ url: server.url, scanCount: 100 })
    try {
      await untilStatus(paged, 'ready')
      await paged.setMany(
        Array.from({ length: 300 }, (_, i) => ({ key: `sp:${i}`, value: bytes('v'), ttlMs: 10_000 })),
      )
      await rawCommand(server.port, 'CONFIG RESETSTAT')
      expect(await paged.deleteByPattern('sp:*')).toBe(300)
      const calls = await commandCalls()
      // The first call finds the script missing and sends it once. SCAN and UNLINK run inside the
      // script (the server counts them too), at least one per page of 100 keys; KEYS never runs.
      expect(calls.eval).toBe(1)
      expect(calls.evalsha).toBeGreaterThanOrEqual(3)
      expect(calls.scan).toBeGreaterThanOrEqual(3)
      expect(calls.unlink).toBeGreaterThanOrEqual(3)
      expect(calls.keys).toBeUndefined()
    } finally {
      await paged.close()
    }
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

describe('pattern deletes on the server', () => {
  // Prefixes full of glob specials, and lookalikes that a sloppy glob or a lost escape would catch.
  const base = 'pd:a*[1]?\\:'
  const matching = [
    ...Array.from({ length: 1200 }, (_, i) => `${base}${i}`),
    `${base}`,
    `${base}é ü`,
    `${base}*`,
  ]
  const lookalikes = [
    'pd:a*[1]?:1',
    'pd:aX[1]?\\:1',
    'pd:a*1?\\:1',
    'pd:a*[1]X\\:1',
    'pd:a*[1]?\\',
    'xpd:a*[1]?\\:1',
    'pd:a*[1]?\\;1',
  ]
  const pattern = `${escapeGlob(base)}*`

  it.each([
    ['pages of 7 keys, one per call', 7],
    ['pages of over 800 keys, several per call', 2500],
  ])('removes exactly the keys the glob matches, in %s', async (_, scanCount) => {
    const keys = [...matching, ...lookalikes]
    const matcher = globToRegExp(pattern)
    // The glob itself picks the same keys as the lists above, so those are what must go.
    expect(keys.filter((key) => matcher.test(key))).toEqual(matching)
    const deleter = redisAdapter({ url: server.url, scanCount })
    try {
      await untilStatus(deleter, 'ready')
      await deleter.deleteByPattern('pd:warm-up:*') // loads the script, so the calls below all run it
      await deleter.setMany(keys.map((key) => ({ key, value: bytes('v'), ttlMs: 30_000 })))
      await rawCommand(server.port, 'CONFIG RESETSTAT')

      expect(await deleter.deleteByPattern(pattern)).toBe(matching.length)
      expect(await survivors(keys)).toEqual(lookalikes)
      // Every page was unlinked by the script (no call failed, so none fell back to the client).
      const calls = await commandCalls()
      expect(calls.evalsha).toBeGreaterThanOrEqual(1)
      expect(await failedCalls('evalsha')).toBe(0)
      if (scanCount === 7) {
        expect(calls.evalsha).toBeGreaterThan(100)
        expect(calls.scan).toBe(calls.evalsha)
      } else {
        expect(calls.scan).toBeGreaterThan(calls.evalsha!)
        expect(calls.unlink).toBeGreaterThanOrEqual(2)
      }
    } finally {
      await deleter.deleteMany(lookalikes)
      await deleter.close()
    }
  })

  it('deletes from the client (SCAN + UNLINK) for a user that may not run scripts', async () => {
    expect(await rawCommand(server.port, 'ACL SETUSER noscripts on >pw ~* &* +@all -@scripting')).toBe(
      '+OK\r\n',
    )
    const limited = redisAdapter({ url: `redis://noscripts:pw@127.0.0.1:${server.port}`, scanCount: 50 })
    try {
      await untilStatus(limited, 'ready')
      const doomed = Array.from({ length: 300 }, (_, i) => `acl:doomed:${i}`)
      const kept = ['acl:kept:1', 'acl:doomedX', 'xacl:doomed:1']
      await limited.setMany([...doomed, ...kept].map((key) => ({ key, value: bytes('v'), ttlMs: 30_000 })))
      await rawCommand(server.port, 'CONFIG RESETSTAT')

      expect(await limited.deleteByPattern('acl:doomed:*')).toBe(doomed.length)
      expect(await survivors([...doomed, ...kept])).toEqual(kept)
      const calls = await commandCalls()
      expect(calls.eval ?? 0).toBe(0)
      expect(calls.scan).toBeGreaterThan(1)
      expect(calls.unlink).toBeGreaterThan(1)
    } finally {
      await limited.deleteMany(['acl:kept:1', 'acl:doomedX', 'xacl:doomed:1'])
      await limited.close()
      await rawCommand(server.port, 'ACL DELUSER noscripts')
    }
  })
})
