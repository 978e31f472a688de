// Hint files (Bitcask §"hint file"): for each closed segment, a compact index of its
// records (key, offset, size, flags) in log order, so that startup reads keys only and
// never the values. A hint is an optimisation: a missing or invalid hint means scanning
// the data file instead.
//
// A hint may also carry, for each value record, a description of the value: a few bytes
// the store's owner derives from the value (RecordDescriber; the node's is the version
// digest, Merkle contribution and sibling summary of the object, objects.ts), so that the
// owner, too, can index a partition at start without reading a single value.
//
//   entry:  flags u8 | key length u16 | record size u32 | offset u32 | description length u8 | key | description
//   footer: magic u32 | entry count u32 | data file size u32 | describer id u32 | crc32 u32
//
// Integers are little-endian. The hint is written whole (temporary name, fsync, rename)
// and used whole, so one CRC-32 over everything before it checks every entry; the data
// file size ties the hint to the exact data file it describes, and the describer id to the
// exact function that wrote its descriptions (0: none).
import {crc32} from 'node:zlib'
import {keyBytesMax} from '../core/limits.js'
import {flagValue} from './record.js'

export const hintEntryHeaderBytes = 12
export const hintFooterBytes = 20
/** "DYH2": hint format 2 (format 1, "DYNH", had no descriptions and is rebuilt by a scan). */
const hintMagic = 0x32485944
const hintMagicFormat1 = 0x484e5944
/** Longest description: its length is one byte. */
export const descriptionBytesMax = 255

/**
 * Derives a record's description from its key and value, for hint files. `id` names the
 * function and its output format (a hint written by another id is rebuilt from the data
 * file); `describe` must be a pure function of its input, never throw, and return exactly
 * `bytes` bytes.
 */
export interface RecordDescriber {
  readonly id: number
  readonly bytes: number
  describe(key: Buffer, value: Buffer): Uint8Array
}

/** Accumulates hint entries while a segment is scanned, then encodes the hint file. */
export class HintWriter {
  private chunks: Buffer[] = []
  private current = Buffer.allocUnsafe(64 * 1024)
  private used = 0
  private count = 0

  constructor(private readonly describer: RecordDescriber | undefined) {}

  /** The buffer the latest entry went to (entries go to one buffer until it is full). */
  get chunk(): Buffer {
    return this.current
  }

  /** Adds the record whose key starts at `keyStart` of `source`, its value right after it;
   * returns where in `chunk` its description went (-1: it has none). */
  add(flags: number, source: Buffer, keyStart: number, record: {keyBytes: number; valueBytes: number; size: number}, offset: number): number {
    const {keyBytes} = record
    const description = this.describe(flags, source, keyStart, record)
    const descriptionBytes = description?.length ?? 0
    const need = hintEntryHeaderBytes + keyBytes + descriptionBytes
    if (this.used + need > this.current.length) {
      this.chunks.push(this.current.subarray(0, this.used))
      this.current = Buffer.allocUnsafe(Math.max(64 * 1024, need))
      this.used = 0
    }
    const out = this.current
    const at = this.used
    out[at] = flags
    out.writeUInt16LE(keyBytes, at + 1)
    out.writeUInt32LE(record.size, at + 3)
    out.writeUInt32LE(offset, at + 7)
    out[at + 11] = descriptionBytes
    source.copy(out, at + hintEntryHeaderBytes, keyStart, keyStart + keyBytes)
    const descriptionAt = at + hintEntryHeaderBytes + keyBytes
    if (description !== undefined) out.set(description, descriptionAt)
    this.used += need
    this.count++
    return description === undefined ? -1 : descriptionAt
  }

  finish(dataBytes: number): Buffer {
    const footer = Buffer.allocUnsafe(hintFooterBytes)
    footer.writeUInt32LE(hintMagic, 0)
    footer.writeUInt32LE(this.count, 4)
    footer.writeUInt32LE(dataBytes, 8)
    footer.writeUInt32LE(this.describer?.id ?? 0, 12)
    const body = Buffer.concat([...this.chunks, this.current.subarray(0, this.used), footer.subarray(0, 16)])
    footer.writeUInt32LE(crc32(body), 16)
    return Buffer.concat([body, footer.subarray(16)])
  }

