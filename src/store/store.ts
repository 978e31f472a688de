// The log store of one node (DESIGN §6): one directory, locked against other processes,
// holding one Bitcask log per partition the node stores, in `dir/p-<index>/`.
import {join} from 'node:path'
import {InvalidStoreOptionError, StoreClosedError} from './errors.js'
import {Journal, type JournalStats} from './journal.js'
import {acquireLock, type StoreLock} from './lock.js'
import {resolveOptions, type ResolvedOptions, type StoreOptions} from './options.js'
import {Partition} from './partition.js'

/** Partition indexes are ring positions (Dynamo §6.2 strategy 3: Q equal partitions); far more than any ring uses. */
export const partitionIndexMax = 2 ** 24

const partitionDirPattern = /^p-(\d+)$/

export class LogStore {
  private readonly open = new Map<number, Promise<Partition>>()
  private closed = false

  private constructor(
    private readonly options: ResolvedOptions,
    private readonly lock: StoreLock,
    /** In sync `always` mode: the journal shared by every partition (journal.ts). */
    private readonly journal: Journal | undefined,
  ) {}

  /** Opens (creating if needed) and locks a store directory; in sync `always` mode, first
   * writes back into the partitions what the journal of an earlier process holds. */
  static async open(options: StoreOptions): Promise<LogStore> {
    const resolved = resolveOptions(options)
    await resolved.files.mkdir(resolved.dir)
    const lock = await acquireLock(resolved.dir, (pid) => resolved.logger({kind: 'staleLockTaken', path: resolved.dir, pid}))
    try {
      const journal = resolved.sync.kind === 'always' && resolved.journal ? await Journal.open({files: resolved.files, storeDir: resolved.dir, logger: resolved.logger}) : undefined
      return new LogStore(resolved, lock, journal)
    } catch (error) {
      await lock.release()
      throw error
    }
  }

  /** What the journal made durable, or undefined without one (sync other than `always`). */
  journalStats(): JournalStats | undefined {
    return this.journal === undefined ? undefined : {...this.journal.stats}
  }

  get dir(): string {
    return this.options.dir
  }

  /** Opens a partition (recovering it from disk), or returns it if it is open already. */
  async openPartition(index: number): Promise<Partition> {
    this.checkOpen()
    checkPartitionIndex(index)
    const opening = this.open.get(index)
    if (opening !== undefined) {
      const partition = await opening
      if (partition.isOpen) return partition
      this.open.delete(index)
      return this.openPartition(index)
    }
    const fresh = Partition.open(this.options, this.partitionDir(index), index, this.journal)
    this.open.set(index, fresh)
    fresh.catch(() => this.open.delete(index))
    return fresh
  }

  /** Partitions present on disk, open or not, in index order. */
  async partitionsOnDisk(): Promise<number[]> {
    const names = await this.options.files.list(this.options.dir)
    return names
      .map((name) => partitionDirPattern.exec(name)?.[1])
      .filter((index): index is string => index !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }

  async closePartition(index: number): Promise<void> {
    const opening = this.open.get(index)
    if (opening === undefined) return
    this.open.delete(index)
    await (await opening).close()
  }

  /** Closes a partition if open and deletes all its data (after handoff, DESIGN §5). */
  async dropPartition(index: number): Promise<void> {
    this.checkOpen()
    checkPartitionIndex(index)
    await this.closePartition(index)
    // No journal entry may outlive the directory: a new one of the same name would get them.
    await this.journal?.checkpoint()
    await this.options.files.removeDir(this.partitionDir(index))
    await this.options.files.syncDir(this.options.dir)
  }

  /** Closes every partition and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const index of [...this.open.keys()]) await this.closePartition(index)
    await this.journal?.close()
    await this.lock.release()
  }

  /** Stops as a killed process would: no final syncs or hints, and the lock file stays behind. */
  async crash(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.journal?.beginCrash()
    const partitions = await Promise.allSettled(this.open.values())
    for (const partition of partitions) if (partition.status === 'fulfilled') await partition.value.crash()
    this.open.clear()
    await this.journal?.crash()
    this.lock.abandon()
  }

  private partitionDir(index: number): string {
    return join(this.options.dir, `p-${index}`)
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError('store')
  }
}

function checkPartitionIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > partitionIndexMax) {
    throw new InvalidStoreOptionError('partition index', index, `an integer from 0 to ${partitionIndexMax}`)
  }
}
