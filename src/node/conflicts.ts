// Where the conflicts are: the keys whose local copy holds concurrent siblings (dotted version
// vectors, Preguiça et al. 2010; DESIGN §3: "concurrent writes become siblings"), so that a
// person can find and resolve them (`dyn conflicts`, `dyn resolve KEY`) instead of guessing.
//
// A copy is in conflict when it has more than one sibling and at least one of them is a
// value. That counts a delete concurrent with a write (a tombstone beside a value: `dyn get`
// shows the value, but the delete has not been decided either way) and leaves out copies of
// tombstones only (two concurrent deletes read as not found; nothing is left to choose, and
// reaping removes them).
//
// LocalObjects (objects.ts) keeps the index on every change of a copy, so listing a page
// never reads the store. Cost: tracking a write is a map update and a copy of its dots; a page is
// O(log C + K) for C conflicted keys and K listed, after an O(C log C) sort of the key names
// whenever a key entered or left the index since the previous page.
import {isFound, type StoredObject} from '../core/causality.js'
import {assert} from '../core/errors.js'
import {conflictDotsMax, type ConflictDot, type ConflictsRequest, type ConflictsResponse, type ConflictView} from '../core/protocol.js'

/** A copy with more than one sibling, at least one a value. */
export function isConflicted(object: StoredObject | undefined): boolean {
  return object !== undefined && object.siblings.length > 1 && isFound(object)
}

export interface ConflictEntry<K> {
  readonly key: K
  readonly partition: number
  readonly dots: readonly ConflictDot[]
}

export interface ConflictPage<K = Uint8Array> {
  /** In key byte order. */
  readonly keys: readonly ConflictEntry<K>[]
  /** True when more conflicted keys follow the last one listed. */
  readonly more: boolean
}

interface SortedName {
  readonly name: string
  readonly partition: number
}

/** The conflicted keys of one node, by partition. Keys are given as latin1 names (objects.ts
 * keyName: one character per byte), so comparing names compares key bytes. */
export class ConflictIndex {
  /** partition -> key name -> the copy's sibling dots. Invariant: only conflicted copies. */
  private readonly partitions = new Map<number, Map<string, readonly ConflictDot[]>>()
  /** Every (name, partition) of `partitions` in key order; undefined after a key entered or
   * left, rebuilt by the next page. */
  private sorted: SortedName[] | undefined = []

  /** Records the key's current copy (undefined: no copy). */
  track(partition: number, name: string, object: StoredObject | undefined): void {
    if (object === undefined || !isConflicted(object)) {
      this.forget(partition, name)
      return
    }
    const keys = this.partitions.get(partition) ?? new Map<string, readonly ConflictDot[]>()
    this.partitions.set(partition, keys)
    if (!keys.has(name)) this.sorted = undefined
    keys.set(name, object.siblings.map((sibling) => ({node: sibling.dot.node, counter: sibling.dot.counter, kind: sibling.kind})))
  }

  forget(partition: number, name: string): void {
    if (this.partitions.get(partition)?.delete(name) === true) this.sorted = undefined
  }

  forgetPartition(partition: number): void {
    const keys = this.partitions.get(partition)
    if (keys === undefined) return
    this.partitions.delete(partition)
    if (keys.size > 0) this.sorted = undefined
  }

  /** At most `limit` conflicted keys strictly after `after`, in key byte order. */
  page(options: {readonly after?: string | undefined; readonly limit: number}): ConflictPage<string> {
    const sorted = this.sortedNames()
    let index = options.after === undefined ? 0 : firstAfter(sorted, options.after)
    const keys: ConflictEntry<string>[] = []
    for (; index < sorted.length && keys.length < options.limit; index++) {
      const {name, partition} = sorted[index]!
      const dots = this.partitions.get(partition)?.get(name)
      assert(dots !== undefined, 'the sorted names are those of the index')
      keys.push({key: name, partition, dots})
    }
    return {keys, more: index < sorted.length}
  }

  private sortedNames(): SortedName[] {
    if (this.sorted !== undefined) return this.sorted
    const sorted: SortedName[] = []
    for (const [partition, keys] of this.partitions) for (const name of keys.keys()) sorted.push({name, partition})
    sorted.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.partition - b.partition))
    this.sorted = sorted
    return sorted
  }
}

/** Index of the first name strictly greater than `after` (binary search). */
function firstAfter(sorted: readonly SortedName[], after: string): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (sorted[middle]!.name <= after) low = middle + 1
    else high = middle
  }
  return low
}

/** The wire form of a page entry: the exact sibling count, at most conflictDotsMax dots. */
export function conflictView(entry: ConflictEntry<Uint8Array>): ConflictView {
  return {key: entry.key, partition: entry.partition, siblings: entry.dots.length, dots: entry.dots.slice(0, conflictDotsMax)}
}

/** The kv.conflicts handler: a page of the node's own conflicted copies. */
export function conflictsHandlers(options: {readonly self: string; readonly page: (request: ConflictsRequest) => ConflictPage}) {
  return {
    'kv.conflicts': async (request: ConflictsRequest): Promise<ConflictsResponse> => {
      const page = options.page(request)
      return {ok: true, node: options.self, keys: page.keys.map(conflictView), more: page.more}
    },
  }
}
