// One node of a local cluster at a time (DESIGN §8): `dyn cluster kill NODE` crashes it
// (SIGKILL: no graceful close, writes the sync mode had not made durable may be lost),
// `dyn cluster stop NODE` stops it gracefully (SIGTERM, SIGKILL after a grace period) and
// `dyn cluster start NODE` runs it again from its node.json exactly as `cluster up` does,
// returning once it answers /health. Each records the node's pid in cluster.json.
//
// cluster.json is read, changed and written by each command: run these commands one at a
// time per cluster directory, or a concurrent one's pid may be overwritten (status then
// shows that node as stopped although it runs; `down` still finds it by its port).
import {resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {UnknownClusterNodeError} from './errors.js'
import {restoreCuts} from './faults.js'
import {addressOf, httpAddressOf, readClusterFile, writeClusterFile, type ClusterFile, type NodeEntry} from './layout.js'
import {isNodeProcess, killProcess, stopProcess, type StopOutcome} from './processes.js'
import {programCommand, type ProgramCommand} from './program.js'
import {isPortFree} from './ports.js'
import {checkNodePorts, spawnNode, waitHealthy} from './up.js'

export interface NodeCommandOptions {
  readonly dir: string
  /** The node's name in cluster.json (n1, n2...). */
  readonly node: string
}

interface LifecycleBase {
  readonly dir: string
  readonly name: string
  readonly elapsedMs: number
}

export interface KillResult extends LifecycleBase {
  /** The process that was killed, or null when none ran. */
  readonly pid: number | null
  readonly outcome: 'killed' | 'notRunning'
}

export interface StopResult extends LifecycleBase {
  readonly pid: number | null
  /** stopped: exited after SIGTERM; killed: needed SIGKILL after the grace period. */
  readonly outcome: StopOutcome
}

export interface StartResult extends LifecycleBase {
  /** The running process: the new one, or the one found already running. */
  readonly pid: number
  readonly outcome: 'started' | 'alreadyRunning'
  readonly address: string
  readonly httpAddress: string
}

/** Crashes the node with SIGKILL and waits until its process is gone. */
/** How long a kill waits for the node's ports to be released after its process is gone. */
const portsFreeWaitMs = 5_000

/** How often it looks. */
const portsFreePollMs = 20

async function untilPortsFree(node: NodeEntry, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if ((await isPortFree(node.host, node.port)) && (await isPortFree(node.host, node.httpPort))) return
    await sleep(portsFreePollMs)
  }
}

export async function killNode(options: NodeCommandOptions): Promise<KillResult> {
  const startedMs = performance.now()
  const {dir, node} = await findNode(options)
  const outcome = node.pid === null ? 'notRunning' : await killProcess(node.pid, {isRunning: () => isNodeProcess(node.pid, node.configPath)})
  // A killed process's command line empties before its last thread has closed its sockets:
  // `kill` then `start` must find the node's ports free.
  if (outcome === 'killed') await untilPortsFree(node, portsFreeWaitMs)
  await recordPid(dir, node.name, null)
  return {dir, name: node.name, pid: outcome === 'notRunning' ? null : node.pid, outcome, elapsedMs: elapsedSince(startedMs)}
}

/** SIGTERM, wait up to graceMs for the node's graceful close, then SIGKILL. */
export async function stopNode(options: NodeCommandOptions & {readonly graceMs?: number}): Promise<StopResult> {
  const startedMs = performance.now()
  const {dir, node} = await findNode(options)
  const outcome: StopOutcome =
    node.pid === null
      ? 'notRunning'
      : await stopProcess(node.pid, {...(options.graceMs === undefined ? {} : {graceMs: options.graceMs}), isRunning: () => isNodeProcess(node.pid, node.configPath)})
  await recordPid(dir, node.name, null)
  return {dir, name: node.name, pid: outcome === 'notRunning' ? null : node.pid, outcome, elapsedMs: elapsedSince(startedMs)}
}

/** Runs the node again from its node.json and waits until it answers /health; a node
 * already running is left alone. Throws PortTakenError or NodeStartError (with its log). */
export async function startNode(options: NodeCommandOptions & {readonly timeoutMs?: number; readonly program?: ProgramCommand}): Promise<StartResult> {
  const startedMs = performance.now()
  const {dir, node} = await findNode(options)
  const addresses = {address: addressOf(node), httpAddress: httpAddressOf(node)}
  if (node.pid !== null && (await isNodeProcess(node.pid, node.configPath))) {
    return {dir, name: node.name, pid: node.pid, outcome: 'alreadyRunning', ...addresses, elapsedMs: elapsedSince(startedMs)}
  }
  await checkNodePorts(node)
  const started = await spawnNode(node, options.program ?? programCommand())
  const pid = started.entry.pid
  await recordPid(dir, node.name, pid)
  try {
    await waitHealthy([started], options.timeoutMs === undefined ? {} : {timeoutMs: options.timeoutMs})
  } catch (error) {
    // A node that did not come up is not left half-running behind the error.
    if (pid !== null) await killProcess(pid, {isRunning: () => isNodeProcess(pid, node.configPath)})
    await recordPid(dir, node.name, null)
    throw error
  }
  // The node kept the cut it had when it stopped; the cluster's may have changed since.
  await restoreCuts({file: await readClusterFile(dir), nodes: [started.entry]})
  return {dir, name: node.name, pid: pid ?? 0, outcome: 'started', ...addresses, elapsedMs: elapsedSince(startedMs)}
}

/** The cluster file and the named node; throws a usage error listing the known nodes. */
export async function findNode(options: NodeCommandOptions): Promise<{dir: string; file: ClusterFile; node: NodeEntry}> {
  const dir = resolve(options.dir)
  const file = await readClusterFile(dir)
  const node = file.nodes.find((entry) => entry.name === options.node)
  if (node === undefined) throw new UnknownClusterNodeError(options.node, file.nodes.map((entry) => entry.name))
  return {dir, file, node}
}

/** Re-reads cluster.json right before writing it, to keep the window for a concurrent
 * command's change small. */
async function recordPid(dir: string, name: string, pid: number | null): Promise<void> {
  const file = await readClusterFile(dir)
  await writeClusterFile(dir, {...file, nodes: file.nodes.map((entry) => (entry.name === name ? {...entry, pid} : entry))})
}

function elapsedSince(startedMs: number): number {
  return Math.round(performance.now() - startedMs)
}
