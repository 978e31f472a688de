// Throughput over time for `dyn bench --html`: answers counted per interval of the run, from
// the run's start. The interval starts short and doubles (adjacent counts merged) whenever
// the run outgrows timelineIntervalsMax intervals, so any run, a second or a day, keeps
// between half that and that many points in constant memory. Recording is one division and
// one array increment: it sits in the load generator's loop, which must stay cheap.

/** Points kept at most: a chart a few hundred pixels wide shows no more. */
export const timelineIntervalsMax = 200

/** The first interval: short enough that a run of a few seconds still shows its shape. */
export const timelineIntervalMsMin = 100

export interface ThroughputTimeline {
  /** Length of each interval; interval i covers [i·intervalMs, (i+1)·intervalMs) from the start. */
  readonly intervalMs: number
  /** Operations answered successfully, per interval. */
  readonly ok: readonly number[]
  /** Operations that failed, per interval. */
  readonly errors: readonly number[]
}

export class Timeline {
  private readonly startMs: number
  private intervalMs = timelineIntervalMsMin
  // Invariant: ok.length === errors.length <= timelineIntervalsMax.
  private ok: number[] = []
  private errors: number[] = []

  constructor(startMs: number) {
    this.startMs = startMs
  }

  /** Counts one answer at `atMs` (the load clock's time). */
  record(atMs: number, succeeded: boolean): void {
    let index = Math.floor(Math.max(0, atMs - this.startMs) / this.intervalMs)
    while (index >= timelineIntervalsMax) {
      this.coarsen()
      index = Math.floor(Math.max(0, atMs - this.startMs) / this.intervalMs)
    }
    while (this.ok.length <= index) {
      this.ok.push(0)
      this.errors.push(0)
    }
    if (succeeded) this.ok[index]!++
    else this.errors[index]!++
  }

  /** The counts so far. */
  result(): ThroughputTimeline {
    return {intervalMs: this.intervalMs, ok: [...this.ok], errors: [...this.errors]}
  }

  /** Doubles the interval: counts 2i and 2i+1 become count i. */
  private coarsen(): void {
    const merge = (counts: readonly number[]): number[] => Array.from({length: Math.ceil(counts.length / 2)}, (_, i) => (counts[2 * i] ?? 0) + (counts[2 * i + 1] ?? 0))
    this.ok = merge(this.ok)
    this.errors = merge(this.errors)
    this.intervalMs *= 2
  }
}
