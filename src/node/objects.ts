// The node's own copies of objects: reads and read-modify-write cycles on the ObjectStore,
// serialised per key and combined when they queue (write-combiner.ts), with a tictac Merkle
// tree per partition kept up to date on every write (core/merkle.ts, DESIGN §5: "updated in
// O(1) per write, no rebuild"). Everything
// that changes a local copy (coordinator writes, replica merges, read repair, hint and
// ownership handoff, anti-entropy) goes through here, so the trees never miss a write.
//
// A key's version digest is the MD5 of its stored bytes: the encoding is canonical
// (causality/codec.ts), so equal objects have equal digests on every node.
//
// It also remembers which keys hold a tombstone-only object and since when this node has
// held that exact version: the candidates of tombstone reaping (reaper.ts). Those times are
// kept in memory on the monotonic Clock and saved in batches to MetaStore documents
// (tombstone-times.ts, persistTombstoneTimes), and restored at load for every key whose
// version is still the saved one; any other tombstone counts as first seen at load, which
// only delays reaping.
//
// And it keeps the index of conflicted keys (conflicts.ts) the same way: built at load, kept
// on every write, removal and drop, so `kv.conflicts` lists them without reading the store.
//
// Each key's index entry is its description (descriptions.ts: digest, Merkle entry hash and
// segment bits, sibling flags). At load the store hands those over without reading values
// where it keeps them (the log store's hint files), so a node with a million keys indexes
// them in about a second; only conflicted keys are read, for their dots.
import {Buffer} from 'node:buffer'
import {decodeObject, encodeObject, isFound, objectsEqual, syncObjects, type StoredObject} from '../core/causality.js'
import {merkleSegmentsDefault, type MerkleTree} from '../core/merkle.js'
import {ConflictIndex, type ConflictPage} from './conflicts.js'
import {descriptionBytes, describeObject, flagConflicted, flagsAt, flagTombstoneOnly, flagUnframed} from './descriptions.js'
import {PartitionIndex} from './object-index.js'
import type {Clock, DescribedBatch, MetaStore, ObjectStore} from './ports.js'
import {decodeTombstoneTimes, encodeTombstoneTimes, heldAtStartMs, tombstoneTimesDocument, type HeldTombstone} from './tombstone-times.js'
import {WriteCombiner, type UpdateResult as CombinedResult} from './write-combiner.js'

export {digestOf} from './descriptions.js'

export function keyName(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

export function keyFromName(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(name, 'latin1'))
}

/** A key whose object is tombstones only (it reads as not found). */
export interface TombstoneEntry {
  readonly key: Uint8Array
  readonly digest: Uint8Array
  /** When this node first held this exact version (Clock port). */
  readonly sinceMs: number
}

/** Every sibling a tombstone: what reaping may eventually delete. */
export function isTombstoneOnly(object: StoredObject): boolean {
  return object.siblings.length > 0 && !isFound(object)
}

export type UpdateResult = CombinedResult<StoredObject>

export class LocalObjects {
  private readonly store: ObjectStore
  private readonly segments: number
  /** Serialises each key's read-modify-write cycles and combines the queued ones (write-combiner.ts). */
  private readonly writes = new WriteCombiner<StoredObject>()
  private readonly indexes = new Map<number, PartitionIndex>()
  /** Tombstone-only keys: partition -> key name -> when this node first held that version.
   * Invariant: a key is here only while indexed with a tombstone-only object. */
  private readonly tombstones = new Map<number, Map<string, number>>()
  /** Partitions whose tombstone set changed since its document was last written
   * (persistTombstoneTimes); a Set.add on tombstone changes only, nothing for live puts. */
  private readonly tombstonesChanged = new Set<number>()
  /** Where tombstone times are kept across restarts; without it they are not. */
  private readonly meta: MetaStore | undefined
  /** Keys whose copy holds concurrent siblings. Invariant: exactly the indexed keys whose
   * stored object isConflicted (conflicts.ts). */
  private readonly conflicted = new ConflictIndex()
  private readonly clock: Clock

  /** Runs before any copy of the partition is deleted (actors.ts: the writer identity moves
   * on first, so no later write can cover what the deleted copy held). */
  private readonly beforeRemoval: (partition: number) => Promise<void>

