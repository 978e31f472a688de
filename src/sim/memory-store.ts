// The simulated disk: an in-memory ObjectStore per node. Bytes are copied in and out, so
// neither the node nor the checker can change a stored value by mutating a buffer it holds.
// A run may give the store a random latency, which lets concurrent requests on one node
// interleave around their reads and writes as they do on a real disk.
import {Buffer} from 'node:buffer'
import {randomInt, type Random} from '../core/random.js'
import type {MetaStore, ObjectStore} from '../node/ports.js'
import type {Scheduler} from './scheduler.js'

export interface MemoryObjectStoreOptions {
  readonly scheduler: Scheduler
  readonly random: Random
  /** Each get and put takes a uniform 0..latencyMsMax of virtual time; 0 answers at once. */
  readonly latencyMsMax: number
  /** Sees every value once it is stored (the dot ledger). */
  readonly onPut?: (partition: number, key: Uint8Array, value: Uint8Array) => void
}

export interface StoredEntry {
  readonly partition: number
  readonly key: Uint8Array
  readonly value: Uint8Array
}

export class MemoryObjectStore implements ObjectStore {
  private readonly data = new Map<string, StoredEntry>()

  constructor(private readonly options: MemoryObjectStoreOptions) {}

  async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    await this.latency()
    const entry = this.data.get(entryKey(partition, key))
    return entry === undefined ? undefined : Uint8Array.from(entry.value)
  }

  async put(partition: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    const copy = Uint8Array.from(value)
    await this.latency()
    this.data.set(entryKey(partition, key), {partition, key: Uint8Array.from(key), value: copy})
    this.options.onPut?.(partition, key, copy)
  }

  async delete(partition: number, key: Uint8Array): Promise<void> {
    await this.latency()
    this.data.delete(entryKey(partition, key))
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
    for (const [name, entry] of this.data) if (entry.partition === partition) this.data.delete(name)
  }

  /** Every stored value, copied, in key order (deterministic). */
  list(): StoredEntry[] {
    return [...this.data.keys()]
      .sort()
      .map((name) => this.data.get(name)!)
      .map((entry) => ({partition: entry.partition, key: Uint8Array.from(entry.key), value: Uint8Array.from(entry.value)}))
  }

  private latency(): Promise<void> {
    const {latencyMsMax} = this.options
    return latencyMsMax === 0 ? Promise.resolve() : this.options.scheduler.sleep(randomInt(this.options.random, latencyMsMax + 1))
  }
}

function entryKey(partition: number, key: Uint8Array): string {
  return `${partition}:${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`
}

/** The simulated node's small persisted documents. */
export class MemoryMetaStore implements MetaStore {
  private readonly documents = new Map<string, Uint8Array>()

  async read(name: string): Promise<Uint8Array | undefined> {
    const bytes = this.documents.get(name)
    return bytes === undefined ? undefined : Uint8Array.from(bytes)
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    this.documents.set(name, Uint8Array.from(bytes))
  }
}
