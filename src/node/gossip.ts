// Gossip membership (Dynamo §4.8.1; DESIGN §5): once per gossipIntervalMs a node sends its
// view to one peer chosen at random and merges the peer's answer; the peer merges the
// incoming view and answers with the result (push-pull, so one round trip syncs both).
// Views merge by core/membership.ts mergeViews, which is commutative, associative and
// idempotent, so views converge whatever order the rounds happen in.
//
// A node that knows no other member yet (started with `seeds` to join a cluster) gossips
// with its seeds: they learn about it as a 'joining' member and it learns the cluster.
//
// Every view this node installs is persisted in the MetaStore (document 'view') before
// install() resolves, and start() reloads it: membership and the ring survive restarts.
// A persisted view for another partition count or replica count than the configuration is
// refused (DESIGN §4: a Q mismatch is a startup error, never silently ignored).
import {DynError, exitCodes} from '../core/errors.js'
import {createRing, ringFromJson, ringToJson, type Ring} from '../core/ring.js'
import {buildView, findMember, markLeft, mergeViews, type LeavingEntry, type Member, type MemberStatus, type StagedAction, type StagedChange, type View} from '../core/membership.js'
import {randomPick, type Random} from '../core/random.js'
import type {Background} from './background.js'
import type {Health} from './health.js'
import type {Clock, MetaStore, Transport} from './ports.js'
import type {ClusterView} from './view.js'

/** One gossip round per second (DESIGN §5): with k members a change reaches all of them in
 * O(log k) rounds, and a round costs one small message per node per second. */
export const gossipIntervalMs = 1_000

/** A gossip round waits this long for the peer's answer; a slower peer is skipped until
 * the next round picks someone. */
export const gossipTimeoutMs = 2_000

/** The MetaStore document holding the last installed view. */
export const viewDocument = 'view'

/** Version of the view's JSON shape (gossip and the persisted document). */
export const viewShapeVersion = 1

export class ViewFormatError extends DynError {
  constructor(problem: string) {
    super(`membership view is malformed: ${problem}`, {code: 'VIEW_INVALID', suggestion: 'run the same dyn version on every node'})
  }
}

/** A view (persisted or gossiped) made for another cluster shape than this node's. */
export class ViewMismatchError extends DynError {
  constructor(options: {field: 'partitions' | 'n'; found: number; configured: number; source: string}) {
    const {field, found, configured, source} = options
    super(`${source} has ${field}=${found}, but this node is configured with ${field}=${configured}`, {
      code: 'VIEW_MISMATCH',
      exitCode: exitCodes.usage,
      suggestion:
        source === 'the persisted view'
          ? `start the node with ${field}=${found} as the cluster was created, or move its data directory away to start afresh`
          : `configure every node of the cluster with the same ${field}`,
    })
  }
}

// ---- the view as JSON ----

/** A ring of version 0 stands for "no ring known yet" (a node that is joining and has not
 * heard from the cluster): every real ring (version >= 1) wins a merge over it, and only
 * its shape is sent ({version: 0, partitionCount, replicas}: no owners), so no peer can
 * mistake it for a layout while a Q or N mismatch is still caught. */
export function placeholderRing(options: {partitionCount: number; replicas: number; self: string}): Ring {
  const ring = createRing({partitionCount: options.partitionCount, replicas: options.replicas, nodes: [{name: options.self, weight: 1}]})
  return {...ring, version: 0}
}

/** The view of a node that is not a member yet: itself as 'joining', no ring. */
export function joiningView(options: {self: {name: string; address: string; weight?: number}; partitionCount: number; replicas: number}): View {
  const {self} = options
  const member: Member = {name: self.name, address: self.address, weight: self.weight ?? 1, status: 'joining', incarnation: 1}
  return buildView({records: [member], ring: placeholderRing({...options, self: self.name}), leaving: [], staged: []})
}

export function viewToJson(view: View): string {
  return JSON.stringify({
    version: viewShapeVersion,
    // The records, not the derived statuses: records are what merges.
    members: view.records.map((member) => ({
      name: member.name,
      address: member.address,
      weight: member.weight,
      status: member.status,
      incarnation: member.incarnation,
      ...(member.dataId === undefined ? {} : {dataId: member.dataId}),
      ...(member.dataVersion === undefined ? {} : {dataVersion: member.dataVersion}),
    })),
    ring: view.ring.version === 0 ? {version: 0, partitionCount: view.ring.partitionCount, replicas: view.ring.replicas} : JSON.parse(ringToJson(view.ring)),
    leaving: view.leaving.map((entry) => ({name: entry.name, incarnation: entry.incarnation})),
    staged: view.staged.map((change) => ({name: change.name, action: change.action, version: change.version})),
  })
}

const memberStatuses: ReadonlySet<string> = new Set<MemberStatus>(['joining', 'valid', 'leaving', 'left'])
const stagedActions: ReadonlySet<string> = new Set<StagedAction>(['join', 'leave', 'remove', 'none'])

