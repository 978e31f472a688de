// The in-memory keydir (Bitcask §"keydir"): every key of a partition maps to the segment,
// offset and size of its newest record, so a get is one positioned read. Tombstones stay
// in the keydir until compaction drops them, so that compaction knows which delete
// records are still the newest word on their key. Keys are held as latin1 strings: one
// byte per character, the cheapest exact string form of arbitrary bytes for a Map key.
//
// Entries are columns, not objects: the map gives each key a slot number, and the slot's
// segment, offset, size and flags live in arrays indexed by it. A million keys then cost
// the garbage collector a million map entries and strings, not also a million entry
// objects to trace and move while they are created at open.
import type {Segment} from './segment.js'

/** Where a key's newest record is: a snapshot, taken by `get`. */
export interface KeydirEntry {
  readonly segment: Segment
  readonly offset: number
  /** Whole record size, header included. */
  readonly size: number
  readonly tombstone: boolean
}

export function keyString(key: Uint8Array): string {
  return Buffer.isBuffer(key) ? key.toString('latin1') : Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1')
}

/** Slots a new keydir starts with; the columns double when full. */
const slotsInitial = 256

export class Keydir {
  private readonly slotOf = new Map<string, number>()
  /** Columns by slot. A free slot has no segment. */
  private segments: (Segment | undefined)[] = []
  private offsets = new Uint32Array(slotsInitial)
  private sizes = new Uint32Array(slotsInitial)
  private tombstones = new Uint8Array(slotsInitial)
  /** The hint buffer holding the description of the record (RecordDescriber) when the slot
   * was loaded from a hint or a scan at open and its description not yet taken. */
  private described: (Buffer | undefined)[] = []
  private describedAt = new Int32Array(slotsInitial)
  private readonly free: number[] = []
  /** Entries that are not tombstones. */
  liveKeys = 0

  get(key: string): KeydirEntry | undefined {
    const slot = this.slotOf.get(key)
    if (slot === undefined) return undefined
    return {segment: this.segments[slot]!, offset: this.offsets[slot]!, size: this.sizes[slot]!, tombstone: this.tombstones[slot] === 1}
  }

  get size(): number {
    return this.slotOf.size
  }

  /** Records that the newest record for `key` is now at (segment, offset), described at
   * `describedAt` of `described` when known; moves live-byte accounting. */
  set(key: string, segment: Segment, offset: number, size: number, tombstone: boolean, described?: Buffer, describedAt = 0): void {
    let slot = this.slotOf.get(key)
    if (slot === undefined) {
      if (tombstone) return // nothing older is known here: the delete has nothing to hide
      slot = this.allocate()
      this.slotOf.set(key, slot)
    } else if (this.tombstones[slot] === 0) {
      this.segments[slot]!.liveBytes -= this.sizes[slot]!
      this.liveKeys--
    }
    this.segments[slot] = segment
    this.offsets[slot] = offset
    this.sizes[slot] = size
    this.tombstones[slot] = tombstone ? 1 : 0
    this.described[slot] = described
    this.describedAt[slot] = describedAt
    if (!tombstone) {
      segment.liveBytes += size
      this.liveKeys++
    }
  }

  /** Moves an entry to a copy of the same record (compaction), if it still points at the original. */
  move(key: string, from: Segment, fromOffset: number, to: Segment, toOffset: number): boolean {
    const slot = this.slotOf.get(key)
    if (slot === undefined || this.segments[slot] !== from || this.offsets[slot] !== fromOffset) return false
    if (this.tombstones[slot] === 0) {
      from.liveBytes -= this.sizes[slot]!
      to.liveBytes += this.sizes[slot]!
    }
    this.segments[slot] = to
    this.offsets[slot] = toOffset
    return true
  }

  /** Forgets a tombstone that compaction dropped, if it is still the newest record of its key. */
  dropTombstone(key: string, segment: Segment, offset: number): void {
    const slot = this.slotOf.get(key)
    if (slot === undefined || this.segments[slot] !== segment || this.offsets[slot] !== offset || this.tombstones[slot] === 0) return
    this.slotOf.delete(key)
    this.segments[slot] = undefined
    this.described[slot] = undefined
    this.free.push(slot)
  }

  /** Copies the description loaded at open for `key` (`bytes` long) to `target` at
   * `targetAt` and forgets it, so its hint buffer can go once every key's is taken; false
   * when there is none (the record was written since the open, or it was taken before). */
  takeDescription(key: string, bytes: number, target: Buffer, targetAt: number): boolean {
    const slot = this.slotOf.get(key)
    if (slot === undefined) return false
    const described = this.described[slot]
    if (described === undefined) return false
    const at = this.describedAt[slot]!
    described.copy(target, targetAt, at, at + bytes)
    this.described[slot] = undefined
    return true
  }

  /** Snapshot of the keys, for scans that must not see the map change under them. */
  keys(): string[] {
    return [...this.slotOf.keys()]
  }

  *inSegment(segment: Segment): Generator<[string, KeydirEntry]> {
    for (const [key, slot] of this.slotOf) if (this.segments[slot] === segment) yield [key, this.get(key)!]
  }

  private allocate(): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    const slot = this.segments.length
    this.segments.push(undefined)
    this.described.push(undefined)
    if (slot === this.offsets.length) {
      this.offsets = grown(this.offsets, new Uint32Array(slot * 2))
      this.sizes = grown(this.sizes, new Uint32Array(slot * 2))
      this.tombstones = grown(this.tombstones, new Uint8Array(slot * 2))
      this.describedAt = grown(this.describedAt, new Int32Array(slot * 2))
    }
    return slot
  }
}

function grown<T extends Uint32Array | Uint8Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}
