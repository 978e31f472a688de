// Group commit (DESIGN §6; the technique of DeWitt et al. 1984 and of every database log
// since): puts queue their encoded records; one writer at a time takes everything queued,
// writes it with one positioned writev and, in `always` mode, makes it durable with one
// fdatasync before resolving any of the puts in the batch. Puts that arrive while a batch
// is being written and synced form the next batch, so the cost of a sync is shared by all
// writers waiting on it. Nothing is acknowledged before its record is durable.
//
// In `always` mode with a journal (journal.ts), the batch is written to the segment and then
// made durable by the node's journal, which shares one fdatasync among the batches of every
// partition; the segment itself is synced before it rolls over or closes.
//
// A failed write or sync (a full disk, an I/O error) truncates the segment back to where
// the batch began and rejects every put of that batch with a named error; reads go on,
// and the next batch writes at the same place once space is available.
import {errorCodeOf, writeErrorFor} from './errors.js'
import {writeAll, type StoreFile} from './files.js'
import type {Journal} from './journal.js'
import {batchBytesMax, batchRecordsMax, type StoreEvent, type SyncMode} from './options.js'
import type {Segment} from './segment.js'

export interface PendingWrite {
  readonly record: Buffer
  /** The key as a keydir string. */
  readonly key: string
  readonly tombstone: boolean
  resolve(): void
  reject(error: unknown): void
}

/** What the committer needs from its partition. */
export interface CommitTarget {
  /** The active segment, rolled over first if it is full. */
  activeSegment(): Promise<Segment>
  /** A batch is in the log (and durable in `always` mode) from `offset` on: index it. */
  applied(segment: Segment, batch: readonly PendingWrite[], offset: number): void
  logger(event: StoreEvent): void
}

export class GroupCommitter {
  private queue: PendingWrite[] = []
  private running: Promise<void> | undefined
  private intervalTimer: ReturnType<typeof setInterval> | undefined
  /** A segment written since its last sync (interval mode). */
  private unsynced: Segment | undefined
  /** Batches written, for stats. */
  batches = 0
  /** Data syncs of this partition's segments that made puts durable (not those of the journal). */
  syncs = 0
  /** Records those syncs made durable. */
  syncedRecords = 0

  constructor(
    private readonly target: CommitTarget,
    private readonly mode: SyncMode,
    private readonly segmentBytesMax: number,
    /** In `always` mode: the journal that makes batches durable, with this partition's index. */
    private readonly journal?: {readonly journal: Journal; readonly partition: number},
  ) {
    if (mode.kind === 'interval') {
      this.intervalTimer = setInterval(() => void this.syncUnsynced(), mode.intervalMs)
      this.intervalTimer.unref()
    }
  }

  submit(write: PendingWrite): void {
    this.queue.push(write)
    this.running ??= this.drain()
  }

  /** Resolves once everything submitted so far is written (and synced, whatever the mode). */
  async flush(): Promise<void> {
    await this.idle()
    await this.syncUnsynced()
  }

  /** Resolves once no batch is being written; syncs nothing. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  stop(): void {
    if (this.intervalTimer !== undefined) clearInterval(this.intervalTimer)
    this.intervalTimer = undefined
  }

  /** Before a segment closes for writing: make it durable whatever the mode. */
  async syncBeforeRoll(segment: Segment): Promise<void> {
    if (this.mode.kind === 'always' && this.journal === undefined) return
    await segment.file.datasync()
    if (this.unsynced === segment) this.unsynced = undefined
  }

  private async syncUnsynced(): Promise<void> {
    const segment = this.unsynced
    if (segment === undefined) return
    this.unsynced = undefined
    try {
      await segment.file.datasync()
    } catch (error) {
      this.unsynced = segment
      this.target.logger({kind: 'syncFailed', path: segment.path, code: errorCodeOf(error) ?? String(error)})
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const segment = await this.target.activeSegment()
        await this.commit(segment, this.takeBatch(this.segmentBytesMax - segment.size))
      }
    } catch (error) {
      // Rolling over failed: fail everything queued rather than leave it waiting.
      for (const write of this.queue.splice(0)) write.reject(error)
    } finally {
      this.running = undefined
    }
  }

  private takeBatch(roomBytes: number): PendingWrite[] {
    const limitBytes = Math.min(roomBytes, batchBytesMax)
    let count = 0
    let bytes = 0
    for (const write of this.queue) {
      if (count === batchRecordsMax || (count > 0 && bytes + write.record.length > limitBytes)) break
      bytes += write.record.length
      count++
    }
    return this.queue.splice(0, count)
  }

  private async commit(segment: Segment, batch: PendingWrite[]): Promise<void> {
    const offset = segment.size
    const records = batch.map((write) => write.record)
    try {
      if (this.mode.kind === 'always' && this.journal !== undefined) {
        // One buffer for both writes; the journal's entry is the segment's bytes exactly.
        const bytes = records.length === 1 ? records[0]! : Buffer.concat(records)
        await writeAll(segment.file, [bytes], offset, {onThisThread: true})
        this.unsynced = segment
        await this.journal.journal.append({partition: this.journal.partition, segment, offset, bytes, records: batch.length})
        segment.size = offset + bytes.length
      } else {
        const bytes = await writeAll(segment.file, records, offset, {onThisThread: true})
        if (this.mode.kind === 'always') {
          await segment.file.datasync()
          this.syncs++
          this.syncedRecords += batch.length
        } else this.unsynced = segment
        segment.size = offset + bytes
      }
    } catch (error) {
      await truncateQuietly(segment.file, offset)
      const failure = writeErrorFor(segment.path, error)
      for (const write of batch) write.reject(failure)
      return
    }
    this.batches++
    this.target.applied(segment, batch, offset)
    for (const write of batch) write.resolve()
  }
}

/** Best effort: the next batch overwrites from the same offset anyway, and recovery cuts a torn tail. */
async function truncateQuietly(file: StoreFile, length: number): Promise<void> {
  try {
    await file.truncate(length)
  } catch {
    // Nothing more to do here; see above.
  }
}
