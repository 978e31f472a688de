// `dyn cluster status` and `dyn cluster down`: each node's state from its pid and /health;
// stopping every node with a bound.
import {resolve} from 'node:path'
import {unreachable} from '../core/errors.js'
import {probeHealth} from './health.js'
import {addressOf, httpAddressOf, readClusterFile, writeClusterFile, type NodeEntry} from './layout.js'
import {isNodeProcess, stopProcess, type StopOutcome} from './processes.js'

/** running: its process is alive and /health answers; unhealthy: alive but /health does
 * not answer; stopped: no process. */
export type NodeState = 'running' | 'unhealthy' | 'stopped'

export interface NodeStatus {
  readonly name: string
  readonly address: string
  readonly httpAddress: string
  /** The live process, or null when stopped. */
  readonly pid: number | null
  readonly state: NodeState
  readonly logPath: string
  readonly dataDir: string
}

export interface ClusterStatus {
  readonly dir: string
  readonly cluster: string
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitions: number
  readonly nodes: readonly NodeStatus[]
}

export async function clusterStatus(dirOption: string): Promise<ClusterStatus> {
  const dir = resolve(dirOption)
  const file = await readClusterFile(dir)
  const nodes = await Promise.all(file.nodes.map(nodeStatus))
  return {dir, cluster: file.cluster, n: file.n, r: file.r, w: file.w, partitions: file.partitions, nodes}
}

async function nodeStatus(node: NodeEntry): Promise<NodeStatus> {
  const alive = await isNodeProcess(node.pid, node.configPath)
  const health = alive ? await probeHealth(httpAddressOf(node)) : undefined
  const state: NodeState = !alive ? 'stopped' : health?.ok === true ? 'running' : 'unhealthy'
  return {
    name: node.name,
    address: addressOf(node),
    httpAddress: httpAddressOf(node),
    pid: alive ? node.pid : null,
    state,
    logPath: node.logPath,
    dataDir: node.dataDir,
  }
}

export interface StoppedNode {
  readonly name: string
  readonly pid: number | null
  /** stopped: exited after SIGTERM; killed: needed SIGKILL; notRunning: nothing to stop. */
  readonly outcome: StopOutcome
}

export interface DownResult {
  readonly dir: string
  readonly nodes: readonly StoppedNode[]
}

/** Stops every node (SIGTERM, SIGKILL after graceMs) and records them as stopped. */
export async function down(options: {dir: string; graceMs?: number}): Promise<DownResult> {
  const dir = resolve(options.dir)
  const file = await readClusterFile(dir)
  const nodes = await Promise.all(
    file.nodes.map(async (node): Promise<StoppedNode> => {
      if (node.pid === null) return {name: node.name, pid: null, outcome: 'notRunning'}
      const outcome = await stopProcess(node.pid, {
        ...(options.graceMs === undefined ? {} : {graceMs: options.graceMs}),
        isRunning: () => isNodeProcess(node.pid, node.configPath),
      })
      return {name: node.name, pid: outcome === 'notRunning' ? null : node.pid, outcome}
    }),
  )
  await writeClusterFile(dir, {...file, nodes: file.nodes.map((node) => ({...node, pid: null}))})
  return {dir, nodes}
}

export function describeOutcome(outcome: StopOutcome): string {
  switch (outcome) {
    case 'stopped':
      return 'stopped'
    case 'killed':
      return 'killed (did not stop within the grace period)'
    case 'notRunning':
      return 'was not running'
    default:
      return unreachable(outcome)
  }
}
