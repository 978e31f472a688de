// One seeded simulation of a dyn cluster (DESIGN §10.3), after TigerBeetle's VOPR: K real
// Nodes (src/node) in one process, on a simulated network, clock and disk, driven by
// clients doing gets, puts and deletes with contexts; then the network heals, every event
// drains, a read of every key at R=N repairs the replicas, and the checker (checker.ts)
// verifies DESIGN §3's contract on what the replicas hold. The run is a function of the
// seed alone: the seed picks the cluster shape and the fault rates (swarm testing, Groce et
// al. 2012) and drives every random choice, so `npm run sim -- --seed S` replays a failure
// event for event.
import {AsyncLocalStorage} from 'node:async_hooks'
import {randomFloat, randomInt, SeededRandom, type Random} from '../core/random.js'
import {createRing, preferenceList, type Ring} from '../core/ring.js'
import {decodeHintKey, hintsPartition} from '../node/hints.js'
import {Node} from '../node/node.js'
import type {ObjectStore} from '../node/ports.js'
import {checkRun, type Violation} from './checker.js'
import {DotLedger, keyText, type OperationRecord} from './ledger.js'
import {MemoryMetaStore, MemoryObjectStore, type StoredEntry} from './memory-store.js'
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

export interface SimulationOptions {
  readonly seed: number
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
}

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
  const nodeCount = options.nodes ?? 3 + randomInt(random, 3)
  const calm = randomInt(random, 8) === 0
  const delayMsMax = 1 + randomInt(random, 30)
  const faults: NetworkFaults = {
    dropProbability: calm ? 0 : randomFloat(random) * 0.1,
    duplicateProbability: calm ? 0 : randomFloat(random) * 0.05,
    longDelayProbability: calm ? 0 : randomFloat(random) * 0.03,
    delayMsMin: 1,
    delayMsMax,
  }
  return {
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
  }
}

/** The command that replays a run. */
export function replayCommand(options: SimulationOptions): string {
  const nodes = options.nodes === undefined ? '' : ` --nodes ${options.nodes}`
  const ops = options.operationsPerClient === undefined ? '' : ` --ops ${options.operationsPerClient}`
  return `npm run sim -- --seed ${options.seed}${nodes}${ops} --verbose`
}

/** Runs one simulation; throws SimulationFailure on the first broken invariant. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const world = new World(options)
  return world.run()
}

/** How often simulated nodes tick, in virtual time (the daemon ticks as often). */
const tickIntervalMs = 100

/** Quiet time after the workload before the checks: several heartbeat intervals and hint
 * delivery rounds, and longer than the suspicion timeout, so every suspicion clears. */
const settleMs = 10_000

class World {
  private readonly config: SimulationConfig
  private readonly scheduler = new Scheduler()
  private readonly trace: Trace
  private readonly operations = new AsyncLocalStorage<number>()
  private readonly ledger: DotLedger
  private readonly network: SimNetwork
  private readonly history: History
  private readonly ring: Ring
  private readonly stores = new Map<string, MemoryObjectStore>()
  private readonly nodes: Node[] = []
  private readonly crashes: Violation[] = []
  private ticking = false
  private readonly streams: {network: Random; store: Random; clients: Random}

  constructor(private readonly options: SimulationOptions) {
    this.config = configure(options)
    // Independent streams, so a change in one part of the run does not reshuffle the others.
    const master = new SeededRandom(options.seed ^ 0x5eed5eed)
    this.streams = {network: new SeededRandom(master.nextUint32()), store: new SeededRandom(master.nextUint32()), clients: master}
    this.trace = new Trace(this.scheduler, options.onTrace)
    this.ledger = new DotLedger(this.operations, this.trace)
    this.history = new History(this.scheduler, this.trace)
    this.network = new SimNetwork({
      scheduler: this.scheduler,
      random: this.streams.network,
      trace: this.trace,
      faults: this.config.faults,
      operations: this.operations,
      onCrash: (endpoint, error) => {
        this.crashes.push({invariant: 'nodes do not throw', detail: `${endpoint} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`})
      },
    })
    this.ring = createRing({partitionCount: this.config.partitionCount, replicas: this.config.n, nodes: this.config.nodes.map((name) => ({name}))})
    for (const name of this.config.nodes) this.addNode(name)
  }

