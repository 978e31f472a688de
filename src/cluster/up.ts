// `dyn cluster up`: writes the cluster directory, starts every node as a detached daemon
// and waits until each answers /health, failing fast (naming the node and its log) when a
// node exits or does not come up. A failed start stops the nodes it started.
import {mkdir, open} from 'node:fs/promises'
import {resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa, type Options} from 'execa'
import {checkQuorumParameters} from '../core/quorum.js'
import {allowedPartitionCounts, checkPartitionCount} from '../core/ring.js'
import {ClusterParameterError, ClusterRunningError, NodeStartError, PortTakenError} from './errors.js'
import {restoreCuts} from './faults.js'
import {probeHealth} from './health.js'
import {
  addressOf,
  clusterFileVersion,
  httpAddressOf,
  nodePaths,
  readClusterFileIfAny,
  writeClusterFile,
  writeNodeConfig,
  type ClusterFile,
  type NodeConfigFile,
  type NodeEntry,
} from './layout.js'
import {readLogTail} from './logs.js'
import {isPortFree} from './ports.js'
import {isNodeProcess, stopProcess} from './processes.js'
import {programCommand, type ProgramCommand} from './program.js'
import {clusterStatus, type ClusterStatus} from './status.js'
import {renderJsonTemplate, templateValues} from './templates.js'

/** Most nodes of a local cluster: each is a Node process of some 50-100 MB on one machine. */
export const localNodesMax = 32

/** Lowest base port: below 1024 needs privileges. */
export const basePortMin = 1024

/** HTTP ports sit this far above the wire ports (issue #4: wire 7001.., http 8001..). */
export const httpPortOffset = 1000

const portMax = 65_535

/** How long `up` waits for every node to answer /health. A node from the sources is
 * compiled by tsx at start (1-3 s each on a loaded 2-core machine, all at once). */
export const upTimeoutMsDefault = 30_000

/** Pause between health probes while nodes start. */
export const healthPollMs = 100

/** Grace before SIGKILL when stopping the nodes of a failed start: they never served. */
const failedStartGraceMs = 2_000

export const upDefaults = {
  nodes: 3,
  n: 3,
  r: 2,
  w: 2,
  partitions: 64,
  basePort: 7001,
  sync: 'always',
  cluster: 'dyn',
  host: '127.0.0.1',
} as const

export interface UpOptions {
  readonly dir: string
  readonly nodes?: number
  readonly n?: number
  readonly r?: number
  readonly w?: number
  readonly partitions?: number
  readonly basePort?: number
  readonly sync?: string
  readonly cluster?: string
  readonly timeoutMs?: number
  readonly program?: ProgramCommand
  readonly onProgress?: (event: UpEvent) => void
}

export type UpEvent =
  | {readonly kind: 'spawned'; readonly node: string; readonly pid: number}
  | {readonly kind: 'healthy'; readonly node: string; readonly ready: number; readonly total: number}

export interface UpResult extends ClusterStatus {
  /** True when an existing, stopped cluster was started again with its recorded settings. */
  readonly restarted: boolean
}

/** A node process just spawned; `exit` says how it ended if it already did. */
export interface Started {
  readonly entry: NodeEntry
  exit: string | undefined
}

const syncPattern = /^(always|none|interval:[1-9][0-9]{0,6})$/

/** Starts the local cluster in `options.dir` (a stopped one there is started again). */
export async function up(options: UpOptions): Promise<UpResult> {
  const dir = resolve(options.dir)
  const existing = await readClusterFileIfAny(dir)
  if (existing !== undefined) await refuseIfRunning(dir, existing)
  const file = existing ?? planCluster(dir, options)
  await checkPorts(file)
  await prepareFiles(dir, file)
  const started = await spawnAll(dir, file, options)
  try {
    await waitHealthy(started, options)
  } catch (error) {
    await Promise.all(started.map((node) => stop(node.entry)))
    await writeClusterFile(dir, {...file, nodes: file.nodes.map((node) => ({...node, pid: null}))})
    throw error
  }
  // A restarted cluster: each node back to the cut recorded for it (none after a heal).
  if (existing !== undefined) await restoreCuts({file: existing, nodes: started.map((node) => node.entry)})
  return {...(await clusterStatus(dir)), restarted: existing !== undefined}
}

/** Validates the parameters and lays the nodes out on ports; throws ClusterParameterError. */
export function planCluster(dir: string, options: Omit<UpOptions, 'dir'>): ClusterFile {
  const nodes = options.nodes ?? upDefaults.nodes
  const n = options.n ?? upDefaults.n
  const r = options.r ?? upDefaults.r
  const w = options.w ?? upDefaults.w
  const partitions = options.partitions ?? upDefaults.partitions
  const basePort = options.basePort ?? upDefaults.basePort
  const sync = options.sync ?? upDefaults.sync
  checkRange('--nodes', nodes, 1, localNodesMax)
  checkRange('--n', n, 1, nodes)
  try {
    checkPartitionCount(partitions)
  } catch {
    throw new ClusterParameterError('--partitions', partitions, `a power of two: ${allowedPartitionCounts().join(', ')}`)
  }
  checkRange('--r', r, 1, n)
  checkRange('--w', w, 1, n)
  checkQuorumParameters({n, name: 'r', value: r})
  checkRange('--base-port', basePort, basePortMin, portMax - httpPortOffset - nodes + 1)
  if (!syncPattern.test(sync)) throw new ClusterParameterError('--sync', sync, 'always, none or interval:MS (MS a whole number of milliseconds)')
  const host = upDefaults.host
  const entries = Array.from({length: nodes}, (_, index): NodeEntry => {
    const name = `n${index + 1}`
    return {name, host, port: basePort + index, httpPort: basePort + index + httpPortOffset, ...nodePaths(dir, name), pid: null}
  })
  return {version: clusterFileVersion, cluster: options.cluster ?? upDefaults.cluster, n, r, w, partitions, sync, nodes: entries}
}

