import { isDeepStrictEqual } from 'node:util'
import { Bench } from 'tinybench'

/** One contender of a comparison: a function that performs `ops` operations per call. */
export interface Case {
  /** Row label, unique within a suite. */
  readonly name: string
  /** Performs `ops` operations; awaited when it returns a promise. */
  readonly run: () => unknown
  /** Operations performed by one call of `run`. */
  readonly ops: number
}

/** Timing of one contender, per operation. */
export interface Measurement {
  /** Row label. */
  readonly name: string
  /** Operations per second. */
  readonly opsPerSec: number
  /** Time of one operation in the median sample of the fastest round, in nanoseconds. */
  readonly nsPerOp: number
  /** Relative margin of error (95%) of that round's mean, in percent: how steady the samples were. */
  readonly rmePercent: number
  /** Timed calls of `run`. */
  readonly samples: number
  /** Operations per call of `run`. */
  readonly opsPerCall: number
}

/** How long tinybench spends on each contender. */
export interface MeasureOptions {
  /**
   * Time budget per contender over all rounds, in milliseconds.
   * @default 1000
   */
  readonly time?: number
  /**
   * Warm-up budget per contender, in milliseconds; long enough for the JIT to settle.
   * @default 300
   */
  readonly warmupTime?: number
  /**
   * Rounds, each with an equal share of `time`, alternating the order of the cases.
   * @default 1
   */
  readonly rounds?: number
}

/** A target checked against the measurements, with its verdict. */
export interface TargetResult {
  /** What is compared, as printed. */
  readonly label: string
  /** The measured figure (a ratio, a rate or a count). */
  readonly measured: number
  /** `>=` when more is better, `<=` when less is. */
  readonly comparator: '>=' | '<='
  /** The bar `measured` must clear. */
  readonly threshold: number
  /** Unit of `measured` and `threshold`. */
  readonly unit:
    | 'x'
    | 'ops/s'
    | 'runs'
    | 'commands'
    | 'keys'
    | 'ms'
    | 'MB'
    | 'errors'
    | 'listeners'
    | 'calls'
    | '%'
  /** Whether the target is met. */
  readonly pass: boolean
  /** The raw figures behind a ratio, for the reader. */
  readonly basis: string
}

/** Everything one suite found; `latest.json` holds one per suite. */
export interface SuiteReport {
  /** Suite name as selected on the command line. */
  readonly suite: string
  /** Why the suite did not run, when it did not. */
  skipped?: string
  /** Parts of the suite that crashed, with the reason; the other parts still ran. */
  readonly errors: string[]
  /** Throughput tables, by section title. */
  readonly sections: Array<{ title: string; measurements: Measurement[] }>
  /** Targets with their verdicts. */
  readonly targets: TargetResult[]
  /** Free-form lines: environment, caveats, counts. */
  readonly notes: string[]
  /** Extra structured data a suite wants to keep (e.g. counts of a stampede). */
  readonly data: Record<string, unknown>
}

/** A fresh, empty report for `suite`. */
export function newReport(suite: string): SuiteReport {
  return { suite, sections: [], targets: [], notes: [], data: {}, errors: [] }
}

// Results are written here so the optimiser cannot drop the measured call as dead code.
let sink: unknown

/** The last value a loop produced; read it to keep the optimiser honest. */
export function lastSink(): unknown {
  return sink
}

/**
 * `ops` sequential synchronous operations per call. Batching keeps the timer's own cost (about
 * 30–60 ns per sample) out of operations that take less than that.
 */
export function syncLoop(ops: number, op: (i: number) => unknown): () => void {
  return () => {
    for (let i = 0; i < ops; i++) sink = op(i)
  }
}

/** `ops` operations, each awaited before the next starts: the latency a single caller sees. */
export function awaitedLoop(ops: number, op: (i: number) => unknown): () => Promise<void> {
  return async () => {
    for (let i = 0; i < ops; i++) sink = await op(i)
  }
}

/** `ops` operations started at once and awaited together: throughput with that many in flight. */
export function inFlight(ops: number, op: (i: number) => Promise<unknown>): () => Promise<void> {
  const pending: Array<Promise<unknown>> = new Array(ops)
  return async () => {
    for (let i = 0; i < ops; i++) pending[i] = op(i)
    sink = await Promise.all(pending)
  }
}

