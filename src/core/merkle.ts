// Anti-entropy hash trees (Dynamo §4.7: replicas compare Merkle trees and descend only into
// differing branches) in the "tictac" form of Martin Sumner's Riak tictac AAE
// (riak_kv/leveled `tictac`): a leaf segment is the XOR of hash(key, version digest) over the
// keys in it, and every branch the XOR of its children. XOR is its own inverse, so a write
// updates the tree in O(1) per level — remove the old version's hash, add the new one — with
// no rebuild and no sorted key store behind it. One tree per partition a node replicates.
//
// Fixed shape for S = 2^k leaf segments (default 1024): B = 2^floor(k/2) branches of
// W = 2^ceil(k/2) segments each, under one root.
//
//                              root                        1 hash  = XOR of branches
//                 /        /          \          \
//             b0        b1     ...     b30        b31        B = 32 hashes
//           / .. \    / .. \          / .. \     / .. \
//         s0 .. s31 s32 .. s63    s960..s991 s992..s1023    S = 1024 leaf segments
//
//   segment of a key  = low bits of MD5(key)  (the ring uses the high bits for the partition,
//                       so keys of one partition still spread over all segments)
//   leaf s            = XOR of MD5(u32 key length | key | version digest) over keys in s
//   branch b          = XOR of segments b·W .. b·W + W - 1
//
// Comparing two replicas: roots (1 hash), then branches (B) if the roots differ, then the W
// segments of each differing branch; the keys of differing segments are then listed and
// compared (diffSegmentKeys). Levels travel as plain byte buffers of 16-byte hashes.
import {Buffer} from 'node:buffer'
import {hash} from 'node:crypto'
import {DynError, assert, exitCodes} from './errors.js'

/** Bytes of every hash in the tree (MD5): wide enough that XOR sums of differing segments
 * practically never cancel, which would hide a difference until the key changes again. */
export const merkleHashBytes = 16

/** Default leaf segments per tree. 1024 keeps a partition's tree at 16 KiB of leaves while a
 * segment of a million-key partition holds about a thousand keys to list when it differs. */
export const merkleSegmentsDefault = 1024

/** Most leaf segments per tree: 65536 × 16 bytes = 1 MiB of leaves, still well inside one
 * wire frame (limits.frameBytesMax) when a whole tree is sent. */
export const merkleSegmentsMax = 65536

export type MerkleKey = Uint8Array | string

export interface MerkleShape {
  readonly segments: number
  readonly branches: number
  /** Segments per branch. */
  readonly branchWidth: number
}

export class MerkleShapeError extends DynError {
  constructor(message: string) {
    super(message, {
      code: 'MERKLE_SHAPE',
      exitCode: exitCodes.usage,
      suggestion: `give every node the same segment count, a power of two from 1 to ${merkleSegmentsMax} (default ${merkleSegmentsDefault})`,
    })
  }
}

export class MerkleDecodeError extends DynError {
  constructor(problem: string) {
    super(`Merkle tree data is corrupt: ${problem}`, {
      code: 'MERKLE_CORRUPT',
      exitCode: exitCodes.error,
      suggestion: 'ask the replica for its tree again; if it stays corrupt, restart that node so it rebuilds its trees',
    })
  }
}

export function merkleShape(segments: number = merkleSegmentsDefault): MerkleShape {
  if (!Number.isSafeInteger(segments) || segments < 1 || segments > merkleSegmentsMax || (segments & (segments - 1)) !== 0) {
    throw new MerkleShapeError(`${segments} segments is not a valid tree shape`)
  }
  const bits = Math.log2(segments)
  const branchWidth = 2 ** Math.ceil(bits / 2)
  return {segments, branches: segments / branchWidth, branchWidth}
}

function keyBytes(key: MerkleKey): Uint8Array {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key
}

/** The leaf segment of a key; depends on the key only, never on its version. */
export function segmentOf(key: MerkleKey, segments: number = merkleSegmentsDefault): number {
  return segmentIn(key, merkleShape(segments))
}

/** The low 32 bits of MD5(key), from which a tree of any shape takes its segment (the
 * low log2(segments) bits): kept with a key, they spare hashing it again. */
