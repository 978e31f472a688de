// One seeded simulation of a dyn cluster (DESIGN §10.3), after TigerBeetle's VOPR: K real
// Nodes (src/node) in one process, on a simulated network, clock and disk, driven by
// clients doing gets, puts and deletes with contexts while a nemesis (nemesis.ts) splits the
// network and crashes and restarts nodes; then the network heals, every node restarts, the
// cluster settles, a read of every key at R=N repairs the replicas, and the checker
// (checker.ts) verifies DESIGN §3's contract on what the replicas hold and that every
// replica's Merkle tree of each partition is equal. The run is a function of the
// seed alone: the seed picks the cluster shape and the fault rates (swarm testing, Groce et
// al. 2012) and drives every random choice, so `npm run sim -- --seed S` replays a failure
// event for event.
import {AsyncLocalStorage} from 'node:async_hooks'
import {randomFloat, randomInt, randomPick, SeededRandom, type Random} from '../core/random.js'
import {unreachable} from '../core/errors.js'
import {preferenceList, ringToJson, type Ring} from '../core/ring.js'
import type {RequestOf} from '../core/protocol.js'
import type {MemberStatus} from '../core/membership.js'
import {decodeHintKey, hintsPartition} from '../node/hints.js'
import {Node} from '../node/node.js'
import type {ObjectStore} from '../node/ports.js'
import type {SyncMode} from '../store/options.js'
import {checkRun, checkTrees, type TreeRoots, type Violation} from './checker.js'
import {DotLedger, keyText, type OperationRecord} from './ledger.js'
import {MemoryMetaStore, MemoryObjectStore, type StoredEntry} from './memory-store.js'
import {Nemesis, type NemesisShape, type NemesisStats} from './nemesis.js'
import {SimNetwork, type NetworkFaults, type NetworkStats, type RequestHandler} from './network.js'
import {Scheduler} from './scheduler.js'
import {Trace} from './trace.js'
import {History, SimClient, type WorkloadShape} from './workload.js'

/** Events one run may execute; beyond it the run counts as stuck (a livelock). */
export const simulationEventsMax = 2_000_000

/** Default operations per client: enough for conflicts, reads of conflicts and repairs,
 * small enough that a few hundred seeds run in seconds. */
export const operationsPerClientDefault = 25

/** How long a node waits for a peer: short virtual time, so timeouts are common. */
const requestTimeoutMs = 100

const clusterName = 'sim'

/** Scripted membership scenarios, run in place of the seed's random change (docs/simulation.md):
 *   concurrent-claimants  two nodes on both sides of a partition each commit as the claimant
 *                         (a join on one side, a leave on the other): two rings of one
 *                         version; after the heal the losing change is committed again, and
 *                         both must take effect;
 *   force-remove          a node is killed for good mid-workload, removed with a forced
 *                         removal and the commit; every acknowledged write must survive on
 *                         the remaining replicas and be readable at R = N. */
export type ScenarioName = 'concurrent-claimants' | 'force-remove'

export const scenarioNames: readonly ScenarioName[] = ['concurrent-claimants', 'force-remove']

export interface SimulationOptions {
  readonly seed: number
  /** A scripted membership scenario (4 nodes, no nemesis) instead of the seed's change. */
  readonly scenario?: ScenarioName
  /** Nodes in the cluster; the seed picks 3..5 when absent. */
  readonly nodes?: number
  readonly operationsPerClient?: number
  /** Receives every trace line as it happens (--verbose). */
  readonly onTrace?: (line: string) => void
  /** Test hooks that break a node on purpose, to show that the checker notices. */
  readonly wrapStore?: (node: string, store: ObjectStore) => ObjectStore
  readonly wrapHandler?: (node: string, handler: RequestHandler) => RequestHandler
}

/** The shape the seed chose. */
export interface SimulationConfig {
  readonly seed: number
  readonly nodes: readonly string[]
  readonly n: number
  readonly r: number
  readonly w: number
  readonly partitionCount: number
  readonly keys: readonly string[]
  readonly clients: number
  readonly operationsPerClient: number
  readonly faults: NetworkFaults
  readonly storeLatencyMsMax: number
  /** Every node's store sync mode (one per cluster, like the daemon's `sync` setting). */
  readonly sync: SyncMode
  /** How often an unsynced store becomes durable: the interval, or for `none` the
   * operating system's writeback period. */
  readonly flushIntervalMs: number
  readonly nemesis: NemesisShape
  /** A membership change staged and committed in the middle of the workload, if any. */
  readonly membership: MembershipChange
  /** Smallest R or W a client asks for when it asks for one (1 unless a scenario needs an
   * acknowledged write on two nodes). */
  readonly quorumMin: number
}

/** A node joins (a new one, started with the others as seeds) or one leaves, staged with
 * admin.stage and committed with admin.commit through a node that is up, at `atMs`. */
