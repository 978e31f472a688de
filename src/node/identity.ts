// Is this the first data directory of this node's name? A node started on an empty data
// directory under a name that wrote before (its disk replaced, its directory deleted) has
// lost its copies, its dot counter and its actor epochs (actors.ts); its next dots would
// repeat the old ones, and replicas holding the old dots would drop the new writes as
// already seen: acknowledged writes lost. Its own files cannot tell a replaced directory
// from a new node; the cluster can.
//
// Every data directory has a random id (actors.ts), and a node announces the id of the one
// it runs on in its member record (core/membership.ts Member.dataId), which gossip spreads
// and every peer persists. A new directory starts unsettled:
//   - it keeps its own record out of the views it gossips, so that no peer's record of the
//     name (and the id in it) is overwritten before the question is answered;
//   - it asks every other member for its view at once (and again every gossip interval);
//   - a view that names an earlier id for this node settles it as 'replaced': it writes
//     under a new actor, at a random restart base (actors.ts), and says so in its log;
//   - once every other member answered without an id for it, it settles as 'new': the
//     cluster never saw a data directory of this name, and its actor is the plain name;
//   - a write that arrives while unsettled waits one round of asking (at most
//     settleTimeoutMs) and then settles as 'replaced' if still unsure: a new actor is
//     always safe, the plain name only once the cluster said so.
// Either way it then announces its id. A settled node that sees another id for its own name
// announces again; when that keeps happening, two processes run under one name, which the
// log reports.
import {announceDataId, findMember, type View} from '../core/membership.js'
import type {Actors} from './actors.js'
import type {Background} from './background.js'
import {gossipIntervalMs, type Gossip} from './gossip.js'
import type {Clock} from './ports.js'
import type {ClusterView} from './view.js'

/** How long one round of asking the members waits for an answer. A write waits for at most
 * one round: a member that is down (connection refused) answers at once, a cut-off one
 * costs this long before the write goes on under a new actor. */
export const settleTimeoutMs = 500

/** A settled node that sees another id for itself announces its own again at most this
 * often. */
const reannounceIntervalMs = 10_000

/** Having to announce again within this long of the last announcement reports a twin
 * (another process under this node's name). */
const twinNoticeIntervalMs = 60_000

export interface IdentityNotice {
  readonly level: 'info' | 'warn'
  readonly message: string
}

export interface WriterIdentityOptions {
  readonly self: string
  readonly actors: Actors
  readonly view: ClusterView
  readonly gossip: Gossip
  readonly clock: Clock
  readonly background: Background
  /** Transport names of seed nodes, asked while no other member is known. */
  readonly seeds: readonly string[]
  readonly notice: (notice: IdentityNotice) => void
}

export class WriterIdentity {
  /** Members (or seeds) that answered without an id for this node. */
  private readonly answered = new Set<string>()
  private round: Promise<void> | undefined
  private lastRoundMs = -Infinity
  private lastAnnounceMs = -Infinity

  constructor(private readonly options: WriterIdentityOptions) {
    options.actors.onUnsettledWrite(() => this.beforeWrite())
  }

  /** After the view and the actors are loaded: a settled node makes sure its record
   * carries its id; an unsettled one starts asking. */
  async start(): Promise<void> {
    const {actors} = this.options
    if (actors.settled) {
      if (this.ownRecord()?.dataId !== actors.dataId) await this.announce()
      return
    }
    if (this.everyMemberAnswered()) await this.settle('new', undefined)
  }

  /** Whether gossip may send this node's own record (not while unsettled). */
  get announcing(): boolean {
    return this.options.actors.settled
  }

  /** A view a peer sent (its push, or its answer to ours). */
  observe(peer: string, view: View): void {
    const {actors, clock} = this.options
    const known = findMember(view, this.options.self)?.dataId
    if (actors.settled) {
      if (known === undefined || known === actors.dataId) return
      // A record of this node with another id won a merge (one made before the
      // announcement reached that peer): announce again, at most every so often. Needing
      // to again soon after means another process keeps announcing itself as this node.
      const nowMs = clock.nowMs()
      const sinceMs = nowMs - this.lastAnnounceMs
      if (sinceMs < reannounceIntervalMs) return
      if (sinceMs < twinNoticeIntervalMs) {
        this.options.notice({
          level: 'warn',
          message: `${peer} knows ${this.options.self} on data directory ${known}, but this node runs on ${actors.dataId}: two processes may be running as ${this.options.self}; stop one of them`,
        })
      }
      this.options.background.track(this.announce())
      return
    }
    if (known !== undefined && known !== actors.dataId) {
      this.options.background.track(this.settle('replaced', {peer, known}))
      return
    }
    this.answered.add(peer)
  }

  /** Asks the members again while unsettled, once per gossip interval. */
  tick(): void {
    if (this.options.actors.settled || this.round !== undefined) return
    if (this.options.clock.nowMs() - this.lastRoundMs < gossipIntervalMs) return
    this.options.background.track(this.ask())
  }

  private async beforeWrite(): Promise<void> {
    await this.ask()
    if (!this.options.actors.settled) await this.settle('replaced', undefined)
  }

  /** One round: every member that has not answered yet, or the seeds while none is known. */
  private ask(): Promise<void> {
    this.round ??= this.askOnce().finally(() => (this.round = undefined))
    return this.round
  }

  private async askOnce(): Promise<void> {
    this.lastRoundMs = this.options.clock.nowMs()
    const peers = this.options.view.peers()
    const targets = (peers.length > 0 ? peers : this.options.seeds).filter((peer) => !this.answered.has(peer))
    await Promise.all(targets.map((peer) => this.options.gossip.exchange(peer, {timeoutMs: settleTimeoutMs})))
    if (!this.options.actors.settled && this.everyMemberAnswered()) await this.settle('new', undefined)
  }

  private everyMemberAnswered(): boolean {
    const peers = this.options.view.peers()
    if (peers.length === 0) return this.options.seeds.length === 0
    return peers.every((peer) => this.answered.has(peer))
  }

  private async settle(settlement: 'new' | 'replaced', evidence: {peer: string; known: string} | undefined): Promise<void> {
    const {actors, self} = this.options
    if (!(await actors.settle(settlement))) return
    if (settlement === 'replaced') {
      const why =
        evidence === undefined
          ? `not every member answered within ${settleTimeoutMs} ms whether ${self} ran before`
          : `${evidence.peer} knows ${self} on data directory ${evidence.known}`
      this.options.notice({
        level: 'warn',
        message: `this data directory (${actors.dataId}) is new and ${why}: writing as new actors (${self}~${actors.restartNumber}.e) so that no earlier write of ${self} is overwritten`,
      })
    } else {
      this.options.notice({level: 'info', message: `data directory ${actors.dataId} is the first of ${self} the cluster knows: writing as ${self}`})
    }
    await this.announce()
  }

  /** Puts this directory's id into the node's own record and spreads it. */
  private async announce(): Promise<void> {
    const {gossip, view, self, actors} = this.options
    this.lastAnnounceMs = this.options.clock.nowMs()
    if (findMember(view.view, self) === undefined) return
    await gossip.install(announceDataId(view.view, self, actors.dataId))
    this.options.background.track(gossip.broadcast())
  }

  private ownRecord() {
    return findMember(this.options.view.view, this.options.self)
  }
}
