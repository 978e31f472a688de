// The first-seen times of tombstone-only keys (objects.ts, reaper.ts), kept across restarts
// so that a node restarted more often than the reaper's grace period still reaps. One
// MetaStore document per partition that holds tombstones, rewritten whole, in batches
// (the reaper's persistIntervalMs), never on the put path:
//
//   header: magic "DTT1" u32 | written at f64 (wall-clock ms; NaN: no wall clock) | count u32
//   entry:  key length u16 | key | digest (16 bytes) | held f64 (ms)
//
// Little-endian. `held` is how long this node had held that exact version (the digest) when
// the document was written, measured on the monotonic Clock; only the time between the
// write and the next start is taken from the wall clock, and a wall clock that went back
// counts that time as zero. So a jump of the wall clock while a node runs changes nothing,
// and one while it is down shortens or lengthens that node's downtime by the jump; a node
// without a wall clock counts its downtime as zero (reaping later, never sooner). A key is
// restored only when its current digest is the persisted one: any newer version starts its
// grace period afresh. A document that does not parse is ignored (its keys count from the
// start, as before any document existed); MetaStore writes replace documents atomically.
import {Buffer} from 'node:buffer'

/** "DTT1". */
const magic = 0x31545444
const headerBytes = 16
const digestBytes = 16

export function tombstoneTimesDocument(partition: number): string {
  return `tombstones-${partition}`
}

/** One tombstone-only key and how long this node has held its version. */
export interface HeldTombstone {
  /** The key as a latin1 name (objects.ts keyName). */
  readonly name: string
  readonly digest: Uint8Array
  readonly heldMs: number
}

export interface TombstoneTimes {
  /** Wall-clock ms when written; NaN when the node had no wall clock. */
  readonly writtenWallMs: number
  readonly entries: readonly HeldTombstone[]
}

export function encodeTombstoneTimes(times: TombstoneTimes): Uint8Array {
  let size = headerBytes
  for (const entry of times.entries) size += 2 + entry.name.length + digestBytes + 8
  const out = Buffer.alloc(size)
  out.writeUInt32LE(magic, 0)
  out.writeDoubleLE(times.writtenWallMs, 4)
  out.writeUInt32LE(times.entries.length, 12)
  let at = headerBytes
  for (const entry of times.entries) {
    out.writeUInt16LE(entry.name.length, at)
    out.write(entry.name, at + 2, 'latin1')
    at += 2 + entry.name.length
    out.set(entry.digest.subarray(0, digestBytes), at)
    out.writeDoubleLE(entry.heldMs, at + digestBytes)
    at += digestBytes + 8
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** The document, or undefined when it does not parse. */
export function decodeTombstoneTimes(bytes: Uint8Array): TombstoneTimes | undefined {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (input.length < headerBytes || input.readUInt32LE(0) !== magic) return undefined
  const writtenWallMs = input.readDoubleLE(4)
  const count = input.readUInt32LE(12)
  const entries: HeldTombstone[] = []
  let at = headerBytes
  for (let i = 0; i < count; i++) {
    if (at + 2 > input.length) return undefined
    const keyBytes = input.readUInt16LE(at)
    const end = at + 2 + keyBytes + digestBytes + 8
    if (keyBytes === 0 || end > input.length) return undefined
    const name = input.toString('latin1', at + 2, at + 2 + keyBytes)
    const digestAt = at + 2 + keyBytes
    const heldMs = input.readDoubleLE(digestAt + digestBytes)
    if (!Number.isFinite(heldMs) || heldMs < 0) return undefined
    entries.push({name, digest: new Uint8Array(input.subarray(digestAt, digestAt + digestBytes)), heldMs})
    at = end
  }
  return at === input.length ? {writtenWallMs, entries} : undefined
}

/** How long a tombstone persisted with `heldMs` has been held at a start at `wallNowMs`:
 * the held time plus the downtime the wall clock shows, none when it went back or is
 * unknown (NaN on either side). */
export function heldAtStartMs(heldMs: number, writtenWallMs: number, wallNowMs: number): number {
  const downMs = wallNowMs - writtenWallMs
  return heldMs + (Number.isFinite(downMs) && downMs > 0 ? downMs : 0)
}
