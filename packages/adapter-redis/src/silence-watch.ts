/**
 * The socket timeout of a single-node client: a connection that has replies due and has received
 * nothing for `socketTimeout` is destroyed, so ioredis reconnects and the adapter's status leaves
 * `ready`. ioredis' own `socketTimeout` does the same by arming a timer and adding a `data`
 * listener for every command sent while none is pending — on a lone GET, about 3% of its time.
 * Here one timer, for the life of the client, looks at the socket a few times per timeout.
 */
import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'

// Looks per timeout: a silence is noticed between one timeout and a quarter more after it began.
const LOOKS_PER_TIMEOUT = 4

/** Watches one ioredis client's socket for silence while replies are due. */
export class SilenceWatch {
  readonly #client: Redis
  readonly #ms: number
  readonly #timer: ReturnType<typeof setInterval>
  #stream: Socket | undefined
  #bytesRead = 0
  #silentSince: number | undefined

  /** Destroys `client`'s socket once it has had replies due and received nothing for `ms`. */
  constructor(client: Redis, ms: number) {
    this.#client = client
    this.#ms = ms
    this.#timer = setInterval(this.#look, Math.max(1, Math.floor(ms / LOOKS_PER_TIMEOUT)))
    // Replies due keep the process alive through the socket; this timer need not.
    this.#timer.unref()
  }

  readonly #look = (): void => {
    const client = this.#client
    const stream = client.stream as Socket | undefined
    if (stream === undefined || client.commandQueue.length === 0 || stream.destroyed) {
      this.#silentSince = undefined
      return
    }
    const now = performance.now()
    // Anything received, or a new socket, counts as an answer: the silence starts over.
    if (this.#silentSince === undefined || stream !== this.#stream || stream.bytesRead !== this.#bytesRead) {
      this.#stream = stream
      this.#bytesRead = stream.bytesRead
      this.#silentSince = now
      return
    }
    if (now - this.#silentSince < this.#ms) return
    this.#silentSince = undefined
    // The words ioredis uses for the same event, so logs read the same either way.
    stream.destroy(new Error(`Socket timeout. Expecting data, but didn't receive any in ${this.#ms}ms.`))
  }

  /** Stops watching (the client is being closed). */
  stop(): void {
    clearInterval(this.#timer)
  }
}
