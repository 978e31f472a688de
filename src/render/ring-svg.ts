// `dyn ring --svg FILE`: the ring as a picture. The hash space runs clockwise from the top,
// cut into Q equal partitions (DESIGN §4), each drawn as an arc in its owner's colour, with a
// legend of the nodes and their shares. With a key, the key's hash is marked on the ring and
// the partitions its preference list walks are outlined and numbered: walking clockwise
// from the key's partition, the first partition of each distinct node is where that node
// joins the list (Dynamo §4.3), primaries solid, fallbacks dashed.
//
// A pure string builder: the same input gives the same bytes, and the output is a
// standalone SVG document (no script, no external reference) that browsers and image tools
// open as it is.
import {assert} from '../core/errors.js'
import {ownershipSummary, type Ring} from '../core/ring.js'
import {escapeXml, fixed} from './svg.js'

export interface RingSvgKey {
  readonly key: string
  /** The key's position, hex (positionHex): where its marker stands. */
  readonly hash: string
  readonly partition: number
  /** Primaries in order, the coordinator first. */
  readonly preferenceList: readonly string[]
  readonly fallbacks: readonly string[]
}

export interface RingSvgInput {
  readonly ring: Ring
  readonly n: number
  readonly key?: RingSvgKey
}

/** Colours of the first owners, in name order (Tableau 10: distinct, readable on white
 * and for most colour-blind readers); later ones are spread around the hue circle. */
export const ownerPalette: readonly string[] = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']

/** The colour of the owner at `index` among the ring's nodes sorted by name. */
export function ownerColor(index: number): string {
  const listed = ownerPalette[index]
  if (listed !== undefined) return listed
  // The golden angle keeps consecutive hues far apart however many there are.
  const hue = Math.round(((index - ownerPalette.length) * 137.508 + 17) % 360)
  return `hsl(${hue}, 55%, 50%)`
}

/** Longest key shown in the picture; the JSON and the table show it whole. */
const keyCharsShown = 28

const layout = {
  width: 820,
  height: 600,
  centerX: 290,
  centerY: 320,
  outerRadius: 220,
  innerRadius: 145,
  /** Radius of the numbered badges of the preference list, outside the ring. */
  badgeRadius: 246,
  legendX: 560,
  legendY: 96,
  legendRowHeight: 22,
  /** Legend rows drawn at most; the rest are summed up in one line. */
  legendRowsMax: 20,
} as const

const font = 'font-family="DejaVu Sans, Verdana, Arial, sans-serif"'

/** The point at `fraction` of a turn clockwise from the top, at `radius`. */
function xy(fraction: number, radius: number): {x: string; y: string} {
  const angle = fraction * 2 * Math.PI - Math.PI / 2
  return {x: fixed(layout.centerX + radius * Math.cos(angle)), y: fixed(layout.centerY + radius * Math.sin(angle))}
}

/** The same point as path data: `x y`. */
function point(fraction: number, radius: number): string {
  const {x, y} = xy(fraction, radius)
  return `${x} ${y}`
}

/** The annulus sector of partition `p` of `q`. Q is at least 8, so an arc never spans half a turn. */
function arcPath(p: number, q: number, radii: {outer: number; inner: number}): string {
  const start = p / q
  const end = (p + 1) / q
  return `M ${point(start, radii.outer)} A ${radii.outer} ${radii.outer} 0 0 1 ${point(end, radii.outer)} L ${point(end, radii.inner)} A ${radii.inner} ${radii.inner} 0 0 0 ${point(start, radii.inner)} Z`
}

export interface PreferenceStop {
  readonly node: string
  /** The first partition, walking clockwise from the key's, that this node owns. */
  readonly partition: number
  readonly role: 'primary' | 'fallback'
  /** 1-based place in the list (primaries, then fallbacks). */
  readonly rank: number
}

/** Where each node of a key's preference list joins it on the ring. A node the walk does
 * not meet (not an owner: it cannot happen for a list the ring computed) is left out. */