function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ClusterParameterError(field, value, `a whole number from ${min} to ${max}`)
  }
}

async function refuseIfRunning(dir: string, file: ClusterFile): Promise<void> {
  const running = []
  for (const node of file.nodes) if (await isNodeProcess(node.pid, node.configPath)) running.push(node)
  if (running.length > 0) throw new ClusterRunningError(dir, running)
}

async function checkPorts(file: ClusterFile): Promise<void> {
  for (const node of file.nodes) await checkNodePorts(node)
}

/** Throws PortTakenError naming the node when its wire or HTTP port cannot be bound. */
export async function checkNodePorts(node: NodeEntry): Promise<void> {
  if (!(await isPortFree(node.host, node.port))) throw new PortTakenError(node.name, 'wire', addressOf(node))
  if (!(await isPortFree(node.host, node.httpPort))) throw new PortTakenError(node.name, 'HTTP', httpAddressOf(node))
}

/** The node's configuration: templates/local-cluster.json filled in with its settings. */
export function nodeConfig(file: ClusterFile, node: NodeEntry): NodeConfigFile {
  const values = templateValues({
    template: 'local-cluster',
    node: {
      cluster: file.cluster,
      name: node.name,
      listen: {host: node.host, port: node.port},
      http: {host: node.host, port: node.httpPort},
      dataDir: node.dataDir,
      members: file.nodes.map((member) => ({name: member.name, address: addressOf(member), weight: 1})),
      n: file.n,
      r: file.r,
      w: file.w,
      partitions: file.partitions,
      sync: file.sync,
    },
  })
  // The template has exactly the fields of NodeConfigFile (test/cluster/templates.test.ts).
  return renderJsonTemplate('local-cluster', values) as NodeConfigFile
}

async function prepareFiles(dir: string, file: ClusterFile): Promise<void> {
  for (const node of file.nodes) {
    await mkdir(node.dataDir, {recursive: true})
    await writeNodeConfig(node.configPath, nodeConfig(file, node))
  }
  await writeClusterFile(dir, file)
}

async function spawnAll(dir: string, file: ClusterFile, options: UpOptions): Promise<Started[]> {
  const program = options.program ?? programCommand()
  const started: Started[] = []
  for (const node of file.nodes) {
    const one = await spawnNode(node, program)
    started.push(one)
    options.onProgress?.({kind: 'spawned', node: node.name, pid: one.entry.pid ?? 0})
  }
  await writeClusterFile(dir, {...file, nodes: started.map((one) => one.entry)})
  return started
}

/** Starts one node detached from this process, its stdout and stderr appended to its log,
 * so it outlives `dyn cluster up` and nothing of it keeps this process alive. */
export async function spawnNode(node: NodeEntry, program: ProgramCommand): Promise<Started> {
  const log = await open(node.logPath, 'a')
  try {
    const child = execa(program.file, [...program.args, 'node', 'start', '--config', node.configPath], {
      detached: true,
      cleanup: false,
      reject: false,
      // The log's descriptor itself, not a pipe: the node keeps writing after this process exits.
      // (execa's types accept only small literal descriptors, hence the cast.)
      stdin: 'ignore',
      stdout: log.fd as Options['stdout'],
      stderr: log.fd as Options['stderr'],
    })
    const started: Started = {entry: {...node, pid: child.pid ?? null}, exit: undefined}
    child.once('exit', (code, signal) => {
      started.exit = signal === null ? `it exited with code ${String(code)}` : `it was killed by ${signal}`
    })
    child.once('error', (error) => {
      started.exit = `it could not be run: ${error.message}`
    })
    child.unref()
    void child.catch(() => {})
    return started
  } finally {
    await log.close()
  }
}

/** Waits until every node answers /health with its name; throws NodeStartError (with the
 * log's tail) when one exits or the time runs out. */
export async function waitHealthy(started: readonly Started[], options: Pick<UpOptions, 'timeoutMs' | 'onProgress'>): Promise<void> {
  const deadline = performance.now() + (options.timeoutMs ?? upTimeoutMsDefault)
  const pending = new Set(started)
  while (pending.size > 0) {
    await Promise.all([...pending].map((node) => probeOnce(node, pending, started.length, options)))
    if (pending.size === 0) return
    if (performance.now() > deadline) {
      const late = [...pending][0]!
      throw await startError(late.entry, `it did not answer http://${httpAddressOf(late.entry)}/health within ${options.timeoutMs ?? upTimeoutMsDefault} ms`)
    }
    await sleep(healthPollMs)
  }
}

async function probeOnce(node: Started, pending: Set<Started>, total: number, options: Pick<UpOptions, 'onProgress'>): Promise<void> {
  if (node.exit !== undefined) throw await startError(node.entry, node.exit)
  const health = await probeHealth(httpAddressOf(node.entry))
  if (!health.ok || health.name !== node.entry.name) return
  pending.delete(node)
  options.onProgress?.({kind: 'healthy', node: node.entry.name, ready: total - pending.size, total})
}

async function startError(node: NodeEntry, problem: string): Promise<NodeStartError> {
  // Give the process a moment to flush its last words to the log.
  await sleep(healthPollMs)
  return new NodeStartError({node: node.name, problem, logPath: node.logPath, logTail: await readLogTail(node.logPath)})
}

async function stop(node: NodeEntry): Promise<void> {
  if (node.pid === null) return
  await stopProcess(node.pid, {graceMs: failedStartGraceMs, isRunning: () => isNodeProcess(node.pid, node.configPath)})
}
