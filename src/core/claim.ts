// Partition claim: which node owns each of the Q equal partitions. Dynamo §6.2, strategy 3
// ("Q/S tokens per node, equal-sized partitions"), with node weights for heterogeneous
// hardware, and the replica rule of Dynamo §4.3 that makes a partition's N replicas the N
// owners met walking clockwise from it. For those N to be N distinct nodes without skipping,
// every window of N consecutive partitions must have N distinct owners. docs/ring.md proves
// the facts used here:
//
//   counts   node i gets c_i in {floor(t_i), ceil(t_i)}, t_i = Q*w_i/sum(w), unless that
//            would put more than m = floor(Q/N) partitions on one node, which no layout
//            with distinct windows allows; then distinctness wins and c_i = m.
//   exists   a layout with distinct N-windows and counts c exists iff max(c) <= floor(Q/N);
//            counts with that property exist iff S * floor(Q/N) >= Q.
//   grid     `layoutGrid` builds such a layout whenever one exists (column-major fill of a
//            grid with max(c) rows, nodes sorted by count).
//   moves    `rebalance` changes a ring to new counts by augmenting paths: each path moves
//            one partition's worth of surplus to a deficit node in at most `pathMovesMax`
//            moves, keeping every window distinct.
//
//      window of N = 3:  ... | A  B  C | A  D  B  C  D ...   each 3 consecutive distinct
import {assert} from './errors.js'

export interface ClaimNode {
  readonly name: string
  /** Positive integer; a node owns about Q * weight / sum(weight) partitions. */
  readonly weight: number
}

/** Longest augmenting path `rebalance` follows. One move is the direct hand-over; longer
 * paths shift partitions along a chain of nodes to make room, each link one extra move. 3
 * allows two fix-up moves per unit of imbalance: in the property tests longer paths were
 * never needed while distinct windows were possible, and the bound stays small. */
export const pathMovesMax = 3

/** Largest number of partitions a node may own with every N-window distinct: floor(Q/N). */
export function distinctCountMax(q: number, n: number): number {
  return Math.floor(q / n)
}

/** Whether S nodes can own Q partitions with every N consecutive partitions on N distinct
 * nodes: each node may own at most floor(Q/N), and the S nodes must cover all Q. */
export function distinctPossible(options: {q: number; n: number; nodeCount: number}): boolean {
  return options.nodeCount * distinctCountMax(options.q, options.n) >= options.q
}

/** Partitions p whose window p, p+1, ..., p+n-1 (cyclic) does not have n distinct owners,
 * ascending. With fewer than n nodes every window is listed. */
export function windowViolations(owners: readonly string[], n: number): number[] {
  const q = owners.length
  const span = Math.min(n, q)
  const gapBefore = gapsToPreviousSame(owners)
  const violations: number[] = []
  for (let p = 0; p < q; p++) {
    for (let offset = 1; offset < span; offset++) {
      if (gapBefore[(p + offset) % q]! <= offset) {
        violations.push(p)
        break
      }
    }
  }
  return violations
}

/** For each position, the cyclic distance back to the previous position with the same owner
 * (q when the owner holds only that position). */
function gapsToPreviousSame(owners: readonly string[]): number[] {
  const q = owners.length
  const last = new Map<string, number>()
  for (let p = 0; p < q; p++) last.set(owners[p]!, p)
  const gaps = new Array<number>(q)
  for (let p = 0; p < q; p++) {
    const owner = owners[p]!
    const previous = last.get(owner)!
    gaps[p] = previous === p ? q : (p - previous + q) % q
    last.set(owner, p)
  }
  return gaps
}

/** Partition counts for `nodes` (see the header): weighted shares rounded to floor or ceil,
 * capped at floor(Q/N) when distinct windows are possible. Among the roundings, nodes that
 * already own at least the rounded-up count are rounded up first (`current`), so a change
 * of membership moves as few partitions as counts allow; then larger remainders, then names. */