export function preferenceStops(ring: Ring, key: Pick<RingSvgKey, 'partition' | 'preferenceList' | 'fallbacks'>): PreferenceStop[] {
  const firstPartition = new Map<string, number>()
  for (let step = 0; step < ring.partitionCount; step++) {
    const partition = (key.partition + step) % ring.partitionCount
    const owner = ring.owners[partition]
    if (owner !== undefined && !firstPartition.has(owner)) firstPartition.set(owner, partition)
  }
  const listed = [...key.preferenceList.map((node) => ({node, role: 'primary' as const})), ...key.fallbacks.map((node) => ({node, role: 'fallback' as const}))]
  return listed.flatMap((entry, index) => {
    const partition = firstPartition.get(entry.node)
    return partition === undefined ? [] : [{...entry, partition, rank: index + 1}]
  })
}

/** The key's position as a fraction of the ring, from the leading hex digits of its hash. */
function hashFraction(hash: string): number {
  const leading = hash.replace(/^0x/, '').slice(0, 12).padEnd(12, '0')
  const value = Number.parseInt(leading, 16)
  return Number.isFinite(value) ? value / 16 ** 12 : 0
}

function ordinal(rank: number): string {
  const suffix = rank % 100 >= 11 && rank % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][rank % 10] ?? 'th')
  return `${rank}${suffix}`
}

function shorten(text: string): string {
  return text.length > keyCharsShown ? `${text.slice(0, keyCharsShown - 1)}…` : text
}

/** The ring as a standalone SVG document. */
export function ringSvg(input: RingSvgInput): string {
  const {ring} = input
  assert(ring.owners.length === ring.partitionCount, 'a ring has one owner per partition')
  const names = ring.nodes.map((node) => node.name)
  const colors = new Map(names.map((name, index) => [name, ownerColor(index)]))
  const stops = input.key === undefined ? [] : preferenceStops(ring, input.key)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" ${font}>`,
    `<title>${escapeXml(`dyn ring version ${ring.version}: Q=${ring.partitionCount}, N=${input.n}${input.key === undefined ? '' : `, key ${input.key.key}`}`)}</title>`,
    `<rect width="${layout.width}" height="${layout.height}" fill="#ffffff"/>`,
    `<text x="24" y="40" font-size="20" font-weight="bold" fill="#222222">${escapeXml(`ring version ${ring.version}: Q=${ring.partitionCount} partitions, N=${input.n}`)}</text>`,
    `<text x="24" y="62" font-size="13" fill="#666666">hash space clockwise from the top; one arc per partition, coloured by its owner</text>`,
    arcs(ring, colors),
    ...(input.key === undefined ? [] : [keyMarks(input.key, stops, ring.partitionCount)]),
    legend(input, colors, stops),
    '</svg>',
  ]
  return `${parts.join('\n')}\n`
}

function arcs(ring: Ring, colors: ReadonlyMap<string, string>): string {
  // Separating lines help up to a few hundred partitions; past that they would be all one sees.
  const stroke = ring.partitionCount <= 256 ? ' stroke="#ffffff" stroke-width="1"' : ''
  const radii = {outer: layout.outerRadius, inner: layout.innerRadius}
  const paths = ring.owners.map((owner, partition) => {
    const label = escapeXml(`partition ${partition}: ${owner}`)
    return `<path class="partition" data-partition="${partition}" data-owner="${escapeXml(owner)}" fill="${colors.get(owner) ?? '#cccccc'}"${stroke} d="${arcPath(partition, ring.partitionCount, radii)}"><title>${label}</title></path>`
  })
  return `<g class="partitions">\n${paths.join('\n')}\n</g>`
}