  constructor(store: ObjectStore, options: {segments?: number; beforeRemoval?: (partition: number) => Promise<void>; clock?: Clock; meta?: MetaStore} = {}) {
    this.store = store
    this.meta = options.meta
    this.segments = options.segments ?? merkleSegmentsDefault
    this.beforeRemoval = options.beforeRemoval ?? (async () => undefined)
    // Without a clock every tombstone is seen at 0; the node always passes its Clock port.
    this.clock = options.clock ?? {nowMs: () => 0}
  }

  /** Builds the trees of the given partitions from what the store holds. Call before
   * serving: a write during the scan would be missed. */
  async load(partitions: readonly number[]): Promise<void> {
    for (const partition of partitions) {
      const index = this.createIndex(partition)
      for await (const batch of describedEntries(this.store, partition)) {
        for (let i = 0; i < batch.keys.length; i++) {
          const name = batch.keys[i]!
          if (this.loadKey(partition, index, name, batch.descriptions, i * descriptionBytes)) await this.loadConflict(partition, name)
        }
      }
      index.finishLoad()
      await this.restoreTombstoneTimes(partition)
    }
  }

  /**
   * Writes the tombstone times of every partition whose tombstones changed since the last
   * call (tombstone-times.ts); the reaper calls it every persistIntervalMs, the daemon at
   * stop. Resolves with the partitions written. A failed write (a full disk) leaves its
   * partition to the next call and rejects with the store's error.
   */
  async persistTombstoneTimes(): Promise<number> {
    if (this.meta === undefined) return 0
    const partitions = [...this.tombstonesChanged].sort((a, b) => a - b)
    this.tombstonesChanged.clear()
    let written = 0
    for (const [i, partition] of partitions.entries()) {
      try {
        await this.meta.write(tombstoneTimesDocument(partition), encodeTombstoneTimes(this.tombstoneTimesOf(partition)))
        written++
      } catch (error) {
        for (const left of partitions.slice(i)) this.tombstonesChanged.add(left)
        throw error
      }
    }
    return written
  }

  async read(partition: number, key: Uint8Array): Promise<StoredObject | undefined> {
    const bytes = await this.store.get(partition, key)
    return bytes === undefined ? undefined : decodeObject(bytes)
  }

  readBytes(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(partition, key)
  }

  /**
   * Runs `change` on the current copy, after every earlier change of the key and combined
   * with the changes queued with it (write-combiner.ts). When the result differs from the
   * current copy it is persisted and indexed before this resolves. `change` may throw to
   * refuse (nothing is written for it then). `computed` sees the result before it is
   * persisted.
   */
  update(
    partition: number,
    key: Uint8Array,
    change: (current: StoredObject | undefined) => StoredObject,
    computed?: (result: UpdateResult) => void,
  ): Promise<UpdateResult> {
    const target = {
      read: () => this.read(partition, key),
      equal: objectsEqual,
      persist: async (after: StoredObject) => {
        const encoded = encodeObject(after)
        await this.store.put(partition, key, encoded)
        const name = keyName(key)
        this.index(partition).set(name, describeObject(key, encoded))
        this.trackTombstone(partition, name, isTombstoneOnly(after))
        this.conflicted.track(partition, name, after)
      },
    }
    return this.writes.update(lockName(partition, key), {target, change, ...(computed === undefined ? {} : {computed})})
  }

  /** Persists made by update and merge, and the changes they carried: above 1 per persist,
   * a hot key's queued writes were combined. */
  combinedWrites(): {persists: number; changes: number} {
    return {persists: this.writes.persists, changes: this.writes.changesPersisted}
  }

  /** The sync rule on the local copy (DESIGN §3). */
  merge(partition: number, key: Uint8Array, incoming: StoredObject): Promise<UpdateResult> {
    return this.update(partition, key, (current) => (current === undefined ? incoming : syncObjects(current, incoming)))
  }

  /** Runs `task` alone in the key's queue (no write of the key runs meanwhile) with the current stored bytes and a way to delete
   * the copy, for decisions that must not interleave with writes to the key. */
  async exclusive<T>(partition: number, key: Uint8Array, task: (current: Uint8Array | undefined, remove: () => Promise<void>) => Promise<T>): Promise<T> {
    return this.writes.exclusive(lockName(partition, key), async () => {
      const current = await this.store.get(partition, key)
      return task(current, async () => {
        await this.beforeRemoval(partition)
        await this.store.delete(partition, key)
        this.index(partition).remove(keyName(key))
        if (this.tombstones.get(partition)?.delete(keyName(key)) === true) this.tombstonesChanged.add(partition)
        this.conflicted.forget(partition, keyName(key))
      })
    })
  }

