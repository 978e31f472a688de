// `dyn cluster partition` and `dyn cluster heal` (DESIGN §8, fault injection): the groups
// of a partition are given as arguments, members joined by commas, groups separated by
// spaces (`dyn cluster partition n1,n2 n3`). Nodes named in no group form one more group
// together, so every node ends up in exactly one group and the result is a true partition:
// `partition n1` isolates n1 from all the others. Each running node is then told, through
// admin.faults, every node outside its own group; its daemon drops their traffic in both
// directions. `heal` sends every running node an empty cut.
//
// A node keeps its cut across restarts (src/node/faults.ts). The cuts are also recorded in
// cluster.json, and a node that is not running when they change is skipped and told its
// recorded cut when `cluster start` or `cluster up` starts it again (restoreCuts), so that
// it neither stays cut off after a heal nor comes back whole during a partition.
import {resolve} from 'node:path'
import {DynError, exitCodes} from '../core/errors.js'
import {adminRequest} from './admin-request.js'
import {UnknownClusterNodeError} from './errors.js'
import {addressOf, readClusterFile, writeClusterFile, type ClusterFile, type NodeEntry} from './layout.js'
import {isNodeProcess} from './processes.js'


export class PartitionGroupsError extends DynError {
  constructor(problem: string) {
    super(`cannot partition: ${problem}`, {
      code: 'USAGE',
      exitCode: exitCodes.usage,
      suggestion: 'give groups separated by spaces, members by commas, each node at most once: dyn cluster partition n1,n2 n3',
    })
  }
}

export class FaultsNotAppliedError extends DynError {
  constructor(failures: readonly {name: string; message: string}[]) {
    super(`some nodes could not be told: ${failures.map((failure) => `${failure.name}: ${failure.message}`).join('; ')}`, {
      code: 'FAULTS_NOT_APPLIED',
      exitCode: exitCodes.error,
      suggestion: 'check those nodes with `dyn cluster status` and run the command again',
    })
  }
}


/** Splits `n1,n2 n3` style arguments into groups of names. */
export function parseGroups(args: readonly string[]): string[][] {
  return args.map((arg) => {
    const members = arg.split(',').map((name) => name.trim())
    if (members.some((name) => name === '')) throw new PartitionGroupsError(`"${arg}" has an empty member name`)
    return members
  })
}

export interface PartitionPlan {
  /** Every node in exactly one group; the unnamed nodes, if any, form the last group. */
  readonly groups: readonly (readonly string[])[]
  /** For each node, the nodes outside its group, sorted. */
  readonly cuts: ReadonlyMap<string, readonly string[]>
}

/** Places every node of the cluster in a group; pure. Throws a usage error for unknown or
 * repeated names, and when fewer than two groups result (nothing would be cut). */
export function planPartition(nodes: readonly string[], named: readonly (readonly string[])[]): PartitionPlan {
  const known = new Set(nodes)
  const seen = new Set<string>()
  for (const name of named.flat()) {
    if (!known.has(name)) throw new UnknownClusterNodeError(name, nodes)
    if (seen.has(name)) throw new PartitionGroupsError(`${name} is named twice`)
    seen.add(name)
  }
  const rest = nodes.filter((name) => !seen.has(name))
  const groups = rest.length === 0 ? named : [...named, rest]
  if (groups.length < 2) throw new PartitionGroupsError('a partition needs at least two groups (name some but not all nodes, or give two groups)')
  const cuts = new Map<string, readonly string[]>()
  for (const group of groups) {
    const inside = new Set(group)
    const outside = nodes.filter((name) => !inside.has(name)).sort()
    for (const name of group) cuts.set(name, outside)
  }
  return {groups, cuts}
}

/** What happened at one node: told its cut, or skipped because it is not running. */
export interface FaultsNodeResult {
  readonly name: string
  readonly cut: readonly string[]
  readonly outcome: 'applied' | 'notRunning'
}

export interface FaultsResult {
  readonly dir: string
  readonly groups: readonly (readonly string[])[]
  readonly nodes: readonly FaultsNodeResult[]
}

/** Partitions the local cluster in `dir` into the named groups (see the top of the file). */
export async function partition(options: {readonly dir: string; readonly groups: readonly (readonly string[])[]}): Promise<FaultsResult> {
  const dir = resolve(options.dir)
  const file = await readClusterFile(dir)
  const plan = planPartition(
    file.nodes.map((node) => node.name),
    options.groups,
  )
  await recordCuts(dir, Object.fromEntries([...plan.cuts].filter(([, cut]) => cut.length > 0)))
  const nodes = await applyCuts({cluster: file.cluster, nodes: file.nodes, cutOf: (name) => plan.cuts.get(name) ?? []})
  return {dir, groups: plan.groups, nodes}
}

/** Restores every link of every running node. */
export async function heal(options: {readonly dir: string}): Promise<FaultsResult> {
  const dir = resolve(options.dir)
  const file = await readClusterFile(dir)
  await recordCuts(dir, {})
  const nodes = await applyCuts({cluster: file.cluster, nodes: file.nodes, cutOf: () => []})
  return {dir, groups: [file.nodes.map((node) => node.name)], nodes}
}

/** Re-reads cluster.json right before writing it, to keep the window for a concurrent
 * command's change small. */
async function recordCuts(dir: string, cuts: Record<string, readonly string[]>): Promise<void> {
  const {cuts: _old, ...file} = await readClusterFile(dir)
  await writeClusterFile(dir, Object.keys(cuts).length === 0 ? file : {...file, cuts})
}

/** Tells nodes just started the cuts cluster.json records for them: none after a heal. */
export async function restoreCuts(options: {readonly file: ClusterFile; readonly nodes: readonly NodeEntry[]}): Promise<void> {
  const {file, nodes} = options
  await applyCuts({cluster: file.cluster, nodes, cutOf: (name) => file.cuts?.[name] ?? []})
}

async function applyCuts(options: {cluster: string; nodes: readonly NodeEntry[]; cutOf: (name: string) => readonly string[]}): Promise<FaultsNodeResult[]> {
  const failures: {name: string; message: string}[] = []
  const results = await Promise.all(
    options.nodes.map(async (node): Promise<FaultsNodeResult> => {
      const cut = options.cutOf(node.name)
      if (!(await isNodeProcess(node.pid, node.configPath))) return {name: node.name, cut, outcome: 'notRunning'}
      try {
        await adminRequest({address: addressOf(node), cluster: options.cluster, type: 'admin.faults', payload: {cut}})
      } catch (error) {
        failures.push({name: node.name, message: error instanceof Error ? error.message : String(error)})
      }
      return {name: node.name, cut, outcome: 'applied'}
    }),
  )
  if (failures.length > 0) throw new FaultsNotAppliedError(failures)
  return results
}

