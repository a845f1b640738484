import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cached } from '../src/decorators.js'
import { canonicalize, digestArgs } from '../src/digest.js'
import { createCache } from '../src/index.js'
import { MapAdapter } from './helpers/adapters.js'

// Keys already in stores were written under these texts: a change to any of them orphans every entry
// of a deployed app. The table was taken from the key format as released; a deliberate change must
// bump the key format version and say so in the README, not edit this table.
const pinned: Array<[string, unknown[], string]> = [
  ['no arguments', [], '()'],
  ['an id', [42], '42'],
  [
    'an id and a filter',
    [42, { faculty: 'EEMCS', status: ['ToDo', 'Done'], page: 3 }],
    '42,{"faculty":"EEMCS","page":3,"status":["ToDo","Done"]}',
  ],
  [
    'a filter whose keys are out of order',
    [7, { page: 3, status: ['InProgress'], faculty: 'TPM', search: 'lecture "1"', archived: false }],
    '7,{"archived":false,"faculty":"TPM","page":3,"search":"lecture \\"1\\"","status":["InProgress"]}',
  ],
  ['empty object, array and string', [{}, [], ''], '{},[],""'],
  ['trailing undefined arguments', [1, undefined, undefined], '1'],
  ['an undefined argument between others', [1, undefined, 2], '1,undefined,2'],
  ['properties that are undefined, null or 0', [{ a: undefined, b: null, c: 0 }], '{"b":null,"c":0}'],
  ['numbers of every kind', [-0, 1.5, 1e21, Number.NaN, -Infinity, 12n], '-0,1.5,1e+21,NaN,-Infinity,12n'],
  [
    'nested objects and arrays',
    [{ z: { y: { x: [1, [2, [3]]] } }, a: true }],
    '{"a":true,"z":{"y":{"x":[1,[2,[3]]]}}}',
  ],
  [
    'dates, valid and invalid',
    [new Date(Date.UTC(2024, 0, 1)), { at: new Date(Number.NaN) }],
    'D"2024-01-01T00:00:00.000Z",{"at":D"invalid"}',
  ],
  [
    'a Map and a Set',
    [
      new Map([
        ['b', 1],
        ['a', 2],
      ]),
      new Set(['y', 'x']),
    ],
    'M{"a"=>2,"b"=>1},S["x","y"]',
  ],
  ['strings that need escaping', ['a"b\\c\nd', 'zoë 🚀', '\u0007'], '"a\\"b\\\\c\\nd","zoë 🚀","\\u0007"'],
  [
    'property names that need quoting or look like indices',
    [{ 'a b': 1, '"q"': 2, '10': 3, '9': 4 }],
    '{"\\"q\\"":2,"10":3,"9":4,"a b":1}',
  ],
  [
    'a long argument list, hashed',
    [{ text: 'x'.repeat(120) }],
    '#T8noaP4TJhrhT8_T4mE9m93f8d_7FWjhaR4PFOD-o10',
  ],
  ['a null-prototype object', [Object.assign(Object.create(null), { b: 2, a: 1 })], '{"a":1,"b":2}'],
  [
    'typed arrays, regular expressions and URLs',
    [new Uint8Array([1, 2, 3]), /a.b/g, new URL('https://example.org/a b')],
    'Uint8Array<AQID>,R"/a.b/g",U"https://example.org/a%20b"',
  ],
]

describe('key format', () => {
  const cache = createCache({ adapter: new MapAdapter(), keyPrefix: 'pin' })
  const filterCounts = cached(async (...args: unknown[]) => args.length, {
    cache,
    keyPrefix: 'filter_counts',
  })
  const byKey = cached(async (filter: { faculty?: string; page: number }) => filter.page, {
    cache,
    keyPrefix: 'by_key',
    key: (filter) => (filter.faculty === undefined ? filter : `${filter.faculty}:${filter.page}`),
  })

  it.each(pinned)('digests %s as released', (_name, args, expected) => {
    expect(digestArgs(args)).toBe(expected)
    expect(filterCounts.key(...args)).toBe(`filter_counts:${expected}`)
  })

  it('gives the same key to a call that builds its arguments afresh', () => {
    const build = () => [42, { page: 3, faculty: 'EEMCS', status: ['ToDo', 'Done'] }]
    expect(filterCounts.key(...build())).toBe(filterCounts.key(...build()))
    expect(filterCounts.key(...build())).toBe(`filter_counts:${pinned[2]![2]}`)
  })

  it('uses a key builder’s string as written and digests anything else it returns', () => {
    expect(byKey.key({ faculty: 'EEMCS', page: 2 })).toBe('by_key:EEMCS:2')
    expect(byKey.key({ page: 2 })).toBe('by_key:{"page":2}')
  })

  it('keeps the full stored key of a decorated call', () => {
    expect(cache.fullKey(filterCounts.key(42))).toBe('pin:1:filter_counts:42')
  })
})

describe('digestArgs and canonicalize agree', () => {
  // digestArgs writes common arguments by a shortcut; canonicalize always takes the full path. Any
  // value both accept must get one text from both, or keys would depend on which path ran.
  const leaf = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.double(),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date(),
  )
  const value = fc.letrec((tie) => ({
    any: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map')),
    array: fc.array(tie('any'), { maxLength: 4 }),
    object: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('10', '9', 'a b', '__proto__')), tie('any'), {
      maxKeys: 4,
    }),
    map: fc.array(fc.tuple(tie('any'), tie('any')), { maxLength: 3 }).map((pairs) => new Map(pairs)),
  })).any

  it('for any mix of primitives, arrays, plain objects, dates and maps', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 4 }), (args) => {
        let count = args.length
        while (count > 0 && args[count - 1] === undefined) count--
        const expected =
          count === 0
            ? '()'
            : args
                .slice(0, count)
                .map((arg) => canonicalize(arg))
                .join(',')
        expect(digestArgs(args, Number.MAX_SAFE_INTEGER)).toBe(expected)
      }),
      { numRuns: 2000 },
    )
  })

  it('names the same offending part whichever path finds it', () => {
    const circular: Record<string, unknown> = { a: 1 }
    circular.self = circular
    expect(() => digestArgs([1, { deep: [circular] }])).toThrow(
      /argument 2\.deep\[0\]\.self is a circular reference/,
    )
    expect(() => digestArgs([{ f: () => 1 }])).toThrow(/argument 1\.f is a function/)
  })
})
