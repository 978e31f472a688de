// Active anti-entropy (Dynamo §4.7, DESIGN §5): replicas of a partition periodically compare
// their tictac Merkle trees (core/merkle.ts, kept by objects.ts on every write) and sync the
// keys that differ with the causality rule, so that replicas converge even when a write,
// a hint or a read repair was lost.
//
// One exchange, started by this node (A) with one other primary (B) of one partition:
//
//   A                                        B
//   ── tree.branches {partition} ──────────▶      B branches (B × 16 bytes)
//   compare with A's branches: equal → done (the roots are the XOR of the branches)
//   ── tree.leaves {partition, differing} ─▶      the W segment hashes of each differing branch
//   ── tree.keys {partition, segments} ────▶      [key, version digest] of differing segments
//   diffSegmentKeys(A's listing, B's listing)
//   for each differing key (at most the exchange's budget):
//     only on A           → push A's object to B (replica.putMany)
//     on B (only / both)  → replica.get from B, merge into A (sync rule), and push the
//                           merged object to B unless B already has exactly it
//
// Both sides end with the merge of both copies, and merging is commutative, associative
// and idempotent, so a write racing the exchange is never lost: at worst a key is synced
// twice. Only one exchange runs per node at a time.
//
// Which exchange comes next, in this order:
//
//   1. an exchange its budget cut short: the same partition with the same peer;
//   2. the priority queue of (partition, peer): every partition this node shares with a peer
//      whose suspicion just ended (health.ts onRecovered) or that just took a handoff
//      (handoff.ts onFinished), since that peer is the likeliest to have missed writes;
//   3. the round robin over this node's partitions, with the peer last found different when
//      it is a primary of the partition, else a random other healthy primary.
//
// After an exchange that found differences, or while the queue is not empty, the next one
// is due at once (repairIntervalMs) and starts as soon as the previous one ends, without
// waiting for the next tick; after one that found its replicas equal, the next waits an
// interval. The pace follows the clients: with no client requests the interval is
// intervalIdleMs and the key rate keysPerSecondIdleMax; as the foreground request rate
// (anti-entropy-latency.ts) rises towards busyRequestsPerSecond both move linearly to their
// loaded values, intervalMs and keysPerSecondMax.
//
// Background work yields to clients: an exchange starts only when a token bucket of keys
// (refilled at the current key rate) holds a quarter of an exchange's budget, repairs at
// most what the bucket holds, and does not start while the node's recent foreground p99
// is above latencyBackoffRatio × its idle baseline (see
// anti-entropy-latency.ts). The peer's side is bounded by the same caps of the N - 1 nodes
// that may pick it; it does not refuse exchanges itself, because tree.* also serve
// `dyn merkle diff`, which must answer under load.
//
// Tombstones are not reaped here: that needs every member to agree, not two replicas
// (reaper.ts, docs/anti-entropy.md).
import {Buffer} from 'node:buffer'
import {decodeObject, encodeObject} from '../core/causality.js'
import {DynError} from '../core/errors.js'
import {diffBranches, diffLeaves, diffSegmentKeys, type KeyDifference} from '../core/merkle.js'
import {BadRequestError, type RequestOf, type ResponseOf, type TreeBranchesRequest, type TreeHashesResponse, type TreeKeysRequest, type TreeKeysResponse, type TreeLeavesRequest} from '../core/protocol.js'
import {randomFloat, randomInt, randomPick} from '../core/random.js'
import type {LatencyTracker} from './anti-entropy-latency.js'
import type {Background} from './background.js'
import type {Health} from './health.js'
import type {LocalObjects} from './objects.js'
import type {Clock, Random, Transport} from './ports.js'
import type {ClusterView} from './view.js'