export type MembershipChange =
  | {readonly kind: 'none'}
  | {readonly kind: 'join'; readonly node: string; readonly atMs: number}
  | {readonly kind: 'leave'; readonly node: string; readonly atMs: number}
  | {readonly kind: 'concurrent-claimants'; readonly join: string; readonly leave: string; readonly atMs: number}
  | {readonly kind: 'force-remove'; readonly node: string; readonly atMs: number}

export interface SimulationStats {
  operations: number
  acknowledged: number
  /** Failed or timed out (for writes: indeterminate). */
  failed: number
  /** Acknowledged gets that returned more than one sibling. */
  siblingReads: number
  siblingsMaxSeen: number
  events: number
  virtualMs: number
  network: NetworkStats
  nemesis: NemesisStats
  /** Dots whose last copy disappeared in a crash of an unsynced store. */
  dotsLostInCrashes: number
  /** Acknowledged writes among them: the loss `sync none`/`interval` allows (checker.ts). */
  acknowledgedLostInCrashes: number
  /** From the end of the faults until the cluster settled (trees equal, hints delivered). */
  settleMs: number
}

export interface SimulationResult {
  readonly config: SimulationConfig
  readonly stats: SimulationStats
  /** SHA-256 of the event trace: equal seeds give equal hashes. */
  readonly traceHash: string
}

/** A broken invariant, with what a person needs to replay it. */
export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    readonly violation: Violation,
    readonly replay: string,
    excerpt: readonly string[],
  ) {
    super(
      [
        `seed ${seed}: invariant "${violation.invariant}" violated`,
        ...(violation.key === undefined ? [] : [`  key ${violation.key}`]),
        `  ${violation.detail}`,
        ...(excerpt.length === 0 ? [] : ['  trace excerpt:', ...excerpt.map((line) => `    ${line}`)]),
        `replay: ${replay}`,
      ].join('\n'),
    )
    this.name = 'SimulationFailure'
  }
}

/** Chooses the run's shape from the seed (its own random stream). */
export function configure(options: SimulationOptions): SimulationConfig {
  const random = new SeededRandom(options.seed)
  const nodeCount = options.nodes ?? (options.scenario === undefined ? 3 + randomInt(random, 3) : scenarioNodes)
  const calm = randomInt(random, 8) === 0
  const delayMsMax = 1 + randomInt(random, 30)
  const faults: NetworkFaults = {
    dropProbability: calm ? 0 : randomFloat(random) * 0.1,
    duplicateProbability: calm ? 0 : randomFloat(random) * 0.05,
    longDelayProbability: calm ? 0 : randomFloat(random) * 0.03,
    delayMsMin: 1,
    delayMsMax,
  }
  const sync = syncModeOf(random)
  // Drawn from a stream of its own, so that the rest of a seed's shape stays as it was
  // before disk losses were simulated.
  const wipes = randomInt(new SeededRandom(options.seed ^ 0x77697065), 2) === 0
  const config: SimulationConfig = {
    seed: options.seed,
    nodes: Array.from({length: nodeCount}, (_, index) => `n${index + 1}`),
    n: Math.min(3, nodeCount),
    r: 2,
    w: 2,
    partitionCount: randomInt(random, 2) === 0 ? 8 : 16,
    keys: Array.from({length: 2 + randomInt(random, 5)}, (_, index) => `k${index}`),
    clients: 2 + randomInt(random, 3),
    operationsPerClient: options.operationsPerClient ?? operationsPerClientDefault,
    faults,
    storeLatencyMsMax: randomInt(random, 2) === 0 ? 0 : 1 + randomInt(random, 3),
    sync,
    // The operating system writes dirty pages back every few seconds (Linux: 5 s).
    flushIntervalMs: sync.kind === 'interval' ? sync.intervalMs : 1_000 * (1 + randomInt(random, 5)),
    nemesis: {
      partitions: randomInt(random, 2) === 0,
      crashes: randomInt(random, 2) === 0,
      wipes,
      pauseMsMin: 100,
      pauseMsMax: 300 + randomInt(random, 2_000),
      faultMsMax: 300 + randomInt(random, 3_000),
    },
    membership: membershipOf(random, nodeCount, Math.min(3, nodeCount)),
    quorumMin: 1,
  }
  return options.scenario === undefined ? config : scenarioConfig(config, options.scenario, random)
}

/** Nodes of a scenario run: one more than N, so that a leave or a removal keeps N replicas. */
const scenarioNodes = 4

/** A scenario's shape: no nemesis (the scenario makes its own faults), synced stores (so no
 * loss is excused), its membership change early in the workload. */
