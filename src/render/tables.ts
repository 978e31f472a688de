// What people see: tables (cli-table3) for siblings, quorum results, cluster status and
// the ring. Colour only on a terminal; the same text otherwise, so piping stays readable.
import type {Dot} from '../core/causality.js'
import type {SiblingView} from '../core/protocol.js'
import type {GetQuorumDetails, PutQuorumDetails} from '../core/quorum.js'
import {ownershipSummary, type Ring} from '../core/ring.js'
import {roundMs, type NodeStatusInput, type RingKeyJsonInput} from './shapes.js'
import {newTable, type Table} from './table.js'
import {valueText} from './value.js'

export interface RenderOptions {
  /** Colours in headers (a terminal). */
  readonly color: boolean
}

/** Longest value shown in a table cell before it is cut: a table is for looking, --json
 * for the whole value. */
export const cellCharsMax = 200

function table(head: string[], options: RenderOptions): Table {
  return newTable({head, style: {head: options.color ? ['cyan'] : [], border: options.color ? ['grey'] : []}})
}

function cut(text: string): string {
  return text.length > cellCharsMax ? `${text.slice(0, cellCharsMax)}… (${text.length} characters; --json shows all)` : text
}

function formatDot(dot: Dot): string {
  return `${dot.node}:${dot.counter}`
}

export function formatMs(ms: number): string {
  return `${roundMs(ms).toFixed(1)} ms`
}

export function siblingsTable(siblings: readonly SiblingView[], options: RenderOptions): string {
  const out = table(['#', 'value', 'dot'], options)
  siblings.forEach((sibling, index) => out.push([String(index + 1), cut(valueText(sibling.value)), formatDot(sibling.dot)]))
  return out.toString()
}

export function quorumTable(quorum: GetQuorumDetails | PutQuorumDetails, options: RenderOptions): string {
  const needed = quorum.op === 'get' ? `R=${quorum.r}` : `W=${quorum.w}`
  const verdict = quorum.ok ? 'met' : 'NOT met'
  const lines = [`quorum: ${verdict} (coordinator ${quorum.coordinator}, N=${quorum.n} ${needed})`]
  const out = table(['node', 'status', 'latency', 'fallback for'], options)
  for (const reply of quorum.replies) {
    const status = reply.error === undefined ? reply.status : `${reply.status}: ${reply.error}`
    out.push([reply.node, status, formatMs(reply.ms), reply.fallbackFor ?? ''])
  }
  for (const node of quorum.pending) out.push([node, 'no answer yet', '', ''])
  lines.push(out.toString())
  if (quorum.op === 'get') lines.push(`read repair: ${quorum.readRepair.length === 0 ? 'none needed' : `sent to ${quorum.readRepair.join(', ')}`}`)
  return lines.join('\n')
}

export interface GetTextInput {
  readonly key: string
  readonly found: boolean
  readonly siblings: readonly SiblingView[]
  readonly context: string
  readonly quorum: GetQuorumDetails
  readonly clock?: string
}

export function getText(input: GetTextInput, options: RenderOptions): string {
  const lines: string[] = []
  if (!input.found) lines.push(`key ${input.key}: not found`)
  else if (input.siblings.length === 1) lines.push(`key ${input.key}: 1 value`)
  else lines.push(`key ${input.key}: ${input.siblings.length} concurrent values (siblings); dyn resolve ${input.key} (or a put with this context) replaces them by one`)
  if (input.found) lines.push(siblingsTable(input.siblings, options))
  lines.push(...contextLines(input.context, input.clock))
  lines.push(quorumTable(input.quorum, options))
  return lines.join('\n')
}

export interface PutTextInput {
  readonly key: string
  readonly verb: 'stored' | 'deleted'
  readonly context: string
  readonly dot: Dot
  readonly siblings: number
  readonly quorum: PutQuorumDetails
  readonly warning?: {readonly message: string}
  readonly clock?: string
}

export function putText(input: PutTextInput, options: RenderOptions): string {
  const lines = [`key ${input.key}: ${input.verb} as ${formatDot(input.dot)}`]
  if (input.siblings > 1) {
    lines.push(`the key now has ${input.siblings} siblings: this write was concurrent with others, and the context below covers them too; get the key to see them before writing with it`)
  }
  if (input.warning !== undefined) lines.push(`warning: ${input.warning.message}`)
  lines.push(...contextLines(input.context, input.clock))
  lines.push(quorumTable(input.quorum, options))
  return lines.join('\n')
}

function contextLines(context: string, clock: string | undefined): string[] {
  return [`context: ${context}`, ...(clock === undefined ? [] : [`clock: ${clock}`])]
}

export function statusTable(input: {dir: string; cluster: string; nodes: readonly NodeStatusInput[]}, options: RenderOptions): string {
  const out = table(['node', 'state', 'address', 'http', 'pid'], options)
  for (const node of input.nodes) out.push([node.name, node.state, node.address, node.httpAddress, node.pid === null ? '' : String(node.pid)])
  return [`cluster ${input.cluster} in ${input.dir}`, out.toString()].join('\n')
}

export function ringTable(input: {ring: Ring; n: number; addresses: readonly {name: string; address: string}[]}, options: RenderOptions): string {
  const addresses = new Map(input.addresses.map((node) => [node.name, node.address]))
  const out = table(['node', 'address', 'weight', 'partitions', 'share', 'target'], options)
  for (const owner of ownershipSummary(input.ring)) {
    out.push([
      owner.node,
      addresses.get(owner.node) ?? '',
      String(owner.weight),
      String(owner.partitions),
      `${(owner.share * 100).toFixed(1)}%`,
      `${(owner.targetShare * 100).toFixed(1)}%`,
    ])
  }
  return [`ring version ${input.ring.version}: Q=${input.ring.partitionCount} partitions, N=${input.n}`, out.toString()].join('\n')
}

export function ringKeyTable(input: RingKeyJsonInput & {addresses: readonly {name: string; address: string}[]}, options: RenderOptions): string {
  const addresses = new Map(input.addresses.map((node) => [node.name, node.address]))
  const out = table(['#', 'node', 'address', 'role'], options)
  input.preferenceList.forEach((node, index) => out.push([String(index + 1), node, addresses.get(node) ?? '', index === 0 ? 'primary (coordinator)' : 'primary']))
  input.fallbacks.forEach((node, index) => out.push([String(input.preferenceList.length + index + 1), node, addresses.get(node) ?? '', 'fallback']))
  return [`key ${input.key}: hash ${input.hash}, partition ${input.partition}`, out.toString()].join('\n')
}