/**
 * Runs every case with tinybench in this process and returns per-operation figures. With several
 * rounds the order alternates (forward, then reversed), so drift over the run — a warming machine,
 * a growing heap — does not always favour whoever runs first. Each round yields its median sample
 * (a sample is a whole batch, so it carries its share of garbage collection); the fastest round
 * counts, because on a shared machine other processes only ever add time. A case that throws is
 * reported and left out rather than sinking the whole table.
 */
export async function measure(cases: readonly Case[], options: MeasureOptions = {}): Promise<Measurement[]> {
  const rounds = Math.max(1, options.rounds ?? 1)
  const perRound = new Map<string, Array<{ msPerOp: number; rme: number; samples: number }>>()
  const failed = new Set<string>()
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: (options.time ?? 1000) / rounds,
      warmupTime: options.warmupTime ?? 300,
      warmupIterations: 8,
      iterations: 16,
      throws: false,
    })
    const order = round % 2 === 0 ? cases : [...cases].reverse()
    for (const c of order) if (!failed.has(c.name)) bench.add(c.name, c.run)
    await bench.run()
    for (const c of order) {
      if (failed.has(c.name)) continue
      const result = bench.getTask(c.name)?.result
      if (!result || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
        const reason = result?.state === 'errored' ? result.error.message : (result?.state ?? 'missing')
        console.log(`  ! ${c.name}: not measured (${reason})`)
        failed.add(c.name)
        continue
      }
      // latency is per call of `run`; divide by the batch to get one operation.
      const list = perRound.get(c.name) ?? []
      list.push({
        msPerOp: result.latency.p50 / c.ops,
        rme: result.latency.rme,
        samples: result.latency.samplesCount,
      })
      perRound.set(c.name, list)
    }
  }

  const out: Measurement[] = []
  for (const c of cases) {
    const list = perRound.get(c.name)
    if (!list || failed.has(c.name)) continue
    const best = list.reduce((a, b) => (b.msPerOp < a.msPerOp ? b : a))
    out.push({
      name: c.name,
      opsPerSec: best.msPerOp > 0 ? 1000 / best.msPerOp : 0,
      nsPerOp: best.msPerOp * 1e6,
      rmePercent: best.rme,
      samples: list.reduce((sum, r) => sum + r.samples, 0),
      opsPerCall: c.ops,
    })
  }
  return out
}

/** The measurement named `name`, or undefined when it was not measured. */
export function find(measurements: readonly Measurement[], name: string): Measurement | undefined {
  return measurements.find((m) => m.name === name)
}

/**
 * Target "`a` runs at least `threshold` times as fast as `b`". Undefined when either side was not
 * measured, so a missing contender shows up as a missing verdict, never as a pass.
 */
export function ratioTarget(
  label: string,
  a: Measurement | undefined,
  b: Measurement | undefined,
  threshold: number,
): TargetResult | undefined {
  if (!a || !b) return undefined
  return atLeast(
    label,
    a.opsPerSec / b.opsPerSec,
    threshold,
    `${formatOps(a.opsPerSec)} vs ${formatOps(b.opsPerSec)} ops/s`,
  )
}

/** A target "measured ratio ≥ threshold", with what it rests on. */
function atLeast(label: string, measured: number, threshold: number, basis: string): TargetResult {
  return { label, measured, comparator: '>=', threshold, unit: 'x', pass: measured >= threshold, basis }
}

/** Target on an absolute figure (a rate, a count), with `comparator` saying which way is good. */
export function valueTarget(
  label: string,
  measured: number,
  comparator: '>=' | '<=',
  threshold: number,
  unit: TargetResult['unit'],
  basis = '',
): TargetResult {
  const pass = comparator === '>=' ? measured >= threshold : measured <= threshold
  return { label, measured, comparator, threshold, unit, pass, basis }
}

/** Adds the targets that could be computed. */
export function addTargets(report: SuiteReport, ...targets: Array<TargetResult | undefined>): void {
  for (const t of targets) if (t) report.targets.push(t)
}

/** Fails loudly when a contender does not return the value the comparison assumes (a hit). */
export async function expectValue(name: string, actual: unknown, expected: unknown): Promise<void> {
  const value = await actual
  if (!isDeepStrictEqual(value, expected)) {
    throw new Error(`${name}: expected a cache hit returning the sample value, got ${preview(value)}`)
  }
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

/** 12.3M, 456.7k, 980 — ops/s as a reader scans it. */
export function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)}M`
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)}k`
  return ops.toFixed(ops >= 100 ? 0 : 1)
}