export interface AntiEntropySettings {
  /** Between exchanges when the last one found its two replicas equal, while clients keep the
   * node busy (busyRequestsPerSecond or more). One exchange costs one request and B × 16
   * bytes (512 bytes at 1024 segments) when nothing differs; at 2 s a node primary for 64
   * partitions compares each of them about every two minutes, and each partition is
   * compared by all N of its primaries. Shorter finds differences sooner, and takes a little
   * more from the clients. */
  readonly intervalMs: number
  /** The same with no client requests. In between, interval = intervalIdleMs + load ×
   * (intervalMs − intervalIdleMs), load = min(1, client requests/s ÷ busyRequestsPerSecond).
   * At 250 ms an idle node primary for 64 partitions compares each about every 16 s, for 4
   * requests and 2 KB per second: noise on an idle node, while drift that no peer's return
   * announces (a lost hint or read repair) is found in seconds instead of minutes. */
  readonly intervalIdleMs: number
  /** Between exchanges while the last one found differences, was cut short, or the priority
   * queue holds exchanges: the next one starts as soon as the previous one ends and the rate
   * limit allows, so a diverged node catches up at the current key rate. */
  readonly repairIntervalMs: number
  /** Each interval is drawn uniformly from ±this fraction around it, so that nodes started
   * together do not all exchange in the same instant. */
  readonly jitterRatio: number
  /** Keys one exchange repairs at most (and the token bucket's size). Bounds the time one
   * exchange holds the node's single exchange slot and the size of its batches. */
  readonly keysPerExchangeMax: number
  /** Keys this node repairs per second at most under load (busyRequestsPerSecond or more),
   * over any span longer than one exchange. At about 1 KiB per object, 5,000 keys/s is
   * 5 MB/s of repair traffic: a small share of a LAN link and of the log store's write rate,
   * and 100k diverged keys in under a minute even while clients are served. */
  readonly keysPerSecondMax: number
  /** The same with no client requests; in between, rate = keysPerSecondIdleMax − load ×
   * (keysPerSecondIdleMax − keysPerSecondMax), load as for intervalIdleMs. 20,000 keys/s is
   * 20 MB/s at 1 KiB objects, a sixth of a gigabit link, so a replica that missed 100k keys
   * catches up in seconds (each of its N − 1 peers pushes at this rate); higher shortens
   * that further but lets one node's repair burst take a larger share of its peers' disks. */
  readonly keysPerSecondIdleMax: number
  /** The client request rate (kv.get/put/delete per second at this node) at which the loaded
   * pace (intervalMs, keysPerSecondMax) applies in full. Lower protects clients sooner and
   * slows repair on a lightly used node; higher keeps repair fast under more traffic, relying
   * on the latency back-off alone. 100/s: a node that busy has its clients' latency to lose,
   * while below it a request every 10 ms barely notices a repair batch. */
  readonly busyRequestsPerSecond: number
  /** How long one request of an exchange may take. */
  readonly requestTimeoutMs: number
  /** Pause while the recent foreground p99 is above this multiple of the idle baseline:
   * the project's budget for what background work may add to client latency is 20%. */
  readonly latencyBackoffRatio: number
  /** ...and above this absolute p99: below it, differences are timer noise, not load. */
  readonly latencyFloorMs: number
}

export const antiEntropyDefaults: AntiEntropySettings = {
  intervalMs: 2_000,
  intervalIdleMs: 250,
  repairIntervalMs: 0,
  jitterRatio: 0.5,
  keysPerExchangeMax: 1_000,
  keysPerSecondMax: 5_000,
  keysPerSecondIdleMax: 20_000,
  busyRequestsPerSecond: 100,
  requestTimeoutMs: 5_000,
  latencyBackoffRatio: 1.2,
  latencyFloorMs: 2,
}

/** Segments whose keys one tree.keys request asks for: at 1024 segments and a million-key
 * partition, 64 segments list about 60k keys, ~2 MB, well inside a frame. */
export const segmentsPerListingMax = 64

/** Objects per replica.putMany: with values up to 1 MiB the batch is also cut at
 * pushBytesMax. */
export const pushObjectsMax = 256

/** Bytes of objects per replica.putMany: half the 16 MiB frame limit leaves room for keys
 * and encoding overhead. */
export const pushBytesMax = 8 * 1024 * 1024

/** Peer objects fetched (replica.get) at once during a repair. */
export const fetchConcurrency = 16

/** An exchange starts once the token bucket holds this share of keysPerExchangeMax, and may
 * repair as many keys as the bucket holds. A full bucket would make every follow-up wait for
 * a refill even after it repaired one key; a near-empty one would spend an exchange's tree
 * and listing requests on a handful of keys. A quarter keeps each exchange's budget at 250+
 * keys at the defaults while a follow-up starts as soon as 250 keys' worth of time passed. */