export function targetCounts(options: {
  q: number
  n: number
  nodes: readonly ClaimNode[]
  current?: ReadonlyMap<string, number>
}): Map<string, number> {
  const {q, n, nodes} = options
  assert(nodes.length > 0, 'a claim needs at least one node')
  const current = options.current ?? new Map<string, number>()
  const weightSum = nodes.reduce((sum, node) => sum + node.weight, 0)
  const cap = distinctPossible({q, n, nodeCount: nodes.length}) ? distinctCountMax(q, n) : q
  const rows = nodes.map((node) => {
    const scaled = q * node.weight
    const floor = Math.floor(scaled / weightSum)
    return {name: node.name, scaled, floor, remainder: scaled - floor * weightSum, current: current.get(node.name) ?? 0}
  })
  const counts = new Map(rows.map((row) => [row.name, Math.min(row.floor, cap)]))
  let extra = q - sum(counts.values())
  const roundUps = rows
    .filter((row) => row.remainder > 0 && row.floor + 1 <= cap)
    .sort((a, b) => rank(b) - rank(a) || b.remainder - a.remainder || compareNames(a.name, b.name))
  function rank(row: {floor: number; current: number}): number {
    return row.current >= row.floor + 1 ? 1 : 0
  }
  for (const row of roundUps) {
    if (extra === 0) break
    counts.set(row.name, row.floor + 1)
    extra--
  }
  // Only when caps bind: spread what the capped nodes could not take, one partition at a
  // time, to the node whose count overshoots its share least.
  while (extra > 0) {
    const open = rows.filter((row) => counts.get(row.name)! < cap)
    assert(open.length > 0, 'distinct windows possible implies room below the cap')
    const overshoot = (row: {name: string; scaled: number}): number => (counts.get(row.name)! + 1) * weightSum - row.scaled
    open.sort((a, b) => overshoot(a) - overshoot(b) || compareNames(a.name, b.name))
    const chosen = open[0]!
    counts.set(chosen.name, counts.get(chosen.name)! + 1)
    extra--
  }
  // A node that owns no partition is met by no clockwise walk, so it holds no replica: with
  // fewer than N owners a key has fewer than N distinct replicas (Q=8, N=5, weights
  // 3,4,3,1,1: one light node rounds to 0). Then nodes without a partition get one each,
  // the largest share first, until N nodes own one, each taken from the node whose count
  // overshoots its share most.
  const owning = (): number => [...counts.values()].filter((count) => count > 0).length
  if (q >= Math.min(n, rows.length)) {
    const idle = rows.filter((row) => counts.get(row.name) === 0).sort((a, b) => b.scaled - a.scaled || compareNames(a.name, b.name))
    for (const row of idle) {
      if (owning() >= Math.min(n, rows.length)) break
      const donors = rows.filter((other) => counts.get(other.name)! > 1)
      const overshoot = (other: {name: string; scaled: number}): number => counts.get(other.name)! * weightSum - other.scaled
      donors.sort((a, b) => overshoot(b) - overshoot(a) || compareNames(a.name, b.name))
      const donor = donors[0]
      assert(donor !== undefined, 'Q >= S leaves a node with two partitions to give one')
      counts.set(donor.name, counts.get(donor.name)! - 1)
      counts.set(row.name, 1)
    }
  }
  return counts
}

/** A fresh layout with the given counts (sum = q). Grid of R = max(count) rows; row sizes
 * floor(q/R) or one more; filled column by column with nodes sorted by count, largest first.
 * When R <= floor(q/N) every N-window is distinct (docs/ring.md, "the grid"). */
