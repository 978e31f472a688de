// Cluster membership as a gossiped, mergeable value (DESIGN §5; Dynamo §4.8.1 "Ring
// Membership": an administrator's explicit join or leave, propagated by gossip and
// reconciled; Riak's staged changes and single claimant). A view is the member records,
// the ring and the staged changes. Every part merges by "greatest wins" under a total order
// (per member: incarnation, then status, then content; the ring: version, then content),
// so merge is commutative, associative and idempotent and gossip converges in any order.
//
// Lifecycle of a member:   joining --commit--> valid --commit--> leaving --handed off--> left
// Changes are staged, the claimant (lowest-named valid member) turns them into a plan (new
// ring, transfers, status transitions, warnings) and a commit applies it.
import {DynError, exitCodes, unreachable} from './errors.js'
import {compareNames, distinctPossible} from './claim.js'
import {
  changeNodes,
  compareRings,
  createRing,
  ownershipSummary,
  ringViolations,
  type Ring,
  type RingNode,
  type Transfer,
} from './ring.js'

export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'left'

export interface Member {
  readonly name: string
  /** host:port where peers and clients reach the node. */
  readonly address: string
  readonly weight: number
  readonly status: MemberStatus
  /** Bumped by whoever changes this record; the greatest incarnation wins a merge. */
  readonly incarnation: number
  /** Random id of the data directory the node last announced it runs on (node/identity.ts):
   * a node started on an empty directory learns from it that its name wrote before. */
  readonly dataId?: string
}

export type StagedAction = 'join' | 'leave' | 'none'

/** A staged change for one member; 'none' records a clear so it can win over older stages. */
export interface StagedChange {
  readonly name: string
  readonly action: StagedAction
  readonly version: number
}

export interface View {
  /** Sorted by name, names unique. */
  readonly members: readonly Member[]
  readonly ring: Ring
  /** Sorted by name, names unique. */
  readonly staged: readonly StagedChange[]
}

export interface Transition {
  readonly name: string
  readonly from: MemberStatus
  readonly to: MemberStatus
}

export type PlanWarning =
  | {readonly kind: 'replicas-not-distinct'; readonly windows: readonly number[]}
  | {readonly kind: 'unbalanced'; readonly node: string; readonly partitions: number; readonly target: number}
  | {readonly kind: 'fewer-nodes-than-replicas'; readonly nodes: number; readonly replicas: number}
  | {readonly kind: 'relaid-out'; readonly transfers: number}

export interface Plan {
  readonly claimant: string | undefined
  /** The ring version the plan was computed from; commit refuses a plan for another. */
  readonly baseRingVersion: number
  readonly ring: Ring
  readonly transfers: readonly Transfer[]
  readonly transitions: readonly Transition[]
  readonly warnings: readonly PlanWarning[]
}

export class MembershipError extends DynError {
  constructor(code: string, message: string, suggestion: string) {
    super(message, {code, exitCode: exitCodes.usage, suggestion})
  }
}

const statusRank: Record<MemberStatus, number> = {joining: 0, valid: 1, leaving: 2, left: 3}
const actionRank: Record<StagedAction, number> = {none: 0, join: 1, leave: 2}

/** A new cluster: every member valid, the ring laid out afresh. */
export function createView(options: {
  partitionCount: number
  replicas: number
  members: readonly {name: string; address: string; weight?: number}[]
}): View {
  const members = options.members
    .map((member) => ({name: member.name, address: member.address, weight: member.weight ?? 1, status: 'valid' as const, incarnation: 1}))
    .sort(byName)
  const ring = createRing({partitionCount: options.partitionCount, replicas: options.replicas, nodes: members})
  return {members, ring, staged: []}
}

export function compareMembers(a: Member, b: Member): number {
  return (
    a.incarnation - b.incarnation ||
    statusRank[a.status] - statusRank[b.status] ||
    compareNames(a.address, b.address) ||
    a.weight - b.weight ||
    compareNames(a.dataId ?? '', b.dataId ?? '')
  )
}

