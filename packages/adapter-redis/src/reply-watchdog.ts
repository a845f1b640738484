/**
 * One timer for the command timeout of many single reads. ioredis arms a timer for every command
 * and clears it when the reply comes; on a read that hits, that costs about as much as decoding the
 * value. The commands watched here are kept in the order they were sent, so the first one still
 * unanswered always has the earliest deadline and the one timer only ever waits for that.
 */
import { Command } from 'ioredis'

/** The message of a command that got no reply in time, as ioredis words its own. */
export const TIMED_OUT = 'Command timed out'

/**
 * Runs `expire` once the I/O that is already waiting has been read. After the event loop was held up
 * (a busy machine, a long synchronous task), timers run before the sockets are read: a reply that
 * arrived in time would otherwise be declared late. `setImmediate` runs after the poll phase.
 */
export function afterPendingIo(expire: () => void): void {
  setImmediate(expire)
}

// Answered commands are dropped from the front as new ones arrive; the array is compacted once
// the dropped part is this long and more than half of it.
const COMPACT_AFTER = 1024

/**
 * A command whose timeout a {@link ReplyWatchdog} keeps. ioredis calls `setTimeout` with the
 * client's `commandTimeout` when it sends a command; here that enrols it with the watchdog instead
 * of arming a timer of its own. A command sent again (after a reconnection, or redirected on a
 * cluster) keeps its first deadline, as ioredis' own timer would.
 */
export class WatchedCommand extends Command {
  private enrolled = false

  /** A command like ioredis' own (`name`, `args`, `options`), watched by `watchdog` once sent. */
  constructor(
    private readonly watchdog: ReplyWatchdog,
    name: string,
    args: Array<string | Buffer | number>,
    options: ConstructorParameters<typeof Command>[2],
  ) {
    super(name, args, options)
  }

  override setTimeout(ms: number): void {
    if (this.enrolled) return
    this.enrolled = true
    this.watchdog.watch(this, ms)
  }
}

let works: boolean | undefined

/**
 * Whether the ioredis loaded here has the internal `Command` the watchdog relies on: a `setTimeout`
 * hook that ioredis calls on send, and an `isSettled` flag set as soon as the command settles
 * (ioredis 6; ioredis 5 has no `isSettled`). Checked once, on a command that is never sent; where
 * it fails, single reads keep ioredis' own `commandTimeout`.
 */
export function watchdogWorks(): boolean {
  if (works !== undefined) return works
  try {
    const probe = new Command('get', ['probe'], { replyEncoding: null })
    const before = (probe as { isSettled?: unknown }).isSettled
    probe.resolve(null)
    works =
      typeof probe.setTimeout === 'function' &&
      typeof probe.transformReply === 'function' &&
      probe.promise instanceof Promise &&
      before === false &&
      (probe as { isSettled?: unknown }).isSettled === true
  } catch {
    works = false
  }
  return works
}

/**
 * Whether commands can go out as {@link WatchedCommand}s on `link`'s client: a single node whose
 * timeout the adapter keeps (not one passed in with its own), sending each command as it is made
 * (no auto-pipelining, which batches a tick's commands on ioredis' own path), with the ioredis the
 * adapter was built against, whose Command behaves as the watchdog expects.
 */
export function directCommands(link: {
  isCluster: boolean
  ownTimeout: boolean
  copyValues: boolean
  native: boolean
}): boolean {
  return !link.isCluster && !link.ownTimeout && !link.copyValues && link.native && watchdogWorks()
}

/** Rejects watched commands that outlive their timeout, with the error ioredis would give. */
export class ReplyWatchdog {
  private readonly commands: Array<Command | undefined> = []
  private readonly deadlines: number[] = []
  private head = 0
  private timer: NodeJS.Timeout | undefined

  /** Rejects `command` unless it has been answered within `ms` from now (on the monotonic clock). */
  watch(command: Command, ms: number): void {
    this.dropAnswered()
    this.commands.push(command)
    this.deadlines.push(performance.now() + ms)
    this.timer ??= this.arm(ms)
  }

  /** Commands watched and not answered yet (answered ones may linger until the next check). */
  get size(): number {
    return this.commands.length - this.head
  }

  private dropAnswered(): void {
    const commands = this.commands
    // Dropping them releases their replies too, which their settled promises hold on to.
    while (this.head < commands.length && commands[this.head]!.isSettled) commands[this.head++] = undefined
    this.compact()
  }

  private compact(): void {
    if (this.head === this.commands.length) {
      this.commands.length = 0
      this.deadlines.length = 0
      this.head = 0
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.commands.length) {
      this.commands.splice(0, this.head)
      this.deadlines.splice(0, this.head)
      this.head = 0
    }
  }

  private readonly check = (): void => {
    this.timer = undefined
    const now = performance.now()
    const commands = this.commands
    for (; this.head < commands.length; this.head++) {
      const command = commands[this.head]!
      if (!command.isSettled) {
        if (this.deadlines[this.head]! > now) break
        command.reject(new Error(TIMED_OUT))
      }
      commands[this.head] = undefined
    }
    this.compact()
    if (this.head < commands.length) this.timer = this.arm(Math.ceil(this.deadlines[this.head]! - now))
  }

  private arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(this.check, ms)
    // The connection keeps the process alive while replies are due; this timer need not.
    timer.unref()
    return timer
  }
}
