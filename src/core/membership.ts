// Cluster membership as a gossiped, mergeable value (DESIGN §5; Dynamo §4.8.1 "Ring
// Membership": an administrator's explicit join or leave, propagated by gossip and
// reconciled; Riak's staged changes and single claimant). A view is the member records,
// the ring with the members its commit left leaving, and the staged changes. Every part
// merges by "greatest wins" under a total order (per record: incarnation, then status,
// then content; the ring: version, then content, then its leaving list; per staged change:
// version, then action), so merge is commutative, associative and idempotent and gossip
// converges in any order.
//
// Lifecycle of a member:
//
//   joining --commit--> valid --commit--> leaving --handed off--> left
//                         \                  \
//                          +--commit (force-remove)---------------> left
//
// Changes are staged; the claimant (lowest-named valid member not staged for removal) turns
// them into a plan (new ring, transfers, status transitions, warnings) and a commit applies
// it. Committed statuses live in the ring, not in the member records: a member is valid
// exactly when the ring has it, leaving when the ring's leaving list has it (and its record
// is not newer), else what its record says (joining or left). So two claimants that commit
// rings of the same version at once cannot leave a member in a status its ring
// contradicts: the losing commit's ring and its transitions lose together, and its staged
// changes, never consumed by a commit, show in the next plan again (memberStatus below).
import {DynError, exitCodes, unreachable} from './errors.js'
import {compareNames, distinctPossible} from './claim.js'
import {
  changeNodes,
  compareRings,
  createRing,
  ownedCounts,
  ownershipSummary,
  ringViolations,
  type Ring,
  type RingNode,
  type Transfer,
} from './ring.js'

export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'left'

/** A member record, or (in View.members) a member with its status as memberStatus gives it. */
export interface Member {
  readonly name: string
  /** host:port where peers and clients reach the node. */
  readonly address: string
  readonly weight: number
  /** In a record: what the last stageJoin, markLeft or forced removal wrote ('valid' only
   * for the members a cluster was created with). In View.members: memberStatus. */
  readonly status: MemberStatus
  /** Bumped by whoever changes this record; the greatest incarnation wins a merge. */
  readonly incarnation: number
  /** Random id of the data directory the node last announced it runs on (node/identity.ts):
   * a node started on an empty directory learns from it that its name wrote before. */
  readonly dataId?: string
  /** Bumped by each announcement of dataId; orders records of one incarnation. */
  readonly dataVersion?: number
}

/** 'remove' is a forced removal (`dyn cluster remove --force`): the node leaves the ring
 * without handing off, for a host that is gone. */
export type StagedAction = 'join' | 'leave' | 'remove' | 'none'

/** A staged change for one member; 'none' records a clear so it can win over older stages.
 * A commit does not consume it: a change is pending while the member's status does not
 * reflect it yet (pendingChanges), so the change of a commit that lost shows again. */
export interface StagedChange {
  readonly name: string
  readonly action: StagedAction
  readonly version: number
}

/** A member the commit of a ring removed from it with a leave, still handing off; its
 * record's incarnation at that commit (a newer record, left or joining again, supersedes). */
export interface LeavingEntry {
  readonly name: string
  readonly incarnation: number
}

