import { serialize } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { cloneValue, decodeEntry, encodeEntry } from '../src/codec.js'
import { ErrorCodes } from '../src/errors.js'
import type { Entry, TagStamp } from '../src/types.js'
import { errorOf } from './helpers/errors.js'

const CREATED = 1_700_000_000_000
const EXPIRES = 1_700_000_300_000
const STALE = 1_700_000_360_000

function entry<T>(value: T, tags?: readonly TagStamp[]): Entry<T> {
  return { value, createdAt: CREATED, expiresAt: EXPIRES, staleUntil: STALE, tags }
}

function roundTrip<T>(value: T): unknown {
  const decoded = decodeEntry(encodeEntry(entry(value), 'k'))
  expect(decoded).toBeDefined()
  return decoded!.value
}

function usesV8(value: unknown): boolean {
  return (encodeEntry(entry(value), 'k')[2]! & 1) === 1
}

function chain(levels: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < levels; i++) value = { child: value }
  return value
}

function depthOf(value: unknown): number {
  let depth = 0
  while (typeof value === 'object' && value !== null) {
    value = (value as { child: unknown }).child
    depth++
  }
  expect(value).toBe('leaf')
  return depth
}

/** A small deterministic PRNG, so that "random" bytes are the same on every run. */
function* pseudoRandomBytes(seed: number): Generator<number> {
  let state = seed
  for (;;) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    yield state & 0xff
  }
}

