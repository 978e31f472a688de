// The in-memory keydir (Bitcask §"keydir"): every key of a partition maps to the segment,
// offset and size of its newest record, so a get is one positioned read. Tombstones stay
// in the keydir until compaction drops them, so that compaction knows which delete
// records are still the newest word on their key. Keys are held as latin1 strings: one
// byte per character, the cheapest exact string form of arbitrary bytes for a Map key.
import type {Segment} from './segment.js'

export class KeydirEntry {
  constructor(
    public segment: Segment,
    public offset: number,
    /** Whole record size, header included. */
    public size: number,
    public tombstone: boolean,
    /** The hint buffer holding the description of the record (RecordDescriber) when the
     * entry was loaded from a hint or a scan at open; undefined for records written since. */
    public described: Buffer | undefined,
    /** Where in `described` the description starts. */
    public describedAt: number,
  ) {}
}

export function keyString(key: Uint8Array): string {
  return Buffer.isBuffer(key) ? key.toString('latin1') : Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1')
}

export class Keydir {
  private readonly entries = new Map<string, KeydirEntry>()
  /** Entries that are not tombstones. */
  liveKeys = 0

  get(key: string): KeydirEntry | undefined {
    return this.entries.get(key)
  }

  get size(): number {
    return this.entries.size
  }

  /** Records that the newest record for `key` is now at (segment, offset), described at
   * `describedAt` of `described` when known; moves live-byte accounting. */
  set(key: string, segment: Segment, offset: number, size: number, tombstone: boolean, described?: Buffer, describedAt = 0): void {
    const old = this.entries.get(key)
    if (old === undefined) {
      if (tombstone) return // nothing older is known here: the delete has nothing to hide
      this.entries.set(key, new KeydirEntry(segment, offset, size, tombstone, described, describedAt))
      this.liveKeys++
      segment.liveBytes += size
      return
    }
    if (!old.tombstone) {
      old.segment.liveBytes -= old.size
      this.liveKeys--
    }
    old.segment = segment
    old.offset = offset
    old.size = size
    old.tombstone = tombstone
    old.described = described
    old.describedAt = describedAt
    if (!tombstone) {
      segment.liveBytes += size
      this.liveKeys++
    }
  }

  /** Moves an entry to a copy of the same record (compaction), if it still points at the original. */
  move(key: string, from: Segment, fromOffset: number, to: Segment, toOffset: number): boolean {
    const entry = this.entries.get(key)
    if (entry?.segment !== from || entry.offset !== fromOffset) return false
    if (!entry.tombstone) {
      from.liveBytes -= entry.size
      to.liveBytes += entry.size
    }
    entry.segment = to
    entry.offset = toOffset
    return true
  }

  /** Forgets a tombstone that compaction dropped, if it is still the newest record of its key. */
  dropTombstone(key: string, segment: Segment, offset: number): void {
    const entry = this.entries.get(key)
    if (entry?.segment === segment && entry.offset === offset && entry.tombstone) this.entries.delete(key)
  }

  /** Drops every reference to descriptions loaded at open, so their hint buffers can go. */
  forgetDescriptions(): void {
    for (const entry of this.entries.values()) entry.described = undefined
  }

  /** Snapshot of the keys, for scans that must not see the map change under them. */
  keys(): string[] {
    return [...this.entries.keys()]
  }

  *inSegment(segment: Segment): Generator<[string, KeydirEntry]> {
    for (const pair of this.entries) if (pair[1].segment === segment) yield pair
  }
}
