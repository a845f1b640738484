/**
 * Redis-style globs and the keys each must and must not match, as Redis 7 itself answers `SCAN
 * MATCH`. Every adapter's `deleteByPattern` must agree with every row; the suite runs them with the
 * pattern and keys under a scope prefix (`<scope>:<pattern>` against `<scope>:<key>`).
 */
export interface GlobCase {
  /** The pattern, after the scope prefix. */
  readonly pattern: string
  /** Keys the pattern removes. */
  readonly matches: readonly string[]
  /** Keys the pattern leaves alone. */
  readonly misses: readonly string[]
}

/** The shared table; keys are short and few, so one store round trip per row is cheap. */
export const GLOB_CASES: readonly GlobCase[] = [
  // * and ?
  { pattern: '*', matches: ['a', ':', 'a:b:c', '*'], misses: [] },
  { pattern: 'a*', matches: ['a', 'ab', 'a:b:c'], misses: ['b', 'ba', 'A'] },
  { pattern: '*:*', matches: [':', 'a:b', 'a:b:c'], misses: ['ab'] },
  { pattern: '**b', matches: ['b', 'ab', 'a:b'], misses: ['ba'] },
  { pattern: '*ab', matches: ['ab', 'aab', 'abab'], misses: ['aba', 'ba'] },
  { pattern: 'a*b*c', matches: ['abc', 'a:b:c', 'abcbc', 'aXbYc'], misses: ['acb', 'ab', 'abcd'] },
  { pattern: 'a?c', matches: ['abc', 'a:c', 'a?c', 'a*c'], misses: ['ac', 'abbc'] },
  { pattern: '??', matches: ['ab', '::'], misses: ['a', 'abc'] },
  { pattern: '*a*a*a*a*a*a*a*a*b', matches: ['aaaaaaaab', 'a:a:a:a:a:a:a:a:b'], misses: ['a'.repeat(40)] },
  // Classes, ranges and negation
  { pattern: '[abc]x', matches: ['ax', 'cx'], misses: ['dx', 'abx', 'x'] },
  { pattern: '[a-c]', matches: ['a', 'b', 'c'], misses: ['d', '-', 'A'] },
  { pattern: '[c-a]', matches: ['a', 'b', 'c'], misses: ['d', '-'] },
  { pattern: '[0-9][0-9]', matches: ['00', '42'], misses: ['4', '4a', '123'] },
  { pattern: '[^a-c]', matches: ['d', '-', ':'], misses: ['a', 'b', 'dd'] },
  { pattern: '[^ab]*', matches: ['c', 'cab', ':a'], misses: ['a', 'bc'] },
  { pattern: '[a-cx-z]', matches: ['a', 'y', 'z'], misses: ['m', '-'] },
  { pattern: '[a\\-z]', matches: ['a', '-', 'z'], misses: ['b', 'm'] },
  { pattern: '[\\]a]', matches: [']', 'a'], misses: ['\\', 'b'] },
  { pattern: '[*?]', matches: ['*', '?'], misses: ['a'] },
  { pattern: '[]]', matches: [], misses: [']', ']]', 'a'] },
  { pattern: '[^]x', matches: ['ax', ']x', ':x'], misses: ['x', 'abx'] },
  { pattern: 'a[bc', matches: ['ab', 'ac'], misses: ['a', 'ad', 'a[bc'] },
  { pattern: 'a[', matches: [], misses: ['a', 'a[', 'ab'] },
  // Escapes
  { pattern: '\\*', matches: ['*'], misses: ['a', '\\*', '**'] },
  { pattern: '\\?x', matches: ['?x'], misses: ['ax'] },
  { pattern: '\\[a]', matches: ['[a]'], misses: ['a'] },
  { pattern: '\\a\\:', matches: ['a:'], misses: ['\\a\\:'] },
  { pattern: 'a\\\\*', matches: ['a\\', 'a\\b'], misses: ['a', 'ab'] },
  { pattern: 'a\\', matches: ['a\\'], misses: ['a', 'a\\b'] },
  // Bytes, not characters: Redis stores keys as UTF-8
  { pattern: 'caf?', matches: ['cafe'], misses: ['café'] },
  { pattern: 'caf??', matches: ['café'], misses: ['cafe'] },
  { pattern: '*é', matches: ['café', 'é'], misses: ['cafe'] },
  { pattern: '????', matches: ['😀', 'abcd'], misses: ['😀a'] },
]
