// One `dyn check` run (docs/check.md): a local cluster (started here in a new directory, or
// an existing one), the clients and the nemesis for the run's duration, then healing, a
// bounded wait until every partition's primaries agree on their Merkle roots and no hint is
// pending, a read of every key from each of its primaries, and the checker.
//
// Cleanup holds on every path, errors and Ctrl-C included: paused nodes are continued, and
// a cluster this run started is stopped (its directory removed unless it was asked for).
import {Buffer} from 'node:buffer'
import {randomInt} from 'node:crypto'
import {createWriteStream, type WriteStream} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {ConnectionPool, clientIdentity} from '../client/index.js'
import {addressOf, clusterMembership, down, httpPortOffset, isNodeProcess, isPortFree, readClusterFileIfAny, startNode, up, type ClusterFile} from '../cluster/index.js'
import {decodeObject, type StoredObject} from '../core/causality.js'
import {DynError, exitCodes} from '../core/errors.js'
import {merkleHashBytes} from '../core/merkle.js'
import {preferenceList, ringFromJson, type Ring} from '../core/ring.js'
import {checkHistory, type CheckResult, type Convergence} from './checker.js'
import {historyLine, type Fault, type FaultKind, type HistoryEvent, type Operation, type Phases} from './history.js'
import {Nemesis, restartTimeoutMs} from './nemesis.js'
import {clientSeed, planFaults, type PlannedFault} from './schedule.js'
import {runClient, type Recorder} from './workload.js'

/** Q of a cluster this run starts: the fewest partitions allowed, so anti-entropy (one
 * partition per exchange, an exchange every 2 s or so per node) compares every replica pair
 * within seconds and the convergence wait stays short. */
export const checkPartitionsDefault = 8

/** How long to wait for the roots to agree after healing. */
export const convergeTimeoutMsDefault = 60_000

/** Where a check's own cluster looks for free ports, and how many base ports it tries. */
const basePortRange = {min: 20_000, max: 31_000}
const basePortAttempts = 20

/** Pause between two convergence probes. */
const convergePollMs = 500

/** Timeout of one tree.branches or replica.get request at the end. */
const finalRequestTimeoutMs = 5_000

export interface CheckOptions {
  readonly seed: number
  readonly durationMs: number
  readonly nodes: number
  readonly clients: number
  readonly keys: number
  readonly nemesis: readonly FaultKind[]
  /** A cluster directory: an existing cluster is used, else one is started there and kept. */
  readonly dir?: string
  readonly basePort?: number
  readonly sync?: string
  readonly historyPath: string
  readonly siblingsMax: number
  readonly convergeTimeoutMs?: number
  readonly signal?: AbortSignal
  readonly onProgress?: (message: string) => void
}

export interface CheckReport {
  readonly seed: number
  readonly durationMs: number
  readonly cluster: {readonly dir: string; readonly started: boolean; readonly nodes: readonly string[]; readonly unsyncedNodes: readonly string[]; readonly n: number; readonly r: number; readonly w: number}
  readonly clients: readonly string[]
  readonly keys: readonly string[]
  readonly nemesis: readonly FaultKind[]
  readonly planned: readonly PlannedFault[]
  readonly operations: readonly Operation[]
  readonly faults: readonly Fault[]
  readonly phases: Phases
  readonly result: CheckResult
  readonly historyPath: string
}

export class CheckSetupError extends DynError {
  constructor(message: string, suggestion: string) {
    super(message, {code: 'USAGE', exitCode: exitCodes.usage, suggestion})
  }
}

