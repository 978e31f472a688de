// The on-disk record of a segment file (Bitcask, Sheehy & Smith 2010, "data file format",
// without the timestamp: order comes from the segment id and the offset).
//
//   0      4       5            7              11          11+K
//   +------+-------+------------+--------------+-----------+-----------+
//   | crc32| flags | key length | value length |    key    |   value   |
//   | u32  |  u8   |   u16      |    u32       |  K bytes  |  V bytes  |
//   +------+-------+------------+--------------+-----------+-----------+
//
// Integers are little-endian. The CRC-32 (IEEE, as zlib) covers every byte after itself,
// so a torn or flipped record is detected before it can be served.
import {crc32} from 'node:zlib'
import {keyBytesMax, valueBytesMaxCeiling} from '../core/limits.js'

export const recordHeaderBytes = 11

/** flags: a put of a value. */
export const flagValue = 0
/** flags: a delete; carries no value. Dropped by compaction once nothing older remains. */
export const flagTombstone = 1

/** Largest record the store can ever write: framing with lengths beyond this is garbage. */
export const recordBytesMax = recordHeaderBytes + keyBytesMax + valueBytesMaxCeiling

export function recordBytes(keyBytes: number, valueBytes: number): number {
  return recordHeaderBytes + keyBytes + valueBytes
}

/** Encodes one record into a fresh buffer. */
export function encodeRecord(flags: number, key: Uint8Array, value: Uint8Array | undefined): Buffer {
  const valueBytes = value === undefined ? 0 : value.length
  const record = Buffer.allocUnsafe(recordHeaderBytes + key.length + valueBytes)
  record[4] = flags
  record.writeUInt16LE(key.length, 5)
  record.writeUInt32LE(valueBytes, 7)
  record.set(key, recordHeaderBytes)
  if (value !== undefined) record.set(value, recordHeaderBytes + key.length)
  record.writeUInt32LE(crc32(record.subarray(4)), 0)
  return record
}

export const parseOk = 0
/** The bytes end before the record does: a torn tail, or a chunk boundary while scanning. */
export const parseIncomplete = 1
/** Impossible framing or a checksum mismatch. */
export const parseBad = 2
export type ParseStatus = typeof parseOk | typeof parseIncomplete | typeof parseBad

/** Filled by `parseRecordAt`; reused across calls so that scanning allocates nothing per record. */
export interface ParsedRecord {
  flags: number
  keyBytes: number
  valueBytes: number
  /** Whole record, header included. */
  size: number
}

export function newParsedRecord(): ParsedRecord {
  return {flags: 0, keyBytes: 0, valueBytes: 0, size: 0}
}

/** Parses the record starting at `position` of `bytes` (valid up to `end`), checking framing and CRC. */
export function parseRecordAt(bytes: Buffer, position: number, end: number, out: ParsedRecord): ParseStatus {
  if (end - position < recordHeaderBytes) return parseIncomplete
  const flags = bytes[position + 4] ?? 0
  const keyBytes = bytes.readUInt16LE(position + 5)
  const valueBytes = bytes.readUInt32LE(position + 7)
  if (!framingIsPossible(flags, keyBytes, valueBytes)) return parseBad
  const size = recordHeaderBytes + keyBytes + valueBytes
  if (end - position < size) return parseIncomplete
  if (crc32(bytes.subarray(position + 4, position + size)) !== bytes.readUInt32LE(position)) return parseBad
  out.flags = flags
  out.keyBytes = keyBytes
  out.valueBytes = valueBytes
  out.size = size
  return parseOk
}

function framingIsPossible(flags: number, keyBytes: number, valueBytes: number): boolean {
  if (keyBytes === 0 || keyBytes > keyBytesMax || valueBytes > valueBytesMaxCeiling) return false
  if (flags === flagValue) return true
  return flags === flagTombstone && valueBytes === 0
}

/** Checks a record read back by its keydir entry; returns the value or undefined if it is corrupt. */
const readBack = newParsedRecord()

export function valueOfRecord(record: Buffer, key: Uint8Array): Buffer | undefined {
  const out = readBack
  if (parseRecordAt(record, 0, record.length, out) !== parseOk || out.size !== record.length) return undefined
  if (out.keyBytes !== key.length || !record.subarray(recordHeaderBytes, recordHeaderBytes + out.keyBytes).equals(key)) {
    return undefined
  }
  return record.subarray(recordHeaderBytes + out.keyBytes)
}
