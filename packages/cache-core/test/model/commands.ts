/**
 * Random command sequences on two cache instances that share one store, run against a
 * {@link World} and checked step by step against the reference {@link Model}.
 */
import fc from 'fast-check'
import type { Cache } from '../../src/index.js'
import {
  type Checks,
  type Instance,
  KEYS,
  type Key,
  LoaderFailure,
  Model,
  name,
  PATTERNS,
  type ReadStart,
  type Row,
  TAGS,
  type Tag,
  tagsOf,
} from './model.js'

/** How a loader behaves: answers at once, waits for a `release`, fails at once, or waits then fails. */
export type LoaderKind = 'fast' | 'slow' | 'fail' | 'slowFail'

/**
 * One step of a run. `at` is the instance (A = 0, B = 1) the call is made on; with `overlap` the
 * next step starts at once instead of after the call settled (or began waiting for a loader).
 */
export type Command =
  | { op: 'get'; at: Instance; key: Key; overlap: boolean }
  | { op: 'set'; at: Instance; key: Key; overlap: boolean }
  | { op: 'getOrSet'; at: Instance; key: Key; loader: LoaderKind; overlap: boolean }
  | { op: 'getOrSetMany'; at: Instance; keys: Key[]; loader: LoaderKind; overlap: boolean }
  | { op: 'delete'; at: Instance; key: Key; update: boolean; overlap: boolean }
  | { op: 'deletePattern'; at: Instance; pattern: string; update: boolean; overlap: boolean }
  | { op: 'invalidateTags'; at: Instance; tag: Tag; update: boolean; overlap: boolean }
  | { op: 'clear'; at: Instance; update: boolean; overlap: boolean }
  /** Lets the `pick`-th waiting slow loader (modulo how many wait) finish. */
  | { op: 'release'; pick: number }
  /** Waits until every instance has heard what was published. */
  | { op: 'sync' }
  | { op: 'dropBus'; at: Instance }
  /** Brings the bus back, the instance reading every key in turn until it is. */
  | { op: 'restoreBus'; at: Instance }
  | { op: 'outage' }
  | { op: 'recover' }

/**
 * Two instances over one shared store, and the faults a run can inject. Every method resolves when
 * the fault is in effect as the instances see it (for example: the instance noticed its bus is gone).
 */
export interface World {
  /** Instance A and instance B: each with its own L1, both on the same store. */
  readonly caches: readonly [Cache, Cache]
  /** Waits until what was published so far has been delivered to every subscribed instance. */
  sync(): Promise<void>
  /** Cuts one instance's bus subscription; messages published meanwhile are lost to it. */
  dropBus(at: Instance): Promise<void>
  /** Brings one instance's bus subscription back. */
  restoreBus(at: Instance): Promise<void>
  /** Makes the store unreachable for every instance (its data is kept, as by a persisted Redis). */
  outage(): Promise<void>
  /** Brings the store back with its data; resolves once both instances are subscribed again. */
  recover(): Promise<void>
  /** Resolves `op` if it settles within the time a call takes that does not wait for a loader. */
  settled(op: Promise<unknown>): Promise<void>
  /** Writes keys outside the caches' keyspace into the store. */
  plantForeign(): Promise<void>
  /** Throws when a planted foreign key is gone or changed. */
  checkForeign(): Promise<void>
  /** Closes both caches and everything the world started. */
  close(): Promise<void>
}

/** Which commands a property draws, with their weights (0 leaves a command out). */
export interface Mix {
  reads: number
  writes: number
  invalidations: number
  slow: number
  failing: number
  busDrops: number
  outages: number
  /** Weight of starting the next step while a call is in flight, against 4 for waiting for it. */
  overlap: number
  /** Whether loads may overlap the next step too (else only reads, writes and invalidations do). */
  overlapLoads: boolean
}

const instance = fc.constantFrom<Instance>(0, 1)
const key = fc.constantFrom<Key>(...KEYS)

