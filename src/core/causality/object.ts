// Stored objects under dotted version vectors (Preguiça et al. 2010, §4–5; Riak 2.0
// `dvv_enabled`; DESIGN §3). An object is a version vector plus siblings, each tagged with
// the dot of the write that created it. Two rules change objects:
//
// - put at coordinator X with client context C: n = max(VV[X], C[X]) + 1; drop every sibling
//   whose dot C covers; add the new sibling with dot (X, n); VV = merge(VV, C), VV[X] = n.
// - sync of two replicas' objects: keep a sibling of one side if the other side has it too
//   or the other side's VV does not cover its dot; VV = merge. Commutative, associative and
//   idempotent, so replicas converge whatever the order of repairs.
//
// Contract: an acknowledged write is lost only when a later write's context covered its dot.
// Unlike plain vector clocks with server actors (Dynamo §4.4), a blind or stale write never
// makes an older sibling look concurrent with a newer one ("sibling explosion").
import {Buffer} from 'node:buffer'
import {DynError, assert, exitCodes} from '../errors.js'
import {siblingsMax as siblingsMaxDefault, siblingsWarn as siblingsWarnDefault} from '../limits.js'
import type {Dot, VersionVector} from './version-vector.js'
import {
  compareDots,
  counterOf,
  covers,
  emptyVersionVector,
  isCanonicalVersionVector,
  isValidCounter,
  mergeVersionVectors,
  withCounter,
} from './version-vector.js'

export interface ValueSibling {
  readonly kind: 'value'
  readonly dot: Dot
  readonly value: Uint8Array
}

/** What a delete writes: it keeps the deleted key's causal history so a later write with
 * its context supersedes the deleted values instead of standing beside them. */
export interface TombstoneSibling {
  readonly kind: 'tombstone'
  readonly dot: Dot
}

export type Sibling = ValueSibling | TombstoneSibling

/** Invariants: `vv` canonical; siblings strictly sorted by dot (compareDots); `vv` covers
 * every sibling's dot. Build objects only through `applyPut` and `syncObjects`. */
export interface StoredObject {
  readonly vv: VersionVector
  readonly siblings: readonly Sibling[]
}

/** What a put writes: a value, or a tombstone for a delete. */
export type Write = {readonly kind: 'value'; readonly value: Uint8Array} | {readonly kind: 'tombstone'}

export interface PutOptions {
  /** The node coordinating the write; the new sibling's dot is its. */
  readonly coordinator: string
  /** The client's context: the version vector of what it read. Empty for a blind write. */
  readonly context: VersionVector
  readonly write: Write
  /** The new dot's counter, when the coordinator draws counters from a node-wide sequence
   * (src/node/counter.ts): it must exceed VV[X] and C[X]. Without it, the rule's
   * max(VV[X], C[X]) + 1, which is only safe when the coordinator never loses its copy. */
  readonly counter?: number
  readonly siblingsWarn?: number
  readonly siblingsMax?: number
}

export interface SiblingsWarning {
  readonly code: 'SIBLINGS_MANY'
  readonly siblings: number
  readonly siblingsWarn: number
  readonly message: string
}

export interface PutResult {
  readonly object: StoredObject
  /** The dot of the new sibling. */
  readonly dot: Dot
  readonly warning?: SiblingsWarning
}

export class SiblingLimitError extends DynError {
  constructor(siblings: number, siblingsMax: number) {
    super(`the write would leave ${siblings} siblings; the limit is ${siblingsMax}`, {
      code: 'SIBLING_LIMIT',
      exitCode: exitCodes.error,
      suggestion:
        'read the key and write one resolved value with the context the read returned, ' +
        'for example `dyn resolve KEY`; writes without a context add a sibling each time',
    })
  }
}

/** The context a read returns: the object's version vector (a not-found key has none). */
export function contextOf(object: StoredObject | undefined): VersionVector {
  return object?.vv ?? emptyVersionVector
}

export function liveSiblings(object: StoredObject | undefined): ValueSibling[] {
  return (object?.siblings ?? []).filter((sibling): sibling is ValueSibling => sibling.kind === 'value')
}

export function tombstoneSiblings(object: StoredObject | undefined): TombstoneSibling[] {
  return (object?.siblings ?? []).filter((sibling): sibling is TombstoneSibling => sibling.kind === 'tombstone')
}

/** A key is found when it has a live sibling; an object of tombstones only reads as not found. */
export function isFound(object: StoredObject | undefined): boolean {
  return liveSiblings(object).length > 0
}

/** The put rule of DESIGN §3. Throws SiblingLimitError when the result would have more than
 * `siblingsMax` siblings; warns above `siblingsWarn`. */
export function applyPut(current: StoredObject | undefined, options: PutOptions): PutResult {
  assert(options.coordinator.length > 0, 'a coordinator has a name')
  assert(isCanonicalVersionVector(options.context), 'a put context is a canonical version vector')
  const old = current ?? {vv: emptyVersionVector, siblings: []}
  const seen = Math.max(counterOf(old.vv, options.coordinator), counterOf(options.context, options.coordinator))
  const counter = options.counter ?? seen + 1
  assert(isValidCounter(counter), 'dot counters stay safe integers')
  assert(counter > seen, 'a new dot is newer than every dot of its coordinator the object or context has seen')
  const dot: Dot = {node: options.coordinator, counter}
  const kept = old.siblings.filter((sibling) => !covers(options.context, sibling.dot))
  const siblings = [...kept, siblingOf(dot, options.write)].sort((a, b) => compareDots(a.dot, b.dot))
  checkSiblingLimit(siblings.length, options.siblingsMax ?? siblingsMaxDefault)
  const vv = withCounter(mergeVersionVectors(old.vv, options.context), dot.node, dot.counter)
  const warning = siblingsWarning(siblings.length, options.siblingsWarn ?? siblingsWarnDefault)
  const object: StoredObject = {vv, siblings}
  return warning === undefined ? {object, dot} : {object, dot, warning}
}

