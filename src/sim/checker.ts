// The checker of DESIGN §3's contract, run on the end state of a simulated run (after the
// network went quiet, every event drained and a read-repair pass over every key). Like
// Jepsen's checkers it reads only the history of client operations and the replicas'
// stores; the dot ledger (ledger.ts) adds which operation created each dot.
//
// Let U(k) = sync of every replica's copy of key k. For every acknowledged put or delete A of
// k with dot d:
//   - U(k) holds a sibling with dot d and A's value (or a tombstone for a delete), or
//   - U(k)'s version vector covers d and some write B of k (any outcome: a write whose
//     quorum failed or timed out may have been applied) was applied (the ledger shows a dot
//     it created) and B's context covered d. For a delete sent without a context, whose node
//     reads first, B's context is unknown; the object B's coordinator persisted must then
//     cover d and lack it, or
//   - (the one loss `sync none`/`interval` allows) no store knows d any more (holds it or
//     covers it with its copy's version vector), and the last store that knew it forgot it
//     in a crash that returned the store to its last sync (see ledger.ts).
// Also: a context returned to a client names only dots that were created; every dot was created by exactly one write operation, with one content; an
// acknowledged write's dot was created by that write; an acknowledged get returned only
// (dot, value) pairs some put created for that key; every stored value decodes and keeps the
// object invariants; only a key's replicas, or a fallback holding a hint for it, store it; after the repair pass every replica of
// a key holds U(k); no node answered with an error a correct cluster never gives.
//
// Convergence of the trees (checkTrees): after the faults healed and the cluster settled,
// every primary replica of a partition has the same Merkle tree root, and every node's
// incrementally kept tree is the one its store's contents give.
import {Buffer} from 'node:buffer'
import {
  assertObjectInvariants,
  covers,
  decodeObject,
  formatVersionVector,
  objectsEqual,
  syncAll,
  type Dot,
  type StoredObject,
} from '../core/causality.js'
import {unreachable} from '../core/errors.js'
import {MerkleTree} from '../core/merkle.js'
import {preferenceList, type Ring} from '../core/ring.js'
import {digestOf} from '../node/objects.js'
import {formatDot, keyText, valueText, type DotLedger, type OperationRecord} from './ledger.js'
import {fateOfWrite, type WriteContent} from './contract.js'
import type {StoredEntry} from './memory-store.js'

export interface Violation {
  /** Short name of the broken invariant. */
  readonly invariant: string
  readonly key?: string
  /** The operation concerned, if any. */
  readonly operation?: number
  readonly detail: string
}

export interface CheckInput {
  readonly ring: Ring
  readonly n: number
  readonly operations: readonly OperationRecord[]
  readonly ledger: DotLedger
  /** Every node's stored values. */
  readonly stores: ReadonlyMap<string, readonly StoredEntry[]>
  /** Keys (as keyText) each node holds a hint for: a fallback may store those (sloppy quorum). */
  readonly hinted?: ReadonlyMap<string, ReadonlySet<string>>
  /** Hears of each acknowledged write whose loss the checker excused: its last copy
   * disappeared in a crash of an unsynced store. */
  readonly onLostInCrash?: (operation: OperationRecord) => void
}

/** Error codes a correct cluster may answer with under message loss. */
const expectedErrorCodes: ReadonlySet<string> = new Set(['QUORUM_NOT_MET', 'NO_COORDINATOR', 'OUTCOME_UNKNOWN', 'SIBLING_LIMIT'])

export function checkRun(input: CheckInput): Violation[] {
  const violations: Violation[] = [...input.ledger.problems]
  const copies = readCopies(input, violations)
  for (const record of input.ledger.orphans()) {
    violations.push({invariant: 'dots are created by client writes', key: record.key, detail: `${record.node} created ${formatDot(record.dot)} outside any client request`})
  }
  const merged = new Map<string, StoredObject>()
  for (const [key, objects] of copies) {
    const union = syncAll(objects.map((copy) => copy.object))!
    try {
      assertObjectInvariants(union)
    } catch (error) {
      violations.push({invariant: 'the sync of the replicas keeps the object invariants', key, detail: String(error)})
    }
    merged.set(key, union)
  }
  // The contract itself first: when a bug breaks several invariants, this is the one to read.
  const lost: Violation[] = []
  const claimed = new Map<string, number>()
  for (const operation of input.operations) {
    if (operation.outcome !== 'ok' || operation.kind === 'get') continue
    checkWrite(input, operation, merged.get(operation.key), lost)
    // Equivalent writes may share attribution (ledger.ts), never a dot.
    const name = `${operation.key}|${formatDot(operation.dot!)}`
    const other = claimed.get(name)
    if (other !== undefined && other !== operation.id) {
      lost.push({invariant: 'one acknowledged write per dot', key: operation.key, operation: operation.id, detail: `op${operation.id} and op${other} were both acknowledged with dot ${formatDot(operation.dot!)}`})
    }
    claimed.set(name, operation.id)
  }
  for (const operation of input.operations) {
    if (operation.outcome === 'failed' && !expectedErrorCodes.has(operation.errorCode ?? '')) {
      violations.push({invariant: 'no unexpected errors', key: operation.key, operation: operation.id, detail: `op${operation.id} ${operation.kind} failed with ${operation.errorCode ?? '?'}`})
    }
    if (operation.outcome !== 'ok') continue
    checkReturnedContext(input, operation, violations)
    if (operation.kind === 'get') checkGet(input, operation, violations)
  }
  checkConvergence(input, copies, merged, violations)
  return [...lost, ...violations]
}