describe('encodeEntry / decodeEntry: values', () => {
  it.each<[string, unknown]>([
    ['a string', 'EEMCS'],
    ['an empty string', ''],
    ['unicode text', 'zoë 🚀 中文 \u0000 "quoted" \\'],
    ['an integer', 42],
    ['a fraction', -1.5e-7],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER],
    ['true', true],
    ['false', false],
    ['null', null],
    ['an empty object', {}],
    ['an empty array', []],
    ['nested data', { faculty: 'EEMCS', counts: { ToDo: 12, Done: 30 }, items: [[1, 2], [], [{ a: null }]] }],
    ['an own "__proto__" key', JSON.parse('{"__proto__": {"x": 1}, "y": 2}')],
  ])('round-trips %s as JSON', (_name, value) => {
    expect(usesV8(value)).toBe(false)
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it('keeps lone surrogates through the JSON path (JSON.stringify escapes them)', () => {
    const value = { '\udc00key': 'a\ud83d', list: ['\ud800'] }
    expect(usesV8(value)).toBe(false)
    const back = roundTrip(value) as typeof value
    expect(back['\udc00key']).toBe('a\ud83d')
    expect(back.list[0]).toBe('\ud800')
  })

  it.each<[string, unknown]>([
    ['a Date', new Date(Date.UTC(2024, 0, 31, 12))],
    [
      'a Map with object keys',
      new Map<unknown, unknown>([
        [{ id: 1 }, 'a'],
        ['b', new Map([[2, [3]]])],
      ]),
    ],
    ['a Set', new Set<unknown>([1, 'two', { three: 3 }])],
    ['a bigint', 2n ** 100n],
    ['a negative bigint', -5n],
    ['a RegExp', /a+b/giu],
    ['a nested undefined in an object', { a: undefined, b: 1 }],
    ['a nested undefined in an array', [1, undefined, 3]],
    ['an ArrayBuffer', new Uint8Array([1, 2, 3]).buffer],
    ['a DataView', new DataView(new Uint8Array([4, 5, 6, 7]).buffer, 1, 2)],
  ])('round-trips %s through v8', (_name, value) => {
    expect(usesV8(value)).toBe(true)
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it('round-trips an invalid Date', () => {
    const back = roundTrip(new Date(Number.NaN))
    expect(back).toBeInstanceOf(Date)
    expect(Number.isNaN((back as Date).getTime())).toBe(true)
  })

  it('round-trips undefined at the top level', () => {
    const decoded = decodeEntry(encodeEntry(entry(undefined), 'k'))
    expect(decoded).toBeDefined()
    expect(decoded!.value).toBeUndefined()
  })

  it('round-trips NaN, -0 and the infinities, at the top level and nested', () => {
    for (const value of [Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(usesV8(value)).toBe(true)
      expect(Object.is(roundTrip(value), value)).toBe(true)
      const [back] = roundTrip([value]) as number[]
      expect(Object.is(back, value)).toBe(true)
    }
  })

  it('keeps the holes of a sparse array', () => {
    const sparse: number[] = []
    sparse[0] = 1
    sparse[3] = 4
    const back = roundTrip(sparse) as number[]
    expect(back).toHaveLength(4)
    expect(1 in back).toBe(false)
    expect(back[3]).toBe(4)
    expect(back).toStrictEqual(sparse)
  })

  it('round-trips every kind of typed array, with its type', () => {
    const arrays = [
      new Int8Array([-1, 2]),
      new Uint8Array([1, 255]),
      new Uint8ClampedArray([0, 255]),
      new Int16Array([-300, 300]),
      new Uint16Array([65535]),
      new Int32Array([-70000]),
      new Uint32Array([4_000_000_000]),
      new Float32Array([1.5, -2.25]),
      new Float64Array([Math.PI, Number.NaN]),
      new BigInt64Array([-(2n ** 63n)]),
      new BigUint64Array([2n ** 64n - 1n]),
    ]
    for (const array of arrays) {
      const back = roundTrip(array)
      expect(back).toBeInstanceOf(array.constructor)
      expect(back).toStrictEqual(array)
    }
  })

  it('gives a Buffer back as a Buffer, and a view as just its bytes', () => {
    const back = roundTrip({
      buffer: Buffer.from('héllo'),
      part: new Uint8Array([9, 1, 2, 9]).subarray(1, 3),
    }) as {
      buffer: Buffer
      part: Uint8Array
    }
    expect(Buffer.isBuffer(back.buffer)).toBe(true)
    expect(back.buffer.toString()).toBe('héllo')
    expect([...back.part]).toStrictEqual([1, 2])
  })

  it('round-trips circular structures and keeps shared references shared', () => {
    const shared = { id: 7 }
    const node: Record<string, unknown> = { name: 'root', left: shared, right: shared }
    node.self = node
    const back = roundTrip(node) as Record<string, unknown>
    expect(back.self).toBe(back)
    expect(back.left).toBe(back.right)
    expect(back.left).toStrictEqual({ id: 7 })
  })

  it('round-trips deep nesting, both below and beyond the JSON scan depth', () => {
    for (const levels of [60, 500]) {
      const back = roundTrip(chain(levels))
      expect(depthOf(back)).toBe(levels)
    }
    expect(usesV8(chain(60))).toBe(false)
    expect(usesV8(chain(500))).toBe(true)
  })

  it('refuses nesting too deep to be read back, instead of storing an entry that always misses', () => {
    for (const value of [chain(3000), { first: new Date(0), rest: chain(3000) }, chain(100_000)]) {
      const error = errorOf(() => encodeEntry(entry(value), 'k'))
      expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
      expect(error.message).toBe(
        'value for key "k" cannot be cached: it is nested too deeply (Maximum call stack size exceeded)',
      )
    }
  })

  it('writes class instances as their own enumerable data and reads them back as plain objects', () => {
    class Point {
      #secret = 'hidden'
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      length() {
        return Math.hypot(this.x, this.y) + this.#secret.length
      }
    }
    const back = roundTrip({ at: new Point(3, 4) }) as { at: unknown }
    expect(back.at).toStrictEqual({ x: 3, y: 4 })
    expect(Object.getPrototypeOf(back.at)).toBe(Object.prototype)
  })

  it('reads a null-prototype object back as an ordinary object with the same data', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 })
    expect(usesV8(bare)).toBe(false)
    expect(roundTrip(bare)).toEqual({ a: 1 })
  })
})

describe('encodeEntry / decodeEntry: envelope', () => {
  it('writes the documented layout', () => {
    const bytes = encodeEntry(entry({ a: 1 }, [['t', '7']]), 'k')
    expect(Buffer.from(bytes).toString('hex')).toBe(
      'ca' + // magic
        '01' + // format version
        '02' + // flags: JSON payload, tagged
        '00008056febc7842' + // createdAt 1_700_000_000_000
        '0000be9ffebc7842' + // expiresAt 1_700_000_300_000
        '000064aefebc7842' + // staleUntil 1_700_000_360_000
        '0100' + // one tag
        '0100' +
        '74' + // "t"
        '0100' +
        '37' + // "7"
        Buffer.from('{"a":1}\n').toString('hex'),
    )
  })

  it('sets the v8 flag for a v8 payload', () => {
    const bytes = encodeEntry(entry(new Date(0)), 'k')
    expect(bytes[0]).toBe(0xca)
    expect(bytes[1]).toBe(1)
    expect(bytes[2]).toBe(0b01)
  })

  it('round-trips times and tags', () => {
    const tags: TagStamp[] = [
      ['faculty:EEMCS', '1718000000000-3'],
      ['ünïcode 🚀', ''],
      ['', 'x'],
    ]
    const decoded = decodeEntry(encodeEntry(entry(new Map([[1, 2]]), tags), 'k'))
    expect(decoded).toStrictEqual({
      value: new Map([[1, 2]]),
      createdAt: CREATED,
      expiresAt: EXPIRES,
      staleUntil: STALE,
      tags,
    })
  })

  it('keeps "no tags" and "no expiry" apart from an empty tag list', () => {
    const untagged = decodeEntry(
      encodeEntry({ value: 1, createdAt: 5, expiresAt: 0, staleUntil: 0, tags: undefined }, 'k'),
    )
    expect(untagged).toStrictEqual({ value: 1, createdAt: 5, expiresAt: 0, staleUntil: 0, tags: undefined })
    expect(decodeEntry(encodeEntry(entry('v', []), 'k'))!.tags).toStrictEqual([])
  })

  it('reads from any Uint8Array: plain, a view into a larger buffer, another realm', () => {
    const bytes = encodeEntry(entry({ list: [1, 2] }, [['a', '1']]), 'k')
    const plain = new Uint8Array(bytes)
    const inside = new Uint8Array(bytes.length + 10)
    inside.set(bytes, 5)
    const foreign = runInNewContext('new Uint8Array(length)', { length: bytes.length }) as Uint8Array
    foreign.set(bytes)
    for (const view of [plain, inside.subarray(5, 5 + bytes.length), foreign]) {
      expect(decodeEntry(view)).toStrictEqual(decodeEntry(bytes))
    }
  })

  it('does not share memory with the value it encoded', () => {
    const value = { list: [1, 2], bytes: new Uint8Array([1, 2]) }
    const encoded = encodeEntry(entry(value), 'k')
    value.list.push(3)
    value.bytes[0] = 99
    expect(decodeEntry(encoded)!.value).toStrictEqual({ list: [1, 2], bytes: new Uint8Array([1, 2]) })
  })

  it('decodes a fresh copy every time: changing one decoded value changes neither the bytes nor the next', () => {
    for (const value of [
      { list: [1, 2], nested: { a: 1 } },
      { map: new Map([['k', [1]]]), when: new Date(0) },
      {
        map: new Map([['k', [1]]]),
        bytes: new Uint8Array([1, 2, 3]),
        buffer: Buffer.from('ab'),
        when: new Date(0),
      },
    ]) {
      const encoded = encodeEntry(entry(value), 'k')
      const before = Buffer.from(encoded)
      const first = decodeEntry(encoded)!.value as Record<string, any>
      if ('list' in first) {
        first.list.push(3)
        first.nested.a = 2
      } else {
        first.map.get('k').push(2)
        first.when.setTime(1)
        if (first.bytes) {
          first.bytes[0] = 42
          first.buffer.write('zz')
          expect(first.bytes.buffer).not.toBe(encoded.buffer)
        }
      }
      expect(Buffer.from(encoded).equals(before)).toBe(true)
      expect(decodeEntry(encoded)!.value).toStrictEqual(value)
    }
  })
})

describe('decodeEntry: anything else reads as undefined', () => {
  const samples: [string, Uint8Array][] = [
    [
      'a tagged JSON entry',
      encodeEntry(
        entry({ a: [1, 'two'] }, [
          ['tag', '1'],
          ['other', '22'],
        ]),
        'k',
      ),
    ],
    ['a tagged v8 entry', encodeEntry(entry(new Map([['d', new Date(0)]]), [['tag', '1']]), 'k')],
    ['a number', encodeEntry(entry(123456), 'k')],
    ['a string', encodeEntry(entry('text'), 'k')],
    ['undefined', encodeEntry(entry(undefined), 'k')],
  ]

  it.each(samples)('rejects every truncation of %s', (_name, bytes) => {
    for (let length = 0; length < bytes.length; length++) {
      const cut = bytes.subarray(0, length)
      if (decodeEntry(cut) !== undefined)
        throw new Error(`a cut to ${length} of ${bytes.length} bytes decoded`)
    }
    expect(decodeEntry(bytes)).toBeDefined()
  })

  it('rejects another magic, a future format version and unknown flags', () => {
    const bytes = encodeEntry(entry({ a: 1 }), 'k')
    const change = (index: number, byte: number) => {
      const copy = Buffer.from(bytes)
      copy[index] = byte
      return copy
    }
    expect(decodeEntry(change(0, 0xcb))).toBeUndefined()
    expect(decodeEntry(change(1, 2))).toBeUndefined()
    expect(decodeEntry(change(1, 0))).toBeUndefined()
    expect(decodeEntry(change(2, 0b100))).toBeUndefined()
    expect(decodeEntry(change(2, 0x80))).toBeUndefined()
  })

  it('rejects a JSON payload marked as v8 and a v8 payload marked as JSON', () => {
    const json = Buffer.from(encodeEntry(entry({ a: 1 }), 'k'))
    json[2] = 0b01
    expect(decodeEntry(json)).toBeUndefined()
    const v8 = Buffer.from(encodeEntry(entry(new Date(0)), 'k'))
    v8[2] = 0
    expect(decodeEntry(v8)).toBeUndefined()
  })

  it('rejects tag sections that run past the end', () => {
    const bytes = Buffer.from(encodeEntry(entry('v', [['tag', '1']]), 'k'))
    const manyTags = Buffer.from(bytes)
    manyTags.writeUInt16LE(500, 27)
    expect(decodeEntry(manyTags)).toBeUndefined()
    const longTag = Buffer.from(bytes)
    longTag.writeUInt16LE(60_000, 29)
    expect(decodeEntry(longTag)).toBeUndefined()
  })

  it('rejects times that are not finite, non-negative numbers', () => {
    for (const time of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      for (const offset of [3, 11, 19]) {
        const bytes = Buffer.from(encodeEntry(entry('v'), 'k'))
        bytes.writeDoubleLE(time, offset)
        expect(decodeEntry(bytes)).toBeUndefined()
      }
    }
  })

  it('rejects a payload that does not parse', () => {
    const header = Buffer.from(encodeEntry(entry(1), 'k')).subarray(0, 27)
    expect(decodeEntry(Buffer.concat([header, Buffer.from('{"a":\n')]))).toBeUndefined()
    expect(decodeEntry(Buffer.concat([header, Buffer.from('\n')]))).toBeUndefined()
    const v8Header = Buffer.from(header)
    v8Header[2] = 0b01
    expect(decodeEntry(Buffer.concat([v8Header, Buffer.from([0xff, 0x0f, 0x6f, 0x22])]))).toBeUndefined()
    expect(decodeEntry(v8Header)).toBeUndefined()
  })

  it('rejects bytes of other writers and of no writer at all', () => {
    const noise = pseudoRandomBytes(42)
    const randomBuffers = Array.from({ length: 200 }, (_, i) =>
      Uint8Array.from({ length: 1 + (i % 90) }, () => noise.next().value as number),
    )
    for (const bytes of [
      new Uint8Array(0),
      Buffer.from('{"value":1}'),
      Buffer.from('"plain string"'),
      serialize({ a: 1 }),
      new Uint8Array(64),
      ...randomBuffers,
    ]) {
      expect(decodeEntry(bytes)).toBeUndefined()
    }
  })

  it('rejects what is not a Uint8Array at all, without throwing', () => {
    const bytes = encodeEntry(entry(1), 'k')
    for (const input of [
      null,
      undefined,
      'string',
      42,
      {},
      bytes.buffer,
      new DataView(bytes.buffer),
      new Uint16Array(32),
      Array.from(bytes),
    ]) {
      expect(decodeEntry(input as never)).toBeUndefined()
    }
  })
})

describe('encodeEntry: values that cannot be cached', () => {
  it('refuses a function and names the cache, the key and where it is', () => {
    const error = errorOf(() => encodeEntry(entry({ name: 'x', handler: () => 1 }), 'k', 'queries'))
    expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
    expect(error.cache).toBe('queries')
    expect(error.key).toBe('k')
    expect(error.message).toBe(
      'cache "queries": value for key "k" cannot be cached: functions cannot be serialized (at value.handler)',
    )
  })

  it('refuses functions and symbols at any depth, also next to v8-only values', () => {
    const cases: [unknown, string][] = [
      [() => 1, 'functions cannot be serialized (at value)'],
      [Symbol('s'), 'symbols cannot be serialized (at value)'],
      [{ a: [{ 'b c': Symbol('s') }] }, 'symbols cannot be serialized (at value.a[0]["b c"])'],
      [
        { when: new Date(0), list: [1, function load() {}] },
        'functions cannot be serialized (at value.list[1])',
      ],
      [new Map([['fn', () => 1]]), 'functions cannot be serialized (at value.get("fn"))'],
      [new Set([1, Symbol('member')]), 'symbols cannot be serialized (at value[<Set member>])'],
      [{ big: 1n, nested: { toJSON: () => 'x' } }, 'functions cannot be serialized (at value.nested.toJSON)'],
    ]
    for (const [value, reason] of cases) {
      const error = errorOf(() => encodeEntry(entry(value), 'user:1'))
      expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
      expect(error.cache).toBeUndefined()
      expect(error.message).toBe(`value for key "user:1" cannot be cached: ${reason}`)
    }
  })

  it('refuses objects v8 cannot clone, with its reason', () => {
    const error = errorOf(() => encodeEntry(entry({ pending: Promise.resolve(1) }), 'k', 'queries'))
    expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
    expect(error.message).toBe(
      'cache "queries": value for key "k" cannot be cached: #<Promise> could not be cloned',
    )
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('quotes keys that need quoting', () => {
    expect(
      errorOf(() =>
        encodeEntry(
          entry(() => 1),
          'a"b\n',
        ),
      ).message,
    ).toBe('value for key "a\\"b\\n" cannot be cached: functions cannot be serialized (at value)')
  })

  it('refuses malformed metadata', () => {
    const bad: [Partial<Entry>, string][] = [
      [
        { createdAt: Number.NaN },
        'its createdAt must be a finite, non-negative number of epoch milliseconds',
      ],
      [{ expiresAt: -1 }, 'its expiresAt must be a finite, non-negative number of epoch milliseconds'],
      [
        { staleUntil: Number.POSITIVE_INFINITY },
        'its staleUntil must be a finite, non-negative number of epoch milliseconds',
      ],
      [{ tags: [['t', 1 as unknown as string]] }, 'each tag must be a [tag, epoch] pair of strings'],
      [{ tags: [['x'.repeat(70_000), '1']] }, `tag "${'x'.repeat(40)}"… is longer than 65535 bytes`],
    ]
    for (const [change, problem] of bad) {
      const error = errorOf(() => encodeEntry({ ...entry(1), ...change }, 'k', 'queries'))
      expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
      expect(error.message).toBe(`cache "queries": entry for key "k" cannot be cached: ${problem}`)
    }
  })
})

describe('cloneValue', () => {
  it('copies JSON data deeply', () => {
    const value = { a: [1, { b: 'c' }], d: null }
    const copy = cloneValue(value)
    expect(copy).toStrictEqual(value)
    expect(copy).not.toBe(value)
    copy.a.push(2)
    expect(value.a).toHaveLength(2)
  })

  it('copies what only v8 can, like a round trip would', () => {
    const value = {
      when: new Date(0),
      map: new Map<unknown, unknown>([[{ k: 1 }, new Set([1n])]]),
      bytes: Buffer.from('ab'),
      missing: undefined,
      negativeZero: -0,
    }
    const copy = cloneValue(value)
    expect(copy).toStrictEqual(value)
    expect(Object.is(copy.negativeZero, -0)).toBe(true)
    copy.bytes[0] = 0
    copy.when.setTime(5)
    expect(value.bytes.toString()).toBe('ab')
    expect(value.when.getTime()).toBe(0)
  })

  it('returns primitives as they are', () => {
    for (const value of ['s', 1, -0, Number.NaN, 10n, true, null, undefined]) {
      expect(Object.is(cloneValue(value), value)).toBe(true)
    }
  })

  it('turns class instances into plain objects, as the codec does', () => {
    class Box {
      constructor(readonly size: number) {}
    }
    const copy = cloneValue(new Box(3))
    expect(copy).toStrictEqual({ size: 3 })
    expect(copy).not.toBeInstanceOf(Box)
  })

  it('copies circular structures', () => {
    const value: Record<string, unknown> = { n: 1 }
    value.self = value
    const copy = cloneValue(value)
    expect(copy.self).toBe(copy)
    expect(copy).not.toBe(value)
  })

  it('refuses functions and symbols like the codec', () => {
    const error = errorOf(() => cloneValue({ on: { click() {} } }))
    expect(error.code).toBe(ErrorCodes.UNSERIALIZABLE)
    expect(error.message).toBe('value cannot be copied: functions cannot be serialized (at value.on.click)')
    expect(errorOf(() => cloneValue(Symbol('s'))).message).toBe(
      'value cannot be copied: symbols cannot be serialized (at value)',
    )
  })
})

describe('DecodeMemo (in-process stores)', () => {
  it('decodes once and hands every caller its own copy', async () => {
    const { DecodeMemo } = await import('../src/codec.js')
    const memo = new DecodeMemo()
    const value = JSON.parse('{"counts":{"ToDo":1},"list":[1,[2]],"__proto__":{"polluted":true}}')
    const bytes = encodeEntry({ value, createdAt: 1, expiresAt: 0, staleUntil: 0, tags: undefined }, 'k')
    const first = memo.decode(bytes)!
    const second = memo.decode(bytes)!
    expect(second.value).toEqual(first.value)
    ;(first.value as { counts: { ToDo: number } }).counts.ToDo = 99
    ;(first.value as { list: unknown[] }).list.push(3)
    expect(memo.decode(bytes)!.value).toEqual(value)
    // An own "__proto__" key stays data; it never becomes the copy's prototype.
    expect(Object.getPrototypeOf(second.value)).toBe(Object.prototype)
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
    expect(Object.keys(second.value as object)).toContain('__proto__')
  })

  it('decodes v8 payloads afresh, so Buffers stay Buffers and copies stay separate', async () => {
    const { DecodeMemo } = await import('../src/codec.js')
    const memo = new DecodeMemo()
    const bytes = encodeEntry(
      { value: { b: Buffer.from('ab') }, createdAt: 1, expiresAt: 0, staleUntil: 0, tags: undefined },
      'k',
    )
    const first = memo.decode(bytes)!.value as { b: Buffer }
    first.b[0] = 0
    const second = memo.decode(bytes)!.value as { b: Buffer }
    expect(Buffer.isBuffer(second.b)).toBe(true)
    expect(second.b.toString()).toBe('ab')
  })
})
