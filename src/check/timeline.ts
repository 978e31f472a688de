// The timeline of a `dyn check` run as one self-contained SVG file (pure): a lane per
// client with its operations as bars from invocation to completion (reads above, writes
// below; colour by outcome), a lane per node with the faults that hit it, each fault also
// as a band across the client lanes, the phases after the workload (heal, converge, final
// read), and markers on lost, lost-unsynced and late writes. Every mark has a tooltip
// (<title>) with the operation or fault. Opens in any browser.
import {unreachable} from '../core/errors.js'
import type {CheckResult} from './checker.js'
import {formatDot} from './checker.js'
import type {Fault, FaultKind, Operation, Phases} from './history.js'

export interface TimelineInput {
  readonly seed: number
  readonly clients: readonly string[]
  readonly nodes: readonly string[]
  readonly operations: readonly Operation[]
  readonly faults: readonly Fault[]
  readonly phases: Phases
  readonly result: CheckResult
  /** The command that replays the run, shown under the title. */
  readonly replay: string
}

const widthPx = 1400
const leftPx = 110
const rightPx = 24
const topPx = 124
const laneHeightPx = 26
const laneGapPx = 6
const axisHeightPx = 34

const colours = {
  getOk: '#1e88e5',
  putOk: '#2e7d32',
  fail: '#9e9e9e',
  unknown: '#ef6c00',
  lost: '#d50000',
  lostUnsynced: '#8e24aa',
  late: '#f9a825',
  text: '#212121',
  grid: '#e0e0e0',
} as const

const faultColours: Readonly<Record<FaultKind, string>> = {
  kill: '#e53935',
  pause: '#fb8c00',
  partition: '#5e35b1',
  'lose-unsynced': '#00897b',
}

