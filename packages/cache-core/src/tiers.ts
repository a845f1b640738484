import type { AdapterStatus, AnyCacheAdapter, CacheAdapter } from './adapter.js'
import { InvalidationBacklog } from './backlog.js'
import type { CircuitBreaker } from './breaker.js'
import { type Invalidation, InvalidationBus } from './bus.js'
import { type CodecOptions, DecodeMemo, decodeEntry, encodeEntry } from './codec.js'
import { CacheError, ErrorCodes } from './errors.js'
import { type Guard, MISS, type Miss } from './guard.js'
import type { KeyInfo, KeySpace } from './keys.js'
import type { Reporter } from './reporter.js'
import { softened, softInvalidate, softInvalidatePattern } from './soft.js'
import type { TagEpochs, TagVerdict } from './tags.js'
import type { Entry, TagStamp } from './types.js'

/** Stored form of an entry: bytes for ordinary adapters, the entry itself for by-reference ones. */
export type Stored = Uint8Array | Entry
// How often kept invalidations are retried while the store does not answer.
const REPLAY_EVERY_MS = 1_000
// The first retry of a replay that failed as the bus came back.
const REPLAY_SOON_MS = 20
// Most L1 keys the tag index remembers. L1 evicts without telling, so the index keeps keys L1 may
// have dropped; past this it forgets them all and the next tag invalidation empties L1 instead.
const NEAR_TAG_INDEX_LIMIT = 200_000

// What a read gets from the store: one entry, or the entry and its tag epochs from one batched call.
type StoreAnswer = Stored | undefined | Array<Stored | undefined>

/** What a read of `info` does with the entry it found (or `undefined`), at `now`. */
export type Finish<R> = (entry: Entry | undefined, now: number, info: KeyInfo) => R

/** The state of the invalidation bus, as `stats().bus` shows it. */
export type BusState = 'connecting' | 'connected' | 'disconnected' | 'off'

/** Whether an entry is still fresh at `now`. */
export const isFresh = (entry: Entry, now: number): boolean => entry.expiresAt === 0 || entry.expiresAt > now

const isUsable = (entry: Entry, now: number): boolean => entry.staleUntil === 0 || entry.staleUntil > now

/** One write of {@link Tiers.put}. */
export interface Put {
  info: KeyInfo
  entry: Entry
  /** The encoded entry, when a tier stores bytes. */
  bytes: Uint8Array | undefined
  /** How long the store keeps it (fresh + stale/grace windows); undefined = no expiry. */
  lifetimeMs: number | undefined
  /** For a load under a lease: written only while the lease still holds this token. */
  lease?: LeaseHeld | undefined
}

/** A lease this process holds: its key and the token it was taken with. */
export interface LeaseHeld {
  key: string
  token: Stored | string
}

/**
 * The two tiers of a cache and what keeps them coherent: the store (L2), an optional in-process L1,
 * the invalidation bus between instances' L1s, and the generation that stops a read which raced an
 * invalidation from putting an old value back into L1.
 *
 * Reads try L1, then the store, and fill L1 from the store with the entry's remaining lifetime.
 * Writes and invalidations go to both, and are announced on the bus so other instances drop their L1
 * copies.
 */
export class Tiers {
  /** The shared store. */
  readonly store: CacheAdapter<any>
  /** The in-process first tier, when configured. */
  readonly near: CacheAdapter<any> | undefined
  /** The store keeps entries as objects, not bytes. */
  readonly storeByRef: boolean
  /** Whether the store is reached over the network (other processes share it): its reads answer later. */
  readonly remote: boolean
  /** Some tier needs the entry encoded. */
  readonly needsBytes: boolean
  readonly #nearByRef: boolean
  // In-process tiers hand back the same bytes on every hit; their first decode is remembered.
  readonly #storeMemo: DecodeMemo | undefined
  readonly #nearMemo: DecodeMemo | undefined
  readonly #bus: InvalidationBus | undefined
  readonly #readyWaiters: Array<() => void> = []
  // L1 entries are served only while no invalidation can have been missed: with a bus, only while
  // it is subscribed. Untrusted, L1 is consulted only when L2 cannot answer.
  #nearTrusted: boolean
  #busState: BusState
  // Bumped by every invalidation that reaches L1; an L2 read that started before a bump must not
  // fill L1, or it could put back a value the invalidation just removed.
  #generation = 0
  // Which L1 keys hold an entry carrying each tag, so a tag invalidation drops just those. A key may
  // be listed after L1 evicted or replaced its entry: dropping it again costs one miss at most.
  readonly #nearTags = new Map<string, Set<string>>()
  #nearTagged = 0
  // The index lost track (it overflowed): a tag invalidation must empty the whole L1.
  #nearTagsLost = false
  readonly #backlog: InvalidationBacklog
  // Whether anything was ever kept for replay: until then every read skips the backlog in one check.
  #everKept = false
  // What a replay under way took out of the backlog: reads of those keys still wait for it.
  readonly #inFlight = new InvalidationBacklog(Number.POSITIVE_INFINITY)
  #replaying: Promise<boolean> | undefined
  #retry: ReturnType<typeof setInterval> | undefined
  #closed = false

