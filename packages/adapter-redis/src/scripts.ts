/** The Lua scripts the adapter runs, and how: by digest, sending the source only when needed. */
import { createHash } from 'node:crypto'
import type { RedisClient } from './types.js'

/** A Lua script run by `EVALSHA`, sent whole by `EVAL` only when the server does not have it yet. */
export interface LuaScript {
  readonly source: string
  readonly sha: string
}

function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Compare-and-delete in one server-side step, so a lease holder never removes a lease that expired
 * and was taken by another process in between.
 */
/**
 * Write-if-lease-held: KEYS entry, lease; ARGV value, token, TTL in ms (0 = none). Sets the entry
 * only while the lease key holds the loader's token, in one step, so an invalidation that deleted the
 * lease in between (from any process) wins over the late write.
 */
export const SET_IF_HOLDS = luaScript(
  "if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end " +
    "if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end " +
    'return 1',
)

export const DELETE_IF_EQUALS = luaScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end return 0",
)

/**
 * A stretch of a pattern delete: a few SCAN pages, each unlinked where it was found, so the
 * matched keys never travel to the client and back, which is most of the time a client-side loop
 * takes. The server matches the same MATCH glob as a plain SCAN would, so exactly the same keys go.
 * ARGV: cursor, pattern, COUNT per page, most pages; replies with the next cursor and how many keys
 * were removed. Several pages per call save round trips; pages of at most {@link SCAN_PAGE} keys
 * keep each SCAN reply and Lua table small, which costs the server less than one large page
 * (measured). UNLINK goes in slices, since Lua's unpack() fails beyond a few thousand values.
 */
export const SCAN_UNLINK = luaScript(
  [
    'local cursor = ARGV[1]',
    'local pages = tonumber(ARGV[4])',
    'local removed = 0',
    'repeat',
    "  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', ARGV[3])",
    '  cursor = page[1]',
    '  local keys = page[2]',
    '  for i = 1, #keys, 1000 do',
    "    removed = removed + redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))",
    '  end',
    '  pages = pages - 1',
    "until cursor == '0' or pages == 0",
    'return {cursor, removed}',
  ].join('\n'),
)

/** Most keys one SCAN page of {@link SCAN_UNLINK} examines. */
export const SCAN_PAGE = 1000

/** Runs `script` by its digest, sending its source once if the server does not know it yet. */
export function runScript<T = unknown>(
  target: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | Buffer>,
): Promise<T> {
  return (target.evalsha(script.sha, keys.length, ...keys, ...args) as Promise<T>).catch((error: unknown) => {
    // First use on this server (or after SCRIPT FLUSH): send the script itself, which caches it.
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
    return target.eval(script.source, keys.length, ...keys, ...args) as Promise<T>
  })
}