export function renderTimeline(input: TimelineInput): string {
  const endMs = Math.max(1, input.phases.finalReadMs ?? input.phases.healedMs ?? input.phases.workloadEndMs, ...input.operations.map((op) => op.completeMs ?? op.invokeMs))
  const x = (ms: number): number => leftPx + (ms / endMs) * (widthPx - leftPx - rightPx)
  const clientLane = (index: number): number => topPx + index * (laneHeightPx + laneGapPx)
  const nodesTopPx = clientLane(input.clients.length) + 18
  const nodeLane = (index: number): number => nodesTopPx + index * (laneHeightPx + laneGapPx)
  const axisTopPx = nodeLane(input.nodes.length) + 4
  const heightPx = axisTopPx + axisHeightPx + 8
  const clientsBottomPx = clientLane(input.clients.length) - laneGapPx
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${widthPx}" height="${heightPx}" fill="#ffffff"/>`,
  )
  parts.push(...header(input))
  parts.push(...phaseBands(input.phases, x, topPx - 8, axisTopPx))
  // Fault names above the lanes, on the upper row when the lower one is taken there.
  const rowFreeFrom = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]
  for (const fault of input.faults) {
    const start = x(fault.startMs)
    const width = Math.max(2, x(fault.endMs ?? endMs) - start)
    const colour = faultColours[fault.kind]
    const name = shortFault(fault)
    parts.push(`<rect x="${fmt(start)}" y="${topPx - 8}" width="${fmt(width)}" height="${clientsBottomPx - topPx + 8}" fill="${colour}" fill-opacity="0.10"><title>${escape(faultTitle(fault))}</title></rect>`)
    // Where neither row is free (many faults in a long run) the name is left to the
    // tooltip and the node lanes.
    const row = start >= rowFreeFrom[1]! ? 1 : start >= rowFreeFrom[0]! ? 0 : undefined
    if (row === undefined) continue
    rowFreeFrom[row] = start + name.length * 5.6 + 8
    parts.push(`<text x="${fmt(start + 2)}" y="${topPx - 11 - (1 - row) * 12}" fill="${colour}" font-size="10">${escape(name)}</text>`)
  }
  input.clients.forEach((client, index) => {
    const y = clientLane(index)
    parts.push(`<rect x="${leftPx}" y="${y}" width="${widthPx - leftPx - rightPx}" height="${laneHeightPx}" fill="none" stroke="${colours.grid}"/>`)
    parts.push(`<text x="${leftPx - 8}" y="${y + laneHeightPx / 2 + 4}" text-anchor="end" fill="${colours.text}">client ${escape(client)}</text>`)
  })
  parts.push(`<text x="8" y="${nodesTopPx - 6}" fill="${colours.text}" font-weight="bold">faults by node</text>`)
  input.nodes.forEach((node, index) => {
    const y = nodeLane(index)
    parts.push(`<rect x="${leftPx}" y="${y}" width="${widthPx - leftPx - rightPx}" height="${laneHeightPx}" fill="none" stroke="${colours.grid}"/>`)
    parts.push(`<text x="${leftPx - 8}" y="${y + laneHeightPx / 2 + 4}" text-anchor="end" fill="${colours.text}">node ${escape(node)}</text>`)
    for (const fault of input.faults.filter((candidate) => candidate.nodes.includes(node))) parts.push(...nodeFault(fault, node, x, y, endMs))
  })
  const laneOf = new Map(input.clients.map((client, index) => [client, clientLane(index)]))
  const lost = new Set(input.result.lostOperations)
  const lostUnsynced = new Set(input.result.lostUnsyncedOperations)
  const late = new Set(input.result.lateOperations)
  for (const op of input.operations) {
    const lane = laneOf.get(op.client)
    if (lane === undefined) continue
    const start = x(op.invokeMs)
    const width = Math.max(1.5, x(op.completeMs ?? endMs) - start)
    const y = op.kind === 'get' ? lane + 3 : lane + laneHeightPx / 2 + 1
    parts.push(`<rect x="${fmt(start)}" y="${y}" width="${fmt(width)}" height="${laneHeightPx / 2 - 4}" fill="${opColour(op)}"><title>${escape(opTitle(op))}</title></rect>`)
  }
  // A lost write's marker says so, unless the word would overlap the previous one in its
  // lane; the many markers of writes lost unsynced go without (the legend names them).
  const labelledUntil = new Map<string, number>()
  const label = (client: string, at: number, word: string): string => {
    if (at < (labelledUntil.get(client) ?? Number.NEGATIVE_INFINITY)) return ''
    labelledUntil.set(client, at + word.length * 7 + 12)
    return word
  }
  for (const op of input.operations) {
    const lane = laneOf.get(op.client)
    if (lane === undefined || op.completeMs === undefined) continue
    const at = x(op.completeMs)
    if (lost.has(op.id)) parts.push(marker(at, lane, colours.lost, `LOST: ${opTitle(op)}`, label(op.client, at, 'lost')))
    else if (lostUnsynced.has(op.id)) parts.push(marker(at, lane, colours.lostUnsynced, `lost unsynced (allowed by --sync none): ${opTitle(op)}`, ''))
    else if (late.has(op.id)) parts.push(`<circle cx="${fmt(at)}" cy="${lane + laneHeightPx - 2}" r="2.5" fill="${colours.late}"><title>${escape(`late: a later read missed it. ${opTitle(op)}`)}</title></circle>`)
  }
  parts.push(...axis(endMs, x, axisTopPx))
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