function keyMarks(key: RingSvgKey, stops: readonly PreferenceStop[], q: number): string {
  const radii = {outer: layout.outerRadius + 4, inner: layout.innerRadius - 4}
  const marks = stops.map((stop) => {
    const dash = stop.role === 'fallback' ? ' stroke-dasharray="5 4"' : ''
    const middle = (stop.partition + 0.5) / q
    const {x, y} = xy(middle, layout.badgeRadius)
    const title = escapeXml(`${ordinal(stop.rank)} in the preference list: ${stop.node} (${stop.role}), from partition ${stop.partition}`)
    return [
      `<g class="replica ${stop.role}" data-node="${escapeXml(stop.node)}" data-rank="${stop.rank}" data-partition="${stop.partition}"><title>${title}</title>`,
      `<path fill="none" stroke="#111111" stroke-width="3"${dash} d="${arcPath(stop.partition, q, radii)}"/>`,
      `<circle cx="${x}" cy="${y}" r="9.5" fill="${stop.role === 'primary' ? '#111111' : '#ffffff'}" stroke="#111111" stroke-width="1.5"/>`,
      `<text x="${x}" y="${fixed(Number(y) + 4)}" font-size="11" font-weight="bold" text-anchor="middle" fill="${stop.role === 'primary' ? '#ffffff' : '#111111'}">${stop.rank}</text>`,
      '</g>',
    ].join('')
  })
  const at = hashFraction(key.hash)
  const from = xy(at, layout.innerRadius - 18)
  const to = xy(at, layout.outerRadius + 8)
  const marker = [
    `<g class="key-marker"><title>${escapeXml(`key ${key.key}: hash ${key.hash}, partition ${key.partition}`)}</title>`,
    `<line x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}" stroke="#d62728" stroke-width="2.5"/>`,
    `<circle cx="${from.x}" cy="${from.y}" r="4" fill="#d62728"/>`,
    '</g>',
  ].join('')
  const center = [
    `<text x="${layout.centerX}" y="${layout.centerY - 14}" font-size="13" text-anchor="middle" fill="#666666">key</text>`,
    `<text x="${layout.centerX}" y="${layout.centerY + 6}" font-size="16" font-weight="bold" text-anchor="middle" fill="#d62728">${escapeXml(shorten(key.key))}</text>`,
    `<text x="${layout.centerX}" y="${layout.centerY + 26}" font-size="13" text-anchor="middle" fill="#444444">partition ${key.partition}</text>`,
  ].join('\n')
  return `<g class="key">\n${marks.join('\n')}\n${marker}\n${center}\n</g>`
}

function legend(input: RingSvgInput, colors: ReadonlyMap<string, string>, stops: readonly PreferenceStop[]): string {
  const {legendX: x, legendRowHeight: rowHeight} = layout
  let y = layout.legendY
  const rows: string[] = [`<text x="${x}" y="${y}" font-size="14" font-weight="bold" fill="#222222">node: partitions (share)</text>`]
  const owners = ownershipSummary(input.ring)
  const rankOf = new Map(stops.map((stop) => [stop.node, stop]))
  const shown = owners.length > layout.legendRowsMax ? owners.slice(0, layout.legendRowsMax - 1) : owners
  for (const owner of shown) {
    y += rowHeight
    const stop = rankOf.get(owner.node)
    const mark = stop === undefined ? '' : ` · ${ordinal(stop.rank)}${stop.role === 'fallback' ? ' (fallback)' : ''}`
    rows.push(
      `<g class="legend" data-node="${escapeXml(owner.node)}">` +
        `<rect x="${x}" y="${y - 12}" width="14" height="14" fill="${colors.get(owner.node) ?? '#cccccc'}"/>` +
        `<text x="${x + 22}" y="${y}" font-size="13" fill="#222222">${escapeXml(`${shorten(owner.node)}: ${owner.partitions} (${(owner.share * 100).toFixed(1)}%)${mark}`)}</text></g>`,
    )
  }
  if (shown.length < owners.length) {
    y += rowHeight
    rows.push(`<text x="${x}" y="${y}" font-size="13" fill="#666666">${owners.length - shown.length} more nodes (dyn ring lists them)</text>`)
  }
  if (input.key !== undefined) {
    y += rowHeight * 1.6
    rows.push(`<text x="${x}" y="${y}" font-size="14" font-weight="bold" fill="#222222">preference list of ${escapeXml(shorten(input.key.key))}</text>`)
    const lines = [
      `primaries: ${input.key.preferenceList.join(', ') || 'none'}`,
      `fallbacks: ${input.key.fallbacks.join(', ') || 'none'}`,
      `coordinator: ${input.key.preferenceList[0] ?? 'none'}`,
    ]
    for (const line of lines) {
      y += rowHeight
      rows.push(`<text x="${x}" y="${y}" font-size="13" fill="#222222">${escapeXml(line)}</text>`)
    }
  }
  return `<g class="legends">\n${rows.join('\n')}\n</g>`
}
