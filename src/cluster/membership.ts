// Staged membership changes of a local cluster (DESIGN §5, §8): `dyn cluster join` starts a
// new node that gossips with the running ones (its node.json lists them as seeds) and then
// stages its join; `leave`, `remove`, `clear`, `plan` and `commit` send admin requests to any running
// node, which hands plan and commit to the claimant (src/node/admin.ts). `status` asks each
// running node for its view and its ownership handoffs in progress.
//
// The JSON documents the nodes answer are described in docs/cli.md; this module checks the
// parts it reads and passes the rest through.
import {mkdir} from 'node:fs/promises'
import {resolve} from 'node:path'
import Table from 'cli-table3'
import {DynError, exitCodes} from '../core/errors.js'
import type {AdminStageRequest} from '../core/protocol.js'
import {nodeWeightMax} from '../core/ring.js'
import {adminRequest, BadAdminResponseError, type AdminType} from './admin-request.js'
import {ClusterParameterError, UnknownClusterNodeError} from './errors.js'
import {addressOf, httpAddressOf, nodePaths, readClusterFile, writeClusterFile, writeNodeConfig, type ClusterFile, type NodeEntry} from './layout.js'
import {isNodeProcess, stopProcess} from './processes.js'
import {programCommand, type ProgramCommand} from './program.js'
import {checkNodePorts, httpPortOffset, localNodesMax, nodeConfig, spawnNode, upTimeoutMsDefault, waitHealthy} from './up.js'

/** Membership requests: a plan or commit is forwarded once to the claimant, which waits up
 * to 5 s itself (src/node/admin.ts claimantTimeoutMs). */
export const claimantRequestTimeoutMs = 12_000

/** Grace before SIGKILL when a joining node that never became healthy is stopped. */
const failedJoinGraceMs = 2_000

export class NoRunningNodeError extends DynError {
  constructor(dir: string, problems: readonly string[]) {
    super(`no node of the cluster in ${dir} answered${problems.length === 0 ? '' : ` (${problems.join('; ')})`}`, {
      code: 'NO_NODE_RUNNING',
      exitCode: exitCodes.error,
      suggestion: 'start the cluster with `dyn cluster up`, or start a node with `dyn cluster start NODE`',
    })
  }
}

/** The nodes named with --host did not answer (no local cluster is involved). */
export class NodesUnreachableError extends DynError {
  constructor(problems: readonly string[]) {
    super(`no node answered: ${problems.join('; ')}`, {
      code: 'NO_NODE_RUNNING',
      exitCode: exitCodes.error,
      suggestion: 'check the address given with --host (or DYN_HOST): a node of the cluster must listen there and be reachable',
    })
  }
}

/** Errors after which the next node is asked: the request never reached a node. */
const notReachedCodes: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'TIMEOUT', 'CONNECTION_CLOSED'])


export interface MembershipTarget {
  readonly dir: string
  /** Addresses to try in order (--host); default: every node of the cluster directory. */
  readonly addresses?: readonly string[]
  /** The addresses are nodes of the cluster directory, not ones given with --host. */
  readonly local?: boolean
  readonly cluster?: string
}

/** Asks the first node that can be reached. */
async function askAny(target: MembershipTarget, type: AdminType, payload: unknown): Promise<{address: string; document: Record<string, unknown>}> {
  const dir = resolve(target.dir)
  let addresses = target.addresses
  let cluster = target.cluster
  if (addresses === undefined || cluster === undefined) {
    const file = await readClusterFile(dir)
    addresses ??= file.nodes.map(addressOf)
    cluster ??= file.cluster
  }
  const problems: string[] = []
  for (const address of addresses) {
    try {
      const document = await adminRequest({address, cluster, type, payload, timeoutMs: claimantRequestTimeoutMs})
      if (typeof document !== 'object' || document === null) throw new BadAdminResponseError(address, type, 'not an object')
      return {address, document: document as Record<string, unknown>}
    } catch (error) {
      if (!(error instanceof DynError) || !notReachedCodes.has(error.code)) throw error
      problems.push(`${address}: ${error.message}`)
    }
  }
  if (target.addresses !== undefined && target.local !== true) throw new NodesUnreachableError(problems)
  throw new NoRunningNodeError(dir, problems)
}