/** Parses a view; a ring of version 0 becomes a placeholder ring owned by `self`. */
export function viewFromJson(text: string, self: string): View {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ViewFormatError(`not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  const record = asRecord(value, 'the view')
  if (record.version !== viewShapeVersion) throw new ViewFormatError(`shape version ${String(record.version)}, expected ${viewShapeVersion}`)
  if (!Array.isArray(record.members) || !Array.isArray(record.staged)) throw new ViewFormatError('members or staged is not a list')
  let ring: Ring
  try {
    ring = parseRing(record.ring, self)
  } catch (error) {
    throw new ViewFormatError(error instanceof Error ? error.message : String(error))
  }
  const records = sortedUnique(record.members.map(parseMember), 'member')
  const staged = sortedUnique(record.staged.map(parseStaged), 'staged change')
  // A view written before rings carried their leaving list has it in its records' statuses.
  const leaving =
    record.leaving === undefined
      ? records.filter((member) => member.status === 'leaving').map((member) => ({name: member.name, incarnation: member.incarnation}))
      : Array.isArray(record.leaving)
        ? sortedUnique(record.leaving.map(parseLeaving), 'leaving member')
        : undefined
  if (leaving === undefined) throw new ViewFormatError('leaving is not a list')
  return buildView({records, ring, leaving, staged})
}

function parseLeaving(value: unknown): LeavingEntry {
  const record = asRecord(value, 'a leaving member')
  if (typeof record.name !== 'string') throw new ViewFormatError('a leaving member lacks a name')
  return {name: record.name, incarnation: positiveInteger(record.incarnation, `leaving member ${record.name}'s incarnation`)}
}

function parseRing(value: unknown, self: string): Ring {
  const record = asRecord(value, 'the ring')
  if (record.version !== 0) return ringFromJson(record)
  const {partitionCount, replicas} = record
  if (typeof partitionCount !== 'number' || typeof replicas !== 'number') throw new ViewFormatError('the ring has no partition count or replicas')
  return placeholderRing({partitionCount, replicas, self})
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ViewFormatError(`${what} is not an object`)
  return value as Record<string, unknown>
}

function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ViewFormatError(`${what} is not a whole number`)
  return value
}

function parseMember(value: unknown): Member {
  const record = asRecord(value, 'a member')
  const {name, address, status} = record
  if (typeof name !== 'string' || typeof address !== 'string') throw new ViewFormatError('a member lacks name or address')
  if (typeof status !== 'string' || !memberStatuses.has(status)) throw new ViewFormatError(`member ${name} has status ${String(status)}`)
  return {
    name,
    address,
    weight: positiveInteger(record.weight, `member ${name}'s weight`),
    status: status as MemberStatus,
    incarnation: positiveInteger(record.incarnation, `member ${name}'s incarnation`),
    ...(record.dataId === undefined ? {} : {dataId: dataIdOf(record.dataId, name)}),
    ...(record.dataVersion === undefined ? {} : {dataVersion: positiveInteger(record.dataVersion, `member ${name}'s data version`)}),
  }
}

function dataIdOf(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) throw new ViewFormatError(`member ${name}'s data id is not a short string`)
  return value
}

function parseStaged(value: unknown): StagedChange {
  const record = asRecord(value, 'a staged change')
  const {name, action} = record
  if (typeof name !== 'string') throw new ViewFormatError('a staged change lacks a name')
  if (typeof action !== 'string' || !stagedActions.has(action)) throw new ViewFormatError(`staged change of ${name} has action ${String(action)}`)
  return {name, action: action as StagedAction, version: positiveInteger(record.version, `staged change of ${name}'s version`)}
}

function sortedUnique<T extends {name: string}>(items: T[], what: string): T[] {
  const sorted = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  sorted.forEach((item, i) => {
    if (i > 0 && sorted[i - 1]!.name === item.name) throw new ViewFormatError(`${what} ${item.name} appears twice`)
  })
  return sorted
}

export function viewsEqual(a: View, b: View): boolean {
  return a === b || viewToJson(a) === viewToJson(b)
}

// ---- the gossip component ----

export interface GossipOptions {
  readonly self: string
  readonly view: ClusterView
  readonly meta: MetaStore
  readonly transport: Transport
  readonly clock: Clock
  readonly random: Random
  readonly health: Health
  readonly background: Background
  /** Q and N of this node's configuration: every view it accepts must have them. */
  readonly partitionCount: number
  readonly replicas: number
  /** Transport names of seed nodes (their addresses), asked while no other member is known. */
  readonly seeds: readonly string[]
}

/** What gossip tells the writer identity (identity.ts) and asks of it. */
export interface GossipObserver {
  /** False while this node's own record must stay out of the views it sends. */
  readonly announcing: boolean
  /** A view a peer sent: its push, or its answer to this node's. */
  observe(peer: string, view: View): void
}

export class Gossip {
  private lastRoundMs = -Infinity
  private observer: GossipObserver | undefined
  private inRound = false
  /** Persisting views in install order; each write waits for the one before. */
  private persisting: Promise<void> = Promise.resolve()

