// `dyn bench --html FILE`: the run as one self-contained page: its settings, the table of
// `dyn bench`, the latency histogram of each operation kind and the throughput over time.
// Charts are inline SVG; the page has no script and loads nothing (no CDN, no font, no
// image), so it opens the same offline, in a mail attachment or in CI artefacts.
//
// The latency histogram puts the HDR histogram's slots (core/histogram.ts) into bins of
// equal width on a log axis, ten per decade: latencies span orders of magnitude, and a tail
// at 100x the median must stay visible next to it. Bars are the share of the kind's
// operations in each bin, so kinds with different counts compare.
import type {Histogram} from '../core/histogram.js'
import {operationKinds, type OperationKind} from '../core/workload.js'
import {benchJson, benchPercentiles, benchSettingsLines, type BenchReportInput} from './bench.js'
import {escapeXml, fixed, linearTicks, logTicks} from './svg.js'

/** Answers per interval of the run (load/timeline.ts). */
export interface BenchTimelineInput {
  readonly intervalMs: number
  readonly ok: readonly number[]
  readonly errors: readonly number[]
}

export type BenchHtmlInput = BenchReportInput & {readonly timeline: BenchTimelineInput}

/** Bins per decade of latency: fine enough to show two modes a factor 1.5 apart. */
export const latencyBinsPerDecade = 10

const kindColors: Readonly<Record<OperationKind, string>> = {read: '#4e79a7', update: '#f28e2b'}
const errorColor = '#e15759'

/** Width of a character of the 11 px labels, near enough to keep them apart. */
const labelCharWidth = 6.6

const chart = {width: 960, height: 340, left: 72, right: 24, top: 36, bottom: 56} as const

interface Bin {
  readonly lowUs: number
  readonly highUs: number
  readonly counts: Readonly<Record<OperationKind, number>>
}

/** The kinds' latencies (microseconds) in log-width bins from the smallest to the largest
 * recorded value; empty when nothing was recorded. */
export function latencyBins(histograms: Readonly<Record<OperationKind, Histogram>>): Bin[] {
  const recorded = operationKinds.filter((kind) => histograms[kind].count > 0)
  if (recorded.length === 0) return []
  // At least 1 µs: a log axis has no 0, and nothing answers faster.
  const lowUs = Math.max(1, Math.min(...recorded.map((kind) => histograms[kind].min)))
  const highUs = Math.max(lowUs + 1, ...recorded.map((kind) => histograms[kind].max))
  const first = Math.floor(Math.log10(lowUs) * latencyBinsPerDecade)
  const last = Math.floor(Math.log10(highUs) * latencyBinsPerDecade)
  const bins = Array.from({length: last - first + 1}, (_, index) => ({
    lowUs: 10 ** ((first + index) / latencyBinsPerDecade),
    highUs: 10 ** ((first + index + 1) / latencyBinsPerDecade),
    counts: Object.fromEntries(operationKinds.map((kind) => [kind, 0])) as Record<OperationKind, number>,
  }))
  for (const kind of recorded) {
    for (const slot of histograms[kind].slots()) {
      // A slot stands for its values; it is binned at its highest, as percentiles read it,
      // kept within the recorded range.
      const value = Math.min(Math.max(slot.value, lowUs), highUs)
      const index = Math.min(bins.length - 1, Math.max(0, Math.floor(Math.log10(value) * latencyBinsPerDecade) - first))
      bins[index]!.counts[kind] += slot.count
    }
  }
  return bins
}

function msLabel(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`
  return `${Number(ms.toPrecision(3))} ms`
}

function countLabel(value: number): string {
  if (value >= 1_000_000) return `${Number((value / 1_000_000).toPrecision(3))}M`
  if (value >= 1000) return `${Number((value / 1000).toPrecision(3))}k`
  return value.toLocaleString('en-US')
}

function frame(title: string, inner: string[], axisTitles: {x: string; y: string}): string {
  const {width, height, left, bottom, top} = chart
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold" fill="#222222">${escapeXml(title)}</text>`,
    ...inner,
    `<text x="${fixed((left + width - chart.right) / 2)}" y="${height - 12}" font-size="12" text-anchor="middle" fill="#444444">${escapeXml(axisTitles.x)}</text>`,
    `<text transform="translate(16 ${fixed((top + height - bottom) / 2)}) rotate(-90)" font-size="12" text-anchor="middle" fill="#444444">${escapeXml(axisTitles.y)}</text>`,
    '</svg>',
  ].join('\n')
}

function plotArea(): {x0: number; x1: number; y0: number; y1: number} {
  return {x0: chart.left, x1: chart.width - chart.right, y0: chart.height - chart.bottom, y1: chart.top}
}

