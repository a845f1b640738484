/**
 * The interleavings issue 8 reports, as command sequences: each runs as a test of its own on every
 * store, so a hole shows by name whatever the random sequences find.
 */
import type { Command } from './commands.js'

const get = (at: 0 | 1, key: 'user:1' | 'user:2' | 'item:1', overlap = false): Command => ({
  op: 'get',
  at,
  key,
  overlap,
})

/** A read in flight when the bus reconnects must not return the L1 copy it read while the bus was down. */
export const readAcrossReconnect: Command[] = [
  { op: 'set', at: 0, key: 'user:1', overlap: false },
  { op: 'sync' },
  get(1, 'user:1'),
  { op: 'dropBus', at: 1 },
  { op: 'delete', at: 0, key: 'user:1', update: true, overlap: false },
  { op: 'sync' },
  get(1, 'user:1', true),
  { op: 'restoreBus', at: 1 },
]

/** Overlapping batch loads, and a batch beside a single load, must not load a shared key twice. */
export const overlappingBatches: Command[] = [
  { op: 'getOrSetMany', at: 0, keys: ['user:1', 'user:2', 'item:1'], loader: 'slow', overlap: true },
  { op: 'getOrSetMany', at: 0, keys: ['user:2', 'item:1', 'item:2'], loader: 'slow', overlap: true },
  { op: 'getOrSetMany', at: 1, keys: ['user:1', 'user:2'], loader: 'slow', overlap: true },
  { op: 'getOrSet', at: 1, key: 'user:1', loader: 'slow', overlap: true },
  { op: 'release', pick: 0 },
  { op: 'release', pick: 0 },
  { op: 'release', pick: 0 },
]

/** A slow load that read the old row must not write it after the row changed and its key was invalidated. */
export const writeAfterInvalidate: Command[] = [
  { op: 'getOrSet', at: 1, key: 'user:1', loader: 'slow', overlap: false },
  { op: 'delete', at: 0, key: 'user:1', update: true, overlap: false },
  { op: 'sync' },
  { op: 'release', pick: 0 },
  { op: 'sync' },
  get(1, 'user:1'),
]

/** The same, against an explicit `set` made during the load, in the loading process. */
export const loadOverwritesSet: Command[] = [
  { op: 'getOrSet', at: 0, key: 'item:1', loader: 'slow', overlap: false },
  { op: 'set', at: 0, key: 'item:1', overlap: false },
  { op: 'release', pick: 0 },
  { op: 'sync' },
  get(1, 'item:1'),
]

/** A tag invalidated during a load: the entry is stamped with the tag versions read before it. */
export const tagInvalidatedDuringLoad: Command[] = [
  { op: 'getOrSet', at: 1, key: 'user:2', loader: 'slow', overlap: false },
  { op: 'dropBus', at: 1 },
  { op: 'invalidateTags', at: 0, tag: 'users', update: true, overlap: false },
  { op: 'release', pick: 0 },
  { op: 'restoreBus', at: 1 },
  { op: 'sync' },
  get(0, 'user:2'),
]

/** An invalidation the store could not take is replayed when it answers again. */
export const invalidationDuringOutage: Command[] = [
  { op: 'getOrSet', at: 0, key: 'user:1', loader: 'fast', overlap: false },
  { op: 'sync' },
  get(1, 'user:1'),
  { op: 'outage' },
  { op: 'delete', at: 0, key: 'user:1', update: true, overlap: false },
  { op: 'recover' },
  get(1, 'user:1'),
  get(0, 'user:1'),
]

/**
 * A caller that arrives after an invalidation must not join the load the invalidation revoked: that
 * load read the old row, so its result may go to the callers that were waiting, and to no one else.
 */
export const joinAfterInvalidate: Command[] = [
  { op: 'getOrSet', at: 0, key: 'user:2', loader: 'slow', overlap: false },
  { op: 'delete', at: 0, key: 'user:2', update: true, overlap: false },
  { op: 'getOrSet', at: 0, key: 'user:2', loader: 'fast', overlap: false },
  { op: 'release', pick: 0 },
]

/** Every scenario, by what it shows. */
export const ISSUE_SCENARIOS: ReadonlyArray<[string, Command[]]> = [
  ['a read in flight across a bus reconnect', readAcrossReconnect],
  ['overlapping batch loads and a batch beside a single load', overlappingBatches],
  ['a slow load finishing after its key was invalidated over the bus', writeAfterInvalidate],
  ['a slow load finishing after an explicit set in its own process', loadOverwritesSet],
  ['a tag invalidated while a load runs on an instance without bus', tagInvalidatedDuringLoad],
  ['an invalidation made while the store is down', invalidationDuringOutage],
  ['a caller arriving after an invalidation, while the revoked load still runs', joinAfterInvalidate],
]