export function segmentBits(key: MerkleKey): number {
  // One-shot `hash` (Node >= 20.12): no Hash object per call, on every write's path.
  return hash('md5', keyBytes(key), 'buffer').readUInt32BE(merkleHashBytes - 4)
}

function segmentIn(key: MerkleKey, shape: MerkleShape): number {
  return segmentBits(key) & (shape.segments - 1)
}

/** The hash one key at one version contributes to its segment. */
export function entryHash(key: MerkleKey, versionDigest: Uint8Array): Uint8Array {
  const bytes = keyBytes(key)
  const input = Buffer.allocUnsafe(4 + bytes.length + versionDigest.length)
  input.writeUInt32BE(bytes.length, 0)
  input.set(bytes, 4)
  input.set(versionDigest, 4 + bytes.length)
  return hash('md5', input, 'buffer')
}

function xorInto(target: Uint8Array, index: number, hash: Uint8Array, hashAt = 0): void {
  const offset = index * merkleHashBytes
  for (let i = 0; i < merkleHashBytes; i++) target[offset + i]! ^= hash[hashAt + i]!
}

function hashAt(level: Uint8Array, index: number): Uint8Array {
  return level.subarray(index * merkleHashBytes, (index + 1) * merkleHashBytes)
}

function sameHash(a: Uint8Array, aIndex: number, b: Uint8Array, bIndex: number): boolean {
  return Buffer.from(hashAt(a, aIndex)).equals(hashAt(b, bIndex))
}

const treeFormat = 1

/** One partition's tictac tree. Invariant: each branch is the XOR of its segments and the
 * root the XOR of the branches. */
export class MerkleTree {
  readonly shape: MerkleShape
  private readonly rootLevel: Uint8Array
  private readonly branchLevel: Uint8Array
  private readonly leafLevel: Uint8Array

  constructor(options: {readonly segments?: number} = {}) {
    this.shape = merkleShape(options.segments ?? merkleSegmentsDefault)
    this.rootLevel = new Uint8Array(merkleHashBytes)
    this.branchLevel = new Uint8Array(this.shape.branches * merkleHashBytes)
    this.leafLevel = new Uint8Array(this.shape.segments * merkleHashBytes)
  }

  /** Builds a tree from scratch, as a node does when it opens a partition. */
  static fromEntries(entries: Iterable<readonly [MerkleKey, Uint8Array]>, options: {readonly segments?: number} = {}): MerkleTree {
    const tree = new MerkleTree(options)
    for (const [key, digest] of entries) tree.update(key, undefined, digest)
    return tree
  }

  segmentOf(key: MerkleKey): number {
    return segmentIn(key, this.shape)
  }

  /** Records a write: `oldDigest` is the version digest the key had (undefined when new),
   * `newDigest` the one it has now (undefined when removed). The caller must pass the digest
   * actually in the tree, or the tree drifts until rebuilt. */
  update(key: MerkleKey, oldDigest: Uint8Array | undefined, newDigest: Uint8Array | undefined): void {
    const delta = new Uint8Array(merkleHashBytes)
    if (oldDigest !== undefined) xorInto(delta, 0, entryHash(key, oldDigest))
    if (newDigest !== undefined) xorInto(delta, 0, entryHash(key, newDigest))
    this.toggle(this.segmentOf(key), delta)
  }

  /** The segment of a key whose segmentBits are `bits`. */
  segmentOfBits(bits: number): number {
    return bits & (this.shape.segments - 1)
  }

  /** Adds, or removes when it is in, one contribution to a segment (XOR): the entryHash of
   * a key at a version (the 16 bytes at `hashAt` of `hash`), for a caller that keeps entry
   * hashes and segments itself; `update` is this with both computed. */
  toggle(segment: number, hash: Uint8Array, hashAt = 0): void {
    assert(Number.isInteger(segment) && segment >= 0 && segment < this.shape.segments, 'a segment index is inside the tree')
    xorInto(this.leafLevel, segment, hash, hashAt)
    xorInto(this.branchLevel, Math.floor(segment / this.shape.branchWidth), hash, hashAt)
    xorInto(this.rootLevel, 0, hash, hashAt)
  }

