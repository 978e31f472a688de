// The ports through which a node touches the world (DESIGN §1.2). The daemon gives it real
// ones (sockets, files, the system clock); the simulator gives it in-memory ones driven by
// one seeded generator. Node code sees nothing else, so the same code runs in both.
import type {MessageType, RequestOf, ResponseOf} from '../core/protocol.js'
import type {Random} from '../core/random.js'

export type {Random}

export interface Clock {
  /** Milliseconds on a monotonic clock; only differences are meaningful. */
  nowMs(): number
  /** Milliseconds since the Unix epoch as the system clock says them, which may jump: only
   * for times kept across restarts (tombstone-times.ts), where a monotonic clock restarts.
   * Without it such times count the node's downtime as zero. */
  wallMs?(): number
  /** Runs `run` once, `delayMs` from now, unless cancelled first. Without it a node does
   * nothing on timers of its own (a get then asks another replica only when one fails). */
  schedule?(delayMs: number, run: () => void): {cancel(): void}
}

export interface RequestOptions {
  /** Give up after this long: the promise rejects with a DynError whose code is 'TIMEOUT'. */
  readonly timeoutMs: number
}

/** Requests to other nodes of the cluster, by node name. */
export interface Transport {
  /**
   * Sends one request and resolves with the peer's response (a success or an expected
   * failure: see core/protocol.ts). Rejects with a DynError when no response came: code
   * 'TIMEOUT' when the time ran out, another code (CONNECT_FAILED, CONNECTION_CLOSED...)
   * when the peer could not be reached. A rejection says nothing about whether the peer
   * acted on the request.
   */
  request<T extends MessageType>(peer: string, type: T, payload: RequestOf<T>, options: RequestOptions): Promise<ResponseOf<T>>
}

/** The node's storage: bytes by partition and key. Values are encoded stored objects. */
export interface ObjectStore {
  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined>
  /** Resolves once the value is as durable as the store's sync mode promises. */
  put(partition: number, key: Uint8Array, value: Uint8Array): Promise<void>
  /** Removes a key (a reaped tombstone, a delivered hint, a handed-off key). */
  delete(partition: number, key: Uint8Array): Promise<void>
  /** Every key of a partition with its value; keys written during the scan may or may not appear. */
  entries(partition: number): AsyncIterable<{readonly key: Uint8Array; readonly value: Uint8Array}>
  /** Partitions holding data, in ascending order. */
  partitions(): Promise<number[]>
  /** Deletes a whole partition (after its ownership was handed off). */
  drop(partition: number): Promise<void>
  /** Optional, a fast path of `entries` for listing keys only: the keys of a partition
   * without reading their values. */
  keys?(partition: number): AsyncIterable<Uint8Array>
  /** Optional, a fast path for indexing a partition at start: every key with
   * describeObject(key, value) of its value (descriptions.ts), in batches, without reading
   * the values a store already holds descriptions of (the log store keeps them in its hint
   * files). Without it the node reads every value. */
  described?(partition: number): AsyncIterable<DescribedBatch>
}

/** Keys as latin1 names (objects.ts keyName) and their descriptions, back to back in key order. */
export interface DescribedBatch {
  readonly keys: readonly string[]
  readonly descriptions: Uint8Array
}

/** Small named documents the node keeps across restarts (the membership view). A write
 * replaces the document atomically and is durable when it resolves. */
export interface MetaStore {
  read(name: string): Promise<Uint8Array | undefined>
  write(name: string, bytes: Uint8Array): Promise<void>
}

/** Fault injection (`dyn cluster partition`): the nodes this node stops hearing. */
export interface FaultControl {
  cut(nodes: readonly string[]): void
}

export interface NodePorts {
  readonly transport: Transport
  readonly store: ObjectStore
  readonly meta: MetaStore
  readonly clock: Clock
  readonly random: Random
  readonly faults?: FaultControl
}
