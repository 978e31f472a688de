// The operations of a benchmark run: YCSB's core workloads (Cooper et al., "Benchmarking
// Cloud Serving Systems with YCSB", SoCC 2010, §4.1 and workloads/workload{a,b,c}) and its
// key choosers. Pure and deterministic: every choice is drawn from the injected Random, so a
// seed replays the same sequence of operations.
//
// Zipfian keys follow YCSB's ZipfianGenerator, which is the method of Gray et al., "Quickly
// Generating Billion-Record Synthetic Databases" (SIGMOD 1994, §3): rank 0 and rank 1 are
// drawn exactly, the others by inverting an approximation of the cumulative distribution, in
// O(1) per draw after an O(keys) computation of zeta(keys, θ).
//
// YCSB's default "zipfian" is its ScrambledZipfianGenerator: ranks drawn over 10^10 items
// and hashed into the key space, so that popular keys are not neighbours in a range-
// partitioned store. dyn places keys by their MD5 hash (DESIGN §4), so neighbouring key
// indexes already land on unrelated partitions; the plain generator is used, which keeps the
// distribution over the key space exactly Zipfian (the hashed one is flatter: with 1000
// keys its most popular key gets about 4% of the draws instead of about 13%).
import {assert, unreachable} from './errors.js'
import {randomFloat, randomInt, type Random} from './random.js'

export type WorkloadName = 'a' | 'b' | 'c'

export interface WorkloadMix {
  readonly name: WorkloadName
  /** Fraction of operations that are reads; the rest are updates. */
  readonly readProportion: number
  readonly description: string
}

/** YCSB's core workloads A, B and C (their other workloads need scans, inserts or
 * read-modify-write, which are not measured here). */
export const workloads: Readonly<Record<WorkloadName, WorkloadMix>> = {
  a: {name: 'a', readProportion: 0.5, description: 'update heavy: 50% reads, 50% updates'},
  b: {name: 'b', readProportion: 0.95, description: 'read mostly: 95% reads, 5% updates'},
  c: {name: 'c', readProportion: 1, description: 'read only'},
}

export const workloadNames: readonly WorkloadName[] = ['a', 'b', 'c']

export type OperationKind = 'read' | 'update'

export const operationKinds: readonly OperationKind[] = ['read', 'update']

export type Distribution = 'uniform' | 'zipfian'

export const distributions: readonly Distribution[] = ['uniform', 'zipfian']

/** YCSB's ZIPFIAN_CONSTANT, θ: the skew of its request distribution. */
export const zipfianConstant = 0.99

/** Chooses key indexes in [0, keyCount). */
export interface KeyChooser {
  readonly keyCount: number
  next(): number
}

export class UniformKeyChooser implements KeyChooser {
  constructor(
    private readonly random: Random,
    readonly keyCount: number,
  ) {
    assertKeyCount(keyCount)
  }

  next(): number {
    return randomInt(this.random, this.keyCount)
  }
}

/** Index 0 is the most popular key, index 1 the next, and so on: P(i) ∝ 1/(i+1)^θ. */
export class ZipfianKeyChooser implements KeyChooser {
  readonly theta: number
  // Gray et al.'s constants, fixed by keyCount and θ.
  private readonly zetaN: number
  private readonly alpha: number
  private readonly eta: number
  private readonly rankOneBound: number

  constructor(
    private readonly random: Random,
    readonly keyCount: number,
    theta: number = zipfianConstant,
  ) {
    assertKeyCount(keyCount)
    assert(theta > 0 && theta < 1, `Gray et al.'s method needs 0 < θ < 1, got ${theta}`)
    this.theta = theta
    this.zetaN = zeta(keyCount, theta)
    this.alpha = 1 / (1 - theta)
    this.eta = (1 - (2 / keyCount) ** (1 - theta)) / (1 - zeta(2, theta) / this.zetaN)
    this.rankOneBound = 1 + 0.5 ** theta
  }

  next(): number {
    const u = randomFloat(this.random)
    const uz = u * this.zetaN
    if (uz < 1) return 0
    if (uz < this.rankOneBound) return Math.min(1, this.keyCount - 1)
    const rank = Math.floor(this.keyCount * (this.eta * u - this.eta + 1) ** this.alpha)
    // u < 1 keeps the rank below keyCount in exact arithmetic; doubles may round up to it.
    return Math.min(rank, this.keyCount - 1)
  }
}

/** The generalised harmonic number Σ_{i=1..n} 1/i^θ, Zipf's normalising constant. */
export function zeta(n: number, theta: number): number {
  let sum = 0
  for (let i = 1; i <= n; i++) sum += 1 / i ** theta
  return sum
}

/** The probability of the key of zero-based rank `rank` under Zipf's law over keyCount keys. */
export function zipfianProbability(rank: number, keyCount: number, theta: number = zipfianConstant): number {
  return 1 / (rank + 1) ** theta / zeta(keyCount, theta)
}

export function keyChooser(distribution: Distribution, options: {random: Random; keyCount: number}): KeyChooser {
  switch (distribution) {
    case 'uniform':
      return new UniformKeyChooser(options.random, options.keyCount)
    case 'zipfian':
      return new ZipfianKeyChooser(options.random, options.keyCount)
    default:
      return unreachable(distribution)
  }
}

export interface PlannedOperation {
  readonly kind: OperationKind
  readonly keyIndex: number
}

/** The sequence of operations of a run: for each, first the kind, then the key. */
export class WorkloadGenerator {
  readonly mix: WorkloadMix
  private readonly keys: KeyChooser

  constructor(
    private readonly random: Random,
    options: {workload: WorkloadName; distribution: Distribution; keyCount: number},
  ) {
    this.mix = workloads[options.workload]
    this.keys = keyChooser(options.distribution, {random, keyCount: options.keyCount})
  }

  next(): PlannedOperation {
    const kind = chooseOperation(this.random, this.mix.readProportion)
    return {kind, keyIndex: this.keys.next()}
  }
}

/** A read with probability readProportion, else an update; a pure mix draws nothing. */
export function chooseOperation(random: Random, readProportion: number): OperationKind {
  assert(readProportion >= 0 && readProportion <= 1, `readProportion must be in [0, 1], got ${readProportion}`)
  if (readProportion === 1) return 'read'
  if (readProportion === 0) return 'update'
  return randomFloat(random) < readProportion ? 'read' : 'update'
}

function assertKeyCount(keyCount: number): void {
  assert(Number.isSafeInteger(keyCount) && keyCount >= 1 && keyCount <= 2 ** 32, `keyCount must be an integer in [1, 2^32], got ${keyCount}`)
}
