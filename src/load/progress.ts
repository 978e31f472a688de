// The progress bar of a benchmark run on a terminal (DESIGN §8: waits show a progress bar on
// a terminal and stay quiet when piped; the caller decides whether there is a terminal).
// One line, redrawn in place with a carriage return, at most a few times a second, and
// erased at the end so that the report is all that stays on the screen.
import type {BenchProgress} from './runner.js'

/** Redraws per second are at most 1000 / this: four a second reads as live without
 * costing the load generator measurable time. */
export const progressRedrawMsMin = 250

/** The current rate is the completions of about this long. */
const rateWindowMs = 1_000

const barCharsMax = 30
const barCharsMin = 10
const columnsDefault = 80

export interface ProgressStream {
  write(text: string): unknown
  readonly columns?: number
}

/** One line: phase, bar, elapsed of total, operations done, current rate. */
export function progressLine(progress: BenchProgress, options: {opsPerSecond: number | undefined; columns: number}): string {
  const fraction = progressFraction(progress)
  const count = progress.phase === 'load' ? `${grouped(progress.done)}/${grouped(progress.total ?? 0)} keys` : `${grouped(progress.done)} ops`
  const time = progress.durationMs === undefined ? seconds(progress.elapsedMs) : `${seconds(progress.elapsedMs)}/${seconds(progress.durationMs)}`
  const rate = options.opsPerSecond === undefined ? '' : `  ${grouped(Math.round(options.opsPerSecond))} ops/s`
  const text = `  ${time}  ${count}${rate}`
  const label = progress.phase === 'load' ? 'load' : 'run '
  // Shorter than the terminal: a line that wraps cannot be redrawn with a carriage return.
  const barChars = Math.max(barCharsMin, Math.min(barCharsMax, options.columns - 1 - label.length - 3 - text.length))
  const filled = fraction === undefined ? 0 : Math.round(fraction * barChars)
  const bar = fraction === undefined ? '?'.repeat(barChars) : `${'#'.repeat(filled)}${'-'.repeat(barChars - filled)}`
  return `${label} [${bar}]${text}`.slice(0, Math.max(0, options.columns - 1))
}

function progressFraction(progress: BenchProgress): number | undefined {
  if (progress.total !== undefined && progress.total > 0) return Math.min(1, progress.done / progress.total)
  if (progress.durationMs !== undefined && progress.durationMs > 0) return Math.min(1, progress.elapsedMs / progress.durationMs)
  return undefined
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

function grouped(count: number): string {
  return count.toLocaleString('en-US')
}

export class ProgressBar {
  private readonly stream: ProgressStream
  private readonly nowMs: () => number
  private lastDrawMs = Number.NEGATIVE_INFINITY
  private drawn = false
  /** Recent (time, done) samples of the current phase, oldest first. */
  private samples: {atMs: number; done: number}[] = []
  private phase: BenchProgress['phase'] | undefined

  constructor(stream: ProgressStream, nowMs: () => number) {
    this.stream = stream
    this.nowMs = nowMs
  }

  /** Redraws, unless the last redraw was less than progressRedrawMsMin ago. */
  update(progress: BenchProgress): void {
    const nowMs = this.nowMs()
    if (progress.phase !== this.phase) {
      this.phase = progress.phase
      this.samples = []
    }
    this.samples.push({atMs: nowMs, done: progress.done})
    while (this.samples.length > 2 && nowMs - this.samples[1]!.atMs >= rateWindowMs) this.samples.shift()
    if (nowMs - this.lastDrawMs < progressRedrawMsMin) return
    this.lastDrawMs = nowMs
    this.drawn = true
    // A terminal of unknown size (a pty nobody sized) reports 0 columns.
    const columns = this.stream.columns !== undefined && this.stream.columns > 0 ? this.stream.columns : columnsDefault
    this.stream.write(`\r${progressLine(progress, {opsPerSecond: this.rate(), columns})}\x1b[K`)
  }

  /** Erases the line, if one was drawn. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K')
    this.drawn = false
  }

  private rate(): number | undefined {
    const first = this.samples[0]
    const last = this.samples.at(-1)
    if (first === undefined || last === undefined || last.atMs - first.atMs <= 0) return undefined
    return ((last.done - first.done) * 1000) / (last.atMs - first.atMs)
  }
}
