// What `dyn top` draws and prints: the live screen (a header, three tables and the charts of
// the last minute), the plain-text snapshot for pipes, and the JSON document for scripts
// (docs/cli.md). Pure: a frame in, lines or a document out. Cells are padded as plain text
// and coloured afterwards, so that colour never changes a width, and each line is cut to
// the terminal's width (a line that wraps would scroll the screen).
import {unreachable} from '../core/errors.js'
import type {HistoryPoint, NodeRow, Quantiles} from '../core/top.js'
import {jsonShapeVersion} from './json.js'
import {sparkline, sparkMax} from './sparkline.js'

export interface TopFrame {
  readonly cluster: string | undefined
  readonly source: {readonly dir: string} | {readonly hosts: readonly string[]}
  readonly intervalMs: number
  /** Wall-clock time of the poll, ISO 8601. */
  readonly time: string
  readonly rows: readonly NodeRow[]
  /** Why the node list could not be read this time (the last one known is shown). */
  readonly problem?: string | undefined
}

export interface ScreenOptions {
  readonly columns: number
  readonly rows: number
  readonly color: boolean
  /** Block characters for the charts; ASCII otherwise. */
  readonly unicode: boolean
  /** The charts' points of a node (by its HTTP address), oldest first. */
  readonly history: (httpAddress: string) => readonly HistoryPoint[]
}

type Style = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'inverse'

interface Segment {
  readonly text: string
  readonly style?: Style | undefined
}

type Line = readonly Segment[]

interface Cell {
  readonly text: string
  readonly style?: Style | undefined
}

const sgr: Readonly<Record<Style, string>> = {bold: '1', dim: '2', green: '32', yellow: '33', red: '31', inverse: '7'}

/** Widest chart drawn: a minute at one point per second. */
const chartCharsMax = 60
const chartCharsMin = 10

// ---- the screen ----

/** The live screen, one string per terminal row, at most `rows` of them, each at most
 * `columns` wide. */
export function topScreen(frame: TopFrame, options: ScreenOptions): string[] {
  const lines: Line[] = [
    [{text: headerText(frame), style: 'inverse'}],
    totalsLine(frame.rows),
    [],
    ...trafficTable(frame.rows),
    [],
    ...backgroundTable(frame.rows),
    [],
    ...resourcesTable(frame.rows),
    [],
    ...chartLines(frame.rows, options),
    ...problemLines(frame),
  ]
  const height = Math.max(1, options.rows)
  return lines.slice(0, height).map((line) => renderLine(line, Math.max(1, options.columns), options.color))
}

/** The snapshot for a pipe: the header and the three tables, without colour or charts. */
export function topText(frame: TopFrame): string {
  const lines: Line[] = [
    [{text: headerText(frame)}],
    totalsLine(frame.rows),
    [],
    ...trafficTable(frame.rows),
    [],
    ...backgroundTable(frame.rows),
    [],
    ...resourcesTable(frame.rows),
    ...problemLines(frame),
  ]
  return lines.map((line) => renderLine(line, Number.POSITIVE_INFINITY, false).trimEnd()).join('\n')
}

function headerText(frame: TopFrame): string {
  const where = 'dir' in frame.source ? frame.source.dir : frame.source.hosts.join(', ')
  const nodes = `${frame.rows.length} node${frame.rows.length === 1 ? '' : 's'}`
  const every = frame.intervalMs % 1000 === 0 ? `${frame.intervalMs / 1000} s` : `${frame.intervalMs} ms`
  const clock = frame.time.slice(11, 19)
  return `dyn top  cluster ${frame.cluster ?? '?'}  ${where}  ${nodes}  every ${every}  ${clock}  q quits`
}

function totalsLine(rows: readonly NodeRow[]): Line {
  const serving = rows.filter((row) => row.state === 'serving').length
  const sum = (pick: (row: NodeRow) => number | undefined): number | undefined => {
    const values = rows.map(pick).filter((value): value is number => value !== undefined)
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0)
  }
  const failures = sum((row) => row.quorumFailures) ?? 0
  const suspects = new Set(rows.flatMap((row) => row.suspects ?? []))
  return [
    {text: `${serving}/${rows.length} serving`, style: serving === rows.length ? 'green' : 'red'},
    {text: `  get ${rateText(sum((row) => row.perSecond.get))}/s  put ${rateText(sum((row) => row.perSecond.put))}/s  delete ${rateText(sum((row) => row.perSecond.delete))}/s  `},
    {text: `quorum failures ${countText(failures)}`, style: failures > 0 ? 'red' : undefined},
    {text: `  hints held ${countText(sum((row) => row.hintsHeld))}  `},
    {text: `suspected ${suspects.size === 0 ? '-' : [...suspects].sort().join(',')}`, style: suspects.size > 0 ? 'yellow' : undefined},
  ]
}