/** Nanoseconds as ns, µs or ms with three significant digits. */
export function formatDuration(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`
  return `${ns.toPrecision(3)} ns`
}

function formatFigure(value: number, unit: TargetResult['unit']): string {
  switch (unit) {
    case 'x':
      return `${value.toFixed(2)}×`
    case 'ops/s':
      return `${formatOps(value)} ops/s`
    default:
      return `${Math.round(value * 100) / 100} ${unit}`
  }
}

/** Prints a throughput table; the first row marked as `baseline` anchors the "vs" column. */
export function printTable(title: string, measurements: readonly Measurement[], baseline?: string): void {
  const base = baseline ? find(measurements, baseline) : undefined
  const nameWidth = Math.max(40, ...measurements.map((m) => m.name.length + 2))
  console.log(`\n  ${title}`)
  console.log(
    `  ${'contender'.padEnd(nameWidth)}${'ops/s'.padStart(11)}${'per op'.padStart(12)}${'±rme'.padStart(8)}${base ? `${'vs'.padStart(9)}` : ''}`,
  )
  for (const m of measurements) {
    const vs = base ? `${(m.opsPerSec / base.opsPerSec).toFixed(2)}×`.padStart(9) : ''
    console.log(
      `  ${m.name.padEnd(nameWidth)}${formatOps(m.opsPerSec).padStart(11)}${formatDuration(m.nsPerOp).padStart(12)}${`${m.rmePercent.toFixed(1)}%`.padStart(8)}${vs}`,
    )
  }
  if (base) console.log(`  (vs = ops/s relative to "${base.name}")`)
}

/** Prints each target as `PASS`/`FAIL`, the bar next to the measured figure. */
export function printTargets(targets: readonly TargetResult[]): void {
  if (targets.length === 0) return
  console.log('\n  targets')
  const width = Math.max(...targets.map((t) => t.label.length))
  for (const t of targets) {
    const mark = t.pass ? 'PASS' : 'FAIL'
    const bar = `${t.comparator === '>=' ? '≥' : '≤'} ${formatFigure(t.threshold, t.unit)}`
    const measured = formatFigure(t.measured, t.unit)
    console.log(
      `  ${mark}  ${t.label.padEnd(width)}  target ${bar.padEnd(15)} measured ${measured.padEnd(12)} ${t.basis ? `(${t.basis})` : ''}`,
    )
  }
}

/** Records a table in the report and prints it. */
export function section(
  report: SuiteReport,
  title: string,
  measurements: Measurement[],
  baseline?: string,
): void {
  report.sections.push({ title, measurements })
  printTable(title, measurements, baseline)
}

/** Records a note in the report and prints it. */
export function note(report: SuiteReport, line: string): void {
  report.notes.push(line)
  console.log(`  · ${line}`)
}

/**
 * Runs one part of a suite. A part that crashes is recorded in the report (and makes the run exit
 * non-zero) while the parts after it still run, so one broken comparison does not hide the others.
 */
export async function part(report: SuiteReport, title: string, run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    report.errors.push(`${title}: ${message}`)
    console.log(`  ERROR in ${title}: ${message}`)
  }
}

/** One contender of an interleaved comparison: a single operation, awaited when it returns a promise. */
export interface OpCase {
  /** Row label, unique within the comparison. */
  readonly name: string
  /** Performs operation number `i`. */
  readonly op: (i: number) => unknown
}

/** How an interleaved comparison is run. */
export interface InterleaveOptions {
  /**
   * Rounds; each yields one figure per contender and one ratio per pair.
   * @default 7
   */
  readonly rounds?: number
  /**
   * Timed operations of each contender per round.
   * @default 2000
   */
  readonly opsPerRound?: number
  /**
   * Untimed operations of each contender before the first round (JIT, connections, caches).
   * @default 500
   */
  readonly warmupOps?: number
}

/** What an interleaved comparison found: a table row per contender and every round's figures. */
export interface Interleaved {
  /** Per contender: the median over rounds of each round's median time per operation. */
  readonly measurements: Measurement[]
  /** Per round, per contender: the median time of one operation in that round, in nanoseconds. */
  readonly rounds: Array<Record<string, number>>
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Times contenders operation by operation, in turn: operation `i` of every contender runs before
 * operation `i + 1` of any, in a new random order each time, and each is timed on its own. Where a
 * round trip dominates, a busy machine slows whoever is running at that moment; taking turns at
 * this grain spreads such moments evenly, so the ratio of two contenders within a round is steady
 * even when the absolute figures are not. The order is shuffled rather than rotated so that no
 * contender always runs right after the same other one and pays for what that one left behind
 * (timers, garbage, queued work). Each round's figure is a contender's median operation.
 */
export async function interleave(
  cases: readonly OpCase[],
  options: InterleaveOptions = {},
): Promise<Interleaved> {
  const rounds = Math.max(1, options.rounds ?? 7)
  const perRound = Math.max(1, options.opsPerRound ?? 2000)
  const warmup = options.warmupOps ?? 500
  const n = cases.length
  const order = cases.map((_, k) => k)
  // A fixed seed: the same run order every time, yet no contender has a fixed neighbour.
  let seed = 0x2545f491
  const shuffle = (): void => {
    for (let k = n - 1; k > 0; k--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      const other = seed % (k + 1)
      const swap = order[k]!
      order[k] = order[other]!
      order[other] = swap
    }
  }
  for (let i = 0; i < warmup; i++) {
    shuffle()
    for (let k = 0; k < n; k++) sink = await cases[order[k]!]!.op(i)
  }
  const times = cases.map(() => new Float64Array(perRound))
  const byRound: Array<Record<string, number>> = []
  const rmeOf: Array<number[]> = cases.map(() => [])
  let i = warmup
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < perRound; j++, i++) {
      shuffle()
      for (let k = 0; k < n; k++) {
        const c = order[k]!
        const op = cases[c]!.op
        const started = performance.now()
        sink = await op(i)
        times[c]![j] = performance.now() - started
      }
    }
    const figures: Record<string, number> = {}
    for (let c = 0; c < n; c++) {
      const sorted = Array.from(times[c]!).sort((a, b) => a - b)
      figures[cases[c]!.name] = median(sorted) * 1e6
      let sum = 0
      for (const t of sorted) sum += t
      const mean = sum / sorted.length
      let squares = 0
      for (const t of sorted) squares += (t - mean) ** 2
      const sd = Math.sqrt(squares / Math.max(1, sorted.length - 1))
      rmeOf[c]!.push(((1.96 * sd) / Math.sqrt(sorted.length) / mean) * 100)
    }
    byRound.push(figures)
  }
  const measurements = cases.map((c, index) => {
    const ns = median(byRound.map((r) => r[c.name]!).sort((a, b) => a - b))
    return {
      name: c.name,
      opsPerSec: 1e9 / ns,
      nsPerOp: ns,
      rmePercent: median([...rmeOf[index]!].sort((a, b) => a - b)),
      samples: rounds * perRound,
      opsPerCall: 1,
    }
  })
  return { measurements, rounds: byRound }
}

/** Per round, how many times as fast `a` ran as `b` (the inverse of their times), sorted. */
export function roundRatios(result: Interleaved, a: string, b: string): number[] {
  return result.rounds
    .filter((r) => r[a] !== undefined && r[b] !== undefined)
    .map((r) => r[b]! / r[a]!)
    .sort((x, y) => x - y)
}

/**
 * Target "`a` runs at least `threshold` times as fast as `b`" on an interleaved comparison: the
 * median of the per-round ratios, with their min–max beside it.
 */
export function interleavedTarget(
  label: string,
  result: Interleaved,
  a: string,
  b: string,
  threshold: number,
): TargetResult | undefined {
  const ratios = roundRatios(result, a, b)
  if (ratios.length === 0) return undefined
  const measured = median(ratios)
  const ma = find(result.measurements, a)!
  const mb = find(result.measurements, b)!
  return atLeast(
    label,
    measured,
    threshold,
    `median of ${ratios.length} rounds; min–max ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}×; ${formatOps(ma.opsPerSec)} vs ${formatOps(mb.opsPerSec)} ops/s`,
  )
}

/**
 * Records an interleaved table in the report and prints it, then each contender's per-round ratio
 * to `baseline` as median and min–max.
 */
export function interleavedSection(
  report: SuiteReport,
  title: string,
  result: Interleaved,
  baseline: string,
): void {
  section(report, title, result.measurements, baseline)
  const spans: Record<string, { median: number; min: number; max: number }> = {}
  for (const m of result.measurements) {
    if (m.name === baseline) continue
    const ratios = roundRatios(result, m.name, baseline)
    spans[m.name] = { median: median(ratios), min: ratios[0]!, max: ratios.at(-1)! }
    console.log(
      `    ${m.name}: ${median(ratios).toFixed(2)}× per round (min–max ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}× over ${ratios.length} rounds)`,
    )
  }
  report.data[title] = { rounds: result.rounds, ratiosTo: baseline, spans }
}
