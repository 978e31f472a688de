// What `dyn conflicts` shows: the keys that nodes hold with concurrent siblings, as a table
// (key, siblings, dots, nodes) and as the JSON shape of docs/cli.md. Inputs are plain data
// (one page, already merged over the nodes asked) so the shell can render the same.
import {Buffer} from 'node:buffer'
import type {ConflictDot} from '../core/protocol.js'
import {jsonShapeVersion} from './json.js'
import {newTable} from './table.js'
import type {RenderOptions} from './tables.js'
import {displayValue} from './value.js'

/** What one node said about one key. */
export interface ConflictReport {
  readonly node: string
  readonly partition: number
  /** Siblings of that node's copy, tombstones included. */
  readonly siblings: number
  readonly dots: readonly ConflictDot[]
}

export interface ConflictListingEntry {
  readonly key: Uint8Array
  /** Sorted by node name; only nodes whose copy is in conflict. */
  readonly reports: readonly ConflictReport[]
}

/** A node that was asked and gave no listing. */
export interface UnansweredNode {
  readonly node: string
  readonly address: string
  readonly code: string
  readonly message: string
}

export interface ConflictListing {
  /** In key byte order. */
  readonly keys: readonly ConflictListingEntry[]
  /** Nodes asked, in the order asked. */
  readonly asked: readonly string[]
  readonly unreachable: readonly UnansweredNode[]
  readonly limit: number
  /** Some node may hold more conflicted keys after this page. */
  readonly more: boolean
  /** Cursor of the next page (--cursor); present exactly when `more`. */
  readonly next?: string
}

export interface ConflictsTextHints {
  /** The command that lists the next page, when there is one. */
  readonly nextCommand?: string
  /** The command that resolves the first listed key, when it can be typed. */
  readonly resolveCommand?: string
  /** The listing starts after a cursor: an empty one means no more, not none. */
  readonly continued?: boolean
}

/** Dots shown in one table cell; --json lists every one the node sent. */
export const dotsShownMax = 8

/** A key's largest sibling count over the nodes that reported it. */
function siblingsOf(entry: ConflictListingEntry): number {
  return Math.max(...entry.reports.map((report) => report.siblings))
}

function dotText(dot: ConflictDot): string {
  return dot.kind === 'tombstone' ? `${dot.node}:${dot.counter} (delete)` : `${dot.node}:${dot.counter}`
}

function dotsText(report: ConflictReport): string {
  const shown = report.dots.slice(0, dotsShownMax).map(dotText).join(', ')
  const hidden = report.siblings - Math.min(report.dots.length, dotsShownMax)
  return hidden > 0 ? `${shown}, … (${hidden} more; --json lists them)` : shown
}

/** A key in a table cell: one line of printable UTF-8, otherwise marked base64. */
export function keyCellText(key: Uint8Array): string {
  const shown = displayValue(key)
  if (shown.kind === 'text' && !/[\t\n\r]/.test(shown.text)) return shown.text
  return `(base64) ${Buffer.from(key).toString('base64')}`
}

/** Nodes that sent the same dots for a key share one row. */
function rowsOf(entry: ConflictListingEntry): Array<{siblings: number; dots: string; nodes: string[]}> {
  const rows = new Map<string, {siblings: number; dots: string; nodes: string[]}>()
  for (const report of entry.reports) {
    const dots = dotsText(report)
    const id = `${report.siblings}|${report.dots.map(dotText).join(',')}`
    const row = rows.get(id) ?? {siblings: report.siblings, dots, nodes: []}
    row.nodes.push(report.node)
    rows.set(id, row)
  }
  return [...rows.values()]
}

export function conflictsText(listing: ConflictListing, hints: ConflictsTextHints, options: RenderOptions): string {
  const answered = listing.asked.filter((node) => !listing.unreachable.some((entry) => entry.node === node))
  const where = `on ${answered.join(', ')}`
  if (listing.keys.length === 0) return `no ${hints.continued === true ? 'more ' : ''}conflicted keys ${where}`
  const lines = [`${listing.keys.length} conflicted key(s) ${where}${listing.more ? ' (more follow)' : ''}`]
  const out = newTable({head: ['key', 'siblings', 'dots', 'nodes'], style: {head: options.color ? ['cyan'] : [], border: options.color ? ['grey'] : []}})
  for (const entry of listing.keys) {
    rowsOf(entry).forEach((row, index) => out.push([index === 0 ? keyCellText(entry.key) : '', String(row.siblings), row.dots, row.nodes.join(', ')]))
  }
  lines.push(out.toString())
  if (hints.nextCommand !== undefined) lines.push(`next page: ${hints.nextCommand}`)
  if (hints.resolveCommand !== undefined) lines.push(`resolve one: ${hints.resolveCommand}`)
  return lines.join('\n')
}

/** One line per node that gave no listing: its copies are missing from the page. */
export function conflictsWarnings(listing: ConflictListing): string[] {
  return listing.unreachable.map((entry) => `warning: ${entry.node} (${entry.address}) did not answer, so its copies are not listed: ${entry.message}`)
}

function keyJson(key: Uint8Array): {key: string} | {keyBase64: string} {
  const shown = displayValue(key)
  return shown.kind === 'text' ? {key: shown.text} : {keyBase64: shown.base64}
}

export function conflictsJson(listing: ConflictListing) {
  return {
    version: jsonShapeVersion,
    asked: [...listing.asked],
    unreachable: listing.unreachable.map((entry) => ({node: entry.node, address: entry.address, code: entry.code, message: entry.message})),
    keys: listing.keys.map((entry) => ({
      ...keyJson(entry.key),
      partition: entry.reports[0]?.partition ?? null,
      siblings: siblingsOf(entry),
      nodes: entry.reports.map((report) => ({
        node: report.node,
        siblings: report.siblings,
        dots: report.dots.map((dot) => ({node: dot.node, counter: dot.counter, kind: dot.kind})),
      })),
    })),
    limit: listing.limit,
    more: listing.more,
    next: listing.next ?? null,
  }
}
