// An in-memory cluster whose membership can change: nodes join (started with seeds), are
// restarted on the stores they had, and time only moves when the test advances it (every
// node ticks each 100 ms of virtual time, then the test waits for their background work).
// Transports call the peer's Node directly; a seed is addressed by its address.
import {DynError} from '../../src/core/errors.js'
import type {MessageType, RequestOf, ResponseOf} from '../../src/core/protocol.js'
import {SeededRandom} from '../../src/core/random.js'
import {Node, type NodeConfig} from '../../src/node/node.js'
import type {Clock, Transport} from '../../src/node/ports.js'
import {MapStore} from './harness.js'
import {MemoryMetaStore} from '../../src/sim/memory-store.js'

/** Virtual time between two ticks, as the daemon's tickIntervalMs. */
export const tickMs = 100

interface NodeSetup {
  readonly members: readonly {name: string; address: string}[]
  readonly seeds: readonly string[]
  readonly partitions: number
}

export class MembershipCluster {
  readonly nodes = new Map<string, Node>()
  readonly stores = new Map<string, MapStore>()
  readonly metas = new Map<string, MemoryMetaStore>()
  readonly down = new Set<string>()
  readonly errors: unknown[] = []
  /** Hears of every request a node sends that reaches its peer (tests count messages). */
  onRequest: ((from: string, to: string, type: MessageType, payload: unknown) => void) | undefined = undefined
  private readonly setups = new Map<string, NodeSetup>()
  private readonly names = new Map<string, string>()
  private timeMs = 0
  private seed = 1
  readonly clock: Clock = {nowMs: () => this.timeMs}
  readonly n: number
  readonly partitions: number

  constructor(options: {names: string[]; n?: number; partitions?: number}) {
    this.n = options.n ?? 3
    this.partitions = options.partitions ?? 16
    const members = options.names.map((name) => ({name, address: this.addressOf(name)}))
    for (const name of options.names) this.create(name, {members, seeds: [], partitions: this.partitions})
  }

  /** The address a node listens on: its name, made to look like one. */
  addressOf(name: string): string {
    this.names.set(`${name}.test:7000`, name)
    return `${name}.test:7000`
  }

  /** A new node that is not a member: it knows only itself and gossips with the seeds. */
  async join(name: string, options: {seeds: readonly string[]; partitions?: number}): Promise<Node> {
    this.create(name, {members: [], seeds: options.seeds.map((seed) => this.addressOf(seed)), partitions: options.partitions ?? this.partitions})
    const node = this.node(name)
    await node.start()
    return node
  }

  async start(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.start()))
  }

  /** Stops a node (waiting for its background work) and starts a new one on its stores;
   * `partitions` starts it with another Q than it was created with. */
  async restart(name: string, options: {partitions?: number} = {}): Promise<Node> {
    await this.node(name).idle()
    const setup = this.setups.get(name)!
    this.create(name, {...setup, partitions: options.partitions ?? setup.partitions})
    // A start with another Q is a one-off: the next restart uses the node's own again.
    this.setups.set(name, setup)
    const node = this.node(name)
    await node.start()
    return node
  }

  node(name: string): Node {
    const node = this.nodes.get(name)
    if (node === undefined) throw new Error(`no node ${name}`)
    return node
  }

  /** Moves virtual time by `ms`, ticking every node every tickMs and letting its work finish. */
  async advance(ms: number): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += tickMs) {
      this.timeMs += tickMs
      for (const [name, node] of this.nodes) if (!this.down.has(name)) node.tick()
      await this.idle()
    }
  }

  /** Advances until `done()` holds; fails after `limitMs` of virtual time. */
  async until(done: () => boolean, limitMs = 60_000): Promise<number> {
    const startMs = this.timeMs
    while (!done()) {
      if (this.timeMs - startMs > limitMs) throw new Error(`not done within ${limitMs} ms of virtual time`)
      await this.advance(tickMs)
    }
    return this.timeMs - startMs
  }

  async idle(): Promise<void> {
    for (let round = 0; round < 3; round++) await Promise.all([...this.nodes.values()].map((node) => node.idle()))
  }

  private create(name: string, setup: NodeSetup): void {
    const config: NodeConfig = {name, cluster: 'test', n: this.n, r: 2, w: 2, requestTimeoutMs: 100, valueBytesMax: 1024 * 1024}
    const store = this.stores.get(name) ?? new MapStore()
    const meta = this.metas.get(name) ?? new MemoryMetaStore()
    this.stores.set(name, store)
    this.metas.set(name, meta)
    this.setups.set(name, setup)
    const ports = {transport: this.transportFor(name), store, meta, clock: this.clock, random: new SeededRandom(this.seed++)}
    const node = new Node({
      config,
      members: setup.members,
      partitionCount: setup.partitions,
      ports,
      seeds: setup.seeds,
      self: {address: this.addressOf(name)},
      // Anti-entropy would also move data; these tests look at handoff alone.
      antiEntropy: {intervalMs: Number.MAX_SAFE_INTEGER, intervalIdleMs: Number.MAX_SAFE_INTEGER, repairIntervalMs: Number.MAX_SAFE_INTEGER},
      onError: (error) => this.errors.push(error),
    })
    this.nodes.set(name, node)
  }

  private transportFor(from: string): Transport {
    return {
      request: async <T extends MessageType>(peer: string, type: T, payload: RequestOf<T>): Promise<ResponseOf<T>> => {
        await Promise.resolve()
        const name = this.names.get(peer) ?? peer
        if (this.down.has(name) || this.down.has(from) || !this.nodes.has(name)) throw new DynError(`cannot reach ${peer}`, {code: 'CONNECT_FAILED'})
        this.onRequest?.(from, name, type, payload)
        return this.node(name).handle(type, payload)
      },
    }
  }
}