/** Build one with buildView: `members` is derived from the other fields. */
export interface View {
  /** The members with their status from the ring (memberStatus): what readers use. Sorted
   * by name, names unique. Derived, never merged. */
  readonly members: readonly Member[]
  /** The member records: what merges. Sorted by name, names unique. */
  readonly records: readonly Member[]
  readonly ring: Ring
  /** The members the commit of `ring` left leaving; wins and loses with the ring. Sorted
   * by name, names unique. */
  readonly leaving: readonly LeavingEntry[]
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
  | {readonly kind: 'forced-removal'; readonly node: string; readonly partitions: number}

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
const actionRank: Record<StagedAction, number> = {none: 0, join: 1, leave: 2, remove: 3}

/** A view from its merged parts; derives `members`. */
export function buildView(parts: {records: readonly Member[]; ring: Ring; leaving: readonly LeavingEntry[]; staged: readonly StagedChange[]}): View {
  const {records, ring, leaving, staged} = parts
  const members = records.map((record) => {
    const status = memberStatus(record, ring, leaving)
    return status === record.status ? record : {...record, status}
  })
  return {members, records, ring, leaving, staged}
}

/** A member's status: the ring decides what commits decided. In the ring: valid. In the
 * ring's leaving list, with a record no newer than the commit's: leaving. Otherwise what its
 * record says: left, or else joining (a join whose commit lost, or not committed yet). A
 * ring of version 0 (a joining node's placeholder) decides nothing. */
function memberStatus(record: Member, ring: Ring, leaving: readonly LeavingEntry[]): MemberStatus {
  if (ring.version === 0) return record.status
  if (ring.nodes.some((node) => node.name === record.name)) return 'valid'
  const entry = leaving.find((each) => each.name === record.name)
  if (entry !== undefined && record.incarnation <= entry.incarnation) return 'leaving'
  return record.status === 'left' ? 'left' : 'joining'
}

/** A new cluster: every member valid, the ring laid out afresh. */
export function createView(options: {
  partitionCount: number
  replicas: number
  members: readonly {name: string; address: string; weight?: number}[]
}): View {
  const records = options.members
    .map((member) => ({name: member.name, address: member.address, weight: member.weight ?? 1, status: 'valid' as const, incarnation: 1}))
    .sort(byName)
  const ring = createRing({partitionCount: options.partitionCount, replicas: options.replicas, nodes: records})
  return buildView({records, ring, leaving: [], staged: []})
}

export function compareMembers(a: Member, b: Member): number {
  return (
    a.incarnation - b.incarnation ||
    statusRank[a.status] - statusRank[b.status] ||
    compareNames(a.address, b.address) ||
    a.weight - b.weight ||
    (a.dataVersion ?? 0) - (b.dataVersion ?? 0) ||
    compareNames(a.dataId ?? '', b.dataId ?? '')
  )
}

export function compareStaged(a: StagedChange, b: StagedChange): number {
  return a.version - b.version || actionRank[a.action] - actionRank[b.action]
}

/** The order of commits: the ring (version, then content), then the leaving list. Two
 * claimants may commit rings of one version; the greatest wins with its leaving list. */
function compareCommits(a: View, b: View): number {
  return compareRings(a.ring, b.ring) || compareNames(leavingKey(a.leaving), leavingKey(b.leaving))
}

function leavingKey(leaving: readonly LeavingEntry[]): string {
  return JSON.stringify(leaving.map((entry) => [entry.name, entry.incarnation]))
}

/** The join of two views: per record and per staged name the greatest, and the greatest
 * commit (ring and leaving list together); the members' statuses follow from them.
 * Commutative, associative and idempotent (test/core/membership.test.ts). */
export function mergeViews(a: View, b: View): View {
  const commit = compareCommits(a, b) >= 0 ? a : b
  return buildView({
    records: mergeByName(a.records, b.records, compareMembers),
    ring: commit.ring,
    leaving: commit.leaving,
    staged: mergeByName(a.staged, b.staged, compareStaged),
  })
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

/** The member that computes and commits plans: the lowest-named valid member that is not
 * staged for a forced removal (a dead claimant could not commit its own removal). */
export function claimant(view: View): string | undefined {
  const removing = pendingRemovals(view)
  return view.members.find((member) => member.status === 'valid' && !removing.has(member.name))?.name
}

/** Names of the members staged for a forced removal not committed yet. */
function pendingRemovals(view: View): Set<string> {
  return new Set(pendingChanges(view).filter((change) => change.action === 'remove').map((change) => change.name))
}

/** The staged changes the members' statuses do not reflect yet: a join of a joining member,
 * a leave of a valid one, a removal of a valid or leaving one. Sorted by name. */
export function pendingChanges(view: View): StagedChange[] {
  return view.staged.filter((change) => {
    const status = findMember(view, change.name)?.status
    switch (change.action) {
      case 'none':
        return false
      case 'join':
        return status === 'joining'
      case 'leave':
        return status === 'valid'
      case 'remove':
        return status === 'valid' || status === 'leaving'
      default:
        return unreachable(change.action)
    }
  })
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
  const record: Member = {
    name: node.name,
    address: node.address,
    weight: node.weight ?? 1,
    status: 'joining',
    incarnation: (known?.incarnation ?? 0) + 1,
    // A departed node joining again keeps the id it wrote under, so that it is recognised
    // if it comes back on an empty data directory.
    ...(known?.dataId === undefined ? {} : {dataId: known.dataId}),
    ...(known?.dataVersion === undefined ? {} : {dataVersion: known.dataVersion}),
  }
  return setStaged(replaceRecord(view, record), node.name, 'join')
}

export function stageLeave(view: View, name: string): View {
  const known = findMember(view, name)
  if (known === undefined || known.status !== 'valid') {
    throw new MembershipError('MEMBER_NOT_VALID', `node ${name} is ${known?.status ?? 'unknown'}, not valid`, 'stage a leave only for a valid member (see `dyn cluster status`)')
  }
  return setStaged(view, name, 'leave')
}

/** Stages a forced removal of a valid or leaving member (a host that is gone for good): a
 * commit takes it out of the ring without handoff and marks it left. Refused when no other
 * valid member would remain. */
export function stageRemove(view: View, name: string): View {
  const known = findMember(view, name)
  if (known === undefined) {
    throw new MembershipError('MEMBER_UNKNOWN', `node ${name} is not a member of this cluster`, `check the name with \`dyn cluster status\` (members: ${view.members.map((member) => member.name).join(', ')})`)
  }
  if (known.status !== 'valid' && known.status !== 'leaving') {
    const what = known.status === 'left' ? 'it has left already' : 'it is joining: clear its staged join with `dyn cluster clear NODE` instead'
    throw new MembershipError('MEMBER_NOT_REMOVABLE', `node ${name} cannot be removed: ${what}`, 'remove only a valid or leaving member (see `dyn cluster status`)')
  }
  const removing = pendingRemovals(view)
  const others = view.members.filter((member) => member.status === 'valid' && member.name !== name && !removing.has(member.name))
  if (others.length === 0) {
    throw new MembershipError('LAST_MEMBER', `node ${name} is the last valid member of the cluster${removing.size > 0 ? ' not staged for removal' : ''}`, 'keep at least one member: join a new node first, or clear a staged removal')
  }
  return setStaged(view, name, 'remove')
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
 * dataVersion so that it wins over every record of the node with its incarnation. The
 * incarnation stays: it orders what membership wrote (joins, leaves), which an
 * announcement must not look like. */
export function announceDataId(view: View, name: string, dataId: string): View {
  const record = findRecord(view, name)
  if (record === undefined) return view
  return replaceRecord(view, {...record, dataId, dataVersion: (record.dataVersion ?? 0) + 1})
}

function replaceRecord(view: View, record: Member): View {
  return buildView({...view, records: [...view.records.filter((each) => each.name !== record.name), record].sort(byName)})
}

function findRecord(view: View, name: string): Member | undefined {
  return view.records.find((record) => record.name === name)
}

/** The plan for the pending staged changes: what the claimant shows before a commit.
 * Deterministic: every node computes the same plan from the same view. */
export function planChanges(view: View): Plan {
  const add: RingNode[] = []
  const remove: string[] = []
  const transitions: Transition[] = []
  const forced: string[] = []
  for (const change of pendingChanges(view)) {
    const member = findMember(view, change.name)!
    switch (change.action) {
      case 'join':
        add.push({name: member.name, weight: member.weight})
        transitions.push({name: member.name, from: 'joining', to: 'valid'})
        break
      case 'leave':
        remove.push(member.name)
        transitions.push({name: member.name, from: 'valid', to: 'leaving'})
        break
      case 'remove':
        if (member.status === 'valid') remove.push(member.name)
        forced.push(member.name)
        transitions.push({name: member.name, from: member.status, to: 'left'})
        break
      case 'none':
        break
      default:
        unreachable(change.action)
    }
  }
  const base = {claimant: claimant(view), baseRingVersion: view.ring.version}
  if (transitions.length === 0) {
    return {...base, ring: view.ring, transfers: [], transitions: [], warnings: ringWarnings(view.ring)}
  }
  if (remove.length >= view.ring.nodes.length && add.length === 0) {
    throw new MembershipError('LAST_MEMBER_LEAVING', 'the staged leaves and removals would leave no node in the ring', 'keep at least one member, or clear a staged leave or removal')
  }
  const owned = ownedCounts(view.ring)
  const forcedWarnings: PlanWarning[] = forced.map((node) => ({kind: 'forced-removal', node, partitions: owned.get(node) ?? 0}))
  if (add.length === 0 && remove.length === 0) {
    // Only leaving members removed by force: the layout stays, but the commit still makes a
    // new ring version, so that its transitions win or lose with it.
    const ring = {...view.ring, version: view.ring.version + 1}
    return {...base, ring, transfers: [], transitions, warnings: [...forcedWarnings, ...ringWarnings(ring)]}
  }
  const change = changeNodes(view.ring, {add, remove})
  const warnings = [...forcedWarnings, ...ringWarnings(change.ring)]
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

/** Applies a plan: the new ring with its leaving list (the members still leaving and those
 * this commit removed with a leave); a member removed by force gets a 'left' record. The
 * staged changes stay: the statuses now reflect them (pendingChanges). Refuses a plan made
 * for another ring version or other statuses. */
export function commitPlan(view: View, plan: Plan): View {
  if (plan.baseRingVersion !== view.ring.version) throw new StalePlanError(plan.baseRingVersion, view.ring.version)
  let records = view.records
  const forced = new Set<string>()
  const leaving: LeavingEntry[] = []
  for (const transition of plan.transitions) {
    const member = findMember(view, transition.name)
    const record = findRecord(view, transition.name)
    if (member === undefined || record === undefined || member.status !== transition.from) throw new StalePlanError(plan.baseRingVersion, view.ring.version)
    if (transition.to === 'left') {
      forced.add(transition.name)
      records = [...records.filter((each) => each.name !== record.name), {...record, status: 'left' as const, incarnation: record.incarnation + 1}].sort(byName)
    }
    if (transition.to === 'leaving') leaving.push({name: record.name, incarnation: record.incarnation})
  }
  for (const entry of view.leaving) {
    if (!forced.has(entry.name) && findMember(view, entry.name)?.status === 'leaving') leaving.push(entry)
  }
  return buildView({records, ring: plan.ring, leaving: leaving.sort(byName), staged: view.staged})
}

/** After ownership handoff: a leaving member that owns nothing becomes 'left'. */
export function markLeft(view: View, name: string): View {
  const member = findMember(view, name)
  const record = findRecord(view, name)
  if (member?.status !== 'leaving' || record === undefined) {
    throw new MembershipError('MEMBER_NOT_LEAVING', `node ${name} is ${member?.status ?? 'unknown'}, not leaving`, 'only a leaving member can be marked left')
  }
  return replaceRecord(view, {...record, status: 'left', incarnation: record.incarnation + 1})
}

/** Whether distinct replicas are possible at all for the members that would be valid. */
export function distinctReplicasPossible(ring: Ring): boolean {
  return distinctPossible({q: ring.partitionCount, n: ring.replicas, nodeCount: ring.nodes.length})
}
