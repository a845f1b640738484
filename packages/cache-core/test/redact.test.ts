import { describe, expect, it } from 'vitest'
import { redact } from '../src/index.js'

// Passwords as generators and people make them: base64 with '/', '+' and '=', '@' inside, spaces,
// colons, percent signs and '#'.
const HOSTILE = [
  'Zq9/Xk2+Lm==',
  'S3cr@TailLeak',
  'correct horse battery',
  'a:b:c:Dd',
  '100%Sure',
  'Hash#Tag',
  'mi/x@ed :%#Bag',
  'trailing@',
]

describe('redact', () => {
  it.each(HOSTILE)('hides the whole password %j of a URL', (password) => {
    for (const [url, expected] of [
      [`redis://app:${password}@127.0.0.1:6392/0`, 'redis://app:***@127.0.0.1:6392/0'],
      [`redis://:${password}@cache.internal:6379`, 'redis://:***@cache.internal:6379'],
      [`rediss://ops:${password}@[::1]:6380/2`, 'rediss://ops:***@[::1]:6380/2'],
      [`postgres://app:${password}@db/test`, 'postgres://app:***@db/test'],
    ] as const) {
      expect(redact(url)).toBe(expected)
      expect(redact(`connecting to ${url} failed: ECONNREFUSED`)).toBe(
        `connecting to ${expected} failed: ECONNREFUSED`,
      )
      expect(redact(`got "${url}"`)).toBe(`got "${expected}"`)
    }
  })

  it('hides a userinfo without a colon whole (a token, or a password some clients accept there)', () => {
    expect(redact('redis://Tok/en@With@At@cache:6379/0')).toBe('redis://***@cache:6379/0')
  })

  it('redacts every URL of a text, each up to its own host', () => {
    expect(
      redact('from redis://a:one two@h1:1/0 to redis://b:th@ree@h2:2/0\nthen postgres://c:f/our@h3/db'),
    ).toBe('from redis://a:***@h1:1/0 to redis://b:***@h2:2/0\nthen postgres://c:***@h3/db')
  })

  it('leaves URLs without a password, and other text, as they are', () => {
    for (const text of [
      'redis://127.0.0.1:6379/0',
      'redis redis://127.0.0.1:6379/0: GET "user@example.com" failed: Connection is closed.',
      'mail admin@example.com',
      'no URL at all',
      '',
    ]) {
      expect(redact(text)).toBe(text)
    }
  })

  it('is idempotent, also on messages that name a key with an @ after a redacted endpoint', () => {
    const once = redact('redis redis://app:S3cr@TailLeak@h:6379/0: GET of 2 keys failed: user a@b')
    expect(once).not.toContain('TailLeak')
    expect(redact(once)).toBe(once)
    const message = 'redis redis://app:***@h:6379/0: GET of 2 keys failed: user a@b'
    expect(redact(message)).toBe(message)
  })
})
