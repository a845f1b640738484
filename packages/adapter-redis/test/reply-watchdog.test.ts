import type { Command } from 'ioredis'
import { describe, expect, it, vi } from 'vitest'
import { ReplyWatchdog, TIMED_OUT, WatchedCommand, watchdogWorks } from '../src/reply-watchdog.js'

// The watchdog on its own, with ioredis commands that are never sent: their timeouts are what it
// keeps, so whether a reply ever comes is up to each test. Sent commands are covered by the
// frozen-server tests in faults.test.ts.

/** A `GET key` with bytes for its reply, whose timeout `watchdog` keeps once it is set. */
function watched(watchdog: ReplyWatchdog, key: string, keyPrefix?: string): Command {
  return new WatchedCommand(watchdog, 'get', [key], { replyEncoding: null, keyPrefix })
}

/** When `command` settles, in ms from `start`, and how. */
function outcome(command: Command, start: number): Promise<{ ms: number; error?: string }> {
  return command.promise.then(
    () => ({ ms: performance.now() - start }),
    (error: Error) => ({ ms: performance.now() - start, error: error.message }),
  )
}

// On an ioredis whose Command lacks what the watchdog needs (5.x), the adapter does not use it.
describe.skipIf(!watchdogWorks())('reply watchdog', () => {
  it('rejects each unanswered command at its own deadline, whatever was sent before it', async () => {
    const watchdog = new ReplyWatchdog()
    const start = performance.now()
    const first = watched(watchdog, 'a')
    const second = watched(watchdog, 'b')
    first.setTimeout(60)
    await new Promise((resolve) => setTimeout(resolve, 40))
    second.setTimeout(60)
    const third = watched(watchdog, 'c')
    third.setTimeout(60)
    third.resolve(Buffer.from('answered'))

    const [a, b, c] = await Promise.all([
      outcome(first, start),
      outcome(second, start),
      outcome(third, start),
    ])
    expect(a.error).toBe(TIMED_OUT)
    expect(a.ms).toBeGreaterThanOrEqual(59)
    expect(b.error).toBe(TIMED_OUT)
    expect(b.ms).toBeGreaterThanOrEqual(99)
    expect(b.ms - a.ms).toBeGreaterThanOrEqual(30)
    expect(c.error).toBeUndefined()
    expect(watchdog.size).toBe(0)
  })

  it('keeps the first deadline of a command enrolled again (a resend after a reconnection)', async () => {
    const watchdog = new ReplyWatchdog()
    const start = performance.now()
    const command = watched(watchdog, 'a')
    command.setTimeout(50)
    await new Promise((resolve) => setTimeout(resolve, 30))
    command.setTimeout(50)
    const { ms, error } = await outcome(command, start)
    expect(error).toBe(TIMED_OUT)
    expect(ms).toBeLessThan(75)
  })

  it('measures time on the monotonic clock, so a jump of the wall clock times nothing out', async () => {
    const watchdog = new ReplyWatchdog()
    const start = performance.now()
    const first = watched(watchdog, 'a')
    first.setTimeout(50)
    first.resolve(Buffer.from('v'))
    const second = watched(watchdog, 'b')
    second.setTimeout(1000)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + 3_600_000)
      // The timer armed for the first command fires meanwhile and finds the second one in time.
      await new Promise((resolve) => setTimeout(resolve, 150))
      second.resolve(Buffer.from('answered'))
      const { ms, error } = await outcome(second, start)
      expect(error).toBeUndefined()
      expect(ms).toBeGreaterThanOrEqual(150)
    } finally {
      vi.useRealTimers()
    }
  })

  it('holds on to no answered command once the next one is sent', async () => {
    const watchdog = new ReplyWatchdog()
    for (let i = 0; i < 5000; i++) {
      const command = watched(watchdog, `k${i}`)
      command.setTimeout(1000)
      command.resolve(Buffer.from('v'))
      await command.promise
    }
    // Only the last answered command may linger, until the next one is sent or the timer checks.
    expect(watchdog.size).toBeLessThanOrEqual(1)
  })

  it('drops the answered commands queued behind a slow one as soon as it is answered', () => {
    const watchdog = new ReplyWatchdog()
    const slow = watched(watchdog, 'slow')
    slow.setTimeout(1000)
    for (let i = 0; i < 5000; i++) {
      const command = watched(watchdog, `k${i}`)
      command.setTimeout(1000)
      command.resolve(Buffer.from('v'))
    }
    slow.resolve(Buffer.from('v'))
    const last = watched(watchdog, 'last')
    last.setTimeout(1000)
    expect(watchdog.size).toBe(1)
    last.resolve(Buffer.from('v'))
  })

  it('applies the key prefix of the client, as ioredis does for its own commands', () => {
    const command = watched(new ReplyWatchdog(), 'k', 'app:')
    expect(command.args).toEqual(['app:k'])
  })
})
