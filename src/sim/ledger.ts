// What the checker knows about a run: the history of client operations (what each sent and
// what it was told) and the dot ledger (which operation created each dot, and what the
// coordinator's object looked like right after). The ledger watches every value the
// simulated stores persist; a dot seen for the first time was just made by a coordinator's
// put rule, inside the request of the client operation that the simulated network carried
// along (AsyncLocalStorage). That is how the checker learns whether a write whose outcome the
// client never learned (quorum not met, timeout) was applied anyway.
//
// The ledger also follows which stores know each dot: hold it as a sibling or cover it with
// their copy's version vector (a replica that replaced the sibling by a newer write still
// knows it). A store may drop a sibling only for an object whose version vector covers it
// (the put and sync rules never do otherwise: checked on every put). When the last store
// that knew a dot stops knowing it, the ledger remembers how: a deletion, or a crash that
// returned an unsynced store to its last sync. The checker excuses a lost acknowledged
// write only in the last case (see checker.ts and docs/simulation.md).
import type {AsyncLocalStorage} from 'node:async_hooks'
import {Buffer} from 'node:buffer'
import {covers, decodeObject, formatVersionVector, type Dot, type StoredObject, type VersionVector} from '../core/causality.js'
import type {Trace} from './trace.js'

export type OperationKind = 'get' | 'put' | 'delete'

/** ok: the node answered with success; failed: it answered with an error (for a write,
 * indeterminate: it may have been applied); timeout: no answer (indeterminate too). */
export type Outcome = 'ok' | 'failed' | 'timeout'

export interface SiblingSeen {
  readonly dot: Dot
  readonly value: string
}

export interface OperationRecord {
  readonly id: number
  readonly client: string
  /** The node the client sent the request to (it may forward it). */
  readonly node: string
  readonly kind: OperationKind
  readonly key: string
  /** The value a put wrote (unique per run). */
  readonly value?: string
  /** The context the client sent, decoded; undefined for a blind write. */
  readonly context?: VersionVector
  readonly quorum?: number
  readonly startMs: number
  endMs?: number
  outcome?: Outcome
  errorCode?: string
  /** An acknowledged write's dot (PutResponse.dot). */
  dot?: Dot
  /** The context an acknowledged operation returned, decoded. */
  returnedContext?: VersionVector
  /** An acknowledged get's siblings. */
  siblings?: readonly SiblingSeen[]
}

export interface DotRecord {
  readonly key: string
  readonly dot: Dot
  readonly kind: 'value' | 'tombstone'
  readonly value?: string
  /** The client operation whose request created it; undefined is a bug (checked). */
  readonly operation: number | undefined
  /** Operations that asked the same coordinator for the same write of the key (two blind
   * deletes of a key through one node): their dots cannot be told apart by content, and a
   * combined persist (write-combiner.ts) creates them together, so any of them may be the
   * one `operation` names. `operation` is one of them. */
  readonly equivalents: readonly number[]
  /** Where it was first persisted, and the object persisted there. */
  readonly node: string
  readonly object: StoredObject
}

export interface LedgerProblem {
  readonly invariant: string
  readonly key: string
  readonly detail: string
}

/** How the last knowledge of a dot disappeared from every store. */
export interface Vanished {
  readonly cause: 'delete' | 'crash'
  readonly node: string
  readonly atMs: number
}

export class DotLedger {
  private readonly records = new Map<string, DotRecord>()
  private readonly byOperation = new Map<number, DotRecord[]>()
  /** Every dot created per key. */
  private readonly dotsByKey = new Map<string, Dot[]>()
  /** Per key, per node: the copy that node's store holds now (synced or not). */
  private readonly held = new Map<string, Map<string, StoredObject>>()
  /** Dots no store knows any more, by recordKey, with how the last knowledge went. */
  private readonly vanishedDots = new Map<string, Vanished>()
  readonly problems: LedgerProblem[] = []
  /** Per coordinator node and key: the writes of client operations it was asked to
   * coordinate (kv.put, kv.delete), so that a dot is credited to its operation even when a
   * store persists it in the same write as another operation's (write-combiner.ts). */
  private readonly coordinated = new Map<string, Array<{operation: number; kind: 'value' | 'tombstone'; value?: string}>>()