  /** `toggle` of the leaf alone, leaving its branch and the root stale until
   * `rebuildUpperLevels`: a tree built in bulk (a node indexing a partition at start) does a
   * third of the work. The invariant holds again only after that call. */
  toggleLeaf(segment: number, hash: Uint8Array, hashAt = 0): void {
    xorInto(this.leafLevel, segment, hash, hashAt)
  }

  /** Recomputes every branch and the root from the leaves: ends a bulk build. */
  rebuildUpperLevels(): void {
    const {branches, root} = this.upperLevelsFromLeaves()
    this.branchLevel.set(branches)
    this.rootLevel.set(root)
  }

  root(): Uint8Array {
    return this.rootLevel.slice()
  }

  /** All branch hashes, `shape.branches` × 16 bytes. */
  branches(): Uint8Array {
    return this.branchLevel.slice()
  }

  /** The segment hashes under the given branches, concatenated in the order given. */
  leavesOf(branchIndexes: readonly number[]): Uint8Array {
    const {branches, branchWidth} = this.shape
    const width = branchWidth * merkleHashBytes
    const out = new Uint8Array(branchIndexes.length * width)
    branchIndexes.forEach((branch, position) => {
      assert(Number.isInteger(branch) && branch >= 0 && branch < branches, 'a branch index is inside the tree')
      out.set(this.leafLevel.subarray(branch * width, (branch + 1) * width), position * width)
    })
    return out
  }

  segmentHash(segment: number): Uint8Array {
    assert(Number.isInteger(segment) && segment >= 0 && segment < this.shape.segments, 'a segment index is inside the tree')
    return hashAt(this.leafLevel, segment).slice()
  }

  /** The whole tree: u8 format, u8 log2(segments), root, branches, segments. */
  export(): Uint8Array {
    const header = Uint8Array.of(treeFormat, Math.log2(this.shape.segments))
    return new Uint8Array(Buffer.concat([header, this.rootLevel, this.branchLevel, this.leafLevel]))
  }

  /** Reads what export wrote and checks every branch and the root against their children. */
  static import(bytes: Uint8Array): MerkleTree {
    if (bytes.length < 2) throw new MerkleDecodeError('shorter than its header')
    if (bytes[0] !== treeFormat) throw new MerkleDecodeError(`unknown format ${bytes[0]}`)
    const bits = bytes[1]!
    if (2 ** bits > merkleSegmentsMax) throw new MerkleDecodeError(`2^${bits} segments is beyond the limit`)
    const tree = new MerkleTree({segments: 2 ** bits})
    const {branches, segments} = tree.shape
    const expected = 2 + (1 + branches + segments) * merkleHashBytes
    if (bytes.length !== expected) throw new MerkleDecodeError(`${bytes.length} bytes, expected ${expected}`)
    let offset = 2
    for (const level of [tree.rootLevel, tree.branchLevel, tree.leafLevel]) {
      level.set(bytes.subarray(offset, offset + level.length))
      offset += level.length
    }
    if (!tree.isConsistent()) throw new MerkleDecodeError('a branch or the root is not the XOR of its children')
    return tree
  }

  /** True when every branch is the XOR of its segments and the root the XOR of the branches. */
  isConsistent(): boolean {
    const {branches, root} = this.upperLevelsFromLeaves()
    return Buffer.from(branches).equals(this.branchLevel) && Buffer.from(root).equals(this.rootLevel)
  }

  /** The branches and root the leaves imply: each branch the XOR of its segments, the root
   * the XOR of the branches. */
  private upperLevelsFromLeaves(): {branches: Uint8Array; root: Uint8Array} {
    const branches = new Uint8Array(this.branchLevel.length)
    for (let segment = 0; segment < this.shape.segments; segment++) {
      xorInto(branches, Math.floor(segment / this.shape.branchWidth), this.leafLevel, segment * merkleHashBytes)
    }
    const root = new Uint8Array(merkleHashBytes)
    for (let branch = 0; branch < this.shape.branches; branch++) xorInto(root, 0, branches, branch * merkleHashBytes)
    return {branches, root}
  }
}

export function rootsEqual(a: MerkleTree, b: MerkleTree): boolean {
  return Buffer.from(a.root()).equals(b.root())
}

