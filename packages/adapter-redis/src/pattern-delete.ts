/**
 * Deleting keys: `UNLINK` in batches, and pattern deletes by `SCAN MATCH` pages, never `KEYS`, which
 * would block the server. On a single node (or Sentinel) a script unlinks each page on the server;
 * on a cluster, each primary is scanned and its keys unlinked per hash slot from the client.
 */
import { CacheError, ErrorCodes } from '@cacheport/cache-core'
import type { Cluster, Redis } from 'ioredis'
import { keyBatches } from './batches.js'
import { isReplyError } from './errors.js'
import type { Link } from './link.js'
import { runScript, SCAN_PAGE, SCAN_UNLINK } from './scripts.js'
import type { RedisClient } from './types.js'

/**
 * UNLINK of `keys` through `target` (the client, or one cluster node), in batches that never span
 * hash slots on a cluster; resolves with how many existed. Raw errors.
 */
export async function unlinkKeys(link: Link, target: RedisClient, keys: readonly string[]): Promise<number> {
  const groups = keyBatches(keys, link.opts.batchSize, link.isCluster)
  let removed = 0
  // Through the cluster client, each UNLINK follows its own redirects; a node is asked directly.
  const routes = target === link.client ? link.routes : undefined
  const unlink = (group: string[]) =>
    link.bound(routes === undefined ? target.unlink(group) : routes.follow(() => target.unlink(group)))
  for (const n of await Promise.all(groups.map(unlink))) removed += n
  return removed
}

/**
 * Removes every key matching the glob and resolves with how many there were. Only keys the server
 * itself matched against `pattern` are removed. Errors are CacheErrors naming the pattern.
 */
export async function deleteByPattern(link: Link, pattern: string): Promise<number> {
  if (typeof pattern !== 'string' || pattern === '') {
    throw new CacheError(
      ErrorCodes.INVALID_PATTERN,
      `redis ${link.endpoint}: deleteByPattern needs a non-empty glob`,
    )
  }
  try {
    await link.ready()
    if (!link.isCluster) return await scanAndUnlinkOnServer(link, link.client as Redis, pattern)
    // On a cluster, a script may only touch keys of the slots its node serves, and Redis 7 refuses
    // one whose keys span slots unless they were declared; the keys of each page therefore come
    // to the client and go back as one UNLINK per hash slot.
    const nodes = (link.client as Cluster).nodes('master')
    if (nodes.length === 0) throw new Error('no primary node is known yet')
    let removed = 0
    for (const n of await Promise.all(nodes.map((node) => scanAndUnlink(link, node, pattern)))) removed += n
    return removed
  } catch (error) {
    throw link.failure('SCAN/UNLINK', error, { text: `of pattern "${pattern}"` })
  }
}

/**
 * Pattern delete on one server, `scanCount` keys examined per script call (see
 * {@link SCAN_UNLINK}). A server that refuses the script (an ACL user without scripting rights, a
 * proxy without EVAL) gets the same SCAN + UNLINK from the client instead, from the cursor reached
 * so far.
 */
async function scanAndUnlinkOnServer(link: Link, node: Redis, pattern: string): Promise<number> {
  const pages = Math.ceil(link.opts.scanCount / SCAN_PAGE)
  const count = String(Math.ceil(link.opts.scanCount / pages))
  let cursor = '0'
  let removed = 0
  do {
    let page: [next: string, removed: number]
    try {
      page = await link.bound(
        runScript<[string, number]>(node, SCAN_UNLINK, [], [cursor, pattern, count, String(pages)]),
      )
    } catch (error) {
      if (!isReplyError(error)) throw error
      return removed + (await scanAndUnlink(link, node, pattern, cursor))
    }
    cursor = String(page[0])
    removed += Number(page[1])
  } while (cursor !== '0')
  return removed
}

/** SCAN + UNLINK from the client, on one node, from cursor `from`. */
async function scanAndUnlink(link: Link, node: Redis, pattern: string, from = '0'): Promise<number> {
  const unlinks: Array<Promise<number>> = []
  let cursor = from
  try {
    do {
      const [next, keys] = await link.bound(node.scan(cursor, 'MATCH', pattern, 'COUNT', link.opts.scanCount))
      cursor = next
      // Unlink while the scan goes on; SCAN may return a key twice, UNLINK then counts it once.
      if (keys.length > 0) unlinks.push(unlinkKeys(link, node, keys))
    } while (cursor !== '0')
  } finally {
    // Settle every UNLINK before reporting, so no rejection is left unhandled.
    await Promise.allSettled(unlinks)
  }
  let removed = 0
  for (const n of await Promise.all(unlinks)) removed += n
  return removed
}
