// Hint files (Bitcask §"hint file"): for each closed segment, a compact index of its
// records (key, offset, size, flags) in log order, so that startup reads keys only and
// never the values. A hint is an optimisation: a missing or invalid hint means scanning
// the data file instead.
//
//   entry:  flags u8 | key length u16 | record size u32 | offset u32 | key
//   footer: magic u32 | entry count u32 | data file size u32 | crc32 u32
//
// Integers are little-endian. The hint is written whole (temporary name, fsync, rename)
// and used whole, so one CRC-32 over everything before it checks every entry; the data
// file size ties the hint to the exact data file it describes.
import {crc32} from 'node:zlib'
import {keyBytesMax} from '../core/limits.js'

export const hintEntryHeaderBytes = 11
export const hintFooterBytes = 16
/** "DYNH" */
const hintMagic = 0x484e5944

export interface HintEntry {
  flags: number
  key: Buffer
  offset: number
  size: number
}

/** Accumulates hint entries while a segment is scanned, then encodes the hint file. */
export class HintWriter {
  private chunks: Buffer[] = []
  private current = Buffer.allocUnsafe(64 * 1024)
  private used = 0
  private count = 0

  add(flags: number, keySource: Buffer, keyStart: number, keyBytes: number, offset: number, size: number): void {
    const need = hintEntryHeaderBytes + keyBytes
    if (this.used + need > this.current.length) {
      this.chunks.push(this.current.subarray(0, this.used))
      this.current = Buffer.allocUnsafe(Math.max(64 * 1024, need))
      this.used = 0
    }
    const out = this.current
    const at = this.used
    out[at] = flags
    out.writeUInt16LE(keyBytes, at + 1)
    out.writeUInt32LE(size, at + 3)
    out.writeUInt32LE(offset, at + 7)
    keySource.copy(out, at + hintEntryHeaderBytes, keyStart, keyStart + keyBytes)
    this.used += need
    this.count++
  }

  finish(dataBytes: number): Buffer {
    const footer = Buffer.allocUnsafe(hintFooterBytes)
    footer.writeUInt32LE(hintMagic, 0)
    footer.writeUInt32LE(this.count, 4)
    footer.writeUInt32LE(dataBytes, 8)
    const body = Buffer.concat([...this.chunks, this.current.subarray(0, this.used), footer.subarray(0, 12)])
    footer.writeUInt32LE(crc32(body), 12)
    return Buffer.concat([body, footer.subarray(12)])
  }
}

export type HintCheck = {ok: true; count: number} | {ok: false; reason: string}

/** Checks the footer and checksum of a hint file against the data file it should describe. */
export function checkHint(hint: Buffer, dataBytes: number): HintCheck {
  if (hint.length < hintFooterBytes) return {ok: false, reason: 'shorter than its footer'}
  const footer = hint.length - hintFooterBytes
  if (hint.readUInt32LE(footer) !== hintMagic) return {ok: false, reason: 'bad magic number'}
  if (crc32(hint.subarray(0, hint.length - 4)) !== hint.readUInt32LE(footer + 12)) return {ok: false, reason: 'checksum mismatch'}
  if (hint.readUInt32LE(footer + 8) !== dataBytes) return {ok: false, reason: 'describes a data file of another size'}
  return {ok: true, count: hint.readUInt32LE(footer + 4)}
}

/** Checks the framing of every entry of a checksummed hint; returns the entry count or undefined. */
export function countHintEntries(hint: Buffer, dataBytes: number): number | undefined {
  const end = hint.length - hintFooterBytes
  let at = 0
  let count = 0
  while (at < end) {
    if (end - at < hintEntryHeaderBytes) return undefined
    const keyBytes = hint.readUInt16LE(at + 1)
    const size = hint.readUInt32LE(at + 3)
    const offset = hint.readUInt32LE(at + 7)
    at += hintEntryHeaderBytes + keyBytes
    if (keyBytes === 0 || keyBytes > keyBytesMax || at > end || offset + size > dataBytes) return undefined
    count++
  }
  return count
}

/** Calls `visit` for each entry of a hint checked by checkHint and countHintEntries, in log order. */
export function forEachHintEntry(hint: Buffer, visit: (key: string, flags: number, offset: number, size: number) => void): void {
  const end = hint.length - hintFooterBytes
  let at = 0
  while (at < end) {
    const keyStart = at + hintEntryHeaderBytes
    const keyEnd = keyStart + hint.readUInt16LE(at + 1)
    visit(hint.toString('latin1', keyStart, keyEnd), hint[at] ?? 0, hint.readUInt32LE(at + 7), hint.readUInt32LE(at + 3))
    at = keyEnd
  }
}

/** A hint that passes every check, or the reason it does not. */
export function validHint(hint: Buffer, dataBytes: number): {ok: true} | {ok: false; reason: string} {
  const check = checkHint(hint, dataBytes)
  if (!check.ok) return check
  if (countHintEntries(hint, dataBytes) !== check.count) return {ok: false, reason: 'malformed entry'}
  return {ok: true}
}
