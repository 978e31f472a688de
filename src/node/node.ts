// One node's request handling: coordinator and replica roles for get, put and delete
// (Dynamo §4.5: "a node handling a read or write operation is known as the coordinator").
//
// The decisions live in the core: the preference list (core/ring.ts), the put and sync
// rules (core/causality.ts), the quorum (core/quorum.ts). This module only moves data
// between them and the ports, in this order for a put:
//   1. the coordinator applies the put rule to its own copy and persists it;
//   2. it sends the resulting object to the other replicas, which merge it by the sync
//      rule and persist before acknowledging;
//   3. it answers once W replicas (itself included) acknowledged, or as soon as W can no
//      longer be reached. Nothing is acknowledged before it is persisted.
// A get asks every replica, answers once R replied, and when the stragglers have replied
// or timed out, sends the merged object to every replica that lacked part of it (read
// repair, Dynamo §4.7).
//
// Membership is static here: every node computes the same ring from the same member list.
import {Buffer} from 'node:buffer'
import {
  applyPut,
  contextOf,
  decodeContext,
  decodeObject,
  emptyVersionVector,
  encodeContext,
  encodeObject,
  objectsEqual,
  syncObjects,
  type StoredObject,
  type VersionVector,
  type Write,
} from '../core/causality.js'
import {DynError, exitCodes} from '../core/errors.js'
import {partitionOfKey} from '../core/hash.js'
import {checkKey, checkValue} from '../core/limits.js'
import {
  BadRequestError,
  failure,
  type DeleteRequest,
  type GetRequest,
  type GetResponse,
  type MessageType,
  type NodeAddress,
  type PutRequest,
  type PutResponse,
  type ReplicaGetRequest,
  type ReplicaGetResponse,
  type ReplicaPutRequest,
  type ReplicaPutResponse,
  type RequestOf,
  type ResponseOf,
  type RingResponse,
} from '../core/protocol.js'
import {GetQuorum, PutQuorum, checkQuorumParameters, type GetReply, type PutReply, type ReplicaTarget} from '../core/quorum.js'
import {preferenceList, type Ring} from '../core/ring.js'
import {KeyedLock} from './keyed-lock.js'
import type {NodePorts} from './ports.js'

export interface NodeConfig {
  readonly name: string
  readonly cluster: string
  /** Replicas per key. */
  readonly n: number
  /** Default read quorum; a request may ask for another. */
  readonly r: number
  /** Default write quorum; a request may ask for another. */
  readonly w: number
  /** How long the coordinator waits for one replica (or a forwarded request) before it counts
   * the replica as timed out. */
  readonly requestTimeoutMs: number
  readonly valueBytesMax: number
}

export interface NodeOptions {
  readonly config: NodeConfig
  readonly ring: Ring
  /** Where each member listens; clients use it for partition-aware routing. */
  readonly addresses: readonly NodeAddress[]
  readonly ports: NodePorts
}

export class NotCoordinatorError extends DynError {
  constructor(node: string) {
    super(`node ${node} was asked to coordinate a key it does not replicate`, {
      code: 'NOT_COORDINATOR',
      exitCode: exitCodes.error,
      suggestion: 'the nodes disagree about the ring: check that every node has the same member list and partition count',
    })
  }
}

export class ForwardOutcomeUnknownError extends DynError {
  constructor(coordinator: string, problem: string) {
    super(`the write was handed to coordinator ${coordinator}, which did not answer (${problem}); it may or may not have been applied`, {
      code: 'OUTCOME_UNKNOWN',
      exitCode: exitCodes.quorumNotMet,
      suggestion: 'read the key to see whether the write is there before writing it again',
    })
  }
}

/** Transport errors that prove the request never reached the peer, so another may take it. */
const notDeliveredCodes: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'UNKNOWN_PEER', 'IN_FLIGHT_LIMIT'])

function notDelivered(error: unknown): boolean {
  return error instanceof DynError && notDeliveredCodes.has(error.code)
}

/** A forwarded request waits for the coordinator, which itself waits up to requestTimeoutMs
 * for its replicas (and, for a delete without context, a read before that): twice that, plus
 * room for the hops, before the forwarder gives up. */
function forwardTimeoutMs(requestTimeoutMs: number): number {
  return 2 * requestTimeoutMs + forwardHopAllowanceMs
}

/** Time for the two extra hops of a forwarded request and the coordinator's own disk writes. */
const forwardHopAllowanceMs = 500