function scenarioConfig(config: SimulationConfig, scenario: ScenarioName, random: Random): SimulationConfig {
  const atMs = 100 + randomInt(random, 200)
  const base: SimulationConfig = {...config, sync: {kind: 'always'}, nemesis: {...config.nemesis, partitions: false, crashes: false}}
  switch (scenario) {
    case 'concurrent-claimants':
      // No message loss: the two commits must both happen while the partition holds.
      return {...base, faults: {...config.faults, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0}, membership: {kind: 'concurrent-claimants', join: `n${config.nodes.length + 1}`, leave: config.nodes[config.nodes.length - 1]!, atMs}}
    case 'force-remove':
      // W >= 2: an acknowledged write is on some node besides the one removed.
      return {...base, quorumMin: 2, membership: {kind: 'force-remove', node: randomPick(random, config.nodes), atMs}}
    default:
      return unreachable(scenario)
  }
}

/** A quarter of the runs each: a join, a leave (when more than N nodes remain), none. */
function membershipOf(random: Random, nodeCount: number, n: number): MembershipChange {
  const roll = randomInt(random, 4)
  const atMs = 200 + randomInt(random, 2_000)
  if (roll === 0) return {kind: 'join', node: `n${nodeCount + 1}`, atMs}
  if (roll === 1 && nodeCount > n) return {kind: 'leave', node: `n${1 + randomInt(random, nodeCount)}`, atMs}
  return {kind: 'none'}
}

/** A third of the runs each: `always`, `interval:MS` (100..1000 ms), `none`. */
function syncModeOf(random: Random): SyncMode {
  const roll = randomInt(random, 3)
  if (roll === 0) return {kind: 'always'}
  if (roll === 1) return {kind: 'interval', intervalMs: tickIntervalMs * (1 + randomInt(random, 10))}
  return {kind: 'none'}
}

/** The command that replays a run. */
export function replayCommand(options: SimulationOptions): string {
  const nodes = options.nodes === undefined ? '' : ` --nodes ${options.nodes}`
  const ops = options.operationsPerClient === undefined ? '' : ` --ops ${options.operationsPerClient}`
  const scenario = options.scenario === undefined ? '' : ` --scenario ${options.scenario}`
  return `npm run sim -- --seed ${options.seed}${nodes}${ops}${scenario} --verbose`
}

/** Runs one simulation; throws SimulationFailure on the first broken invariant. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const world = new World(options)
  return world.run()
}

/** How often simulated nodes tick, in virtual time (the daemon ticks as often). */
const tickIntervalMs = 100

/** Quiet time after the workload before the cluster may count as settled: several
 * heartbeat intervals and hint delivery rounds, and longer than the suspicion timeout, so
 * every suspicion clears. */
const settleMsMin = 10_000

/** Longest settle period: by then anti-entropy must have made every replica's tree equal.
 * Anti-entropy compares one partition per exchange every 2 s ± 50 % per node (its default
 * settings), so a node primary for 10 of 16 partitions revisits each in about 20 s; a few
 * rounds of that leave room for exchanges lost to backoff and for keys repaired in stages. */
const settleMsMax = 120_000

/** Whether the settle period alone must make the replicas' trees equal (anti-entropy on
 * ticks); when false, trees are compared only after the repair pass. */
const antiEntropyConverges = true

/** Admin requests (membership changes) try this many times, this far apart, this long each. */
const adminAttemptsMax = 10
const adminRetryMs = 500
const adminTimeoutMs = 5_000

/** concurrent-claimants: how long the partition lasts after both commits (each side spreads
 * its ring), and how long after the heal the views may take to agree before the losing
 * change is committed again. */
const claimantsPartitionMs = 1_000
const viewsAgreeMsMax = 30_000

function addressOf(index: number): string {
  return `127.0.0.1:${7001 + index}`
}

class World {
  private readonly config: SimulationConfig
  private readonly scheduler = new Scheduler()
  private readonly trace: Trace
  private readonly operations = new AsyncLocalStorage<number>()
  private readonly ledger: DotLedger
  private readonly network: SimNetwork
  private readonly history: History
  /** Every node that ever ran: the configured ones and one that joined. */
  private readonly names: string[]
  /** Whether the run's membership change is done or was never due. */
  private membershipSettled = true
  /** Resolves when the run's membership change (or scenario) is done. */
  private scenarioDone: Promise<void> = Promise.resolve()
  private readonly stores = new Map<string, MemoryObjectStore>()
  private readonly metas = new Map<string, MemoryMetaStore>()
  /** The running incarnation of every node that is up (and started). */
  private readonly nodes = new Map<string, Node>()
  private readonly lastFlushMs = new Map<string, number>()
  private readonly crashes: Violation[] = []
  private readonly starting = new Set<string>()
  /** Nodes whose host is gone for good (force-remove): never restarted, their disks not read. */
  private readonly gone = new Set<string>()
  private readonly nemesis: Nemesis
  private acknowledgedLostInCrashes = 0
  private ticking = false
  /** When the faults ended, and when the cluster counted as settled after that. */
  private quiescedAtMs: number | undefined
  private settledAtMs: number | undefined
  private readonly streams: {network: Random; store: Random; clients: Random; nemesis: Random}

