// The simulated disk: an in-memory ObjectStore and MetaStore per node that survive the
// node's crashes. Bytes are copied in and out, so neither the node nor the checker can
// change a stored value by mutating a buffer it holds. A run may give the store a random
// latency, which lets concurrent requests on one node interleave around their reads and
// writes as they do on a real disk.
//
// Durability follows the store's sync mode (DESIGN §6, src/store/options.ts SyncMode), the
// way a power loss treats a log store: `always`: a put or delete is durable when it
// resolves; `interval` and `none`: it resolves at once and becomes durable at the next
// sync (every intervalMs, or for `none` whenever the operating system writes back), so a
// crash returns the store to what it held at its last sync (a prefix of its history, as a
// log replayed up to its last synced record). A crash also ends the incarnation that used
// the store: its operations under way never resolve, so the discarded node can neither
// finish a write after the crash nor learn that one finished.
import {Buffer} from 'node:buffer'
import {randomInt, type Random} from '../core/random.js'
import type {MetaStore, ObjectStore} from '../node/ports.js'
import type {SyncMode} from '../store/options.js'
import type {Scheduler} from './scheduler.js'

export interface MemoryObjectStoreOptions {
  readonly scheduler: Scheduler
  readonly random: Random
  /** Each get and put takes a uniform 0..latencyMsMax of virtual time; 0 answers at once. */
  readonly latencyMsMax: number
  /** Default `always`. */
  readonly sync?: SyncMode
  /** Sees every value once it is stored (the dot ledger). */
  readonly onPut?: (partition: number, key: Uint8Array, value: Uint8Array) => void
  /** Sees every deletion once it is done. */
  readonly onDelete?: (partition: number, key: Uint8Array) => void
}

export interface StoredEntry {
  readonly partition: number
  readonly key: Uint8Array
  readonly value: Uint8Array
}

/** What a crash changed: the entries as they were just before it, and as they are now. */
export interface CrashLoss {
  readonly before: readonly StoredEntry[]
  readonly after: readonly StoredEntry[]
}

/** A promise that never settles: what an operation of a crashed incarnation turns into. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined)
}

export class MemoryObjectStore implements ObjectStore {
  /** What reads see: everything written, synced or not. */
  private data = new Map<string, StoredEntry>()
  /** What a crash leaves: the state at the last sync (equal to `data` in `always` mode). */
  private durable = new Map<string, StoredEntry>()
  /** Bumped by each crash; an operation begun under an older one never resolves. */
  private epoch = 0
  private unsyncedChanges = 0
  readonly sync: SyncMode

  constructor(private readonly options: MemoryObjectStoreOptions) {
    this.sync = options.sync ?? {kind: 'always'}
  }

  async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const epoch = this.epoch
    await this.latency()
    if (epoch !== this.epoch) return never()
    const entry = this.data.get(entryKey(partition, key))
    return entry === undefined ? undefined : Uint8Array.from(entry.value)
  }

  async put(partition: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    const epoch = this.epoch
    const copy = Uint8Array.from(value)
    await this.latency()
    if (epoch !== this.epoch) return never()
    const entry = {partition, key: Uint8Array.from(key), value: copy}
    this.change((map) => map.set(entryKey(partition, key), entry))
    this.options.onPut?.(partition, key, copy)
  }

  async delete(partition: number, key: Uint8Array): Promise<void> {
    const epoch = this.epoch
    await this.latency()
    if (epoch !== this.epoch) return never()
    this.change((map) => map.delete(entryKey(partition, key)))
    this.options.onDelete?.(partition, key)
  }

  /** A partition's entries in key order; no latency, so a node can load at start before
   * the simulated clock runs. */
  async *entries(partition: number): AsyncIterable<{readonly key: Uint8Array; readonly value: Uint8Array}> {
    for (const entry of this.list().filter((candidate) => candidate.partition === partition)) yield {key: entry.key, value: entry.value}
  }

  async partitions(): Promise<number[]> {
    return [...new Set([...this.data.values()].map((entry) => entry.partition))].sort((a, b) => a - b)
  }

  async drop(partition: number): Promise<void> {
    const epoch = this.epoch
    await Promise.resolve()
    if (epoch !== this.epoch) return never()
    for (const entry of this.list().filter((candidate) => candidate.partition === partition)) {
      this.change((map) => map.delete(entryKey(partition, entry.key)))
      this.options.onDelete?.(partition, entry.key)
    }
  }

  /** Every stored value (synced or not), copied, in key order (deterministic). */
  list(): StoredEntry[] {
    return listOf(this.data)
  }

  /** Changes written since the last sync (0 in `always` mode). */
  get unsynced(): number {
    return this.unsyncedChanges
  }

  /** Makes everything written so far durable (the periodic fsync of `interval`/`none`). */
  flush(): void {
    if (this.unsyncedChanges === 0) return
    this.durable = new Map(this.data)
    this.unsyncedChanges = 0
  }

  /** A power loss: the store returns to its last sync and the operations under way never
   * finish. Returns the entries before and after, for the ledger. */
  crash(): CrashLoss {
    const before = this.list()
    this.epoch++
    this.data = new Map(this.durable)
    this.unsyncedChanges = 0
    return {before, after: this.list()}
  }

  /** The disk is replaced by an empty one (a failed disk, a deleted data directory). */
  wipe(): CrashLoss {
    const before = this.list()
    this.epoch++
    this.data = new Map()
    this.durable = new Map()
    this.unsyncedChanges = 0
    return {before, after: []}
  }

  private change(apply: (map: Map<string, StoredEntry>) => void): void {
    apply(this.data)
    if (this.sync.kind === 'always') apply(this.durable)
    else this.unsyncedChanges++
  }

  private latency(): Promise<void> {
    const {latencyMsMax} = this.options
    return latencyMsMax === 0 ? Promise.resolve() : this.options.scheduler.sleep(randomInt(this.options.random, latencyMsMax + 1))
  }
}

function entryKey(partition: number, key: Uint8Array): string {
  return `${partition}:${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`
}

function listOf(map: ReadonlyMap<string, StoredEntry>): StoredEntry[] {
  return [...map.keys()]
    .sort()
    .map((name) => map.get(name)!)
    .map((entry) => ({partition: entry.partition, key: Uint8Array.from(entry.key), value: Uint8Array.from(entry.value)}))
}

/** The simulated node's small persisted documents. The MetaStore port promises that a
 * write is durable when it resolves (the daemon syncs it), whatever the object store's sync
 * mode, so a crash keeps every completed write; an incarnation's later operations never
 * resolve. */
export class MemoryMetaStore implements MetaStore {
  private readonly documents = new Map<string, Uint8Array>()
  private epoch = 0

  async read(name: string): Promise<Uint8Array | undefined> {
    const epoch = this.epoch
    await Promise.resolve()
    if (epoch !== this.epoch) return never()
    const bytes = this.documents.get(name)
    return bytes === undefined ? undefined : Uint8Array.from(bytes)
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const epoch = this.epoch
    const copy = Uint8Array.from(bytes)
    await Promise.resolve()
    if (epoch !== this.epoch) return never()
    this.documents.set(name, copy)
  }

  crash(): void {
    this.epoch++
  }

  /** Every document is gone with the disk. */
  wipe(): void {
    this.epoch++
    this.documents.clear()
  }
}