// ---- join ----

export interface JoinOptions {
  readonly dir: string
  readonly name?: string
  readonly weight?: number
  readonly timeoutMs?: number
  readonly program?: ProgramCommand
}

export interface JoinResult {
  readonly dir: string
  readonly name: string
  readonly address: string
  readonly httpAddress: string
  readonly pid: number | null
  readonly weight: number
  /** The node the join was staged through. */
  readonly stagedVia: string
  readonly staged: unknown
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const nameAllowed = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

/** Starts a new node next to the local cluster and stages its join. */
export async function join(options: JoinOptions): Promise<JoinResult> {
  const dir = resolve(options.dir)
  const file = await readClusterFile(dir)
  const running = await runningNodes(file)
  if (running.length === 0) throw new NoRunningNodeError(dir, [])
  const entry = allocateNode(dir, file, options.name)
  const weight = options.weight ?? 1
  if (!Number.isSafeInteger(weight) || weight < 1 || weight > nodeWeightMax) throw new ClusterParameterError('--weight', weight, `a whole number from 1 to ${nodeWeightMax}`)
  await checkNodePorts(entry)
  await mkdir(entry.dataDir, {recursive: true})
  // Not one of members: the node starts as 'joining' and gossips with the seeds.
  const config = {...nodeConfig(file, entry), seeds: running.map(addressOf)}
  await writeNodeConfig(entry.configPath, config)
  const started = await spawnNode(entry, options.program ?? programCommand())
  await writeClusterFile(dir, {...file, nodes: [...file.nodes, started.entry]})
  try {
    await waitHealthy([started], {timeoutMs: options.timeoutMs ?? upTimeoutMsDefault})
  } catch (error) {
    if (started.entry.pid !== null) await stopProcess(started.entry.pid, {graceMs: failedJoinGraceMs, isRunning: () => isNodeProcess(started.entry.pid, entry.configPath)})
    await writeClusterFile(dir, {...file, nodes: [...file.nodes, {...started.entry, pid: null}]})
    throw error
  }
  const request: AdminStageRequest = {action: 'join', name: entry.name, address: addressOf(entry), weight}
  const staged = await askAny({dir, addresses: running.map(addressOf), cluster: file.cluster, local: true}, 'admin.stage', request)
  return {
    dir,
    name: entry.name,
    address: addressOf(entry),
    httpAddress: httpAddressOf(entry),
    pid: started.entry.pid,
    weight,
    stagedVia: staged.address,
    staged: staged.document.staged,
  }
}

async function runningNodes(file: ClusterFile): Promise<NodeEntry[]> {
  const alive = await Promise.all(file.nodes.map((node) => isNodeProcess(node.pid, node.configPath)))
  return file.nodes.filter((_, i) => alive[i] === true)
}

/** The next node: n<k> after the highest, on the port after the highest (HTTP 1000 above). */
export function allocateNode(dir: string, file: ClusterFile, name?: string): NodeEntry {
  if (file.nodes.length >= localNodesMax) throw new ClusterParameterError('nodes', file.nodes.length + 1, `at most ${localNodesMax} nodes in a local cluster`)
  const numbers = file.nodes.map((node) => /^n(\d+)$/.exec(node.name)?.[1]).filter((digits) => digits !== undefined).map(Number)
  const chosen = name ?? `n${Math.max(0, ...numbers) + 1}`
  if (!namePattern.test(chosen)) throw new ClusterParameterError('--name', chosen, nameAllowed)
  if (file.nodes.some((node) => node.name === chosen)) throw new ClusterParameterError('--name', chosen, `a name not yet in the cluster (${file.nodes.map((node) => node.name).join(', ')})`)
  const port = Math.max(...file.nodes.map((node) => node.port)) + 1
  const host = file.nodes[0]?.host ?? '127.0.0.1'
  return {name: chosen, host, port, httpPort: port + httpPortOffset, ...nodePaths(dir, chosen), pid: null}
}

// ---- leave, clear, plan, commit ----

export interface StageResult {
  readonly stagedVia: string
  readonly staged: unknown
}

/** Stages the join of a node that already runs elsewhere (started with seeds, so the
 * cluster knows it as joining): the multi-host counterpart of join(). */
export async function stageJoin(target: MembershipTarget & {node: string; weight?: number; address?: string}): Promise<StageResult> {
  if (!namePattern.test(target.node)) throw new ClusterParameterError('--name', target.node, nameAllowed)
  const request: AdminStageRequest = {
    action: 'join',
    name: target.node,
    ...(target.weight === undefined ? {} : {weight: target.weight}),
    ...(target.address === undefined ? {} : {address: target.address}),
  }
  const result = await askAny(target, 'admin.stage', request)
  return {stagedVia: result.address, staged: result.document.staged}
}

export async function leave(target: MembershipTarget & {node: string}): Promise<StageResult> {
  await checkKnown(target, target.node)
  const result = await askAny(target, 'admin.stage', {action: 'leave', name: target.node})
  return {stagedVia: result.address, staged: result.document.staged}
}

/** A forced removal without --force. */
export class ForceRequiredError extends DynError {
  constructor(node: string) {
    super(`removing ${node} skips its handoff, so writes held only on ${node} may be lost: it needs --force`, {
      code: 'FORCE_REQUIRED',
      exitCode: exitCodes.usage,
      suggestion: `if ${node} still runs, hand its data off with \`dyn cluster leave ${node}\`; if its host is gone for good, run \`dyn cluster remove ${node} --force\`, then \`dyn cluster plan\` and \`dyn cluster commit\``,
    })
  }
}

/** Stages the forced removal of a member whose host is gone (src/node/admin.ts, 'remove'). */
export async function remove(target: MembershipTarget & {node: string}): Promise<StageResult> {
  await checkKnown(target, target.node)
  const result = await askAny(target, 'admin.stage', {action: 'remove', name: target.node})
  return {stagedVia: result.address, staged: result.document.staged}
}

export async function clear(target: MembershipTarget & {node?: string | undefined}): Promise<StageResult> {
  const result = await askAny(target, 'admin.stage', {action: 'clear', ...(target.node === undefined ? {} : {name: target.node})})
  return {stagedVia: result.address, staged: result.document.staged}
}

/** A node named on the command line must be in the cluster directory (when there is one). */
async function checkKnown(target: MembershipTarget, name: string): Promise<void> {
  if (target.addresses !== undefined) return
  const file = await readClusterFile(target.dir)
  if (!file.nodes.some((node) => node.name === name)) throw new UnknownClusterNodeError(name, file.nodes.map((node) => node.name))
}

export interface PlanDocument {
  readonly claimant: string | null
  readonly baseRingVersion: number
  readonly ringVersion: number
  readonly transitions: readonly {name: string; from: string; to: string}[]
  readonly transfers: readonly {partition: number; from: string; to: string}[]
  readonly warnings: readonly ({kind: string} & Record<string, unknown>)[]
  readonly committed?: boolean
}

export async function plan(target: MembershipTarget): Promise<PlanDocument> {
  const result = await askAny(target, 'admin.plan', {})
  return checkPlan(result.address, 'admin.plan', result.document)
}

export async function commit(target: MembershipTarget): Promise<PlanDocument> {
  const result = await askAny(target, 'admin.commit', {})
  return checkPlan(result.address, 'admin.commit', result.document)
}

function checkPlan(address: string, type: string, document: Record<string, unknown>): PlanDocument {
  for (const field of ['transitions', 'transfers', 'warnings'] as const) {
    if (!Array.isArray(document[field])) throw new BadAdminResponseError(address, type, `${field} is not a list`)
  }
  if (typeof document.ringVersion !== 'number') throw new BadAdminResponseError(address, type, 'ringVersion is not a number')
  return document as unknown as PlanDocument
}

// ---- status ----

export interface MemberRow {
  readonly name: string
  readonly address: string
  readonly status: string
  readonly weight: number
}

export interface HandoffRow {
  /** The node handing the partition off. */
  readonly node: string
  readonly partition: number
  readonly to: readonly string[]
  readonly keysSent: number
  readonly state: string
}

export interface NodeMembership {
  readonly name: string
  /** The node's status in its own view; null when it did not answer. */
  readonly status: string | null
  readonly ringVersion: number | null
  readonly hintsPending: number | null
  readonly suspects: readonly string[]
  /** Peers a `dyn cluster partition` cut this node off from. */
  readonly cut: readonly string[]
}

export interface ClusterMembership {
  /** The members as the first answering node (in cluster.json order) sees them. */
  readonly members: readonly MemberRow[]
  readonly ringVersion: number | null
  readonly staged: readonly {name: string; action: string}[]
  readonly nodes: readonly NodeMembership[]
  readonly handoffs: readonly HandoffRow[]
}

interface StatusDocument {
  name: string
  view: {members: MemberRow[]; ringVersion: number; staged: {name: string; action: string}[]}
  health: {suspects: string[]}
  hintsPending: number
  handoffs: {partition: number; to: string[]; keysSent: number; state: string}[]
  /** Absent from nodes older than the field. */
  cut?: string[]
}

/** Each running node's view of the membership and its handoffs in progress. */
export async function clusterMembership(dirOption: string, options: {timeoutMs?: number} = {}): Promise<ClusterMembership> {
  const file = await readClusterFile(resolve(dirOption))
  const documents = await Promise.all(
    file.nodes.map(async (node) => ((await isNodeProcess(node.pid, node.configPath)) ? statusOf(addressOf(node), file.cluster, options.timeoutMs) : undefined)),
  )
  return membershipOf(file.nodes, documents)
}

/** The membership as the nodes of another host see it: the members the node at `host`
 * knows, each asked for its own view and handoffs (DESIGN §9: clusters on several hosts). */
export async function remoteMembership(options: {host: string; cluster: string; timeoutMs?: number}): Promise<ClusterMembership> {
  const first = await adminRequest({address: options.host, cluster: options.cluster, type: 'admin.status', payload: {}, timeoutMs: options.timeoutMs ?? 2_000})
  if (!checkStatus(first)) throw new BadAdminResponseError(options.host, 'admin.status', 'not a status document')
  const members = first.view.members.filter((member) => member.status !== 'left')
  const documents = await Promise.all(members.map((member) => (member.name === first.name ? first : statusOf(member.address, options.cluster, options.timeoutMs))))
  return membershipOf(members, documents)
}

async function statusOf(address: string, cluster: string, timeoutMs: number | undefined): Promise<StatusDocument | undefined> {
  try {
    const document = await adminRequest({address, cluster, type: 'admin.status', payload: {}, timeoutMs: timeoutMs ?? 2_000})
    return checkStatus(document) ? document : undefined
  } catch (error) {
    if (error instanceof DynError) return undefined
    throw error
  }
}

function membershipOf(nodesAsked: readonly {name: string}[], documents: readonly (StatusDocument | undefined)[]): ClusterMembership {
  const first = documents.find((document) => document !== undefined)
  const nodes = nodesAsked.map((node, i): NodeMembership => {
    const document = documents[i]
    if (document === undefined) return {name: node.name, status: null, ringVersion: null, hintsPending: null, suspects: [], cut: []}
    const own = document.view.members.find((member) => member.name === node.name)
    return {
      name: node.name,
      status: own?.status ?? null,
      ringVersion: document.view.ringVersion,
      hintsPending: document.hintsPending,
      suspects: document.health.suspects,
      cut: document.cut ?? [],
    }
  })
  const handoffs = documents.flatMap((document) => (document === undefined ? [] : document.handoffs.map((handoff) => ({node: document.name, ...handoff}))))
  return {members: first?.view.members ?? [], ringVersion: first?.view.ringVersion ?? null, staged: first?.view.staged ?? [], nodes, handoffs}
}

function checkStatus(document: unknown): document is StatusDocument {
  const record = document as Partial<StatusDocument> | null
  return typeof record?.name === 'string' && Array.isArray(record.view?.members) && Array.isArray(record.handoffs) && Array.isArray(record.health?.suspects)
}

// ---- text ----

export interface TableOptions {
  readonly color: boolean
}

function table(head: string[], options: TableOptions): Table.Table {
  return new Table({head, style: {head: options.color ? ['cyan'] : [], border: options.color ? ['grey'] : []}})
}

/** A plan as a person reads it: transitions, partitions moving, warnings. */
export function planText(document: PlanDocument, options: TableOptions): string {
  const lines: string[] = []
  const verb = document.committed === true ? 'committed' : 'planned'
  lines.push(`claimant ${document.claimant ?? '(none)'}; ring version ${document.baseRingVersion} -> ${document.ringVersion} (${verb})`)
  if (document.transitions.length === 0) {
    lines.push('no staged changes')
  } else {
    const transitions = table(['node', 'from', 'to'], options)
    for (const transition of document.transitions) transitions.push([transition.name, transition.from, transition.to])
    lines.push(transitions.toString())
  }
  if (document.transfers.length > 0) {
    lines.push(`${document.transfers.length} partition${document.transfers.length === 1 ? '' : 's'} change owner:`)
    const transfers = table(['partition', 'from', 'to'], options)
    for (const transfer of document.transfers) transfers.push([String(transfer.partition), transfer.from, transfer.to])
    lines.push(transfers.toString())
  }
  for (const warning of document.warnings) lines.push(`warning: ${warningText(warning)}`)
  return lines.join('\n')
}

export function warningText(warning: {kind: string} & Record<string, unknown>): string {
  switch (warning.kind) {
    case 'replicas-not-distinct':
      return `windows starting at partitions ${String(warning.windows)} have replicas that are not on distinct nodes`
    case 'unbalanced':
      return `${String(warning.node)} would own ${String(warning.partitions)} partitions, its share is ${Number(warning.target).toFixed(1)}`
    case 'fewer-nodes-than-replicas':
      return `${String(warning.nodes)} nodes for ${String(warning.replicas)} replicas: some keys would have fewer copies`
    case 'relaid-out':
      return `the ring had to be laid out afresh: ${String(warning.transfers)} partitions move`
    case 'forced-removal':
      return (
        `${String(warning.node)} is removed by force, without handoff: its ${String(warning.partitions)} partitions are reassigned and their new owners get the data ` +
        `from the surviving replicas (anti-entropy, handoff); writes held only on ${String(warning.node)} may be lost`
      )
    default:
      return JSON.stringify(warning)
  }
}

/** Members and handoffs for `dyn cluster status`. */
export function membershipText(membership: ClusterMembership, options: TableOptions): string {
  const lines: string[] = []
  const staged = membership.staged.map((change) => `${change.action} ${change.name}`).join(', ')
  lines.push(`members (ring version ${membership.ringVersion ?? '?'}${staged === '' ? '' : `; staged: ${staged}`})`)
  const members = table(['member', 'status', 'address', 'weight', 'its ring', 'hints', 'suspects', 'cut off from'], options)
  const nodes = new Map(membership.nodes.map((node) => [node.name, node]))
  for (const member of membership.members) {
    const node = nodes.get(member.name)
    members.push([
      member.name,
      member.status,
      member.address,
      String(member.weight),
      node?.ringVersion === null || node === undefined ? '' : String(node.ringVersion),
      node?.hintsPending === null || node === undefined ? '' : String(node.hintsPending),
      node?.suspects.join(',') ?? '',
      node?.cut.join(',') ?? '',
    ])
  }
  lines.push(members.toString())
  if (membership.handoffs.length === 0) {
    lines.push('no handoffs in progress')
  } else {
    const handoffs = table(['from', 'partition', 'to', 'keys sent', 'state'], options)
    for (const handoff of membership.handoffs) handoffs.push([handoff.node, String(handoff.partition), handoff.to.join(','), String(handoff.keysSent), handoff.state])
    lines.push(`handoffs in progress:\n${handoffs.toString()}`)
  }
  return lines.join('\n')
}
