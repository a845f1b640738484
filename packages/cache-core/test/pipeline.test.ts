import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { createCache } from '../src/cache.js'
import { type CodecOptions, decodeEntry, encodeEntry } from '../src/codec.js'
import { type Compressor, resolveCompression } from '../src/compression.js'
import { resolveEncryption } from '../src/encryption.js'
import { ErrorCodes } from '../src/errors.js'
import { createCaches } from '../src/registry.js'
import type { CacheOptions, Entry } from '../src/types.js'
import { MapAdapter } from './helpers/adapters.js'
import { errorOf } from './helpers/errors.js'

const KEY_A = Buffer.alloc(32, 1)
const KEY_B = Buffer.alloc(32, 2)
const FLAG_COMPRESSED = 0b100
const FLAG_ENCRYPTED = 0b1000

// Repetitive JSON, like the rows of a query result: compresses well.
const rows = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: i,
    faculty: 'EEMCS',
    status: 'ToDo',
    title: `Course ${i % 17}`,
  }))

function entry<T>(value: T, tags?: Entry['tags']): Entry<T> {
  return { value, createdAt: 1_700_000_000_000, expiresAt: 1_700_000_300_000, staleUntil: 0, tags }
}

const codec = (compression?: unknown, encryption?: unknown): CodecOptions => ({
  compression: resolveCompression(compression, 'test'),
  encryption: resolveEncryption(encryption, 'test'),
})

describe('compression', () => {
  it.each(['gzip', 'deflate', 'brotli'] as const)(
    '%s: a large value is stored smaller and reads back equal',
    (algorithm) => {
      const value = rows(200)
      const plain = encodeEntry(entry(value), 'k')
      const packed = encodeEntry(entry(value), 'k', undefined, codec(algorithm))
      expect(packed[2]! & FLAG_COMPRESSED).toBe(FLAG_COMPRESSED)
      expect(packed.length).toBeLessThan(plain.length / 5)
      expect(decodeEntry(packed, codec(algorithm))).toEqual(entry(value))
    },
  )

  it('keeps tags, timestamps and v8-only values through compression', () => {
    const value = { when: new Date(0), ids: new Set(rows(100).map((r) => r.id)), big: 10n ** 30n }
    const original = { ...entry(value, [['faculty:EEMCS', 'e1']] as const), staleUntil: 1_700_000_400_000 }
    const packed = encodeEntry(original, 'k', undefined, codec({ algorithm: 'gzip', threshold: 0 }))
    expect(packed[2]! & FLAG_COMPRESSED).toBe(FLAG_COMPRESSED)
    expect(decodeEntry(packed, codec('gzip'))).toEqual(original)
  })

  it('leaves entries below the threshold exactly as without compression', () => {
    const small = entry({ id: 1, title: 'Course' })
    const plain = encodeEntry(small, 'k')
    const packed = encodeEntry(
      small,
      'k',
      undefined,
      codec({ algorithm: 'gzip', threshold: plain.length + 1 }),
    )
    expect(Buffer.from(packed).equals(Buffer.from(plain))).toBe(true)
  })

  it('stores incompressible values uncompressed rather than larger', () => {
    const noise = randomBytes(4096).toString('base64')
    const packed = encodeEntry(entry(noise), 'k', undefined, codec({ algorithm: 'gzip', threshold: 0 }))
    // base64 text does compress a little (6 of 8 bits used); truly random bytes do not.
    const bytes = encodeEntry(
      entry(randomBytes(4096)),
      'k',
      undefined,
      codec({ algorithm: 'gzip', threshold: 0 }),
    )
    expect(bytes[2]! & FLAG_COMPRESSED).toBe(0)
    expect(decodeEntry(packed, codec('gzip'))!.value).toBe(noise)
  })

  it('caches with and without compression, or with another algorithm, read each other', () => {
    const value = rows(100)
    const byGzip = encodeEntry(entry(value), 'k', undefined, codec('gzip'))
    const byNone = encodeEntry(entry(value), 'k')
    expect(decodeEntry(byGzip)!.value).toEqual(value)
    expect(decodeEntry(byGzip, codec('brotli'))!.value).toEqual(value)
    expect(decodeEntry(byNone, codec('brotli'))!.value).toEqual(value)
  })

  it('uses a pluggable compressor, and reads its entries as misses where it is not configured', () => {
    let calls = 0
    // gzip with its bytes reversed: only this compressor can read what it wrote.
    const reverse: Compressor = {
      name: 'reverse-gz',
      compress: (bytes) => {
        calls++
        return gzipSync(bytes).reverse()
      },
      decompress: (bytes) => gunzipSync(Buffer.from(bytes).reverse()),
    }
    const value = rows(50)
    const packed = encodeEntry(entry(value), 'k', undefined, codec(reverse))
    expect(calls).toBe(1)
    expect(Buffer.from(packed).includes('reverse-gz')).toBe(true)
    expect(decodeEntry(packed, codec(reverse))!.value).toEqual(value)
    expect(decodeEntry(packed)).toBeUndefined()
    expect(decodeEntry(packed, codec('gzip'))).toBeUndefined()
  })

  it('reads a compressed entry whose compressed bytes were damaged as a miss', () => {
    const packed = Buffer.from(encodeEntry(entry(rows(100)), 'k', undefined, codec('gzip')))
    packed[packed.length - 10]! ^= 0xff
    expect(decodeEntry(packed, codec('gzip'))).toBeUndefined()
  })

  it('rejects bad options at configuration time, naming the option', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [
        'zstd',
        'compression.algorithm',
        /"compression.algorithm" must be "gzip", "deflate", "brotli".*got "zstd"/,
      ],
      [
        { algorithm: 'gzip', threshold: -1 },
        'compression.threshold',
        /whole number of bytes, 0 or more, got -1/,
      ],
      [{ algorithm: 'gzip', threshold: 1.5 }, 'compression.threshold', /got 1.5/],
      [{ algorithm: 'brotli', level: 12 }, 'compression.level', /from 0 to 11 for brotli/],
      [{ algorithm: 'gzip', level: 10 }, 'compression.level', /from 0 to 9 for gzip/],
      [
        { algorithm: { name: 'gzip', compress: (b: Uint8Array) => b, decompress: (b: Uint8Array) => b } },
        'compression.algorithm.name',
        /built-in/,
      ],
      [
        { algorithm: { name: 'a b', compress: (b: Uint8Array) => b, decompress: (b: Uint8Array) => b } },
        'compression.algorithm.name',
        /letters, digits/,
      ],
      [{ algorithm: { name: 'x' } }, 'compression.algorithm', /compressor \{ name, compress, decompress \}/],
      [42, 'compression', /must be "gzip", "deflate", "brotli", a compressor/],
    ]
    for (const [compression, field, message] of cases) {
      const error = errorOf(() =>
        createCache({ adapter: new MapAdapter(), keyPrefix: 'p', compression } as CacheOptions),
      )
      expect(error.code, field).toBe(ErrorCodes.INVALID_CONFIG)
      expect(error.field).toBe(field)
      expect(error.message).toMatch(message)
      expect(error.message).toContain('cache "p"')
    }
  })
})

