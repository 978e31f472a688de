// How slow the node's foreground requests are right now, against how slow they are when
// the node is quiet: the signal background work (anti-entropy, DESIGN §5: "backs off when
// request latency rises") uses to yield to clients.
//
// Samples are the times Node.handle took for client requests, read from the Clock port.
// Time is cut into fixed windows of latencyWindowMs. The recent p99 is the p99 of the
// samples of the last latencyWindowMs. The baseline is the lowest p99 of the quiet windows
// (no background work marked in them) among the last latencyBaselineWindows: the latency
// clients see under the current load without background work. A burst of slow requests
// never becomes the baseline, while a load that stays high for longer than that becomes the
// new normal and background work resumes instead of starving forever. When no quiet window
// is recent, there is no baseline, and background work pauses for a window to measure one.
//
// The same samples give the foreground request rate (requestsPerSecond), which sets how
// fast anti-entropy may go: quick while the node is idle, at its base pace under load.
import type {Clock} from './ports.js'

/** Width of one window. Long enough to hold a p99 of a moderately loaded node (hundreds of
 * requests), short enough that a pause ends a few seconds after the load does. */
export const latencyWindowMs = 2_000

/** Closed windows the baseline is the minimum of: a minute at 2 s windows. */
export const latencyBaselineWindows = 30

/** Samples kept for the recent p99; beyond this the oldest are dropped (a node serving
 * more than this per window gets its p99 from the newest ones). */
export const latencySamplesMax = 4_096

/** Fewer samples than this in a window say nothing about a p99: no pause on them, and the
 * window does not count for the baseline. */
export const latencySamplesMin = 20

interface Sample {
  readonly atMs: number
  readonly ms: number
}

export class LatencyTracker {
  /** Ring buffers of the newest samples: overall, and of the current window. */
  private readonly samples: Sample[] = []
  private samplesWritten = 0
  private windowSamples: number[] = []
  private windowWritten = 0
  /** p99 of the last closed windows, undefined for those with background work or too few samples. */
  private readonly closedP99Ms: Array<number | undefined> = []
  private windowStartMs: number | undefined = undefined
  private windowHadBackground = false

  constructor(private readonly clock: Clock) {}

  /** One foreground request took `ms`. */
  record(ms: number): void {
    const nowMs = this.clock.nowMs()
    this.roll(nowMs)
    this.samples[this.samplesWritten++ % latencySamplesMax] = {atMs: nowMs, ms}
    this.windowSamples[this.windowWritten++ % latencySamplesMax] = ms
  }

  /** Background work ran in the current window: it does not count for the baseline. */
  markBackground(): void {
    this.roll(this.clock.nowMs())
    this.windowHadBackground = true
  }

  /** p99 of the requests of the last window; undefined with too few of them. */
  recentP99Ms(): number | undefined {
    const nowMs = this.clock.nowMs()
    this.roll(nowMs)
    const recent = this.samples.filter((sample) => sample.atMs > nowMs - latencyWindowMs).map((sample) => sample.ms)
    return recent.length < latencySamplesMin ? undefined : p99(recent)
  }

  /** Foreground requests per second over the last window. Saturates at latencySamplesMax
   * per window (2,048/s at the defaults), far past any rate that counts as busy. */
  requestsPerSecond(): number {
    const nowMs = this.clock.nowMs()
    let count = 0
    for (const sample of this.samples) if (sample.atMs > nowMs - latencyWindowMs) count++
    return (count * 1000) / latencyWindowMs
  }

  /** The lowest p99 of the recent quiet windows; undefined when none of them had enough samples. */
  baselineP99Ms(): number | undefined {
    this.roll(this.clock.nowMs())
    const quiet = this.closedP99Ms.filter((value) => value !== undefined)
    return quiet.length === 0 ? undefined : Math.min(...quiet)
  }

  private roll(nowMs: number): void {
    if (this.windowStartMs === undefined) {
      this.windowStartMs = nowMs
      return
    }
    if (nowMs - this.windowStartMs < latencyWindowMs) return
    // A window with little foreground traffic neither makes nor ages the baseline.
    if (this.windowSamples.length >= latencySamplesMin) {
      this.closedP99Ms.push(this.windowHadBackground ? undefined : p99(this.windowSamples))
      if (this.closedP99Ms.length > latencyBaselineWindows) this.closedP99Ms.shift()
    }
    this.windowSamples = []
    this.windowWritten = 0
    this.windowHadBackground = false
    this.windowStartMs = nowMs - ((nowMs - this.windowStartMs) % latencyWindowMs)
  }
}

/** The 99th percentile by nearest rank. */
export function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? 0
}