export function layoutGrid(q: number, counts: ReadonlyMap<string, number>): string[] {
  const order = [...counts.entries()]
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1] || compareNames(a[0], b[0]))
  assert(sum(counts.values()) === q, 'counts cover every partition')
  const rowCount = order[0]![1]
  const fullColumns = Math.floor(q / rowCount)
  const longRows = q % rowCount
  const rowStart = (row: number): number => row * fullColumns + Math.min(row, longRows)
  const owners = new Array<string>(q)
  let cell = 0
  for (const [name, count] of order) {
    for (let k = 0; k < count; k++, cell++) {
      const column = Math.floor(cell / rowCount)
      const row = cell % rowCount
      assert(column < fullColumns || row < longRows, 'the grid has room for every partition')
      owners[rowStart(row) + column] = name
    }
  }
  return owners
}

export interface RebalanceResult {
  readonly owners: string[]
  /** True when the incremental repair could not keep windows distinct although a distinct
   * layout exists, and the owners were laid out afresh (moves are then not bounded). */
  readonly relaidOut: boolean
}

/** Moves `owners` to `counts` (a name absent from counts owns nothing afterwards) with few
 * moves. Partitions of removed nodes, and, when distinct windows are possible, one partition
 * of every too-close pair, are freed; then each unit of imbalance is fixed by the shortest
 * augmenting path (at most `pathMovesMax` moves) that keeps windows distinct. */
export function rebalance(options: {
  owners: readonly string[]
  counts: ReadonlyMap<string, number>
  n: number
}): RebalanceResult {
  const {counts, n} = options
  const q = options.owners.length
  const distinct = distinctPossible({q, n, nodeCount: [...counts.values()].filter((c) => c > 0).length})
  const state = new ClaimState(options.owners, counts, n)
  if (distinct) state.freeTooClose()
  for (;;) {
    const free = state.firstFree()
    if (free !== undefined) {
      if (!state.augment({free})) state.placeFreeLeastConflict(free)
      continue
    }
    if (!state.hasSurplus()) break
    if (!state.augment({})) state.moveSurplusLeastConflict()
  }
  const owners = state.ownersArray()
  if (distinct && windowViolations(owners, n).length > 0) {
    return {owners: layoutGridNear(options.owners, counts), relaidOut: true}
  }
  return {owners, relaidOut: false}
}

/** A fresh grid layout, with its node labels and rotation chosen to keep as many partitions
 * with their old owners as a greedy matching finds. Used only when `rebalance` fails. */
function layoutGridNear(oldOwners: readonly string[], counts: ReadonlyMap<string, number>): string[] {
  const q = oldOwners.length
  const grid = layoutGrid(q, counts)
  let best = grid
  let bestKept = -1
  const rotationStep = Math.max(1, Math.floor(q / rotationsTried))
  for (let rotation = 0; rotation < q; rotation += rotationStep) {
    const candidate = relabelForOverlap(grid, oldOwners, counts, rotation)
    const kept = candidate.reduce((k, owner, p) => k + (owner === oldOwners[p] ? 1 : 0), 0)
    if (kept > bestKept) {
      best = candidate
      bestKept = kept
    }
  }
  return best
}

/** Rotations of the fresh grid compared when laying out afresh: enough to find a good
 * alignment, few enough that a re-layout of Q = 4096 stays within milliseconds. */
const rotationsTried = 64

