// Compaction in a running node (Bitcask's merge): the node compacts the open partition with
// the most bytes to reclaim, one partition at a time, the next one at the next tick, until
// none has any; then it looks again every compactionCheckIntervalMs. So superseded values
// and reaped tombstones leave the disk (docs/store.md, Compaction).
// A compaction that fails (a full disk) is counted and logged; the store has removed its
// partial outputs, and the next check tries again.
import {DynError} from '../core/errors.js'
import type {CompactionReport} from '../store/index.js'

/** How often the node looks for a partition to compact. A look is a walk over the open
 * partitions' closed segments; a compaction rewrites at most a few segments of one
 * partition, so one every 10 s keeps the disk near its live size without crowding the
 * requests' I/O. */
export const compactionCheckIntervalMs = 10_000

/** A failure is logged at most this often (a full disk fails every check). */
const failureLogIntervalMs = 60_000

export interface CompactorOptions {
  readonly compactOne: () => Promise<{partition: number; report: CompactionReport} | undefined>
  readonly nowMs: () => number
  readonly warn: (message: string, fields?: Readonly<Record<string, string>>) => void
}

export class Compactor {
  compactions = 0
  failures = 0
  bytesReclaimed = 0
  private running: Promise<void> | undefined
  private lastCheckMs = -Infinity
  private lastFailureLogMs = -Infinity

  constructor(private readonly options: CompactorOptions) {}

  /** Starts a compaction when one is due and none runs; returns at once. */
  tick(): void {
    const nowMs = this.options.nowMs()
    if (this.running !== undefined || nowMs - this.lastCheckMs < compactionCheckIntervalMs) return
    this.lastCheckMs = nowMs
    this.running = this.compactOnce().finally(() => (this.running = undefined))
  }

  /** Resolves once the compaction under way, if any, ended. */
  async idle(): Promise<void> {
    await this.running
  }

  private async compactOnce(): Promise<void> {
    try {
      const done = await this.options.compactOne()
      if (done === undefined || done.report.segmentsIn === 0) return
      this.compactions++
      this.bytesReclaimed += Math.max(0, done.report.bytesIn - done.report.bytesOut)
      // Another partition may have bytes to reclaim too: look again at the next tick.
      this.lastCheckMs = -Infinity
    } catch (error) {
      this.failures++
      const nowMs = this.options.nowMs()
      if (nowMs - this.lastFailureLogMs < failureLogIntervalMs) return
      this.lastFailureLogMs = nowMs
      const code = error instanceof DynError ? error.code : undefined
      this.options.warn(`store: compaction failed: ${error instanceof Error ? error.message : String(error)}`, code === undefined ? {} : {code})
    }
  }
}
