/**
 * What every contender stores and reads, so the comparisons differ only in the library.
 */

/** Keys per cache; a power of two so a loop index maps to a key with a mask. */
export const KEY_COUNT = 1024

/** `i & KEY_MASK` picks one of the {@link KEY_COUNT} keys. */
export const KEY_MASK = KEY_COUNT - 1

/** The keys every cache is warmed with (`filter_counts:0` ... `filter_counts:1023`). */
export const keys: readonly string[] = Array.from({ length: KEY_COUNT }, (_, i) => `filter_counts:${i}`)

/**
 * A value shaped like the platform's cached filter counts (about 200 bytes as JSON). JSON-safe on
 * purpose: the peers store JSON, and every contender must return an equal value for a fair hit.
 */
export const sampleValue = {
  faculty: 'EEMCS',
  filter: { status: ['ToDo', 'InProgress'], page: 3, search: 'lecture' },
  counts: { ToDo: 1284, InProgress: 312, Done: 9120, Rejected: 41, NeedsReview: 77 },
  total: 10834,
  updatedAt: '2025-03-14T09:26:53.589Z',
}

/** The arguments of the key-digest and decorated-call cases. */
export const digestSample: readonly unknown[] = [42, { faculty: 'EEMCS', status: ['ToDo', 'Done'], page: 3 }]

/** The value the decorated functions return (and so the value their hits return). */
export const decoratedValue = { ToDo: 12, Done: 30 }

/**
 * A value of about 1 MB as JSON: 4,400 rows of a course-item listing, the kind of payload a report
 * endpoint caches.
 */
export function largeValue(): { rows: Array<Record<string, unknown>> } {
  return { rows: Array.from({ length: 4400 }, (_, i) => listingRow(i)) }
}

/** Rows of that listing, as many as make at least `bytes` bytes of JSON. */
export function listingRows(bytes: number): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = []
  let size = 2
  while (size < bytes) {
    const row = listingRow(rows.length)
    rows.push(row)
    size += JSON.stringify(row).length + 1
  }
  return rows
}

function listingRow(i: number): Record<string, unknown> {
  return {
    id: i,
    course: `CSE${1000 + (i % 400)}`,
    title: `Lecture ${i} — recording and slides for week ${i % 10}`,
    status: i % 3 === 0 ? 'Done' : 'ToDo',
    faculty: 'EEMCS',
    owner: `teacher${i % 97}@example.org`,
    updatedAt: '2025-03-14T09:26:53.589Z',
    tags: ['video', 'slides', `week-${i % 10}`],
    score: (i * 37) % 101,
  }
}