/** Renames the grid's nodes among nodes of equal count, greedily by overlap with the old owners. */
function relabelForOverlap(
  grid: readonly string[],
  oldOwners: readonly string[],
  counts: ReadonlyMap<string, number>,
  rotation: number,
): string[] {
  const q = grid.length
  const overlap = new Map<string, Map<string, number>>()
  for (let p = 0; p < q; p++) {
    const label = grid[(p + rotation) % q]!
    const old = oldOwners[p]!
    const row = overlap.get(label) ?? new Map<string, number>()
    row.set(old, (row.get(old) ?? 0) + 1)
    overlap.set(label, row)
  }
  const pairs: {label: string; node: string; kept: number}[] = []
  for (const [label, row] of overlap) {
    for (const [node, kept] of row) {
      if (counts.get(node) === counts.get(label)) pairs.push({label, node, kept})
    }
  }
  pairs.sort((a, b) => b.kept - a.kept || compareNames(a.label, b.label) || compareNames(a.node, b.node))
  const rename = new Map<string, string>()
  const taken = new Set<string>()
  for (const pair of pairs) {
    if (rename.has(pair.label) || taken.has(pair.node)) continue
    rename.set(pair.label, pair.node)
    taken.add(pair.node)
  }
  const unmatchedNodes = [...counts.keys()].filter((node) => !taken.has(node) && counts.get(node)! > 0).sort(compareNames)
  for (const label of [...counts.keys()].sort(compareNames)) {
    if (rename.has(label) || counts.get(label) === 0) continue
    const node = unmatchedNodes.find((candidate) => counts.get(candidate) === counts.get(label))!
    unmatchedNodes.splice(unmatchedNodes.indexOf(node), 1)
    rename.set(label, node)
  }
  return Array.from({length: q}, (_, p) => rename.get(grid[(p + rotation) % q]!)!)
}

interface Step {
  readonly partition: number
  readonly from: string | undefined
  readonly to: string
}

/** Mutable working state of one `rebalance`: owners (undefined = free), counts, targets and
 * each node's positions, kept in step. Local to `rebalance`; never escapes it. */
class ClaimState {
  private readonly owners: (string | undefined)[]
  private readonly q: number
  private readonly positions = new Map<string, number[]>()
  private readonly names: string[]

  constructor(
    owners: readonly string[],
    private readonly targets: ReadonlyMap<string, number>,
    private readonly n: number,
  ) {
    this.q = owners.length
    this.names = [...targets.keys()].sort(compareNames)
    for (const name of this.names) this.positions.set(name, [])
    this.owners = owners.map((owner, p) => {
      const list = this.positions.get(owner)
      if (list === undefined) return undefined
      list.push(p)
      return owner
    })
  }

  ownersArray(): string[] {
    return this.owners.map((owner) => {
      assert(owner !== undefined, 'every partition has an owner after rebalancing')
      return owner
    })
  }

  firstFree(): number | undefined {
    const p = this.owners.indexOf(undefined)
    return p === -1 ? undefined : p
  }

  hasSurplus(): boolean {
    return this.names.some((name) => this.balance(name) > 0)
  }

  /** Owned minus target: > 0 surplus, < 0 deficit. */
  private balance(name: string): number {
    return this.positions.get(name)!.length - this.targets.get(name)!
  }

  /** Frees the later partition of every pair of same-owner partitions closer than N. */
  freeTooClose(): void {
    for (const name of this.names) {
      const kept: number[] = []
      for (const p of [...this.positions.get(name)!]) {
        const previous = kept[kept.length - 1]
        if (previous !== undefined && p - previous < this.n) this.setOwner(p, undefined)
        else kept.push(p)
      }
      const first = kept[0]
      const last = kept[kept.length - 1]
      if (first !== undefined && last !== undefined && first !== last && first + this.q - last < this.n) {
        this.setOwner(last, undefined)
      }
    }
  }

  /** Number of partitions within distance N-1 of p (p excluded) owned by `name`. */
  private conflicts(name: string, p: number): number {
    let found = 0
    for (let d = 1; d < this.n && d < this.q; d++) {
      if (this.owners[(p + d) % this.q] === name) found++
      if (this.owners[(p - d + this.q) % this.q] === name) found++
    }
    return found
  }

  /** Distance from p to the nearest partition `name` owns (q if none): larger spreads more. */
  private spread(name: string, p: number): number {
    const list = this.positions.get(name)!
    if (list.length === 0) return this.q
    const i = lowerBound(list, p)
    const after = list[i % list.length]!
    const before = list[(i - 1 + list.length) % list.length]!
    return Math.min((after - p + this.q) % this.q || this.q, (p - before + this.q) % this.q || this.q)
  }