export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const progress = options.onProgress ?? (() => {})
  const cluster = await openCluster(options)
  const scratchDir = await mkdtemp(join(tmpdir(), 'dyn-check-scratch-'))
  let history: WriteStream | undefined
  let nemesis: Nemesis | undefined
  try {
    await mkdir(resolve(options.historyPath, '..'), {recursive: true})
    history = createWriteStream(options.historyPath)
    let historyError: Error | undefined
    history.on('error', (error) => (historyError ??= error))
    const log = (event: HistoryEvent): void => void history!.write(historyLine(event))
    const startedMs = performance.now()
    const nowMs = (): number => Math.round(performance.now() - startedMs)
    const nodes = cluster.file.nodes.map((node) => node.name)
    const planned = planFaults({seed: options.seed, durationMs: options.durationMs, nodes, kinds: options.nemesis, unsyncedNodes: cluster.unsyncedNodes})
    const operations: Operation[] = []
    const faults: Fault[] = []
    let lastId = 0
    const recorder: Recorder = {
      nowMs,
      nextId: () => ++lastId,
      invoked: (op) => {
        operations.push(op)
        log({type: 'invoke', op})
      },
      completed: (op) => log({type: 'complete', op}),
    }
    nemesis = new Nemesis({
      dir: cluster.dir,
      nowMs,
      scratchDir,
      onFault: (event, fault) => {
        if (event === 'start') faults.push(fault)
        progress(`${event === 'start' ? 'fault' : 'healed'}: ${describeFault(fault)}`)
        log({type: event === 'start' ? 'fault-start' : 'fault-end', fault})
      },
    })
    const running = (): boolean => nowMs() < options.durationMs && options.signal?.aborted !== true
    const addresses = new Map(cluster.file.nodes.map((node) => [node.name, addressOf(node)]))
    const keys = keyNames(options, cluster.started)
    const clients = Array.from({length: options.clients}, (_, index) => `c${index + 1}`)
    progress(`workload: ${clients.length} clients on ${keys.length} keys for ${options.durationMs / 1000} s, ${planned.length} faults planned`)
    await Promise.all([
      ...clients.map((name, index) => runClient({name, seed: clientSeed(options.seed, index), cluster: cluster.file.cluster, nodes: addresses, keys, recorder, running})),
      nemesis.run(planned, running),
    ])
    const phases: Phases = {workloadEndMs: nowMs()}
    log({type: 'phase', phase: 'workloadEndMs', atMs: phases.workloadEndMs})
    progress('healing: every node running, no cut, no pause')
    await nemesis.healAll()
    phases.healedMs = nowMs()
    log({type: 'phase', phase: 'healedMs', atMs: phases.healedMs})
    progress('waiting for the replicas to converge')
    const ring = await readRing(cluster)
    const convergence = await waitConverged(cluster, ring, options.convergeTimeoutMs ?? convergeTimeoutMsDefault, nowMs)
    if (convergence.converged) {
      phases.convergedMs = nowMs()
      log({type: 'phase', phase: 'convergedMs', atMs: phases.convergedMs})
    }
    progress('reading every key from each of its replicas')
    const final = await readFinal(cluster, ring, keys)
    phases.finalReadMs = nowMs()
    log({type: 'phase', phase: 'finalReadMs', atMs: phases.finalReadMs})
    if (historyError !== undefined) throw new DynError(`could not write the history to ${options.historyPath}: ${historyError.message}`, {code: 'HISTORY_UNWRITABLE', suggestion: 'give --history a file in a writable directory'})
    const result = checkHistory({operations, faults, copies: final.copies, unreadable: final.unreadable, convergence, siblingsMax: options.siblingsMax})
    return {
      seed: options.seed,
      durationMs: options.durationMs,
      cluster: {dir: cluster.dir, started: cluster.started, nodes, unsyncedNodes: cluster.unsyncedNodes, n: ring.n, r: cluster.file.r, w: cluster.file.w},
      clients,
      keys,
      nemesis: options.nemesis,
      planned,
      operations,
      faults,
      phases,
      result,
      historyPath: resolve(options.historyPath),
    }
  } finally {
    nemesis?.resumeAll()
    if (history !== undefined && !history.destroyed) await new Promise<void>((done) => history!.end(done))
    await rm(scratchDir, {recursive: true, force: true})
    await cluster.close()
  }
}

interface OpenCluster {
  readonly dir: string
  readonly file: ClusterFile
  /** True when this run started the cluster (it stops it at the end). */
  readonly started: boolean
  readonly unsyncedNodes: readonly string[]
  close(): Promise<void>
}

