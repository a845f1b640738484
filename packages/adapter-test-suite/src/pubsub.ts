import type { AdapterStatus, CacheAdapter } from '@cacheport/cache-core'
import { describe, expect, it, type TestContext } from 'vitest'
import { type TopicContext, useAdapter, waitFor } from './context.js'
import type { ResolvedSuiteOptions } from './types.js'

type PubSub = Required<Pick<CacheAdapter<Uint8Array>, 'publish' | 'subscribe'>> & CacheAdapter<Uint8Array>

/**
 * `publish` and `subscribe`, which carry invalidations between cache instances. They run only when the
 * adapter declares `capabilities.pubsub`. "Not delivered" is checked by publishing a marker after the
 * message that must not arrive and waiting for the marker, so no test sleeps for a fixed time.
 */
export function pubsubTests(options: ResolvedSuiteOptions): void {
  if (!options.stores) return
  describe('pubsub', () => {
    storing(useAdapter(options))
  })
}

function storing(ctx: TopicContext): void {
  const timeout = ctx.options.messageTimeoutMs

  const pubsub = (t: TestContext): PubSub => {
    const adapter = ctx.adapter()
    if (!adapter.capabilities.pubsub) t.skip()
    return adapter as PubSub
  }

  // Subscribes and waits until the subscription is live, which onStatus('ready') announces.
  const listen = async (adapter: PubSub, channel: string, into: string[]) => {
    let ready = false
    const stop = await adapter.subscribe(
      channel,
      (message) => into.push(message),
      (status) => {
        if (status === 'ready') ready = true
      },
    )
    await waitFor(() => ready, timeout, `the subscription to ${channel} to be ready`)
    return stop
  }

  it('a subscriber receives the messages published on its channel, in order', async (t) => {
    const adapter = pubsub(t)
    const channel = `${ctx.scope()}:bus`
    const got: string[] = []
    const stop = await listen(adapter, channel, got)
    try {
      for (const message of ['one', 'two', 'three']) await adapter.publish(channel, message)
      await waitFor(() => got.length >= 3, timeout, 'three messages')
      expect(got).toEqual(['one', 'two', 'three'])
    } finally {
      await stop()
    }
  })

  it('messages arrive unchanged: unicode, JSON, separators and the empty string', async (t) => {
    const adapter = pubsub(t)
    const channel = `${ctx.scope()}:bus`
    const sent = ['Zürich 東京 🚀', JSON.stringify({ keys: ['a:1', 'b*'] }), 'a\nb\tc', '', 'end']
    const got: string[] = []
    const stop = await listen(adapter, channel, got)
    try {
      for (const message of sent) await adapter.publish(channel, message)
      await waitFor(() => got.includes('end'), timeout, 'the last message')
      expect(got).toEqual(sent)
    } finally {
      await stop()
    }
  })

  it('messages of other channels are not delivered', async (t) => {
    const adapter = pubsub(t)
    const s = ctx.scope()
    const got: string[] = []
    const stop = await listen(adapter, `${s}:mine`, got)
    try {
      await adapter.publish(`${s}:other`, 'not for me')
      await adapter.publish(`${s}:*`, 'not for me either')
      await adapter.publish(`${s}:mine`, 'marker')
      await waitFor(() => got.includes('marker'), timeout, 'the marker message')
      expect(got).toEqual(['marker'])
    } finally {
      await stop()
    }
  })

  it('every subscriber of a channel receives each message', async (t) => {
    const adapter = pubsub(t)
    const channel = `${ctx.scope()}:bus`
    const first: string[] = []
    const second: string[] = []
    const stopFirst = await listen(adapter, channel, first)
    const stopSecond = await listen(adapter, channel, second)
    try {
      await adapter.publish(channel, 'hello')
      await waitFor(
        () => first.length > 0 && second.length > 0,
        timeout,
        'both subscribers to get the message',
      )
      expect(first).toEqual(['hello'])
      expect(second).toEqual(['hello'])
    } finally {
      await stopFirst()
      await stopSecond()
    }
  })

  it('after its unsubscribe function ran, a subscriber gets no more messages and others still do', async (t) => {
    const adapter = pubsub(t)
    const channel = `${ctx.scope()}:bus`
    const leaving: string[] = []
    const staying: string[] = []
    const stopLeaving = await listen(adapter, channel, leaving)
    const stopStaying = await listen(adapter, channel, staying)
    try {
      await adapter.publish(channel, 'before')
      await waitFor(() => leaving.length === 1 && staying.length === 1, timeout, 'the first message')
      await stopLeaving()
      await adapter.publish(channel, 'after')
      await waitFor(() => staying.length === 2, timeout, 'the second message')
      expect(leaving).toEqual(['before'])
      expect(staying).toEqual(['before', 'after'])
    } finally {
      await stopStaying()
    }
  })

  it('onStatus reports ready once the subscription is established', async (t) => {
    const adapter = pubsub(t)
    const statuses: AdapterStatus[] = []
    const stop = await adapter.subscribe(
      `${ctx.scope()}:bus`,
      () => {},
      (status) => statuses.push(status),
    )
    try {
      await waitFor(() => statuses.includes('ready'), timeout, 'onStatus("ready")')
      expect(
        statuses.every((status) => ['ready', 'connecting', 'unavailable', 'closed'].includes(status)),
      ).toBe(true)
    } finally {
      await stop()
    }
  })
}
