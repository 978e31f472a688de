// Scanning a segment file record by record, for recovery and for building hint files
// (Bitcask: "if no hint file, scan the data file"). The rules, DESIGN §6:
// - a record that parses and matches its CRC is visited;
// - a record that does not parse is skipped if a valid record follows somewhere after
//   it (corruption in the middle: counted, reported, never served);
// - if nothing valid follows, the rest of the file is a torn tail: the log ends there.
import type {StoreFile} from './files.js'
import {newParsedRecord, parseBad, parseIncomplete, parseOk, parseRecordAt, recordHeaderBytes, type ParsedRecord} from './record.js'

/** Scans read the file in chunks of this size: large sequential reads, bounded memory. */
export const scanChunkBytes = 4 * 1024 * 1024

export type RecordVisitor = (bytes: Buffer, keyStart: number, record: ParsedRecord, offset: number) => void

export interface ScanResult {
  /** Where the valid log ends; bytes after it are a torn tail. */
  endOffset: number
  corruptRecords: number
  corruptBytes: number
}

/** A window of the file held in memory, reloaded as the scan moves on. */
class Window {
  bytes: Buffer = Buffer.alloc(0)
  start = 0
  length = 0

  constructor(
    private readonly file: StoreFile,
    readonly fileBytes: number,
  ) {}

  /** Makes file bytes [position, position + count) resident, as far as the file has them. */
  async ensure(position: number, count: number): Promise<void> {
    const wanted = Math.min(count, this.fileBytes - position)
    if (position >= this.start && position + wanted <= this.start + this.length) return
    const loadBytes = Math.min(Math.max(scanChunkBytes, count), this.fileBytes - position)
    if (this.bytes.length < loadBytes) this.bytes = Buffer.allocUnsafe(Math.max(loadBytes, scanChunkBytes))
    let done = 0
    while (done < loadBytes) {
      const got = await this.file.read(this.bytes, done, loadBytes - done, position + done)
      if (got === 0) break
      done += got
    }
    this.start = position
    this.length = done
  }
}

async function parseAt(window: Window, position: number, out: ParsedRecord): Promise<number> {
  await window.ensure(position, recordHeaderBytes)
  if (window.fileBytes - position < recordHeaderBytes) return parseIncomplete
  const at = position - window.start
  const size = recordHeaderBytes + window.bytes.readUInt16LE(at + 5) + window.bytes.readUInt32LE(at + 7)
  let status = parseRecordAt(window.bytes, at, window.length, out)
  if (status === parseIncomplete && position + size <= window.fileBytes) {
    await window.ensure(position, size)
    status = parseRecordAt(window.bytes, position - window.start, window.length, out)
  }
  return status
}

/** The first offset after `from` where a valid record starts, or undefined. */
async function resync(window: Window, from: number, out: ParsedRecord): Promise<number | undefined> {
  for (let position = from; position + recordHeaderBytes <= window.fileBytes; position++) {
    if ((await parseAt(window, position, out)) === parseOk) return position
  }
  return undefined
}

export async function scanSegmentFile(
  file: StoreFile,
  fileBytes: number,
  visit: RecordVisitor,
  onCorrupt: (offset: number, bytes: number) => void,
): Promise<ScanResult> {
  const window = new Window(file, fileBytes)
  const out = newParsedRecord()
  const result: ScanResult = {endOffset: 0, corruptRecords: 0, corruptBytes: 0}
  let position = 0
  while (position < fileBytes) {
    const status = await parseAt(window, position, out)
    if (status === parseOk) {
      visit(window.bytes, position - window.start + recordHeaderBytes, out, position)
      position += out.size
      continue
    }
    if (status !== parseBad && status !== parseIncomplete) break
    const next = await resync(window, position + 1, out)
    if (next === undefined) break
    onCorrupt(position, next - position)
    result.corruptRecords++
    result.corruptBytes += next - position
    position = next
  }
  result.endOffset = Math.min(position, fileBytes)
  return result
}