  constructor(
    private readonly cache: string,
    store: AnyCacheAdapter,
    near: AnyCacheAdapter | undefined,
    bus: boolean | undefined,
    private readonly keys: KeySpace,
    private readonly guard: Guard,
    private readonly tags: () => TagEpochs,
    private readonly reporter: Reporter,
    /** Told of every invalidation this instance applies, local or from the bus. */
    private readonly onInvalidation: (invalidation: Invalidation) => void,
    /** Deadline of one store operation, which a read waits for a replay at most. */
    private readonly timeoutMs: number,
    /** Deadline of a replayed pattern delete or clear. */
    private readonly bulkTimeoutMs: number,
    /** Most invalidations kept for replay before the whole keyspace is cleared instead. */
    backlogLimit: number,
    /** Compression and encryption of the entries a tier keeps as bytes. */
    private readonly codec?: CodecOptions,
  ) {
    this.#backlog = new InvalidationBacklog(backlogLimit)
    this.store = store as CacheAdapter<any>
    this.near = near as CacheAdapter<any> | undefined
    this.storeByRef = this.store.capabilities.byReference === true
    this.remote = this.store.capabilities.shared === true
    this.#nearByRef = this.near?.capabilities.byReference === true
    this.needsBytes = !this.storeByRef || (this.near !== undefined && !this.#nearByRef)
    this.#storeMemo = this.storeByRef || this.store.capabilities.shared ? undefined : new DecodeMemo(codec)
    this.#nearMemo = this.near === undefined || this.#nearByRef ? undefined : new DecodeMemo(codec)

    const canBus = typeof this.store.publish === 'function' && typeof this.store.subscribe === 'function'
    if (bus === true && (!canBus || this.near === undefined)) {
      throw new CacheError(
        ErrorCodes.INVALID_CONFIG,
        `cache "${cache}": option "bus" needs an "l1" and an adapter with pub/sub; "${this.store.name}" ${canBus ? 'has it, but there is no l1' : 'has no pub/sub'}`,
        { cache, field: 'bus' },
      )
    }
    const wantsBus = this.near !== undefined && canBus && (bus ?? this.store.capabilities.pubsub)
    this.#nearTrusted = !wantsBus
    this.#busState = wantsBus ? 'connecting' : 'off'
    if (wantsBus) {
      this.#bus = new InvalidationBus(
        this.store,
        keys.channel,
        {
          onInvalidation: (invalidation) => this.applyToNear(invalidation),
          onStatus: (status) => this.busStatus(status),
        },
        reporter.logger,
        cache,
      )
      void this.#bus.start()
    }
  }

  /** The state of the invalidation bus. */
  get busState(): BusState {
    return this.#busState
  }

  // ---------------------------------------------------------------- reads

  /**
   * The entry for `info` — fresh, or stale but still within its stale/grace window — or undefined.
   * The hot path of every hit: no closure and no promise when the tiers answer synchronously.
   */
  lookup(info: KeyInfo, fillNear = true, now = Date.now()): Entry | undefined | Promise<Entry | undefined> {
    let near: Entry | undefined
    const trusted = this.#nearTrusted
    if (this.near !== undefined) {
      near = this.nearGet(info.full, now)
      if (near !== undefined && trusted && isFresh(near, now)) {
        this.reporter.l1Hit(info)
        return near
      }
    }
    // Invalidations the store missed go first: until they are replayed, what it holds under the keys
    // they cover may be stale. Other keys are read as usual while the replay runs.
    if (this.#everKept && this.#replayPending && this.#covered(info.full)) {
      const generation = this.#generation
      return this.#replayWithin(this.timeoutMs).then((done) =>
        done
          ? this.lookup(info, fillNear, Date.now())
          : this.fromStore(MISS, undefined, near, generation, trusted, info, fillNear, Date.now()),
      )
    }
    // An open circuit (of the key's node, on a sharded store) skips the store; L1, trusted or not,
    // is then the best there is. (Written out: an optional call and a breakerOf call per hit cost a
    // memory get about a tenth.)
    const nodeOf = this.guard.nodeOf
    const node = nodeOf === undefined ? undefined : nodeOf(info.full)
    const breaker = node === undefined ? this.guard.breaker : this.guard.breakerOf(node)
    if (!breaker.allow()) {
      return this.fromStore(MISS, undefined, near, this.#generation, trusted, info, fillNear, now)
    }
    // The store read of a hit, written out here and in lookupThen rather than shared: the hot path of
    // a store in this process stays short enough for V8 to inline the adapter's get into it.
    const generation = this.#generation
    const batch = info.batch
    let raw: StoreAnswer | Promise<StoreAnswer>
    try {
      raw = batch === undefined ? this.store.get(info.full) : this.store.getMany(batch)
    } catch (error) {
      this.guard.fail('get', info.key, error, undefined, node)
      return near
    }
    if (raw instanceof Promise) {
      return this.awaitRead(raw, info, near, generation, trusted, fillNear, undefined, node, breaker)
    }
    breaker.success()
    return this.fromStore(raw, batch, near, generation, trusted, info, fillNear, now)
  }

