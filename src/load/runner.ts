// The load generator behind `dyn bench`: a load phase that writes every key once, then a
// measured run of YCSB-style operations (core/workload.ts) in one of two modes.
//
// Closed loop (YCSB's default): `concurrency` workers, each sending its next operation as
// soon as the previous one answered. Latency is measured from sending to answer.
//
// Open loop (--rate): operations are due at fixed times start + i/rate, whatever happened
// before, and at most `concurrency` are in flight. Latency is measured from the time an
// operation was due, not from when it could be sent. A closed loop that stalls stops sending,
// so the requests a real client would have sent meanwhile are never measured and a one-second
// stall shows up as one slow sample: Gil Tene's "coordinated omission" ("How NOT to Measure
// Latency", 2015; wrk2 measures the same way). The open loop keeps the stall in its tail and
// also reports the service time (send to answer) so both views can be compared.
//
// Updates write with the last context the run saw for the key (from the load phase, a read
// or the previous update), as a well-behaved client does: blind writes would pile up
// siblings until the coordinator refuses them (core/limits.ts siblingsMax). Failed operations
// are counted per error code and the run goes on; anything thrown without a code is a bug
// and ends the run.
import {DynError} from '../core/errors.js'
import {Histogram} from '../core/histogram.js'
import {SeededRandom} from '../core/random.js'
import {operationKinds, WorkloadGenerator, type OperationKind, type PlannedOperation} from '../core/workload.js'
import type {LoadClock} from './clock.js'
import {benchKey, type BenchOptions} from './options.js'
import {Timeline, type ThroughputTimeline} from './timeline.js'

/** What the load generator sends operations to (DynClient in `dyn bench`, fakes in tests). */
export interface BenchTarget {
  /** Resolves with whether the key was found and its context; rejects with a coded error. */
  read(key: string): Promise<{found: boolean; context: string}>
  /** Writes `value` with `context` (blind when undefined); resolves with the new context. */
  update(key: string, value: Uint8Array, context: string | undefined): Promise<{context: string}>
}

export interface BenchDependencies {
  readonly target: BenchTarget
  readonly clock: LoadClock
  /** Aborting stops issuing operations; those in flight finish and the run reports. */
  readonly signal?: AbortSignal
}

/** Latencies are recorded in whole microseconds, up to this; longer ones are counted as
 * this (Histogram.clampedCount) with the exact max kept. An hour is past any request
 * timeout; only an open-loop run that falls an hour behind its schedule gets there. */
export const latencyUsMax = 60 * 60 * 1_000_000

export interface OperationStats {
  readonly kind: OperationKind
  /** Operations that succeeded. */
  count: number
  /** Operations that failed; by code in errorCodes. */
  errors: number
  /** Reads that found no value (the key was never written or is deleted). */
  notFound: number
  readonly errorCodes: Map<string, number>
  /** Microseconds from the time the operation was due (open loop) or sent (closed loop)
   * to its answer; successful operations only. */
  readonly latency: Histogram
  /** Open loop only: microseconds from sending to answer. */
  readonly serviceTime: Histogram | undefined
}

export interface LoadPhaseResult {
  readonly keys: number
  readonly elapsedMs: number
  readonly errors: number
  readonly errorCodes: ReadonlyMap<string, number>
}

export type BenchMode = 'closed' | 'open'

export type StopReason = 'duration' | 'operations' | 'interrupted'

export interface BenchResult {
  readonly options: BenchOptions
  readonly mode: BenchMode
  readonly load: LoadPhaseResult | undefined
  /** From the first operation sent to the last answer. */
  readonly elapsedMs: number
  /** Operations sent. */
  readonly issued: number
  /** Open loop: operations whose time had come but that were never sent because the run
   * ended first (the target fell behind the rate, or the run was interrupted). */
  readonly unsent: number
  readonly stoppedBy: StopReason
  readonly operations: Readonly<Record<OperationKind, OperationStats>>
  /** Answers per interval of the measured run, all kinds together. */
  readonly timeline: ThroughputTimeline
}

export type BenchPhase = 'load' | 'run'

/** What a progress display needs, read at any time during a run. */
export interface BenchProgress {
  readonly phase: BenchPhase
  /** Keys loaded, or operations answered. */
  readonly done: number
  /** Keys to load, or operations to run when stopping by count. */
  readonly total: number | undefined
  readonly elapsedMs: number
  /** Run phase stopping by time: its length. */
  readonly durationMs: number | undefined
}

/** How long past its end an open-loop run still sends the operations that were due before
 * the end. A little lateness (a timer that woke late, a short backlog) drains instead of
 * counting as unsent; a target further behind than this does not keep up with the rate, and
 * draining a backlog of minutes would only lengthen the run. */