  async run(): Promise<SimulationResult> {
    const {config} = this
    this.trace.record(`seed ${config.seed}: nodes ${config.nodes.join(',')} n=${config.n} r=${config.r} w=${config.w} q=${config.partitionCount} keys ${config.keys.length} clients ${config.clients}x${config.operationsPerClient} faults ${JSON.stringify(config.faults)} storeLatencyMsMax ${config.storeLatencyMsMax}`)
    let workloadDone = false
    await Promise.all(this.nodes.map((node) => node.start()))
    this.ticking = true
    this.scheduleTicks()
    const clients = Array.from({length: config.clients}, (_, index) => this.client(`c${index + 1}`))
    void Promise.all(clients.map((client) => client.run())).then(() => {
      workloadDone = true
      this.network.heal()
      // A quiet spell with the network healed: heartbeats clear suspicions, hints drain.
      this.scheduler.schedule(settleMs, () => {
        this.ticking = false
      })
    }, (error: unknown) => this.crashes.push({invariant: 'clients do not throw', detail: String(error)}))
    await this.drain('the workload')
    if (!workloadDone) this.fail({invariant: 'every operation ends', detail: 'the event queue ran dry while client operations were still waiting'})
    await this.idle()
    await this.repairPass()
    this.fail(...checkRun({ring: this.ring, n: config.n, operations: this.history.operations, ledger: this.ledger, stores: this.storedEntries(), hinted: this.hintedKeys()}))
    return {config, stats: this.stats(), traceHash: this.trace.digest()}
  }

  private addNode(name: string): void {
    const store = new MemoryObjectStore({
      scheduler: this.scheduler,
      random: this.streams.store,
      latencyMsMax: this.config.storeLatencyMsMax,
      onPut: (partition, key, value) => {
        if (partition !== hintsPartition) this.ledger.observe(name, key, value)
      },
    })
    this.stores.set(name, store)
    const node = new Node({
      config: {name, cluster: clusterName, n: this.config.n, r: this.config.r, w: this.config.w, requestTimeoutMs, valueBytesMax: 1024},
      members: this.config.nodes.map((member, index) => ({name: member, address: `127.0.0.1:${7001 + index}`})),
      partitionCount: this.config.partitionCount,
      ports: {
        transport: this.network.transport(name),
        store: this.options.wrapStore?.(name, store) ?? store,
        meta: new MemoryMetaStore(),
        clock: this.scheduler,
        random: new SeededRandom(this.streams.store.nextUint32()),
      },
      onError: (error) => this.crashes.push({invariant: 'nodes do not throw', detail: `${name} background work threw: ${String(error)}`}),
    })
    this.nodes.push(node)
    const handler: RequestHandler = (type, request) => node.handle(type, request)
    this.network.register(name, this.options.wrapHandler?.(name, handler) ?? handler)
  }

  /** Every node ticks (heartbeats, hint delivery) every tickIntervalMs while `ticking`. */
  private scheduleTicks(): void {
    this.scheduler.schedule(tickIntervalMs, () => {
      if (!this.ticking) return
      for (const node of this.nodes) node.tick()
      this.scheduleTicks()
    })
  }

  private client(name: string): SimClient {
    const {config} = this
    const shape: WorkloadShape = {
      keys: config.keys,
      nodes: config.nodes,
      n: config.n,
      cluster: clusterName,
      operationsPerClient: config.operationsPerClient,
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
    void Promise.all(this.nodes.map((node) => node.idle())).then(() => {
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
        const coordinator = preferenceList(this.ring, {key}, {n: this.config.n}).primaries[0]!
        await checker.get({key, node: coordinator, quorum: this.config.n})
      }
      done = true
    })()
    await this.drain('the repair pass')
    await this.idle()
    if (!done) this.fail({invariant: 'every operation ends', detail: 'the repair pass did not finish'})
  }

  /** The keys each node holds hints for. */
  private hintedKeys(): Map<string, Set<string>> {
    return new Map(
      [...this.stores].map(([name, store]) => [
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
    return new Map([...this.stores].map(([name, store]) => [name, store.list().filter((entry) => entry.partition !== hintsPartition)]))
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
    }
  }
}

/** For --verbose and summaries. */
export function describeStats(stats: SimulationStats): string {
  const net = stats.network
  return (
    `ops ${stats.operations} acked ${stats.acknowledged} failed ${stats.failed} sibling-reads ${stats.siblingReads} (max ${stats.siblingsMaxSeen}) ` +
    `messages ${net.requests} dropped ${net.dropped} duplicated ${net.duplicated} long-delayed ${net.delayedLong} timeouts ${net.timeouts} ` +
    `events ${stats.events} virtual ${stats.virtualMs} ms`
  )
}


