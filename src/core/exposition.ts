// Reading the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), which a node's /metrics
// answers (daemon/metrics.ts), back into samples: `name{label="value",...} number`. Comments
// (# HELP, # TYPE) are skipped, and so are lines that do not parse: a reader of another
// version's metrics should show what it understands rather than nothing. Pure.

/** Lines read from one exposition: a node publishes a few hundred; far more means the text
 * is not a node's metrics, and reading on would only cost memory. */
export const expositionLinesMax = 100_000

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly samples: readonly Sample[]
  /** Lines that were neither a comment, blank, nor a sample. */
  readonly malformedLines: number
}

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*/u
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*/u

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  let malformedLines = 0
  const lines = text.split('\n', expositionLinesMax)
  for (const raw of lines) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const sample = parseSampleLine(line)
    if (sample === undefined) malformedLines++
    else samples.push(sample)
  }
  return {samples, malformedLines}
}

/** One sample line, or undefined when it does not parse. A timestamp after the value is
 * allowed and ignored. */
export function parseSampleLine(line: string): Sample | undefined {
  const name = namePattern.exec(line)?.[0]
  if (name === undefined) return undefined
  let rest = line.slice(name.length)
  let labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest)
    if (parsed === undefined) return undefined
    labels = parsed.labels
    rest = rest.slice(parsed.length)
  }
  const fields = rest.trim().split(/\s+/u)
  if (fields.length < 1 || fields.length > 2 || fields[0] === undefined) return undefined
  const value = parseValue(fields[0])
  return value === undefined ? undefined : {name, labels, value}
}

function parseValue(text: string): number | undefined {
  if (text === 'NaN') return Number.NaN
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/u.test(text)) return undefined
  return Number(text)
}

/** `{a="x",b="y"}` at the start of `text`: the labels and how many characters they took. */
function parseLabels(text: string): {labels: Record<string, string>; length: number} | undefined {
  const labels: Record<string, string> = {}
  let index = 1
  for (;;) {
    if (text[index] === '}') return {labels, length: index + 1}
    const name = labelNamePattern.exec(text.slice(index))?.[0]
    if (name === undefined || text[index + name.length] !== '=' || text[index + name.length + 1] !== '"') return undefined
    index += name.length + 2
    let value = ''
    for (;;) {
      const char = text[index]
      if (char === undefined) return undefined
      index++
      if (char === '"') break
      if (char !== '\\') {
        value += char
        continue
      }
      const escaped = text[index]
      index++
      if (escaped === 'n') value += '\n'
      else if (escaped === '\\' || escaped === '"') value += escaped
      else return undefined
    }
    labels[name] = value
    if (text[index] === ',') index++
    else if (text[index] !== '}') return undefined
  }
}

/** The sum of every sample named `name` whose labels include `match`; 0 when there is none. */
export function sumOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): number {
  let sum = 0
  for (const sample of samples) if (sample.name === name && matches(sample, match)) sum += sample.value
  return sum
}

/** The value of the one sample named `name` (with `match`), or undefined. */
export function valueOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && matches(sample, match))?.value
}

function matches(sample: Sample, match: Readonly<Record<string, string>>): boolean {
  return Object.entries(match).every(([label, value]) => sample.labels[label] === value)
}