const trafficHead = ['NODE', 'STATE', 'KEYS', 'GET/S', 'PUT/S', 'DEL/S', 'GET P50', 'GET P99', 'PUT P50', 'PUT P99', 'QUORUM FAIL']

function trafficTable(rows: readonly NodeRow[]): Line[] {
  return table(trafficHead, [0, 1], rows.map((row) => [
    {text: row.name},
    {text: row.state, style: stateStyle(row)},
    {text: countText(row.keys)},
    {text: rateText(row.perSecond.get)},
    {text: rateText(row.perSecond.put)},
    {text: rateText(row.perSecond.delete)},
    ...quantileCells(row.latencyMs.get),
    ...quantileCells(row.latencyMs.put),
    {text: countText(row.quorumFailures), style: (row.quorumFailuresPerSecond ?? 0) > 0 ? 'red' : undefined},
  ]))
}

const backgroundHead = ['NODE', 'HINTS', 'DRAINED/S', 'AE COMPARED', 'AE REPAIRED', 'AE FAILED', 'HANDOFFS', 'SUSPECTS', 'CUT']

function backgroundTable(rows: readonly NodeRow[]): Line[] {
  return table(backgroundHead, [0, 6, 7, 8], rows.map((row) => [
    {text: row.name},
    {text: countText(row.hintsHeld), style: (row.hintsHeld ?? 0) > 0 ? 'yellow' : undefined},
    {text: rateText(row.hintsDeliveredPerSecond)},
    {text: countText(row.antiEntropy?.exchanges)},
    {text: countText(row.antiEntropy?.keysRepaired)},
    {text: countText(row.antiEntropy?.failures), style: (row.antiEntropy?.failures ?? 0) > 0 ? 'yellow' : undefined},
    {text: row.handoffs === undefined ? '-' : row.handoffs.active === 0 ? '0' : `${row.handoffs.active} (${countText(row.handoffs.keysSent)} keys)`, style: (row.handoffs?.active ?? 0) > 0 ? 'yellow' : undefined},
    namesCell(row.suspects),
    namesCell(row.cut),
  ]))
}

const resourcesHead = ['NODE', 'DISK', 'DISK FREE', 'MEMORY', 'HEAP', 'UPTIME', 'RING']

function resourcesTable(rows: readonly NodeRow[]): Line[] {
  return table(resourcesHead, [0], rows.map((row) => [
    {text: row.name},
    {text: bytesText(row.storeBytes)},
    {text: bytesText(row.diskFreeBytes)},
    {text: bytesText(row.memoryBytes)},
    {text: bytesText(row.heapUsedBytes)},
    {text: row.uptimeMs === undefined ? '-' : uptimeText(row.uptimeMs), style: row.restarted ? 'yellow' : undefined},
    {text: row.ringVersion === undefined ? '-' : `v${row.ringVersion}`},
  ]))
}

function chartLines(rows: readonly NodeRow[], options: ScreenOptions): Line[] {
  const nameWidth = Math.max(4, ...rows.map((row) => row.name.length))
  // NAME  CHART  NOW  PEAK  CHART  NOW  PEAK, with 2 spaces between columns.
  const numberWidth = 7
  const fixed = nameWidth + 2 + 2 * (2 + numberWidth + 2 + numberWidth) + 2
  const width = Math.max(chartCharsMin, Math.min(chartCharsMax, Math.floor((options.columns - fixed) / 2)))
  const head: Line = [{text: [
    'NODE'.padEnd(nameWidth),
    `OPS/S, LAST ${chartSeconds(options, rows)}`.padEnd(width),
    'NOW'.padStart(numberWidth),
    'PEAK'.padStart(numberWidth),
    `P99 MS, LAST ${chartSeconds(options, rows)}`.padEnd(width),
    'NOW'.padStart(numberWidth),
    'PEAK'.padStart(numberWidth),
  ].join('  '), style: 'bold'}]
  const body = rows.map((row): Line => {
    const points = options.history(row.httpAddress).slice(-width)
    const ops = points.map((point) => point.opsPerSecond)
    const p99 = points.map((point) => point.p99Ms)
    const opsNow = ops.at(-1)
    const p99Now = p99.at(-1)
    return [
      {text: `${row.name.padEnd(nameWidth)}  `},
      {text: sparkline(ops, {width, ascii: !options.unicode}), style: 'green'},
      {text: `  ${rateText(opsNow).padStart(numberWidth)}  ${(ops.some((value) => value !== undefined) ? rateText(sparkMax(ops)) : '-').padStart(numberWidth)}  `},
      {text: sparkline(p99, {width, ascii: !options.unicode}), style: 'yellow'},
      {text: `  ${msText(p99Now).padStart(numberWidth)}  ${(p99.some((value) => value !== undefined) ? msText(sparkMax(p99)) : '-').padStart(numberWidth)}`},
    ]
  })
  return [head, ...body]
}

