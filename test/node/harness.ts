// A small in-memory cluster for node tests: transports call the peer's Node directly, stores
// are Maps, the clock is a counter. Nodes can be marked down (unreachable) or slow (their
// requests time out). The seeded simulator (src/sim) is the thorough version of this.
import {DynError} from '../../src/core/errors.js'
import type {MessageType, RequestOf, ResponseOf} from '../../src/core/protocol.js'
import {createRing, type Ring} from '../../src/core/ring.js'
import {Node, type NodeConfig} from '../../src/node/node.js'
import type {Clock, MetaStore, ObjectStore, Transport} from '../../src/node/ports.js'
import {hintsPartition} from '../../src/node/hints.js'
import {SeededRandom} from '../../src/core/random.js'
import {MemoryMetaStore} from '../../src/sim/memory-store.js'

export class MapStore implements ObjectStore {
  readonly data = new Map<string, Uint8Array>()
  failWrites = false

  async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const value = this.data.get(storeKey(partition, key))
    return value === undefined ? undefined : Uint8Array.from(value)
  }

  async put(partition: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.failWrites) throw new DynError('no space left on device', {code: 'DISK_FULL'})
    this.data.set(storeKey(partition, key), Uint8Array.from(value))
  }

  async delete(partition: number, key: Uint8Array): Promise<void> {
    this.data.delete(storeKey(partition, key))
  }

  async *entries(partition: number): AsyncIterable<{key: Uint8Array; value: Uint8Array}> {
    for (const [name, value] of [...this.data].sort()) {
      const [p, hex] = name.split('/') as [string, string]
      if (Number(p) === partition) yield {key: Uint8Array.from(Buffer.from(hex, 'hex')), value: Uint8Array.from(value)}
    }
  }

  async partitions(): Promise<number[]> {
    return [...new Set([...this.data.keys()].map((name) => Number(name.split('/')[0])))].sort((a, b) => a - b)
  }

  async drop(partition: number): Promise<void> {
    for (const name of [...this.data.keys()]) if (name.startsWith(`${partition}/`)) this.data.delete(name)
  }

  /** Keys of the ring's partitions (hint records left out). */
  objectCount(): number {
    return [...this.data.keys()].filter((name) => !name.startsWith(`${hintsPartition}/`)).length
  }
}

function storeKey(partition: number, key: Uint8Array): string {
  return `${partition}/${Buffer.from(key).toString('hex')}`
}

export class TestCluster {
  readonly nodes = new Map<string, Node>()
  readonly stores = new Map<string, MapStore>()
  readonly metas = new Map<string, MetaStore>()
  readonly down = new Set<string>()
  readonly slow = new Set<string>()
  readonly ring: Ring
  private timeMs = 0
  readonly clock: Clock = {nowMs: () => this.timeMs++}

  constructor(options: {names: string[]; n?: number; r?: number; w?: number; partitions?: number}) {
    this.options = options
    const n = options.n ?? 3
    const partitionCount = options.partitions ?? 16
    this.ring = createRing({nodes: options.names.map((name) => ({name, weight: 1})), partitionCount, replicas: n})
    const members = options.names.map((name, i) => ({name, address: `127.0.0.1:${7001 + i}`}))
    for (const [i, name] of options.names.entries()) {
      const config: NodeConfig = {
        name,
        cluster: 'test',
        n,
        r: options.r ?? 2,
        w: options.w ?? 2,
        requestTimeoutMs: 100,
        valueBytesMax: 1024 * 1024,
      }
      const store = new MapStore()
      this.stores.set(name, store)
      const meta = new MemoryMetaStore()
      this.metas.set(name, meta)
      const ports = {transport: this.transportFor(name), store, meta, clock: this.clock, random: new SeededRandom(i)}
      this.nodes.set(name, new Node({config, members, partitionCount, ports, onError: (error) => this.errors.push(error), onNotice: (notice) => this.notices.push({node: name, ...notice})}))
    }
  }

  readonly errors: unknown[] = []
  /** Lines the nodes asked to log. */
  readonly notices: {node: string; level: string; message: string}[] = []
  /** Starts so far: each process start draws other random numbers. */
  private starts = 0
  /** Runs before a request is handed to its peer (tests interleave work there). */
  beforeDeliver: ((peer: string, type: string) => Promise<void>) | undefined = undefined
  private readonly options: {names: string[]; n?: number; r?: number; w?: number; partitions?: number}

  /** Replaces a node's object by a new one on the same store, as a process restart does. */
  restart(name: string): Node {
    const old = this.node(name)
    const i = this.options.names.indexOf(name)
    const node = new Node({
      config: old.config,
      members: this.options.names.map((member, index) => ({name: member, address: `127.0.0.1:${7001 + index}`})),
      partitionCount: this.ring.partitionCount,
      ports: {transport: this.transportFor(name), store: this.stores.get(name)!, meta: this.metas.get(name)!, clock: this.clock, random: new SeededRandom(i + 1_000 * ++this.starts)},
      onError: (error) => this.errors.push(error),
      onNotice: (notice) => this.notices.push({node: name, ...notice}),
    })
    this.nodes.set(name, node)
    return node
  }

  /** Restarts a node on an empty disk, as after a replaced disk or a deleted data directory. */
  wipe(name: string): Node {
    this.stores.set(name, new MapStore())
    this.metas.set(name, new MemoryMetaStore())
    return this.restart(name)
  }

  async start(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.start()))
  }

  node(name: string): Node {
    const node = this.nodes.get(name)
    if (node === undefined) throw new Error(`no node ${name}`)
    return node
  }

  async idle(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.idle()))
  }

  private transportFor(from: string): Transport {
    return {
      request: async <T extends MessageType>(peer: string, type: T, payload: RequestOf<T>): Promise<ResponseOf<T>> => {
        await Promise.resolve()
        await this.beforeDeliver?.(peer, type)
        if (this.down.has(peer) || this.down.has(from)) throw new DynError(`cannot reach ${peer}`, {code: 'CONNECT_FAILED'})
        if (this.slow.has(peer)) throw new DynError(`${peer} did not answer in time`, {code: 'TIMEOUT'})
        return this.node(peer).handle(type, payload)
      },
    }
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
export const text = (value: Uint8Array): string => new TextDecoder().decode(value)
