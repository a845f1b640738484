import { randomUUID } from 'node:crypto'
import type { RedisAdapter } from '../../src/index.js'

/** Database 9 of the shared server: tests there key everything under a random prefix and clean up. */
export const SHARED_URL = process.env.CACHEPORT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9'

/** A prefix no other test run uses, shaped like the core's `{keyPrefix}:{version}:`. */
export function randomPrefix(): string {
  return `rt${randomUUID().slice(0, 8)}:1:`
}

/** Polls until `adapter.status()` is `status`; rejects after `timeoutMs`. */
export async function untilStatus(adapter: RedisAdapter, status: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (adapter.status() !== status) {
    if (Date.now() > deadline) throw new Error(`status stayed ${adapter.status()}, expected ${status}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Polls `check` until it holds; rejects naming `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}