  /** The partition's tree (empty when the node holds nothing of it). */
  tree(partition: number): MerkleTree {
    return this.index(partition).tree
  }

  /** Keys of the given segments with their version digests. */
  keysIn(partition: number, segments: readonly number[]): Array<[Uint8Array, Uint8Array]> {
    return this.index(partition)
      .keysIn(new Set(segments))
      .map(([name, digest]) => [keyFromName(name), digest])
  }

  /** The version digest of the node's copy of a key; undefined when it holds none. */
  digest(partition: number, key: Uint8Array): Uint8Array | undefined {
    return this.indexes.get(partition)?.digest(keyName(key))
  }

  /** The tombstone-only copy of a key, or undefined when the copy is missing or live. */
  tombstone(partition: number, key: Uint8Array): TombstoneEntry | undefined {
    const name = keyName(key)
    const sinceMs = this.tombstones.get(partition)?.get(name)
    const digest = this.digest(partition, key)
    return sinceMs === undefined || digest === undefined ? undefined : {key, digest, sinceMs}
  }

  /** The tombstone-only keys of a partition held since `heldSinceMs` or earlier. */
  tombstonesHeldSince(partition: number, heldSinceMs: number): TombstoneEntry[] {
    const found: TombstoneEntry[] = []
    for (const [name, sinceMs] of this.tombstones.get(partition) ?? []) {
      if (sinceMs > heldSinceMs) continue
      const key = keyFromName(name)
      const digest = this.digest(partition, key)
      if (digest !== undefined) found.push({key, digest, sinceMs})
    }
    return found
  }

  /** Partitions holding tombstone-only keys. */
  tombstonePartitions(): number[] {
    return [...this.tombstones.entries()].filter(([, keys]) => keys.size > 0).map(([partition]) => partition).sort((a, b) => a - b)
  }

  /** Keys the node holds in a partition. */
  keyCount(partition: number): number {
    return this.indexes.get(partition)?.size ?? 0
  }

  /** Partitions the node holds keys of. */
  partitions(): number[] {
    return [...this.indexes.entries()].filter(([, index]) => index.size > 0).map(([partition]) => partition).sort((a, b) => a - b)
  }

  async *entries(partition: number): AsyncIterable<{readonly key: Uint8Array; readonly value: Uint8Array}> {
    yield* this.store.entries(partition)
  }

  /** The keys the node holds in a partition (its store's, not the index's: they agree but
   * for a write under way). */
  keys(partition: number): AsyncIterable<Uint8Array> {
    return keysOf(this.store, partition)
  }

  async drop(partition: number): Promise<void> {
    await this.beforeRemoval(partition)
    await this.store.drop(partition)
    this.indexes.delete(partition)
    if (this.tombstones.delete(partition)) this.tombstonesChanged.add(partition)
    this.conflicted.forgetPartition(partition)
  }

  /** A page of the keys whose copy holds concurrent siblings (conflicts.ts), in key byte
   * order, strictly after `after`. */
  conflicts(options: {readonly after?: Uint8Array | undefined; readonly limit: number}): ConflictPage {
    const page = this.conflicted.page({after: options.after === undefined ? undefined : keyName(options.after), limit: options.limit})
    return {keys: page.keys.map((entry) => ({...entry, key: keyFromName(entry.key)})), more: page.more}
  }

  private index(partition: number): PartitionIndex {
    return this.indexes.get(partition) ?? this.createIndex(partition)
  }

  private createIndex(partition: number): PartitionIndex {
    const index = new PartitionIndex({segments: this.segments})
    this.indexes.set(partition, index)
    return index
  }