export const openLoopDrainMsMax = 1_000

/** A seed for the value bytes, apart from the operation stream's. */
const valueSeedSalt = 0x5bd1e995

export class BenchRun {
  private readonly options: BenchOptions
  private readonly deps: BenchDependencies
  private readonly contexts = new Map<number, string>()
  private readonly value: Uint8Array
  private phase: BenchPhase
  private phaseStartMs: number
  private done = 0

  constructor(options: BenchOptions, deps: BenchDependencies) {
    this.options = options
    this.deps = deps
    this.value = valueBytes(options.valueBytes, options.seed ^ valueSeedSalt)
    this.phase = options.load ? 'load' : 'run'
    this.phaseStartMs = deps.clock.nowMs()
  }

  progress(): BenchProgress {
    const {stop, keyCount} = this.options
    const total = this.phase === 'load' ? keyCount : stop.kind === 'operations' ? stop.operations : undefined
    const durationMs = this.phase === 'run' && stop.kind === 'duration' ? stop.durationMs : undefined
    return {phase: this.phase, done: this.done, total, elapsedMs: this.deps.clock.nowMs() - this.phaseStartMs, durationMs}
  }

  async run(): Promise<BenchResult> {
    const load = this.options.load ? await this.loadKeys() : undefined
    this.startPhase('run')
    const measured = this.options.rateOpsPerS === undefined ? await this.closedLoop() : await this.openLoop(this.options.rateOpsPerS)
    return {options: this.options, mode: this.options.rateOpsPerS === undefined ? 'closed' : 'open', load, ...measured}
  }

  private startPhase(phase: BenchPhase): void {
    this.phase = phase
    this.phaseStartMs = this.deps.clock.nowMs()
    this.done = 0
  }

  private get aborted(): boolean {
    return this.deps.signal?.aborted === true
  }

