import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { boundKey, canonicalize, digestArgs, sha256 } from '../src/digest.js'
import { ErrorCodes } from '../src/errors.js'
import { errorOf } from './helpers/errors.js'

function nested(levels: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

const HINT = 'which has no stable cache key: pass a "key" option that picks the data the result depends on'

describe('canonicalize', () => {
  // Golden values: the canonical text is what sits in the store, so any change to it must be a
  // deliberate, versioned decision — these fail on an accidental one.
  it.each<[string, unknown, string]>([
    ['a string', 'EEMCS', '"EEMCS"'],
    ['a string that needs escaping', 'a"b\\c\nd', '"a\\"b\\\\c\\nd"'],
    ['a lone surrogate', '\ud800x', '"\\ud800x"'],
    ['non-ASCII text', 'zoë 🚀', '"zoë 🚀"'],
    ['an integer', 42, '42'],
    ['a fraction', 1.5, '1.5'],
    ['a large number', 1e21, '1e+21'],
    ['negative zero', -0, '-0'],
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['-Infinity', Number.NEGATIVE_INFINITY, '-Infinity'],
    ['a bigint', -12n, '-12n'],
    ['true', true, 'true'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    // biome-ignore lint/suspicious/noSparseArray: the hole is what this case is about
    ['an array with a hole', [1, , 3], '[1,undefined,3]'],
    [
      'an object',
      { page: 3, faculty: 'EEMCS', status: ['ToDo'] },
      '{"faculty":"EEMCS","page":3,"status":["ToDo"]}',
    ],
    ['an object with undefined values', { a: undefined, b: 1 }, '{"b":1}'],
    ['a Date', new Date(Date.UTC(2024, 0, 1)), 'D"2024-01-01T00:00:00.000Z"'],
    ['an invalid Date', new Date(Number.NaN), 'D"invalid"'],
    [
      'a Map',
      new Map<unknown, unknown>([
        ['b', 1],
        [2, 'x'],
        ['a', [true]],
      ]),
      'M{"a"=>[true],"b"=>1,2=>"x"}',
    ],
    ['a Set', new Set<unknown>(['b', 2, 'a']), 'S["a","b",2]'],
    ['a Uint8Array', new Uint8Array([1, 2, 3]), 'Uint8Array<AQID>'],
    ['a Buffer', Buffer.from('hi'), 'Buffer<aGk=>'],
    ['a Float64Array', new Float64Array([1]), 'Float64Array<AAAAAAAA8D8=>'],
    ['a Uint16Array, little-endian', new Uint16Array([1, 513]), 'Uint16Array<AQABAg==>'],
    ['a view of part of a buffer', new Uint8Array([9, 1, 2, 9]).subarray(1, 3), 'Uint8Array<AQI=>'],
    ['a DataView', new DataView(new Uint8Array([255, 0]).buffer), 'DataView</wA=>'],
    ['an ArrayBuffer', new Uint8Array([7]).buffer, 'ArrayBuffer<Bw==>'],
    ['a RegExp', /a.b\//gi, 'R"/a.b\\\\//gi"'],
    ['a URL', new URL('https://example.org/a b?q=1'), 'U"https://example.org/a%20b?q=1"'],
  ])('writes %s as its golden text', (_name, value, expected) => {
    expect(canonicalize(value)).toBe(expected)
  })

  it('quotes every UTF-16 code unit exactly as JSON.stringify does', () => {
    for (let code = 0; code <= 0xffff; code++) {
      const text = `a${String.fromCharCode(code)}b`
      if (canonicalize(text) !== JSON.stringify(text))
        throw new Error(`code unit ${code.toString(16)} differs`)
    }
    const long = `${'x'.repeat(64)}"\n\ud800🚀`
    expect(canonicalize(long)).toBe(JSON.stringify(long))
  })

  it('ignores object key order, at every depth', () => {
    const a = { x: 1, y: { p: [1, { m: 1, n: 2 }], q: 2 } }
    const b = { y: { q: 2, p: [1, { n: 2, m: 1 }] }, x: 1 }
    expect(canonicalize(a)).toBe(canonicalize(b))
    expect(canonicalize(a)).toBe('{"x":1,"y":{"p":[1,{"m":1,"n":2}],"q":2}}')
  })

  it('sorts keys by code unit, also keys that look like array indices', () => {
    // Object.keys lists integer-like keys first in numeric order; the text must not depend on that.
    expect(canonicalize({ 9: 'a', 10: 'b', B: 1, a: 2 })).toBe('{"10":"b","9":"a","B":1,"a":2}')
  })

  it('ignores the insertion order of maps and sets', () => {
    const entries: [unknown, unknown][] = [
      ['a', 1],
      [{ k: 1 }, 2],
      [3, new Set([1, 2])],
    ]
    expect(canonicalize(new Map(entries))).toBe(canonicalize(new Map([...entries].reverse())))
    expect(canonicalize(new Set(['x', 1, null]))).toBe(canonicalize(new Set([null, 1, 'x'])))
  })

  it('orders map entries with equal-looking keys by their values', () => {
    const a = new Map<unknown, unknown>([
      [{ id: 1 }, 'first'],
      [{ id: 1 }, 'second'],
    ])
    const b = new Map<unknown, unknown>([
      [{ id: 1 }, 'second'],
      [{ id: 1 }, 'first'],
    ])
    expect(canonicalize(a)).toBe('M{{"id":1}=>"first",{"id":1}=>"second"}')
    expect(canonicalize(b)).toBe(canonicalize(a))
  })

  it('treats null-prototype objects and objects of another realm as plain objects', () => {
    const bare = Object.assign(Object.create(null) as object, { b: 1, a: 2 })
    expect(canonicalize(bare)).toBe('{"a":2,"b":1}')
    expect(canonicalize(runInNewContext('({ b: 1, a: 2 })'))).toBe('{"a":2,"b":1}')
  })

  it('ignores symbol keys and non-enumerable properties', () => {
    const value = { a: 1, [Symbol('s')]: 2 }
    Object.defineProperty(value, 'hidden', { value: 3, enumerable: false })
    expect(canonicalize(value)).toBe('{"a":1}')
  })

  it('uses the result of toJSON() for class instances that have one', () => {
    class Money {
      constructor(
        readonly cents: number,
        readonly currency: string,
      ) {}
      toJSON() {
        return { currency: this.currency, cents: this.cents }
      }
    }
    expect(canonicalize(new Money(150, 'EUR'))).toBe('{"cents":150,"currency":"EUR"}')
    expect(canonicalize([new Money(1, 'EUR')])).toBe(canonicalize([{ cents: 1, currency: 'EUR' }]))
  })

  it('keeps a shared, non-circular object', () => {
    const shared = { id: 1 }
    expect(canonicalize([shared, { again: shared }])).toBe('[{"id":1},{"again":{"id":1}}]')
  })

  it('gives values of different types different texts', () => {
    const date = new Date(Date.UTC(2024, 0, 1))
    const tricky: unknown[] = [
      1,
      '1',
      1n,
      0,
      -0,
      '0',
      Number.NaN,
      'NaN',
      Number.POSITIVE_INFINITY,
      'Infinity',
      Number.NEGATIVE_INFINITY,
      null,
      'null',
      undefined,
      'undefined',
      true,
      'true',
      '',
      [],
      [''],
      [[]],
      {},
      [1, '2'],
      ['1', 2],
      [1, 2],
      [[1, 2]],
      [[1], [2]],
      '1,2',
      date,
      date.toISOString(),
      new Date(Number.NaN),
      'invalid',
      new Map([['a', 1]]),
      { a: 1 },
      [['a', 1]],
      new Map(),
      new Set([1]),
      new Set(['1']),
      [1],
      new Set(),
      new Uint8Array([1]),
      Buffer.from([1]),
      new Int8Array([1]),
      new Uint16Array([1]),
      new DataView(new Uint8Array([1]).buffer),
      new Uint8Array([1]).buffer,
      new Uint8Array([]),
      /a/,
      '/a/',
      new URL('http://a.example/'),
      'http://a.example/',
      [null],
      [undefined],
      { a: null },
      { a: 'null' },
      { a: [] },
      new Map<unknown, unknown>([[1, 'a']]),
      new Map<unknown, unknown>([['1', 'a']]),
    ]
    const texts = tricky.map((value) => canonicalize(value))
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        if (texts[i] === texts[j]) {
          throw new Error(`values #${i} and #${j} share the text ${texts[i]}`)
        }
      }
    }
    expect(new Set(texts).size).toBe(tricky.length)
  })

  it('never produces text that starts with "#"', () => {
    for (const value of ['#', ['#'], { '#': 1 }, new Set(['#']), 0, -1]) {
      expect(canonicalize(value).startsWith('#')).toBe(false)
    }
  })
})

describe('canonicalize refusals', () => {
  it('names the class of an instance without toJSON', () => {
    class HttpClient {
      base = 'http://x'
    }
    const error = errorOf(() => canonicalize({ client: new HttpClient() }))
    expect(error.code).toBe(ErrorCodes.UNKEYABLE)
    expect(error.message).toBe(
      `value.client is an instance of HttpClient, ${HINT}, or give the class a toJSON()`,
    )
  })

  it('refuses functions and symbols wherever they are, with their path', () => {
    expect(errorOf(() => canonicalize(function load() {})).message).toBe(
      `value is a function (load), ${HINT}`,
    )
    expect(errorOf(() => canonicalize({ a: { 'b-c': [0, Symbol('x')] } })).message).toBe(
      `value.a["b-c"][1] is a symbol, ${HINT}`,
    )
    expect(errorOf(() => canonicalize(new Map([['k', () => 1]]))).message).toBe(
      `value.get("k") is a function, ${HINT}`,
    )
    expect(errorOf(() => canonicalize(new Map([[Symbol('k'), 1]]))).message).toBe(
      `value[<Map key>] is a symbol, ${HINT}`,
    )
    expect(errorOf(() => canonicalize(new Set([1, Symbol('m')]))).message).toBe(
      `value[<Set member>] is a symbol, ${HINT}`,
    )
  })

  it('refuses circular structures', () => {
    const node: Record<string, unknown> = { id: 1 }
    node.children = [{ parent: node }]
    const error = errorOf(() => canonicalize(node))
    expect(error.code).toBe(ErrorCodes.UNKEYABLE)
    expect(error.message).toBe(
      `value.children[0].parent is a circular reference (it contains itself), ${HINT}`,
    )
  })

  it('refuses a toJSON() that returns the instance itself instead of looping', () => {
    class Selfish {
      toJSON() {
        return this
      }
    }
    expect(errorOf(() => canonicalize(new Selfish())).message).toBe(
      `value.toJSON() is a circular reference (it contains itself), ${HINT}`,
    )
  })

  it('accepts 64 levels of nesting and refuses 65', () => {
    expect(canonicalize(nested(64))).toBe(`${'['.repeat(64)}"leaf"${']'.repeat(64)}`)
    const error = errorOf(() => canonicalize(nested(65)))
    expect(error.code).toBe(ErrorCodes.UNKEYABLE)
    expect(error.message).toBe(`value is nested deeper than 64 levels, ${HINT}`)
  })

  it('keeps the error of a throwing toJSON() as the cause', () => {
    const boom = new Error('boom')
    class Fragile {
      toJSON(): never {
        throw boom
      }
    }
    const error = errorOf(() => canonicalize([new Fragile()]))
    expect(error.code).toBe(ErrorCodes.UNKEYABLE)
    expect(error.message).toBe(`value[0] is an instance of Fragile whose toJSON() threw, ${HINT}`)
    expect(error.cause).toBe(boom)
  })
})

describe('digestArgs', () => {
  it('joins the texts of the arguments', () => {
    expect(digestArgs([42, { faculty: 'EEMCS', status: ['ToDo', 'Done'], page: 3 }])).toBe(
      '42,{"faculty":"EEMCS","page":3,"status":["ToDo","Done"]}',
    )
  })

  it('gives "()" for a call without arguments', () => {
    expect(digestArgs([])).toBe('()')
    expect(digestArgs([undefined])).toBe('()')
  })

  it('drops trailing undefined arguments only', () => {
    expect(digestArgs([1, undefined])).toBe(digestArgs([1]))
    expect(digestArgs([1, undefined, undefined])).toBe('1')
    expect(digestArgs([undefined, 1])).toBe('undefined,1')
    expect(digestArgs([1, undefined, 2])).toBe('1,undefined,2')
    expect(digestArgs([1, null])).toBe('1,null')
  })

  it('tells apart argument lists that would join to the same words', () => {
    const calls: unknown[][] = [[1, 2], [[1, 2]], ['1,2'], ['1', '2'], [1, '2'], ['1', 2], [[1], 2], []]
    const keys = calls.map((args) => digestArgs(args))
    expect(new Set(keys).size).toBe(calls.length)
  })

  it('hashes text longer than maxLength into "#" and 43 base64url characters', () => {
    const longArg = 'x'.repeat(200)
    const key = digestArgs([longArg])
    expect(key).toBe(`#${sha256(`"${longArg}"`)}`)
    expect(key).toMatch(/^#[A-Za-z0-9_-]{43}$/)
    expect(digestArgs(['y'.repeat(200)])).not.toBe(key)
  })

  it('keeps text of exactly maxLength as it is', () => {
    expect(digestArgs(['abc'], 5)).toBe('"abc"')
    expect(digestArgs(['abcd'], 5)).toBe(`#${sha256('"abcd"')}`)
    expect(digestArgs(['x'.repeat(98)])).toBe(`"${'x'.repeat(98)}"`)
    expect(digestArgs(['x'.repeat(99)])).toMatch(/^#/)
  })

  it('names the argument (counted from 1) of a refusal and keeps the first error as the cause', () => {
    class HttpClient {}
    const boom = new Error('boom')
    const error = errorOf(() => digestArgs([42, new HttpClient()]))
    expect(error.code).toBe(ErrorCodes.UNKEYABLE)
    expect(error.message).toBe(
      `argument 2 is an instance of HttpClient, ${HINT}, or give the class a toJSON()`,
    )
    expect(errorOf(() => digestArgs([1, 2, { on: { click: () => 1 } }])).message).toBe(
      `argument 3.on.click is a function (click), ${HINT}`,
    )
    class Fragile {
      toJSON(): never {
        throw boom
      }
    }
    const fragile = errorOf(() => digestArgs([{ f: new Fragile() }]))
    expect(fragile.message).toBe(`argument 1.f is an instance of Fragile whose toJSON() threw, ${HINT}`)
    expect(fragile.cause).toBe(boom)
  })

  it('gives the same key in separate processes, whatever the insertion order', () => {
    const child = fileURLToPath(new URL('./fixtures/digest-child.ts', import.meta.url))
    const run = (order: string, timeZone: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', tsxLoader(), child, order], {
          encoding: 'utf8',
          env: { ...process.env, TZ: timeZone, LANG: 'tr_TR.UTF-8' },
        }),
      ) as { text: string; key: string }
    const first = run('forward', 'UTC')
    const second = run('reverse', 'Asia/Tokyo')

    // The same call, built here in yet another order.
    const here = [
      42,
      {
        text: 'zoë 🚀 "quoted"',
        bytes: new Uint16Array([1, 513]),
        limits: new Map<unknown, unknown>([
          [7, -0],
          [{ a: 1, b: 2 }, 'obj'],
          ['max', 10n],
        ]),
        owners: new Set(['grace', 'ada', 'edsger']),
        since: new Date(Date.UTC(2024, 0, 31, 12)),
        page: 3,
        status: ['ToDo', 'Done'],
        faculty: 'EEMCS',
      },
    ]
    expect(first).toEqual(second)
    expect(first.text).toBe(digestArgs(here, Number.POSITIVE_INFINITY))
    expect(first.key).toBe(digestArgs(here))
    expect(first.text).toBe(
      '42,{"bytes":Uint16Array<AQABAg==>,"faculty":"EEMCS","limits":M{"max"=>10n,7=>-0,{"a":1,"b":2}=>"obj"},' +
        '"owners":S["ada","edsger","grace"],"page":3,"since":D"2024-01-31T12:00:00.000Z",' +
        '"status":["ToDo","Done"],"text":"zoë 🚀 \\"quoted\\""}',
    )
    expect(first.key).toBe('#NxOaGxGeGPcakD3a98_5B9sy_Mj0XQ5m4IIwQk2uDy4')
    // Two Node processes start here; on a busy machine that alone can take several seconds.
  }, 60_000)
})

describe('boundKey', () => {
  it('leaves keys up to maxLength alone', () => {
    expect(boundKey('short', 10)).toBe('short')
    expect(boundKey('x'.repeat(200), 200)).toBe('x'.repeat(200))
  })

  it('keeps a readable head and ends longer keys in "#" and their SHA-256', () => {
    const key = `filter_counts:${'a'.repeat(300)}`
    const bounded = boundKey(key, 200)
    expect(bounded).toBe(`${key.slice(0, 157)}#${sha256(key)}`)
    expect(bounded.startsWith('filter_counts:aaa')).toBe(true)
  })

  it('is longer than maxLength, so it is never a key that was kept as written', () => {
    for (const maxLength of [64, 100, 200]) {
      const key = 'k'.repeat(maxLength + 1)
      expect(boundKey(key, maxLength)).toHaveLength(maxLength + 1)
      // Naming the bounded form gives another long key, bounded to something else again.
      expect(boundKey(boundKey(key, maxLength), maxLength)).not.toBe(boundKey(key, maxLength))
    }
  })

  it('tells apart long keys that share their head', () => {
    const head = 'p:'.repeat(100)
    expect(boundKey(`${head}one`, 100)).not.toBe(boundKey(`${head}two`, 100))
  })

  it('keeps a surrogate pair whole rather than cutting it in half', () => {
    const key = `${'a'.repeat(56)}🚀${'b'.repeat(100)}`
    const bounded = boundKey(key, 100)
    expect(bounded).toBe(`${'a'.repeat(56)}🚀#${sha256(key)}`)
    // Only a well-formed string survives a UTF-8 round trip unchanged.
    expect(Buffer.from(bounded, 'utf8').toString('utf8')).toBe(bounded)
  })

  it('is the bare hash when maxLength leaves no room for a head', () => {
    expect(boundKey('x'.repeat(50), 20)).toBe(`#${sha256('x'.repeat(50))}`)
  })
})

describe('sha256', () => {
  it('is the base64url SHA-256 of the UTF-8 text', () => {
    expect(sha256('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0')
    expect(sha256('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU')
    for (const text of ['zoë 🚀', 'x'.repeat(10_000)]) {
      expect(sha256(text)).toBe(createHash('sha256').update(text, 'utf8').digest('base64url'))
      expect(sha256(text)).toHaveLength(43)
    }
  })
})

/**
 * The tsx loader for the child processes: this package's own when it lists tsx, otherwise the one
 * installed beside vite (tsx is vite's optional peer dependency, so the test toolchain has it).
 */
function tsxLoader(): string {
  const here = createRequire(import.meta.url)
  try {
    return pathToFileURL(here.resolve('tsx')).href
  } catch {
    return pathToFileURL(createRequire(here.resolve('vite')).resolve('tsx')).href
  }
}