  constructor(
    private readonly operations: AsyncLocalStorage<number>,
    private readonly trace: Trace,
  ) {}

  /** A node starts handling a request of a client operation. */
  handling(node: string, operation: number, type: string, request: unknown): void {
    if (type !== 'kv.put' && type !== 'kv.delete') return
    const {key, value} = request as {key: Uint8Array; value?: Uint8Array}
    const entry = type === 'kv.put' && value !== undefined ? {operation, kind: 'value' as const, value: valueText(value)} : {operation, kind: 'tombstone' as const}
    const name = `${node}|${keyText(key)}`
    this.coordinated.set(name, [...(this.coordinated.get(name) ?? []), entry])
  }

  /** The operation that created a new dot: among the writes its coordinator was asked to
   * coordinate for the key, the one with its content; the ambient one when it is among them
   * (two deletes of a key through one node), else the latest. */
  private creatorOf(key: string, dot: Dot, kind: 'value' | 'tombstone', value: string | undefined): {operation: number | undefined; equivalents: number[]} {
    const ambient = this.operations.getStore()
    const coordinator = dot.node.split('~')[0]!
    const candidates = (this.coordinated.get(`${coordinator}|${key}`) ?? []).filter((entry) => entry.kind === kind && entry.value === value).map((entry) => entry.operation)
    if (candidates.length === 0) return {operation: ambient, equivalents: ambient === undefined ? [] : [ambient]}
    if (ambient !== undefined && candidates.includes(ambient)) return {operation: ambient, equivalents: candidates}
    return {operation: candidates[candidates.length - 1]!, equivalents: candidates}
  }

  /** Called with every value a store persists. */
  observe(node: string, keyBytes: Uint8Array, value: Uint8Array): void {
    const key = keyText(keyBytes)
    let object: StoredObject
    try {
      object = decodeObject(value)
    } catch (error) {
      this.problems.push({invariant: 'stored bytes decode', key, detail: `${node} stored bytes that do not decode: ${String(error)}`})
      return
    }
    for (const sibling of object.siblings) {
      const value = sibling.kind === 'value' ? valueText(sibling.value) : undefined
      const known = this.records.get(recordKey(key, sibling.dot))
      if (known !== undefined) {
        if (known.kind !== sibling.kind || known.value !== value) {
          this.problems.push({
            invariant: 'one dot names one write',
            key,
            detail: `dot ${formatDot(sibling.dot)} was created as ${describe(known.kind, known.value)} and ${node} stored it as ${describe(sibling.kind, value)}`,
          })
        }
        continue
      }
      const {operation, equivalents} = this.creatorOf(key, sibling.dot, sibling.kind, value)
      const record: DotRecord = {key, dot: sibling.dot, kind: sibling.kind, ...(value === undefined ? {} : {value}), operation, equivalents, node, object}
      this.records.set(recordKey(key, sibling.dot), record)
      this.dotsByKey.set(key, [...(this.dotsByKey.get(key) ?? []), sibling.dot])
      for (const candidate of equivalents) this.byOperation.set(candidate, [...(this.byOperation.get(candidate) ?? []), record])
      this.trace.record(`ledger ${node} key=${key} op${operation ?? '?'} created ${formatDot(sibling.dot)} ${describe(sibling.kind, value)} vv [${formatVersionVector(object.vv)}]`)
    }
    this.hold(node, key, object)
  }

  /** A store deleted its copy of a key. */
  observeDelete(node: string, keyBytes: Uint8Array): void {
    this.replaceHeld(node, keyText(keyBytes), undefined, 'delete')
  }