  constructor(private readonly options: SimulationOptions) {
    this.config = configure(options)
    // Independent streams, so a change in one part of the run does not reshuffle the others.
    const master = new SeededRandom(options.seed ^ 0x5eed5eed)
    this.streams = {
      network: new SeededRandom(master.nextUint32()),
      store: new SeededRandom(master.nextUint32()),
      nemesis: new SeededRandom(master.nextUint32() ^ 0x6e656d),
      clients: master,
    }
    this.trace = new Trace(this.scheduler, options.onTrace)
    this.ledger = new DotLedger(this.operations, this.trace)
    this.history = new History(this.scheduler, this.trace)
    this.network = new SimNetwork({
      scheduler: this.scheduler,
      random: this.streams.network,
      trace: this.trace,
      faults: this.config.faults,
      operations: this.operations,
      onHandle: (endpoint, operation, type, request) => this.ledger.handling(endpoint, operation, type, request),
      onCrash: (endpoint, error) => {
        this.crashes.push({invariant: 'nodes do not throw', detail: `${endpoint} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`})
      },
    })
    this.names = [...this.config.nodes]
    for (const name of this.config.nodes) this.addDisk(name)
    this.nemesis = new Nemesis({
      shape: this.config.nemesis,
      scheduler: this.scheduler,
      random: this.streams.nemesis,
      target: {
        nodes: this.config.nodes,
        clients: this.clientNames(),
        isUp: (node) => this.network.isUp(node),
        crash: (node) => this.crash(node),
        wipe: (node) => this.crash(node, {wipe: true}),
        restart: (node) => void this.startNode(node),
        partition: (side) => this.network.partition(side),
        healPartition: () => this.network.healPartition(),
        isPartitioned: () => this.network.partitioned,
      },
    })
  }

  async run(): Promise<SimulationResult> {
    const {config} = this
    this.trace.record(
      `seed ${config.seed}: nodes ${config.nodes.join(',')} n=${config.n} r=${config.r} w=${config.w} q=${config.partitionCount} keys ${config.keys.length} ` +
        `clients ${config.clients}x${config.operationsPerClient} faults ${JSON.stringify(config.faults)} storeLatencyMsMax ${config.storeLatencyMsMax} ` +
        `sync ${JSON.stringify(config.sync)} flush ${config.flushIntervalMs} ms nemesis ${JSON.stringify(config.nemesis)}`,
    )
    let workloadDone = false
    await Promise.all(config.nodes.map((name) => this.startNode(name)))
    this.ticking = true
    this.scheduleTicks()
    this.scheduleMembershipChange()
    const nemesis = this.nemesis.run()
    const clients = this.clientNames().map((name) => this.client(name))
    // A scenario makes its own faults: the faults end once both the workload and it are done.
    const workload = Promise.all(clients.map((client) => client.run()))
    void (this.options.scenario === undefined ? workload : Promise.all([workload, this.scenarioDone])).then(() => {
      workloadDone = true
      this.quiesce()
    }, (error: unknown) => this.crashes.push({invariant: 'clients do not throw', detail: String(error)}))
    await this.drain('the workload')
    await nemesis
    if (!workloadDone) this.fail({invariant: 'every operation ends', detail: 'the event queue ran dry while client operations were still waiting'})
    await this.idle()
    const views = this.checkViews()
    // Reported after the contract: when a bug breaks several invariants, that one is the one to read.
    const byAntiEntropy = antiEntropyConverges
      ? this.checkTrees().map((violation) => ({...violation, detail: `${violation.detail} (by anti-entropy alone, ${settleMsMax} ms after the faults ended)`}))
      : []
    await this.repairPass()
    this.fail(...this.check(), ...views, ...byAntiEntropy, ...this.checkTrees(), ...this.checkScenario())
    return {config, stats: this.stats(), traceHash: this.trace.digest()}
  }

  /** The end of the faults: no more nemesis, the network heals, every node that is down
   * restarts, then a quiet spell with ticks lets heartbeats clear suspicions and hints drain. */
  private quiesce(): void {
    this.nemesis.stop()
    this.network.heal()
    for (const name of this.names) if (!this.network.isUp(name) && !this.gone.has(name)) void this.startNode(name)
    this.quiescedAtMs = this.scheduler.nowMs()
  }

  /** Settled: past settleMsMin since the faults ended, no hint left to deliver and (when
   * anti-entropy is expected to converge) every replica's tree equal; or settleMsMax passed. */
  private settled(): boolean {
    if (this.quiescedAtMs === undefined) return false
    const sinceMs = this.scheduler.nowMs() - this.quiescedAtMs
    if (sinceMs < settleMsMin) return false
    if (sinceMs >= settleMsMax) return true
    const nodes = [...this.nodes.values()]
    if (nodes.length < this.names.length - this.gone.size || nodes.some((node) => node.hints.pending > 0 || node.handoff.status().length > 0)) return false
    if (!this.membershipSettled || this.checkViews().length > 0) return false
    return !antiEntropyConverges || this.checkTrees().length === 0
  }