function header(input: TimelineInput): string[] {
  const result = input.result
  const verdict = result.valid ? 'every check holds' : `FAILED: ${result.checks.filter((check) => !check.ok).map((check) => check.name).join(', ')}`
  const w = result.writes
  const during = result.availability.duringFaults
  const summary =
    `${w.acknowledged} of ${w.attempted} writes acknowledged: ${w.present} present, ${w.superseded} superseded, ${w.lostUnsynced} lost unsynced, ${w.lost} lost` +
    ` · availability during faults ${percent(during.ok, during.total)} · ${result.lateOperations.length} late writes` +
    (result.convergence.convergeMs === undefined ? ' · did not converge' : ` · converged in ${(result.convergence.convergeMs / 1000).toFixed(1)} s`)
  const legend: [string, string][] = [
    [colours.getOk, 'read ok'],
    [colours.putOk, 'write ok'],
    [colours.unknown, 'unknown (timeout, no quorum)'],
    [colours.fail, 'failed'],
    [colours.lost, 'lost write'],
    [colours.lostUnsynced, 'lost unsynced'],
    [colours.late, 'late write'],
  ]
  const lines = [
    `<text x="8" y="22" font-size="16" font-weight="bold" fill="${result.valid ? colours.putOk : colours.lost}">dyn check, seed ${input.seed}: ${escape(verdict)}</text>`,
    `<text x="8" y="42" fill="${colours.text}">${escape(summary)}</text>`,
    `<text x="8" y="60" fill="#616161" font-size="11">replay: ${escape(input.replay)}</text>`,
  ]
  let legendX = 8
  for (const [colour, label] of legend) {
    lines.push(`<rect x="${legendX}" y="70" width="14" height="10" fill="${colour}"/><text x="${legendX + 18}" y="79" fill="${colours.text}" font-size="11">${escape(label)}</text>`)
    legendX += 26 + label.length * 6.2
  }
  for (const kind of Object.keys(faultColours) as FaultKind[]) {
    lines.push(`<rect x="${legendX}" y="70" width="14" height="10" fill="${faultColours[kind]}" fill-opacity="0.35"/><text x="${legendX + 18}" y="79" fill="${colours.text}" font-size="11">${kind}</text>`)
    legendX += 26 + kind.length * 6.2
  }
  lines.push(`<text x="8" y="${topPx - 16}" fill="${colours.text}" font-weight="bold">clients</text>`)
  lines.push(`<text x="8" y="${topPx - 3}" fill="#616161" font-size="9">reads above, writes below</text>`)
  return lines
}

function phaseBands(phases: Phases, x: (ms: number) => number, top: number, bottom: number): string[] {
  const bands: string[] = []
  const band = (fromMs: number | undefined, toMs: number | undefined, fill: string, label: string): void => {
    if (fromMs === undefined || toMs === undefined || toMs <= fromMs) return
    bands.push(`<rect x="${fmt(x(fromMs))}" y="${top}" width="${fmt(Math.max(2, x(toMs) - x(fromMs)))}" height="${bottom - top}" fill="${fill}" fill-opacity="0.5"><title>${escape(label)}</title></rect>`)
    if (x(toMs) - x(fromMs) > label.length * 6 + 6) bands.push(`<text x="${fmt(x(fromMs) + 3)}" y="${bottom - 4}" fill="#616161" font-size="10">${escape(label)}</text>`)
  }
  band(phases.workloadEndMs, phases.healedMs, '#eceff1', 'heal')
  band(phases.healedMs, phases.convergedMs ?? phases.finalReadMs, '#e3f2fd', phases.convergedMs === undefined ? 'not converged' : 'converge')
  band(phases.convergedMs, phases.finalReadMs, '#e8f5e9', 'final read')
  return bands
}

function nodeFault(fault: Fault, node: string, x: (ms: number) => number, y: number, endMs: number): string[] {
  const start = x(fault.startMs)
  const end = x(fault.endMs ?? endMs)
  const colour = faultColours[fault.kind]
  const label = fault.kind === 'partition' ? `cut from ${otherGroups(fault, node)}` : fault.kind
  const marks = [
    `<rect x="${fmt(start)}" y="${y + 3}" width="${fmt(Math.max(2, end - start))}" height="${laneHeightPx - 6}" fill="${colour}" fill-opacity="0.35" stroke="${colour}"><title>${escape(faultTitle(fault))}</title></rect>`,
  ]
  // A lose-unsynced fault's name goes right of its kill line, clear of the copy's line.
  const labelAt = fault.kind === 'lose-unsynced' && fault.killMs !== undefined ? x(fault.killMs) + 4 : start + 4
  if (end - labelAt > label.length * 6) marks.push(`<text x="${fmt(labelAt)}" y="${y + laneHeightPx / 2 + 4}" fill="${colours.text}" font-size="10">${escape(label)}</text>`)
  if (fault.kind === 'lose-unsynced' && fault.snapshotMs !== undefined && fault.killMs !== undefined) {
    // The writes this node stored between the copy and the kill are the ones it loses.
    marks.push(`<line x1="${fmt(x(fault.snapshotMs))}" y1="${y + 1}" x2="${fmt(x(fault.snapshotMs))}" y2="${y + laneHeightPx - 1}" stroke="${colour}" stroke-width="2"><title>store copied</title></line>`)
    marks.push(`<line x1="${fmt(x(fault.killMs))}" y1="${y + 1}" x2="${fmt(x(fault.killMs))}" y2="${y + laneHeightPx - 1}" stroke="${colours.lost}" stroke-width="2"><title>killed, store taken back to the copy</title></line>`)
  }
  return marks
}