function siblingOf(dot: Dot, write: Write): Sibling {
  return write.kind === 'value' ? {kind: 'value', dot, value: write.value} : {kind: 'tombstone', dot}
}

function checkSiblingLimit(siblings: number, siblingsMax: number): void {
  if (siblings > siblingsMax) throw new SiblingLimitError(siblings, siblingsMax)
}

function siblingsWarning(siblings: number, siblingsWarn: number): SiblingsWarning | undefined {
  if (siblings <= siblingsWarn) return undefined
  return {
    code: 'SIBLINGS_MANY',
    siblings,
    siblingsWarn,
    message:
      `the key has ${siblings} siblings (warning above ${siblingsWarn}); ` +
      'resolve them with `dyn resolve KEY` and write with the context you read',
  }
}

/** The sync rule of DESIGN §3: merges two replicas' objects of one key. Never refuses, never
 * drops a sibling the other side has not superseded. */
export function syncObjects(a: StoredObject, b: StoredObject): StoredObject {
  const siblings: Sibling[] = []
  let i = 0
  let j = 0
  while (i < a.siblings.length || j < b.siblings.length) {
    const x = a.siblings[i]
    const y = b.siblings[j]
    const order = x === undefined ? 1 : y === undefined ? -1 : compareDots(x.dot, y.dot)
    if (order === 0) {
      siblings.push(pickSameDot(x!, y!))
      i++
      j++
    } else if (order < 0) {
      if (!covers(b.vv, x!.dot)) siblings.push(x!)
      i++
    } else {
      if (!covers(a.vv, y!.dot)) siblings.push(y!)
      j++
    }
  }
  return {vv: mergeVersionVectors(a.vv, b.vv), siblings}
}

/** Syncs any number of objects; undefined (not found) is the identity. */
export function syncAll(objects: Iterable<StoredObject | undefined>): StoredObject | undefined {
  let merged: StoredObject | undefined
  for (const object of objects) {
    if (object === undefined) continue
    merged = merged === undefined ? object : syncObjects(merged, object)
  }
  return merged
}

/** One dot names one write, so both sides hold the same sibling. Only a coordinator that
 * reissued a dot after losing unsynced writes can make them differ; the smaller one wins so
 * replicas still converge. */
function pickSameDot(x: Sibling, y: Sibling): Sibling {
  return compareSiblingContent(x, y) <= 0 ? x : y
}

function compareSiblingContent(x: Sibling, y: Sibling): number {
  if (x.kind !== y.kind) return x.kind === 'tombstone' ? -1 : 1
  if (x.kind === 'tombstone' || y.kind === 'tombstone') return 0
  return Buffer.compare(x.value, y.value)
}

/** Same version vector and the same siblings, byte for byte. */
export function objectsEqual(a: StoredObject, b: StoredObject): boolean {
  if (a === b) return true
  if (a.vv.length !== b.vv.length || a.siblings.length !== b.siblings.length) return false
  if (!a.vv.every((entry, index) => compareDots(entry, b.vv[index]!) === 0)) return false
  return a.siblings.every((x, index) => {
    const y = b.siblings[index]!
    return compareDots(x.dot, y.dot) === 0 && compareSiblingContent(x, y) === 0
  })
}

/** True when `a` already holds everything of `b`: syncing `b` into `a` changes nothing. A
 * replica whose object does not contain the merged one needs read repair. */
export function objectContains(a: StoredObject, b: StoredObject): boolean {
  return objectsEqual(syncObjects(a, b), a)
}

export type ObjectOrder = 'equal' | 'dominates' | 'dominated' | 'concurrent'

/** How two replicas' objects relate: equal, one contains the other, or each has something. */
export function compareObjects(a: StoredObject, b: StoredObject): ObjectOrder {
  const merged = syncObjects(a, b)
  const aHasB = objectsEqual(merged, a)
  const bHasA = objectsEqual(merged, b)
  if (aHasB && bHasA) return 'equal'
  if (aHasB) return 'dominates'
  if (bHasA) return 'dominated'
  return 'concurrent'
}

/** Checks the invariants of StoredObject; a failure is a bug. */
export function assertObjectInvariants(object: StoredObject): void {
  assert(isCanonicalVersionVector(object.vv), 'an object version vector is canonical')
  object.siblings.forEach((sibling, index) => {
    assert(isValidCounter(sibling.dot.counter), 'a sibling dot counter is a positive safe integer')
    assert(covers(object.vv, sibling.dot), 'the object version vector covers every sibling dot')
    const previous = object.siblings[index - 1]
    assert(previous === undefined || compareDots(previous.dot, sibling.dot) < 0, 'siblings are sorted by distinct dots')
  })
}
