// The ring: Q equal partitions and their owners (Dynamo §6.2, strategy 3), the preference
// list of a key (Dynamo §4.3) with sloppy-quorum fallbacks (Dynamo §4.6), and the changes
// of membership that move as few partitions as possible. A ring is a plain, JSON-serialisable
// value with a version bumped on every change, so membership can gossip and merge it.
// The claim itself (counts, layout, moves) is in claim.ts; docs/ring.md states and proves
// its bounds.
import {DynError, assert, exitCodes} from './errors.js'
import {partitionOfKey} from './hash.js'
import {compareNames, layoutGrid, rebalance, targetCounts, windowViolations} from './claim.js'

/** Fewest partitions: below 8 a 3-replica ring of a few nodes cannot spread load at all. */
export const partitionCountMin = 8

/** Most partitions: each is one log directory and one Merkle tree per replica (DESIGN §5, §6);
 * 4096 already gives a 100-node cluster 40 partitions per node, and the partition of a key
 * stays within the top 12 bits of the hash (hash.ts). */
export const partitionCountMax = 4096

/** Default Q (DESIGN §4). */
export const partitionCountDefault = 64

/** Heaviest node weight. Weights are integers so shares are exact (Q * w < 2^53); a spread
 * of 1000x between the smallest and largest machine covers any real cluster. */
export const nodeWeightMax = 1000

/** Longest node name, in characters: names appear in every ring, plan and table. */
export const nodeNameLengthMax = 64

export interface RingNode {
  readonly name: string
  /** Integer 1..nodeWeightMax. */
  readonly weight: number
}

export interface Ring {
  /** Bumped on every change; the highest version wins a merge (membership.ts). */
  readonly version: number
  /** Q: a power of two, partitionCountMin..partitionCountMax, fixed at creation. */
  readonly partitionCount: number
  /** N the claim keeps distinct: every N consecutive partitions on N distinct nodes when possible. */
  readonly replicas: number
  /** Sorted by name, names unique. */
  readonly nodes: readonly RingNode[]
  /** owners[p] = the node owning partition p; every owner is in `nodes`. */
  readonly owners: readonly string[]
}

export interface Transfer {
  readonly partition: number
  readonly from: string
  readonly to: string
}

export interface RingChange {
  readonly ring: Ring
  /** Exactly the partitions whose owner differs between the old and the new ring. */
  readonly transfers: readonly Transfer[]
  /** True when the claim had to lay the ring out afresh to keep windows distinct; the move
   * bound of docs/ring.md then does not hold. */
  readonly relaidOut: boolean
}

export class PartitionCountError extends DynError {
  constructor(value: unknown) {
    super(`partition count ${String(value)} is not allowed`, {
      code: 'PARTITION_COUNT_INVALID',
      exitCode: exitCodes.usage,
      suggestion: `use a power of two from ${partitionCountMin} to ${partitionCountMax}: ${allowedPartitionCounts().join(', ')}`,
    })
  }
}

export class RingConfigError extends DynError {
  constructor(message: string, suggestion: string) {
    super(message, {code: 'RING_CONFIG_INVALID', exitCode: exitCodes.usage, suggestion})
  }
}

export class UnknownNodeError extends DynError {
  constructor(name: string) {
    super(`node ${name} is not in the ring`, {
      code: 'NODE_UNKNOWN',
      exitCode: exitCodes.usage,
      suggestion: 'check the name with `dyn ring`',
    })
  }
}

export class RingFormatError extends DynError {
  constructor(detail: string) {
    super(`not a valid ring: ${detail}`, {
      code: 'RING_FORMAT_INVALID',
      suggestion: 'the ring file or message is damaged or from another program; restore it from another node',
    })
  }
}

export function allowedPartitionCounts(): number[] {
  const counts: number[] = []
  for (let q = partitionCountMin; q <= partitionCountMax; q *= 2) counts.push(q)
  return counts
}

export function checkPartitionCount(q: unknown): asserts q is number {
  if (typeof q !== 'number' || !allowedPartitionCounts().includes(q)) throw new PartitionCountError(q)
}

function checkReplicas(n: unknown, q: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > q) {
    throw new RingConfigError(`replicas (N) ${String(n)} is not allowed`, `use an integer from 1 to the partition count (${q})`)
  }
}

function checkNodes(nodes: readonly RingNode[]): void {
  if (nodes.length === 0) throw new RingConfigError('a ring needs at least one node', 'give at least one node')
  const seen = new Set<string>()
  for (const node of nodes) {
    if (typeof node.name !== 'string' || node.name.length === 0 || node.name.length > nodeNameLengthMax) {
      throw new RingConfigError(`node name ${JSON.stringify(node.name)} is not allowed`, `use 1 to ${nodeNameLengthMax} characters`)
    }
    if (seen.has(node.name)) throw new RingConfigError(`node ${node.name} is listed twice`, 'give each node once')
    seen.add(node.name)
    if (!Number.isInteger(node.weight) || node.weight < 1 || node.weight > nodeWeightMax) {
      throw new RingConfigError(`weight ${String(node.weight)} of node ${node.name} is not allowed`, `use an integer from 1 to ${nodeWeightMax}`)
    }
  }
}

