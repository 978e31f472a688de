// The ObjectStore port (src/node/ports.ts) over the log store (src/store, DESIGN §6): one
// Bitcask log per partition, opened on first use and kept open until the node stops, so
// that a request never pays for recovery twice. Partitions already on disk are opened at
// start (recoverAll), which surfaces torn or corrupt records in the log before serving and
// makes their keys count in /status from the first moment.
import {objectDescriber} from '../node/descriptions.js'
import type {DescribedBatch, ObjectStore} from '../node/ports.js'
import {LogStore, type CompactionReport, type Partition, type PartitionStats, type StoreEvent, type SyncMode} from '../store/index.js'
import {valueBytesMaxCeiling} from '../core/limits.js'

/** The store statistics /status and /metrics show, summed over open partitions. */
export interface StoreTotals {
  partitionsOpen: number
  keys: number
  tombstones: number
  liveBytes: number
  deadBytes: number
  segments: number
  /** Skipped at open plus failed reads. */
  corruptRecords: number
  tornTailBytesTruncated: number
  batchesWritten: number
  /** Data syncs that made writes durable: the journal's with sync always, else the partitions'. */
  syncs: number
  /** Records (puts, deletes) those syncs made durable. */
  syncedRecords: number
}

export interface LogObjectStoreOptions {
  dataDir: string
  sync: SyncMode
  logger?: (event: StoreEvent) => void
  /** A segment rolls over at this size (the store's default when absent). */
  segmentBytesMax?: number
}

/** Partitions recoverAll opens concurrently. */
const partitionsOpenedAtOnce = 4

export class LogObjectStore implements ObjectStore {
  private readonly store: LogStore
  /** Partitions open so far, for statistics (the LogStore keeps them open). */
  private readonly opened = new Map<number, Partition>()

  private constructor(store: LogStore) {
    this.store = store
  }

  /** Opens and locks the data directory; rejects with StoreLockedError when another process holds it. */
  static async open(options: LogObjectStoreOptions): Promise<LogObjectStore> {
    const store = await LogStore.open({
      dir: options.dataDir,
      sync: options.sync,
      // The store holds encoded objects (every sibling of a key), not single client values:
      // the node enforces the client value limit, the frame limit bounds the object.
      valueBytesMax: valueBytesMaxCeiling,
      // Hint files describe every object (descriptions.ts), so that the node indexes a
      // partition at start without reading its values.
      describer: objectDescriber,
      ...(options.logger === undefined ? {} : {logger: options.logger}),
      ...(options.segmentBytesMax === undefined ? {} : {segmentBytesMax: options.segmentBytesMax}),
    })
    return new LogObjectStore(store)
  }

  get dir(): string {
    return this.store.dir
  }

  /** Opens every partition present on disk; resolves with how many. A few open at once:
   * opening is mostly CPU (indexing hints), but each also waits on small file operations
   * (listing, opening, a directory fsync for its new active segment) that the others'
   * indexing can fill. */
  async recoverAll(): Promise<number> {
    const indexes = await this.store.partitionsOnDisk()
    let next = 0
    const opener = async (): Promise<void> => {
      while (next < indexes.length) await this.partition(indexes[next++]!)
    }
    await Promise.all(Array.from({length: Math.min(partitionsOpenedAtOnce, indexes.length)}, opener))
    return indexes.length
  }

  async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.partition(partition)).get(key)
  }

  async put(partition: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    await (await this.partition(partition)).put(key, value)
  }

  async delete(partition: number, key: Uint8Array): Promise<void> {
    await (await this.partition(partition)).delete(key)
  }

  async *entries(partition: number): AsyncIterable<{readonly key: Uint8Array; readonly value: Uint8Array}> {
    yield* (await this.partition(partition)).entries()
  }

  async *keys(partition: number): AsyncIterable<Uint8Array> {
    yield* (await this.partition(partition)).keys()
  }

  async *described(partition: number): AsyncIterable<DescribedBatch> {
    yield* (await this.partition(partition)).described()
  }

  async partitions(): Promise<number[]> {
    const onDisk = await this.store.partitionsOnDisk()
    return [...new Set([...onDisk, ...this.opened.keys()])].sort((a, b) => a - b)
  }

  async drop(partition: number): Promise<void> {
    this.opened.delete(partition)
    await this.store.dropPartition(partition)
  }

  totals(): StoreTotals {
    const totals: StoreTotals = {
      partitionsOpen: 0,
      keys: 0,
      tombstones: 0,
      liveBytes: 0,
      deadBytes: 0,
      segments: 0,
      corruptRecords: 0,
      tornTailBytesTruncated: 0,
      batchesWritten: 0,
      syncs: 0,
      syncedRecords: 0,
    }
    for (const partition of this.opened.values()) {
      if (!partition.isOpen) continue
      addStats(totals, partition.stats())
    }
    const journal = this.store.journalStats()
    if (journal !== undefined) {
      totals.syncs += journal.syncs
      totals.syncedRecords += journal.records
    }
    return totals
  }

  /** Compacts the open partition with the most bytes to reclaim, if any has some; resolves
   * with its index and report. Rejects with the store's error (DISK_FULL...). */
  async compactOne(): Promise<{partition: number; report: CompactionReport} | undefined> {
    let chosen: {index: number; partition: Partition; bytes: number} | undefined
    for (const [index, partition] of this.opened) {
      const bytes = partition.compactableBytes
      if (bytes > 0 && (chosen === undefined || bytes > chosen.bytes)) chosen = {index, partition, bytes}
    }
    if (chosen === undefined) return undefined
    return {partition: chosen.index, report: await chosen.partition.compact()}
  }

  /** Finishes queued writes, syncs, closes every partition and releases the lock. */
  async close(): Promise<void> {
    await this.store.close()
  }

  private async partition(index: number): Promise<Partition> {
    const partition = await this.store.openPartition(index)
    this.opened.set(index, partition)
    return partition
  }
}

function addStats(totals: StoreTotals, stats: PartitionStats): void {
  totals.partitionsOpen += 1
  totals.keys += stats.keys
  totals.tombstones += stats.tombstones
  totals.liveBytes += stats.liveBytes
  totals.deadBytes += stats.deadBytes
  totals.segments += stats.segments
  totals.corruptRecords += stats.corruptRecordsSkipped + stats.corruptReads
  totals.tornTailBytesTruncated += stats.tornTailBytesTruncated
  totals.batchesWritten += stats.batchesWritten
  totals.syncs += stats.syncs
  totals.syncedRecords += stats.syncedRecords
}