function yAxis(ticks: readonly number[], max: number, label: (value: number) => string): string[] {
  const {x0, x1, y0, y1} = plotArea()
  return ticks.map((tick) => {
    const y = y0 - (tick / max) * (y0 - y1)
    return `<line x1="${x0}" y1="${fixed(y)}" x2="${x1}" y2="${fixed(y)}" stroke="#e4e4e4"/><text x="${x0 - 6}" y="${fixed(y + 4)}" font-size="11" text-anchor="end" fill="#555555">${escapeXml(label(tick))}</text>`
  })
}

function legendEntries(entries: readonly {label: string; color: string}[]): string[] {
  const {x1} = plotArea()
  return entries.map((entry, index) => {
    const x = x1 - 130 * (entries.length - index)
    return `<rect x="${x}" y="12" width="12" height="12" fill="${entry.color}"/><text x="${x + 18}" y="22" font-size="12" fill="#222222">${escapeXml(entry.label)}</text>`
  })
}

/** The latency histogram: per bin, one bar per kind side by side, as a share of the kind. */
export function latencyChart(input: BenchReportInput, options: {which?: 'latency' | 'serviceTime'} = {}): string {
  const which = options.which ?? 'latency'
  const histograms = Object.fromEntries(operationKinds.map((kind) => [kind, input.operations[kind][which] ?? input.operations[kind].latency])) as Record<OperationKind, Histogram>
  const title = which === 'latency' && input.mode === 'open' ? 'latency from the scheduled start (corrected for coordinated omission)' : which === 'latency' ? 'latency' : 'service time (send to answer)'
  const bins = latencyBins(histograms)
  const axes = {x: 'latency (log scale)', y: 'share of operations'}
  if (bins.length === 0) return frame(title, [`<text x="${chart.left}" y="${chart.height / 2}" font-size="14" fill="#666666">no operation succeeded</text>`], axes)
  const kinds = operationKinds.filter((kind) => histograms[kind].count > 0)
  const shares = bins.map((bin) => Object.fromEntries(kinds.map((kind) => [kind, bin.counts[kind] / histograms[kind].count])) as Record<OperationKind, number>)
  const maxShare = Math.max(...shares.flatMap((share) => kinds.map((kind) => share[kind])))
  const yTicks = linearTicks(maxShare * 100, 5)
  const yMax = (yTicks.at(-1) ?? 100) / 100
  const {x0, x1, y0, y1} = plotArea()
  const lowLog = Math.log10(bins[0]!.lowUs)
  const highLog = Math.log10(bins.at(-1)!.highUs)
  const xOf = (us: number): number => x0 + ((Math.log10(us) - lowLog) / (highLog - lowLog)) * (x1 - x0)
  const inner = [...yAxis(yTicks.map((tick) => tick / 100), yMax, (value) => `${Number((value * 100).toPrecision(3))}%`)]
  for (const tick of logTicks(bins[0]!.lowUs / 1000, bins.at(-1)!.highUs / 1000)) {
    const x = xOf(tick * 1000)
    inner.push(`<line x1="${fixed(x)}" y1="${y0}" x2="${fixed(x)}" y2="${y0 + 5}" stroke="#555555"/><text x="${fixed(x)}" y="${y0 + 18}" font-size="11" text-anchor="middle" fill="#555555">${escapeXml(msLabel(tick))}</text>`)
  }
  bins.forEach((bin, index) => {
    const left = xOf(bin.lowUs)
    const barWidth = (xOf(bin.highUs) - left) / kinds.length
    kinds.forEach((kind, kindIndex) => {
      const share = shares[index]![kind]
      if (share === 0) return
      const height = (share / yMax) * (y0 - y1)
      const tip = `${kind}: ${bin.counts[kind].toLocaleString('en-US')} operations (${(share * 100).toFixed(2)}%) from ${msLabel(bin.lowUs / 1000)} to ${msLabel(bin.highUs / 1000)}`
      inner.push(`<rect class="bar ${kind}" x="${fixed(left + kindIndex * barWidth + 0.5)}" y="${fixed(y0 - height)}" width="${fixed(Math.max(0.5, barWidth - 1))}" height="${fixed(height)}" fill="${kindColors[kind]}"><title>${escapeXml(tip)}</title></rect>`)
    })
  })
  // The percentiles of all operations together, as the table shows them.
  const all = histograms[kinds[0]!].clone()
  for (const kind of kinds.slice(1)) all.merge(histograms[kind])
  const marks = [...benchPercentiles.map((percentile) => ({label: `p${percentile}`, us: all.valueAtPercentile(percentile)})), {label: 'max', us: all.max}]
  // Each label takes the first of three rows where it clears the labels already there; one
  // near the right edge stands left of its line.
  const rowEnds = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]
  for (const mark of marks) {
    const x = xOf(Math.min(Math.max(mark.us, bins[0]!.lowUs), bins.at(-1)!.highUs))
    const label = `${mark.label} ${msLabel(mark.us / 1000)}`
    const width = label.length * labelCharWidth
    const start = x > x1 - width - 6 ? x - 3 - width : x + 3
    const free = rowEnds.findIndex((end) => end + 4 <= start)
    const row = free >= 0 ? free : rowEnds.indexOf(Math.min(...rowEnds))
    rowEnds[row] = start + width
    const anchor = start < x ? `x="${fixed(x - 3)}" text-anchor="end"` : `x="${fixed(x + 3)}"`
    inner.push(`<line class="percentile" x1="${fixed(x)}" y1="${y0}" x2="${fixed(x)}" y2="${y1 + 14}" stroke="#222222" stroke-dasharray="3 3"/><text ${anchor} y="${y1 + 10 + row * 12}" font-size="11" fill="#222222">${escapeXml(label)}</text>`)
  }
  inner.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#555555"/>`)
  inner.push(...legendEntries(kinds.map((kind) => ({label: `${kind} (${histograms[kind].count.toLocaleString('en-US')})`, color: kindColors[kind]}))))
  return frame(title, inner, axes)
}