/** A new ring (version 1) over `nodes` (weight 1 when not given), laid out afresh. */
export function createRing(options: {
  partitionCount: number
  replicas: number
  nodes: readonly {name: string; weight?: number}[]
}): Ring {
  checkPartitionCount(options.partitionCount)
  checkReplicas(options.replicas, options.partitionCount)
  const nodes = sortNodes(options.nodes.map((node) => ({name: node.name, weight: node.weight ?? 1})))
  checkNodes(nodes)
  const counts = targetCounts({q: options.partitionCount, n: options.replicas, nodes})
  const owners = layoutGrid(options.partitionCount, counts)
  return {version: 1, partitionCount: options.partitionCount, replicas: options.replicas, nodes, owners}
}

/** A new ring with nodes added and removed in one step (the membership plan stages several
 * changes at once), version + 1, and the transfers that turn the old ring into the new one. */
export function changeNodes(ring: Ring, change: {add?: readonly RingNode[]; remove?: readonly string[]}): RingChange {
  const remove = new Set(change.remove ?? [])
  for (const name of remove) if (!ring.nodes.some((node) => node.name === name)) throw new UnknownNodeError(name)
  const kept = ring.nodes.filter((node) => !remove.has(node.name))
  const nodes = sortNodes([...kept, ...(change.add ?? [])])
  checkNodes(nodes)
  const counts = targetCounts({q: ring.partitionCount, n: ring.replicas, nodes, current: ownedCounts(ring)})
  const result = rebalance({owners: ring.owners, counts, n: ring.replicas})
  const next: Ring = {...ring, version: ring.version + 1, nodes, owners: result.owners}
  return {ring: next, transfers: transfersBetween(ring, next), relaidOut: result.relaidOut}
}

export function joinNode(ring: Ring, node: {name: string; weight?: number}): RingChange {
  return changeNodes(ring, {add: [{name: node.name, weight: node.weight ?? 1}]})
}

export function leaveNode(ring: Ring, name: string): RingChange {
  return changeNodes(ring, {remove: [name]})
}

/** The partitions whose owner differs, ascending. */
export function transfersBetween(before: Ring, after: Ring): Transfer[] {
  assert(before.partitionCount === after.partitionCount, 'rings of one cluster have one partition count')
  const transfers: Transfer[] = []
  before.owners.forEach((from, partition) => {
    const to = after.owners[partition]!
    if (from !== to) transfers.push({partition, from, to})
  })
  return transfers
}

/** Windows (their first partition) whose `replicas` consecutive owners are not distinct. */
export function ringViolations(ring: Ring): number[] {
  return windowViolations(ring.owners, ring.replicas)
}

export function ownedCounts(ring: Ring): Map<string, number> {
  const counts = new Map(ring.nodes.map((node) => [node.name, 0]))
  for (const owner of ring.owners) counts.set(owner, (counts.get(owner) ?? 0) + 1)
  return counts
}

export interface Ownership {
  readonly node: string
  readonly weight: number
  readonly partitions: number
  /** Q * weight / sum(weight): the exact weighted share in partitions. */
  readonly target: number
  /** partitions / Q and target / Q, for display as percentages. */
  readonly share: number
  readonly targetShare: number
}

/** Partitions per node against the weighted share, sorted by name (for `dyn ring`). */
export function ownershipSummary(ring: Ring): Ownership[] {
  const counts = ownedCounts(ring)
  const weightSum = ring.nodes.reduce((total, node) => total + node.weight, 0)
  const q = ring.partitionCount
  return ring.nodes.map((node) => {
    const partitions = counts.get(node.name) ?? 0
    const target = (q * node.weight) / weightSum
    return {node: node.name, weight: node.weight, partitions, target, share: partitions / q, targetShare: target / q}
  })
}

export interface ReplicaTarget {
  /** The healthy node to send to. */
  readonly node: string
  /** When `node` is a fallback: the unhealthy primary it stands in for (its hint names it). */
  readonly fallbackFor?: string
}

export interface PreferenceList {
  readonly partition: number
  /** The first N distinct nodes clockwise from the partition (fewer only when the ring has
   * fewer than N nodes). */
  readonly primaries: readonly string[]
  /** Every other node, in the order the walk meets them. */
  readonly fallbacks: readonly string[]
  /** Whom to use in a sloppy quorum: each healthy primary, and in place of each unhealthy
   * primary the next unused healthy fallback. Primaries come first, in order. */
  readonly targets: readonly ReplicaTarget[]
  /** Unhealthy primaries for which no healthy fallback was left. */
  readonly unreplaced: readonly string[]
}

