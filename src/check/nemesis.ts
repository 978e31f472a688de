// The nemesis of `dyn check` on real processes: it carries out the planned faults
// (schedule.ts) on a local cluster through the cluster's own commands — `cluster kill`,
// `cluster start`, `cluster partition`, `cluster heal` — plus SIGSTOP/SIGCONT for pauses,
// and records each fault with the times it really began and ended.
//
// lose-unsynced emulates a power loss on a `--sync none` node, which a SIGKILL alone is
// not: a killed process's writes stay in the page cache and reach the disk anyway. The node
// is paused (SIGSTOP) while its store's partition folders are copied, so the copy is the
// state a crash at that instant would leave; it resumes, keeps acknowledging writes for a
// while, is killed, and its partition folders are replaced by the copy before it starts
// again. So every write it stored after the copy is gone, as if the page cache had never
// been written back. Its `meta/` folder (ring view, dot counter, writer identities) is kept:
// the node syncs it whatever the sync mode (docs/node.md), and a power loss keeps it too.
import {cp, readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {heal, isNodeProcess, killNode, partition, readClusterFile, startNode, type NodeEntry} from '../cluster/index.js'
import {DynError, unreachable} from '../core/errors.js'
import type {Fault} from './history.js'
import type {PlannedFault} from './schedule.js'

/** How long a node restarted by the nemesis may take to answer /health (from the sources,
 * tsx compiles it first on a loaded machine). */
export const restartTimeoutMs = 60_000

export interface NemesisOptions {
  readonly dir: string
  readonly nowMs: () => number
  /** Folder for the lose-unsynced copies. */
  readonly scratchDir: string
  readonly onFault: (event: 'start' | 'end', fault: Fault) => void
}

export class Nemesis {
  private nextId = 1
  /** Nodes this nemesis stopped with SIGSTOP and not yet continued. */
  private readonly paused = new Map<string, number>()

  constructor(private readonly options: NemesisOptions) {}

  /** Runs the planned faults at their times (late when the previous one overran) until
   * they are done or `running()` turns false. */
  async run(plan: readonly PlannedFault[], running: () => boolean): Promise<void> {
    for (const planned of plan) {
      while (running() && this.options.nowMs() < planned.atMs) await sleep(Math.min(100, planned.atMs - this.options.nowMs()))
      if (!running()) return
      await this.inject(planned, running)
    }
  }

  private async inject(planned: PlannedFault, running: () => boolean): Promise<void> {
    const fault: Fault = {id: this.nextId++, kind: planned.kind, nodes: planned.nodes, ...(planned.groups === undefined ? {} : {groups: planned.groups}), startMs: this.options.nowMs()}
    this.options.onFault('start', fault)
    try {
      switch (planned.kind) {
        case 'kill':
          await killNode({dir: this.options.dir, node: planned.nodes[0]!})
          await this.hold(planned.durationMs, running)
          await this.start(planned.nodes[0]!)
          break
        case 'pause':
          await this.pause(planned.nodes[0]!)
          await this.hold(planned.durationMs, running)
          await this.resume(planned.nodes[0]!)
          break
        case 'partition':
          await partition({dir: this.options.dir, groups: planned.groups ?? []})
          await this.hold(planned.durationMs, running)
          await heal({dir: this.options.dir})
          break
        case 'lose-unsynced':
          await this.loseUnsynced(planned, fault, running)
          break
        default:
          unreachable(planned.kind)
      }
    } catch (error) {
      // A fault that could not be carried out (a node that did not come back, a cut one
      // node was not told) is recorded and the run goes on; healing at the end tries again,
      // and fails the run if a node still does not start.
      if (!(error instanceof DynError)) throw error
      fault.error = `${error.code}: ${error.message}`
    } finally {
      fault.endMs = this.options.nowMs()
      this.options.onFault('end', fault)
    }
  }

  /** Pauses every node of the fault while their stores are copied, lets them run on, kills
   * them all, puts the copies back and starts them again. */
  private async loseUnsynced(planned: PlannedFault, fault: Fault, running: () => boolean): Promise<void> {
    const nodes = await Promise.all(planned.nodes.map((name) => this.entry(name)))
    const copyOf = (name: string): string => join(this.options.scratchDir, `${name}-${fault.id}`)
    for (const node of nodes) await this.pause(node.name)
    try {
      for (const node of nodes) await copyPartitions(node.dataDir, copyOf(node.name))
      fault.snapshotMs = this.options.nowMs()
    } finally {
      for (const node of nodes) await this.resume(node.name)
    }
    await this.hold(planned.windowMs ?? 0, running)
    // One after another: each kill rewrites cluster.json (cluster/lifecycle.ts).
    for (const node of nodes) await killNode({dir: this.options.dir, node: node.name})
    fault.killMs = this.options.nowMs()
    for (const node of nodes) {
      await restorePartitions(copyOf(node.name), node.dataDir)
      await rm(copyOf(node.name), {recursive: true, force: true})
    }
    await this.hold(planned.durationMs, running)
    for (const node of nodes) await this.start(node.name)
  }

  /** Undoes whatever is left: continues paused nodes, heals every cut and starts every node
   * that is not running. Safe to call at any time, and more than once. */
  async healAll(): Promise<void> {
    for (const name of [...this.paused.keys()]) await this.resume(name)
    const file = await readClusterFile(this.options.dir)
    for (const node of file.nodes) {
      if (!(await isNodeProcess(node.pid, node.configPath))) await this.start(node.name)
    }
    await heal({dir: this.options.dir})
  }

  /** Continues every paused node; for cleanup after an error, when nothing else may run. */
  resumeAll(): void {
    for (const pid of this.paused.values()) signal(pid, 'SIGCONT')
    this.paused.clear()
  }

  private async hold(durationMs: number, running: () => boolean): Promise<void> {
    const untilMs = this.options.nowMs() + durationMs
    while (running() && this.options.nowMs() < untilMs) await sleep(Math.min(100, untilMs - this.options.nowMs()))
  }

  private async start(name: string): Promise<void> {
    await startNode({dir: this.options.dir, node: name, timeoutMs: restartTimeoutMs})
  }

  private async pause(name: string): Promise<void> {
    const node = await this.entry(name)
    if (node.pid === null || !(await isNodeProcess(node.pid, node.configPath))) return
    signal(node.pid, 'SIGSTOP')
    this.paused.set(name, node.pid)
  }

  private async resume(name: string): Promise<void> {
    const pid = this.paused.get(name)
    if (pid === undefined) return
    signal(pid, 'SIGCONT')
    this.paused.delete(name)
  }

  private async entry(name: string): Promise<NodeEntry> {
    const file = await readClusterFile(this.options.dir)
    const node = file.nodes.find((entry) => entry.name === name)
    if (node === undefined) throw new Error(`assertion failed: the plan names ${name}, which the cluster lacks`)
    return node
  }
}

/** The store's partition folders (p-N), not its lock or its meta/ folder. */
async function partitionFolders(dataDir: string): Promise<string[]> {
  return (await readdir(dataDir)).filter((name) => /^p-\d+$/.test(name))
}

async function copyPartitions(dataDir: string, copy: string): Promise<void> {
  for (const name of await partitionFolders(dataDir)) await cp(join(dataDir, name), join(copy, name), {recursive: true})
}

async function restorePartitions(copy: string, dataDir: string): Promise<void> {
  for (const name of await partitionFolders(dataDir)) await rm(join(dataDir, name), {recursive: true, force: true})
  let saved: string[] = []
  try {
    saved = await partitionFolders(copy)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  for (const name of saved) await cp(join(copy, name), join(dataDir, name), {recursive: true})
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}