export interface ThroughputStep {
  readonly startS: number
  readonly endS: number
  /** Operations per second answered successfully, and failed, over [startS, endS). */
  readonly okRate: number
  readonly errorRate: number
}

/** The timeline as steps of constant rate. The last interval ends with the run (elapsedMs),
 * usually short of a whole interval: its rate is over the time it covers, and a last
 * interval under a quarter of one is counted into the one before (a handful of answers in
 * a millisecond would otherwise dwarf every other rate); a run that short has one step of
 * a quarter interval. */
export function throughputSteps(timeline: BenchTimelineInput, elapsedMs: number): ThroughputStep[] {
  const intervalS = timeline.intervalMs / 1000
  const steps = timeline.ok.map((ok, index) => ({startS: index * intervalS, endS: (index + 1) * intervalS, ok, errors: timeline.errors[index] ?? 0}))
  const last = steps.at(-1)
  if (last !== undefined) last.endS = Math.max(last.startS, Math.min(last.endS, elapsedMs / 1000))
  if (last !== undefined && last.endS - last.startS < intervalS / 4) {
    if (steps.length > 1) {
      steps.pop()
      const previous = steps.at(-1)!
      previous.endS = last.endS
      previous.ok += last.ok
      previous.errors += last.errors
    } else {
      // A run shorter than a quarter interval: its rate over that quarter.
      last.endS = last.startS + intervalS / 4
    }
  }
  return steps.map((step) => {
    const seconds = step.endS - step.startS
    return {startS: step.startS, endS: step.endS, okRate: seconds > 0 ? step.ok / seconds : 0, errorRate: seconds > 0 ? step.errors / seconds : 0}
  })
}

/** Throughput over time: successful operations per second in each interval as an area,
 * failed ones as bars. */
