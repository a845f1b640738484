/**
 * A lint of Prometheus text exposition (format 0.0.4) following the format's rules and the checks of
 * `promtool check metrics`: HELP and TYPE once per family and before its samples, valid metric and
 * label names, escaped label values, no duplicate series, `_total` on counters only, base units,
 * snake_case names, and histograms whose buckets are cumulative and end in `+Inf`.
 * Returns one message per problem; an empty list means the text passes.
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
// promtool: "use base unit" — these suffixes mean a scaled unit.
const NON_BASE_UNITS =
  /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|us|ns|kilobytes|megabytes|gigabytes|kb|mb|gb)(_total)?$/

interface Family {
  type?: string
  help?: string
  sampled: boolean
}

interface Sample {
  name: string
  labels: Array<[string, string]>
  value: number
}

/** Parses `{a="x",b="y"}` after a metric name; throws on malformed label syntax. */
function parseLabels(text: string): { labels: Array<[string, string]>; rest: string } {
  const labels: Array<[string, string]> = []
  let i = 1
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i)
    if (eq === -1) throw new Error('label without "="')
    const name = text.slice(i, eq)
    if (text[eq + 1] !== '"') throw new Error(`label ${name}: value not quoted`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = text[j]
      if (c === undefined) throw new Error(`label ${name}: unterminated value`)
      if (c === '"') break
      if (c === '\\') {
        const next = text[j + 1]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else throw new Error(`label ${name}: invalid escape \\${next}`)
        j += 2
        continue
      }
      if (c === '\n') throw new Error(`label ${name}: raw newline in value`)
      value += c
      j++
    }
    labels.push([name, value])
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new Error(`label ${name}: expected "," or "}"`)
  }
  return { labels, rest: text.slice(i + 1) }
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (text === 'NaN') return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`invalid value "${text}"`)
  return Number(text)
}

/** The family a sample belongs to, given the families declared so far. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const type = families.get(base)?.type
      if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base
    }
  }
  return name
}

/** Lints one exposition; see the module comment for the rules. */
export function lintExposition(text: string): string[] {
  const problems: string[] = []
  const families = new Map<string, Family>()
  const samples = new Map<string, Sample[]>()
  const seen = new Set<string>()
  const family = (name: string) => {
    let f = families.get(name)
    if (f === undefined) {
      f = { sampled: false }
      families.set(name, f)
    }
    return f
  }
  text.split('\n').forEach((line, index) => {
    const at = `line ${index + 1}`
    if (line === '') return
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (match === null) return // a plain comment
      const [, kind, name, rest] = match as unknown as [string, string, string, string]
      if (!METRIC_NAME.test(name)) problems.push(`${at}: invalid metric name "${name}"`)
      const f = family(name)
      if (f.sampled) problems.push(`${at}: ${kind} for ${name} after its samples`)
      if (kind === 'HELP') {
        if (f.help !== undefined) problems.push(`${at}: duplicate HELP for ${name}`)
        if (rest.trim() === '') problems.push(`${at}: empty HELP for ${name}`)
        f.help = rest
      } else {
        if (f.type !== undefined) problems.push(`${at}: duplicate TYPE for ${name}`)
        if (!TYPES.has(rest)) problems.push(`${at}: unknown TYPE "${rest}" for ${name}`)
        f.type = rest
      }
      return
    }
    try {
      const nameEnd = line.search(/[{ ]/)
      if (nameEnd === -1) throw new Error('sample without value')
      const name = line.slice(0, nameEnd)
      if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name "${name}"`)
      let rest = line.slice(nameEnd)
      let labels: Array<[string, string]> = []
      if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest))
      const fields = rest.trim().split(/\s+/)
      if (fields.length < 1 || fields.length > 2)
        throw new Error('expected a value and an optional timestamp')
      const value = parseValue(fields[0]!)
      const names = new Set<string>()
      for (const [label] of labels) {
        if (!LABEL_NAME.test(label)) problems.push(`${at}: invalid label name "${label}"`)
        if (label.startsWith('__')) problems.push(`${at}: reserved label name "${label}"`)
        if (names.has(label)) problems.push(`${at}: label "${label}" twice`)
        names.add(label)
      }
      const base = familyOf(name, families)
      const f = family(base)
      if (f.type === undefined) problems.push(`${at}: sample of ${base} without TYPE`)
      f.sampled = true
      const series = `${name}{${[...labels].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`)}}`
      if (seen.has(series)) problems.push(`${at}: duplicate series ${series}`)
      seen.add(series)
      const list = samples.get(base) ?? []
      list.push({ name, labels, value })
      samples.set(base, list)
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}: ${line}`)
    }
  })

  for (const [name, f] of families) {
    if (f.help === undefined) problems.push(`${name}: no HELP`)
    if (/[a-z][A-Z]/.test(name)) problems.push(`${name}: metric names should be snake_case, not camelCase`)
    if (NON_BASE_UNITS.test(name)) problems.push(`${name}: use base units (seconds, bytes)`)
    if (f.type === 'counter' && !name.endsWith('_total'))
      problems.push(`${name}: counter names should end in _total`)
    if (f.type !== 'counter' && name.endsWith('_total'))
      problems.push(`${name}: only counters should end in _total`)
    if (f.type === 'histogram') problems.push(...lintHistogram(name, samples.get(name) ?? []))
  }
  return problems
}

function lintHistogram(name: string, samples: Sample[]): string[] {
  const problems: string[] = []
  const key = (labels: Array<[string, string]>) =>
    labels
      .filter(([k]) => k !== 'le')
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',')
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>()
  for (const s of samples) {
    const entry = series.get(key(s.labels)) ?? { buckets: [] }
    series.set(key(s.labels), entry)
    if (s.name.endsWith('_bucket')) {
      const le = s.labels.find(([k]) => k === 'le')?.[1]
      if (le === undefined) problems.push(`${name}: bucket without "le"`)
      else entry.buckets.push([parseValue(le), s.value])
    } else if (s.name.endsWith('_count')) entry.count = s.value
  }
  for (const [labels, { buckets, count }] of series) {
    const sorted = [...buckets].sort((a, b) => a[0] - b[0])
    if (sorted.at(-1)?.[0] !== Number.POSITIVE_INFINITY) problems.push(`${name}{${labels}}: no +Inf bucket`)
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) problems.push(`${name}{${labels}}: buckets not cumulative`)
    }
    if (count !== undefined && sorted.at(-1)?.[1] !== count)
      problems.push(`${name}{${labels}}: _count differs from +Inf bucket`)
  }
  return problems
}