export const bucketStartRatio = 0.25

/** Exchanges one call of tick() may start, counting the follow-ups started as soon as the
 * previous exchange ended: follow-ups run back to back instead of one per shell tick
 * (100 ms in the daemon), and this bounds a run of them in which no time passes (an
 * in-memory transport) so that the node gets back to its other work. */
export const exchangesPerTickMax = 64

export interface ExchangeResult {
  readonly partition: number
  readonly peer: string
  /** Requests sent to the peer. */
  readonly requests: number
  readonly branchesDiffering: number
  readonly segmentsDiffering: number
  /** Keys found to differ (listing stops once the budget is reached). */
  readonly keysDiffering: number
  /** Keys synced: fetched, merged and/or pushed. */
  readonly keysRepaired: number
  /** False when the budget cut the exchange short: more may differ. */
  readonly complete: boolean
}

export interface AntiEntropyStats {
  exchanges: number
  /** Exchanges taken from the priority queue (a peer's return, a finished handoff). */
  prioritizedExchanges: number
  failures: number
  keysRepaired: number
  /** Ticks on which an exchange was due but the foreground latency held it back. */
  pausedTicks: number
  lastExchange: ExchangeResult | undefined
  lastError: string | undefined
}

export interface AntiEntropyOptions {
  readonly self: string
  /** N: the primaries of each partition. */
  readonly n: number
  readonly view: ClusterView
  readonly objects: LocalObjects
  readonly health: Health
  readonly latency: LatencyTracker
  readonly background: Background
  readonly ports: {readonly transport: Transport; readonly clock: Clock; readonly random: Random}
  readonly settings?: Partial<AntiEntropySettings>
}

interface Choice {
  readonly partition: number
  readonly peer: string
}

/** The pause before the next exchange: from when, whether it is a follow-up (due after
 * repairIntervalMs) or a rest (due after the current interval × jitter). The interval is
 * read when the pause is checked, not when it starts, so a node that turns idle speeds up
 * at once instead of sitting out a pause drawn under load. */
interface Pause {
  readonly fromMs: number
  readonly followUp: boolean
  /** Drawn uniformly from [1 − jitterRatio, 1 + jitterRatio]. */
  readonly jitter: number
}

export class AntiEntropy {
  readonly settings: AntiEntropySettings
  readonly stats: AntiEntropyStats = {exchanges: 0, prioritizedExchanges: 0, failures: 0, keysRepaired: 0, pausedTicks: 0, lastExchange: undefined, lastError: undefined}
  private running = false
  /** The pause before the next exchange; undefined before the first tick. */
  private pause: Pause | undefined = undefined
  /** Exchanges started by the current tick(), follow-ups included (exchangesPerTickMax). */
  private startedThisTick = 0
  /** Exchanges to run before the round robin, oldest first. Invariant: no pair twice (see
   * queuedKeys), so at most Q × (N − 1) entries. */
  private readonly queue: Choice[] = []
  private readonly queuedKeys = new Set<string>()
  /** The peer of the last exchange that found differences, preferred by the round robin;
   * cleared when an exchange with it finds equal replicas. */
  private lastDifferentPeer: string | undefined = undefined
  /** The round robin's position: the next partition tried is the first own one at or after it. */
  private cursor = 0
  /** An exchange the budget cut short, continued next time with the same peer. */
  private unfinished: Choice | undefined = undefined
  /** Token bucket of keys; invariant: 0 <= tokens <= keysPerExchangeMax. */
  private tokens: number
  private refilledMs: number | undefined = undefined

  constructor(private readonly options: AntiEntropyOptions) {
    this.settings = checkSettings({...antiEntropyDefaults, ...options.settings})
    this.tokens = this.settings.keysPerExchangeMax
    options.health.onRecovered((peer) => this.prioritize(peer))
  }

