// Three (or more) in-memory nodes for anti-entropy tests: N=3 (with three nodes each is a
// primary of every partition), a clock that moves only when the test moves it, and every request recorded.
import {Buffer} from 'node:buffer'
import {DynError} from '../../src/core/errors.js'
import {partitionOfKey} from '../../src/core/hash.js'
import type {MessageType, RequestOf, ResponseOf} from '../../src/core/protocol.js'
import {SeededRandom} from '../../src/core/random.js'
import type {AntiEntropySettings} from '../../src/node/anti-entropy.js'
import {Node, type NodeConfig} from '../../src/node/node.js'
import type {Transport} from '../../src/node/ports.js'
import {MapStore, bytes} from './harness.js'
import {MemoryMetaStore} from '../../src/sim/memory-store.js'

export const partitionCount = 8

interface Sent {
  readonly from: string
  readonly to: string
  readonly type: MessageType
  readonly payload: unknown
  /** The cluster's clock when the request was sent. */
  readonly atMs: number
}

/** Three nodes (N=3, so each is a primary of every partition) on a clock that moves only
 * when the test moves it, with every request recorded. */
export class AeCluster {
  readonly names: readonly string[]
  readonly nodes = new Map<string, Node>()
  readonly down = new Set<string>()
  /** Nodes that answer every request with a failure (a broken disk, say). */
  readonly failing = new Set<string>()
  readonly sent: Sent[] = []
  nowMs = 0

  /** `nodeCount` above 3 gives nodes that share only some partitions with each other. */
  constructor(settings: Partial<AntiEntropySettings> = {}, addresses: readonly string[] = [], nodeCount = 3) {
    this.names = Array.from({length: nodeCount}, (_, i) => `n${i + 1}`)
    const members = this.names.map((name, i) => ({name, address: addresses[i] ?? `127.0.0.1:${7001 + i}`}))
    for (const [i, name] of this.names.entries()) {
      const config: NodeConfig = {name, cluster: 'test', n: 3, r: 2, w: 2, requestTimeoutMs: 100, valueBytesMax: 1024 * 1024}
      const ports = {transport: this.transportFor(name), store: new MapStore(), meta: new MemoryMetaStore(), clock: {nowMs: () => this.nowMs}, random: new SeededRandom(i + 1)}
      this.nodes.set(name, new Node({config, members, partitionCount, ports, antiEntropy: settings, onError: (error) => this.errors.push(error)}))
    }
  }

  readonly errors: unknown[] = []

  node(name: string): Node {
    return this.nodes.get(name)!
  }

  async idle(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((node) => node.idle()))
  }

  sentBy(from: string, type?: MessageType): Sent[] {
    return this.sent.filter((entry) => entry.from === from && (type === undefined || entry.type === type))
  }

  treesEqual(a: string, b: string, partition: number): boolean {
    return Buffer.from(this.node(a).objects.tree(partition).root()).equals(this.node(b).objects.tree(partition).root())
  }

  allConverged(): boolean {
    return Array.from({length: partitionCount}, (_, p) => p).every((p) => this.treesEqual('n1', 'n2', p) && this.treesEqual('n1', 'n3', p))
  }

  /** A write through `via` while `missing` is down: it lands on the two others only. */
  async writeWithout(missing: string, via: string, key: string, value: string): Promise<void> {
    this.down.add(missing)
    const response = await this.node(via).handle('kv.put', {key: bytes(key), value: bytes(value), w: 1})
    await this.idle()
    this.down.delete(missing)
    if (!response.ok) throw new Error(response.error.message)
  }

  private transportFor(from: string): Transport {
    return {
      request: async <T extends MessageType>(to: string, type: T, payload: RequestOf<T>): Promise<ResponseOf<T>> => {
        await Promise.resolve()
        this.sent.push({from, to, type, payload, atMs: this.nowMs})
        if (this.down.has(to) || this.down.has(from)) throw new DynError(`cannot reach ${to}`, {code: 'CONNECT_FAILED'})
        if (this.failing.has(to)) return {ok: false, error: {code: 'IO_ERROR', message: `${to} cannot read its disk`, exitCode: 1}} as ResponseOf<T>
        return this.node(to).handle(type, payload)
      },
    }
  }
}

/** Keys of one partition: key-0, key-1, ... filtered. */
export function keysOf(partition: number, count: number): string[] {
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) if (partitionOfKey(bytes(`key-${i}`), partitionCount) === partition) keys.push(`key-${i}`)
  return keys
}

