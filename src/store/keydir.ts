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
  /** Columns by slot. `segmentAt` numbers the segment in `segmentList` (0: a free slot). */
  private segmentAt = new Uint32Array(slotsInitial)
  private offsets = new Uint32Array(slotsInitial)
  private sizes = new Uint32Array(slotsInitial)
  private tombstones = new Uint8Array(slotsInitial)
  /** The hint buffer (its number in `describedList`, 0: none) holding the description of
   * the record (RecordDescriber) when the slot was loaded from a hint or a scan at open and
   * its description not yet taken. */
  private describedIn = new Uint32Array(slotsInitial)
  private describedAt = new Int32Array(slotsInitial)
  /** Slots below this were handed out at some point; freed ones wait in `free`. */
  private slotsUsed = 0
  private readonly free: number[] = []
  /** Every segment a slot pointed to, by number (1 up); and the last one looked up. */
  private readonly segmentList: (Segment | undefined)[] = []
  private readonly segmentNumbers = new Map<Segment, number>()
  /** Buffers holding loaded descriptions, by number (1 up; an entry is dropped when all of
   * its descriptions are taken); and how many of each are not taken yet. */
  private readonly describedList: (Buffer | undefined)[] = [undefined]
  private readonly describedLeft: number[] = [0]
  private lastDescribed: Buffer | undefined
  private lastDescribedNumber = 0
  /** Entries that are not tombstones. */
  liveKeys = 0

  get(key: string): KeydirEntry | undefined {
    const slot = this.slotOf.get(key)
    if (slot === undefined) return undefined
    return {segment: this.segmentOfSlot(slot), offset: this.offsets[slot]!, size: this.sizes[slot]!, tombstone: this.tombstones[slot] === 1}
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
    } else {
      if (this.tombstones[slot] === 0) {
        this.segmentOfSlot(slot).liveBytes -= this.sizes[slot]!
        this.liveKeys--
      }
      this.releaseDescription(slot)
    }
    this.segmentAt[slot] = this.numberOf(segment)
    this.offsets[slot] = offset
    this.sizes[slot] = size
    this.tombstones[slot] = tombstone ? 1 : 0
    this.describedIn[slot] = described === undefined ? 0 : this.describedNumberOf(described)
    this.describedAt[slot] = describedAt
    if (!tombstone) {
      segment.liveBytes += size
      this.liveKeys++
    }
  }

  /** Moves an entry to a copy of the same record (compaction), if it still points at the original. */
  move(key: string, from: Segment, fromOffset: number, to: Segment, toOffset: number): boolean {
    const slot = this.slotOf.get(key)
    if (slot === undefined || this.segmentOfSlot(slot) !== from || this.offsets[slot] !== fromOffset) return false
    if (this.tombstones[slot] === 0) {
      from.liveBytes -= this.sizes[slot]!
      to.liveBytes += this.sizes[slot]!
    }
    this.segmentAt[slot] = this.numberOf(to)
    this.offsets[slot] = toOffset
    return true
  }

  /** Forgets a tombstone that compaction dropped, if it is still the newest record of its key. */
  dropTombstone(key: string, segment: Segment, offset: number): void {
    const slot = this.slotOf.get(key)
    if (slot === undefined || this.segmentOfSlot(slot) !== segment || this.offsets[slot] !== offset || this.tombstones[slot] === 0) return
    this.slotOf.delete(key)
    this.segmentAt[slot] = 0
    this.releaseDescription(slot)
    this.free.push(slot)
  }

  /** Forgets a segment no slot points to any more (compaction removed it), so that the
   * keydir does not keep it alive. */
  forgetSegment(segment: Segment): void {
    const number = this.segmentNumbers.get(segment)
    if (number === undefined) return
    this.segmentNumbers.delete(segment)
    this.segmentList[number - 1] = undefined
  }

  /** Every key with its slot, live: keys added meanwhile may be visited, keys removed are
   * not. A slot is only good until the next change of the keydir. */
  slots(): IterableIterator<[string, number]> {
    return this.slotOf.entries()
  }

  isTombstoneAt(slot: number): boolean {
    return this.tombstones[slot] === 1
  }

  /** Copies the description loaded at open for the key in `slot` (from `slots`, with no
   * change of the keydir since; `bytes` long) to `target` at `targetAt` and forgets it, so
   * its hint buffer can go once every key's is taken; false when there is none (the record
   * was written since the open, or it was taken before). */
  takeDescriptionAt(slot: number, bytes: number, target: Buffer, targetAt: number): boolean {
    const described = this.describedList[this.describedIn[slot]!]
    if (described === undefined) return false
    const at = this.describedAt[slot]!
    // A loop, not Buffer.copy: for a few dozen bytes, a million times at start, the call
    // costs more than the copy.
    for (let i = 0; i < bytes; i++) target[targetAt + i] = described[at + i]!
    this.releaseDescription(slot)
    return true
  }

  /** Snapshot of the keys, for scans that must not see the map change under them. */
  keys(): string[] {
    return [...this.slotOf.keys()]
  }

  *inSegment(segment: Segment): Generator<[string, KeydirEntry]> {
    const number = this.segmentNumbers.get(segment)
    if (number === undefined) return
    for (const [key, slot] of this.slotOf) if (this.segmentAt[slot] === number) yield [key, this.get(key)!]
  }

  private segmentOfSlot(slot: number): Segment {
    return this.segmentList[this.segmentAt[slot]! - 1]!
  }

  /** The segment's number; a segment is numbered once, the first time a slot points to it.
   * Segments are few (files of a partition), so the list stays short. */
  private numberOf(segment: Segment): number {
    const last = this.segmentList[this.segmentList.length - 1]
    if (last === segment) return this.segmentList.length
    let number = this.segmentNumbers.get(segment)
    if (number === undefined) {
      this.segmentList.push(segment)
      number = this.segmentList.length
      this.segmentNumbers.set(segment, number)
    }
    return number
  }

  private describedNumberOf(buffer: Buffer): number {
    if (buffer !== this.lastDescribed) {
      this.describedList.push(buffer)
      this.describedLeft.push(0)
      this.lastDescribed = buffer
      this.lastDescribedNumber = this.describedList.length - 1
    }
    this.describedLeft[this.lastDescribedNumber]!++
    return this.lastDescribedNumber
  }

  /** The slot no longer holds a loaded description; its buffer goes with the last one. */
  private releaseDescription(slot: number): void {
    const number = this.describedIn[slot]!
    if (number === 0) return
    this.describedIn[slot] = 0
    if (--this.describedLeft[number]! === 0) this.describedList[number] = undefined
  }

  private allocate(): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    const slot = this.slotsUsed++
    if (slot === this.offsets.length) {
      const capacity = slot * 2
      this.segmentAt = grown(this.segmentAt, new Uint32Array(capacity))
      this.offsets = grown(this.offsets, new Uint32Array(capacity))
      this.sizes = grown(this.sizes, new Uint32Array(capacity))
      this.tombstones = grown(this.tombstones, new Uint8Array(capacity))
      this.describedIn = grown(this.describedIn, new Uint32Array(capacity))
      this.describedAt = grown(this.describedAt, new Int32Array(capacity))
    }
    return slot
  }
}

function grown<T extends Uint32Array | Uint8Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}