  /** Queues every partition this node shares with `peer` ahead of the round robin: a peer
   * whose suspicion ended or that just took a handoff is the likeliest to lack writes. Starts
   * at a random one of them, so that the N − 1 nodes queueing for the same peer start on
   * different partitions instead of repairing the same keys twice. Returns at once. */
  prioritize(peer: string): void {
    if (peer === this.options.self) return
    const shared = this.ownPartitions().filter((partition) => this.otherPrimaries(partition).includes(peer))
    if (shared.length === 0) return
    const start = randomInt(this.options.ports.random, shared.length)
    for (let i = 0; i < shared.length; i++) this.enqueue({partition: shared[(start + i) % shared.length]!, peer})
  }

  /** Exchanges waiting in the priority queue. */
  get queued(): number {
    return this.queue.length
  }

  /** How busy clients keep this node: 0 with no client requests, 1 at busyRequestsPerSecond
   * or more. */
  foregroundLoad(): number {
    return Math.min(1, this.options.latency.requestsPerSecond() / this.settings.busyRequestsPerSecond)
  }

  /** The pace at the current foreground load: the interval between exchanges that find
   * equal replicas, and the keys repaired per second at most (see the settings' formulas). */
  pace(): {intervalMs: number; keysPerSecond: number} {
    const load = this.foregroundLoad()
    const {intervalMs, intervalIdleMs, keysPerSecondMax, keysPerSecondIdleMax} = this.settings
    return {intervalMs: intervalIdleMs + load * (intervalMs - intervalIdleMs), keysPerSecond: keysPerSecondIdleMax - load * (keysPerSecondIdleMax - keysPerSecondMax)}
  }

  readonly handlers = {
    'tree.branches': async (request: TreeBranchesRequest): Promise<TreeHashesResponse> => {
      return {ok: true, hashes: this.options.objects.tree(this.checkPartition('tree.branches', request.partition)).branches()}
    },
    'tree.leaves': async (request: TreeLeavesRequest): Promise<TreeHashesResponse> => {
      const tree = this.options.objects.tree(this.checkPartition('tree.leaves', request.partition))
      if (request.branches.some((branch) => branch >= tree.shape.branches)) {
        throw new BadRequestError('tree.leaves', `branch indexes must be below ${tree.shape.branches}`)
      }
      return {ok: true, hashes: tree.leavesOf(request.branches)}
    },
    'tree.keys': async (request: TreeKeysRequest): Promise<TreeKeysResponse> => {
      const partition = this.checkPartition('tree.keys', request.partition)
      const segments = this.options.objects.tree(partition).shape.segments
      if (request.segments.some((segment) => segment >= segments)) throw new BadRequestError('tree.keys', `segment indexes must be below ${segments}`)
      const listing = this.options.objects.keysIn(partition, request.segments)
      return {ok: true, keys: listing.map(([key]) => key), digests: listing.map(([, digest]) => digest)}
    },
  }

  /** Starts an exchange when one is due and allowed; returns at once. */
  tick(): void {
    if (this.running) {
      this.options.latency.markBackground()
      return
    }
    this.startedThisTick = 0
    this.startDue()
  }

  /** Starts the next exchange if it is due, the bucket holds a quarter of an exchange's
   * budget (bucketStartRatio) and the clients allow it; on ticks, and right after an
   * exchange ended (a follow-up need not wait for the next tick). */
  private startDue(): void {
    const nowMs = this.options.ports.clock.nowMs()
    const pace = this.pace()
    this.refill(nowMs, pace.keysPerSecond)
    if (this.pause === undefined) {
      this.pause = this.rest(nowMs, false)
      return
    }
    if (nowMs < this.dueMs(this.pause, pace.intervalMs) || this.tokens < this.settings.keysPerExchangeMax * bucketStartRatio) return
    if (this.startedThisTick >= exchangesPerTickMax) return
    if (this.foregroundSlow()) {
      this.stats.pausedTicks++
      return
    }
    const choice = this.choose()
    if (choice === undefined) {
      this.pause = this.rest(nowMs, false)
      return
    }
    this.running = true
    this.startedThisTick++
    this.options.latency.markBackground()
    this.options.background.track(
      this.run(choice).finally(() => {
        this.running = false
        this.startDue()
      }),
    )
  }