  constructor(private readonly options: GossipOptions) {}

  readonly handlers = {
    'gossip.push': async (request: {from: string; view: string}) => {
      const incoming = this.parse(request.view, `the view from ${request.from}`)
      this.options.health.heard(request.from)
      this.observer?.observe(request.from, incoming)
      const merged = await this.install(mergeViews(this.options.view.view, incoming))
      return {ok: true as const, view: this.outgoing(merged)}
    },
  }

  /** Loads the persisted view, if any, and installs it in place of the initial one.
   * Throws ViewMismatchError when it was made for another Q or N. */
  async load(): Promise<void> {
    const bytes = await this.options.meta.read(viewDocument)
    if (bytes === undefined) {
      // The first start: the configured view is recorded, so that a later start with
      // another Q or N is caught.
      await this.options.meta.write(viewDocument, new TextEncoder().encode(viewToJson(this.options.view.view)))
      return
    }
    const persisted = this.parse(new TextDecoder().decode(bytes), 'the persisted view')
    // The persisted view is this node's own history: it replaces the configured start
    // (the configuration's members are only how a new cluster begins). Were this node
    // missing from it, its configured record is added so that it still gossips itself.
    const own = this.options.view.view.records.find((record) => record.name === this.options.self)
    const known = persisted.records.some((record) => record.name === this.options.self)
    this.options.view.replace(known || own === undefined ? persisted : mergeViews(persisted, buildView({...persisted, records: [own], staged: []})))
  }

  /** Merges-in and installs a view, persisting it when it changed; returns the view now
   * current. Resolves once the persisted document is written. */
  async install(next: View): Promise<View> {
    if (!viewsEqual(next, this.options.view.view)) {
      this.options.view.replace(next)
      const bytes = new TextEncoder().encode(viewToJson(next))
      this.persisting = this.persisting.then(() => this.options.meta.write(viewDocument, bytes))
    }
    await this.persisting
    return this.options.view.view
  }

  /** Starts a gossip round when one is due. */
  tick(): void {
    const nowMs = this.options.clock.nowMs()
    if (this.inRound || nowMs - this.lastRoundMs < gossipIntervalMs) return
    const targets = this.targets()
    if (targets.length === 0) return
    this.lastRoundMs = nowMs
    this.inRound = true
    const peer = randomPick(this.options.random, targets)
    this.options.background.track(this.exchange(peer).finally(() => (this.inRound = false)))
  }

  watch(observer: GossipObserver): void {
    this.observer = observer
  }

  /** One push-pull exchange with `peer`; true when it answered. Failures only count
   * against the peer's health: the next round picks another. */
  async exchange(peer: string, options: {timeoutMs: number} = {timeoutMs: gossipTimeoutMs}): Promise<boolean> {
    const isSeed = this.options.seeds.includes(peer)
    try {
      const response = await this.options.transport.request(peer, 'gossip.push', {from: this.options.self, view: this.outgoing(this.options.view.view)}, options)
      if (!isSeed) this.options.health.heard(peer)
      if (!response.ok) return false
      const answer = this.parse(response.view, `the view from ${peer}`)
      this.observer?.observe(peer, answer)
      await this.install(mergeViews(this.options.view.view, answer))
      return true
    } catch (error) {
      if (!isSeed) this.options.health.failed(peer, error)
      if (error instanceof DynError) return false
      throw error
    }
  }

  /** Sends the current view to every peer at once (after a commit: spreads the new ring
   * without waiting for random rounds). */
  async broadcast(): Promise<void> {
    await Promise.all(this.options.view.peers().map((peer) => this.exchange(peer)))
  }

  /** After ownership handoff: this leaving node holds nothing, so it becomes 'left' and
   * tells every peer at once. */
  async markSelfLeft(): Promise<void> {
    const view = this.options.view.view
    if (findMember(view, this.options.self)?.status !== 'leaving') return
    await this.install(markLeft(view, this.options.self))
    await this.broadcast()
  }

  /** The view as sent to peers: without this node's own record while it must not be
   * announced (identity.ts). */
  private outgoing(view: View): string {
    if (this.observer === undefined || this.observer.announcing) return viewToJson(view)
    return viewToJson(buildView({...view, records: view.records.filter((record) => record.name !== this.options.self)}))
  }

  /** Members to gossip with; the seeds while no other member is known. */
  private targets(): string[] {
    const peers = this.options.view.peers()
    return peers.length > 0 ? peers : [...this.options.seeds]
  }

  private parse(text: string, source: string): View {
    const {partitionCount, replicas, self} = this.options
    const view = viewFromJson(text, self)
    if (view.ring.partitionCount !== partitionCount) throw new ViewMismatchError({field: 'partitions', found: view.ring.partitionCount, configured: partitionCount, source})
    if (view.ring.replicas !== replicas) throw new ViewMismatchError({field: 'n', found: view.ring.replicas, configured: replicas, source})
    return view
  }
}
