// The administration requests behind `dyn cluster status/join/leave/remove/plan/commit/clear`
// (DESIGN §5 "Membership": changes are staged, shown as a plan, then committed by the
// claimant; Riak's `cluster plan` / `cluster commit` work the same way).
//
//   admin.stage   on any node (join, leave, remove, clear): changes its view; gossip
//                 spreads the staged change, and the node pushes it to the claimant at once
//                 so a following plan sees it.
//   admin.plan    the claimant's plan (a node that is not the claimant first syncs its view
//                 with the claimant, then forwards the request once).
//   admin.commit  likewise forwarded; the claimant computes the plan from its view,
//                 commits it (new ring version), persists it and pushes it to every peer.
//
// Concurrent commits: only the claimant commits, and on the claimant planning, committing
// and installing the new view happen in one synchronous step, so two commits there are
// serialised (the second finds nothing staged). Two nodes that both believe they are the
// claimant (views not yet converged, or a network partition) may each commit a ring of the
// same version; gossip then keeps one of them everywhere (the greatest,
// core/membership.ts compareCommits), and since the members' statuses follow from the ring
// the losing commit's transitions lose with it: its changes are staged again, and the next
// plan shows them. Ownership handoff moves data to whichever ring won.
import {DynError, exitCodes, unreachable} from '../core/errors.js'
import {
  claimant,
  clearStaged,
  commitPlan,
  findMember,
  MembershipError,
  pendingChanges,
  planChanges,
  stageJoin,
  stageLeave,
  stageRemove,
  type Plan,
  type View,
} from '../core/membership.js'
import type {AdminClaimantRequest, AdminResponse, AdminStageRequest} from '../core/protocol.js'
import {nodeWeightMax} from '../core/ring.js'
import type {Background} from './background.js'
import type {Gossip} from './gossip.js'
import type {HandoffStatus} from './handoff.js'
import type {Transport} from './ports.js'
import type {ClusterView} from './view.js'

/** Version of the admin JSON shapes (docs/cli.md). */
export const adminShapeVersion = 1

/** How long a forwarded plan or commit waits for the claimant. */
export const claimantTimeoutMs = 5_000

export class NoClaimantError extends DynError {
  constructor() {
    super('no member is valid, so there is no claimant to plan or commit changes', {
      code: 'NO_CLAIMANT',
      suggestion: 'ask a node that is a member of the cluster (see `dyn cluster status`)',
    })
  }
}

export class NothingStagedError extends DynError {
  constructor() {
    super('there are no staged changes to commit', {
      code: 'NOTHING_STAGED',
      exitCode: exitCodes.usage,
      suggestion: 'stage a change first with `dyn cluster join`, `dyn cluster leave` or `dyn cluster remove --force`, then look at `dyn cluster plan`',
    })
  }
}

export class ClaimantUnreachableError extends DynError {
  constructor(name: string, problem: string) {
    super(`the claimant ${name} could not be reached (${problem})`, {
      code: 'CLAIMANT_UNREACHABLE',
      suggestion: `start ${name} again, or wait until it is reachable, then retry; if its host is gone for good, remove it with \`dyn cluster remove ${name} --force\` (the next member then is the claimant)`,
    })
  }
}

export interface AdminOptions {
  readonly self: string
  readonly view: ClusterView
  readonly gossip: Gossip
  readonly transport: Transport
  readonly background: Background
  readonly suspects: () => readonly string[]
  readonly hintsPending: () => number
  readonly handoffs: () => readonly HandoffStatus[]
  /** The peers a fault cut this node off from (faults.ts); empty when healed. */
  readonly cut: () => readonly string[]
}

export class Admin {
  constructor(private readonly options: AdminOptions) {}

  readonly handlers = {
    'admin.status': async () => reply(this.status()),
    'admin.stage': async (request: AdminStageRequest) => reply(await this.stage(request)),
    'admin.plan': (request: AdminClaimantRequest) => this.viaClaimant('admin.plan', request, async () => planJson(planChanges(this.options.view.view))),
    'admin.commit': (request: AdminClaimantRequest) => this.viaClaimant('admin.commit', request, () => this.commit()),
  }

  status(): unknown {
    const view = this.options.view.view
    return {
      version: adminShapeVersion,
      name: this.options.self,
      claimant: claimant(view) ?? null,
      view: viewJson(view),
      health: {suspects: [...this.options.suspects()]},
      hintsPending: this.options.hintsPending(),
      handoffs: this.options.handoffs(),
      cut: [...this.options.cut()],
    }
  }

