// What a `dyn check` run will do, decided from its seed before it starts (pure): the
// nemesis' faults with their times, and each client's stream of choices. The real cluster
// answers with real timing, so a replay repeats the same faults at the same moments and the
// same choices, not the same interleaving (docs/check.md).
//
// Faults come one after another, never two at once, with a quiet gap before each: every
// fault is then seen alone in the history and the timeline, and a cluster of N=3 always has
// a majority of its nodes up and connected between faults.
import {unreachable} from '../core/errors.js'
import {randomInt, randomPick, SeededRandom, shuffled, type Random} from '../core/random.js'
import type {FaultKind} from './history.js'

/** Quiet time before each fault: long enough for suspicions to clear and hints to start
 * draining, short enough that a 20 s run sees several faults. */
export const faultGapMsMin = 1_000
export const faultGapMsMax = 3_000

/** How long a fault lasts: a node down or paused, a partition. The upper bound stays below
 * the clients' request timeout, so a paused node's requests end in time to see others. */
export const faultMsMin = 1_000
export const faultMsMax = 4_000

/** lose-unsynced: how long the node keeps writing after its store was copied, before the
 * kill that takes it back to the copy. */
export const unsyncedWindowMsMin = 500
export const unsyncedWindowMsMax = 2_500

export interface PlannedFault {
  readonly kind: FaultKind
  /** Milliseconds after the workload started. */
  readonly atMs: number
  /** How long it lasts (for lose-unsynced: from the kill to the restart). */
  readonly durationMs: number
  readonly nodes: readonly string[]
  /** For a partition: the groups, every node in one. */
  readonly groups?: readonly (readonly string[])[]
  /** For lose-unsynced: time from the copy of the stores to the kill. */
  readonly windowMs?: number
}

export interface ScheduleOptions {
  readonly seed: number
  readonly durationMs: number
  readonly nodes: readonly string[]
  readonly kinds: readonly FaultKind[]
  /** Nodes running with `--sync none`: the only ones lose-unsynced may hit. */
  readonly unsyncedNodes: readonly string[]
}

/** The faults of a run, in order, each ending before the workload does. */
export function planFaults(options: ScheduleOptions): PlannedFault[] {
  const random = new SeededRandom(options.seed)
  const kinds = options.kinds.filter((kind) => kind !== 'lose-unsynced' || options.unsyncedNodes.length > 0)
  const faults: PlannedFault[] = []
  if (kinds.length === 0) return faults
  let atMs = 0
  for (;;) {
    atMs += between(random, faultGapMsMin, faultGapMsMax)
    const kind = randomPick(random, kinds)
    const fault = planOne(random, kind, atMs, options)
    const endMs = fault.atMs + (fault.windowMs ?? 0) + fault.durationMs
    if (endMs > options.durationMs) return faults
    faults.push(fault)
    atMs = endMs
  }
}

function planOne(random: Random, kind: FaultKind, atMs: number, options: ScheduleOptions): PlannedFault {
  const durationMs = between(random, faultMsMin, faultMsMax)
  switch (kind) {
    case 'kill':
    case 'pause':
      return {kind, atMs, durationMs, nodes: [randomPick(random, options.nodes)]}
    case 'partition': {
      const order = shuffled(random, options.nodes)
      const cut = 1 + randomInt(random, order.length - 1)
      const groups = [order.slice(0, cut).sort(), order.slice(cut).sort()]
      return {kind, atMs, durationMs, nodes: [...options.nodes], groups}
    }
    case 'lose-unsynced': {
      // One node or several at once (a power cut of a rack): only when every replica that
      // stored a write loses it is the write gone.
      const count = 1 + randomInt(random, options.unsyncedNodes.length)
      const nodes = shuffled(random, options.unsyncedNodes).slice(0, count).sort()
      return {kind, atMs, durationMs: between(random, faultMsMin, faultMsMax / 2), nodes, windowMs: between(random, unsyncedWindowMsMin, unsyncedWindowMsMax)}
    }
    default:
      return unreachable(kind)
  }
}

function between(random: Random, min: number, max: number): number {
  return min + randomInt(random, max - min + 1)
}

/** The seed of client `index`'s choices: a stream apart from the nemesis' (splitmix32 makes
 * neighbouring seeds unrelated, core/random.ts). */
export function clientSeed(seed: number, index: number): number {
  return (seed + 0x9e3779b9 * (index + 1)) >>> 0
}
