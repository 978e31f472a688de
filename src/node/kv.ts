// One node's request handling: coordinator and replica roles for get, put and delete
// (Dynamo §4.5: "a node handling a read or write operation is known as the coordinator").
//
// The decisions live in the core: the preference list (core/ring.ts), the put and sync
// rules (core/causality.ts), the quorum (core/quorum.ts). This module only moves data
// between them and the ports, in this order for a put:
//   1. the coordinator applies the put rule to its own copy;
//   2. at once, it persists that copy and sends the resulting object to the other
//      replicas, which merge it by the sync rule and persist before acknowledging: the
//      local and the remote fsyncs overlap instead of following one another;
//   3. it answers once its own copy is durable and W replicas (itself included)
//      acknowledged, or as soon as W can no longer be reached. Nothing is acknowledged
//      before it is persisted, and never before the coordinator's own copy is: a later
//      write of this actor must carry this one (actors.ts), so a put whose local write
//      failed fails, whatever the other replicas said.
// A get asks R replicas, itself first, and more only when one fails or is slower than
// recent reads (askReplicasToGet; `readFanout: all` asks every replica at once, as Dynamo
// does); it answers once R replied, and when the stragglers have replied or timed out,
// sends the merged object to every replica asked that lacked part of it (read repair,
// Dynamo §4.7).
//
// Sloppy quorum (Dynamo §4.6): the replicas asked are the preference list's targets given
// the peers this node currently believes healthy; a fallback standing in for a suspected
// primary receives the write with a hint naming it (hints.ts delivers it later).
import {
  applyPut,
  contextOf,
  counterOf,
  decodeContext,
  decodeObject,
  emptyVersionVector,
  encodeContext,
  encodeObject,
  type PutResult,
  type StoredObject,
  type VersionVector,
  type Write,
} from '../core/causality.js'
import {DynError, assert, exitCodes} from '../core/errors.js'
import {partitionOfKey} from '../core/hash.js'
import {checkKey, checkValue} from '../core/limits.js'
import {
  BadRequestError,
  failure,
  type DeleteRequest,
  type GetRequest,
  type GetResponse,
  type PutRequest,
  type PutResponse,
  type ReplicaGetRequest,
  type ReplicaGetResponse,
  type ReplicaPutManyRequest,
  type ReplicaPutRequest,
  type ReplicaPutResponse,
  type RequestOf,
  type ResponseOf,
  type RingResponse,
} from '../core/protocol.js'
import {GetQuorum, PutQuorum, checkQuorumParameters, type GetReply, type PutReply, type ReplicaTarget} from '../core/quorum.js'
import {preferenceList} from '../core/ring.js'
import {p99} from './anti-entropy-latency.js'
import type {Background} from './background.js'
import type {Actors} from './actors.js'
import type {DotCounter} from './counter.js'
import type {Health} from './health.js'
import type {Hints} from './hints.js'
import type {LocalObjects} from './objects.js'
import type {Clock, Transport} from './ports.js'
import type {ClusterView} from './view.js'

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
  /** False when the store may lose acknowledged writes in a crash (sync other than
   * `always`): each start then writes as a new actor (actors.ts). Default true. */
  readonly durableWrites?: boolean
  /** Which replicas a get asks: `quorum` (default) R of them, more only when one fails or
   * is slow; `all` every replica at once (askReplicasToGet). */
  readonly readFanout?: ReadFanout
}

export type ReadFanout = 'quorum' | 'all'
export const readFanouts: readonly ReadFanout[] = ['quorum', 'all']

export interface KvOptions {
  readonly config: NodeConfig
  readonly view: ClusterView
  readonly objects: LocalObjects
  readonly hints: Hints
  readonly health: Health
  readonly background: Background
  readonly transport: Transport
  readonly clock: Clock
  readonly counter: DotCounter
  readonly actors: Actors
}