function loaderKind(mix: Mix): fc.Arbitrary<LoaderKind> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<LoaderKind>('fast') },
    { weight: mix.slow, arbitrary: fc.constant<LoaderKind>('slow') },
    { weight: mix.failing, arbitrary: fc.constant<LoaderKind>('fail') },
    { weight: mix.failing === 0 ? 0 : mix.slow, arbitrary: fc.constant<LoaderKind>('slowFail') },
  )
}

/** Command sequences drawn with the weights of `mix`. */
export function commands(mix: Mix, maxLength = 30): fc.Arbitrary<Command[]> {
  const update = fc.boolean()
  const overlap = fc.oneof(
    { weight: 4, arbitrary: fc.constant(false) },
    { weight: mix.overlap, arbitrary: fc.constant(true) },
  )
  const loader = loaderKind(mix)
  const loadOverlap = mix.overlapLoads ? overlap : fc.constant(false)
  const command: fc.Arbitrary<Command> = fc.oneof(
    {
      weight: mix.reads,
      arbitrary: fc.record({ op: fc.constant('get' as const), at: instance, key, overlap }),
    },
    {
      weight: mix.reads * 2,
      arbitrary: fc.record({
        op: fc.constant('getOrSet' as const),
        at: instance,
        key,
        loader,
        overlap: loadOverlap,
      }),
    },
    {
      weight: mix.reads,
      arbitrary: fc.record({
        op: fc.constant('getOrSetMany' as const),
        at: instance,
        keys: fc.uniqueArray(key, { minLength: 1, maxLength: 3 }),
        loader,
        overlap: loadOverlap,
      }),
    },
    {
      weight: mix.writes,
      arbitrary: fc.record({ op: fc.constant('set' as const), at: instance, key, overlap }),
    },
    {
      weight: mix.invalidations * 2,
      arbitrary: fc.record({ op: fc.constant('delete' as const), at: instance, key, update, overlap }),
    },
    {
      weight: mix.invalidations,
      arbitrary: fc.record({
        op: fc.constant('deletePattern' as const),
        at: instance,
        pattern: fc.constantFrom(...PATTERNS),
        update,
        overlap,
      }),
    },
    {
      weight: mix.invalidations,
      arbitrary: fc.record({
        op: fc.constant('invalidateTags' as const),
        at: instance,
        tag: fc.constantFrom(...TAGS),
        update,
        overlap,
      }),
    },
    {
      weight: Math.ceil(mix.invalidations / 2),
      arbitrary: fc.record({ op: fc.constant('clear' as const), at: instance, update, overlap }),
    },
    {
      weight: mix.slow * 2,
      arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat(3) }),
    },
    { weight: 3, arbitrary: fc.constant({ op: 'sync' as const }) },
    {
      weight: mix.busDrops,
      arbitrary: fc.record({ op: fc.constant('dropBus' as const), at: instance }),
    },
    {
      weight: mix.busDrops,
      arbitrary: fc.record({ op: fc.constant('restoreBus' as const), at: instance }),
    },
    { weight: mix.outages, arbitrary: fc.constant({ op: 'outage' as const }) },
    { weight: mix.outages, arbitrary: fc.constant({ op: 'recover' as const }) },
  )
  return fc.array(command, { minLength: 1, maxLength })
}

/** A readable line per command, for the counterexample fast-check prints. */
export function describeCommand(command: Command): string {
  const on =
    'at' in command ? ` on ${name(command.at)}${'overlap' in command && command.overlap ? ' &' : ''}` : ''
  switch (command.op) {
    case 'get':
    case 'set':
      return `${command.op}(${command.key})${on}`
    case 'getOrSet':
      return `getOrSet(${command.key}, ${command.loader})${on}`
    case 'getOrSetMany':
      return `getOrSetMany([${command.keys.join(',')}], ${command.loader})${on}`
    case 'delete':
      return `${command.update ? 'update+' : ''}delete(${command.key})${on}`
    case 'deletePattern':
      return `${command.update ? 'update+' : ''}deletePattern(${command.pattern})${on}`
    case 'invalidateTags':
      return `${command.update ? 'update+' : ''}invalidateTags(${command.tag})${on}`
    case 'clear':
      return `${command.update ? 'update+' : ''}clear()${on}`
    case 'release':
      return `release(${command.pick})`
    default:
      return `${command.op}()${on}`
  }
}

