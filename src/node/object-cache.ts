// The node's copies of recently written and read objects, in memory, bounded in bytes.
//
// Every write of a key is a read-modify-write (the put rule on the coordinator, the sync
// rule on a replica), and every get reads each replica's copy: without a cache each of
// those is a positioned read of the log (a system call) and a decode of the bytes. A
// profile of a node under a 50/50 read/update load had 6% of its busy time in the reads
// alone. The log store stays the truth: this holds the same bytes as the store's current
// record of each key it holds (and the decoded object once one was needed), and the node
// keeps it so:
//   - a persist puts its bytes here once the store has them (objects.ts);
//   - removing a copy or dropping a partition takes the keys out;
//   - a read fills an entry only when no write to the cache began or ended while the read
//     was under way (the write epoch), so a read racing a write never leaves the older copy
//     behind it.
// Entries leave in least-recently-used order once the budget is spent.
import type {StoredObject} from '../core/causality.js'

/** The default budget of a node's cache (`objectCacheBytes` in the node config). */
export const objectCacheBytesDefault = 64 * 1024 * 1024

/** Bytes an entry costs beyond twice its encoded object (the bytes, and the decoded
 * object's copy of its values): the object's arrays and fields, the map entry and the key
 * string, roughly. */
const entryOverheadBytes = 160

/** An object larger than this share of the budget is not kept: one large value would
 * otherwise push out thousands of small ones. */
const largestShareOfBudget = 1 / 16

export interface CachedObject {
  readonly bytes: Uint8Array
  /** The decoded object, once a reader needed it. */
  object: StoredObject | undefined
  readonly cost: number
}

export interface ObjectCacheStats {
  readonly hits: number
  readonly misses: number
  readonly entries: number
  readonly bytes: number
}

export class ObjectCache {
  private readonly budgetBytes: number
  /** In least-recently-used order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, CachedObject>()
  private bytes = 0
  private hits = 0
  private misses = 0
  /** Counts writes begun and ended (keyed or not): a read that saw it change while it was
   * under way does not fill the cache. */
  private writeEpoch = 0

  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes
  }

  get stats(): ObjectCacheStats {
    return {hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes}
  }

  get(name: string): CachedObject | undefined {
    const entry = this.entries.get(name)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.entries.delete(name)
    this.entries.set(name, entry)
    return entry
  }

  /** The epoch a read takes before it asks the store; pass it to `filled`. */
  readStarted(): number {
    return this.writeEpoch
  }

  /** Keeps what a read found, unless a write began or ended since `epoch`. */
  filled(name: string, epoch: number, bytes: Uint8Array, object?: StoredObject): void {
    if (epoch !== this.writeEpoch) return
    this.put(name, bytes, object)
  }

  /** Call before a write reaches the store; `written` or `removed` after it. */
  writeStarted(): void {
    this.writeEpoch++
  }

  /** The store now holds `bytes` for the key. */
  written(name: string, bytes: Uint8Array, object: StoredObject): void {
    this.writeEpoch++
    this.put(name, bytes, object)
  }

  /** The key's copy is gone, or its write failed and the store's record is unknown. */
  removed(name: string): void {
    this.writeEpoch++
    this.forget(name)
  }

  /** Forgets every entry (a partition was dropped). */
  clear(): void {
    this.writeEpoch++
    this.entries.clear()
    this.bytes = 0
  }

  private put(name: string, bytes: Uint8Array, object: StoredObject | undefined): void {
    this.forget(name)
    const cost = 2 * bytes.length + name.length + entryOverheadBytes
    if (cost > this.budgetBytes * largestShareOfBudget) return
    // A view of a larger buffer (a pooled allocation, a frame) is copied: keeping it would
    // pin the whole buffer.
    const own = bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
    this.entries.set(name, {bytes: own, object, cost})
    this.bytes += cost
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budgetBytes) break
      this.entries.delete(oldest)
      this.bytes -= entry.cost
    }
  }

  private forget(name: string): void {
    const entry = this.entries.get(name)
    if (entry === undefined) return
    this.entries.delete(name)
    this.bytes -= entry.cost
  }
}