/** "60 S" once a minute is on the chart, else the seconds it covers so far. */
function chartSeconds(options: ScreenOptions, rows: readonly NodeRow[]): string {
  const spans = rows.map((row) => {
    const points = options.history(row.httpAddress)
    return points.length < 2 ? 0 : points.at(-1)!.atMs - points[0]!.atMs
  })
  return `${Math.round(Math.max(0, ...spans) / 1000)} S`
}

function problemLines(frame: TopFrame): Line[] {
  const lines: Line[] = []
  if (frame.problem !== undefined) lines.push([{text: `nodes: ${frame.problem}`, style: 'red'}])
  for (const row of frame.rows) if (row.problem !== undefined) lines.push([{text: `${row.name === row.httpAddress ? row.name : `${row.name} (${row.httpAddress})`}: ${row.problem}`, style: 'red'}])
  return lines.length === 0 ? [] : [[], ...lines]
}

// ---- tables ----

/** Columns padded to their widest cell, two spaces apart; the columns in `leftAligned` are
 * padded on the right (names, words), the others on the left (numbers). */
function table(head: readonly string[], leftAligned: readonly number[], rows: readonly (readonly Cell[])[]): Line[] {
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.text.length ?? 0)))
  const pad = (text: string, column: number): string => (leftAligned.includes(column) ? text.padEnd(widths[column] ?? 0) : text.padStart(widths[column] ?? 0))
  const headLine: Line = [{text: head.map((title, column) => pad(title, column)).join('  '), style: 'bold'}]
  const body = rows.map((row): Line => row.flatMap((cell, column) => [
    ...(column === 0 ? [] : [{text: '  '}]),
    {text: pad(cell.text, column), style: cell.style},
  ]))
  return [headLine, ...body]
}

function renderLine(line: Line, columns: number, color: boolean): string {
  let left = columns
  let out = ''
  for (const segment of line) {
    if (left <= 0) break
    const text = [...segment.text].slice(0, left).join('')
    left -= [...text].length
    out += color && segment.style !== undefined && text.trim() !== '' ? `\x1b[${sgr[segment.style]}m${text}\x1b[0m` : text
  }
  return out
}

function stateStyle(row: NodeRow): Style {
  switch (row.state) {
    case 'serving':
      return 'green'
    case 'stopping':
      return 'yellow'
    case 'stopped':
    case 'unreachable':
      return 'red'
    default:
      return unreachable(row.state)
  }
}

function quantileCells(quantiles: Quantiles | undefined): Cell[] {
  return [{text: msText(quantiles?.p50)}, {text: msText(quantiles?.p99)}]
}

function namesCell(names: readonly string[] | undefined): Cell {
  if (names === undefined) return {text: '-'}
  if (names.length === 0) return {text: '-'}
  const text = names.join(',')
  return {text: text.length > 24 ? `${text.slice(0, 23)}…` : text, style: 'yellow'}
}

// ---- numbers ----

export function rateText(value: number | undefined): string {
  if (value === undefined) return '-'
  if (value === 0) return '0'
  if (value < 100) return value.toFixed(1)
  return Math.round(value).toLocaleString('en-US')
}

export function msText(value: number | undefined): string {
  if (value === undefined) return '-'
  if (value < 10) return value.toFixed(2)
  if (value < 100) return value.toFixed(1)
  return Math.round(value).toLocaleString('en-US')
}