interface Gate {
  readonly label: string
  open(): void
}

const isAdapterError = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'E_ADAPTER'

/** Runs `script` on `world`, checking every step against a fresh model; throws the first violation. */
export async function run(world: World, script: readonly Command[], checks: Checks): Promise<void> {
  const model = new Model(checks)
  const gates: Gate[] = []
  const pending = new Set<Promise<unknown>>()
  // The first violation found by a call settling in the background; rethrown by the next step.
  let violation: unknown

  const track = (op: Promise<unknown>): Promise<unknown> => {
    const guarded = op.catch((error) => {
      violation ??= error
    })
    pending.add(guarded)
    void guarded.finally(() => pending.delete(guarded))
    return guarded
  }

  // Once the run drains, loaders that start late (their call was still reading) do not wait.
  let draining = false
  const gate = (label: string): Promise<void> =>
    draining
      ? Promise.resolve()
      : new Promise((open) => {
          gates.push({ label, open: () => open() })
        })

  // The loader of one call, and the rows it produced once the library ran it.
  const loaderFor = (at: Instance, kind: LoaderKind, label: string) => {
    const produced: Row[] = []
    const load = async (keys: readonly Key[]): Promise<Row[]> => {
      const { rows, done } = model.loadStarted(at, keys, label)
      try {
        if (kind === 'slow' || kind === 'slowFail') await gate(label)
        if (kind === 'fail' || kind === 'slowFail') throw new LoaderFailure(keys)
        produced.push(...rows)
        return rows
      } finally {
        done()
      }
    }
    return { load, finished: () => model.loadSettled(produced) }
  }

  const checkFailure = (error: unknown, keys: readonly Key[], label: string): void => {
    if (!(error instanceof LoaderFailure) || !keys.some((k) => error.keys.includes(k))) {
      model.fail(
        'errors',
        `${label} rejected with ${String(error)}; only a failure of its loader may reach it`,
      )
    }
  }

  const read = (at: Instance, label: string, body: (start: ReadStart) => Promise<void>) =>
    track(body(model.readStarted(at, label)))

  const invalidate = (
    at: Instance,
    label: string,
    keys: readonly Key[],
    call: () => Promise<unknown>,
    options: { tag?: Tag; row?: Row } = {},
  ) =>
    track(
      (async () => {
        const start = model.invalidationStarted(at, label, keys, options)
        let rejected = false
        let outcome = 'ok'
        try {
          await call()
        } catch (error) {
          rejected = true
          outcome = String(error)
          // Only a store that could not be reached may fail an invalidation, and it must say so.
          const outage = start.outage || model.outage
          if (!isAdapterError(error) || !outage) {
            model.invalidationSettled(start, true, outcome)
            model.fail('errors', `${label} rejected with ${String(error)} while the store was up`)
          }
        }
        model.invalidationSettled(start, rejected, outcome)
      })(),
    )

  const step = async (command: Command): Promise<void> => {
    const label = describeCommand(command)
    // Waits for the call unless the next step is to overlap it.
    const proceed = (op: Promise<unknown>) =>
      'overlap' in command && command.overlap ? undefined : world.settled(op)
    switch (command.op) {
      case 'get': {
        const cache = world.caches[command.at]
        await proceed(
          read(command.at, label, async (start) => {
            const value = await cache.get(command.key)
            model.tick(`${label} -> ${JSON.stringify(value)}`)
            model.checkRead(start, command.key, value, label)
          }),
        )
        return
      }
      case 'getOrSet': {
        const cache = world.caches[command.at]
        const { load, finished } = loaderFor(command.at, command.loader, label)
        await proceed(
          read(command.at, label, async (start) => {
            let value: unknown
            try {
              value = await cache.getOrSet(command.key, async () => (await load([command.key]))[0], {
                tags: tagsOf(command.key),
              })
            } catch (error) {
              model.tick(`${label} -> rejected: ${String(error)}`)
              checkFailure(error, [command.key], label)
              return
            } finally {
              finished()
            }
            model.tick(`${label} -> ${JSON.stringify(value)}`)
            if (value === undefined) model.fail('values', `${label} resolved without a value`)
            model.checkRead(start, command.key, value, label)
          }),
        )
        return
      }
      case 'getOrSetMany': {
        const cache = world.caches[command.at]
        const { load, finished } = loaderFor(command.at, command.loader, label)
        await proceed(
          read(command.at, label, async (start) => {
            let values: unknown[]
            try {
              values = await cache.getOrSetMany(
                command.keys,
                async (missing) => {
                  const asked = missing as Key[]
                  if (asked.some((k) => !command.keys.includes(k)) || new Set(asked).size !== asked.length) {
                    model.fail('values', `${label}: the batch loader was asked for [${asked.join(',')}]`)
                  }
                  return load(asked)
                },
                { tags: (row: Row) => tagsOf(row.key) },
              )
            } catch (error) {
              model.tick(`${label} -> rejected: ${String(error)}`)
              checkFailure(error, command.keys, label)
              return
            } finally {
              finished()
            }
            model.tick(`${label} -> ${JSON.stringify(values)}`)
            if (values.length !== command.keys.length) {
              model.fail('values', `${label} returned ${values.length} values`)
            }
            command.keys.forEach((k, i) => {
              if (values[i] === undefined) model.fail('values', `${label} resolved without a value for ${k}`)
              model.checkRead(start, k, values[i], label)
            })
          }),
        )
        return
      }
      case 'set': {
        const cache = world.caches[command.at]
        const row = model.written(command.at, command.key)
        // A set is an invalidation of every older value of its key, on every instance.
        await proceed(
          invalidate(
            command.at,
            `${label}=v${row.version}`,
            [command.key],
            () => cache.set(command.key, row, { tags: tagsOf(command.key) }),
            { row },
          ),
        )
        return
      }
      case 'delete': {
        if (command.update) model.update([command.key])
        const cache = world.caches[command.at]
        await proceed(invalidate(command.at, label, [command.key], () => cache.delete(command.key)))
        return
      }
      case 'deletePattern': {
        const keys = model.matching(command.pattern)
        if (command.update) model.update(keys)
        const cache = world.caches[command.at]
        await proceed(invalidate(command.at, label, keys, () => cache.deletePattern(command.pattern)))
        return
      }
      case 'invalidateTags': {
        const keys = model.tagged(command.tag)
        if (command.update) model.update(keys)
        const cache = world.caches[command.at]
        await proceed(
          invalidate(command.at, label, keys, () => cache.invalidateTags([command.tag]), {
            tag: command.tag,
          }),
        )
        return
      }
      case 'clear': {
        if (command.update) model.update(KEYS)
        const cache = world.caches[command.at]
        await proceed(invalidate(command.at, label, KEYS, () => cache.clear()))
        return
      }
      case 'release': {
        if (gates.length === 0) return
        const [opened] = gates.splice(command.pick % gates.length, 1)
        model.tick(`release ${opened!.label}`)
        opened!.open()
        await world.sync()
        return
      }
      case 'sync':
        await world.sync()
        model.synced()
        return
      case 'dropBus':
        if (model.outage) return
        model.busDropped(command.at)
        await world.dropBus(command.at)
        return
      case 'restoreBus': {
        if (model.outage) return
        // The instance keeps reading while its bus comes back: a read in flight at the reconnect
        // must not answer with an L1 copy it took while the bus was down.
        let back = false
        const restored = world.restoreBus(command.at).finally(() => {
          back = true
        })
        const cache = world.caches[command.at]
        while (!back) {
          await Promise.all(
            KEYS.map((k) => {
              const during = `get(${k}) on ${name(command.at)} during the reconnect`
              return read(command.at, during, async (start) => {
                const value = await cache.get(k)
                model.tick(`${during} -> ${JSON.stringify(value)}`)
                model.checkRead(start, k, value, during)
              })
            }),
          )
        }
        await restored
        model.busRestored(command.at)
        return
      }
      case 'outage':
        if (model.outage) return
        model.outageStarted()
        await world.outage()
        return
      case 'recover':
        if (!model.outage) return
        await recover()
        return
    }
  }

  // The store is back once both instances have reached it again (each reads once). Issue 8 asks for
  // kept invalidations to be replayed "when the store answers again, before serving reads from it",
  // so from here, after the bus had time to carry the replay, they bind the other instance too.
  const recover = async () => {
    await world.recover()
    model.recovered()
    await Promise.all(world.caches.map((cache) => cache.get('probe')))
    await world.sync()
    model.synced()
  }

  await world.plantForeign()
  try {
    for (const command of script) {
      await step(command)
      if (model.violation !== undefined || violation !== undefined) throw model.violation ?? violation
    }
    // Let everything finish, then every instance reads every key: a late write shows up here.
    if (model.outage) await recover()
    for (const at of [0, 1] as const) await world.restoreBus(at)
    for (const at of [0, 1] as const) model.busRestored(at)
    draining = true
    while (gates.length > 0) gates.shift()!.open()
    const hung = await Promise.race([
      Promise.all([...pending]).then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5_000).unref()),
    ])
    if (hung) model.fail('liveness', `${pending.size} calls never settled`)
    if (model.violation !== undefined || violation !== undefined) throw model.violation ?? violation
    await world.sync()
    model.synced()
    for (const at of [0, 1] as const) {
      for (const k of KEYS) {
        const start = model.readStarted(at, `final get(${k})`)
        const value = await world.caches[at].get(k)
        model.tick(`final get(${k}) on ${name(at)} -> ${JSON.stringify(value)}`)
        model.checkRead(start, k, value, `final get(${k})`)
      }
    }
    await world.checkForeign()
  } finally {
    draining = true
    while (gates.length > 0) gates.shift()!.open()
    if (process.env.CACHEPORT_MODEL_TRACE) console.log(model.trace.join('\n'))
  }
}