/** An existing cluster in --dir (its stopped nodes started), or a new one. */
async function openCluster(options: CheckOptions): Promise<OpenCluster> {
  const existing = options.dir === undefined ? undefined : await readClusterFileIfAny(options.dir)
  if (existing !== undefined) return openExisting(resolve(options.dir!), existing, options)
  const dir = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'dyn-check-')) : resolve(options.dir)
  const removeDir = options.dir === undefined
  const sync = options.sync ?? (options.nemesis.includes('lose-unsynced') ? 'none' : 'always')
  if (options.nemesis.includes('lose-unsynced') && sync !== 'none') {
    throw new CheckSetupError(`--nemesis lose-unsynced needs nodes that run with --sync none, not ${sync}`, 'leave out --sync, or give --sync none')
  }
  options.onProgress?.(`starting a ${options.nodes}-node cluster in ${dir}`)
  try {
    const basePort = options.basePort ?? (await freeBasePort(options.nodes))
    await up({dir, nodes: options.nodes, n: 3, r: 2, w: 2, partitions: checkPartitionsDefault, sync, basePort})
  } catch (error) {
    if (removeDir) await rm(dir, {recursive: true, force: true})
    throw error
  }
  const file = (await readClusterFileIfAny(dir))!
  return {
    dir,
    file,
    started: true,
    unsyncedNodes: sync === 'none' ? file.nodes.map((node) => node.name) : [],
    close: async () => {
      await down({dir, graceMs: 5_000})
      if (removeDir) await rm(dir, {recursive: true, force: true})
    },
  }
}

async function openExisting(dir: string, file: ClusterFile, options: CheckOptions): Promise<OpenCluster> {
  const unsyncedNodes: string[] = []
  for (const node of file.nodes) {
    const config = JSON.parse(await readFile(node.configPath, 'utf8')) as {sync?: unknown}
    if (config.sync === 'none') unsyncedNodes.push(node.name)
  }
  if (options.nemesis.includes('lose-unsynced') && unsyncedNodes.length === 0) {
    throw new CheckSetupError(`--nemesis lose-unsynced needs nodes that run with --sync none; every node of ${dir} syncs`, 'start a cluster with `dyn cluster up --sync none`, or leave lose-unsynced out')
  }
  if (file.nodes.length < 3) throw new CheckSetupError(`the cluster in ${dir} has ${file.nodes.length} nodes; dyn check needs at least 3`, 'give --dir a cluster of 3 or more nodes')
  for (const node of file.nodes) {
    if (!(await isNodeProcess(node.pid, node.configPath))) {
      options.onProgress?.(`starting ${node.name}`)
      await startNode({dir, node: node.name, timeoutMs: restartTimeoutMs})
    }
  }
  const current = (await readClusterFileIfAny(dir))!
  // An existing cluster is left running as it was found, healed.
  return {dir, file: current, started: false, unsyncedNodes, close: async () => {}}
}

/** A base port whose wire and HTTP ports are all free: a check's cluster must not meet a
 * cluster someone runs on the default ports. Random below Linux's ephemeral range (32768
 * and up), where a client connection's own port could hold a listening port. */
async function freeBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < basePortAttempts; attempt++) {
    const base = randomInt(basePortRange.min, basePortRange.max)
    const ports = Array.from({length: nodes}, (_, index) => base + index).flatMap((port) => [port, port + httpPortOffset])
    let free = true
    for (const port of ports) if (!(await isPortFree('127.0.0.1', port))) free = false
    if (free) return base
  }
  throw new DynError(`found no ${nodes} free pairs of ports after ${basePortAttempts} tries`, {code: 'PORT_IN_USE', suggestion: 'give free ports with --base-port'})
}

/** Keys of the run; on an existing cluster under a prefix of their own, so that earlier
 * data (and earlier runs) cannot meet this run's history. */
function keyNames(options: CheckOptions, ownCluster: boolean): string[] {
  const prefix = ownCluster ? 'k' : `check-${options.seed}-${Date.now().toString(36)}-k`
  return Array.from({length: options.keys}, (_, index) => `${prefix}${index}`)
}

interface RingView {
  readonly ring: Ring
  readonly n: number
}

async function readRing(cluster: OpenCluster): Promise<RingView> {
  return withPool(cluster, async (pool) => {
    for (const node of cluster.file.nodes) {
      try {
        const connection = await pool.get(addressOf(node))
        const response = (await connection.request('ring.get', {}, {timeoutMs: finalRequestTimeoutMs})) as {ok: boolean; ring?: unknown; n?: number}
        if (response.ok && typeof response.n === 'number') return {ring: ringFromJson(response.ring), n: response.n}
      } catch (error) {
        if (!(error instanceof DynError)) throw error
      }
    }
    throw new DynError('no node of the cluster answered ring.get after healing', {code: 'NO_NODE_REACHABLE', suggestion: 'look at the nodes with `dyn cluster status` and their logs'})
  })
}

/** Polls until every partition's primaries report one Merkle root and no node has a hint
 * pending, or the bound runs out. */