interface Copy {
  readonly node: string
  readonly object: StoredObject
}

/** Decodes every stored value (checking its invariants and its placement), grouped by key. */
function readCopies(input: CheckInput, violations: Violation[]): Map<string, Copy[]> {
  const copies = new Map<string, Copy[]>()
  for (const [node, entries] of input.stores) {
    for (const entry of entries) {
      const key = keyText(entry.key)
      let object: StoredObject
      try {
        object = decodeObject(entry.value)
        assertObjectInvariants(object)
      } catch (error) {
        violations.push({invariant: 'stored values decode', key, detail: `${node}: ${String(error)}`})
        continue
      }
      const primaries = preferenceList(input.ring, {key: entry.key}, {n: input.n}).primaries
      if (!primaries.includes(node) && input.hinted?.get(node)?.has(key) !== true) {
        violations.push({invariant: 'only replicas store a key', key, detail: `${node} stores a key whose replicas are ${primaries.join(', ')}`})
      }
      copies.set(key, [...(copies.get(key) ?? []), {node, object}])
    }
  }
  return new Map([...copies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** A returned context names only writes that exist: a coordinator numbers its dots of a key
 * 1, 2, 3..., so an entry (X, c) means dot (X, c) of this key was created. A context that
 * covers more would let a client's next write drop writes it never saw. */
function checkReturnedContext(input: CheckInput, operation: OperationRecord, violations: Violation[]): void {
  for (const entry of operation.returnedContext ?? []) {
    if (input.ledger.get(operation.key, entry) === undefined) {
      violations.push({
        invariant: 'contexts cover only existing writes',
        key: operation.key,
        operation: operation.id,
        detail: `op${operation.id} ${operation.kind} returned context [${formatVersionVector(operation.returnedContext!)}], but no write created ${formatDot(entry)}`,
      })
      return
    }
  }
}

function checkGet(input: CheckInput, operation: OperationRecord, violations: Violation[]): void {
  for (const sibling of operation.siblings ?? []) {
    const created = input.ledger.get(operation.key, sibling.dot)
    if (created === undefined || created.kind !== 'value' || created.value !== sibling.value) {
      violations.push({
        invariant: 'reads return only written values',
        key: operation.key,
        operation: operation.id,
        detail: `op${operation.id} get returned ${formatDot(sibling.dot)}=${sibling.value}, which no put of this key created`,
      })
    }
  }
}

function checkWrite(input: CheckInput, write: OperationRecord, union: StoredObject | undefined, violations: Violation[]): void {
  const dot = write.dot!
  const created = input.ledger.get(write.key, dot)
  const describe = `op${write.id} ${write.kind}${write.value === undefined ? '' : ` value=${write.value}`} acknowledged with dot ${formatDot(dot)}`
  if (created === undefined || !created.equivalents.includes(write.id) || !sameContent(created, write)) {
    violations.push({
      invariant: 'an acknowledged dot is its write',
      key: write.key,
      operation: write.id,
      detail: `${describe}, but ${created === undefined ? 'no store ever held that dot' : `the dot was created by op${created.operation ?? '?'} as ${created.value ?? 'tombstone'}`}`,
    })
    return
  }
  const content: WriteContent = write.kind === 'put' ? {kind: 'value', value: write.value ?? ''} : {kind: 'tombstone'}
  const fate = fateOfWrite(union, dot, content, {
    superseded: () => supersedingWrite(input, write, dot) !== undefined,
    excused: () => input.ledger.vanished(write.key, dot)?.cause === 'crash',
  })
  switch (fate.kind) {
    case 'present':
    case 'superseded':
      return
    case 'changed': {
      const value = fate.held.kind === 'value' ? valueText(fate.held.value) : undefined
      violations.push({invariant: 'an acknowledged write keeps its value', key: write.key, operation: write.id, detail: `${describe}, but the replicas hold ${value ?? 'a tombstone'} under it`})
      return
    }
    case 'excused':
      input.onLostInCrash?.(write)
      return
    case 'lost': {
      const vanished = input.ledger.vanished(write.key, dot)
      const how = vanished === undefined ? '' : `; no store knows it since a ${vanished.cause} on ${vanished.node} at ${vanished.atMs} ms`
      violations.push({
        invariant: 'no acknowledged write lost',
        key: write.key,
        operation: write.id,
        detail:
          `${describe} (context ${write.context === undefined ? 'none' : `[${formatVersionVector(write.context)}]`}), ` +
          `but the replicas' union ${describeObject(union)} lacks it and no applied write's context covered it${how}`,
      })
      return
    }
    default:
      unreachable(fate)
  }
}

/** An applied write of the same key whose context covered `dot`. */
function supersedingWrite(input: CheckInput, write: OperationRecord, dot: Dot): OperationRecord | undefined {
  return input.operations.find((other) => {
    // The same operation counts too: a forwarding node that timed out hands the request to
    // the next replica, so one client write may be applied twice, and a second blind delete
    // reads (and then covers) the first one's tombstone.
    if (other.key !== write.key || other.kind === 'get') return false
    const applied = input.ledger.createdBy(other.id)
    if (applied.length === 0) return false
    if (other.context !== undefined) return covers(other.context, dot)
    // A delete without a context reads first; its effective context is what its coordinator
    // persisted, which must cover the dot without holding it.
    return other.kind === 'delete' && applied.some((record) => covers(record.object.vv, dot) && !record.object.siblings.some((s) => sameDot(s.dot, dot)))
  })
}

function checkConvergence(
  input: CheckInput,
  copies: ReadonlyMap<string, readonly Copy[]>,
  merged: ReadonlyMap<string, StoredObject>,
  violations: Violation[],
): void {
  for (const [key, objects] of copies) {
    const union = merged.get(key)!
    const primaries = preferenceList(input.ring, {key}, {n: input.n}).primaries
    const missing = primaries.filter((node) => !objects.some((copy) => copy.node === node))
    if (missing.length > 0) {
      violations.push({invariant: 'replicas converge after repair', key, detail: `${missing.join(', ')} hold no copy; the union is ${describeObject(union)}`})
    }
    for (const copy of objects) {
      if (!objectsEqual(copy.object, union)) {
        violations.push({
          invariant: 'replicas converge after repair',
          key,
          detail: `${copy.node} holds ${describeObject(copy.object)}, the union is ${describeObject(union)}`,
        })
      }
    }
  }
}

/** The tree root a node keeps for a partition. */
export type TreeRoots = (node: string, partition: number) => Uint8Array

export interface TreeCheckInput {
  readonly ring: Ring
  readonly n: number
  readonly roots: TreeRoots
  /** Every node's stored values (of the ring's partitions). */
  readonly stores: ReadonlyMap<string, readonly StoredEntry[]>
}

/** Equal trees on the primaries of every partition; each node's tree matches its store. */
export function checkTrees(input: TreeCheckInput): Violation[] {
  const violations: Violation[] = []
  for (const [node, entries] of input.stores) {
    const byPartition = new Map<number, Array<readonly [Uint8Array, Uint8Array]>>()
    for (const entry of entries) byPartition.set(entry.partition, [...(byPartition.get(entry.partition) ?? []), [entry.key, digestOf(entry.value)]])
    for (let partition = 0; partition < input.ring.partitionCount; partition++) {
      const expected = MerkleTree.fromEntries(byPartition.get(partition) ?? []).root()
      if (hex(expected) !== hex(input.roots(node, partition))) {
        violations.push({invariant: "a node's tree matches its store", detail: `${node}'s tree of partition ${partition} has root ${hex(input.roots(node, partition))}, its store gives ${hex(expected)}`})
      }
    }
  }
  for (let partition = 0; partition < input.ring.partitionCount; partition++) {
    const primaries = preferenceList(input.ring, {partition}, {n: input.n}).primaries
    const roots = primaries.map((node) => `${node} ${hex(input.roots(node, partition)).slice(0, 12)}`)
    if (new Set(roots.map((root) => root.split(' ')[1])).size > 1) {
      violations.push({invariant: 'replica trees converge', detail: `partition ${partition}: roots ${roots.join(', ')}`})
    }
  }
  return violations
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

export function describeObject(object: StoredObject | undefined): string {
  if (object === undefined) return 'nothing'
  const siblings = object.siblings.map((sibling) => `${formatDot(sibling.dot)}=${sibling.kind === 'value' ? valueText(sibling.value) : 'tombstone'}`)
  return `{vv [${formatVersionVector(object.vv)}], siblings [${siblings.join(', ')}]}`
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.counter === b.counter
}

function sameContent(created: {kind: 'value' | 'tombstone'; value?: string}, write: OperationRecord): boolean {
  return write.kind === 'put' ? created.kind === 'value' && created.value === write.value : created.kind === 'tombstone'
}
