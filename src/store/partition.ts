// One partition's log (Bitcask, Sheehy & Smith 2010): closed segments, one active segment,
// the keydir over all of them, the group committer that appends, and compaction. Reads
// are one positioned read of the record the keydir points to, checked against its CRC.
import {join} from 'node:path'
import {checkKey, checkValue} from '../core/limits.js'
import {compact, selectSegments, type CompactionReport} from './compaction.js'
import {CompactionIncompleteError, CorruptRecordError, StoreClosedError} from './errors.js'
import {Keydir, keyString} from './keydir.js'
import type {ResolvedOptions} from './options.js'
import {encodeRecord, flagTombstone, flagValue, valueOfRecord} from './record.js'
import {buildHint, finishInterruptedWork, loadSegments, writeFileAtomically, type LoadCounters} from './recovery.js'
import {dataFileName, hintFileName, Segment} from './segment.js'
import type {Journal} from './journal.js'
import {GroupCommitter, type PendingWrite} from './sync.js'

export interface PartitionStats {
  /** Keys with a value. */
  keys: number
  /** Delete records still remembered (until compaction may drop them). */
  tombstones: number
  /** Bytes of records that hold current values. */
  liveBytes: number
  /** Bytes of superseded records, tombstones and skipped corrupt records: what compaction can reclaim. */
  deadBytes: number
  /** Segment files, the active one included. */
  segments: number
  /** Corrupt records skipped while scanning at open. */
  corruptRecordsSkipped: number
  /** Records that failed their checksum when read back (not served). */
  corruptReads: number
  /** Bytes of torn tails cut at open. */
  tornTailBytesTruncated: number
  /** Hint files rejected at open (their segments were scanned instead). */
  hintsRejected: number
  compactions: number
  /** Group commits written. */
  batchesWritten: number
  /** Data syncs of this partition's own segments that made writes durable; with a journal
   * (sync `always`), the journal's syncs do that instead and this stays 0. */
  syncs: number
  /** Records (puts and deletes) those syncs made durable. */
  syncedRecords: number
}

/** Entries a scan reads with blocking reads before it lets the event loop run: about 1 ms
 * of page-cache reads of 1 KiB records. */
const entriesPerTurnMax = 256

export interface Entry {
  key: Buffer
  value: Buffer
}

/** Live keys (latin1: one character per byte, as keydir.ts) with the descriptions of their
 * values (StoreOptions.describer), back to back in key order. */
export interface DescribedKeys {
  keys: string[]
  descriptions: Buffer
}

/** Keys per batch that `described` yields: an await per batch, not per key. */
const describedBatchKeys = 1024

export class Partition {
  private closed = false
  private compacting: Promise<CompactionReport> | undefined
  /** Set when a compaction failed after its commit point; only a reopen finishes that swap. */
  private compactionBlocked: CompactionIncompleteError | undefined
  private readonly pendingHints = new Set<Promise<void>>()
  private readonly writer: GroupCommitter
  private corruptReads = 0
  private compactions = 0

  private constructor(
    readonly index: number,
    readonly dir: string,
    private readonly options: ResolvedOptions,
    private readonly keydir: Keydir,
    private closedSegments: Segment[],
    private active: Segment,
    private readonly counters: LoadCounters,
    journal: Journal | undefined,
  ) {
    this.writer = new GroupCommitter(
      {
        activeSegment: () => this.activeSegment(),
        applied: (segment, batch, offset) => this.applied(segment, batch, offset),
        logger: options.logger,
      },
      options.sync,
      options.segmentBytesMax,
      journal === undefined ? undefined : {journal, partition: index},
    )
  }

  /** `journal`: in sync `always` mode, the store's journal, which makes batches durable. */
  static async open(options: ResolvedOptions, dir: string, index: number, journal?: Journal): Promise<Partition> {
    const {files} = options
    await files.mkdir(dir)
    await finishInterruptedWork(files, dir)
    const keydir = new Keydir()
    const counters: LoadCounters = {corruptRecords: 0, corruptBytes: 0, truncatedBytes: 0, hintsRejected: 0}
    const names = new Set(await files.list(dir))
    const segments = await loadSegments({files, dir, names, keydir, counters, logger: options.logger, describer: options.describer})
    const active = await createSegment(options, dir, (segments[segments.length - 1]?.id ?? 0) + 1)
    return new Partition(index, dir, options, keydir, segments, active, counters, journal)
  }

  get isOpen(): boolean {
    return !this.closed
  }