  /** The disk of a node: it outlives the node's crashes. */
  private addDisk(name: string): void {
    const store = new MemoryObjectStore({
      scheduler: this.scheduler,
      random: this.streams.store,
      latencyMsMax: this.config.storeLatencyMsMax,
      sync: this.config.sync,
      onPut: (partition, key, value) => {
        if (partition !== hintsPartition) this.ledger.observe(name, key, value)
      },
      onDelete: (partition, key) => {
        if (partition !== hintsPartition) this.ledger.observeDelete(name, key)
      },
    })
    this.stores.set(name, store)
    this.metas.set(name, new MemoryMetaStore())
  }

  /** Starts a node (again) on its disk: it loads what survived, then serves. */
  private async startNode(name: string): Promise<void> {
    // A start still loading (a nemesis restart, a join) when the faults end is not repeated.
    if (this.starting.has(name)) return
    this.starting.add(name)
    try {
      await this.startNodeOnce(name)
    } finally {
      this.starting.delete(name)
    }
  }

  private async startNodeOnce(name: string): Promise<void> {
    const store = this.stores.get(name)!
    // A node that joined was started with the configured nodes as seeds, outside the
    // member list; after a crash it starts the same way and reloads its persisted view.
    const joiner = !this.config.nodes.includes(name)
    const node = new Node({
      ...(joiner ? {seeds: this.config.nodes, self: {address: addressOf(this.names.indexOf(name))}} : {}),
      config: {name, cluster: clusterName, n: this.config.n, r: this.config.r, w: this.config.w, requestTimeoutMs, valueBytesMax: 1024, durableWrites: this.config.sync.kind === 'always'},
      members: this.config.nodes.map((member, index) => ({name: member, address: addressOf(index)})),
      partitionCount: this.config.partitionCount,
      ports: {
        transport: this.network.transport(name),
        store: this.options.wrapStore?.(name, store) ?? store,
        meta: this.metas.get(name)!,
        clock: this.scheduler,
        random: new SeededRandom(this.streams.store.nextUint32()),
      },
      onError: (error) => this.crashes.push({invariant: 'nodes do not throw', detail: `${name} background work threw: ${String(error)}`}),
    })
    await node.start()
    this.nodes.set(name, node)
    const handler: RequestHandler = (type, request) => node.handle(type, request)
    this.network.register(name, this.options.wrapHandler?.(name, handler) ?? handler)
    this.trace.record(`${name} up`)
  }

  /** A power loss: the node and everything in flight to it are gone, and its store returns
   * to its last sync; with `wipe`, its disk is replaced by an empty one. */
  private crash(name: string, options: {wipe?: boolean} = {}): void {
    this.network.down(name)
    this.nodes.delete(name)
    const meta = this.metas.get(name)!
    const store = this.stores.get(name)!
    const unsynced = store.unsynced
    let loss: {before: readonly StoredEntry[]; after: readonly StoredEntry[]}
    if (options.wipe === true) {
      meta.wipe()
      loss = store.wipe()
      this.trace.record(`${name} crashed and lost its disk`)
    } else {
      meta.crash()
      loss = store.crash()
      this.trace.record(`${name} crashed, losing ${unsynced} unsynced changes`)
    }
    const objects = (entries: readonly StoredEntry[]) => entries.filter((entry) => entry.partition !== hintsPartition)
    this.ledger.observeCrash(name, objects(loss.before), objects(loss.after))
  }

  /** Every node ticks (heartbeats, hint delivery) every tickIntervalMs while `ticking`, and
   * stores that sync periodically become durable on their schedule. */
  private scheduleTicks(): void {
    this.scheduler.schedule(tickIntervalMs, () => {
      if (!this.ticking) return
      if (this.settled()) {
        this.ticking = false
        this.settledAtMs = this.scheduler.nowMs()
        this.trace.record(`settled after ${this.settledAtMs - this.quiescedAtMs!} ms`)
        return
      }
      for (const node of this.nodes.values()) node.tick()
      this.flushDue()
      this.scheduleTicks()
    })
  }

  private flushDue(): void {
    const nowMs = this.scheduler.nowMs()
    for (const [name, store] of this.stores) {
      if (nowMs - (this.lastFlushMs.get(name) ?? 0) < this.config.flushIntervalMs) continue
      this.lastFlushMs.set(name, nowMs)
      store.flush()
    }
  }

  private scheduleMembershipChange(): void {
    const change = this.config.membership
    if (change.kind === 'none') return
    this.membershipSettled = false
    let done = (): void => undefined
    this.scenarioDone = new Promise((resolve) => (done = resolve))
    this.scheduler.schedule(change.atMs, () => {
      void this.changeMembership(change).finally(() => {
        this.membershipSettled = true
        done()
      })
    })
  }