export function compareStaged(a: StagedChange, b: StagedChange): number {
  return a.version - b.version || actionRank[a.action] - actionRank[b.action]
}

/** The join of two views: per member and per staged name the greatest record, and the
 * greatest ring. Commutative, associative and idempotent (test/core/membership.test.ts). */
export function mergeViews(a: View, b: View): View {
  return {
    members: mergeByName(a.members, b.members, compareMembers),
    ring: compareRings(a.ring, b.ring) >= 0 ? a.ring : b.ring,
    staged: mergeByName(a.staged, b.staged, compareStaged),
  }
}

function mergeByName<T extends {name: string}>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): T[] {
  const byKey = new Map<string, T>()
  for (const record of [...a, ...b]) {
    const held = byKey.get(record.name)
    if (held === undefined || compare(record, held) > 0) byKey.set(record.name, record)
  }
  return [...byKey.values()].sort(byName)
}

function byName(a: {name: string}, b: {name: string}): number {
  return compareNames(a.name, b.name)
}

/** The member that computes and commits plans: the lowest-named valid member. */
export function claimant(view: View): string | undefined {
  return view.members.find((member) => member.status === 'valid')?.name
}

export function findMember(view: View, name: string): Member | undefined {
  return view.members.find((member) => member.name === name)
}

/** Stages a join; a node not yet known is recorded as 'joining' with its address and weight. */
export function stageJoin(view: View, node: {name: string; address: string; weight?: number}): View {
  const known = findMember(view, node.name)
  if (known !== undefined && known.status !== 'joining' && known.status !== 'left') {
    throw new MembershipError('MEMBER_ALREADY_JOINED', `node ${node.name} is already ${known.status}`, 'stage a join only for a new or departed node')
  }
  const member: Member = {
    name: node.name,
    address: node.address,
    weight: node.weight ?? 1,
    status: 'joining',
    incarnation: (known?.incarnation ?? 0) + 1,
    // A departed node joining again keeps the id it wrote under, so that it is recognised
    // if it comes back on an empty data directory.
    ...(known?.dataId === undefined ? {} : {dataId: known.dataId}),
  }
  return setStaged(replaceMember(view, member), node.name, 'join')
}

export function stageLeave(view: View, name: string): View {
  const known = findMember(view, name)
  if (known === undefined || known.status !== 'valid') {
    throw new MembershipError('MEMBER_NOT_VALID', `node ${name} is ${known?.status ?? 'unknown'}, not valid`, 'stage a leave only for a valid member (see `dyn cluster status`)')
  }
  return setStaged(view, name, 'leave')
}

/** Clears the staged change of one node, or of all when no name is given. */
export function clearStaged(view: View, name?: string): View {
  const names = name === undefined ? view.staged.map((change) => change.name) : [name]
  return names.reduce((current, each) => setStaged(current, each, 'none'), view)
}

function setStaged(view: View, name: string, action: StagedAction): View {
  const held = view.staged.find((change) => change.name === name)
  const change: StagedChange = {name, action, version: (held?.version ?? 0) + 1}
  return {...view, staged: [...view.staged.filter((each) => each.name !== name), change].sort(byName)}
}

/** A node's own record carrying the id of the data directory it runs on, with a greater
 * incarnation so that it wins over every record peers hold of the node. */
export function announceDataId(view: View, name: string, dataId: string): View {
  const member = findMember(view, name)
  if (member === undefined) return view
  return replaceMember(view, {...member, dataId, incarnation: member.incarnation + 1})
}

function replaceMember(view: View, member: Member): View {
  return {...view, members: [...view.members.filter((each) => each.name !== member.name), member].sort(byName)}
}

/** The plan for the staged changes: what the claimant shows before a commit. Deterministic:
 * every node computes the same plan from the same view. */