  /**
   * {@link lookup}, then `finish` applied to what it found. Without an L1 and with nothing to
   * replay, `finish` runs in the same promise step as the one that decodes the store's reply: a
   * single get then costs one promise step on top of the store's own, not two.
   */
  lookupThen<R>(info: KeyInfo, now: number, finish: Finish<R>): R | Promise<R> {
    // A store in this process answers at once, with no promise step to save: the plain lookup is
    // the shorter path there (measured: about a sixth of a memory hit).
    if (this.near !== undefined || this.#replayPending || !this.remote) {
      const found = this.lookup(info, true, now)
      return found instanceof Promise
        ? found.then((entry) => finish(entry, Date.now(), info))
        : finish(found, now, info)
    }
    // As in lookup: an open circuit skips the store, and there is no L1 to fall back on.
    const nodeOf = this.guard.nodeOf
    const node = nodeOf === undefined ? undefined : nodeOf(info.full)
    const breaker = node === undefined ? this.guard.breaker : this.guard.breakerOf(node)
    if (!breaker.allow()) return finish(undefined, now, info)
    // The store read, as in lookup, with no L1 copy to fall back on.
    const generation = this.#generation
    const trusted = this.#nearTrusted
    const batch = info.batch
    let raw: StoreAnswer | Promise<StoreAnswer>
    try {
      raw = batch === undefined ? this.store.get(info.full) : this.store.getMany(batch)
    } catch (error) {
      this.guard.fail('get', info.key, error, undefined, node)
      return finish(undefined, now, info)
    }
    if (raw instanceof Promise) {
      return this.awaitRead(raw, info, undefined, generation, trusted, true, finish, node, breaker)
    }
    breaker.success()
    return this.finished(raw, batch, undefined, generation, trusted, info, true, now, finish)
  }

  /** A store read that answers later: its answer, then `finish` when given, in one promise step. */
  private awaitRead<R>(
    raw: Promise<StoreAnswer>,
    info: KeyInfo,
    near: Entry | undefined,
    generation: number,
    trusted: boolean,
    fillNear: boolean,
    // Undefined where R is what was found (lookup's own read).
    finish: Finish<R> | undefined,
    node: string | undefined,
    breaker: CircuitBreaker,
  ): Promise<R> {
    const batch = info.batch
    const operation = batch === undefined ? 'get' : 'getMany'
    if (this.guard.selfBounded) {
      // The store times itself out: one promise step instead of a guarded wait and then a decode.
      return raw.then(
        (answer) => {
          breaker.success()
          return this.finished(answer, batch, near, generation, trusted, info, fillNear, Date.now(), finish)
        },
        (error) => {
          this.guard.fail(operation, info.key, error, undefined, node)
          return this.finished(MISS, batch, near, generation, trusted, info, fillNear, Date.now(), finish)
        },
      )
    }
    return this.guard
      .settle(raw, operation, info.key, undefined, undefined, node)
      .then((settled) =>
        this.finished(settled, batch, near, generation, trusted, info, fillNear, Date.now(), finish),
      )
  }

  /** {@link fromStore}, then `finish` when given (in the same step when the answer needs no tag check). */
  private finished<R>(
    answer: StoreAnswer | Miss,
    batch: string[] | undefined,
    near: Entry | undefined,
    generation: number,
    trusted: boolean,
    info: KeyInfo,
    fillNear: boolean,
    now: number,
    finish: Finish<R> | undefined,
  ): R | Promise<R> {
    const entry = this.fromStore(answer, batch, near, generation, trusted, info, fillNear, now)
    if (finish === undefined) return entry as R | Promise<R>
    return entry instanceof Promise
      ? entry.then((e) => finish(e, Date.now(), info))
      : finish(entry, now, info)
  }