  private dueMs(pause: Pause, intervalMs: number): number {
    // A queued exchange does not sit out a rest that began before it was queued.
    if (pause.followUp || this.queue.length > 0) return pause.fromMs + this.settings.repairIntervalMs
    return pause.fromMs + pause.jitter * intervalMs
  }

  private rest(nowMs: number, followUp: boolean): Pause {
    const spread = this.settings.jitterRatio
    return {fromMs: nowMs, followUp, jitter: 1 - spread + 2 * spread * randomFloat(this.options.ports.random)}
  }

  /** Whether an exchange is under way. */
  get busy(): boolean {
    return this.running
  }

  /** Compares this node's copy of `partition` with `peer`'s and syncs up to `budget` differing keys. */
  async exchange(partition: number, peer: string, budget: number = this.settings.keysPerExchangeMax): Promise<ExchangeResult> {
    const counter = {requests: 0}
    const tree = this.options.objects.tree(partition)
    const remoteBranches = await this.ask(peer, 'tree.branches', {partition}, counter)
    const branches = diffBranches(tree, remoteBranches.hashes)
    const base = {partition, peer, branchesDiffering: branches.length}
    if (branches.length === 0) return {...base, requests: counter.requests, segmentsDiffering: 0, keysDiffering: 0, keysRepaired: 0, complete: true}
    const remoteLeaves = await this.ask(peer, 'tree.leaves', {partition, branches}, counter)
    const segments = diffLeaves(tree, branches, remoteLeaves.hashes)
    const {differences, listedAll} = await this.listDifferences({partition, peer, segments, budget, counter})
    const chosen = differences.slice(0, budget)
    const keysRepaired = await this.repair({partition, peer, differences: chosen, counter})
    return {
      ...base,
      requests: counter.requests,
      segmentsDiffering: segments.length,
      keysDiffering: differences.length,
      keysRepaired,
      complete: listedAll && differences.length <= budget,
    }
  }

  private async run(choice: Choice & {readonly prioritized: boolean}): Promise<void> {
    try {
      const result = await this.exchange(choice.partition, choice.peer, Math.max(1, Math.floor(this.tokens)))
      this.stats.exchanges++
      if (choice.prioritized) this.stats.prioritizedExchanges++
      this.stats.keysRepaired += result.keysRepaired
      this.stats.lastExchange = result
      this.tokens = Math.max(0, this.tokens - result.keysRepaired)
      this.unfinished = result.complete ? undefined : choice
      if (result.keysDiffering > 0) this.lastDifferentPeer = choice.peer
      else if (this.lastDifferentPeer === choice.peer) this.lastDifferentPeer = undefined
      this.pause = this.rest(this.options.ports.clock.nowMs(), result.keysDiffering > 0)
    } catch (error) {
      // Expected failures (the peer is down, failing, or has a tree of another shape) end this
      // exchange; the next one is tried after the usual interval, and the peer's queued
      // exchanges are dropped (its next return queues them again). Bugs go to onError.
      if (!(error instanceof DynError)) throw error
      this.stats.failures++
      this.stats.lastError = `${choice.peer}: ${error.message}`
      this.unfinished = undefined
      if (this.lastDifferentPeer === choice.peer) this.lastDifferentPeer = undefined
      this.dropQueued(choice.peer)
      this.pause = this.rest(this.options.ports.clock.nowMs(), false)
    }
  }