  /** Reads each key (to learn its context, so a second run does not add siblings), then
   * writes it; `concurrency` keys at a time. */
  private async loadKeys(): Promise<LoadPhaseResult> {
    this.startPhase('load')
    const errorCodes = new Map<string, number>()
    let errors = 0
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < this.options.keyCount && !this.aborted) {
        const index = next++
        try {
          const read = await this.deps.target.read(benchKey(index))
          const written = await this.deps.target.update(benchKey(index), this.value, read.context)
          this.contexts.set(index, written.context)
        } catch (error) {
          errors++
          countCode(errorCodes, codeOf(error))
        } finally {
          this.done++
        }
      }
    }
    await Promise.all(Array.from({length: this.options.concurrency}, worker))
    return {keys: this.done, elapsedMs: this.deps.clock.nowMs() - this.phaseStartMs, errors, errorCodes}
  }

  private async closedLoop(): Promise<Omit<BenchResult, 'options' | 'mode' | 'load'>> {
    const {clock} = this.deps
    const {stop} = this.options
    const stats = newStats(false)
    const generator = this.generator()
    const startMs = clock.nowMs()
    const timeline = new Timeline(startMs)
    let issued = 0
    const mayIssue = (): boolean => !this.aborted && (stop.kind === 'duration' ? clock.nowMs() - startMs < stop.durationMs : issued < stop.operations)
    const worker = async (): Promise<void> => {
      while (mayIssue()) {
        issued++
        await this.execute(generator.next(), {stats, timeline, dueMs: clock.nowMs()})
      }
    }
    await Promise.all(Array.from({length: this.options.concurrency}, worker))
    const stoppedBy: StopReason = this.aborted ? 'interrupted' : stop.kind
    return {elapsedMs: clock.nowMs() - startMs, issued, unsent: 0, stoppedBy, operations: stats, timeline: timeline.result()}
  }

  private async openLoop(rateOpsPerS: number): Promise<Omit<BenchResult, 'options' | 'mode' | 'load'>> {
    const {clock, signal} = this.deps
    const {stop} = this.options
    const stats = newStats(true)
    const generator = this.generator()
    const intervalMs = 1000 / rateOpsPerS
    const scheduled = stop.kind === 'operations' ? stop.operations : ceilTolerant((stop.durationMs * rateOpsPerS) / 1000)
    const slots = new Slots(this.options.concurrency)
    const inFlight = new Set<Promise<void>>()
    const startMs = clock.nowMs()
    const timeline = new Timeline(startMs)
    let issued = 0
    let behind = false
    // A bug in an operation (an error without a code) ends the run once the operations in
    // flight are done, and is thrown then.
    let failure: {error: unknown} | undefined
    while (issued < scheduled && !this.aborted && failure === undefined) {
      const dueMs = startMs + issued * intervalMs
      while (clock.nowMs() < dueMs && !this.aborted) await clock.sleepUntil(dueMs, signal)
      if (this.aborted) break
      await slots.acquire()
      if (stop.kind === 'duration' && clock.nowMs() - startMs >= stop.durationMs + openLoopDrainMsMax) {
        slots.release()
        behind = true
        break
      }
      issued++
      const operation = this.execute(generator.next(), {stats, timeline, dueMs})
        .catch((error: unknown) => {
          failure ??= {error}
        })
        .finally(() => {
          slots.release()
          inFlight.delete(operation)
        })
      inFlight.add(operation)
    }
    const cutoffMs = clock.nowMs()
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure.error
    const due = Math.min(scheduled, Math.floor((cutoffMs - startMs) / intervalMs) + 1)
    const stoppedBy: StopReason = this.aborted ? 'interrupted' : stop.kind
    return {elapsedMs: clock.nowMs() - startMs, issued, unsent: behind || this.aborted ? Math.max(0, due - issued) : 0, stoppedBy, operations: stats, timeline: timeline.result()}
  }

  private generator(): WorkloadGenerator {
    const {workload, distribution, keyCount, seed} = this.options
    return new WorkloadGenerator(new SeededRandom(seed), {workload, distribution, keyCount})
  }

  /** Sends one operation and records its outcome. */
  private async execute(operation: PlannedOperation, how: {stats: Record<OperationKind, OperationStats>; timeline: Timeline; dueMs: number}): Promise<void> {
    const stats = how.stats[operation.kind]
    const sentMs = this.deps.clock.nowMs()
    try {
      await this.send(operation, stats)
      const answeredMs = this.deps.clock.nowMs()
      stats.count++
      stats.latency.record(toUs(answeredMs - how.dueMs))
      stats.serviceTime?.record(toUs(answeredMs - sentMs))
      how.timeline.record(answeredMs, true)
    } catch (error) {
      stats.errors++
      countCode(stats.errorCodes, codeOf(error))
      how.timeline.record(this.deps.clock.nowMs(), false)
    } finally {
      this.done++
    }
  }

  private async send(operation: PlannedOperation, stats: OperationStats): Promise<void> {
    const key = benchKey(operation.keyIndex)
    if (operation.kind === 'read') {
      const read = await this.deps.target.read(key)
      if (!read.found) stats.notFound++
      this.contexts.set(operation.keyIndex, read.context)
      return
    }
    const written = await this.deps.target.update(key, this.value, this.contexts.get(operation.keyIndex))
    this.contexts.set(operation.keyIndex, written.context)
  }
}

function newStats(open: boolean): Record<OperationKind, OperationStats> {
  const entries = operationKinds.map((kind): [OperationKind, OperationStats] => [
    kind,
    {
      kind,
      count: 0,
      errors: 0,
      notFound: 0,
      errorCodes: new Map(),
      latency: new Histogram({highestTrackableValue: latencyUsMax}),
      serviceTime: open ? new Histogram({highestTrackableValue: latencyUsMax}) : undefined,
    },
  ])
  return Object.fromEntries(entries) as Record<OperationKind, OperationStats>
}

/** The error's stable code; an error without one is a bug and is thrown on. */
function codeOf(error: unknown): string {
  if (error instanceof DynError) return error.code
  const code = (error as {code?: unknown} | undefined)?.code
  if (typeof code === 'string') return code
  throw error
}

function countCode(codes: Map<string, number>, code: string): void {
  codes.set(code, (codes.get(code) ?? 0) + 1)
}

/** Whole microseconds, never negative (a timer may wake a fraction of a millisecond early). */
function toUs(ms: number): number {
  return Math.max(0, Math.round(ms * 1000))
}

/** ceil, without float noise turning 1000 into 1001. */
function ceilTolerant(value: number): number {
  const nearest = Math.round(value)
  return Math.abs(value - nearest) <= 1e-9 * Math.max(1, value) ? nearest : Math.ceil(value)
}

/** Bytes of a value: seeded, so a run is reproducible, and not all one byte. */
function valueBytes(length: number, seed: number): Uint8Array {
  const random = new SeededRandom(seed)
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = random.nextUint32() & 0xff
  return bytes
}

/** A counting semaphore: the open loop's limit on operations in flight. */
class Slots {
  private free: number
  private readonly waiting: (() => void)[] = []

  constructor(count: number) {
    this.free = count
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    const next = this.waiting.shift()
    if (next === undefined) this.free++
    else next()
  }
}
