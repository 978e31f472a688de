// One partition's index of the node's copies (objects.ts): for every key its description
// (descriptions.ts: version digest, Merkle entry hash and segment bits, sibling flags) and
// the partition's Merkle tree over them.
//
// Descriptions live in one growable buffer, a fixed-size slot per key, and the map from key
// to slot holds small integers: a million keys cost a million map entries and 37 MB of
// slots, not a million objects for the garbage collector to trace and move.
import {Buffer} from 'node:buffer'
import {MerkleTree} from '../core/merkle.js'
import {descriptionBytes, entryHashAt, segmentBitsAt} from './descriptions.js'

/** Slots a new index starts with; the buffer doubles when full. */
const slotsInitial = 64

export class PartitionIndex {
  readonly tree: MerkleTree
  /** Key (latin1 name) -> slot of its description in `slots`. */
  private readonly slotOf = new Map<string, number>()
  private slots = Buffer.allocUnsafe(slotsInitial * descriptionBytes)
  /** Slots below this were handed out at some point; freed ones wait in `free`. */
  private slotsUsed = 0
  private readonly free: number[] = []

  constructor(options: {readonly segments: number}) {
    this.tree = new MerkleTree({segments: options.segments})
  }

  get size(): number {
    return this.slotOf.size
  }

  /** Indexes a key at the version described by the `descriptionBytes` at `at` of `source`,
   * replacing its previous version in the tree. */
  set(name: string, source: Uint8Array, at = 0): void {
    let slot = this.slotOf.get(name)
    if (slot === undefined) {
      slot = this.allocate()
      this.slotOf.set(name, slot)
    } else {
      this.toggleIn(slot)
    }
    this.copyIn(slot, source, at)
    this.toggleIn(slot)
  }

  /** `set` for a key not indexed yet while loading, with one map operation instead of two
   * and only the tree's leaf updated: call `finishLoad` after the last one. */
  add(name: string, source: Uint8Array, at: number): void {
    const slot = this.allocate()
    const size = this.slotOf.size
    this.slotOf.set(name, slot)
    if (this.slotOf.size === size) throw new Error(`assertion failed: key ${JSON.stringify(name)} was indexed already`)
    this.copyIn(slot, source, at)
    this.tree.toggleLeaf(this.segmentAt(slot), this.slots, slot * descriptionBytes + entryHashAt)
  }

  /** Ends a run of `add`: the tree's branches and root catch up with its leaves. */
  finishLoad(): void {
    this.tree.rebuildUpperLevels()
  }

  remove(name: string): void {
    const slot = this.slotOf.get(name)
    if (slot === undefined) return
    this.toggleIn(slot)
    this.slotOf.delete(name)
    this.free.push(slot)
  }

  /** A copy of the key's version digest; undefined when the key is not indexed. */
  digest(name: string): Uint8Array | undefined {
    const slot = this.slotOf.get(name)
    return slot === undefined ? undefined : this.digestAt(slot)
  }

  /** The keys of the given tree segments with (copies of) their version digests. */
  keysIn(segments: ReadonlySet<number>): Array<[string, Uint8Array]> {
    const found: Array<[string, Uint8Array]> = []
    for (const [name, slot] of this.slotOf) {
      if (segments.has(this.segmentAt(slot))) found.push([name, this.digestAt(slot)])
    }
    return found
  }

  /** A loop rather than set(subarray(...)): no view object per key, a million times at start. */
  private copyIn(slot: number, source: Uint8Array, at: number): void {
    const slots = this.slots
    const to = slot * descriptionBytes
    for (let i = 0; i < descriptionBytes; i++) slots[to + i] = source[at + i]!
  }

  private digestAt(slot: number): Uint8Array {
    const at = slot * descriptionBytes
    return new Uint8Array(this.slots.subarray(at, at + 16))
  }

  private segmentAt(slot: number): number {
    return this.tree.segmentOfBits(this.slots.readUInt32BE(slot * descriptionBytes + segmentBitsAt))
  }

  /** Adds or removes (XOR) the slot's version in the tree. */
  private toggleIn(slot: number): void {
    this.tree.toggle(this.segmentAt(slot), this.slots, slot * descriptionBytes + entryHashAt)
  }

  private allocate(): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    if ((this.slotsUsed + 1) * descriptionBytes > this.slots.length) {
      const grown = Buffer.allocUnsafe(this.slots.length * 2)
      this.slots.copy(grown, 0, 0, this.slotsUsed * descriptionBytes)
      this.slots = grown
    }
    return this.slotsUsed++
  }
}