  private describe(flags: number, source: Buffer, keyStart: number, record: {keyBytes: number; valueBytes: number}): Uint8Array | undefined {
    if (this.describer === undefined || flags !== flagValue) return undefined
    const keyEnd = keyStart + record.keyBytes
    const description = this.describer.describe(source.subarray(keyStart, keyEnd), source.subarray(keyEnd, keyEnd + record.valueBytes))
    if (description.length !== this.describer.bytes) throw new Error(`assertion failed: a description of ${description.length} bytes, not ${this.describer.bytes}`)
    return description
  }
}

export type HintCheck = {ok: true; count: number} | {ok: false; reason: string}

/** Checks the footer and checksum of a hint file against the data file it should describe
 * and the describer the store uses (`describerId` 0: descriptions are not wanted). */
export function checkHint(hint: Buffer, dataBytes: number, describerId: number): HintCheck {
  if (hint.length < hintFooterBytes) return {ok: false, reason: 'shorter than its footer'}
  const footer = hint.length - hintFooterBytes
  const magic = hint.readUInt32LE(footer)
  if (hint.readUInt32LE(hint.length - 16) === hintMagicFormat1) return {ok: false, reason: 'written in hint format 1, without descriptions'}
  if (magic !== hintMagic) return {ok: false, reason: 'bad magic number'}
  if (crc32(hint.subarray(0, hint.length - 4)) !== hint.readUInt32LE(footer + 16)) return {ok: false, reason: 'checksum mismatch'}
  if (hint.readUInt32LE(footer + 8) !== dataBytes) return {ok: false, reason: 'describes a data file of another size'}
  if (describerId !== 0 && hint.readUInt32LE(footer + 12) !== describerId) return {ok: false, reason: 'holds no descriptions, or descriptions of another format'}
  return {ok: true, count: hint.readUInt32LE(footer + 4)}
}

/** Checks the framing of every entry of a checksummed hint; returns the entry count or undefined. */
export function countHintEntries(hint: Buffer, dataBytes: number, descriptionBytes: number): number | undefined {
  const end = hint.length - hintFooterBytes
  let at = 0
  let count = 0
  while (at < end) {
    if (end - at < hintEntryHeaderBytes) return undefined
    const flags = hint[at]
    const keyBytes = hint.readUInt16LE(at + 1)
    const size = hint.readUInt32LE(at + 3)
    const offset = hint.readUInt32LE(at + 7)
    const described = hint[at + 11] ?? 0
    at += hintEntryHeaderBytes + keyBytes + described
    if (keyBytes === 0 || keyBytes > keyBytesMax || at > end || offset + size > dataBytes) return undefined
    // With a describer, every value record is described and nothing else is.
    if (descriptionBytes !== 0 && described !== (flags === flagValue ? descriptionBytes : 0)) return undefined
    count++
  }
  return count
}

/** Calls `visit` for each entry of a hint checked by checkHint and countHintEntries, in log
 * order; `descriptionAt` is where the entry's description starts in `hint` (-1: none). */
export function forEachHintEntry(hint: Buffer, visit: (key: string, flags: number, offset: number, size: number, descriptionAt: number) => void): void {
  const end = hint.length - hintFooterBytes
  let at = 0
  while (at < end) {
    const keyStart = at + hintEntryHeaderBytes
    const keyEnd = keyStart + hint.readUInt16LE(at + 1)
    const described = hint[at + 11] ?? 0
    visit(hint.toString('latin1', keyStart, keyEnd), hint[at] ?? 0, hint.readUInt32LE(at + 7), hint.readUInt32LE(at + 3), described === 0 ? -1 : keyEnd)
    at = keyEnd + described
  }
}

/** A hint that passes every check, or the reason it does not. */
export function validHint(hint: Buffer, dataBytes: number, describer: RecordDescriber | undefined): {ok: true} | {ok: false; reason: string} {
  const check = checkHint(hint, dataBytes, describer?.id ?? 0)
  if (!check.ok) return check
  if (countHintEntries(hint, dataBytes, describer?.bytes ?? 0) !== check.count) return {ok: false, reason: 'malformed entry'}
  return {ok: true}
}
