// One node of a dyn cluster, on its ports (DESIGN §1.2): the composition of its parts and
// the two ways in which the world drives it.
//
//   handle(type, request)  a message from a client or a peer; returns the response.
//   tick()                 called periodically by the shell (the daemon's timer, the
//                          simulator's clock); starts background work that is due:
//                          heartbeats (health.ts), hint delivery (hints.ts), and the
//                          other periodic parts.
//
// start() must run before the first message: it loads the dot counter, the Merkle trees of
// the partitions on disk and the hints.
import {DynError} from '../core/errors.js'
import {createView, type View} from '../core/membership.js'
import {failure, type MessageType, type RequestOf, type ResponseOf} from '../core/protocol.js'
import {AntiEntropy, type AntiEntropySettings} from './anti-entropy.js'
import {LatencyTracker} from './anti-entropy-latency.js'
import {Admin} from './admin.js'
import {Actors} from './actors.js'
import {Background} from './background.js'
import {conflictsHandlers} from './conflicts.js'
import {DotCounter} from './counter.js'
import {Faults} from './faults.js'
import {Gossip, joiningView} from './gossip.js'
import {Handoff} from './handoff.js'
import {Health} from './health.js'
import {Hints, hintsPartition} from './hints.js'
import {WriterIdentity, type IdentityNotice} from './identity.js'
import {KvService, type NodeConfig} from './kv.js'
import {LocalObjects} from './objects.js'
import {Reaper, type ReaperSettings} from './reaper.js'
import type {NodePorts} from './ports.js'
import {ClusterView} from './view.js'

export type {NodeConfig}
export {ForwardOutcomeUnknownError} from './kv.js'

export interface Member {
  readonly name: string
  /** host:port of the member's wire-protocol listener. */
  readonly address: string
  readonly weight?: number
}

export interface NodeOptions {
  readonly config: NodeConfig
  /** The members a new cluster starts with (DESIGN §5: static until gossip changes them). */
  readonly members: readonly Member[]
  /** Q: partitions of the ring, fixed at cluster creation. */
  readonly partitionCount: number
  readonly ports: NodePorts
  /** Failures of background work: bugs, reported instead of lost. */
  readonly onError?: (error: unknown) => void
  /** Anti-entropy tuning (anti-entropy.ts antiEntropyDefaults). */
  readonly antiEntropy?: Partial<AntiEntropySettings>
  /** Tombstone reaping tuning (reaper.ts reaperDefaults). */
  readonly reaper?: Partial<ReaperSettings>
  /** Addresses of nodes to gossip with while no other member is known (a node joining an
   * existing cluster is started with them and without being one of `members`). */
  readonly seeds?: readonly string[]
  /** This node's own address and weight, for when it is not one of `members`. */
  readonly self?: {readonly address: string; readonly weight?: number}
  /** Lines for the node's log (identity.ts: a data directory that replaces an earlier one). */
  readonly onNotice?: (notice: IdentityNotice) => void
}

type Handler = (request: never) => Promise<unknown>

/** Client requests: their latency is what background work must not degrade. */
const foregroundTypes: ReadonlySet<MessageType> = new Set(['kv.get', 'kv.put', 'kv.delete'])

export class Node {
  readonly config: NodeConfig
  readonly view: ClusterView
  readonly objects: LocalObjects
  readonly health: Health
  readonly hints: Hints
  readonly kv: KvService
  readonly antiEntropy: AntiEntropy
  /** Durations of client requests (kv.*), which background work yields to. */
  readonly latency: LatencyTracker
  readonly faults: Faults
  readonly counter: DotCounter
  readonly actors: Actors
  readonly gossip: Gossip
  readonly identity: WriterIdentity
  readonly handoff: Handoff
  readonly reaper: Reaper
  private readonly admin: Admin
  private readonly ports: NodePorts
  private readonly background: Background
  private readonly handlers: Partial<Record<MessageType, Handler>>
  /** Errors of background work when no onError was given. */
  readonly errors: unknown[] = []

