/**
 * Redis-style globs, the pattern language of `deletePattern` on every adapter: `*` any run of
 * characters, `?` one character, `[abc]` / `[a-z]` / `[^a]` a class, `\x` the character x itself.
 *
 * Stores without native pattern matching use {@link compileGlob}, which reads patterns exactly as
 * Redis's `stringmatchlen` does, so a pattern removes the same keys from memory as from Redis:
 *
 * - Matching is on the UTF-8 bytes of key and pattern, as Redis stores them: `?` and a class match
 *   one byte, so `caf?` does not match `café` and `caf??` does.
 * - A range may be written backwards (`[z-a]` is `[a-z]`); `\` escapes inside a class too.
 * - `[]` is an empty class (matches nothing) and `[^]` matches any byte; a class left unclosed runs
 *   to the end of the pattern (`a[bc` is `a[bc]`); a trailing `\` is a literal backslash.
 */
import { Buffer } from 'node:buffer'

const GLOB_SPECIALS = new Set(['*', '?', '[', ']', '\\', '^'])

/** Escapes every glob special character of `text`, so it matches only itself. */
export function escapeGlob(text: string): string {
  let out = ''
  for (const ch of text) out += GLOB_SPECIALS.has(ch) ? `\\${ch}` : ch
  return out
}

/** Tests whether a key matches the glob it was compiled from. */
export type GlobMatcher = (key: string) => boolean

// Token codes: a byte value (0..255) is a literal; these negative codes are the wildcards, and a
// class is CLASS_BASE minus its index in the class list.
const STAR = -1
const ANY = -2
const CLASS_BASE = -3

const BACKSLASH = 0x5c
const CARET = 0x5e
const CLOSE = 0x5d
const DASH = 0x2d

/**
 * Compiles a Redis-style glob into a matcher. Matching never backtracks further than the last `*`
 * it passed, so it takes at most (key bytes × pattern tokens) steps — a few microseconds for a
 * pattern like `*a*a*a*a*a*a*a*a*b` that takes a backtracking regex seconds.
 */
export function compileGlob(pattern: string): GlobMatcher {
  const { tokens, classes } = parse(Buffer.from(pattern, 'utf8'))
  const head = literalHead(pattern)
  return (key) => {
    if (!key.startsWith(head)) return false
    for (let i = 0; i < key.length; i++) {
      // Outside ASCII, UTF-16 units are not bytes: match on the key's UTF-8 form, as Redis does.
      if (key.charCodeAt(i) > 0x7f) return run(tokens, classes, Buffer.from(key, 'utf8'))
    }
    return run(tokens, classes, key)
  }
}

/** True when `key` matches the Redis-style glob `pattern`; compile once with {@link compileGlob} to test many keys. */
export function matchGlob(pattern: string, key: string): boolean {
  return compileGlob(pattern)(key)
}

/**
 * Compiles a Redis-style glob into an anchored RegExp.
 *
 * @deprecated A RegExp backtracks: patterns with many `*` take exponential time on keys they do
 * not match, and it reads classes on UTF-16 units rather than bytes. Use {@link compileGlob}.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '^'
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!
    if (ch === '*') source += '[\\s\\S]*'
    else if (ch === '?') source += '[\\s\\S]'
    else if (ch === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]!)
    else if (ch === '[') {
      const end = classEnd(glob, i)
      if (end === -1) {
        source += '\\['
        continue
      }
      let body = glob.slice(i + 1, end)
      const negated = body.startsWith('^')
      if (negated) body = body.slice(1)
      source += `[${negated ? '^' : ''}${classBody(body)}]`
      i = end
    } else source += escapeRegExp(ch)
  }
  return new RegExp(`${source}$`)
}

/**
 * Reads a pattern into tokens the way Redis's `stringmatchlen` reads it while matching, including
 * what it does at the edges (an unclosed class reads up to the end of the pattern, whose
 * terminating NUL it sees as one more byte that is neither `]` nor `\`).
 */
function parse(p: Uint8Array): { tokens: number[]; classes: Uint8Array[] } {
  const n = p.length
  const at = (i: number): number => (i < n ? p[i]! : 0)
  const tokens: number[] = []
  const classes: Uint8Array[] = []
  let i = 0
  while (i < n) {
    const c = p[i]!
    if (c === 0x2a) {
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR)
      i++
    } else if (c === 0x3f) {
      tokens.push(ANY)
      i++
    } else if (c === 0x5b) {
      i++
      const negated = at(i) === CARET
      if (negated) i++
      const members = new Uint8Array(256)
      for (;;) {
        if (at(i) === BACKSLASH && n - i >= 2) {
          i++
          members[p[i]!] = 1
        } else if (at(i) === CLOSE) {
          break
        } else if (i >= n) {
          i--
          break
        } else if (n - i >= 3 && p[i + 1] === DASH) {
          const low = Math.min(p[i]!, p[i + 2]!)
          const high = Math.max(p[i]!, p[i + 2]!)
          members.fill(1, low, high + 1)
          i += 2
        } else {
          members[p[i]!] = 1
        }
        i++
      }
      i++
      if (negated) for (let b = 0; b < 256; b++) members[b] = members[b] === 1 ? 0 : 1
      tokens.push(CLASS_BASE - classes.length)
      classes.push(members)
    } else if (c === BACKSLASH && n - i >= 2) {
      tokens.push(p[i + 1]!)
      i += 2
    } else {
      tokens.push(c)
      i++
    }
  }
  return { tokens, classes }
}

/**
 * The classic glob walk: on a mismatch, the last `*` seen takes one more unit and the rest of the
 * pattern is tried again from there. Earlier stars never need to, because every other token
 * matches exactly one unit. `key` is either ASCII text (its units are its bytes) or UTF-8 bytes.
 */
function run(tokens: readonly number[], classes: readonly Uint8Array[], key: string | Uint8Array): boolean {
  const text = typeof key === 'string'
  const n = key.length
  const m = tokens.length
  let t = 0
  let s = 0
  let starT = -1
  let starS = 0
  while (s < n) {
    if (t < m) {
      const token = tokens[t]!
      if (token === STAR) {
        starT = t++
        starS = s
        continue
      }
      const unit = text ? (key as string).charCodeAt(s) : (key as Uint8Array)[s]!
      if (token >= 0 ? token === unit : token === ANY || classes[CLASS_BASE - token]![unit] === 1) {
        t++
        s++
        continue
      }
    }
    if (starT < 0) return false
    t = starT + 1
    s = ++starS
  }
  while (t < m && tokens[t] === STAR) t++
  return t === m
}

// The part of a glob before its first wildcard, unescaped: every matching key starts with it, so
// most keys of a store are turned away by one startsWith.
function literalHead(glob: string): string {
  let head = ''
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!
    if (ch === '*' || ch === '?' || ch === '[') break
    if (ch === '\\' && i + 1 < glob.length) head += glob[++i]
    else head += ch
  }
  return head
}

// Index of the `]` closing the class opened at `start`, honouring escapes; -1 when unclosed.
function classEnd(glob: string, start: number): number {
  for (let i = start + 1; i < glob.length; i++) {
    if (glob[i] === '\\') i++
    else if (glob[i] === ']' && i > start + 1) return i
  }
  return -1
}

function classBody(body: string): string {
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!
    if (ch === '\\' && i + 1 < body.length) out += `\\${body[++i]}`
    else if (ch === '-' && i > 0 && i < body.length - 1) out += '-'
    else out += ch === ']' || ch === '[' || ch === '^' || ch === '-' ? `\\${ch}` : ch
  }
  return out
}

function escapeRegExp(ch: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(ch) ? `\\${ch}` : ch
}
