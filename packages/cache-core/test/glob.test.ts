import { describe, expect, it } from 'vitest'
import { compileGlob, escapeGlob, matchGlob } from '../src/glob.js'

describe('compileGlob', () => {
  it('answers a pattern with many stars over a 40-character key without backtracking', () => {
    // A backtracking RegExp took about four seconds on this; a generous bound only guards against a
    // return to exponential matching, it is not a speed target.
    const key = 'a'.repeat(40)
    const started = performance.now()
    const matched = matchGlob('*a*a*a*a*a*a*a*a*b', key)
    const elapsed = performance.now() - started
    expect(matched).toBe(false)
    expect(elapsed).toBeLessThan(50)
  })

  it('still finds a match that needs a star to give characters back', () => {
    expect(matchGlob('*a*a*a*a*a*a*a*a*b', `${'a'.repeat(40)}b`)).toBe(true)
    expect(matchGlob('*ab', 'aab')).toBe(true)
    expect(matchGlob('a*b*c', 'abcbc')).toBe(true)
    expect(matchGlob('a*b*c', 'abcbd')).toBe(false)
  })

  it('matches an escaped key only by itself', () => {
    const key = 'a*[b]?\\^c'
    const matches = compileGlob(escapeGlob(key))
    expect(matches(key)).toBe(true)
    expect(matches('a*[b]?\\^d')).toBe(false)
    expect(matches('ax[b]?\\^c')).toBe(false)
  })

  it('matches multi-byte characters byte by byte, as Redis does', () => {
    expect(matchGlob('caf?', 'café')).toBe(false)
    expect(matchGlob('caf??', 'café')).toBe(true)
    expect(matchGlob('[^a]', 'é')).toBe(false)
    expect(matchGlob('[^a][^a]', 'é')).toBe(true)
    expect(matchGlob('café*', 'café:1')).toBe(true)
  })
})