  /** Stages the run's join or leave on some node that is up, then commits it; or runs the
   * scenario. */
  private async changeMembership(change: Exclude<MembershipChange, {kind: 'none'}>): Promise<void> {
    if (change.kind === 'concurrent-claimants') return this.concurrentClaimants(change)
    if (change.kind === 'force-remove') return this.forceRemove(change)
    if (this.quiescedAtMs !== undefined) return this.trace.record(`membership: the workload ended before the ${change.kind} of ${change.node}`)
    if (change.kind === 'join') await this.startJoiner(change.node)
    const stage = change.kind === 'join' ? {action: 'join' as const, name: change.node, address: addressOf(this.names.indexOf(change.node))} : {action: 'leave' as const, name: change.node}
    if (await this.admin('admin.stage', stage)) await this.admin('admin.commit', {})
  }

  private async startJoiner(name: string): Promise<void> {
    this.names.push(name)
    this.addDisk(name)
    await this.startNode(name)
  }

  /** Two claimants at once: a partition puts n1 and the joining node on one side and the
   * others on the other; a join is committed on one side by n1 and a leave on the other by
   * n3, which acts as the claimant there (a commit flagged `forwarded` runs where it is
   * received, as on a node whose view names it the claimant). Both commit ring version 2.
   * After the heal, once the rings agree, the change whose ring lost is committed again. */
  private async concurrentClaimants(change: {join: string; leave: string}): Promise<void> {
    const [first, second, third] = this.config.nodes
    this.network.partition([first!, second!, change.join, 'admin-a'])
    await this.startJoiner(change.join)
    const address = addressOf(this.names.indexOf(change.join))
    await Promise.all([
      this.stageAndCommit({endpoint: 'admin-a', node: first!, stage: {action: 'join', name: change.join, address}}),
      this.stageAndCommit({endpoint: 'admin-b', node: third!, stage: {action: 'leave', name: change.leave}}),
    ])
    await this.scheduler.sleep(claimantsPartitionMs)
    this.network.healPartition()
    for (let waitedMs = 0; waitedMs < viewsAgreeMsMax && this.checkViews().length > 0; waitedMs += adminRetryMs) await this.scheduler.sleep(adminRetryMs)
    await this.commitUntil(() => this.someViewHas(change.join, 'valid') && !this.someViewHas(change.leave, 'valid'))
  }

  private async stageAndCommit(options: {endpoint: string; node: string; stage: RequestOf<'admin.stage'>}): Promise<void> {
    const {endpoint, node, stage} = options
    if (await this.admin('admin.stage', stage, {endpoint, node})) await this.admin('admin.commit', {forwarded: true}, {endpoint, node})
  }

  /** A host gone for good: its node is killed, never restarted, and removed by force. */
  private async forceRemove(change: {node: string}): Promise<void> {
    this.gone.add(change.node)
    if (this.network.isUp(change.node)) this.crash(change.node)
    this.trace.record(`${change.node} is gone for good`)
    if (await this.admin('admin.stage', {action: 'remove', name: change.node})) await this.commitUntil(() => this.someViewHas(change.node, 'left'))
  }

  /** Commits until `done` holds: a commit sent to a node that has not heard of the staged
   * change yet (gossip lost it) finds nothing staged, and is sent again a little later. */
  private async commitUntil(done: () => boolean): Promise<void> {
    for (let attempt = 0; attempt < adminAttemptsMax && !done(); attempt++) {
      await this.admin('admin.commit', {})
      if (!done()) await this.scheduler.sleep(adminRetryMs)
    }
  }

  /** Whether some running node's view has `member` in `status`: the commit happened. */
  private someViewHas(member: string, status: MemberStatus): boolean {
    return [...this.nodes.values()].some((node) => node.view.member(member)?.status === status)
  }