  private fromStore(
    answer: StoreAnswer | Miss,
    batch: string[] | undefined,
    near: Entry | undefined,
    generation: number,
    nearTrusted: boolean,
    info: KeyInfo,
    fillNear: boolean,
    now: number,
  ): Entry | undefined | Promise<Entry | undefined> {
    // An invalidation since L1 was read (a reconnecting bus empties L1 too) makes that copy suspect.
    if (generation !== this.#generation) near = undefined
    // The store failed: an L1 copy, even an untrusted one, beats nothing while the store is down.
    if (answer === MISS) {
      if (near !== undefined) this.reporter.l1Hit(info)
      return near
    }
    const raw =
      batch === undefined ? (answer as Stored | undefined) : (answer as Array<Stored | undefined>)[0]
    const entry = this.decode(raw, this.storeByRef, this.#storeMemo)
    // The store has nothing: only an L1 copy trusted when it was read (a stale one kept for
    // stale-while-revalidate) may still answer.
    if (entry === undefined || !isUsable(entry, now)) return nearTrusted ? near : undefined
    if (entry.tags !== undefined && this.#everKept && this.#replayPending && this.#tagsCovered(entry.tags))
      return undefined
    if (entry.tags === undefined) {
      if (batch !== undefined) info.batch = undefined
      return fillNear && this.near !== undefined
        ? this.adopt(info.full, entry, raw as Stored, generation)
        : entry
    }
    const keep = (verdict: TagVerdict) => {
      if (verdict === false) return undefined
      // Softly invalidated by a tag: served as expired, and kept out of L1, which holds it as written.
      if (verdict !== true) return softened(entry, verdict, Date.now())
      return fillNear ? this.adopt(info.full, entry, raw as Stored, generation) : entry
    }
    const tags = this.tags()
    if (batch !== undefined) {
      const verdict = tags.judgeHinted(entry.tags, batch, answer as Array<Stored | undefined>)
      if (verdict !== undefined) return keep(verdict)
    }
    this.keys.hintTags(info, entry.tags)
    const verdict = tags.check([entry])
    return verdict instanceof Promise ? verdict.then((valid) => keep(valid[0]!)) : keep(verdict[0]!)
  }

  /** Copies an entry read from L2 into L1, unless an invalidation arrived while it was read. */
  private adopt(full: string, entry: Entry, raw: Stored, generation: number): Entry {
    if (this.near !== undefined && generation === this.#generation) {
      const bytes = this.storeByRef ? undefined : (raw as Uint8Array)
      this.nearPut(full, entry, bytes, entry.staleUntil === 0 ? undefined : entry.staleUntil - Date.now())
    }
    return entry
  }

  /** The entries of many keys: L1 first, then one batched store read for the rest. */
  async lookupMany(infos: readonly KeyInfo[]): Promise<Array<Entry | undefined>> {
    const now = Date.now()
    const found: Array<Entry | undefined> = new Array(infos.length).fill(undefined)
    const nearFound: Array<Entry | undefined> = new Array(infos.length).fill(undefined)
    const wanted: number[] = []
    for (let i = 0; i < infos.length; i++) {
      const near = this.near === undefined ? undefined : this.nearGet(infos[i]!.full, now)
      if (near !== undefined && this.#nearTrusted && isFresh(near, now)) {
        this.reporter.l1Hit(infos[i]!)
        found[i] = near
      } else {
        nearFound[i] = near
        wanted.push(i)
      }
    }
    if (wanted.length === 0) return found
    const generation = this.#generation
    const trusted = this.#nearTrusted
    const fulls = wanted.map((i) => infos[i]!.full)
    const replayed =
      !this.#replayPending ||
      !fulls.some((full) => this.#covered(full)) ||
      (await this.#replayWithin(this.timeoutMs))
    // One read per node on a sharded store: a node that fails leaves only its own keys unread (MISS).
    // Keys a replay that did not finish still covers are not read; the others are.
    const readable = replayed ? fulls : fulls.filter((full) => !this.#covered(full))
    // Awaited only when pending: a store in this process answers at once, and each await of a value
    // already there would still cost a promise step.
    const pending =
      readable.length === 0
        ? MISS
        : this.guard.readMany<Stored | undefined>('getMany', readable, (keys) => this.store.getMany(keys))
    const read: Array<Stored | undefined | Miss> | Miss = pending instanceof Promise ? await pending : pending
    let raws: Array<Stored | undefined | Miss> | Miss = read
    if (read !== MISS && readable !== fulls) {
      let next = 0
      raws = fulls.map((full) => (readable[next] === full ? read[next++] : MISS))
    }
    // As in fromStore: L1 copies read before an invalidation are not to be served.
    const nearValid = generation === this.#generation
    if (raws === MISS) {
      for (const i of wanted) found[i] = nearValid ? nearFound[i] : undefined
      return found
    }
    const entries = wanted.map((_, j) => {
      const raw = raws[j]
      if (raw === MISS) return undefined
      const entry = this.decode(raw, this.storeByRef, this.#storeMemo)
      if (entry?.tags !== undefined && this.#replayPending && this.#tagsCovered(entry.tags)) return undefined
      return entry !== undefined && isUsable(entry, now) ? entry : undefined
    })
    let valid = this.tags().check(entries)
    if (valid instanceof Promise) valid = await valid
    const verdicts = valid
    wanted.forEach((i, j) => {
      const entry = entries[j]
      const verdict = verdicts[j]!
      // The key's node failed: as when the whole store does, an L1 copy beats nothing.
      if (raws[j] === MISS) found[i] = nearValid ? nearFound[i] : undefined
      else if (entry !== undefined && verdict === true)
        found[i] = this.adopt(fulls[j]!, entry, raws[j] as Stored, generation)
      else if (entry !== undefined && typeof verdict === 'number') found[i] = softened(entry, verdict, now)
      else found[i] = trusted && nearValid ? nearFound[i] : undefined
    })
    return found
  }

  private nearGet(full: string, now: number): Entry | undefined {
    let raw: unknown
    try {
      raw = this.near!.get(full)
    } catch {
      return undefined
    }
    // L1 must answer synchronously; a promise (a misconfigured L1) counts as absent.
    if (raw === undefined || raw instanceof Promise) return undefined
    const entry = this.decode(raw as Stored, this.#nearByRef, this.#nearMemo)
    return entry !== undefined && isUsable(entry, now) ? entry : undefined
  }

  private nearPut(
    full: string,
    entry: Entry,
    bytes: Uint8Array | undefined,
    ttlMs: number | undefined,
  ): void {
    if (this.near === undefined || (ttlMs !== undefined && ttlMs <= 0)) return
    // Indexed before it is stored: no tag invalidation may find it in L1 but not in the index.
    if (entry.tags !== undefined) this.#indexTags(full, entry.tags)
    try {
      const stored = this.#nearByRef ? entry : (bytes ?? encodeEntry(entry, full, this.cache, this.codec))
      void this.near.set(full, stored, ttlMs === undefined ? undefined : Math.ceil(ttlMs))
    } catch {
      // L1 is an optimisation: failing to fill it must never fail a read or a write.
    }
  }

  private decode(raw: Stored | undefined, byRef: boolean, memo: DecodeMemo | undefined): Entry | undefined {
    if (raw === undefined || raw === null) return undefined
    // By reference, only entries this core wrote are usable; anything else is foreign data.
    if (byRef) {
      const entry = raw as Entry
      if (
        typeof entry === 'object' &&
        typeof entry.expiresAt === 'number' &&
        typeof entry.staleUntil === 'number'
      ) {
        return entry
      }
      this.reporter.recorder.undecodable++
      return undefined
    }
    const entry =
      memo === undefined ? decodeEntry(raw as Uint8Array, this.codec) : memo.decode(raw as Uint8Array)
    if (entry === undefined) this.reporter.recorder.undecodable++
    return entry
  }

  // ---------------------------------------------------------------- writes

  /**
   * {@link put} of one entry with no lease (a `set`): the same steps, with no batch to build and no
   * more promise steps than the store's own write, since `set` is the write most callers make.
   */
  putOne(p: Put): Promise<boolean> {
    if (this.#replayPending || p.lease !== undefined) return this.put([p], true)
    const written = this.#storeSet(p)
    return written instanceof Promise
      ? written.then((result) => this.#putDone(p, result !== MISS))
      : Promise.resolve(this.#putDone(p, written !== MISS))
  }

  /** The store's `set` of one entry, under its node's breaker: MISS when skipped or failed. */
  #storeSet(p: Put): unknown {
    const { info, lifetimeMs } = p
    const stored = this.storeByRef ? p.entry : p.bytes
    const nodeOf = this.guard.nodeOf
    return this.guard.call(
      'set',
      info.key,
      () => this.store.set(info.full, stored, lifetimeMs),
      undefined,
      undefined,
      nodeOf === undefined ? undefined : nodeOf(info.full),
    )
  }

  /**
   * What follows a single write the store answered: L1, the backlog when it failed (the store keeps
   * whatever it held before, which must go when it is back), the bus.
   */
  #putDone(p: Put, ok: boolean): boolean | Promise<boolean> {
    this.#generation++
    this.nearPut(p.info.full, p.entry, p.bytes, p.lifetimeMs)
    if (!ok) this.keep({ keys: [p.info.full] })
    if (this.#bus !== undefined) return this.#bus.publish({ keys: [p.info.full] }).then(() => ok)
    return ok
  }

  /** Writes entries to the store, then L1, then tells other instances; false when the store failed. */
  async put(puts: readonly Put[], single: boolean): Promise<boolean> {
    if (this.#replayPending) {
      // This write supersedes kept deletes of its keys (if it fails, they are kept again below); a
      // replay already under way for them must land first, or it would delete the newer value.
      const fulls = puts.map((p) => p.info.full)
      this.#backlog.written(fulls)
      if (this.#replaying !== undefined && fulls.some((full) => this.#inFlight.covers(full))) {
        await this.#replayWithin(this.timeoutMs)
      }
    }
    let ok: boolean
    if (single && puts[0]!.lease !== undefined && this.store.setIfHolds !== undefined) {
      const { info, entry, bytes, lifetimeMs, lease } = puts[0]!
      const stored = this.storeByRef ? entry : bytes
      const written = await this.guard.call(
        'setIfHolds',
        info.key,
        () => this.store.setIfHolds!(info.full, stored, lifetimeMs, lease!.key, lease!.token),
        undefined,
        undefined,
        this.guard.nodeOf?.(info.full),
      )
      // The lease was revoked by an invalidation while the load ran: the store refused the older
      // result, so nothing is written anywhere.
      if (written === false) return false
      ok = written !== MISS
    } else if (single) {
      ok = (await this.#storeSet(puts[0]!)) !== MISS
    } else {
      const failed = await this.#writeMany(puts)
      ok = failed.length === 0
      this.#generation++
      for (const p of puts) this.nearPut(p.info.full, p.entry, p.bytes, p.lifetimeMs)
      // A write the store did not take leaves whatever it held before: that must go when it is back.
      if (!ok) this.keep({ keys: failed })
      if (this.#bus !== undefined) await this.#bus.publish({ keys: puts.map((p) => p.info.full) })
      return ok
    }
    return this.#putDone(puts[0]!, ok)
  }

  /**
   * `setMany` of `puts`, one call per node on a sharded store, each under its node's breaker; the
   * full keys of the calls that failed.
   */
  async #writeMany(puts: readonly Put[]): Promise<string[]> {
    const groups = new Map<string | undefined, Put[]>()
    const nodeOf = this.guard.nodeOf
    for (const p of puts) {
      const node = nodeOf?.(p.info.full)
      const group = groups.get(node)
      if (group === undefined) groups.set(node, [p])
      else group.push(p)
    }
    const failed: string[] = []
    await Promise.all(
      [...groups].map(async ([node, group]) => {
        const batch = group.map((p) => ({
          key: p.info.full,
          value: this.storeByRef ? p.entry : p.bytes,
          ttlMs: p.lifetimeMs,
        }))
        const run = () => this.store.setMany(batch)
        if ((await this.guard.call('setMany', undefined, run, undefined, undefined, node)) === MISS) {
          for (const p of group) failed.push(p.info.full)
        }
      }),
    )
    return failed
  }

  // ---------------------------------------------------------------- invalidation

  /**
   * Applies an invalidation to L1, to the store and to every other instance's L1. L1 goes first and
   * regardless of the store, so this instance never serves what it was told to remove; a store
   * failure still rejects, because the caller must know the entries may remain there.
   */
  async invalidate<R>(
    invalidation: Invalidation,
    operation: string,
    key: string | undefined,
    run: () => R | Promise<R>,
    deadlineMs?: number,
  ): Promise<R> {
    this.applyToNear(invalidation)
    // Older invalidations first; if the store is still down this fails fast and ours is kept too.
    let failure: Error | undefined
    // One key's invalidation is its node's business; others span the store.
    const only = invalidation.keys?.length === 1 ? invalidation.keys[0]! : undefined
    const result = await this.guard.call(
      operation,
      key,
      run,
      (error) => {
        failure = error
      },
      deadlineMs,
      only === undefined ? undefined : this.guard.nodeOf?.(only),
    )
    // Again: a read that started while the store operation ran (a pattern delete takes many round
    // trips) may have put an old value back into L1.
    this.applyToNear(invalidation, false)
    if (this.#bus !== undefined) await this.#bus.publish(invalidation)
    if (result !== MISS) return result as R
    this.keep(invalidation)
    throw new CacheError(
      ErrorCodes.ADAPTER,
      `cache "${this.cache}": ${operation} could not reach the store (${failure?.message ?? 'circuit open'}); the entries may still be there until it answers again, when the invalidation is replayed`,
      { cache: this.cache, key, cause: failure },
    )
  }

  // Kept invalidations, or a replay of them under way (it took them out of the backlog).
  get #replayPending(): boolean {
    return this.#everKept && (this.#backlog.size > 0 || this.#replaying !== undefined)
  }

  // Whether a kept (or replaying) invalidation covers the entry under `full`. Only reads of such keys
  // wait for (and start) a replay; other keys are read as usual, and a timer retries the rest.
  #covered(full: string): boolean {
    return this.#backlog.covers(full) || this.#inFlight.covers(full)
  }

  // Whether an entry's tags were invalidated while the store could not take it.
  #tagsCovered(tags: readonly TagStamp[]): boolean {
    return this.#backlog.coversTags(tags) || this.#inFlight.coversTags(tags)
  }

  /** How many invalidations wait for the store to answer again. */
  get backlog(): number {
    return this.#backlog.size
  }

  /** Keeps an invalidation the store did not take, and retries it until it does. */
  keep(invalidation: Invalidation): void {
    this.#everKept = true
    this.#backlog.add(invalidation)
    if (this.#retry === undefined && !this.#closed) {
      this.#retry = setInterval(() => {
        // An open circuit would refuse the replay anyway; its half-open probe is left to callers.
        if (this.guard.breaker.state !== 'open') void this.replay()
      }, REPLAY_EVERY_MS)
      this.#retry.unref?.()
    }
  }

  /**
   * Replays the kept invalidations; true once none is left. Concurrent callers share one replay.
   * Reads wait for it before they read the store, so nothing it removes can be served.
   */
  replay(): Promise<boolean> {
    if (!this.#replayPending) return Promise.resolve(true)
    this.#replaying ??= this.#replayAll().finally(() => {
      this.#replaying = undefined
    })
    return this.#replaying
  }

  // Retries a replay that failed right after the bus came back, doubling the wait up to the timer's
  // period, so a command connection that reconnects later than the subscriber is caught within
  // milliseconds instead of a whole period (other instances read the store meanwhile).
  #replayOnReconnect(waitMs: number): void {
    void this.replay().then((done) => {
      if (done || this.#closed || this.#busState !== 'connected' || waitMs >= REPLAY_EVERY_MS) return
      setTimeout(() => this.#replayOnReconnect(waitMs * 2), waitMs).unref?.()
    })
  }

  /** {@link replay}, waited for at most `ms`: a read is bounded by its deadline, replay or not. */
  #replayWithin(ms: number): Promise<boolean> {
    const replaying = this.replay()
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    })
    return Promise.race([replaying, late]).finally(() => clearTimeout(timer))
  }

  async #replayAll(): Promise<boolean> {
    const pending = this.#backlog.take()
    for (const invalidation of pending) this.#inFlight.add(invalidation)
    try {
      return await this.#replayTaken(pending)
    } finally {
      this.#inFlight.take()
    }
  }

  async #replayTaken(pending: Invalidation[]): Promise<boolean> {
    for (let i = 0; i < pending.length; i++) {
      const invalidation = pending[i]!
      if (invalidation.keys !== undefined && this.guard.nodeOf !== undefined) {
        // Per node: the keys of a node that answers are deleted even while another is down.
        const left = await this.#deleteByNode(invalidation.keys)
        if (left.length > 0) {
          this.#backlog.add({ keys: left })
          for (const later of pending.slice(i + 1)) this.#backlog.add(later)
          return false
        }
        if (this.#bus !== undefined) await this.#bus.publish(invalidation)
        continue
      }
      // Key deletes are single operations; patterns and clear walk the keyspace and get longer.
      const bulk = invalidation.keys === undefined && invalidation.tags === undefined
      const done = await this.guard.call(
        'replay',
        undefined,
        () => this.#replayOne(invalidation),
        undefined,
        bulk ? this.bulkTimeoutMs : undefined,
      )
      if (done === MISS) {
        for (const left of pending.slice(i)) this.#backlog.add(left)
        return false
      }
      // Other instances may have missed the first announcement as well (it went over the same store).
      if (this.#bus !== undefined) await this.#bus.publish(invalidation)
    }
    if (this.#backlog.size === 0 && this.#retry !== undefined) {
      clearInterval(this.#retry)
      this.#retry = undefined
    }
    const failedMeanwhile = this.#backlog.size > 0
    if (!failedMeanwhile) {
      this.reporter.logger?.debug?.(
        { cache: this.cache, replayed: pending.length },
        `cache "${this.cache}": replayed the invalidations the store missed while it was unreachable`,
      )
    }
    return !failedMeanwhile
  }

  /** Deletes `keys` one `deleteMany` per node, each under its node's breaker; the keys left. */
  async #deleteByNode(keys: readonly string[]): Promise<string[]> {
    const groups = new Map<string | undefined, string[]>()
    for (const key of keys) {
      const node = this.guard.nodeOf?.(key)
      const group = groups.get(node)
      if (group === undefined) groups.set(node, [key])
      else group.push(key)
    }
    const left: string[] = []
    await Promise.all(
      [...groups].map(async ([node, group]) => {
        const run = () => this.store.deleteMany(group)
        if ((await this.guard.call('replay', undefined, run, undefined, undefined, node)) === MISS)
          left.push(...group)
      }),
    )
    return left
  }

  #replayOne(invalidation: Invalidation): unknown {
    if (invalidation.soft) return this.#replaySoft(invalidation)
    if (invalidation.keys !== undefined) return this.store.deleteMany(invalidation.keys)
    if (invalidation.pattern !== undefined) return this.store.deleteByPattern(invalidation.pattern)
    if (invalidation.tags !== undefined) return this.store.setMany(this.tags().bumps(invalidation.tags))
    return this.store.clear(this.keys.base)
  }

  // A soft invalidation replays soft: the entries expire into grace (as of the replay) as they would have.
  async #replaySoft({ keys, pattern, tags }: Invalidation): Promise<unknown> {
    const store = this.store
    if (keys !== undefined) return softInvalidate(store, this.storeByRef, this.codec, keys)
    if (pattern !== undefined) return softInvalidatePattern(store, this.storeByRef, this.codec, pattern)
    return store.setMany(await this.tags().softBumps(tags ?? []))
  }

  // `announce` tells the loads of this process; the second pass after the store operation only
  // cleans L1 (loads that started after the invalidation was issued read current data).
  private applyToNear(invalidation: Invalidation, announce = true): void {
    this.#generation++
    if (invalidation.tags !== undefined) this.tags().forget(invalidation.tags)
    if (announce) this.onInvalidation(invalidation)
    const near = this.near
    if (near === undefined) return
    try {
      if (invalidation.all && invalidation.tags !== undefined && !this.#nearTagsLost) {
        // Only the entries that carry one of the tags; the rest of L1 stays warm.
        const carrying: string[] = []
        for (const tag of invalidation.tags) {
          const fulls = this.#nearTags.get(tag)
          if (fulls === undefined) continue
          this.#nearTags.delete(tag)
          this.#nearTagged -= fulls.size
          for (const full of fulls) carrying.push(full)
        }
        if (carrying.length > 0) void near.deleteMany(carrying)
      } else if (invalidation.all) {
        this.#nearTags.clear()
        this.#nearTagged = 0
        this.#nearTagsLost = false
        void near.clear(this.keys.base)
      }
      if (invalidation.keys !== undefined && invalidation.keys.length > 0)
        void near.deleteMany(invalidation.keys)
      if (invalidation.pattern !== undefined) void near.deleteByPattern(invalidation.pattern)
    } catch {
      // An in-process store that throws on delete is broken beyond repair; stop trusting it.
      this.#nearTrusted = false
    }
  }

  // Lists `full` under each of its entry's tags.
  #indexTags(full: string, tags: readonly TagStamp[]): void {
    if (this.#nearTagsLost) return
    for (const [tag] of tags) {
      let fulls = this.#nearTags.get(tag)
      if (fulls === undefined) {
        fulls = new Set()
        this.#nearTags.set(tag, fulls)
      }
      const before = fulls.size
      fulls.add(full)
      this.#nearTagged += fulls.size - before
    }
    if (this.#nearTagged > NEAR_TAG_INDEX_LIMIT) {
      this.#nearTags.clear()
      this.#nearTagged = 0
      this.#nearTagsLost = true
    }
  }

  private busStatus(status: AdapterStatus): void {
    const trusted = status === 'ready'
    // Back on the bus: whatever was published meanwhile is unknown, so L1 starts over. Off the bus,
    // L1 is kept but only consulted when L2 cannot answer (an outage is when it helps most).
    // Running loads are told only on a REconnect: before the first connection L1 was never used, and
    // loads started then are as safe as on a cache without a bus (start-up keeps its first results).
    if (trusted) this.applyToNear({ all: true }, this.#busState !== 'connecting')
    else this.#generation++
    // The bus answering again means the store does, or will in a moment (its command connection
    // reconnects on its own schedule): replay what it missed without waiting for the timer.
    if (trusted && this.#replayPending) this.#replayOnReconnect(REPLAY_SOON_MS)
    const was = this.#busState
    this.#busState = trusted ? 'connected' : 'disconnected'
    // The first answer of the bus, either way, ends start-up: callers of ready() stop waiting.
    for (const wake of this.#readyWaiters.splice(0)) wake()
    if (was === 'connecting' && trusted) {
      this.reporter.logger?.debug?.(
        { cache: this.cache },
        `cache "${this.cache}": invalidation bus connected`,
      )
    } else if (was !== this.#busState) {
      this.reporter.warn(
        { status },
        trusted
          ? `cache "${this.cache}": invalidation bus reconnected, in-process tier emptied and in use again`
          : `cache "${this.cache}": invalidation bus lost, in-process tier bypassed until it reconnects`,
      )
    }
    this.#nearTrusted = trusted
  }

  // ---------------------------------------------------------------- lifecycle

  /** Resolves once the bus first answered (or at once without one), after `maxWaitMs` at most. */
  ready(maxWaitMs: number): Promise<void> {
    if (this.#busState !== 'connecting') return Promise.resolve()
    return new Promise((resolve) => {
      // A store that is down at start-up must not hold start-up up: give up waiting after a while.
      const timer = setTimeout(resolve, maxWaitMs)
      timer.unref?.()
      this.#readyWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Ends the bus subscription and closes both tiers. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#retry !== undefined) clearInterval(this.#retry)
    this.#retry = undefined
    await this.#bus?.close()
    await Promise.all([this.store.close(), this.near?.close()])
  }
}