describe('encryption', () => {
  const ring = (...keys: Array<[string, Uint8Array | string]>) => ({
    keys: keys.map(([id, key]) => ({ id, key })),
  })

  it('seals the value: the stored bytes hold no plaintext and read back equal', () => {
    const value = { secret: 'student 4711 failed the exam' }
    const sealed = encodeEntry(
      entry(value, [['person:4711', 'e1']]),
      'k',
      undefined,
      codec(undefined, ring(['k1', KEY_A])),
    )
    expect(sealed[2]! & FLAG_ENCRYPTED).toBe(FLAG_ENCRYPTED)
    expect(Buffer.from(sealed).includes('student 4711')).toBe(false)
    expect(Buffer.from(sealed).includes('person:4711')).toBe(false)
    expect(decodeEntry(sealed, codec(undefined, ring(['k1', KEY_A])))).toEqual(
      entry(value, [['person:4711', 'e1']]),
    )
  })

  it('writes a fresh IV each time, so equal values give different bytes', () => {
    const c = codec(undefined, ring(['k1', KEY_A]))
    const first = Buffer.from(encodeEntry(entry('same'), 'k', undefined, c))
    const second = Buffer.from(encodeEntry(entry('same'), 'k', undefined, c))
    expect(first.equals(second)).toBe(false)
  })

  it('reads any altered byte — header, key id, IV, ciphertext or tag — as a miss', () => {
    const c = codec(undefined, ring(['k1', KEY_A]))
    const sealed = Buffer.from(encodeEntry(entry({ grade: 8 }), 'k', undefined, c))
    expect(decodeEntry(sealed, c)).toBeDefined()
    for (let i = 2; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed)
      tampered[i]! ^= 0x01
      expect(decodeEntry(tampered, c), `byte ${i} flipped`).toBeUndefined()
    }
    expect(decodeEntry(sealed.subarray(0, sealed.length - 1), c)).toBeUndefined()
  })

  it('rotates: new entries use the first key, older entries still read with theirs', () => {
    const old = encodeEntry(entry('old'), 'k', undefined, codec(undefined, ring(['2025', KEY_A])))
    const rotated = codec(undefined, ring(['2026', KEY_B], ['2025', KEY_A]))
    const fresh = encodeEntry(entry('new'), 'k', undefined, rotated)
    expect(Buffer.from(fresh).includes('2026')).toBe(true)
    expect(decodeEntry(old, rotated)!.value).toBe('old')
    expect(decodeEntry(fresh, rotated)!.value).toBe('new')
  })

  it('reads entries under a retired or foreign key, or without any ring, as misses', () => {
    const old = encodeEntry(entry('old'), 'k', undefined, codec(undefined, ring(['2025', KEY_A])))
    expect(decodeEntry(old, codec(undefined, ring(['2026', KEY_B])))).toBeUndefined()
    // Same id, another key: the authentication fails rather than yielding garbage.
    expect(decodeEntry(old, codec(undefined, ring(['2025', KEY_B])))).toBeUndefined()
    expect(decodeEntry(old)).toBeUndefined()
  })

  it('compresses, then encrypts, when both are on', () => {
    const both = codec('gzip', ring(['k1', KEY_A]))
    const value = rows(200)
    const sealed = encodeEntry(entry(value), 'k', undefined, both)
    expect(sealed[2]! & (FLAG_COMPRESSED | FLAG_ENCRYPTED)).toBe(FLAG_COMPRESSED | FLAG_ENCRYPTED)
    expect(sealed.length).toBeLessThan(encodeEntry(entry(value), 'k').length / 5)
    expect(decodeEntry(sealed, both)!.value).toEqual(value)
  })

  it('takes keys as bytes or base64', () => {
    const base64 = KEY_A.toString('base64')
    const sealed = encodeEntry(entry('v'), 'k', undefined, codec(undefined, ring(['k1', base64])))
    expect(decodeEntry(sealed, codec(undefined, ring(['k1', new Uint8Array(KEY_A)])))!.value).toBe('v')
  })

  it('rejects bad key rings at configuration time, naming the option and never the key', () => {
    const short = Buffer.alloc(16, 7)
    const cases: Array<[unknown, string, RegExp]> = [
      [{ keys: [] }, 'encryption', /at least one key/],
      [{}, 'encryption', /at least one key/],
      [ring(['k1', short]), 'encryption.keys[0].key', /must be 32 bytes for AES-256-GCM .*got 16 bytes/],
      [ring(['k1', KEY_A], ['k2', short.toString('base64')]), 'encryption.keys[1].key', /got 16 bytes/],
      [ring(['k1', 'not base64 at all!']), 'encryption.keys[0].key', /base64 string of 32 bytes/],
      [ring(['k1', KEY_A], ['k1', KEY_B]), 'encryption.keys[1].id', /unique/],
      [ring(['', KEY_A]), 'encryption.keys[0].id', /1 to 64 characters/],
    ]
    for (const [encryption, field, message] of cases) {
      const error = errorOf(() =>
        createCache({ adapter: new MapAdapter(), keyPrefix: 'p', encryption } as CacheOptions),
      )
      expect(error.code, field).toBe(ErrorCodes.INVALID_CONFIG)
      expect(error.field).toBe(field)
      expect(error.message).toMatch(message)
      expect(error.message).not.toContain(short.toString('base64'))
    }
  })
})

