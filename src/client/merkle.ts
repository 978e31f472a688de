// Comparing two replicas' tictac Merkle trees over the wire (DESIGN §5, §8 `dyn merkle
// diff`), the way a node's anti-entropy exchange does (src/node/anti-entropy.ts), but
// read-only and from the outside: for each partition, fetch both branch levels
// (tree.branches), descend into the branches that differ (tree.leaves), list the keys of
// the segments that differ on both nodes (tree.keys) and compare the listings
// (core/merkle.ts diffSegmentKeys).
//
// The two nodes are read one request after the other, not at one instant: a write landing
// between the reads shows up as a difference that may already be gone. Run it on a quiet
// cluster, or run it again.
import {DynError, exitCodes, unreachable} from '../core/errors.js'
import {diffSegmentKeys, merkleHashBytes} from '../core/merkle.js'
import {NodeFailureError, type MessageType, type RequestOf, type WireError} from '../core/protocol.js'
import {preferenceList, type Ring} from '../core/ring.js'
import type {Connection} from '../net/index.js'
import {clientRequestTimeoutMsDefault} from './constants.js'
import {BadResponseError} from './errors.js'
import {clientIdentity} from './identity.js'
import {clientTls} from './tls.js'
import {ConnectionPool} from './pool.js'

/** Segments whose keys one tree.keys request asks for; see the node's segmentsPerListingMax. */
export const diffSegmentsPerListingMax = 64

export interface ReplicaAddress {
  /** The member name, when the node is a member of the ring the diff was given. */
  readonly name?: string
  /** HOST:PORT of the node's wire listener. */
  readonly address: string
}

export interface KeyDifferenceEntry {
  readonly key: Uint8Array
  /** The key's version digest on A; undefined when A lacks the key. */
  readonly a: Uint8Array | undefined
  readonly b: Uint8Array | undefined
}

export interface PartitionDifference {
  readonly partition: number
  /** Leaf segments whose hashes differ, ascending. */
  readonly segments: readonly number[]
  /** Keys missing on one side or at different versions, sorted by key bytes. */
  readonly keys: readonly KeyDifferenceEntry[]
}

export interface ReplicaDiff {
  /** Partitions compared, ascending. */
  readonly compared: readonly number[]
  /** The compared partitions whose trees differ. */
  readonly partitions: readonly PartitionDifference[]
  /** Keys that differ, over all partitions. */
  readonly differences: number
}

export interface DiffReplicasOptions {
  readonly cluster: string
  readonly a: ReplicaAddress
  readonly b: ReplicaAddress
  readonly partitions: readonly number[]
  readonly timeoutMs?: number
  readonly connectTimeoutMs?: number
}

/** Partitions both nodes are primaries of (DESIGN §4 preference lists). */
export function sharedPartitions(ring: Ring, n: number, a: string, b: string): number[] {
  const shared: number[] = []
  for (let partition = 0; partition < ring.partitionCount; partition++) {
    const primaries = preferenceList(ring, {partition}, {n}).primaries
    if (primaries.includes(a) && primaries.includes(b)) shared.push(partition)
  }
  return shared
}

export class TreeShapeMismatchError extends DynError {
  constructor(a: string, b: string, what: string) {
    super(`the trees of ${a} and ${b} have different shapes (${what}), so they cannot be compared`, {
      code: 'MERKLE_SHAPE',
      exitCode: exitCodes.error,
      suggestion: 'run every node of the cluster with the same dyn version',
    })
  }
}

export async function diffReplicas(options: DiffReplicasOptions): Promise<ReplicaDiff> {
  const pool = new ConnectionPool({
    identity: clientIdentity({cluster: options.cluster, name: `dyn-merkle-${process.pid}`}),
    tls: clientTls(),
    ...(options.connectTimeoutMs === undefined ? {} : {connectTimeoutMs: options.connectTimeoutMs}),
  })
  try {
    const a = new TreeReader(await pool.get(options.a.address), options.a.address, options.timeoutMs)
    const b = new TreeReader(await pool.get(options.b.address), options.b.address, options.timeoutMs)
    const partitions: PartitionDifference[] = []
    for (const partition of options.partitions) {
      const difference = await diffPartition(a, b, partition)
      if (difference !== undefined) partitions.push(difference)
    }
    return {compared: [...options.partitions], partitions, differences: partitions.reduce((sum, p) => sum + p.keys.length, 0)}
  } finally {
    await pool.close()
  }
}

/** The partitions whose branch levels differ between the two nodes: one small request per
 * partition and node, no key listing (cheap enough to poll while waiting for convergence). */