  constructor(options: NodeOptions) {
    this.config = options.config
    this.ports = options.ports
    const initial: View = options.members.some((member) => member.name === options.config.name)
      ? createView({partitionCount: options.partitionCount, replicas: options.config.n, members: options.members})
      : joiningView({self: {name: options.config.name, address: options.self?.address ?? '', ...(options.self?.weight === undefined ? {} : {weight: options.self.weight})}, partitionCount: options.partitionCount, replicas: options.config.n})
    this.view = new ClusterView(options.config.name, initial, options.config.n)
    this.background = new Background(options.onError ?? ((error) => this.errors.push(error)))
    this.actors = new Actors(options.config.name, options.ports.meta, options.config.durableWrites ?? true, options.ports.random)
    this.objects = new LocalObjects(options.ports.store, {beforeRemoval: (partition) => this.actors.beforeRemoval(partition), clock: options.ports.clock, meta: options.ports.meta})
    this.counter = new DotCounter(options.ports.meta)
    this.health = new Health(this.config.name, options.ports)
    this.hints = new Hints({
      self: this.config.name,
      store: options.ports.store,
      objects: this.objects,
      transport: options.ports.transport,
      health: this.health,
      background: this.background,
      replicates: (partition) => this.view.replicates(partition),
      members: () => this.view.view.members.map((member) => member.name),
      primariesOf: (partition) => this.view.primaries(partition),
    })
    this.kv = new KvService({
      config: this.config,
      view: this.view,
      objects: this.objects,
      hints: this.hints,
      health: this.health,
      background: this.background,
      transport: options.ports.transport,
      clock: options.ports.clock,
      counter: this.counter,
      actors: this.actors,
    })
    this.faults = new Faults({self: this.config.name, control: options.ports.faults, members: () => this.view.view.members.map((member) => member.name), meta: options.ports.meta})
    this.latency = new LatencyTracker(options.ports.clock)
    this.antiEntropy = new AntiEntropy({
      self: this.config.name,
      n: this.config.n,
      view: this.view,
      objects: this.objects,
      health: this.health,
      latency: this.latency,
      background: this.background,
      ports: options.ports,
      ...(options.antiEntropy === undefined ? {} : {settings: options.antiEntropy}),
    })
    this.gossip = new Gossip({
      self: this.config.name,
      view: this.view,
      meta: options.ports.meta,
      transport: options.ports.transport,
      clock: options.ports.clock,
      random: options.ports.random,
      health: this.health,
      background: this.background,
      partitionCount: options.partitionCount,
      replicas: options.config.n,
      seeds: options.seeds ?? [],
    })
    this.identity = new WriterIdentity({
      self: this.config.name,
      actors: this.actors,
      view: this.view,
      gossip: this.gossip,
      clock: options.ports.clock,
      background: this.background,
      seeds: options.seeds ?? [],
      notice: options.onNotice ?? (() => {}),
    })
    this.gossip.watch(this.identity)
    this.handoff = new Handoff({
      self: this.config.name,
      n: this.config.n,
      view: this.view,
      objects: this.objects,
      transport: options.ports.transport,
      clock: options.ports.clock,
      health: this.health,
      background: this.background,
      onHandedOff: () => this.gossip.markSelfLeft(),
      // The primaries that took a partition just changed what they hold: compare first what
      // this node shares with them.
      onFinished: (_partition, targets) => {
        for (const target of targets) this.antiEntropy.prioritize(target)
      },
    })
    this.reaper = new Reaper({
      self: this.config.name,
      n: this.config.n,
      view: this.view,
      objects: this.objects,
      store: options.ports.store,
      handingOff: (partition) => this.handoff.status().some((task) => task.partition === partition),
      health: this.health,
      background: this.background,
      transport: options.ports.transport,
      clock: options.ports.clock,
      ...(options.reaper === undefined ? {} : {settings: options.reaper}),
    })
    this.admin = new Admin({
      self: this.config.name,
      view: this.view,
      gossip: this.gossip,
      transport: options.ports.transport,
      background: this.background,
      suspects: () => this.health.suspects(),
      hintsPending: () => this.hints.pending,
      handoffs: () => this.handoff.status(),
      cut: () => this.faults.cut,
    })
    this.handlers = {
      ...this.kv.handlers,
      ...this.gossip.handlers,
      ...this.admin.handlers,
      ...this.antiEntropy.handlers,
      ...this.faults.handlers,
      ...this.reaper.handlers,
      ...conflictsHandlers({self: this.config.name, page: (request) => this.objects.conflicts(request)}),
      'node.ping': async () => ({ok: true}),
    }
  }

  get name(): string {
    return this.config.name
  }

  /** Loads what the node persisted: the membership view (gossip.ts; a Q or N mismatch
   * refuses to start), the Merkle trees of its partitions and its hints; then plans the
   * ownership handoffs left to do (handoff.ts). */
  async start(): Promise<void> {
    await this.gossip.load()
    await this.faults.load()
    const partitions = (await this.ports.store.partitions()).filter((partition) => partition !== hintsPartition)
    await this.counter.load()
    await this.actors.load({newDirectory: this.counter.unused})
    await this.identity.start()
    await this.objects.load(partitions)
    await this.hints.load()
    this.handoff.plan()
  }

  /** Handles one request from a client or a peer. Expected errors come back as failures;
   * only bugs throw. */
  async handle<T extends MessageType>(type: T, request: RequestOf<T>): Promise<ResponseOf<T>> {
    const handler = this.handlers[type]
    const startedMs = this.ports.clock.nowMs()
    try {
      if (handler === undefined) throw new DynError(`node ${this.name} does not handle ${type}`, {code: 'UNSUPPORTED'})
      return (await handler(request as never)) as ResponseOf<T>
    } catch (error) {
      if (error instanceof DynError) return failure(error) as ResponseOf<T>
      throw error
    } finally {
      if (foregroundTypes.has(type)) this.latency.record(this.ports.clock.nowMs() - startedMs)
    }
  }

  /** Starts whatever periodic work is due; returns at once. */
  tick(): void {
    for (const ping of this.health.tick(this.view.peers())) this.background.track(ping)
    this.hints.tick()
    this.antiEntropy.tick()
    this.gossip.tick()
    this.identity.tick()
    this.handoff.tick()
    this.reaper.tick()
  }

  /** Resolves once no background work is left. */
  async idle(): Promise<void> {
    await this.background.idle()
  }
}
