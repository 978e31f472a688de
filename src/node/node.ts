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
import {Background} from './background.js'
import {DotCounter} from './counter.js'
import {Health} from './health.js'
import {Hints, hintsPartition} from './hints.js'
import {KvService, type NodeConfig} from './kv.js'
import {LocalObjects} from './objects.js'
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
}

type Handler = (request: never) => Promise<unknown>

export class Node {
  readonly config: NodeConfig
  readonly view: ClusterView
  readonly objects: LocalObjects
  readonly health: Health
  readonly hints: Hints
  readonly kv: KvService
  readonly counter: DotCounter
  private readonly ports: NodePorts
  private readonly background: Background
  private readonly handlers: Partial<Record<MessageType, Handler>>
  /** Errors of background work when no onError was given. */
  readonly errors: unknown[] = []

  constructor(options: NodeOptions) {
    this.config = options.config
    this.ports = options.ports
    const initial: View = createView({partitionCount: options.partitionCount, replicas: options.config.n, members: options.members})
    this.view = new ClusterView(options.config.name, initial)
    this.background = new Background(options.onError ?? ((error) => this.errors.push(error)))
    this.objects = new LocalObjects(options.ports.store)
    this.counter = new DotCounter(options.ports.meta)
    this.health = new Health(this.config.name, options.ports)
    this.hints = new Hints({
      self: this.config.name,
      store: options.ports.store,
      objects: this.objects,
      transport: options.ports.transport,
      health: this.health,
      background: this.background,
      replicates: (partition) => this.kv.replicatesPartition(partition),
      members: () => this.view.view.members.map((member) => member.name),
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
    })
    this.handlers = {
      ...this.kv.handlers,
      'node.ping': async () => ({ok: true}),
    }
  }

  get name(): string {
    return this.config.name
  }

  /** Loads what the node persisted: the Merkle trees of its partitions and its hints. */
  async start(): Promise<void> {
    const partitions = (await this.ports.store.partitions()).filter((partition) => partition !== hintsPartition)
    await this.counter.load()
    await this.objects.load(partitions)
    await this.hints.load()
  }

  /** Handles one request from a client or a peer. Expected errors come back as failures;
   * only bugs throw. */
  async handle<T extends MessageType>(type: T, request: RequestOf<T>): Promise<ResponseOf<T>> {
    const handler = this.handlers[type]
    try {
      if (handler === undefined) throw new DynError(`node ${this.name} does not handle ${type}`, {code: 'UNSUPPORTED'})
      return (await handler(request as never)) as ResponseOf<T>
    } catch (error) {
      if (error instanceof DynError) return failure(error) as ResponseOf<T>
      throw error
    }
  }

  /** Starts whatever periodic work is due; returns at once. */
  tick(): void {
    for (const ping of this.health.tick(this.view.peers())) this.background.track(ping)
    this.hints.tick()
  }

  /** Resolves once no background work is left. */
  async idle(): Promise<void> {
    await this.background.idle()
  }
}
