// Version vectors and dots, the clock half of dotted version vectors (Preguiça, Baquero,
// Almeida, Fonte, Gonçalves, "Dotted Version Vectors: Logical Clocks for Optimistic
// Replication", 2010; Riak 2.0 `dvv_enabled`). A version vector maps a node to the number
// of writes it coordinated that the holder has seen (Lamport 1978, Mattern 1989); a dot is
// one such write, `(node, counter)`.
//
// Representation: entries sorted by node name, no zero counters. One value has exactly one
// representation, so equality, encoding and hashing are deterministic.
import {DynError, assert, exitCodes} from '../errors.js'

/** One write event: the `counter`-th write coordinated by `node` for a key. */
export interface Dot {
  readonly node: string
  /** Positive safe integer. */
  readonly counter: number
}

/** A version vector entry: `node` has coordinated `counter` writes seen here. */
export type VersionVectorEntry = Dot

/** Canonical version vector: entries strictly sorted by `node` (compareNodeNames), every
 * counter a positive safe integer. Build it with `versionVector()`; never sort by hand. */
export type VersionVector = readonly VersionVectorEntry[]

export type VersionVectorOrder = 'equal' | 'descends' | 'precedes' | 'concurrent'

export const emptyVersionVector: VersionVector = Object.freeze([])

/** Total order on node names used by every canonical form (UTF-16 code unit order). */
export function compareNodeNames(a: string, b: string): number {
  if (a === b) return 0
  return a < b ? -1 : 1
}

export function compareDots(a: Dot, b: Dot): number {
  return compareNodeNames(a.node, b.node) || a.counter - b.counter
}

export function dotsEqual(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.counter === b.counter
}

export function isValidCounter(counter: number): boolean {
  return Number.isSafeInteger(counter) && counter >= 1
}

/** Builds a canonical version vector. Zero counters are dropped; a node named twice keeps
 * its highest counter. */
export function versionVector(entries: Iterable<readonly [string, number]> | Readonly<Record<string, number>>): VersionVector {
  const pairs: Iterable<readonly [string, number]> =
    Symbol.iterator in entries ? (entries as Iterable<readonly [string, number]>) : Object.entries(entries)
  const counters = new Map<string, number>()
  for (const [node, counter] of pairs) {
    assert(node.length > 0, 'version vector node names are not empty')
    assert(counter === 0 || isValidCounter(counter), `counter of ${node} is a non-negative safe integer`)
    if (counter > 0) counters.set(node, Math.max(counters.get(node) ?? 0, counter))
  }
  return [...counters].sort(([a], [b]) => compareNodeNames(a, b)).map(([node, counter]) => ({node, counter}))
}

/** True when `vv` is in canonical form. */
export function isCanonicalVersionVector(vv: VersionVector): boolean {
  return vv.every(
    (entry, index) =>
      entry.node.length > 0 &&
      isValidCounter(entry.counter) &&
      (index === 0 || compareNodeNames(vv[index - 1]!.node, entry.node) < 0),
  )
}

/** The counter of `node` in `vv`; 0 when absent. */
export function counterOf(vv: VersionVector, node: string): number {
  for (const entry of vv) if (entry.node === node) return entry.counter
  return 0
}

/** Pointwise maximum: the least vector that descends from both. */
export function mergeVersionVectors(a: VersionVector, b: VersionVector): VersionVector {
  const merged: VersionVectorEntry[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    const order = x === undefined ? 1 : y === undefined ? -1 : compareNodeNames(x.node, y.node)
    if (order < 0) {
      merged.push(x!)
      i++
    } else if (order > 0) {
      merged.push(y!)
      j++
    } else {
      merged.push(x!.counter >= y!.counter ? x! : y!)
      i++
      j++
    }
  }
  return merged
}

/** `vv` with `node`'s counter set to `counter` (which must not lower it). */
export function withCounter(vv: VersionVector, node: string, counter: number): VersionVector {
  assert(isValidCounter(counter), 'a dot counter is a positive safe integer')
  assert(counterOf(vv, node) <= counter, 'a version vector counter never decreases')
  return mergeVersionVectors(vv, [{node, counter}])
}

/** True when the write `dot` is among the writes `vv` has seen. */
export function covers(vv: VersionVector, dot: Dot): boolean {
  return counterOf(vv, dot.node) >= dot.counter
}

/** True when `a` has seen every write `b` has seen (a ≥ b pointwise). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  return b.every((entry) => covers(a, entry))
}

export function versionVectorsEqual(a: VersionVector, b: VersionVector): boolean {
  return a.length === b.length && a.every((entry, index) => dotsEqual(entry, b[index]!))
}

export function compareVersionVectors(a: VersionVector, b: VersionVector): VersionVectorOrder {
  const aDescends = descends(a, b)
  const bDescends = descends(b, a)
  if (aDescends && bDescends) return 'equal'
  if (aDescends) return 'descends'
  if (bDescends) return 'precedes'
  return 'concurrent'
}

/** Shown for a version vector without entries (the context of a blind write). */
export const emptyVersionVectorText = '(empty)'

/** The readable form of DESIGN §3: `n1:4, n3:2`. */
export function formatVersionVector(vv: VersionVector): string {
  if (vv.length === 0) return emptyVersionVectorText
  return vv.map((entry) => `${entry.node}:${entry.counter}`).join(', ')
}

export class VersionVectorSyntaxError extends DynError {
  constructor(text: string, problem: string) {
    super(`cannot read version vector ${JSON.stringify(text)}: ${problem}`, {
      code: 'VERSION_VECTOR_SYNTAX',
      exitCode: exitCodes.usage,
      suggestion: 'write it as NODE:COUNTER pairs separated by commas, for example "n1:4, n3:2"',
    })
  }
}

/** Reads the form `formatVersionVector` writes. Node names must not contain `,` and must not
 * start or end with spaces; the counter follows the last `:`. */
export function parseVersionVector(text: string): VersionVector {
  const trimmed = text.trim()
  if (trimmed === '' || trimmed === emptyVersionVectorText) return emptyVersionVector
  const seen = new Set<string>()
  const pairs = trimmed.split(',').map((part): [string, number] => {
    const item = part.trim()
    const colon = item.lastIndexOf(':')
    const node = item.slice(0, colon).trim()
    const digits = item.slice(colon + 1).trim()
    if (colon <= 0 || node === '') throw new VersionVectorSyntaxError(text, `"${item}" is not NODE:COUNTER`)
    if (!/^[1-9][0-9]*$/.test(digits) || !isValidCounter(Number(digits))) {
      throw new VersionVectorSyntaxError(text, `counter "${digits}" of ${node} is not a positive integer`)
    }
    if (seen.has(node)) throw new VersionVectorSyntaxError(text, `node ${node} appears twice`)
    seen.add(node)
    return [node, Number(digits)]
  })
  return versionVector(pairs)
}