export function countText(value: number | undefined): string {
  return value === undefined ? '-' : Math.round(value).toLocaleString('en-US')
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

export function bytesText(value: number | undefined): string {
  if (value === undefined) return '-'
  let unit = 0
  let scaled = value
  while (scaled >= 1024 && unit < byteUnits.length - 1) {
    scaled /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(scaled)} B` : `${scaled < 10 ? scaled.toFixed(1) : Math.round(scaled)} ${byteUnits[unit]}`
}

export function uptimeText(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`
}

// ---- JSON ----

export interface TopNodeJson {
  readonly name: string
  readonly httpAddress: string
  readonly state: NodeRow['state']
  readonly problem?: string
  readonly uptimeMs: number | null
  readonly ringVersion: number | null
  readonly restarted: boolean
  readonly elapsedMs: number | null
  readonly perSecond: {readonly get: number | null; readonly put: number | null; readonly delete: number | null}
  readonly latencyMs: {readonly get: Quantiles | null; readonly put: Quantiles | null}
  readonly quorumFailures: {readonly total: number | null; readonly perSecond: number | null}
  readonly hints: {readonly held: number | null; readonly delivered: number | null; readonly deliveredPerSecond: number | null}
  readonly antiEntropy: {readonly partitionsCompared: number; readonly keysRepaired: number; readonly failures: number} | null
  readonly handoffs: {readonly active: number; readonly keysSent: number} | null
  readonly suspects: readonly string[] | null
  readonly cut: readonly string[] | null
  readonly keys: number | null
  readonly disk: {readonly storeBytes: number | null; readonly freeBytes: number | null}
  readonly memory: {readonly rssBytes: number | null; readonly heapUsedBytes: number | null}
}

export interface TopJson {
  readonly version: number
  readonly time: string
  readonly cluster: string | null
  readonly dir?: string
  readonly hosts?: readonly string[]
  readonly intervalMs: number
  readonly totals: {readonly perSecond: {readonly get: number | null; readonly put: number | null; readonly delete: number | null}; readonly quorumFailures: number; readonly hintsHeld: number}
  readonly nodes: readonly TopNodeJson[]
}

/** Rates and latencies are rounded to three decimals (a thousandth of a request per second,
 * a microsecond); counts and bytes are whole numbers. */
export function topJson(frame: TopFrame): TopJson {
  const nodes = frame.rows.map(nodeJson)
  const total = (pick: (node: TopNodeJson) => number | null): number | null => {
    const values = nodes.map(pick).filter((value): value is number => value !== null)
    return values.length === 0 ? null : round3(values.reduce((a, b) => a + b, 0))
  }
  return {
    version: jsonShapeVersion,
    time: frame.time,
    cluster: frame.cluster ?? null,
    ...('dir' in frame.source ? {dir: frame.source.dir} : {hosts: frame.source.hosts}),
    intervalMs: frame.intervalMs,
    totals: {
      perSecond: {get: total((node) => node.perSecond.get), put: total((node) => node.perSecond.put), delete: total((node) => node.perSecond.delete)},
      quorumFailures: total((node) => node.quorumFailures.total) ?? 0,
      hintsHeld: total((node) => node.hints.held) ?? 0,
    },
    nodes,
  }
}

function nodeJson(row: NodeRow): TopNodeJson {
  return {
    name: row.name,
    httpAddress: row.httpAddress,
    state: row.state,
    ...(row.problem === undefined ? {} : {problem: row.problem}),
    uptimeMs: whole(row.uptimeMs),
    ringVersion: row.ringVersion ?? null,
    restarted: row.restarted,
    elapsedMs: whole(row.elapsedMs),
    perSecond: {get: rounded(row.perSecond.get), put: rounded(row.perSecond.put), delete: rounded(row.perSecond.delete)},
    latencyMs: {get: quantilesJson(row.latencyMs.get), put: quantilesJson(row.latencyMs.put)},
    quorumFailures: {total: whole(row.quorumFailures), perSecond: rounded(row.quorumFailuresPerSecond)},
    hints: {held: whole(row.hintsHeld), delivered: whole(row.hintsDelivered), deliveredPerSecond: rounded(row.hintsDeliveredPerSecond)},
    antiEntropy: row.antiEntropy === undefined ? null : {partitionsCompared: row.antiEntropy.exchanges, keysRepaired: row.antiEntropy.keysRepaired, failures: row.antiEntropy.failures},
    handoffs: row.handoffs ?? null,
    suspects: row.suspects ?? null,
    cut: row.cut ?? null,
    keys: whole(row.keys),
    disk: {storeBytes: whole(row.storeBytes), freeBytes: whole(row.diskFreeBytes)},
    memory: {rssBytes: whole(row.memoryBytes), heapUsedBytes: whole(row.heapUsedBytes)},
  }
}

function quantilesJson(quantiles: Quantiles | undefined): Quantiles | null {
  return quantiles === undefined ? null : {p50: round3(quantiles.p50), p99: round3(quantiles.p99)}
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000
}

function rounded(value: number | undefined): number | null {
  return value === undefined ? null : round3(value)
}

function whole(value: number | undefined): number | null {
  return value === undefined ? null : Math.round(value)
}
