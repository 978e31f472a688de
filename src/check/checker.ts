// The checker of `dyn check`: pure, it reads a history (history.ts) and the copies every
// primary replica holds of each key once the faults healed and the cluster converged, and
// decides the properties of docs/check.md. It applies the contract rule the simulator's
// checker applies (sim/contract.ts) but from the outside, like Jepsen's checkers: it does
// not see which dots the stores persisted, only what clients sent and were told.
//
// No acknowledged write lost (DESIGN §3). Let U(k) be the sync of every primary's copy of
// key k. Every put acknowledged with dot d must be
//   - present: U(k) holds a sibling with dot d and the put's value, or
//   - superseded: U(k)'s version vector covers d and some put of k that did not certainly
//     fail (a write that timed out may have been applied) was sent with a context covering d.
//     Only a write whose context covered a dot may drop its sibling (docs/causality.md), so
//     without the ledger the simulator has, any such write explains the dot's absence; or
//   - lost unsynced (only with the lose-unsynced fault): every primary that acknowledged
//     the put lost its unsynced writes in a fault that began before the put was
//     acknowledged (the store's copy went back to a moment before that) and ended after
//     the put was sent. That is the durability `--sync none` promises and nothing more:
//     the coordinator never drops a write it holds, so a write that any surviving primary
//     acknowledged must still be there.
// Anything else is a lost write.
//
// Also: reads return only values some put wrote; one dot names one value wherever it is
// seen (reads, acknowledgements, the replicas); two acknowledged puts never share a dot;
// every primary of a key holds the same copy at the end and the Merkle roots agreed;
// siblings stay within a bound. Reported, not checked: availability (the share of
// operations that succeeded, during faults and overall), late writes (an acknowledged put
// that a read invoked after the acknowledgement did not see) and the time to converge.
import {Buffer} from 'node:buffer'
import {covers, formatVersionVector, mergeVersionVectors, objectsEqual, syncAll, type Dot, type StoredObject, type VersionVector} from '../core/causality.js'
import {unreachable} from '../core/errors.js'
import {fateOfWrite} from '../sim/contract.js'
import type {Fault, Operation} from './history.js'

export type CheckName = 'no acknowledged write lost' | 'reads return written values' | 'one dot names one write' | 'replicas equal' | 'siblings bounded'

export const checkNames: readonly CheckName[] = ['no acknowledged write lost', 'reads return written values', 'one dot names one write', 'replicas equal', 'siblings bounded']

export interface Violation {
  readonly check: CheckName
  readonly key?: string
  readonly operation?: number
  readonly detail: string
}

/** How the replicas looked once the cluster settled. */
export interface Convergence {
  /** Whether every primary of every partition had the same Merkle root (and no hint was
   * pending) before the bound ran out. */
  readonly converged: boolean
  /** From the end of the healing to the first time the roots agreed. */
  readonly convergeMs?: number
  /** When not converged: which partitions still differed, as text. */
  readonly differing: readonly string[]
}

export interface CheckInput {
  readonly operations: readonly Operation[]
  readonly faults: readonly Fault[]
  /** Per key, each primary's copy (undefined: it holds none). */
  readonly copies: ReadonlyMap<string, ReadonlyMap<string, StoredObject | undefined>>
  /** Copies that could not be read. */
  readonly unreadable: readonly {readonly key: string; readonly node: string; readonly error: string}[]
  readonly convergence: Convergence
  /** Most siblings a read or a final copy may show. */
  readonly siblingsMax: number
}

export interface Availability {
  readonly ok: number
  readonly total: number
}

export interface CheckResult {
  readonly valid: boolean
  readonly checks: readonly {readonly name: CheckName; readonly ok: boolean; readonly violations: number}[]
  readonly violations: readonly Violation[]
  readonly writes: {
    readonly attempted: number
    readonly acknowledged: number
    readonly present: number
    readonly superseded: number
    readonly lostUnsynced: number
    readonly lost: number
  }
  /** Operation ids, for the timeline. */
  readonly lostOperations: readonly number[]
  readonly lostUnsyncedOperations: readonly number[]
  readonly lateOperations: readonly number[]
  readonly staleReads: number
  /** Longest time from an acknowledgement until a read invoked after it saw the write. */
  readonly visibilityLagMsMax: number
  readonly availability: {readonly all: Availability; readonly duringFaults: Availability; readonly outsideFaults: Availability}
  readonly siblings: {readonly readMax: number; readonly finalMax: number; readonly max: number}
  readonly convergence: Convergence
}