describe('a cache with compression and encryption', () => {
  const options = {
    compression: { algorithm: 'brotli', threshold: 256 },
    encryption: { keys: [{ id: 'k1', key: KEY_A }] },
  } as const

  it('stores sealed, compressed bytes and serves the value from the store and from L1', async () => {
    const store = new MapAdapter()
    const l1 = new MapAdapter()
    const cache = createCache({ adapter: store, l1, keyPrefix: 'p', ...options })
    const value = rows(100)
    await cache.set('big', value)
    await cache.set('small', 'tiny')
    const raw = store.data.get('p:1:big')!.value
    expect(raw[2]! & (FLAG_COMPRESSED | FLAG_ENCRYPTED)).toBe(FLAG_COMPRESSED | FLAG_ENCRYPTED)
    expect(raw.length).toBeLessThan(Buffer.byteLength(JSON.stringify(value)) / 5)
    expect(store.data.get('p:1:small')!.value[2]! & (FLAG_COMPRESSED | FLAG_ENCRYPTED)).toBe(FLAG_ENCRYPTED)
    expect(await cache.get('big')).toEqual(value)
    expect(await cache.get('small')).toBe('tiny')
    // A second cache on the same store (another process) with the same ring reads both.
    const other = createCache({ adapter: store, keyPrefix: 'p', encryption: options.encryption })
    expect(await other.getMany(['big', 'small'])).toEqual([value, 'tiny'])
  })

  it('treats an entry tampered with in the store as a miss and loads again', async () => {
    const store = new MapAdapter()
    const cache = createCache({ adapter: store, keyPrefix: 'p', ...options })
    await cache.set('k', { grade: 6 })
    store.data.get('p:1:k')!.value[40]! ^= 0xff
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.stats().undecodable).toBe(1)
    expect(await cache.getOrSet('k', () => ({ grade: 9 }))).toEqual({ grade: 9 })
  })

  it('is configured from createCaches too, with the same errors', async () => {
    const caches = createCaches(
      {
        main: {
          adapter: 'map',
          keyPrefix: 'p',
          compression: 'gzip',
          encryption: { keys: [{ id: 'k', key: KEY_A.toString('base64') }] },
        },
      },
      { adapters: { map: () => new MapAdapter() }, makeDefault: false },
    )
    await caches.get('main').set('k', rows(50))
    expect(await caches.get('main').get('k')).toEqual(rows(50))
    await caches.closeAll()
    const error = errorOf(() =>
      createCaches(
        { main: { adapter: 'map', keyPrefix: 'p', compression: { algorithm: 'lz4' } as never } },
        { adapters: { map: () => new MapAdapter() }, makeDefault: false },
      ),
    )
    expect(error.field).toBe('compression.algorithm')
  })
})
