// The history of a `dyn check` run (Jepsen's term): every client operation as it was
// invoked and as it completed, and every fault the nemesis injected, in the order they
// happened. It is written as JSON lines (docs/check.md), one event per line, and it is all
// the checker reads besides the replicas' copies at the end, so a history file can be read
// back and checked again.
//
// An operation's outcome is what its client learned:
//   - ok: the node answered with success;
//   - fail: it certainly had no effect (no node could be reached, or a read failed);
//   - unknown: a write whose answer was an error or never came (a timeout, a quorum not met
//     after some replicas stored it): it may or may not have been applied.
import type {Dot, VersionVector} from '../core/causality.js'
import {unreachable} from '../core/errors.js'

/** Version of the history file's lines (docs/check.md). */
export const historyVersion = 1

export type OperationKind = 'get' | 'put'

export type Outcome = 'ok' | 'fail' | 'unknown'

export interface SiblingSeen {
  readonly dot: Dot
  readonly value: string
}

export interface Operation {
  /** Unique in the run, in order of invocation. */
  readonly id: number
  readonly client: string
  /** The node the request was sent to (it coordinates or forwards). */
  readonly node: string
  readonly kind: OperationKind
  readonly key: string
  /** A put's value: unique in the run, so a value names its write. */
  readonly value?: string
  /** The context a put was sent with, decoded; absent for a blind write. */
  readonly context?: VersionVector
  /** The get whose answer gave the context (a read-modify-write). */
  readonly readOp?: number
  /** Milliseconds since the run started. */
  readonly invokeMs: number
  completeMs?: number
  outcome?: Outcome
  /** For fail and unknown: the error's code. */
  error?: string
  /** An acknowledged put's dot. */
  dot?: Dot
  /** The context an acknowledged operation returned, decoded. */
  returnedContext?: VersionVector
  /** An acknowledged get's siblings. */
  siblings?: readonly SiblingSeen[]
  /** An acknowledged put's replicas that stored it: primaries, and fallbacks standing in for one. */
  acknowledgedBy?: readonly {readonly node: string; readonly fallbackFor?: string}[]
}

export type FaultKind = 'kill' | 'pause' | 'partition' | 'lose-unsynced'

export const faultKinds: readonly FaultKind[] = ['kill', 'pause', 'partition', 'lose-unsynced']

/** One fault, from the moment it was injected to the moment it was undone. */
export interface Fault {
  readonly id: number
  readonly kind: FaultKind
  /** The nodes it hit; for a partition, the groups (every node is in one). */
  readonly nodes: readonly string[]
  readonly groups?: readonly (readonly string[])[]
  readonly startMs: number
  endMs?: number
  /** lose-unsynced: when the node's store was copied (what it goes back to) and when it was
   * killed; writes it stored between the two are gone. */
  snapshotMs?: number
  killMs?: number
  /** Set when the fault could not be carried out as planned (the run went on). */
  error?: string
}

/** The phases of a run after the workload: healing and waiting for the replicas. */
export interface Phases {
  readonly workloadEndMs: number
  healedMs?: number
  convergedMs?: number
  finalReadMs?: number
}

export type HistoryEvent =
  | {readonly type: 'invoke'; readonly op: Operation}
  | {readonly type: 'complete'; readonly op: Operation}
  | {readonly type: 'fault-start'; readonly fault: Fault}
  | {readonly type: 'fault-end'; readonly fault: Fault}
  | {readonly type: 'phase'; readonly phase: keyof Phases; readonly atMs: number}

/** One line of the history file. */
export function historyLine(event: HistoryEvent): string {
  return JSON.stringify({version: historyVersion, ...event}) + '\n'
}

/** Rebuilds operations and faults from history lines (the last state of each wins). */
export function parseHistory(text: string): {operations: Operation[]; faults: Fault[]} {
  const operations = new Map<number, Operation>()
  const faults = new Map<number, Fault>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const event = JSON.parse(line) as HistoryEvent & {version?: number}
    if (event.version !== historyVersion) throw new Error(`history line of version ${String(event.version)}, not ${historyVersion}`)
    switch (event.type) {
      case 'invoke':
      case 'complete':
        operations.set(event.op.id, event.op)
        break
      case 'fault-start':
      case 'fault-end':
        faults.set(event.fault.id, event.fault)
        break
      case 'phase':
        break
      default:
        unreachable(event)
    }
  }
  return {operations: [...operations.values()].sort((a, b) => a.id - b.id), faults: [...faults.values()].sort((a, b) => a.id - b.id)}
}