/** Most violations kept per check: a broken store breaks thousands of writes the same way. */
export const violationsPerCheckMax = 50

export function checkHistory(input: CheckInput): CheckResult {
  const violations = new Violations()
  const unions = new Map<string, StoredObject | undefined>()
  for (const [key, byNode] of input.copies) unions.set(key, syncAll(byNode.values()))
  const puts = input.operations.filter((op) => op.kind === 'put')
  const writes = checkWrites(input, puts, unions, violations)
  checkReads(input, puts, unions, violations)
  checkReplicas(input, unions, violations)
  const siblings = checkSiblings(input, violations)
  const gone = new Set([...writes.lost, ...writes.lostUnsynced])
  const late = lateWrites(input.operations, gone)
  const list = violations.list()
  return {
    valid: list.length === 0,
    checks: checkNames.map((name) => ({name, ok: violations.count(name) === 0, violations: violations.count(name)})),
    violations: list,
    writes: {attempted: puts.length, ...writes.counts},
    lostOperations: writes.lost,
    lostUnsyncedOperations: writes.lostUnsynced,
    lateOperations: late.operations,
    staleReads: late.staleReads,
    visibilityLagMsMax: late.lagMsMax,
    availability: availability(input.operations, input.faults),
    siblings,
    convergence: input.convergence,
  }
}

class Violations {
  private readonly kept: Violation[] = []
  private readonly counts = new Map<CheckName, number>()

  add(violation: Violation): void {
    const count = (this.counts.get(violation.check) ?? 0) + 1
    this.counts.set(violation.check, count)
    if (count <= violationsPerCheckMax) this.kept.push(violation)
  }

  count(check: CheckName): number {
    return this.counts.get(check) ?? 0
  }

  list(): Violation[] {
    // The contract first: when a bug breaks several properties, that is the one to read.
    return [...this.kept].sort((a, b) => checkNames.indexOf(a.check) - checkNames.indexOf(b.check))
  }
}

function checkWrites(input: CheckInput, puts: readonly Operation[], unions: ReadonlyMap<string, StoredObject | undefined>, violations: Violations) {
  const counts = {acknowledged: 0, present: 0, superseded: 0, lostUnsynced: 0, lost: 0}
  const lost: number[] = []
  const lostUnsynced: number[] = []
  // Some context covers a dot exactly when their pointwise maximum does: one vector per key.
  const contexts = new Map<string, VersionVector>()
  for (const put of puts) {
    if (put.outcome === 'fail' || put.context === undefined) continue
    contexts.set(put.key, mergeVersionVectors(contexts.get(put.key) ?? [], put.context))
  }
  const claimed = new Map<string, number>()
  for (const write of puts) {
    if (write.outcome !== 'ok' || write.dot === undefined) continue
    counts.acknowledged++
    const dot = write.dot
    const name = `${write.key}\0${formatDot(dot)}`
    const other = claimed.get(name)
    if (other !== undefined) violations.add({check: 'one dot names one write', key: write.key, operation: write.id, detail: `op${write.id} and op${other} were both acknowledged with dot ${formatDot(dot)}`})
    claimed.set(name, write.id)
    const union = unions.get(write.key)
    const fate = fateOfWrite(union, dot, {kind: 'value', value: write.value ?? ''}, {
      superseded: () => covers(contexts.get(write.key) ?? [], dot),
      excused: () => lostUnsyncedEverywhere(write, input.faults),
    })
    const describe = `op${write.id} put ${write.value ?? ''} by ${write.client} via ${write.node}, acknowledged with dot ${formatDot(dot)} at ${write.completeMs ?? '?'} ms`
    switch (fate.kind) {
      case 'present':
        counts.present++
        break
      case 'superseded':
        counts.superseded++
        break
      case 'excused':
        counts.lostUnsynced++
        lostUnsynced.push(write.id)
        break
      case 'changed':
        counts.lost++
        lost.push(write.id)
        violations.add({check: 'one dot names one write', key: write.key, operation: write.id, detail: `${describe}, but the replicas hold ${siblingText(fate.held)} under that dot`})
        break
      case 'lost':
        counts.lost++
        lost.push(write.id)
        violations.add({
          check: 'no acknowledged write lost',
          key: write.key,
          operation: write.id,
          detail: `${describe}, is missing: the replicas hold ${describeObject(union)} and no put's context covered the dot`,
        })
        break
      default:
        unreachable(fate)
    }
  }
  return {counts, lost, lostUnsynced}
}