  private async stage(request: AdminStageRequest): Promise<unknown> {
    const next = stagedView(this.options.view.view, request)
    const installed = await this.options.gossip.install(next)
    // Best effort: the claimant hears of the change now rather than within a few rounds.
    const leader = claimant(installed)
    if (leader !== undefined && leader !== this.options.self) await this.options.gossip.exchange(leader)
    return {version: adminShapeVersion, staged: stagedJson(this.options.view.view), members: viewJson(this.options.view.view).members}
  }

  private async commit(): Promise<unknown> {
    const plan = planChanges(this.options.view.view)
    if (plan.transitions.length === 0) throw new NothingStagedError()
    // Synchronous up to install's replace: no other commit can interleave on this node.
    const next = commitPlan(this.options.view.view, plan)
    await this.options.gossip.install(next)
    this.options.background.track(this.options.gossip.broadcast())
    return {...planJson(plan), committed: true}
  }

  /** Runs `local` on the claimant: here when this node is it, else forwarded once after
   * syncing views with it (so it sees what was staged here). */
  private async viaClaimant(
    type: 'admin.plan' | 'admin.commit',
    request: AdminClaimantRequest,
    local: () => Promise<unknown>,
  ): Promise<AdminResponse> {
    let leader = claimant(this.options.view.view)
    if (leader === undefined) throw new NoClaimantError()
    if (leader !== this.options.self && request.forwarded !== true) {
      await this.options.gossip.exchange(leader)
      leader = claimant(this.options.view.view) ?? leader
    }
    if (leader === this.options.self || request.forwarded === true) return reply(await local())
    try {
      return await this.options.transport.request(leader, type, {forwarded: true}, {timeoutMs: claimantTimeoutMs})
    } catch (error) {
      if (!(error instanceof DynError)) throw error
      throw new ClaimantUnreachableError(leader, error.message)
    }
  }
}

function reply(value: unknown): AdminResponse {
  return {ok: true, json: JSON.stringify(value)}
}

/** The view after one admin.stage request; throws MembershipError for what it cannot stage. */
export function stagedView(view: View, request: AdminStageRequest): View {
  switch (request.action) {
    case 'join': {
      const name = requireName(request)
      const known = findMember(view, name)
      const address = request.address ?? known?.address
      if (address === undefined) {
        throw new MembershipError('STAGE_ADDRESS_MISSING', `node ${name} is not known to this node, so its address is needed`, 'start the node with this cluster\'s nodes as its seeds, or give its address (dyn cluster join --address HOST:PORT)')
      }
      const weight = request.weight ?? known?.weight ?? 1
      if (weight < 1 || weight > nodeWeightMax) {
        throw new MembershipError('STAGE_WEIGHT_INVALID', `weight ${weight} is not allowed`, `give a whole number from 1 to ${nodeWeightMax}`)
      }
      return stageJoin(view, {name, address, weight})
    }
    case 'leave':
      return stageLeave(view, requireName(request))
    case 'remove':
      return stageRemove(view, requireName(request))
    case 'clear':
      return clearStaged(view, request.name)
    default:
      return unreachable(request.action)
  }
}

function requireName(request: AdminStageRequest): string {
  if (request.name === undefined) throw new MembershipError('STAGE_NAME_MISSING', `a ${request.action} needs the node's name`, 'give the name of the node')
  return request.name
}

export function viewJson(view: View) {
  return {
    members: view.members.map((member) => ({name: member.name, address: member.address, status: member.status, weight: member.weight})),
    ringVersion: view.ring.version,
    staged: stagedJson(view),
  }
}

/** The staged changes a commit would apply (the statuses do not reflect them yet). */
function stagedJson(view: View): {name: string; action: 'join' | 'leave' | 'remove'}[] {
  return pendingChanges(view).flatMap((change) => (change.action === 'none' ? [] : [{name: change.name, action: change.action}]))
}

export function planJson(plan: Plan) {
  return {
    version: adminShapeVersion,
    claimant: plan.claimant ?? null,
    baseRingVersion: plan.baseRingVersion,
    ringVersion: plan.ring.version,
    transitions: plan.transitions.map((transition) => ({name: transition.name, from: transition.from, to: transition.to})),
    transfers: plan.transfers.map((transfer) => ({partition: transfer.partition, from: transfer.from, to: transfer.to})),
    warnings: plan.warnings,
  }
}
