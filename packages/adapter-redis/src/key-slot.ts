/**
 * Redis Cluster hash slots, so multi-key commands (MGET, UNLINK) can be split into groups whose keys
 * share a slot: a cluster rejects a command whose keys span slots (CROSSSLOT), even on one node.
 */

/** Number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16384

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum the cluster specification
// prescribes; one table lookup per byte.
const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
  TABLE[i] = crc & 0xffff
}

const encoder = new TextEncoder()

/** The hash slot of `key`; only the part inside the first non-empty `{...}` counts when there is one. */
export function keySlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    // `{}` (empty) does not count as a hash tag: the whole key is hashed then.
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  let crc = 0
  for (const byte of encoder.encode(key)) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!
  return crc % SLOT_COUNT
}

/** Positions of `keys` grouped by hash slot, in first-seen order. */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>()
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i]!)
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [i])
    else group.push(i)
  }
  return [...groups.values()]
}