  get(key: Uint8Array): Promise<Buffer | undefined> {
    try {
      this.checkOpen()
      checkKey(key)
    } catch (error) {
      return Promise.reject(error)
    }
    const entry = this.keydir.get(keyString(key))
    if (entry === undefined || entry.tombstone) return Promise.resolve(undefined)
    const {segment, offset, size} = entry
    if (this.options.readMode === 'threadpool') return segment.read(offset, size).then((record) => this.checked(record, key, entry))
    try {
      return Promise.resolve(this.checked(segment.readNow(offset, size), key, entry))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** The value of a record read back, or CorruptRecordError: a record failing its checksum is never served. */
  private checked(record: Buffer, key: Uint8Array, entry: {segment: Segment; offset: number}): Buffer {
    const value = valueOfRecord(record, key)
    if (value !== undefined) return value
    this.corruptReads++
    throw new CorruptRecordError(entry.segment.path, entry.offset)
  }

  /** Stores a value; resolves once it is durable (sync `always`) or written (other modes). */
  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.checkOpen()
    checkKey(key)
    checkValue(value, this.options.valueBytesMax)
    return this.append(flagValue, key, value)
  }

  /** Deletes a key by appending a tombstone record. */
  async delete(key: Uint8Array): Promise<void> {
    this.checkOpen()
    checkKey(key)
    return this.append(flagTombstone, key, undefined)
  }

  /**
   * Every live entry, for handoff and anti-entropy. Keys are those present when the scan
   * starts; a key deleted meanwhile is skipped, a key overwritten meanwhile yields its
   * newer value. A record failing its checksum is counted and skipped, never yielded.
   */
  async *entries(): AsyncGenerator<Entry> {
    let sinceYield = 0
    for (const name of this.keydir.keys()) {
      // Blocking reads do not return to the event loop by themselves: give it a turn now
      // and then, so that a long scan (a handoff's, while the node serves) stalls no
      // request for more than about a millisecond.
      if (++sinceYield === entriesPerTurnMax) {
        sinceYield = 0
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
      this.checkOpen()
      const entry = this.keydir.get(name)
      if (entry === undefined || entry.tombstone) continue
      const key = Buffer.from(name, 'latin1')
      try {
        // As gets do (ReadMode): a blocking pread costs a fraction of a thread-pool round
        // trip when the page is cached, and a node reads every value this way at start.
        const record = this.options.readMode === 'threadpool' ? await entry.segment.read(entry.offset, entry.size) : entry.segment.readNow(entry.offset, entry.size)
        yield {key, value: this.checked(record, key, entry)}
      } catch (error) {
        if (!(error instanceof CorruptRecordError)) throw error
      }
    }
  }

  /** The live keys when the call is made. */
  keys(): Buffer[] {
    const keys: Buffer[] = []
    for (const [name, slot] of this.keydir.slots()) if (!this.keydir.isTombstoneAt(slot)) keys.push(Buffer.from(name, 'latin1'))
    return keys
  }

  /**
   * Every live key with the description of its value, in batches, for an owner that indexes
   * the partition at start: the descriptions read at open from hint files (or from the scan
   * that replaced a hint) cost no value read. Each of those is handed out once and then
   * forgotten, freeing its hint buffer; a key written since, or described before, has its
   * value read and described. Needs StoreOptions.describer. A key written or deleted
   * while the batches are read may or may not be in them.
   */
  async *described(): AsyncGenerator<DescribedKeys> {
    const describer = this.options.describer
    if (describer === undefined) throw new Error('assertion failed: described() needs a store opened with a describer')
    const width = describer.bytes
    let batch: DescribedKeys = {keys: [], descriptions: Buffer.allocUnsafe(describedBatchKeys * width)}
    for (const [name, slot] of this.keydir.slots()) {
      this.checkOpen()
      if (this.keydir.isTombstoneAt(slot)) continue
      const at = batch.keys.length * width
      if (!this.keydir.takeDescriptionAt(slot, width, batch.descriptions, at)) {
        const key = Buffer.from(name, 'latin1')
        const entry = this.keydir.get(name)
        if (entry === undefined || entry.tombstone) continue
        try {
          const record = this.options.readMode === 'threadpool' ? await entry.segment.read(entry.offset, entry.size) : entry.segment.readNow(entry.offset, entry.size)
          batch.descriptions.set(describer.describe(key, this.checked(record, key, entry)), at)
        } catch (error) {
          if (!(error instanceof CorruptRecordError)) throw error
          continue
        }
      }
      batch.keys.push(name)
      if (batch.keys.length === describedBatchKeys) {
        yield batch
        batch = {keys: [], descriptions: Buffer.allocUnsafe(describedBatchKeys * width)}
      }
    }
    if (batch.keys.length > 0) yield {keys: batch.keys, descriptions: batch.descriptions.subarray(0, batch.keys.length * width)}
  }

  stats(): PartitionStats {
    let bytes = 0
    let liveBytes = 0
    for (const segment of [...this.closedSegments, this.active]) {
      bytes += segment.size
      liveBytes += segment.liveBytes
    }
    return {
      keys: this.keydir.liveKeys,
      tombstones: this.keydir.size - this.keydir.liveKeys,
      liveBytes,
      deadBytes: bytes - liveBytes,
      segments: this.closedSegments.length + 1,
      corruptRecordsSkipped: this.counters.corruptRecords,
      corruptReads: this.corruptReads,
      tornTailBytesTruncated: this.counters.truncatedBytes,
      hintsRejected: this.counters.hintsRejected,
      compactions: this.compactions,
      batchesWritten: this.writer.batches,
      syncs: this.writer.syncs,
      syncedRecords: this.writer.syncedRecords,
    }
  }

  /** Dead bytes a compaction would reclaim now: those of the closed segments whose dead
   * ratio reaches the threshold. 0 while a compaction runs or after one could not finish. */
  get compactableBytes(): number {
    if (!this.isOpen || this.compacting !== undefined || this.compactionBlocked !== undefined) return 0
    return selectSegments(this.closedSegments, this.options.compactionDeadRatioMin).reduce((sum, segment) => sum + segment.deadBytes, 0)
  }

  /** Merges closed segments whose dead-byte ratio reaches the threshold; one compaction at a time. */
  compact(): Promise<CompactionReport> {
    this.checkOpen()
    if (this.compactionBlocked !== undefined) return Promise.reject(this.compactionBlocked)
    this.compacting ??= this.runCompaction().finally(() => {
      this.compacting = undefined
    })
    return this.compacting
  }

  /** Finishes queued writes, writes the active segment's hint and closes the files. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.settle()
    this.closed = true
    await this.writer.flush()
    this.writer.stop()
    await this.closeActive()
    await Promise.all(this.closedSegments.map((segment) => segment.retire()))
  }

  /**
   * Stops as a killed process would, for recovery tests: nothing more is written (no
   * final sync, no hint for the active segment); work already under way finishes first
   * so that it cannot touch the directory after a reopen.
   */
  async crash(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.writer.stop()
    await this.settle()
    await this.writer.idle()
    await Promise.all([...this.closedSegments, this.active].map((segment) => segment.retire()))
  }

  private async settle(): Promise<void> {
    await this.compacting?.catch(() => {})
    await Promise.all(this.pendingHints)
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError(`partition ${this.index}`)
  }

  private append(flags: number, key: Uint8Array, value: Uint8Array | undefined): Promise<void> {
    const record = encodeRecord(flags, key, value)
    return new Promise<void>((resolve, reject) => {
      this.writer.submit({record, key: keyString(key), tombstone: flags === flagTombstone, resolve, reject})
    })
  }

  private applied(segment: Segment, batch: readonly PendingWrite[], offset: number): void {
    let at = offset
    for (const write of batch) {
      this.keydir.set(write.key, segment, at, write.record.length, write.tombstone)
      at += write.record.length
    }
  }

  /** Called by the committer before each batch: rolls over a full active segment. */
  private async activeSegment(): Promise<Segment> {
    if (this.active.size < this.options.segmentBytesMax) return this.active
    const full = this.active
    await this.writer.syncBeforeRoll(full)
    this.active = await createSegment(this.options, this.dir, full.id + 1)
    this.closedSegments.push(full)
    this.trackHint(full)
    return this.active
  }

  private trackHint(segment: Segment): void {
    const writing = this.writeHint(segment).finally(() => this.pendingHints.delete(writing))
    this.pendingHints.add(writing)
  }

  private async writeHint(segment: Segment): Promise<void> {
    try {
      await writeFileAtomically(this.options.files, this.dir, hintFileName(segment.id), await buildHint(segment, this.options.describer))
    } catch {
      // A hint only speeds up startup; without one the segment is scanned.
    }
  }

  private async closeActive(): Promise<void> {
    const active = this.active
    if (active.size === 0) {
      await active.retire()
      await this.options.files.unlink(join(this.dir, dataFileName(active.id)))
      return
    }
    await this.writeHint(active)
    await active.retire()
  }

  private async runCompaction(): Promise<CompactionReport> {
    await Promise.all(this.pendingHints)
    const report = await compact({
      files: this.options.files,
      dir: this.dir,
      keydir: this.keydir,
      segmentBytesMax: this.options.segmentBytesMax,
      deadRatioMin: this.options.compactionDeadRatioMin,
      logger: this.options.logger,
      describer: this.options.describer,
      closedSegments: [...this.closedSegments],
      swap: (removed, added) => this.swap(removed, added),
    }).catch((error: unknown) => {
      if (error instanceof CompactionIncompleteError) this.compactionBlocked = error
      throw error
    })
    this.compactions++
    return report
  }

  private swap(removed: readonly Segment[], added: readonly Segment[]): void {
    const gone = new Set(removed)
    this.closedSegments = [...this.closedSegments.filter((segment) => !gone.has(segment)), ...added].sort((a, b) => a.id - b.id)
    for (const segment of removed) {
      this.keydir.forgetSegment(segment)
      void segment.retire()
    }
  }
}

/** A new, empty active segment whose directory entry is durable before anything is written to it. */
async function createSegment(options: ResolvedOptions, dir: string, id: number): Promise<Segment> {
  const file = await options.files.open(join(dir, dataFileName(id)), 'create')
  await options.files.syncDir(dir)
  return new Segment(id, dir, file, 0)
}