async function waitConverged(cluster: OpenCluster, view: RingView, timeoutMs: number, nowMs: () => number): Promise<Convergence> {
  const startMs = nowMs()
  let differing: string[] = []
  while (nowMs() - startMs <= timeoutMs) {
    differing = await differingPartitions(cluster, view)
    if (differing.length === 0) {
      const membership = await clusterMembership(cluster.dir)
      const pending = membership.nodes.filter((node) => node.hintsPending !== 0)
      if (pending.length === 0) return {converged: true, convergeMs: nowMs() - startMs, differing: []}
      differing = pending.map((node) => `${node.name} has ${node.hintsPending ?? 'unknown'} hints pending`)
    }
    await sleep(convergePollMs)
  }
  return {converged: false, differing}
}

async function differingPartitions(cluster: OpenCluster, view: RingView): Promise<string[]> {
  const addresses = new Map(cluster.file.nodes.map((node) => [node.name, addressOf(node)]))
  return withPool(cluster, async (pool) => {
    const differing: string[] = []
    for (let partition = 0; partition < view.ring.partitionCount; partition++) {
      const primaries = preferenceList(view.ring, {partition}, {n: view.n}).primaries
      const roots = await Promise.all(
        primaries.map(async (node) => {
          try {
            const connection = await pool.get(addresses.get(node)!)
            const response = (await connection.request('tree.branches', {partition}, {timeoutMs: finalRequestTimeoutMs})) as {ok: boolean; hashes?: Uint8Array}
            return response.ok && response.hashes instanceof Uint8Array ? rootOf(response.hashes) : 'unreadable'
          } catch (error) {
            if (!(error instanceof DynError)) throw error
            return 'unreachable'
          }
        }),
      )
      if (new Set(roots).size > 1) differing.push(`partition ${partition}: ${primaries.map((node, index) => `${node} ${roots[index]!.slice(0, 12)}`).join(', ')}`)
    }
    return differing
  })
}

/** The tree's root: the XOR of its branches (core/merkle.ts). */
function rootOf(branches: Uint8Array): string {
  const root = new Uint8Array(merkleHashBytes)
  for (let offset = 0; offset + merkleHashBytes <= branches.length; offset += merkleHashBytes) {
    for (let byte = 0; byte < merkleHashBytes; byte++) root[byte]! ^= branches[offset + byte]!
  }
  return Buffer.from(root).toString('hex')
}

async function readFinal(cluster: OpenCluster, view: RingView, keys: readonly string[]) {
  const addresses = new Map(cluster.file.nodes.map((node) => [node.name, addressOf(node)]))
  const copies = new Map<string, Map<string, StoredObject | undefined>>()
  const unreadable: {key: string; node: string; error: string}[] = []
  await withPool(cluster, async (pool) => {
    for (const key of keys) {
      const list = preferenceList(view.ring, {key}, {n: view.n})
      const byNode = new Map<string, StoredObject | undefined>()
      for (const node of list.primaries) {
        try {
          const connection = await pool.get(addresses.get(node)!)
          const response = (await connection.request('replica.get', {partition: list.partition, key: new TextEncoder().encode(key)}, {timeoutMs: finalRequestTimeoutMs})) as {
            ok: boolean
            object?: Uint8Array
            error?: {message?: string}
          }
          if (!response.ok) unreadable.push({key, node, error: response.error?.message ?? 'failed'})
          else byNode.set(node, response.object === undefined ? undefined : decodeObject(response.object))
        } catch (error) {
          if (!(error instanceof DynError)) throw error
          unreadable.push({key, node, error: error.message})
        }
      }
      copies.set(key, byNode)
    }
  })
  return {copies, unreadable}
}

async function withPool<T>(cluster: OpenCluster, use: (pool: ConnectionPool) => Promise<T>): Promise<T> {
  const pool = new ConnectionPool({identity: clientIdentity({cluster: cluster.file.cluster, name: `dyn-check-${process.pid}`})})
  try {
    return await use(pool)
  } finally {
    await pool.close()
  }
}

export function describeFault(fault: Pick<Fault, 'kind' | 'nodes' | 'groups'>): string {
  if (fault.kind === 'partition') return `partition ${(fault.groups ?? []).map((group) => group.join(',')).join(' | ')}`
  return `${fault.kind} ${fault.nodes.join(',')}`
}