export class NotAReplicaError extends DynError {
  constructor(node: string) {
    super(`node ${node} does not replicate the key in its current view of the cluster`, {
      code: 'NOT_A_REPLICA',
      exitCode: exitCodes.quorumNotMet,
      suggestion: 'retry: the nodes disagree for a moment about which replicas are reachable',
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

/** The key-value requests: coordinator (kv.*) and replica (replica.*) roles. */
export class KvService {
  private readonly config: NodeConfig
  private readonly options: KvOptions
  /** Round trips of recent replica reads: the speculative delay of a get. */
  private readonly replicaReads = new ReplicaReadLatency()

  constructor(options: KvOptions) {
    this.config = options.config
    this.options = options
  }

  get name(): string {
    return this.config.name
  }

  readonly handlers = {
    'kv.get': (request: GetRequest) => this.coordinateGet(request),
    'kv.put': (request: PutRequest) => this.coordinatePut(request),
    'kv.delete': (request: DeleteRequest) => this.coordinateDelete(request),
    'ring.get': async () => this.ringResponse(),
    'replica.get': (request: ReplicaGetRequest) => this.replicaGet(request),
    'replica.put': (request: ReplicaPutRequest) => this.replicaPut(request),
    'replica.putMany': (request: ReplicaPutManyRequest) => this.replicaPutMany(request),
  }

  /** Whether this node is one of the N primaries of a partition in the current ring. */
  replicatesPartition(partition: number): boolean {
    return this.options.view.replicates(partition)
  }

  private ringResponse(): RingResponse {
    const {cluster, n, r, w} = this.config
    return {ok: true, cluster, ring: this.options.view.ring, nodes: this.options.view.addresses(), n, r, w}
  }

  // ---- coordinator ----

  private async coordinateGet(request: GetRequest): Promise<GetResponse> {
    checkKey(request.key)
    const r = request.r ?? this.config.r
    checkQuorumParameters({n: this.config.n, name: 'r', value: r})
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets) && request.forwarded !== true) return this.forward('kv.get', request, targets)

    const partition = this.partitionOf(request.key)
    const {quorum, replies} = await this.askReplicasToGet(targets, r, partition, request.key)
    const fallbacks = new Set(targets.filter((target) => target.fallbackFor !== undefined).map((target) => target.node))
    const stale = quorum.repairTargets().filter((node) => !fallbacks.has(node))
    this.options.background.track(Promise.allSettled(replies).then(() => this.readRepair(quorum, targets, partition, request.key)))
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

  /**
   * Asks the replicas of a get and resolves once the quorum is decided. With the `quorum`
   * read fan-out it asks R of them, this node first: R answers are what the quorum needs,
   * and each replica asked beyond them costs a request, a read and a reply. It asks the
   * next replica when one fails or times out, and every remaining one when R answers have
   * not come within the speculative delay (about the p99 of recent replica reads), so a
   * slow or silent replica costs a get that delay rather than a request timeout. With `all`
   * it asks every replica at once, as Dynamo does. Read repair reaches the replicas asked.
   */
  private async askReplicasToGet(
    targets: readonly ReplicaTarget[],
    r: number,
    partition: number,
    key: Uint8Array,
  ): Promise<{quorum: GetQuorum; replies: Promise<void>[]}> {
    const all = (this.config.readFanout ?? 'quorum') === 'all'
    const first = all ? targets : [...targets.filter((target) => target.node === this.name), ...targets.filter((target) => target.node !== this.name)].slice(0, r)
    const quorum = new GetQuorum({coordinator: this.name, n: this.config.n, r, replicas: targets, asked: first.map((target) => target.node)})
    const replies: Promise<void>[] = []
    let speculation: {cancel(): void} | undefined
    await new Promise<void>((resolve) => {
      let settled = 0
      const check = (): void => {
        if (quorum.isDone() || (settled === replies.length && quorum.notAsked().length === 0)) resolve()
      }
      const ask = (target: ReplicaTarget): void => {
        quorum.ask(target.node)
        const reply = this.askGet(target, partition, key, quorum).then((kind) => {
          settled++
          if ((kind === 'error' || kind === 'timeout') && !quorum.isDone()) {
            const next = quorum.notAsked()[0]
            if (next !== undefined) ask(next)
          }
          check()
        })
        replies.push(reply)
      }
      for (const target of first) ask(target)
      if (quorum.notAsked().length > 0) {
        speculation = this.options.clock.schedule?.(this.replicaReads.speculativeDelayMs(this.config.requestTimeoutMs), () => {
          for (const target of quorum.notAsked()) if (!quorum.isDone()) ask(target)
        })
      }
      check()
    })
    speculation?.cancel()
    return {quorum, replies}
  }

  private async coordinatePut(request: PutRequest): Promise<PutResponse> {
    checkKey(request.key)
    checkValue(request.value, this.config.valueBytesMax)
    const context = this.decodeContext(request.context)
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets)) {
      // A write is coordinated only by one of its replicas: the put rule runs on the
      // coordinator's own copy (actors.ts says why that matters).
      if (request.forwarded === true) throw new NotAReplicaError(this.name)
      return this.forward('kv.put', request, targets)
    }
    return this.write(request.key, {kind: 'value', value: request.value}, context, request.w, targets)
  }

  /** A delete writes a tombstone. Without a context it first reads the key, so that the
   * tombstone covers what a quorum of replicas holds (a blind tombstone would cover nothing
   * and delete nothing). */
  private async coordinateDelete(request: DeleteRequest): Promise<PutResponse> {
    checkKey(request.key)
    const targets = this.replicasOf(request.key)
    if (!this.replicates(targets)) {
      // A write is coordinated only by one of its replicas: the put rule runs on the
      // coordinator's own copy (actors.ts says why that matters).
      if (request.forwarded === true) throw new NotAReplicaError(this.name)
      return this.forward('kv.delete', request, targets)
    }
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
    const startedMs = this.options.clock.nowMs()
    const self = targets.find((target) => target.node === this.name)
    assert(self !== undefined, 'a write is coordinated by one of its targets')
    const others = targets.filter((target) => target.node !== this.name)
    // Step 2 starts from inside step 1, as soon as the put rule produced the object: a
    // refusal (sibling limit) ends the request before anything is sent.
    let replies: Promise<void>[] = []
    const send = (object: StoredObject): void => {
      const encoded = encodeObject(object)
      // Made on the first timeout only: nearly every write has none.
      let hinted: Set<string> | undefined
      replies = others.map((target) =>
        this.askPut(target, partition, key, encoded, quorum, (kind) => {
          if (kind !== 'timeout' || target.fallbackFor !== undefined) return
          hinted ??= new Set()
          this.hintTimedOutPrimary({primary: target.node, targets, hinted, partition, key, object: encoded})
        }),
      )
    }
    let applied: {put: PutResult; written: StoredObject}
    try {
      applied = await this.applyWrite({partition, key, write, context, computed: send})
    } catch (error) {
      // Replicas may have the object already; the client hears only that the write failed.
      this.options.background.track(Promise.allSettled(replies))
      throw error
    }
    const {put, written} = applied
    if (self.fallbackFor !== undefined) await this.options.hints.record({target: self.fallbackFor, partition, key})
    quorum.addReply({node: this.name, kind: 'ok', ms: this.options.clock.nowMs() - startedMs, ...fallbackField(self)})
    // Step 3: answer once decided.
    await untilDecided(quorum, replies)
    this.options.background.track(Promise.allSettled(replies))
    const error = quorum.error()
    if (error !== undefined) return quorumFailure(error, quorum.details())
    return {
      ok: true,
      context: this.encodeContext(contextOf(written)),
      dot: put.dot,
      siblings: written.siblings.length,
      quorum: quorum.details(),
      ...(put.warning === undefined ? {} : {warning: {code: put.warning.code, message: put.warning.message}}),
    }
  }

  /** The put rule with a fresh dot counter, on the local copy, as this node's current
   * actor for the partition (actors.ts). The counter
   * must be newer than every counter of this node the copy or the context has seen; when
   * a concurrent write or a crafted context got there first, draw again. */
  private async applyWrite(options: {
    partition: number
    key: Uint8Array
    write: Write
    context: VersionVector
    /** Sees the new object before it is persisted. */
    computed: (object: StoredObject) => void
  }): Promise<{put: PutResult; written: StoredObject}> {
    const {partition, key, write, context, computed} = options
    // A new data directory learns first whether its name wrote before (identity.ts).
    const settling = this.options.actors.ready()
    if (settling !== undefined) await settling
    const actor = this.options.actors.actorFor(partition)
    this.options.actors.noteWrite(partition)
    let seen = counterOf(context, actor)
    for (let attempt = 0; attempt < counterAttemptsMax; attempt++) {
      const counter = await this.options.counter.next(seen)
      let put: PutResult | undefined
      const change = (current: StoredObject | undefined): StoredObject => {
        seen = Math.max(seen, counterOf(current?.vv ?? emptyVersionVector, actor))
        if (counter <= seen) throw counterOvertaken
        put = applyPut(current, {coordinator: actor, context, write, counter})
        return put.object
      }
      try {
        const written = (await this.options.objects.update(partition, key, change, (result) => computed(result.after!))).after
        assert(put !== undefined && written !== undefined, 'the put rule ran')
        return {put, written}
      } catch (error) {
        if (error !== counterOvertaken) throw error
      }
    }
    throw new DynError(`could not draw a new dot counter for the key in ${counterAttemptsMax} attempts`, {
      code: 'COUNTER_CONTENTION',
      exitCode: exitCodes.error,
      suggestion: 'retry the write',
    })
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
    const problems: string[] = []
    for (const target of targets) {
      try {
        const response = await this.options.transport.request(target.node, type, {...request, forwarded: true}, {
          timeoutMs: forwardTimeoutMs(this.config.requestTimeoutMs),
        })
        this.options.health.heard(target.node)
        // Its view of the healthy replicas differs from this node's: it did nothing, try the next.
        if (!response.ok && response.error.code === 'NOT_A_REPLICA') {
          problems.push(`${target.node}: ${response.error.message}`)
          continue
        }
        return response
      } catch (error) {
        this.options.health.failed(target.node, error)
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

  /** Asks one replica and adds its reply to the quorum; resolves with the reply's kind. */
  private async askGet(target: ReplicaTarget, partition: number, key: Uint8Array, quorum: GetQuorum): Promise<GetReply['kind']> {
    const startedMs = this.options.clock.nowMs()
    const base = {node: target.node, ...fallbackField(target)}
    let reply: GetReply
    try {
      const local = target.node === this.name
      const bytes = local ? await this.options.objects.readBytes(partition, key) : await this.remoteGet(target.node, partition, key)
      const ms = this.options.clock.nowMs() - startedMs
      if (!local) this.replicaReads.record(ms)
      reply = bytes === undefined ? {...base, kind: 'notFound', ms} : {...base, kind: 'ok', ms, object: decodeObject(bytes)}
    } catch (error) {
      reply = failedReply(base, error, this.options.clock.nowMs() - startedMs)
    }
    quorum.addReply(reply)
    return reply.kind
  }

  private async remoteGet(peer: string, partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const response = await this.request(peer, 'replica.get', {partition, key})
    if (!response.ok) throw new DynError(response.error.message, {code: response.error.code})
    return response.object
  }

  /**
   * A primary that did not answer a write within the request timeout, though not suspected
   * when the write began, may be down: the write also goes to the next healthy node past
   * the N primaries that is not already a target, with a hint naming the primary (Dynamo
   * §4.6), so that N copies exist while it is away and the fallback hands the write over
   * when it is back. In the background: the quorum was counted on the replies alone. If
   * the primary was only slow and has the write, the delivery changes nothing.
   */
  private hintTimedOutPrimary(options: {
    primary: string
    targets: readonly ReplicaTarget[]
    /** Fallbacks this write already used, one per timed-out primary. */
    hinted: Set<string>
    partition: number
    key: Uint8Array
    object: Uint8Array
  }): void {
    const {primary, targets, hinted, partition, key, object} = options
    const healthy = this.options.health.predicate()
    const list = preferenceList(this.options.view.ring, {partition}, {n: this.config.n, healthy})
    const taken = new Set(targets.map((target) => target.node))
    const fallback = list.fallbacks.find((node) => !taken.has(node) && !hinted.has(node) && healthy(node))
    if (fallback === undefined) return
    hinted.add(fallback)
    this.hintedTimeouts++
    this.options.background.track(this.request(fallback, 'replica.put', {partition, key, object, hintFor: primary}).catch(() => undefined))
  }

  /** Writes also sent to a fallback with a hint after a primary timed out (hintTimedOutPrimary). */
  hintedTimeouts = 0

  private async askPut(
    target: ReplicaTarget,
    partition: number,
    key: Uint8Array,
    object: Uint8Array,
    quorum: PutQuorum,
    onReply: (kind: PutReply['kind']) => void = () => undefined,
  ): Promise<void> {
    const startedMs = this.options.clock.nowMs()
    const base = {node: target.node, ...fallbackField(target)}
    let reply: PutReply
    try {
      const hint = target.fallbackFor === undefined ? {} : {hintFor: target.fallbackFor}
      const response = await this.request(target.node, 'replica.put', {partition, key, object, ...hint})
      const ms = this.options.clock.nowMs() - startedMs
      reply = response.ok ? {...base, kind: 'ok', ms} : {...base, kind: 'error', ms, message: response.error.message}
    } catch (error) {
      reply = failedReply(base, error, this.options.clock.nowMs() - startedMs)
    }
    quorum.addReply(reply)
    onReply(reply.kind)
  }

  /** A request to a peer, feeding the failure detector with the outcome. */
  private async request<T extends 'replica.get' | 'replica.put'>(peer: string, type: T, payload: RequestOf<T>): Promise<ResponseOf<T>> {
    try {
      const response = await this.options.transport.request(peer, type, payload, {timeoutMs: this.config.requestTimeoutMs})
      this.options.health.heard(peer)
      return response
    } catch (error) {
      this.options.health.failed(peer, error)
      throw error
    }
  }

  /** Sends the merged object to every replica that answered without it. Best effort:
   * anti-entropy catches whatever a lost repair leaves behind. */
  private async readRepair(quorum: GetQuorum, targets: readonly ReplicaTarget[], partition: number, key: Uint8Array): Promise<void> {
    const merged = quorum.merged()
    if (merged === undefined) return
    const encoded = encodeObject(merged)
    // Fallbacks are left out: their copy is a stand-in that hint delivery carries to its
    // primary, and repairing it would leave a copy no hint accounts for.
    const fallbacks = new Set(targets.filter((target) => target.fallbackFor !== undefined).map((target) => target.node))
    await Promise.allSettled(
      quorum
        .repairTargets()
        .filter((node) => !fallbacks.has(node))
        .map((node) =>
          node === this.name ? this.options.objects.merge(partition, key, merged) : this.request(node, 'replica.put', {partition, key, object: encoded}),
        ),
    )
  }

  // ---- replica ----

  private async replicaGet(request: ReplicaGetRequest): Promise<ReplicaGetResponse> {
    this.checkPartition('replica.get', request.partition, request.key)
    const object = await this.options.objects.readBytes(request.partition, request.key)
    return object === undefined ? {ok: true} : {ok: true, object}
  }

  /** Merges a replica's copy; as a fallback (hintFor set), also records the hint before
   * acknowledging, so the write reaches its primary even if this node restarts. */
  private async replicaPut(request: ReplicaPutRequest): Promise<ReplicaPutResponse> {
    this.checkPartition('replica.put', request.partition, request.key)
    // A copy without a hint is only kept by a replica: a sender with an older view of the
    // ring (a hint's old target, a handoff, a repair) tries again once the views agree,
    // instead of leaving a copy here that nothing would ever account for.
    if (request.hintFor === undefined) this.checkReplica(request.partition)
    await this.options.objects.merge(request.partition, request.key, decodeObject(request.object))
    if (request.hintFor !== undefined && request.hintFor !== this.name) {
      await this.options.hints.record({target: request.hintFor, partition: request.partition, key: request.key})
    }
    return {ok: true}
  }

  private async replicaPutMany(request: ReplicaPutManyRequest): Promise<ReplicaPutResponse> {
    for (const key of request.keys) this.checkPartition('replica.putMany', request.partition, key)
    this.checkReplica(request.partition)
    const objects = request.objects.map((bytes) => decodeObject(bytes))
    await Promise.all(request.keys.map((key, i) => this.options.objects.merge(request.partition, key, objects[i]!)))
    return {ok: true}
  }

  // ---- helpers ----

  /** The replicas to ask: healthy primaries, a healthy fallback for each suspected primary
   * (sloppy quorum), and suspected primaries for which no fallback is left: asking them
   * costs at most a timeout, while leaving them out would fail a quorum that needs them
   * before anyone was asked (a node just started, still suspecting peers it has not heard
   * from yet, would refuse R=N reads). */
  private replicasOf(key: Uint8Array): readonly ReplicaTarget[] {
    const list = preferenceList(this.options.view.ring, {key}, {n: this.config.n, healthy: this.options.health.predicate()})
    return [...list.targets, ...list.unreplaced.map((node) => ({node}))]
  }

  private replicates(targets: readonly ReplicaTarget[]): boolean {
    return targets.some((target) => target.node === this.name)
  }

  private partitionOf(key: Uint8Array): number {
    return partitionOfKey(key, this.options.view.ring.partitionCount)
  }

  private checkReplica(partition: number): void {
    if (!this.replicatesPartition(partition)) throw new NotAReplicaError(this.name)
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

}

/** The speculative delay before a recent replica-read p99 is known. */
export const speculativeDelayMsDefault = 50

/** The shortest speculative delay: below it a loaded machine's scheduling jitter alone
 * would send extra reads. */
export const speculativeDelayMsMin = 10

/** Replica-read samples the p99 is taken over; it is recomputed each time they are all new. */
const replicaReadSamples = 256

/** The p99 of the last replicaReadSamples replica reads, as a get's speculative delay. */
export class ReplicaReadLatency {
  private readonly samples = new Float64Array(replicaReadSamples)
  private written = 0
  private p99Ms: number | undefined = undefined

  record(ms: number): void {
    this.samples[this.written % replicaReadSamples] = ms
    this.written++
    if (this.written % replicaReadSamples === 0) this.p99Ms = p99(Array.from(this.samples))
  }

  /** The delay after which a get asks its remaining replicas: the recent p99, at least
   * speculativeDelayMsMin, at most half a request timeout. */
  speculativeDelayMs(requestTimeoutMs: number): number {
    const p99 = this.p99Ms ?? speculativeDelayMsDefault
    return Math.min(Math.max(p99, speculativeDelayMsMin), Math.max(1, requestTimeoutMs / 2))
  }
}

/** Draws of a dot counter per write before giving up: each retry means another write of
 * this node to the key drew in between, which a hot key can do a few times, not forever. */
const counterAttemptsMax = 5

/** Thrown inside the put rule's update to draw a newer counter; never leaves applyWrite. */
const counterOvertaken = new Error('dot counter overtaken')

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
