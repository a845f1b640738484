/**
 * Redis-style globs, the pattern language of `deletePattern` on every adapter: `*` any run of
 * characters, `?` one character, `[abc]` / `[a-z]` / `[^a]` a class, `\x` the character x itself.
 */

const GLOB_SPECIALS = new Set(['*', '?', '[', ']', '\\', '^'])

/** Escapes every glob special character of `text`, so it matches only itself. */
export function escapeGlob(text: string): string {
  let out = ''
  for (const ch of text) out += GLOB_SPECIALS.has(ch) ? `\\${ch}` : ch
  return out
}

/** Compiles a Redis-style glob into an anchored RegExp, for stores without native pattern matching. */
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

// Index of the `]` closing the class opened at `start`, honouring escapes; -1 when unclosed
// (Redis then treats `[` literally).
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