export class Node {
  private readonly config: NodeConfig
  private readonly ring: Ring
  private readonly addresses: readonly NodeAddress[]
  private readonly ports: NodePorts
  private readonly locks = new KeyedLock()
  // Work that continues after a response was sent (stragglers, read repair); `idle()`
  // waits for it so a graceful stop and the simulator can see it finish.
  private readonly background = new Set<Promise<unknown>>()

  constructor(options: NodeOptions) {
    this.config = options.config
    this.ring = options.ring
    this.addresses = options.addresses
    this.ports = options.ports
  }

  get name(): string {
    return this.config.name
  }

  /** Handles one request from a client or a peer. Expected errors come back as failures;
   * only bugs throw. */
  async handle<T extends MessageType>(type: T, request: RequestOf<T>): Promise<ResponseOf<T>> {
    try {
      return (await this.dispatch(type, request)) as ResponseOf<T>
    } catch (error) {
      if (error instanceof DynError) return failure(error) as ResponseOf<T>
      throw error
    }
  }

  /** Resolves once no background work (straggling replies, read repair) is left. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background])
  }

  private dispatch(type: MessageType, request: unknown): Promise<unknown> {
    switch (type) {
      case 'kv.get':
        return this.coordinateGet(request as GetRequest)
      case 'kv.put':
        return this.coordinatePut(request as PutRequest)
      case 'kv.delete':
        return this.coordinateDelete(request as DeleteRequest)
      case 'ring.get':
        return Promise.resolve(this.ringResponse())
      case 'replica.get':
        return this.replicaGet(request as ReplicaGetRequest)
      case 'replica.put':
        return this.replicaPut(request as ReplicaPutRequest)
      default: {
        const unknown: never = type
        throw new BadRequestError(String(unknown), 'unknown message type')
      }
    }
  }

  private ringResponse(): RingResponse {
    const {cluster, n, r, w} = this.config
    return {ok: true, cluster, ring: this.ring, nodes: this.addresses, n, r, w}
  }

  // ---- coordinator ----

  private async coordinateGet(request: GetRequest): Promise<GetResponse> {
    checkKey(request.key)
    const r = request.r ?? this.config.r
    checkQuorumParameters({n: this.config.n, name: 'r', value: r})
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets)) return this.forward('kv.get', request, targets)

    const quorum = new GetQuorum({coordinator: this.name, n: this.config.n, r, replicas: targets})
    const partition = this.partitionOf(request.key)
    const replies = targets.map((target) => this.askGet(target, partition, request.key, quorum))
    await untilDecided(quorum, replies)
    const stale = quorum.repairTargets()
    this.track(Promise.allSettled(replies).then(() => this.readRepair(quorum, partition, request.key)))
    const error = quorum.error()
    if (error !== undefined) return quorumFailure(error, quorum.details())
    const result = quorum.result()
    return {
      ok: true,
      found: result.found,
      siblings: result.siblings.map((sibling) => ({value: sibling.value, dot: sibling.dot})),
      context: this.encodeContext(result.context),
      quorum: quorum.details({readRepair: stale}),
    }
  }

  private async coordinatePut(request: PutRequest): Promise<PutResponse> {
    checkKey(request.key)
    checkValue(request.value, this.config.valueBytesMax)
    const context = this.decodeContext(request.context)
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets)) return this.forward('kv.put', request, targets)
    return this.write(request.key, {kind: 'value', value: request.value}, context, request.w, targets)
  }

  /** A delete writes a tombstone. Without a context it first reads the key, so that the
   * tombstone covers what a quorum of replicas holds (a blind tombstone would cover nothing
   * and delete nothing). */
  private async coordinateDelete(request: DeleteRequest): Promise<PutResponse> {
    checkKey(request.key)
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets)) return this.forward('kv.delete', request, targets)
    let context = this.decodeContext(request.context)
    if (request.context === undefined) {
      const read = await this.coordinateGet({key: request.key, forwarded: true})
      if (!read.ok) return read
      context = this.decodeContext(read.context)
    }
    return this.write(request.key, {kind: 'tombstone'}, context, request.w, targets)
  }

  private async write(
    key: Uint8Array,
    write: Write,
    context: VersionVector,
    wRequested: number | undefined,
    targets: readonly ReplicaTarget[],
  ): Promise<PutResponse> {
    const w = wRequested ?? this.config.w
    checkQuorumParameters({n: this.config.n, name: 'w', value: w})
    const partition = this.partitionOf(key)
    const quorum = new PutQuorum({coordinator: this.name, n: this.config.n, w, replicas: targets})
    const startedMs = this.ports.clock.nowMs()
    // Step 1: the put rule on the coordinator's own copy, persisted. A refusal (sibling
    // limit) or a failed local write ends the request here: the replicas get nothing.
    const local = await this.locks.run(lockKey(partition, key), async () => {
      const current = await this.readLocal(partition, key)
      const result = applyPut(current, {coordinator: this.name, context, write})
      await this.ports.store.put(partition, key, encodeObject(result.object))
      return result
    })
    quorum.addReply({node: this.name, kind: 'ok', ms: this.ports.clock.nowMs() - startedMs})
    // Step 2: the other replicas merge the new object.
    const encoded = encodeObject(local.object)
    const others = targets.filter((target) => target.node !== this.name)
    const replies = others.map((target) => this.askPut(target, partition, key, encoded, quorum))
    // Step 3: answer once decided.
    await untilDecided(quorum, replies)
    this.track(Promise.allSettled(replies))
    const error = quorum.error()
    if (error !== undefined) return quorumFailure(error, quorum.details())
    return {
      ok: true,
      context: this.encodeContext(contextOf(local.object)),
      dot: local.dot,
      quorum: quorum.details(),
      ...(local.warning === undefined ? {} : {warning: {code: local.warning.code, message: local.warning.message}}),
    }
  }

  /** Hands the request to the first replica that takes it; its response, quorum result
   * included, goes back to the client unchanged. A replica that could not be reached is
   * skipped. A write that reached a replica and then went unanswered is not offered to the
   * next one: the first may have applied it, and a second coordinator would store the same
   * value again under another dot, a sibling nobody asked for. */
  private async forward<T extends 'kv.get' | 'kv.put' | 'kv.delete'>(
    type: T,
    request: RequestOf<T>,
    targets: readonly ReplicaTarget[],
  ): Promise<ResponseOf<T>> {
    if (request.forwarded === true) throw new NotCoordinatorError(this.name)
    const problems: string[] = []
    for (const target of targets) {
      try {
        return await this.ports.transport.request(target.node, type, {...request, forwarded: true}, {
          timeoutMs: forwardTimeoutMs(this.config.requestTimeoutMs),
        })
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        if (type !== 'kv.get' && !notDelivered(error)) throw new ForwardOutcomeUnknownError(target.node, message)
        problems.push(`${target.node}: ${message}`)
      }
    }
    throw new DynError(`no replica of the key could coordinate the request (${problems.join('; ')})`, {
      code: 'NO_COORDINATOR',
      exitCode: exitCodes.quorumNotMet,
      suggestion: 'check the nodes with `dyn cluster status` and retry',
    })
  }

  private async askGet(target: ReplicaTarget, partition: number, key: Uint8Array, quorum: GetQuorum): Promise<void> {
    const startedMs = this.ports.clock.nowMs()
    const base = {node: target.node, ...fallbackField(target)}
    let reply: GetReply
    try {
      const bytes = target.node === this.name ? await this.ports.store.get(partition, key) : await this.remoteGet(target.node, partition, key)
      const ms = this.ports.clock.nowMs() - startedMs
      reply = bytes === undefined ? {...base, kind: 'notFound', ms} : {...base, kind: 'ok', ms, object: decodeObject(bytes)}
    } catch (error) {
      reply = failedReply(base, error, this.ports.clock.nowMs() - startedMs)
    }
    quorum.addReply(reply)
  }

  private async remoteGet(peer: string, partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const response = await this.ports.transport.request(peer, 'replica.get', {partition, key}, {timeoutMs: this.config.requestTimeoutMs})
    if (!response.ok) throw new DynError(response.error.message, {code: response.error.code})
    return response.object
  }

  private async askPut(target: ReplicaTarget, partition: number, key: Uint8Array, object: Uint8Array, quorum: PutQuorum): Promise<void> {
    const startedMs = this.ports.clock.nowMs()
    const base = {node: target.node, ...fallbackField(target)}
    let reply: PutReply
    try {
      const response = await this.ports.transport.request(target.node, 'replica.put', {partition, key, object}, {
        timeoutMs: this.config.requestTimeoutMs,
      })
      const ms = this.ports.clock.nowMs() - startedMs
      reply = response.ok ? {...base, kind: 'ok', ms} : {...base, kind: 'error', ms, message: response.error.message}
    } catch (error) {
      reply = failedReply(base, error, this.ports.clock.nowMs() - startedMs)
    }
    quorum.addReply(reply)
  }

  /** Sends the merged object to every replica that answered without it. Best effort:
   * anti-entropy catches whatever a lost repair leaves behind. */
  private async readRepair(quorum: GetQuorum, partition: number, key: Uint8Array): Promise<void> {
    const merged = quorum.merged()
    if (merged === undefined) return
    const encoded = encodeObject(merged)
    await Promise.allSettled(
      quorum.repairTargets().map((node) =>
        node === this.name
          ? this.mergeLocal(partition, key, merged)
          : this.ports.transport.request(node, 'replica.put', {partition, key, object: encoded}, {timeoutMs: this.config.requestTimeoutMs}),
      ),
    )
  }

  // ---- replica ----

  private async replicaGet(request: ReplicaGetRequest): Promise<ReplicaGetResponse> {
    this.checkPartition('replica.get', request.partition, request.key)
    const object = await this.ports.store.get(request.partition, request.key)
    return object === undefined ? {ok: true} : {ok: true, object}
  }

  private async replicaPut(request: ReplicaPutRequest): Promise<ReplicaPutResponse> {
    this.checkPartition('replica.put', request.partition, request.key)
    await this.mergeLocal(request.partition, request.key, decodeObject(request.object))
    return {ok: true}
  }

  /** The sync rule on this node's copy, persisted when it changed anything. */
  private async mergeLocal(partition: number, key: Uint8Array, incoming: StoredObject): Promise<void> {
    await this.locks.run(lockKey(partition, key), async () => {
      const current = await this.readLocal(partition, key)
      const merged = current === undefined ? incoming : syncObjects(current, incoming)
      if (current !== undefined && objectsEqual(merged, current)) return
      await this.ports.store.put(partition, key, encodeObject(merged))
    })
  }

  private async readLocal(partition: number, key: Uint8Array): Promise<StoredObject | undefined> {
    const bytes = await this.ports.store.get(partition, key)
    return bytes === undefined ? undefined : decodeObject(bytes)
  }

  // ---- helpers ----

  private replicasOf(key: Uint8Array): readonly ReplicaTarget[] {
    return preferenceList(this.ring, {key}, {n: this.config.n}).targets
  }

  private replicates(targets: readonly ReplicaTarget[]): boolean {
    return targets.some((target) => target.node === this.name)
  }

  private partitionOf(key: Uint8Array): number {
    return partitionOfKey(key, this.ring.partitionCount)
  }

  private checkPartition(type: string, partition: number, key: Uint8Array): void {
    checkKey(key)
    if (partition !== this.partitionOf(key)) {
      throw new BadRequestError(type, `key hashes to partition ${this.partitionOf(key)}, not ${partition}`)
    }
  }

  private decodeContext(token: string | undefined): VersionVector {
    return token === undefined ? emptyVersionVector : decodeContext(token, {cluster: this.config.cluster})
  }

  private encodeContext(vv: VersionVector): string {
    return encodeContext(vv, {cluster: this.config.cluster})
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.background.delete(tracked))
    this.background.add(tracked)
  }
}