export function planChanges(view: View): Plan {
  const add: RingNode[] = []
  const remove: string[] = []
  const transitions: Transition[] = []
  for (const change of view.staged) {
    const member = findMember(view, change.name)
    switch (change.action) {
      case 'none':
        break
      case 'join':
        if (member?.status !== 'joining') break
        add.push({name: member.name, weight: member.weight})
        transitions.push({name: member.name, from: 'joining', to: 'valid'})
        break
      case 'leave':
        if (member?.status !== 'valid') break
        remove.push(member.name)
        transitions.push({name: member.name, from: 'valid', to: 'leaving'})
        break
      default:
        unreachable(change.action)
    }
  }
  const base = {claimant: claimant(view), baseRingVersion: view.ring.version}
  if (add.length === 0 && remove.length === 0) {
    return {...base, ring: view.ring, transfers: [], transitions: [], warnings: ringWarnings(view.ring)}
  }
  if (remove.length >= view.ring.nodes.length && add.length === 0) {
    throw new MembershipError('LAST_MEMBER_LEAVING', 'the staged leaves would leave no node in the ring', 'keep at least one member, or clear a staged leave')
  }
  const change = changeNodes(view.ring, {add, remove})
  const warnings = ringWarnings(change.ring)
  if (change.relaidOut) warnings.push({kind: 'relaid-out', transfers: change.transfers.length})
  return {...base, ring: change.ring, transfers: change.transfers, transitions, warnings}
}

/** What a person should know about a ring: windows whose replicas are not distinct, nodes
 * off their weighted share by a partition or more, and rings with fewer nodes than N. */
export function ringWarnings(ring: Ring): PlanWarning[] {
  const warnings: PlanWarning[] = []
  if (ring.nodes.length < ring.replicas) {
    warnings.push({kind: 'fewer-nodes-than-replicas', nodes: ring.nodes.length, replicas: ring.replicas})
  }
  const windows = ringViolations(ring)
  if (windows.length > 0) warnings.push({kind: 'replicas-not-distinct', windows})
  for (const row of ownershipSummary(ring)) {
    if (Math.abs(row.partitions - row.target) >= 1) {
      warnings.push({kind: 'unbalanced', node: row.node, partitions: row.partitions, target: row.target})
    }
  }
  return warnings
}

export class StalePlanError extends DynError {
  constructor(planVersion: number, ringVersion: number) {
    super(`the plan was made for ring version ${planVersion}, the ring is now at ${ringVersion}`, {
      code: 'PLAN_STALE',
      suggestion: 'show the plan again (`dyn cluster plan`) and commit that one',
    })
  }
}

/** Applies a plan: the new ring, the status transitions (incarnations bumped), the staged
 * changes it consumed cleared. Refuses a plan made for another ring version. */
export function commitPlan(view: View, plan: Plan): View {
  if (plan.baseRingVersion !== view.ring.version) throw new StalePlanError(plan.baseRingVersion, view.ring.version)
  let next: View = {...view, ring: plan.ring}
  for (const transition of plan.transitions) {
    const member = findMember(next, transition.name)
    if (member === undefined || member.status !== transition.from) throw new StalePlanError(plan.baseRingVersion, view.ring.version)
    next = replaceMember(next, {...member, status: transition.to, incarnation: member.incarnation + 1})
    next = setStaged(next, transition.name, 'none')
  }
  return next
}

/** After ownership handoff: a leaving member that owns nothing becomes 'left'. */
export function markLeft(view: View, name: string): View {
  const member = findMember(view, name)
  if (member?.status !== 'leaving') {
    throw new MembershipError('MEMBER_NOT_LEAVING', `node ${name} is ${member?.status ?? 'unknown'}, not leaving`, 'only a leaving member can be marked left')
  }
  return replaceMember(view, {...member, status: 'left', incarnation: member.incarnation + 1})
}

/** Whether distinct replicas are possible at all for the members that would be valid. */
export function distinctReplicasPossible(ring: Ring): boolean {
  return distinctPossible({q: ring.partitionCount, n: ring.replicas, nodeCount: ring.nodes.length})
}