  /** Shortest augmenting path, breadth first over nodes, from the free partition (or from
   * every surplus node) to a deficit node, each hop to a node that fits without conflict.
   * Applies it and returns true, or returns false when none of at most `pathMovesMax` exists. */
  augment(source: {free?: number}): boolean {
    const parent = new Map<string, Step>()
    let frontier: {name: string | undefined; partitions: number[]}[] =
      source.free === undefined
        ? this.names.filter((name) => this.balance(name) > 0).map((name) => ({name, partitions: this.positions.get(name)!}))
        : [{name: undefined, partitions: [source.free]}]
    for (const entry of frontier) if (entry.name !== undefined) parent.set(entry.name, {partition: -1, from: undefined, to: entry.name})
    for (let depth = 1; depth <= pathMovesMax && frontier.length > 0; depth++) {
      const reached = new Map<string, Step>()
      let best: {step: Step; spread: number} | undefined
      for (const entry of frontier) {
        for (const p of entry.partitions) {
          for (const name of this.names) {
            if (parent.has(name) || this.conflicts(name, p) > 0) continue
            const step = {partition: p, from: entry.name, to: name}
            if (this.balance(name) < 0) {
              const spread = this.spread(name, p)
              if (best === undefined || spread > best.spread) best = {step, spread}
            } else if (depth < pathMovesMax && !reached.has(name)) {
              reached.set(name, step)
            }
          }
        }
      }
      if (best !== undefined) {
        this.applyPath(best.step, parent)
        return true
      }
      for (const step of reached.values()) parent.set(step.to, step)
      frontier = [...reached.values()].map((step) => ({name: step.to, partitions: this.positions.get(step.to)!}))
    }
    return false
  }

  private applyPath(last: Step, parent: ReadonlyMap<string, Step>): void {
    const steps: Step[] = [last]
    let from = last.from
    while (from !== undefined) {
      const step = parent.get(from)!
      if (step.partition === -1) break
      steps.push(step)
      from = step.from
    }
    for (const step of steps) this.setOwner(step.partition, step.to)
  }

  /** Fallback when no path exists (distinct windows impossible, or none found): give the
   * free partition to the deficit node it conflicts with least. */
  placeFreeLeastConflict(p: number): void {
    const deficit = this.names.filter((name) => this.balance(name) < 0)
    assert(deficit.length > 0, 'a free partition implies a node below its target')
    deficit.sort((a, b) => this.conflicts(a, p) - this.conflicts(b, p) || compareNames(a, b))
    this.setOwner(p, deficit[0]!)
  }

  /** Fallback: move the surplus partition whose move to a deficit node adds fewest conflicts. */
  moveSurplusLeastConflict(): void {
    let best: {p: number; to: string; cost: number} | undefined
    for (const from of this.names.filter((name) => this.balance(name) > 0)) {
      for (const p of this.positions.get(from)!) {
        for (const to of this.names.filter((name) => this.balance(name) < 0)) {
          const cost = this.conflicts(to, p) - this.conflicts(from, p)
          if (best === undefined || cost < best.cost) best = {p, to, cost}
        }
      }
    }
    assert(best !== undefined, 'a surplus implies a deficit')
    this.setOwner(best.p, best.to)
  }

  private setOwner(p: number, to: string | undefined): void {
    const from = this.owners[p]
    if (from !== undefined) {
      const list = this.positions.get(from)!
      list.splice(lowerBound(list, p), 1)
    }
    if (to !== undefined) {
      const list = this.positions.get(to)!
      list.splice(lowerBound(list, p), 0, p)
    }
    this.owners[p] = to
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (sorted[mid]! < value) low = mid + 1
    else high = mid
  }
  return low
}

function sum(values: Iterable<number>): number {
  let total = 0
  for (const value of values) total += value
  return total
}

/** Node names order by code unit, the same everywhere (no locale). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
