/**
 * The reference model the coherence properties are checked against. It knows nothing of tiers,
 * buses or stores: only a database of versioned rows, the values handed to the caches, the
 * invalidations issued and when each of them reached each instance. From that it says, for every
 * value a read returns, whether the library promised it could not be returned.
 *
 * Time is a logical clock: one tick per event (a call starts or settles, a loader starts, a sync).
 */
import { globToRegExp } from '../../src/glob.js'

/** The two application instances. */
export type Instance = 0 | 1

/** The keys every run uses, their tags, and the patterns that select them. */
export const KEYS = ['user:1', 'user:2', 'item:1', 'item:2'] as const
export type Key = (typeof KEYS)[number]
export const TAGS = ['users', 'items', 'first'] as const
export type Tag = (typeof TAGS)[number]
export const PATTERNS = ['user:*', 'item:?', '*:1', 'user:[12]', '*'] as const

/** Every write of a key carries the same tags, so a tag always selects the same keys. */
export function tagsOf(key: Key): Tag[] {
  const tags: Tag[] = [key.startsWith('user:') ? 'users' : 'items']
  if (key.endsWith(':1')) tags.push('first')
  return tags
}

/** What the caches store: a row of the database at a version, with an id no other value has. */
export interface Row {
  key: Key
  version: number
  id: string
}

/** Thrown by the failing loaders; the only error a `getOrSet` may reject with. */
export class LoaderFailure extends Error {
  constructor(readonly keys: readonly string[]) {
    super(`loader failed for ${keys.join(', ')}`)
    this.name = 'LoaderFailure'
  }
}

/** What broke, with the model's trace of the run. */
export class Violation extends Error {
  constructor(property: string, detail: string, trace: readonly string[]) {
    super(`${property}: ${detail}\n  trace (latest last):\n    ${trace.slice(-40).join('\n    ')}`)
    this.name = 'Violation'
  }
}

/** The properties a run checks. */
export interface Checks {
  /** No read that starts after an invalidation reached its instance returns a value from before it. */
  stale: boolean
  /** Concurrent callers of one key in one process run its loader once. */
  singleFlight: boolean
}

interface Load {
  readonly id: number
  readonly at: Instance
  readonly keys: readonly Key[]
  /** When the loader read the database. */
  readonly readAt: number
  /** When the call that ran the loader started (its read of the cache came first). */
  readonly callAt: number
  /** Until the loader's own promise settled. */
  running: boolean
  /** When the call that ran the loader settled (its write, if any, done). */
  settledAt: number | undefined
}

interface Born {
  readonly row: Row
  readonly at: Instance
  /** The load that produced it; undefined for an explicit `set`. */
  readonly load: Load | undefined
  /** For an explicit `set`: when the call settled. */
  setSettledAt?: number
}

/** One invalidation (a `set` is one too, of the key it writes), and when it reached each instance. */
interface Invalidation {
  readonly id: number
  readonly label: string
  readonly issuer: Instance
  readonly issuedAt: number
  /** Per key it covers: the version the database had when it was issued. */
  readonly versions: ReadonlyMap<Key, number>
  readonly tag: Tag | undefined
  /** The row a `set` writes. */
  readonly row: Row | undefined
  resolvedAt: number | undefined
  /** It reached the store: it settled without an outage overlapping it. */
  storeOk: boolean
  /** Per instance: from when on it binds every read of that instance. */
  readonly fullAt: [number | undefined, number | undefined]
  /** Per instance: from when on it binds the reads that do not overlap a store outage. */
  readonly l2At: [number | undefined, number | undefined]
  /** Per instance: when the instance itself knew of it (issued it, or heard it on the bus). */
  readonly knownAt: [number | undefined, number | undefined]
}

/** A read in flight: what the model knew when it started. */
export interface ReadStart {
  readonly at: Instance
  readonly startedAt: number
  readonly outages: number
  readonly outage: boolean
}

/** A call that may invalidate, in flight. */
export interface InvalidationStart {
  readonly invalidation: Invalidation
  readonly outages: number
  readonly outage: boolean
}