/** Every primary that acknowledged `write` went back to a copy of its store older than the
 * acknowledgement, in a lose-unsynced fault that ended (the kill) after the write was sent. */
function lostUnsyncedEverywhere(write: Operation, faults: readonly Fault[]): boolean {
  const primaries = (write.acknowledgedBy ?? []).filter((replica) => replica.fallbackFor === undefined).map((replica) => replica.node)
  if (primaries.length === 0 || write.completeMs === undefined) return false
  const completeMs = write.completeMs
  return primaries.every((node) =>
    faults.some(
      (fault) =>
        fault.kind === 'lose-unsynced' &&
        fault.nodes.includes(node) &&
        fault.snapshotMs !== undefined &&
        fault.killMs !== undefined &&
        fault.snapshotMs < completeMs &&
        fault.killMs > write.invokeMs,
    ),
  )
}

/** Reads return only values some put wrote, and one dot always names one value. */
function checkReads(input: CheckInput, puts: readonly Operation[], unions: ReadonlyMap<string, StoredObject | undefined>, violations: Violations): void {
  const written = new Map<string, Operation>()
  for (const put of puts) if (put.value !== undefined) written.set(`${put.key}\0${put.value}`, put)
  const valueOfDot = new Map<string, {value: string; where: string}>()
  const see = (key: string, dot: Dot, value: string, where: string, operation?: number): void => {
    if (!written.has(`${key}\0${value}`)) {
      violations.add({check: 'reads return written values', key, ...(operation === undefined ? {} : {operation}), detail: `${where} shows ${formatDot(dot)}=${value}, which no put of ${key} wrote`})
    }
    const name = `${key}\0${formatDot(dot)}`
    const seen = valueOfDot.get(name)
    if (seen === undefined) valueOfDot.set(name, {value, where})
    else if (seen.value !== value) {
      violations.add({check: 'one dot names one write', key, ...(operation === undefined ? {} : {operation}), detail: `${formatDot(dot)} is ${seen.value} in ${seen.where} but ${value} in ${where}`})
    }
  }
  for (const put of puts) if (put.outcome === 'ok' && put.dot !== undefined) see(put.key, put.dot, put.value ?? '', `the acknowledgement of op${put.id}`, put.id)
  for (const op of input.operations) {
    if (op.kind !== 'get' || op.outcome !== 'ok') continue
    for (const sibling of op.siblings ?? []) see(op.key, sibling.dot, sibling.value, `op${op.id} get`, op.id)
  }
  for (const [key, union] of unions) {
    for (const sibling of union?.siblings ?? []) {
      if (sibling.kind === 'value') see(key, sibling.dot, text(sibling.value), 'the replicas at the end')
    }
  }
}

/** Every primary holds the union, and the Merkle roots agreed within the bound. */
function checkReplicas(input: CheckInput, unions: ReadonlyMap<string, StoredObject | undefined>, violations: Violations): void {
  if (!input.convergence.converged) {
    violations.add({check: 'replicas equal', detail: `the Merkle roots still differed when the bound ran out: ${input.convergence.differing.slice(0, 10).join('; ') || 'hints pending'}`})
  }
  for (const problem of input.unreadable) violations.add({check: 'replicas equal', key: problem.key, detail: `${problem.node}'s copy could not be read: ${problem.error}`})
  for (const [key, byNode] of input.copies) {
    const union = unions.get(key)
    if (union === undefined) continue
    for (const [node, copy] of byNode) {
      if (copy === undefined) violations.add({check: 'replicas equal', key, detail: `${node} holds no copy; the others hold ${describeObject(union)}`})
      else if (!objectsEqual(copy, union)) violations.add({check: 'replicas equal', key, detail: `${node} holds ${describeObject(copy)}, the union is ${describeObject(union)}`})
    }
  }
}