  /** The next exchange: an unfinished one, else the first still valid one of the queue, else
   * the next partition of the round robin with a healthy other primary. */
  private choose(): (Choice & {prioritized: boolean}) | undefined {
    const {health} = this.options
    const {random} = this.options.ports
    if (this.unfinished !== undefined && this.canExchange(this.unfinished)) return {...this.unfinished, prioritized: false}
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      this.queuedKeys.delete(choiceKey(next))
      // A suspected peer's entries go: its return queues them again.
      if (this.canExchange(next) && this.primariesOf(next.partition).includes(this.options.self)) return {...next, prioritized: true}
    }
    const own = this.ownPartitions()
    const start = own.findIndex((partition) => partition >= this.cursor)
    for (let i = 0; i < own.length; i++) {
      const partition = own[((start < 0 ? 0 : start) + i) % own.length]!
      const peers = this.otherPrimaries(partition).filter((peer) => health.isHealthy(peer))
      if (peers.length === 0) continue
      this.cursor = partition + 1
      const preferred = this.lastDifferentPeer !== undefined && peers.includes(this.lastDifferentPeer) ? this.lastDifferentPeer : undefined
      return {partition, peer: preferred ?? randomPick(random, peers), prioritized: false}
    }
    return undefined
  }

  /** Whether `choice` can run now: its peer is healthy and still a primary of its partition. */
  private canExchange(choice: Choice): boolean {
    return this.options.health.isHealthy(choice.peer) && this.otherPrimaries(choice.partition).includes(choice.peer)
  }

  private enqueue(choice: Choice): void {
    const key = choiceKey(choice)
    if (this.queuedKeys.has(key)) return
    this.queuedKeys.add(key)
    this.queue.push(choice)
  }

  private dropQueued(peer: string): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const choice = this.queue[i]!
      if (choice.peer !== peer) continue
      this.queue.splice(i, 1)
      this.queuedKeys.delete(choiceKey(choice))
    }
  }

  private ownPartitions(): number[] {
    const ring = this.options.view.ring
    const own: number[] = []
    for (let partition = 0; partition < ring.partitionCount; partition++) {
      if (this.primariesOf(partition).includes(this.options.self)) own.push(partition)
    }
    return own
  }

  private primariesOf(partition: number): readonly string[] {
    return this.options.view.primaries(partition)
  }

  private otherPrimaries(partition: number): string[] {
    return this.primariesOf(partition).filter((node) => node !== this.options.self)
  }

  /** Lists the keys of the differing segments on both sides, a few segments per request,
   * until `budget` differences were found. */
  private async listDifferences(options: {
    partition: number
    peer: string
    segments: readonly number[]
    budget: number
    counter: {requests: number}
  }): Promise<{differences: KeyDifference[]; listedAll: boolean}> {
    const {partition, peer, segments, budget, counter} = options
    const differences: KeyDifference[] = []
    for (let start = 0; start < segments.length; start += segmentsPerListingMax) {
      if (differences.length >= budget) return {differences, listedAll: false}
      const chunk = segments.slice(start, start + segmentsPerListingMax)
      const listing = await this.ask(peer, 'tree.keys', {partition, segments: chunk}, counter)
      if (listing.keys.length !== listing.digests.length) throw new DynError(`${peer} sent a key listing with ${listing.keys.length} keys and ${listing.digests.length} digests`, {code: 'BAD_RESPONSE'})
      const remote = listing.keys.map((key, i) => [key, listing.digests[i]!] as const)
      differences.push(...diffSegmentKeys(this.options.objects.keysIn(partition, chunk), remote))
    }
    return {differences, listedAll: true}
  }

  /** Syncs each differing key both ways; returns how many keys were synced. */
  private async repair(options: {partition: number; peer: string; differences: readonly KeyDifference[]; counter: {requests: number}}): Promise<number> {
    const {partition, peer, differences, counter} = options
    const push: Array<{key: Uint8Array; object: Uint8Array}> = []
    for (let start = 0; start < differences.length; start += fetchConcurrency) {
      const group = differences.slice(start, start + fetchConcurrency)
      const outcomes = await Promise.all(group.map((difference) => this.syncLocal(partition, peer, difference, counter)))
      for (const outcome of outcomes) if (outcome !== undefined) push.push(outcome)
    }
    await this.pushAll(partition, peer, push, counter)
    return differences.length
  }

  /** Brings the peer's copy of one key into the local one; returns the local object to push
   * when the peer lacks some of it. */
  private async syncLocal(
    partition: number,
    peer: string,
    difference: KeyDifference,
    counter: {requests: number},
  ): Promise<{key: Uint8Array; object: Uint8Array} | undefined> {
    const key = difference.key as Uint8Array
    const {objects} = this.options
    let remote: Uint8Array | undefined
    if (difference.kind !== 'onlyA') {
      const response = await this.ask(peer, 'replica.get', {partition, key}, counter)
      remote = response.object
      if (remote !== undefined) await objects.merge(partition, key, decodeObject(remote))
    }
    const local = await objects.read(partition, key)
    if (local === undefined) return undefined
    const encoded = encodeObject(local)
    return remote !== undefined && Buffer.compare(encoded, remote) === 0 ? undefined : {key, object: encoded}
  }

  private async pushAll(partition: number, peer: string, push: ReadonlyArray<{key: Uint8Array; object: Uint8Array}>, counter: {requests: number}): Promise<void> {
    let batch: Array<{key: Uint8Array; object: Uint8Array}> = []
    let batchBytes = 0
    const send = async (): Promise<void> => {
      if (batch.length === 0) return
      const payload = {partition, keys: batch.map((entry) => entry.key), objects: batch.map((entry) => entry.object)}
      batch = []
      batchBytes = 0
      await this.ask(peer, 'replica.putMany', payload, counter)
    }
    for (const entry of push) {
      if (batch.length >= pushObjectsMax || batchBytes + entry.object.length > pushBytesMax) await send()
      batch.push(entry)
      batchBytes += entry.object.length
    }
    await send()
  }

  /** One request of an exchange: a failure response or a lost request throws a DynError. */
  private async ask<T extends 'tree.branches' | 'tree.leaves' | 'tree.keys' | 'replica.get' | 'replica.putMany'>(
    peer: string,
    type: T,
    payload: RequestOf<T>,
    counter: {requests: number},
  ): Promise<Extract<ResponseOf<T>, {ok: true}>> {
    const {transport} = this.options.ports
    counter.requests++
    let response: ResponseOf<T>
    try {
      response = await transport.request(peer, type, payload, {timeoutMs: this.settings.requestTimeoutMs})
      this.options.health.heard(peer)
    } catch (error) {
      this.options.health.failed(peer, error)
      throw error
    }
    if (!response.ok) throw new DynError(response.error.message, {code: response.error.code, exitCode: response.error.exitCode})
    return response as Extract<ResponseOf<T>, {ok: true}>
  }

  /** Whether background work should wait for the clients (see anti-entropy-latency.ts): no
   * while clients are few; yes while no quiet window says what their latency is without
   * background work (the pause makes one); else yes while the recent p99 is above the
   * floor and latencyBackoffRatio × that baseline. */
  foregroundSlow(): boolean {
    const recent = this.options.latency.recentP99Ms()
    if (recent === undefined) return false
    const baseline = this.options.latency.baselineP99Ms()
    if (baseline === undefined) return true
    return recent > this.settings.latencyFloorMs && recent > baseline * this.settings.latencyBackoffRatio
  }

  private refill(nowMs: number, keysPerSecond: number): void {
    const elapsedMs = this.refilledMs === undefined ? 0 : Math.max(0, nowMs - this.refilledMs)
    this.refilledMs = nowMs
    this.tokens = Math.min(this.settings.keysPerExchangeMax, this.tokens + (elapsedMs * keysPerSecond) / 1000)
  }

  private checkPartition(type: string, partition: number): number {
    const count = this.options.view.ring.partitionCount
    if (partition >= count) throw new BadRequestError(type, `partition must be below ${count}`)
    return partition
  }
}

function choiceKey(choice: Choice): string {
  return `${choice.partition}/${choice.peer}`
}

/** Settings that would divide by zero, run backwards or never start an exchange are
 * programmer errors (the settings are not read from user input): they crash at once. */
function checkSettings(settings: AntiEntropySettings): AntiEntropySettings {
  const positive = ['busyRequestsPerSecond', 'keysPerExchangeMax', 'keysPerSecondMax', 'keysPerSecondIdleMax', 'requestTimeoutMs'] as const
  for (const name of positive) if (!(settings[name] > 0)) throw new RangeError(`anti-entropy ${name} must be positive, got ${settings[name]}`)
  const nonNegative = ['intervalMs', 'intervalIdleMs', 'repairIntervalMs'] as const
  for (const name of nonNegative) if (!(settings[name] >= 0)) throw new RangeError(`anti-entropy ${name} must be 0 or more, got ${settings[name]}`)
  if (!(settings.jitterRatio >= 0 && settings.jitterRatio <= 1)) throw new RangeError(`anti-entropy jitterRatio must be within [0, 1], got ${settings.jitterRatio}`)
  return settings
}
