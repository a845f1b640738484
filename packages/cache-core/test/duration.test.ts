import { describe, expect, it } from 'vitest'
import { parseDuration, parseOptionalDuration } from '../src/duration.js'
import { ErrorCodes } from '../src/errors.js'
import { errorOf } from './helpers/errors.js'

const where = { cache: 'queries', field: 'ttl' }

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1.5h', 5_400_000],
    ['0ms', 0],
    ['0.5s', 500],
    ['1.1s', 1100],
    ['0.25m', 15_000],
    ['  5m  ', 300_000],
    ['5 m', 300_000],
    ['\t10s\n', 10_000],
    ['3650d', 315_360_000_000],
    ['007s', 7000],
  ])('reads %j as %d ms', (input, expected) => {
    expect(parseDuration(input, where)).toBe(expected)
  })

  it('rounds fractional milliseconds up, so a tiny TTL never becomes zero', () => {
    expect(parseDuration('0.1ms', where)).toBe(1)
    expect(parseDuration('1.0001s', where)).toBe(1001)
    expect(parseDuration('0.0000001s', where)).toBe(1)
    expect(parseDuration(0.2, where)).toBe(1)
    expect(parseDuration(1500.5, where)).toBe(1501)
  })

  it('takes numbers as milliseconds', () => {
    expect(parseDuration(0, where)).toBe(0)
    expect(parseDuration(250, where)).toBe(250)
    expect(Object.is(parseDuration(-0, where), 0)).toBe(true)
  })

  it('returns the same answer for a string it has seen before', () => {
    for (let i = 0; i < 3; i++) expect(parseDuration('45s', where)).toBe(45_000)
  })

  it('keeps parsing correctly after many distinct strings', () => {
    for (let i = 0; i < 3000; i++) expect(parseDuration(`${i}ms`, where)).toBe(i)
    expect(parseDuration('2m', where)).toBe(120_000)
  })

  it.each([
    ['five minutes'],
    ['300'],
    [''],
    ['   '],
    ['m'],
    ['-5m'],
    ['+5m'],
    ['5.m'],
    ['.5m'],
    ['5mm'],
    ['5M'],
    ['5w'],
    ['1e3ms'],
    ['5m 3s'],
    ['5 toString'],
    ['Infinityms'],
  ])('rejects the string %j', (input) => {
    const error = errorOf(() => parseDuration(input, where))
    expect(error.code).toBe(ErrorCodes.INVALID_DURATION)
    expect(error.cache).toBe('queries')
    expect(error.field).toBe('ttl')
    expect(error.message).toBe(
      `cache "queries": option "ttl" must be a duration like "5m" or a number of milliseconds, got ${JSON.stringify(input)}`,
    )
  })

  it.each([
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [null, 'null'],
    [undefined, 'undefined'],
    [true, 'true'],
    [5n, '5n'],
    [{ minutes: 5 }, 'an object'],
    [[5, 'm'], 'an array'],
  ])('rejects %s', (input, shown) => {
    const error = errorOf(() => parseDuration(input as never, where))
    expect(error.code).toBe(ErrorCodes.INVALID_DURATION)
    expect(error.message).toBe(
      `cache "queries": option "ttl" must be a duration like "5m" or a number of milliseconds, got ${shown}`,
    )
  })

  it('leaves the cache out of the message when it is not known', () => {
    const error = errorOf(() => parseDuration('soon', { field: 'lease.wait' }))
    expect(error.cache).toBeUndefined()
    expect(error.field).toBe('lease.wait')
    expect(error.message).toBe(
      'option "lease.wait" must be a duration like "5m" or a number of milliseconds, got "soon"',
    )
  })

  it('rejects durations longer than ten years as a likely typo', () => {
    for (const input of ['3651d', '3650.0001d', '87601h', 315_360_000_001, '999999999999999999999999d']) {
      const error = errorOf(() => parseDuration(input, where))
      expect(error.code).toBe(ErrorCodes.INVALID_DURATION)
      expect(error.message).toBe(
        `cache "queries": option "ttl" must be at most 10 years ("3650d", 315360000000 ms); a longer duration is taken for a typo, got ${typeof input === 'string' ? JSON.stringify(input) : input}`,
      )
    }
    expect(parseDuration(315_360_000_000, where)).toBe(315_360_000_000)
  })
})

describe('parseOptionalDuration', () => {
  it('passes undefined through and parses everything else', () => {
    expect(parseOptionalDuration(undefined, where)).toBeUndefined()
    expect(parseOptionalDuration('2s', where)).toBe(2000)
    expect(parseOptionalDuration(0, where)).toBe(0)
  })

  it('still rejects null and bad strings', () => {
    expect(errorOf(() => parseOptionalDuration(null as never, where)).code).toBe(ErrorCodes.INVALID_DURATION)
    expect(errorOf(() => parseOptionalDuration('ten', where)).code).toBe(ErrorCodes.INVALID_DURATION)
  })
})