  /** Indexes one key from its description (at `at` of `descriptions`); true when its
   * object must be read: it is in conflict (the index keeps its dots) or unframed. */
  private loadKey(partition: number, index: PartitionIndex, name: string, descriptions: Uint8Array, at: number): boolean {
    index.add(name, descriptions, at)
    const flags = descriptions[at + flagsAt] ?? 0
    // A key loads once, so only tombstones need tracking (nothing to untrack yet).
    if ((flags & flagTombstoneOnly) !== 0) this.trackTombstone(partition, name, true)
    return (flags & (flagConflicted | flagUnframed)) !== 0
  }

  /** Decoding an unframed object throws its ObjectDecodeError, as reading it would. */
  private async loadConflict(partition: number, name: string): Promise<void> {
    const bytes = await this.store.get(partition, keyFromName(name))
    if (bytes !== undefined) this.conflicted.track(partition, name, decodeObject(bytes))
  }

  /** A new version of the key was indexed: it starts (or restarts) its grace period when
   * it is tombstones only; a live one is no candidate. */
  private trackTombstone(partition: number, name: string, tombstoneOnly: boolean): void {
    if (!tombstoneOnly) {
      if (this.tombstones.get(partition)?.delete(name) === true) this.tombstonesChanged.add(partition)
      return
    }
    const keys = this.tombstones.get(partition) ?? new Map<string, number>()
    this.tombstones.set(partition, keys)
    keys.set(name, this.clock.nowMs())
    this.tombstonesChanged.add(partition)
  }

  /** The partition's tombstones with how long each has been held, for its document. */
  private tombstoneTimesOf(partition: number): {writtenWallMs: number; entries: HeldTombstone[]} {
    const nowMs = this.clock.nowMs()
    const entries: HeldTombstone[] = []
    for (const [name, sinceMs] of this.tombstones.get(partition) ?? []) {
      const digest = this.indexes.get(partition)?.digest(name)
      if (digest !== undefined) entries.push({name, digest, heldMs: Math.max(0, nowMs - sinceMs)})
    }
    return {writtenWallMs: this.clock.wallMs?.() ?? Number.NaN, entries}
  }

  /** After a partition loaded: each tombstone whose version is the one its document names
   * takes back the time it was first seen (tombstone-times.ts); the others keep the load
   * time, and the partition's document is rewritten at the next persist. */
  private async restoreTombstoneTimes(partition: number): Promise<void> {
    if (this.meta === undefined) return
    const keys = this.tombstones.get(partition)
    const bytes = await this.meta.read(tombstoneTimesDocument(partition))
    const saved = bytes === undefined ? undefined : decodeTombstoneTimes(bytes)
    if (keys === undefined || saved === undefined) {
      // Rewritten when it names tombstones this node no longer holds, or cannot be read.
      const stale = bytes !== undefined && (saved === undefined || saved.entries.length > 0)
      if (keys !== undefined || stale) this.tombstonesChanged.add(partition)
      return
    }
    const nowMs = this.clock.nowMs()
    const wallNowMs = this.clock.wallMs?.() ?? Number.NaN
    let restored = 0
    for (const entry of saved.entries) {
      const digest = this.indexes.get(partition)?.digest(entry.name)
      if (!keys.has(entry.name) || digest === undefined || Buffer.compare(digest, entry.digest) !== 0) continue
      keys.set(entry.name, nowMs - heldAtStartMs(entry.heldMs, saved.writtenWallMs, wallNowMs))
      restored++
    }
    if (restored !== keys.size || restored !== saved.entries.length) this.tombstonesChanged.add(partition)
  }
}

/** The store's descriptions of a partition's objects, or (a store without that fast path)
 * the same computed from every value. */
function describedEntries(store: ObjectStore, partition: number): AsyncIterable<DescribedBatch> {
  return store.described?.(partition) ?? describeEach(store.entries(partition))
}

async function* describeEach(entries: AsyncIterable<{readonly key: Uint8Array; readonly value: Uint8Array}>): AsyncIterable<DescribedBatch> {
  for await (const {key, value} of entries) yield {keys: [keyName(key)], descriptions: describeObject(key, value)}
}

/** The keys of a partition, without their values where the store can list them so. */
export async function* keysOf(store: ObjectStore, partition: number): AsyncIterable<Uint8Array> {
  if (store.keys !== undefined) {
    yield* store.keys(partition)
    return
  }
  for await (const {key} of store.entries(partition)) yield key
}

function lockName(partition: number, key: Uint8Array): string {
  return `${partition}:${keyName(key)}`
}