  /** Sends an admin request to a random configured node that is up (or to `node`),
   * retrying a few times (a node may be down or on the other side of a partition); true
   * once one succeeded. */
  private async admin<T extends 'admin.stage' | 'admin.commit'>(type: T, payload: RequestOf<T>, options: {endpoint?: string; node?: string} = {}): Promise<boolean> {
    const transport = this.network.transport(options.endpoint ?? 'admin')
    for (let attempt = 0; attempt < adminAttemptsMax; attempt++) {
      const up = this.config.nodes.filter((name) => this.network.isUp(name))
      if (up.length > 0) {
        const node = options.node ?? randomPick(this.streams.nemesis, up)
        try {
          const response = await transport.request(node, type, payload, {timeoutMs: adminTimeoutMs})
          this.trace.record(`membership: ${type} ${JSON.stringify(payload)} via ${node}: ${response.ok ? 'ok' : `${response.error.code} ${response.error.message}`}`)
          // A commit that timed out may have been applied: then nothing is left staged.
          if (response.ok || (type === 'admin.commit' && response.error.code === 'NOTHING_STAGED')) return true
        } catch (error) {
          this.trace.record(`membership: ${type} via ${node}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
      await this.scheduler.sleep(adminRetryMs)
    }
    return false
  }

  /** What the scenario must have achieved, on every node's view at the end. */
  private checkScenario(): Violation[] {
    const change = this.config.membership
    const expected: [string, string][] =
      change.kind === 'concurrent-claimants' ? [[change.join, 'valid'], [change.leave, 'left']] : change.kind === 'force-remove' ? [[change.node, 'left']] : []
    const violations: Violation[] = []
    for (const [name, node] of this.nodes) {
      for (const [member, status] of expected) {
        const seen = node.view.member(member)?.status
        if (seen !== status) violations.push({invariant: 'every committed membership change takes effect', detail: `${name} sees ${member} ${seen ?? 'unknown'}, expected ${status}`})
      }
    }
    if (change.kind === 'force-remove') {
      // Hints held for the removed node go to the partitions' current primaries instead.
      for (const [name, node] of this.nodes) {
        if (node.hints.pending > 0) violations.push({invariant: 'hints for a removed node are delivered elsewhere', detail: `${name} still holds ${node.hints.pending} hints`})
      }
      for (const operation of this.history.operations) {
        if (operation.client === 'checker' && operation.outcome !== 'ok') {
          violations.push({invariant: 'every key is readable at R = N after a forced removal', key: operation.key, detail: `the read of ${operation.key} at R = ${this.config.n} ended ${operation.outcome ?? 'never'} ${operation.errorCode ?? ''}`})
        }
      }
    }
    return violations
  }

  /** Every node ends with the same ring (gossip converged), and in every node's view the
   * valid members are exactly the ring's nodes (no status without its ring). Views derive
   * statuses from the ring (core/membership.ts buildView), so the second part guards that
   * design: it is what stored statuses broke under concurrent claimants. */
  private checkViews(): Violation[] {
    const violations: Violation[] = []
    for (const [name, node] of this.nodes) {
      const view = node.view.view
      if (view.ring.version === 0) continue
      const inRing = new Set(view.ring.nodes.map((each) => each.name))
      const wrong = view.members.filter((member) => (member.status === 'valid') !== inRing.has(member.name))
      if (wrong.length > 0) {
        violations.push({
          invariant: 'member statuses follow the ring',
          detail: `${name} sees ${wrong.map((member) => `${member.name} ${member.status}`).join(', ')} with ring version ${view.ring.version} of ${[...inRing].join(',')}`,
        })
      }
    }
    const rings = [...this.nodes].map(([name, node]) => ({name, ring: ringToJson(node.view.ring)}))
    const first = rings[0]
    const differing = rings.filter((entry) => entry.ring !== first?.ring)
    if (first === undefined || differing.length === 0) return violations
    return [{invariant: 'membership views converge', detail: `${first.name} has ring ${first.ring}; ${differing.map((entry) => `${entry.name} has ${entry.ring}`).join('; ')}`}, ...violations]
  }

  /** The ring every node agrees on at the end (checked by checkViews). */
  private ring(): Ring {
    return [...this.nodes.values()][0]!.view.ring
  }

  private clientNames(): string[] {
    return Array.from({length: this.config.clients}, (_, index) => `c${index + 1}`)
  }

  private client(name: string): SimClient {
    const {config} = this
    const shape: WorkloadShape = {
      keys: config.keys,
      nodes: config.nodes,
      n: config.n,
      cluster: clusterName,
      operationsPerClient: config.operationsPerClient,
      quorumMin: config.quorumMin,
      thinkMsMax: 20,
      // A forwarded request may try every replica in turn, each waiting for its replicas.
      clientTimeoutMs: (config.n + 2) * requestTimeoutMs * 2,
    }
    return new SimClient({name, random: new SeededRandom(this.streams.clients.nextUint32()), transport: this.network.transport(name), scheduler: this.scheduler, history: this.history, operations: this.operations, shape})
  }

  private async drain(phase: string): Promise<void> {
    const finished = await this.scheduler.runUntilIdle({eventsMax: simulationEventsMax})
    if (!finished) this.fail({invariant: 'the run ends', detail: `${phase} ran more than ${simulationEventsMax} events (a livelock?)`})
    this.fail(...this.crashes)
  }

  /** Background work (stragglers, read repair) must be done once no event is left. */
  private async idle(): Promise<void> {
    let idle = false
    void Promise.all([...this.nodes.values()].map((node) => node.idle())).then(() => {
      idle = true
    })
    await this.drain('waiting for idle nodes')
    if (!idle) this.fail({invariant: 'every operation ends', detail: 'a node still has background work with no event left to finish it'})
  }

  /** Reads every key at R=N through its first replica: read repair brings every replica up to date. */
  private async repairPass(): Promise<void> {
    this.trace.record('repair pass: a read at R=N of every key')
    const checker = new SimClient({
      name: 'checker',
      random: new SeededRandom(0),
      transport: this.network.transport('checker'),
      scheduler: this.scheduler,
      history: this.history,
      operations: this.operations,
      shape: {keys: this.config.keys, nodes: this.config.nodes, n: this.config.n, cluster: clusterName, operationsPerClient: 0, thinkMsMax: 0, clientTimeoutMs: 10 * requestTimeoutMs},
    })
    let done = false
    void (async () => {
      for (const key of this.config.keys) {
        const coordinator = preferenceList(this.ring(), {key}, {n: this.config.n}).primaries[0]!
        await checker.get({key, node: coordinator, quorum: this.config.n})
      }
      done = true
    })()
    await this.drain('the repair pass')
    await this.idle()
    if (!done) this.fail({invariant: 'every operation ends', detail: 'the repair pass did not finish'})
  }

  /** DESIGN §3's contract on the end state (checker.ts). */
  private check(): Violation[] {
    return checkRun({
      ring: this.ring(),
      n: this.config.n,
      operations: this.history.operations,
      ledger: this.ledger,
      stores: this.storedEntries(),
      hinted: this.hintedKeys(),
      onLostInCrash: () => this.acknowledgedLostInCrashes++,
    })
  }

  /** Every replica's tree of each partition is equal, and each node's tree is the one its
   * store's contents give. */
  private checkTrees(): Violation[] {
    const missing = this.ring().nodes.filter((node) => !this.nodes.has(node.name))
    if (missing.length > 0) return [{invariant: 'every primary is running', detail: `the ring still has ${missing.map((node) => node.name).join(', ')}, which is gone`}]
    const roots: TreeRoots = (node, partition) => this.nodes.get(node)!.objects.tree(partition).root()
    return checkTrees({ring: this.ring(), n: this.config.n, roots, stores: this.storedEntries()})
  }

  /** The keys each node holds hints for. */
  private hintedKeys(): Map<string, Set<string>> {
    return new Map(
      this.liveStores().map(([name, store]) => [
        name,
        new Set(store.list().filter((entry) => entry.partition === hintsPartition).flatMap((entry) => {
          const hint = decodeHintKey(entry.key)
          return hint === undefined ? [] : [keyText(hint.key)]
        })),
      ]),
    )
  }

  /** What each node stores of the ring's partitions (hint records are not objects). */
  private storedEntries(): Map<string, StoredEntry[]> {
    return new Map(this.liveStores().map(([name, store]) => [name, store.list().filter((entry) => entry.partition !== hintsPartition)]))
  }

  /** The stores of every host that still exists (a gone host's disk is gone with it). */
  private liveStores(): [string, MemoryObjectStore][] {
    return [...this.stores].filter(([name]) => !this.gone.has(name))
  }

  private fail(...violations: Violation[]): void {
    const violation = violations[0]
    if (violation === undefined) return
    const needles = violation.key === undefined ? [] : [`key=${violation.key}`]
    const excerpt = this.trace.excerpt(needles, 16)
    throw new SimulationFailure(this.options.seed, violation, replayCommand(this.options), excerpt)
  }

  private stats(): SimulationStats {
    const operations: readonly OperationRecord[] = this.history.operations.filter((operation) => operation.client !== 'checker')
    const reads = operations.filter((operation) => operation.kind === 'get' && operation.outcome === 'ok')
    return {
      operations: operations.length,
      acknowledged: operations.filter((operation) => operation.outcome === 'ok').length,
      failed: operations.filter((operation) => operation.outcome !== 'ok').length,
      siblingReads: reads.filter((operation) => (operation.siblings?.length ?? 0) > 1).length,
      siblingsMaxSeen: Math.max(0, ...reads.map((operation) => operation.siblings?.length ?? 0)),
      events: this.scheduler.executed,
      virtualMs: this.scheduler.nowMs(),
      network: {...this.network.stats},
      nemesis: {...this.nemesis.stats},
      dotsLostInCrashes: this.ledger.lostInCrashes(),
      acknowledgedLostInCrashes: this.acknowledgedLostInCrashes,
      settleMs: (this.settledAtMs ?? 0) - (this.quiescedAtMs ?? 0),
    }
  }
}

/** For --verbose and summaries. */
export function describeStats(stats: SimulationStats): string {
  const net = stats.network
  return (
    `ops ${stats.operations} acked ${stats.acknowledged} failed ${stats.failed} sibling-reads ${stats.siblingReads} (max ${stats.siblingsMaxSeen}) ` +
    `messages ${net.requests} dropped ${net.dropped} duplicated ${net.duplicated} long-delayed ${net.delayedLong} timeouts ${net.timeouts} ` +
    `partitions ${stats.nemesis.partitions} (legs cut ${net.partitioned}) crashes ${stats.nemesis.crashes} (disks lost ${stats.nemesis.wipes}, dots lost ${stats.dotsLostInCrashes}, acked ${stats.acknowledgedLostInCrashes}) ` +
    `settled in ${stats.settleMs} ms events ${stats.events} virtual ${stats.virtualMs} ms`
  )
}