/** Runs one fixed sequence on a fresh world, checking every property. */
export async function replay(makeWorld: () => Promise<World>, script: readonly Command[]): Promise<void> {
  const world = await makeWorld()
  try {
    await run(world, script, { stale: true, singleFlight: true })
  } finally {
    await world.close()
  }
}

/** Options of {@link checkProperty}. */
export interface PropertyOptions {
  checks: Checks
  mix: Mix
  numRuns: number
  maxLength?: number
  /** Longest a run may take before fast-check counts it as failed. */
  timeoutMs?: number
}

/**
 * Runs the property: for random command sequences, a fresh world passes {@link run}. A failure is
 * reported with fast-check's seed and path and the shrunk sequence; set `CACHEPORT_MODEL_SEED` and
 * `CACHEPORT_MODEL_PATH` to replay it, `CACHEPORT_MODEL_RUNS` to run more (or fewer) sequences, and
 * `CACHEPORT_MODEL_TRACE=1` to print the model's trace of every run.
 */
export async function checkProperty(
  makeWorld: () => Promise<World>,
  options: PropertyOptions,
): Promise<void> {
  const env = process.env
  const seed = env.CACHEPORT_MODEL_SEED === undefined ? undefined : Number(env.CACHEPORT_MODEL_SEED)
  const path = env.CACHEPORT_MODEL_PATH
  const numRuns = env.CACHEPORT_MODEL_RUNS === undefined ? options.numRuns : Number(env.CACHEPORT_MODEL_RUNS)
  const property = fc.asyncProperty(commands(options.mix, options.maxLength), async (script) => {
    const world = await makeWorld()
    try {
      await run(world, script, options.checks)
    } finally {
      await world.close()
    }
  })
  const details = await fc.check(property, {
    numRuns,
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined ? {} : { path }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  })
  if (!details.failed) return
  const script = details.counterexample?.[0] ?? []
  throw new Error(
    [
      `property failed after ${details.numRuns} runs and ${details.numShrinks} shrinks`,
      `replay: CACHEPORT_MODEL_SEED=${details.seed} CACHEPORT_MODEL_PATH="${details.counterexamplePath}"`,
      'shrunk command sequence:',
      ...script.map((command, i) => `  ${i + 1}. ${describeCommand(command)}`),
      String(details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance),
    ].join('\n'),
  )
}