  /** A node crashed: its store went back from `before` to `after` (its last sync). */
  observeCrash(node: string, before: readonly {key: Uint8Array}[], after: readonly {key: Uint8Array; value: Uint8Array}[]): void {
    const survivors = new Map(after.map((entry) => [keyText(entry.key), entry.value]))
    const keys = new Set([...before.map((entry) => keyText(entry.key)), ...survivors.keys()])
    for (const key of keys) {
      const bytes = survivors.get(key)
      this.replaceHeld(node, key, bytes === undefined ? undefined : decodeObject(bytes), 'crash')
    }
  }

  /** How the last knowledge of a dot disappeared, when no store has held it since. A dot
   * lost in a crash stays lost (see replaceHeld) until a store holds it again. */
  vanished(key: string, dot: Dot): Vanished | undefined {
    return this.vanishedDots.get(recordKey(key, dot))
  }

  /** Dots no store knows any more because of a crash (acknowledged or not). */
  lostInCrashes(): number {
    return [...this.vanishedDots.values()].filter((vanished) => vanished.cause === 'crash').length
  }

  /** A put replaced the node's copy: a sibling may go only when the new object covers it. */
  private hold(node: string, key: string, object: StoredObject): void {
    this.trace.record(`store ${node} key=${key} vv [${formatVersionVector(object.vv)}] siblings [${object.siblings.map((sibling) => formatDot(sibling.dot)).join(', ')}]`)
    const previous = this.held.get(key)?.get(node)
    for (const sibling of previous?.siblings ?? []) {
      if (covers(object.vv, sibling.dot)) continue
      this.problems.push({
        invariant: 'a replica drops only covered siblings',
        key,
        detail: `${node} replaced its copy holding ${formatDot(sibling.dot)} by one with vv [${formatVersionVector(object.vv)}], which does not cover it`,
      })
    }
    this.replaceHeld(node, key, object, 'delete')
  }

  private replaceHeld(node: string, key: string, object: StoredObject | undefined, cause: Vanished['cause']): void {
    const byNode = this.held.get(key) ?? new Map<string, StoredObject>()
    this.held.set(key, byNode)
    const previous = byNode.get(node)
    if (object === undefined) byNode.delete(node)
    else byNode.set(node, object)
    for (const dot of this.dotsByKey.get(key) ?? []) {
      // Only a copy of the sibling itself brings a dot back: a version vector that covers a
      // dot lost in a crash (a coordinator's counter of the key moved past it) restores nothing.
      if (object?.siblings.some((sibling) => sameDot(sibling.dot, dot)) === true) this.vanishedDots.delete(recordKey(key, dot))
      if (object !== undefined && covers(object.vv, dot)) continue
      if (previous === undefined || !covers(previous.vv, dot)) continue
      if ([...byNode.values()].some((other) => covers(other.vv, dot))) continue
      if (this.vanishedDots.get(recordKey(key, dot))?.cause === 'crash') continue
      this.vanishedDots.set(recordKey(key, dot), {cause, node, atMs: this.trace.nowMs()})
      this.trace.record(`ledger key=${key} ${formatDot(dot)}: no store knows it any more (${cause} on ${node})`)
    }
  }

  get(key: string, dot: Dot): DotRecord | undefined {
    return this.records.get(recordKey(key, dot))
  }

  /** Every dot created by one operation (a duplicated or re-forwarded request may apply it twice). */
  createdBy(operation: number): readonly DotRecord[] {
    return this.byOperation.get(operation) ?? []
  }

  /** Records whose creating operation is unknown: a dot made outside any client request. */
  orphans(): DotRecord[] {
    return [...this.records.values()].filter((record) => record.operation === undefined)
  }
}

export function keyText(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8')
}

export function valueText(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
}

export function formatDot(dot: Dot): string {
  return `${dot.node}:${dot.counter}`
}

function describe(kind: 'value' | 'tombstone', value: string | undefined): string {
  return kind === 'tombstone' ? 'tombstone' : `value=${value ?? ''}`
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.counter === b.counter
}

function recordKey(key: string, dot: Dot): string {
  return `${key}\0${formatDot(dot)}`
}
