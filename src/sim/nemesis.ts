// The nemesis of a simulated run (Jepsen's term): while the clients work, it splits the
// network into two sides and heals it, and crashes nodes and restarts them, at times the
// seed chooses. What it may do in a run is chosen per seed too (swarm testing, Groce et al.
// 2012): some runs only partition, some only crash, some both, some neither, so that each
// kind of fault is also seen alone.
import {randomInt, randomPick, shuffled, type Random} from '../core/random.js'
import type {Scheduler} from './scheduler.js'

export interface NemesisShape {
  /** Whether this run partitions the network. */
  readonly partitions: boolean
  /** Whether this run crashes and restarts nodes. */
  readonly crashes: boolean
  /** Whether a crashed node may come back on an empty disk (a replaced disk, a deleted data
   * directory) under its old name: a quarter of its crashes. */
  readonly wipes?: boolean
  /** Pause between two nemesis actions: uniform in [pauseMsMin, pauseMsMax]. */
  readonly pauseMsMin: number
  readonly pauseMsMax: number
  /** How long a partition or a crashed node lasts at most (at least a tenth of it). */
  readonly faultMsMax: number
}

/** What the nemesis acts on: the world of the run. */
export interface NemesisTarget {
  readonly nodes: readonly string[]
  readonly clients: readonly string[]
  isUp(node: string): boolean
  crash(node: string): void
  /** A crash that also loses the node's whole disk. */
  wipe(node: string): void
  restart(node: string): void
  partition(side: readonly string[]): void
  healPartition(): void
  isPartitioned(): boolean
}

export interface NemesisStats {
  crashes: number
  /** Crashes that lost the disk too (counted in crashes). */
  wipes: number
  restarts: number
  partitions: number
}

export class Nemesis {
  readonly stats: NemesisStats = {crashes: 0, wipes: 0, restarts: 0, partitions: 0}
  private stopped = false

  constructor(
    private readonly options: {
      readonly shape: NemesisShape
      readonly scheduler: Scheduler
      readonly random: Random
      readonly target: NemesisTarget
    },
  ) {}

  /** Acts until stop(); resolves at the first wake-up after it. */
  async run(): Promise<void> {
    const {shape, scheduler, random} = this.options
    if (!shape.partitions && !shape.crashes) return
    for (;;) {
      await scheduler.sleep(shape.pauseMsMin + randomInt(random, shape.pauseMsMax - shape.pauseMsMin + 1))
      if (this.stopped) return
      const crash = shape.crashes && (!shape.partitions || randomInt(random, 2) === 0)
      if (crash) this.crashOne()
      else this.partitionOnce()
    }
  }

  /** No new faults from now on; the caller heals and restarts what is left. */
  stop(): void {
    this.stopped = true
  }

  private crashOne(): void {
    const {target, random, scheduler, shape} = this.options
    const up = target.nodes.filter((node) => target.isUp(node))
    if (up.length === 0) return
    const node = randomPick(random, up)
    if (shape.wipes === true && randomInt(random, 4) === 0) {
      target.wipe(node)
      this.stats.wipes++
    } else {
      target.crash(node)
    }
    this.stats.crashes++
    scheduler.schedule(this.faultMs(), () => {
      if (this.stopped || target.isUp(node)) return
      target.restart(node)
      this.stats.restarts++
    })
  }

  /** A random split with nodes on both sides; each client lands on a random side. */
  private partitionOnce(): void {
    const {target, random, scheduler} = this.options
    if (target.isPartitioned() || target.nodes.length < 2) return
    const order = shuffled(random, target.nodes)
    const cut = 1 + randomInt(random, target.nodes.length - 1)
    const side = [...order.slice(0, cut), ...target.clients.filter(() => randomInt(random, 2) === 0)]
    target.partition(side)
    this.stats.partitions++
    scheduler.schedule(this.faultMs(), () => {
      if (!this.stopped) target.healPartition()
    })
  }

  private faultMs(): number {
    const {faultMsMax} = this.options.shape
    const min = Math.floor(faultMsMax / 10)
    return min + randomInt(this.options.random, faultMsMax - min + 1)
  }
}