const NEVER = Number.POSITIVE_INFINITY

/** The reference model of one run. */
export class Model {
  // When each call (by label) last started, for the single-flight rule.
  readonly #callStarts = new Map<string, number>()
  clock = 0
  readonly #checks: Checks
  readonly #db = new Map<Key, number>(KEYS.map((key) => [key, 0]))
  readonly #born = new Map<string, Born>()
  readonly #invalidations: Invalidation[] = []
  readonly #loads: Load[] = []
  readonly #trace: string[] = []
  #nextId = 0
  // Bus and store state as the instances see it.
  readonly #busWanted: [boolean, boolean] = [true, true]
  // When each instance's bus last came (back) up; undefined while it is down.
  readonly #busUpSince: [number | undefined, number | undefined] = [0, 0]
  #outage = false
  #outages = 0
  #lastRecovery = -1

  constructor(checks: Checks) {
    this.#checks = checks
  }

  /** The model's record of the run so far, for failure reports. */
  get trace(): readonly string[] {
    return this.#trace
  }

  /** Whether the store is down right now. */
  get outage(): boolean {
    return this.#outage
  }

  /** Advances the clock, noting `note` in the trace. */
  tick(note?: string): number {
    this.clock++
    if (note !== undefined) this.#trace.push(`${this.clock} ${note}`)
    return this.clock
  }

  /** The first violation of the run: a check may throw inside the library (in a loader), which
   * then reports it as something else, so the runner reports this one. */
  violation: Violation | undefined

  fail(property: string, detail: string): never {
    const violation = new Violation(property, detail, this.#trace)
    this.violation ??= violation
    throw violation
  }

  // ---------------------------------------------------------------- the database and its values

  /** A new version of each key's row, as an application writes its database before invalidating. */
  update(keys: readonly Key[]): void {
    for (const key of keys) this.#db.set(key, this.#db.get(key)! + 1)
  }

  /** The row an explicit `set` writes: a new version of `key`. */
  written(at: Instance, key: Key): Row {
    this.update([key])
    const row = this.#row(key)
    this.#born.set(row.id, { row, at, load: undefined })
    return row
  }

  #row(key: Key): Row {
    return { key, version: this.#db.get(key)!, id: `r${++this.#nextId}` }
  }

  // ---------------------------------------------------------------- loaders

  /** A loader was called: it reads the rows now. Checks single flight. */
  loadStarted(at: Instance, keys: readonly Key[], label: string): { rows: Row[]; done: () => void } {
    const readAt = this.tick(`${label} loader runs on ${name(at)} for ${keys.join(',')}`)
    if (this.#checks.singleFlight) {
      for (const key of keys) {
        const other = this.#loads.find(
          (load) =>
            load.running && load.at === at && load.keys.includes(key) && !this.#interrupted(load, key),
        )
        if (other !== undefined) {
          this.fail(
            'single flight',
            `${label}: a second loader for "${key}" started on ${name(at)} while load #${other.id} (started at ${other.readAt}) was still running, with no invalidation of "${key}" in between`,
          )
        }
      }
    }
    const load: Load = {
      id: this.#loads.length + 1,
      at,
      keys,
      readAt,
      callAt: Math.min(readAt, this.#callStarts.get(label) ?? readAt),
      running: true,
      settledAt: undefined,
    }
    this.#loads.push(load)
    const rows = keys.map((key) => this.#row(key))
    for (const row of rows) this.#born.set(row.id, { row, at, load })
    return {
      rows,
      done: () => {
        load.running = false
      },
    }
  }

  /** The call that ran a loader settled: whatever it writes is written by now. */
  loadSettled(rows: readonly Row[]): void {
    const now = this.tick()
    for (const row of rows) {
      const load = this.#born.get(row.id)?.load
      if (load !== undefined && load.settledAt === undefined) load.settledAt = now
    }
  }

  // A second load of a key may start once the first could have been told its result is stale:
  // an invalidation of the key, a bus reconnect or a store outage since it started. An invalidation
  // counts from the start of the first load's call: a call whose read began before an invalidation
  // may return what it read then, so later callers start a read (and load) of their own. A tag
  // invalidation counts for every running load: a loader's tags are computed from its result, so
  // until it ends the cache cannot know whether the result carries the tag, and callers arriving
  // after the invalidation must not be handed a result from before it.
  #interrupted(load: Load, key: Key): boolean {
    if (
      this.#invalidations.some(
        (inv) => inv.issuedAt > load.callAt && (inv.versions.has(key) || inv.tag !== undefined),
      )
    ) {
      return true
    }
    const since = this.#busUpSince[load.at]
    return since === undefined || since > load.readAt || this.#lastRecovery > load.readAt
  }

