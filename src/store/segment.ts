// A segment file of a partition (Bitcask "data file"): append-only while active, immutable
// once closed. Files are named by a zero-padded id so that name order is log order; a
// later segment's record for a key supersedes an earlier one, and within a segment a
// later offset supersedes an earlier one.
import {join} from 'node:path'
import {StoreClosedError} from './errors.js'
import type {StoreFile} from './files.js'

const idDigits = 12

export function dataFileName(id: number): string {
  return `${String(id).padStart(idDigits, '0')}.data`
}

export function hintFileName(id: number): string {
  return `${String(id).padStart(idDigits, '0')}.hint`
}

/** Suffix of files being written; recovery deletes them unless a compaction commit names them. */
export const tempSuffix = '.tmp'

/** The id of a segment data file name, or undefined for any other name. */
export function segmentIdOf(name: string): number | undefined {
  const match = /^(\d{12})\.data$/.exec(name)
  return match === null ? undefined : Number(match[1])
}

export class Segment {
  /** Bytes of the file that hold records (for the active segment: the next write position). */
  size: number
  /** Bytes of records that the keydir points to and that are not tombstones. */
  liveBytes = 0
  /** Reads in flight; the file is closed only when a retired segment has none. */
  private reads = 0
  private retired = false
  private closed = false

  constructor(
    readonly id: number,
    readonly dir: string,
    readonly file: StoreFile,
    size: number,
  ) {
    this.size = size
  }

  get path(): string {
    return join(this.dir, dataFileName(this.id))
  }

  get hintPath(): string {
    return join(this.dir, hintFileName(this.id))
  }

  get deadBytes(): number {
    return this.size - this.liveBytes
  }

  /** Reads exactly `length` bytes at `offset` with one blocking positioned read (see ReadMode). */
  readNow(offset: number, length: number): Buffer {
    if (this.closed) throw new StoreClosedError('partition')
    const bytes = Buffer.allocUnsafe(length)
    let at = 0
    while (at < length) {
      const got = this.file.readSync(bytes, at, length - at, offset + at)
      if (got === 0) return bytes.subarray(0, at)
      at += got
    }
    return bytes
  }

  /** Reads exactly `length` bytes at `offset`: one positioned read in the common case. */
  read(offset: number, length: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new StoreClosedError('partition'))
    this.reads++
    const bytes = Buffer.allocUnsafe(length)
    return this.file.read(bytes, 0, length, offset).then(
      (got) => (got === length ? this.readDone(bytes) : this.readRest(bytes, got, offset)),
      (error: unknown) => {
        void this.readDone(bytes)
        throw error
      },
    )
  }

  /** After a short read (rare: signals, or a file cut under us): read on, or return what is there. */
  private async readRest(bytes: Buffer, done: number, offset: number): Promise<Buffer> {
    try {
      let at = done
      while (at < bytes.length) {
        const got = await this.file.read(bytes, at, bytes.length - at, offset + at)
        if (got === 0) return bytes.subarray(0, at)
        at += got
      }
      return bytes
    } finally {
      this.readDone(bytes)
    }
  }

  private readDone(bytes: Buffer): Buffer {
    this.reads--
    if (this.retired && this.reads === 0) void this.closeFile()
    return bytes
  }

  /** Makes what was written durable (fdatasync). A retired segment was synced before it
   * retired (it rolled over, closed, or was compacted away), so there is nothing to do. */
  async sync(): Promise<void> {
    if (this.retired) return
    try {
      await this.file.datasync()
    } catch (error) {
      if (!this.retired) throw error
    }
  }

  /** No new reads will start; the file closes once reads in flight finish. */
  async retire(): Promise<void> {
    this.retired = true
    if (this.reads === 0) await this.closeFile()
  }

  private async closeFile(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.file.close()
  }
}