export function throughputChart(timeline: BenchTimelineInput, elapsedMs: number): string {
  const title = 'throughput over time'
  const axes = {x: `seconds since the start of the run (intervals of ${msLabel(timeline.intervalMs)})`, y: 'operations per second'}
  const steps = throughputSteps(timeline, elapsedMs)
  if (steps.length === 0) return frame(title, [`<text x="${chart.left}" y="${chart.height / 2}" font-size="14" fill="#666666">no operation answered</text>`], axes)
  const yTicks = linearTicks(Math.max(1, ...steps.map((step) => Math.max(step.okRate, step.errorRate))), 5)
  const yMax = yTicks.at(-1) ?? 1
  const {x0, x1, y0, y1} = plotArea()
  const durationS = Math.max(steps.at(-1)!.endS, 1e-3)
  const xOf = (seconds: number): number => x0 + (seconds / durationS) * (x1 - x0)
  const yOf = (rate: number): number => y0 - (rate / yMax) * (y0 - y1)
  const inner = [...yAxis(yTicks, yMax, countLabel)]
  for (const tick of linearTicks(durationS, 8)) {
    if (tick > durationS + 1e-9) continue
    const x = xOf(tick)
    inner.push(`<line x1="${fixed(x)}" y1="${y0}" x2="${fixed(x)}" y2="${y0 + 5}" stroke="#555555"/><text x="${fixed(x)}" y="${y0 + 18}" font-size="11" text-anchor="middle" fill="#555555">${escapeXml(Number(tick.toPrecision(4)).toString())}</text>`)
  }
  // A step line: each interval's rate is level over the interval.
  const points = steps.flatMap((step) => [`${fixed(xOf(step.startS))} ${fixed(yOf(step.okRate))}`, `${fixed(xOf(step.endS))} ${fixed(yOf(step.okRate))}`])
  inner.push(`<path class="throughput-area" d="M ${fixed(x0)} ${fixed(y0)} L ${points.join(' L ')} L ${fixed(xOf(durationS))} ${fixed(y0)} Z" fill="${kindColors.read}" fill-opacity="0.25" stroke="none"/>`)
  inner.push(`<path class="throughput" d="M ${points.join(' L ')}" fill="none" stroke="${kindColors.read}" stroke-width="2"/>`)
  for (const step of steps) {
    if (step.errorRate === 0) continue
    const x = xOf(step.startS)
    const tip = `${Math.round(step.errorRate * (step.endS - step.startS))} failed from ${Number(step.startS.toPrecision(4))} s`
    // At least 2 px high: a few failures among thousands of answers must still show.
    const height = Math.max(2, y0 - yOf(step.errorRate))
    inner.push(`<rect class="errors" x="${fixed(x)}" y="${fixed(y0 - height)}" width="${fixed(Math.max(1, xOf(step.endS) - x - 1))}" height="${fixed(height)}" fill="${errorColor}"><title>${escapeXml(tip)}</title></rect>`)
  }
  inner.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#555555"/>`)
  const okTotal = timeline.ok.reduce((total, count) => total + count, 0)
  const errorTotal = timeline.errors.reduce((total, count) => total + count, 0)
  const mean = okTotal / durationS
  inner.push(`<line class="mean" x1="${x0}" y1="${fixed(yOf(mean))}" x2="${x1}" y2="${fixed(yOf(mean))}" stroke="#222222" stroke-dasharray="5 4"/><text x="${x1 - 4}" y="${fixed(yOf(mean) - 5)}" font-size="11" text-anchor="end" fill="#222222">${escapeXml(`mean ${countLabel(Math.round(mean))} ops/s`)}</text>`)
  inner.push(...legendEntries([{label: `answered (${countLabel(okTotal)})`, color: kindColors.read}, ...(errorTotal > 0 ? [{label: `failed (${countLabel(errorTotal)})`, color: errorColor}] : [])]))
  return frame(title, inner, axes)
}

function summaryTable(input: BenchReportInput): string {
  const shape = benchJson(input)
  const head = ['op', 'ok', 'errors', 'ops/s', ...benchPercentiles.map((percentile) => `p${percentile} ms`), 'max ms']
  const rows = (['read', 'update', 'all'] as const).map((name) => {
    const row = shape.operations[name]
    const latency = row.latencyMs
    const cells = latency === null ? head.slice(4).map(() => '-') : [latency.p50, latency.p90, latency.p99, latency.p999, latency.max].map((ms) => ms.toString())
    return `<tr><th>${name}</th>${[row.count.toLocaleString('en-US'), row.errors.toLocaleString('en-US'), row.opsPerSecond.toLocaleString('en-US'), ...cells].map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`
  })
  return `<table>\n<tr>${head.map((cell) => `<th>${escapeXml(cell)}</th>`).join('')}</tr>\n${rows.join('\n')}\n</table>`
}

const style = `body{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px;margin:0 0 8px}p{margin:4px 0;color:#444}
table{border-collapse:collapse;margin:16px 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}
tr>th:first-child{text-align:left}svg.chart{display:block;margin:16px 0;border:1px solid #ddd}`

/** The whole page. */
export function benchHtml(input: BenchHtmlInput): string {
  const shape = benchJson(input)
  const total = shape.operations.all
  const summary = `${total.count.toLocaleString('en-US')} operations in ${(input.elapsedMs / 1000).toFixed(1)} s, ${total.opsPerSecond.toLocaleString('en-US')} ops/s${input.stoppedBy === 'interrupted' ? ', interrupted' : ''}`
  const notes = [
    ...(total.errors > 0 ? [`errors: ${Object.entries(shape.errors).map(([code, times]) => `${code} ${times}`).join(', ')}`] : []),
    ...(input.unsent > 0 ? [`${input.unsent.toLocaleString('en-US')} operations were due but never sent: the cluster did not keep up with the rate`] : []),
  ]
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeXml(`dyn bench: workload ${input.options.workload.toUpperCase()}, ${summary}`)}</title>`,
    `<style>${style}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeXml(`dyn bench: ${summary}`)}</h1>`,
    ...benchSettingsLines(input).map((line) => `<p>${escapeXml(line)}</p>`),
    ...notes.map((line) => `<p class="note">${escapeXml(line)}</p>`),
    summaryTable(input),
    latencyChart(input),
    ...(input.mode === 'open' ? [latencyChart(input, {which: 'serviceTime'})] : []),
    throughputChart(input.timeline, input.elapsedMs),
    '</body>',
    '</html>',
    '',
  ].join('\n')
}