export type HealthCheck = ReadonlySet<string> | ((node: string) => boolean)

/** The preference list of a key or partition (Dynamo §4.3): walk clockwise from the
 * partition taking distinct nodes. `n` defaults to the ring's replicas; `healthy` to all. */
export function preferenceList(
  ring: Ring,
  target: {key: Uint8Array | string} | {partition: number},
  options: {n?: number; healthy?: HealthCheck} = {},
): PreferenceList {
  const q = ring.partitionCount
  const partition = 'key' in target ? partitionOfKey(target.key, q) : target.partition
  assert(Number.isInteger(partition) && partition >= 0 && partition < q, `partition ${partition} is in 0..${q - 1}`)
  const n = options.n ?? ring.replicas
  const walk = distinctOwnersFrom(ring, partition)
  const primaries = walk.slice(0, n)
  const fallbacks = walk.slice(n)
  const isHealthy = healthPredicate(options.healthy)
  const targets: ReplicaTarget[] = []
  const unreplaced: string[] = []
  const spare = fallbacks.filter(isHealthy)
  for (const primary of primaries) {
    if (isHealthy(primary)) {
      targets.push({node: primary})
      continue
    }
    const stand = spare.shift()
    if (stand === undefined) unreplaced.push(primary)
    else targets.push({node: stand, fallbackFor: primary})
  }
  return {partition, primaries, fallbacks, targets, unreplaced}
}

function healthPredicate(healthy: HealthCheck | undefined): (node: string) => boolean {
  if (healthy === undefined) return () => true
  if (typeof healthy === 'function') return healthy
  return (node) => healthy.has(node)
}

/** Every node once, in the order met walking clockwise from `partition`. */
function distinctOwnersFrom(ring: Ring, partition: number): string[] {
  const q = ring.partitionCount
  const seen = new Set<string>()
  const order: string[] = []
  const nodeCount = ring.nodes.length
  for (let step = 0; step < q && order.length < nodeCount; step++) {
    const owner = ring.owners[(partition + step) % q]!
    if (!seen.has(owner)) {
      seen.add(owner)
      order.push(owner)
    }
  }
  return order
}

/** A total order on rings: version, then content. Gossip keeps the greatest (membership.ts). */
export function compareRings(a: Ring, b: Ring): number {
  if (a.version !== b.version) return a.version - b.version
  return compareNames(ringContentKey(a), ringContentKey(b))
}

function ringContentKey(ring: Ring): string {
  return JSON.stringify([ring.partitionCount, ring.replicas, ring.nodes.map((node) => [node.name, node.weight]), ring.owners])
}

/** The ring as JSON text (it is plain data; this fixes the key order). */
export function ringToJson(ring: Ring): string {
  return JSON.stringify({
    version: ring.version,
    partitionCount: ring.partitionCount,
    replicas: ring.replicas,
    nodes: ring.nodes.map((node) => ({name: node.name, weight: node.weight})),
    owners: ring.owners,
  })
}

/** Parses and validates a ring from JSON text or an already parsed value. */
export function ringFromJson(input: string | unknown): Ring {
  let value: unknown = input
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input)
    } catch (error) {
      throw new RingFormatError(`not JSON (${(error as Error).message})`)
    }
  }
  if (typeof value !== 'object' || value === null) throw new RingFormatError('not an object')
  const record = value as Record<string, unknown>
  const {version, partitionCount, replicas, nodes, owners} = record
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw new RingFormatError('version is not a positive integer')
  checkPartitionCount(partitionCount)
  checkReplicas(replicas, partitionCount)
  if (!Array.isArray(nodes)) throw new RingFormatError('nodes is not a list')
  const parsedNodes = nodes.map((node: unknown) => {
    if (typeof node !== 'object' || node === null) throw new RingFormatError('a node is not an object')
    const {name, weight} = node as Record<string, unknown>
    if (typeof name !== 'string' || typeof weight !== 'number') throw new RingFormatError('a node lacks name or weight')
    return {name, weight}
  })
  checkNodes(parsedNodes)
  const names = new Set(parsedNodes.map((node) => node.name))
  if (!Array.isArray(owners) || owners.length !== partitionCount) throw new RingFormatError(`owners is not a list of ${partitionCount} names`)
  for (const owner of owners) if (typeof owner !== 'string' || !names.has(owner)) throw new RingFormatError(`owner ${String(owner)} is not a node`)
  return {version, partitionCount, replicas, nodes: sortNodes(parsedNodes), owners: [...(owners as string[])]}
}

function sortNodes(nodes: readonly RingNode[]): RingNode[] {
  return [...nodes].sort((a, b) => compareNames(a.name, b.name))
}

