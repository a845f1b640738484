/** Splitting multi-key commands so none grows past a batch size or, on a cluster, spans hash slots. */
import { groupBySlot } from './key-slot.js'

/** `items` in consecutive runs of at most `size`; the array itself when it already fits. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (items.length <= size) return [items as T[]]
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** `keys` in batches of at most `size`, each batch within one hash slot when `perSlot` is set. */
export function keyBatches(keys: readonly string[], size: number, perSlot: boolean): string[][] {
  if (!perSlot) return chunk(keys, size)
  return groupBySlot(keys).flatMap((positions) =>
    chunk(
      positions.map((i) => keys[i]!),
      size,
    ),
  )
}