function marker(at: number, lane: number, colour: string, title: string, label: string): string {
  const top = lane - 2
  return (
    `<g><title>${escape(title)}</title><path d="M ${fmt(at - 5)} ${top - 8} L ${fmt(at + 5)} ${top - 8} L ${fmt(at)} ${top} Z" fill="${colour}"/>` +
    `<line x1="${fmt(at)}" y1="${top}" x2="${fmt(at)}" y2="${lane + laneHeightPx}" stroke="${colour}" stroke-width="1.5"/>` +
    (label === '' ? '' : `<text x="${fmt(at + 6)}" y="${top - 1}" fill="${colour}" font-size="10" font-weight="bold">${label}</text>`) +
    '</g>'
  )
}

function axis(endMs: number, x: (ms: number) => number, top: number): string[] {
  const stepMs = niceStep(endMs / 12)
  const marks = [`<line x1="${leftPx}" y1="${top}" x2="${widthPx - rightPx}" y2="${top}" stroke="${colours.text}"/>`]
  for (let ms = 0; ms <= endMs; ms += stepMs) {
    marks.push(`<line x1="${fmt(x(ms))}" y1="${top}" x2="${fmt(x(ms))}" y2="${top + 5}" stroke="${colours.text}"/>`)
    marks.push(`<text x="${fmt(x(ms))}" y="${top + 18}" text-anchor="middle" fill="${colours.text}" font-size="11">${formatSeconds(ms)}</text>`)
  }
  marks.push(`<text x="${widthPx - rightPx}" y="${top + 32}" text-anchor="end" fill="#616161" font-size="10">time since the workload started</text>`)
  return marks
}

function niceStep(roughMs: number): number {
  for (const step of [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000]) if (step >= roughMs) return step
  return 1_200_000
}

function formatSeconds(ms: number): string {
  if (ms >= 120_000) return `${Math.round(ms / 60_000)} min`
  return `${Number((ms / 1000).toFixed(2))} s`
}

function opColour(op: Operation): string {
  switch (op.outcome) {
    case 'ok':
      return op.kind === 'get' ? colours.getOk : colours.putOk
    case 'fail':
      return colours.fail
    case 'unknown':
    case undefined:
      return colours.unknown
    default:
      return unreachable(op.outcome)
  }
}

function opTitle(op: Operation): string {
  const what = op.kind === 'get' ? `get ${op.key}` : `put ${op.key}=${op.value ?? ''}`
  const dot = op.dot === undefined ? '' : ` dot ${formatDot(op.dot)}`
  const seen = op.siblings === undefined ? '' : ` → [${op.siblings.map((sibling) => sibling.value).join(', ')}]`
  const error = op.error === undefined ? '' : ` (${op.error})`
  return `op${op.id} ${op.client} ${what} via ${op.node}: ${op.outcome ?? 'pending'}${error}${dot}${seen}, ${op.invokeMs}–${op.completeMs ?? '?'} ms`
}

function faultTitle(fault: Fault): string {
  return `${shortFault(fault)}, ${fault.startMs}–${fault.endMs ?? '?'} ms`
}

function shortFault(fault: Fault): string {
  if (fault.kind === 'partition') return `partition ${(fault.groups ?? []).map((group) => group.join(',')).join(' | ')}`
  return `${fault.kind} ${fault.nodes.join(',')}`
}

function otherGroups(fault: Fault, node: string): string {
  return (fault.groups ?? [])
    .filter((group) => !group.includes(node))
    .map((group) => group.join(','))
    .join(' ')
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)} %`
}

function fmt(value: number): string {
  return Number(value.toFixed(1)).toString()
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