  // ---------------------------------------------------------------- invalidations

  /** An invalidation of `keys` is issued on `at` (after `update` when the rows changed). */
  invalidationStarted(
    at: Instance,
    label: string,
    keys: readonly Key[],
    options: { tag?: Tag; row?: Row } = {},
  ): InvalidationStart {
    const { tag, row } = options
    const issuedAt = this.tick(`${label} issued on ${name(at)}`)
    const invalidation: Invalidation = {
      id: this.#invalidations.length + 1,
      label,
      issuer: at,
      issuedAt,
      versions: new Map(keys.map((key) => [key, this.#db.get(key)!])),
      tag,
      row,
      resolvedAt: undefined,
      storeOk: false,
      fullAt: [undefined, undefined],
      l2At: [undefined, undefined],
      knownAt: [undefined, undefined],
    }
    invalidation.knownAt[at] = issuedAt
    this.#invalidations.push(invalidation)
    return { invalidation, outages: this.#outages, outage: this.#outage }
  }

  /** The invalidating call settled; `rejected` says whether it rejected. */
  invalidationSettled(start: InvalidationStart, rejected: boolean, outcome: string): void {
    const { invalidation } = start
    const now = this.tick(`${invalidation.label} on ${name(invalidation.issuer)} settled: ${outcome}`)
    invalidation.resolvedAt = now
    if (invalidation.row !== undefined) this.#born.get(invalidation.row.id)!.setSettledAt = now
    const overlapped = start.outage || this.#outages !== start.outages || this.#outage
    invalidation.storeOk = !rejected && !overlapped
    // Its own instance applied it before it settled, whether or not the store took it.
    invalidation.fullAt[invalidation.issuer] = now
    invalidation.l2At[invalidation.issuer] = now
  }

  /** The keys a `deletePattern(pattern)` covers. */
  matching(pattern: string): Key[] {
    const regex = globToRegExp(pattern)
    return KEYS.filter((key) => regex.test(key))
  }

  /** The keys an `invalidateTags([tag])` covers. */
  tagged(tag: Tag): Key[] {
    return KEYS.filter((key) => tagsOf(key).includes(tag))
  }

  // ---------------------------------------------------------------- bus, outages, delivery

  /** An instance lost its bus subscription. */
  busDropped(at: Instance): void {
    this.tick(`bus of ${name(at)} dropped`)
    this.#busWanted[at] = false
    this.#busUpSince[at] = undefined
  }

  /** An instance's bus subscription is back (unless the store is down). */
  busRestored(at: Instance): void {
    const now = this.tick(`bus of ${name(at)} restored`)
    this.#busWanted[at] = true
    if (!this.#outage && this.#busUpSince[at] === undefined) this.#busUpSince[at] = now
  }

  /** The store became unreachable for every instance, and with it every bus. */
  outageStarted(): void {
    this.tick('store outage starts')
    this.#outage = true
    this.#outages++
    this.#busUpSince[0] = undefined
    this.#busUpSince[1] = undefined
  }

  /** The store is back and every instance has reconnected (both buses are up again). */
  recovered(): void {
    const now = this.tick('store recovered')
    this.#outage = false
    this.#lastRecovery = now
    for (const at of [0, 1] as const) {
      this.#busWanted[at] = true
      this.#busUpSince[at] = now
    }
  }

  /**
   * Every instance has had time to hear what was published, and the instances have each made a
   * store call since the last recovery. From now on, invalidations that were settled bind the
   * other instance's reads: over the bus, or through the store while its L1 is bypassed or emptied.
   */
  synced(): void {
    const now = this.tick('sync')
    if (this.#outage) return
    for (const inv of this.#invalidations) {
      if (inv.resolvedAt === undefined) continue
      // Lost on the way to the store: only the replay after a recovery can deliver it.
      if (!inv.storeOk && this.#lastRecovery < inv.resolvedAt) continue
      for (const at of [0, 1] as const) {
        if (at === inv.issuer || inv.fullAt[at] !== undefined) continue
        const upSince = this.#busUpSince[at]
        inv.l2At[at] ??= now
        if (upSince === undefined) continue
        // Up all along: it heard the message. Up again since: its L1 was emptied on reconnect.
        if (inv.storeOk && upSince <= inv.issuedAt) inv.knownAt[at] ??= now
        inv.fullAt[at] = now
      }
    }
  }

  // ---------------------------------------------------------------- reads

  /** A read starts on `at`: what binds it is fixed now. */
  readStarted(at: Instance, label: string): ReadStart {
    const startedAt = this.tick(`${label} on ${name(at)} starts`)
    this.#callStarts.set(label, startedAt)
    return { at, startedAt, outages: this.#outages, outage: this.#outage }
  }

  /** Checks a value a read of `key` returned. `undefined` (a miss) is always allowed. */
  checkRead(start: ReadStart, key: Key, value: unknown, label: string): void {
    if (value === undefined) return
    const row = value as Row
    const born = typeof row === 'object' && row !== null ? this.#born.get(row.id) : undefined
    if (born === undefined || born.row.key !== key || born.row.version !== row.version || row.key !== key) {
      this.fail(
        'values',
        `${label} returned ${JSON.stringify(value)}, which was never written under "${key}"`,
      )
    }
    if (!this.#checks.stale) return
    const overlapped = start.outage || this.#outages !== start.outages || this.#outage
    for (const inv of this.#invalidations) {
      const version = inv.versions.get(key)
      if (version === undefined || row.version >= version) continue
      const bound =
        (inv.fullAt[start.at] ?? NEVER) <= start.startedAt ||
        (!overlapped && (inv.l2At[start.at] ?? NEVER) <= start.startedAt)
      if (!bound || this.#excused(inv, born)) continue
      this.fail(
        'stale read',
        `${label} on ${name(start.at)} (started at ${start.startedAt}) returned version ${row.version} of "${key}" (${row.id}, ${born.load === undefined ? 'set' : `loaded by load #${born.load.id} on ${name(born.load.at)} at ${born.load.readAt}`}), but "${inv.label}" (issued at ${inv.issuedAt} when the row was at version ${version}) had reached ${name(start.at)} at ${Math.min(inv.fullAt[start.at] ?? NEVER, inv.l2At[start.at] ?? NEVER)}`,
      )
    }
  }

  /**
   * What the library does not promise. Without a lease or a bus (the README's guarantees), a load
   * that read its row before an invalidation, on an instance that could not know of it before the
   * load finished, may write its old row over it. Tag invalidations are the exception: entries are
   * stamped with the tag versions read before the load.
   */
  #excused(inv: Invalidation, born: Born): boolean {
    const load = born.load
    // A set still in flight when the invalidation was issued may take effect after it: the two
    // calls overlap, so either order is a correct one.
    if (load === undefined) return inv.issuedAt < (born.setSettledAt ?? NEVER)
    const finished = load.settledAt ?? NEVER
    if (!(load.readAt < inv.issuedAt && inv.issuedAt < finished)) return false
    if ((inv.knownAt[load.at] ?? NEVER) < finished) return false
    if (inv.tag !== undefined && tagsOf(born.row.key).includes(inv.tag)) return false
    return true
  }
}

/** A name for an instance in reports. */
export const name = (at: Instance): string => (at === 0 ? 'A' : 'B')