export async function differingPartitions(options: DiffReplicasOptions): Promise<number[]> {
  const pool = new ConnectionPool({identity: clientIdentity({cluster: options.cluster, name: `dyn-merkle-${process.pid}`}), tls: clientTls()})
  try {
    const a = new TreeReader(await pool.get(options.a.address), options.a.address, options.timeoutMs)
    const b = new TreeReader(await pool.get(options.b.address), options.b.address, options.timeoutMs)
    const differing: number[] = []
    for (const partition of options.partitions) {
      const [branchesA, branchesB] = await Promise.all([a.hashes('tree.branches', {partition}), b.hashes('tree.branches', {partition})])
      if (branchesA.length !== branchesB.length || differingHashes(branchesA, branchesB).length > 0) differing.push(partition)
    }
    return differing
  } finally {
    await pool.close()
  }
}

async function diffPartition(a: TreeReader, b: TreeReader, partition: number): Promise<PartitionDifference | undefined> {
  const [branchesA, branchesB] = await Promise.all([a.hashes('tree.branches', {partition}), b.hashes('tree.branches', {partition})])
  if (branchesA.length !== branchesB.length) throw new TreeShapeMismatchError(a.address, b.address, `${branchesA.length / merkleHashBytes} and ${branchesB.length / merkleHashBytes} branches`)
  const branches = differingHashes(branchesA, branchesB)
  if (branches.length === 0) return undefined
  const [leavesA, leavesB] = await Promise.all([a.hashes('tree.leaves', {partition, branches}), b.hashes('tree.leaves', {partition, branches})])
  if (leavesA.length !== leavesB.length) throw new TreeShapeMismatchError(a.address, b.address, 'segments per branch differ')
  const branchWidth = leavesA.length / merkleHashBytes / branches.length
  const segments = differingHashes(leavesA, leavesB).map((index) => branches[Math.floor(index / branchWidth)]! * branchWidth + (index % branchWidth))
  const keys: KeyDifferenceEntry[] = []
  for (let start = 0; start < segments.length; start += diffSegmentsPerListingMax) {
    const chunk = segments.slice(start, start + diffSegmentsPerListingMax)
    const [listingA, listingB] = await Promise.all([a.keys(partition, chunk), b.keys(partition, chunk)])
    for (const difference of diffSegmentKeys(listingA, listingB)) {
      const key = difference.key as Uint8Array
      switch (difference.kind) {
        case 'onlyA':
          keys.push({key, a: difference.a, b: undefined})
          break
        case 'onlyB':
          keys.push({key, a: undefined, b: difference.b})
          break
        case 'different':
          keys.push({key, a: difference.a, b: difference.b})
          break
        default:
          unreachable(difference)
      }
    }
  }
  return {partition, segments, keys}
}

/** Indexes of the 16-byte hashes that differ between two levels of equal length. */
function differingHashes(a: Uint8Array, b: Uint8Array): number[] {
  const differing: number[] = []
  for (let index = 0; index * merkleHashBytes < a.length; index++) {
    for (let byte = 0; byte < merkleHashBytes; byte++) {
      const offset = index * merkleHashBytes + byte
      if (a[offset] !== b[offset]) {
        differing.push(index)
        break
      }
    }
  }
  return differing
}

/** The tree.* requests to one node, with their responses checked. */
class TreeReader {
  constructor(
    private readonly connection: Connection,
    readonly address: string,
    private readonly timeoutMs: number = clientRequestTimeoutMsDefault,
  ) {}

  async hashes<T extends 'tree.branches' | 'tree.leaves'>(type: T, payload: RequestOf<T>): Promise<Uint8Array> {
    const record = await this.request(type, payload)
    const hashes = record['hashes']
    if (!(hashes instanceof Uint8Array) || hashes.length % merkleHashBytes !== 0) throw new BadResponseError(type, this.address, 'hashes is not a list of 16-byte hashes')
    return hashes
  }

  async keys(partition: number, segments: readonly number[]): Promise<Array<[Uint8Array, Uint8Array]>> {
    const record = await this.request('tree.keys', {partition, segments})
    const keys = record['keys']
    const digests = record['digests']
    if (!isBytesList(keys) || !isBytesList(digests) || keys.length !== digests.length) {
      throw new BadResponseError('tree.keys', this.address, 'keys and digests are not two lists of bytes of one length')
    }
    return keys.map((key, i) => [key, digests[i]!])
  }

  private async request<T extends MessageType>(type: T, payload: RequestOf<T>): Promise<Record<string, unknown>> {
    const response: unknown = await this.connection.request(type, payload, {timeoutMs: this.timeoutMs})
    if (typeof response !== 'object' || response === null || !('ok' in response)) throw new BadResponseError(type, this.address, 'not a response object')
    const record = response as Record<string, unknown>
    if (record['ok'] === false) throw new NodeFailureError(wireError(type, this.address, record['error']))
    return record
  }
}

function isBytesList(value: unknown): value is Uint8Array[] {
  return Array.isArray(value) && value.every((item) => item instanceof Uint8Array)
}

function wireError(type: string, address: string, error: unknown): WireError {
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
  if (typeof record['code'] !== 'string' || typeof record['message'] !== 'string' || typeof record['exitCode'] !== 'number') {
    throw new BadResponseError(type, address, 'error is not {code, message, exitCode}')
  }
  return error as WireError
}