function checkSiblings(input: CheckInput, violations: Violations): CheckResult['siblings'] {
  let readMax = 0
  for (const op of input.operations) {
    if (op.kind !== 'get' || op.outcome !== 'ok') continue
    const count = op.siblings?.length ?? 0
    readMax = Math.max(readMax, count)
    if (count > input.siblingsMax) violations.add({check: 'siblings bounded', key: op.key, operation: op.id, detail: `op${op.id} get returned ${count} siblings (bound ${input.siblingsMax})`})
  }
  let finalMax = 0
  for (const [key, byNode] of input.copies) {
    for (const [node, copy] of byNode) {
      const count = copy?.siblings.length ?? 0
      finalMax = Math.max(finalMax, count)
      if (count > input.siblingsMax) violations.add({check: 'siblings bounded', key, detail: `${node} ends with ${count} siblings (bound ${input.siblingsMax})`})
    }
  }
  return {readMax, finalMax, max: input.siblingsMax}
}

/** Acknowledged puts that a get invoked after the acknowledgement missed (its context did
 * not cover the dot) and that were not lost: sloppy quorums allow it (DESIGN §5), so this
 * is reported, not checked. Each put's scan stops at the first get that saw it. */
function lateWrites(operations: readonly Operation[], gone: ReadonlySet<number>): {operations: number[]; staleReads: number; lagMsMax: number} {
  const gets = groupBy(
    operations.filter((op) => op.kind === 'get' && op.outcome === 'ok').sort((a, b) => a.invokeMs - b.invokeMs),
    (op) => op.key,
  )
  const late: number[] = []
  const stale = new Set<number>()
  let lagMsMax = 0
  for (const put of operations) {
    if (put.kind !== 'put' || put.outcome !== 'ok' || put.dot === undefined || put.completeMs === undefined || gone.has(put.id)) continue
    const dot = put.dot
    let missed = false
    for (const get of gets.get(put.key) ?? []) {
      if (get.invokeMs <= put.completeMs) continue
      if (covers(get.returnedContext ?? [], dot)) {
        if (missed) lagMsMax = Math.max(lagMsMax, get.invokeMs - put.completeMs)
        break
      }
      missed = true
      stale.add(get.id)
    }
    if (missed) late.push(put.id)
  }
  return {operations: late, staleReads: stale.size, lagMsMax: Math.round(lagMsMax)}
}

function availability(operations: readonly Operation[], faults: readonly Fault[]): CheckResult['availability'] {
  const all = {ok: 0, total: 0}
  const during = {ok: 0, total: 0}
  const outside = {ok: 0, total: 0}
  for (const op of operations) {
    if (op.outcome === undefined) continue
    const ok = op.outcome === 'ok' ? 1 : 0
    const inFault = faults.some((fault) => op.invokeMs >= fault.startMs && op.invokeMs <= (fault.endMs ?? Number.POSITIVE_INFINITY))
    for (const bucket of [all, inFault ? during : outside]) {
      bucket.ok += ok
      bucket.total++
    }
  }
  return {all, duringFaults: during, outsideFaults: outside}
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const key = keyOf(item)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [item])
    else group.push(item)
  }
  return groups
}

export function formatDot(dot: Dot): string {
  return `${dot.node}:${dot.counter}`
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

function siblingText(sibling: StoredObject['siblings'][number]): string {
  return sibling.kind === 'value' ? text(sibling.value) : 'a tombstone'
}

export function describeObject(object: StoredObject | undefined): string {
  if (object === undefined) return 'nothing'
  const siblings = object.siblings.map((sibling) => `${formatDot(sibling.dot)}=${siblingText(sibling)}`)
  return `{vv [${formatVersionVector(object.vv)}], siblings [${siblings.join(', ')}]}`
}
