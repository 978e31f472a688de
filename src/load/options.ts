// What a benchmark run is asked to do, the limits on it (DESIGN §1.4) and the parsing of
// durations such as `10s`, `500ms` or `1m`.
import {DynError, exitCodes} from '../core/errors.js'
import type {Distribution, WorkloadName} from '../core/workload.js'

/** When a run stops issuing operations. */
export type StopCondition = {readonly kind: 'duration'; readonly durationMs: number} | {readonly kind: 'operations'; readonly operations: number}

export interface BenchOptions {
  readonly workload: WorkloadName
  readonly distribution: Distribution
  /** Records written by the load phase and chosen from by the run. */
  readonly keyCount: number
  readonly valueBytes: number
  /** Closed loop: workers, each with one operation in flight. Open loop: most operations
   * in flight at once; a scheduled operation waits for a free slot. */
  readonly concurrency: number
  readonly stop: StopCondition
  /** Open loop at this many operations per second; closed loop when absent. */
  readonly rateOpsPerS?: number
  /** Seeds the choice of operations and keys, and the value bytes. */
  readonly seed: number
  /** Write every key once before measuring. */
  readonly load: boolean
}

/** Default run length: long enough for a few thousand operations on a laptop, short enough
 * to run often. */
export const benchDurationMsDefault = 10_000

/** Longest run: a soak test of a day fits; a longer one is better run in pieces. */
export const benchDurationMsMax = 24 * 60 * 60 * 1000

/** Most keys: the run remembers the last context of every key it touched (about 100 bytes
 * each) and the Zipfian chooser sums one term per key at start, so a million keys costs
 * about 100 MB and a fraction of a second. */
export const benchKeysMax = 1_000_000

export const benchKeysDefault = 1_000

/** YCSB's default field size is 10 fields of 100 bytes; one 100-byte value keeps the
 * measurement about the store's request path rather than about copying bytes. */
export const benchValueBytesDefault = 100

export const benchConcurrencyDefault = 16

/** Most operations a run may be asked for with --ops: a billion is days of load. */
export const benchOperationsMax = 1_000_000_000

/** Highest --rate: more than one process can send, so a rate above it only measures the
 * load generator's own queue. */
export const benchRateOpsPerSMax = 1_000_000

/** Keys of a run are this prefix and the key's index: bench:0, bench:1, ... */
export const benchKeyPrefix = 'bench:'

export function benchKey(index: number): string {
  return `${benchKeyPrefix}${index}`
}

export class DurationSyntaxError extends DynError {
  constructor(input: string) {
    super(`${JSON.stringify(input)} is not a duration`, {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: 'write a number and a unit: 500ms, 10s, 1.5m or 2h (a bare number is seconds)',
    })
  }
}

const unitMs: Readonly<Record<string, number>> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/** `500ms`, `10s`, `1.5m`, `2h` or a bare number of seconds, in milliseconds. */
export function parseDurationMs(input: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(input)
  if (match === null) throw new DurationSyntaxError(input)
  return Number(match[1]) * unitMs[match[2] ?? 's']!
}