function lockKey(partition: number, key: Uint8Array): string {
  return `${partition}:${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`
}

function fallbackField(target: ReplicaTarget): {fallbackFor?: string} {
  return target.fallbackFor === undefined ? {} : {fallbackFor: target.fallbackFor}
}

function failedReply(
  base: {node: string; fallbackFor?: string},
  error: unknown,
  ms: number,
): {node: string; fallbackFor?: string; kind: 'timeout'; ms: number} | {node: string; fallbackFor?: string; kind: 'error'; ms: number; message: string} {
  if (error instanceof DynError && error.code === 'TIMEOUT') return {...base, kind: 'timeout', ms}
  return {...base, kind: 'error', ms, message: error instanceof Error ? error.message : String(error)}
}

/** Waits until the quorum is decided; every reply promise adds its reply and never rejects. */
async function untilDecided(quorum: GetQuorum | PutQuorum, replies: readonly Promise<void>[]): Promise<void> {
  if (quorum.isDone()) return
  await new Promise<void>((resolve) => {
    let settled = 0
    for (const reply of replies) {
      void reply.then(() => {
        settled++
        if (quorum.isDone() || settled === replies.length) resolve()
      })
    }
    if (replies.length === 0) resolve()
  })
}

function quorumFailure(error: DynError, quorum: ReturnType<GetQuorum['details']> | ReturnType<PutQuorum['details']>): {ok: false; error: ReturnType<typeof failure>['error']} {
  const wire = failure(error).error
  return {ok: false, error: {...wire, quorum}}
}