function checkSameShape(a: MerkleShape, b: MerkleShape): void {
  if (a.segments !== b.segments) {
    throw new MerkleShapeError(`trees of ${a.segments} and ${b.segments} segments cannot be compared`)
  }
}

function checkLevelBytes(level: Uint8Array, hashes: number, what: string): void {
  if (level.length !== hashes * merkleHashBytes) {
    throw new MerkleDecodeError(`${what} has ${level.length} bytes, expected ${hashes * merkleHashBytes}`)
  }
}

/** Indexes of the branches whose hashes differ; `remoteBranches` as MerkleTree.branches(). */
export function diffBranches(local: MerkleTree, remoteBranches: Uint8Array): number[] {
  checkLevelBytes(remoteBranches, local.shape.branches, 'branch level')
  const localBranches = local.branches()
  const differing: number[] = []
  for (let branch = 0; branch < local.shape.branches; branch++) {
    if (!sameHash(localBranches, branch, remoteBranches, branch)) differing.push(branch)
  }
  return differing
}

/** Segment indexes that differ under `branchIndexes`; `remoteLeaves` as
 * MerkleTree.leavesOf(branchIndexes) on the other replica. */
export function diffLeaves(local: MerkleTree, branchIndexes: readonly number[], remoteLeaves: Uint8Array): number[] {
  const {branchWidth} = local.shape
  checkLevelBytes(remoteLeaves, branchIndexes.length * branchWidth, 'segment level')
  const localLeaves = local.leavesOf(branchIndexes)
  return branchIndexes.flatMap((branch, position) => {
    const differing: number[] = []
    for (let child = 0; child < branchWidth; child++) {
      const index = position * branchWidth + child
      if (!sameHash(localLeaves, index, remoteLeaves, index)) differing.push(branch * branchWidth + child)
    }
    return differing
  })
}

export interface TreeDifference {
  /** Leaf segments whose hashes differ, ascending. */
  readonly segments: number[]
  /** Hashes compared: 1 root, the branches if the roots differ, W segments per differing branch. */
  readonly compared: number
}

/** Compares two trees top-down, descending only into differing branches. */
export function diffTrees(a: MerkleTree, b: MerkleTree): TreeDifference {
  checkSameShape(a.shape, b.shape)
  if (rootsEqual(a, b)) return {segments: [], compared: 1}
  const branches = diffBranches(a, b.branches())
  const segments = diffLeaves(a, branches, b.leavesOf(branches))
  return {segments, compared: 1 + a.shape.branches + branches.length * a.shape.branchWidth}
}

export type KeyDifference =
  | {readonly kind: 'onlyA'; readonly key: MerkleKey; readonly a: Uint8Array}
  | {readonly kind: 'onlyB'; readonly key: MerkleKey; readonly b: Uint8Array}
  | {readonly kind: 'different'; readonly key: MerkleKey; readonly a: Uint8Array; readonly b: Uint8Array}

type Listing = Iterable<readonly [MerkleKey, Uint8Array]>

function indexListing(listing: Listing): Map<string, readonly [MerkleKey, Uint8Array]> {
  const byKey = new Map<string, readonly [MerkleKey, Uint8Array]>()
  for (const entry of listing) {
    const id = Buffer.from(keyBytes(entry[0])).toString('hex')
    assert(!byKey.has(id), 'a segment listing names each key once')
    byKey.set(id, entry)
  }
  return byKey
}

/** Compares the [key, version digest] listings of one segment on two replicas: the keys
 * missing on either side or at different versions, sorted by key bytes. */
export function diffSegmentKeys(a: Listing, b: Listing): KeyDifference[] {
  const left = indexListing(a)
  const right = indexListing(b)
  const ids = [...new Set([...left.keys(), ...right.keys()])].sort()
  return ids.flatMap((id): KeyDifference[] => {
    const x = left.get(id)
    const y = right.get(id)
    if (x === undefined) return [{kind: 'onlyB', key: y![0], b: y![1]}]
    if (y === undefined) return [{kind: 'onlyA', key: x[0], a: x[1]}]
    return Buffer.from(x[1]).equals(y[1]) ? [] : [{kind: 'different', key: x[0], a: x[1], b: y[1]}]
  })
}
