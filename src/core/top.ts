// What `dyn top` shows of each node, derived from what the node publishes: its /status
// document and its /metrics samples (docs/node.md). A poll reads both; a row compares a poll
// with the node's previous one, so that counters become rates over the time between them
// (rates.ts); a history keeps the last minute of rows for the charts. Pure: the shell polls,
// and passes times in.
import {sumOf, valueOf, type Sample} from './exposition.js'
import {counterIncrease, histogramIncrease, histogramOf, histogramQuantile, perSecond, type CumulativeHistogram} from './rates.js'

/** The charts cover this much time: the last minute. */
export const historyWindowMs = 60_000

/** Rows kept per node, whatever the interval: a minute at the shortest interval allowed. */
export const historyRowsMax = 600

/** The request types whose rates and latencies are shown: what clients ask (a request a node
 * forwards to another is counted by both). */
export type RequestKind = 'get' | 'put' | 'delete'
const requestTypes: Readonly<Record<RequestKind, string>> = {get: 'kv.get', put: 'kv.put', delete: 'kv.delete'}

/** One node's figures at one poll: totals since the node started, and gauges. */
export interface NodeFigures {
  readonly cluster: string | undefined
  readonly state: 'serving' | 'stopping'
  readonly uptimeMs: number | undefined
  readonly ringVersion: number | undefined
  readonly requests: Readonly<Record<RequestKind, number>>
  readonly latency: {readonly get: CumulativeHistogram | undefined; readonly put: CumulativeHistogram | undefined}
  readonly quorumFailures: number
  readonly hintsHeld: number | undefined
  readonly hintsDelivered: number | undefined
  readonly antiEntropy: {readonly exchanges: number; readonly keysRepaired: number; readonly failures: number} | undefined
  readonly handoffs: {readonly active: number; readonly keysSent: number} | undefined
  readonly suspects: readonly string[] | undefined
  readonly cut: readonly string[] | undefined
  readonly keys: number | undefined
  /** Bytes of the store's records, live and dead: what the node holds on disk. */
  readonly storeBytes: number | undefined
  readonly diskFreeBytes: number | undefined
  readonly memoryBytes: number | undefined
  readonly heapUsedBytes: number | undefined
}

/** One look at one node: its figures, or why there are none. `atMs` is the poller's clock. */
export type NodePoll =
  | {readonly kind: 'up'; readonly name: string; readonly httpAddress: string; readonly atMs: number; readonly figures: NodeFigures}
  /** A node of a local cluster that no process runs (cluster.json has no pid): not asked. */
  | {readonly kind: 'stopped'; readonly name: string; readonly httpAddress: string; readonly atMs: number}
  | {readonly kind: 'unreachable'; readonly name: string; readonly httpAddress: string; readonly atMs: number; readonly problem: string}

export type NodeState = 'serving' | 'stopping' | 'stopped' | 'unreachable'

export interface Quantiles {
  readonly p50: number
  readonly p99: number
}

/** What a screen line and a JSON entry show of one node. Rates are over the time since the
 * node's previous poll, undefined at the first one; totals are since the node started. */
export interface NodeRow {
  readonly name: string
  readonly httpAddress: string
  readonly state: NodeState
  readonly problem: string | undefined
  readonly uptimeMs: number | undefined
  readonly ringVersion: number | undefined
  /** The time the rates are over, ms. */
  readonly elapsedMs: number | undefined
  /** Whether the node started again since its previous poll (its counters were reset). */
  readonly restarted: boolean
  readonly perSecond: Readonly<Record<RequestKind, number | undefined>>
  /** Latency quantiles in ms of the requests between the two polls; undefined without any. */
  readonly latencyMs: {readonly get: Quantiles | undefined; readonly put: Quantiles | undefined}
  readonly quorumFailures: number | undefined
  readonly quorumFailuresPerSecond: number | undefined
  readonly hintsHeld: number | undefined
  readonly hintsDelivered: number | undefined
  readonly hintsDeliveredPerSecond: number | undefined
  readonly antiEntropy: NodeFigures['antiEntropy']
  readonly handoffs: NodeFigures['handoffs']
  readonly suspects: readonly string[] | undefined
  readonly cut: readonly string[] | undefined
  readonly keys: number | undefined
  readonly storeBytes: number | undefined
  readonly diskFreeBytes: number | undefined
  readonly memoryBytes: number | undefined
  readonly heapUsedBytes: number | undefined
}

/** The figures of a node from its /status document and /metrics samples. Tolerant: a field
 * an older node does not publish is undefined, never a guess. */
export function figuresOf(status: unknown, samples: readonly Sample[]): NodeFigures {
  const document = isRecord(status) ? status : {}
  const store = isRecord(document['store']) ? document['store'] : {}
  const uptimeSeconds = valueOf(samples, 'dyn_uptime_seconds')
  const exchanges = valueOf(samples, 'dyn_anti_entropy_exchanges_total')
  const handoffsActive = valueOf(samples, 'dyn_handoffs_active')
  const liveBytes = numberOr(store['liveBytes'], valueOf(samples, 'dyn_store_live_bytes'))
  const deadBytes = numberOr(store['deadBytes'], valueOf(samples, 'dyn_store_dead_bytes'))
  return {
    cluster: typeof document['cluster'] === 'string' ? document['cluster'] : undefined,
    state: document['state'] === 'stopping' ? 'stopping' : 'serving',
    uptimeMs: uptimeSeconds === undefined ? numberOr(document['uptimeMs'], undefined) : uptimeSeconds * 1000,
    ringVersion: numberOr(document['ringVersion'], undefined),
    requests: {
      get: sumOf(samples, 'dyn_requests_total', {type: requestTypes.get}),
      put: sumOf(samples, 'dyn_requests_total', {type: requestTypes.put}),
      delete: sumOf(samples, 'dyn_requests_total', {type: requestTypes.delete}),
    },
    latency: {
      get: histogramOf(samples, 'dyn_request_duration_seconds', {type: requestTypes.get}),
      put: histogramOf(samples, 'dyn_request_duration_seconds', {type: requestTypes.put}),
    },
    quorumFailures: sumOf(samples, 'dyn_quorum_failures_total'),
    hintsHeld: valueOf(samples, 'dyn_hints_pending'),
    hintsDelivered: valueOf(samples, 'dyn_hints_delivered_total'),
    antiEntropy: exchanges === undefined ? undefined : {
      exchanges,
      keysRepaired: valueOf(samples, 'dyn_anti_entropy_keys_repaired_total') ?? 0,
      failures: valueOf(samples, 'dyn_anti_entropy_failures_total') ?? 0,
    },
    handoffs: handoffsActive === undefined ? undefined : {active: handoffsActive, keysSent: valueOf(samples, 'dyn_handoff_keys_sent') ?? 0},
    suspects: namesAt(document, 'health', 'suspects'),
    cut: namesAt(document, 'faults', 'cut'),
    keys: numberOr(store['keys'], valueOf(samples, 'dyn_store_keys')),
    storeBytes: liveBytes === undefined || deadBytes === undefined ? undefined : liveBytes + deadBytes,
    diskFreeBytes: valueOf(samples, 'dyn_disk_free_bytes'),
    memoryBytes: valueOf(samples, 'dyn_process_resident_memory_bytes'),
    heapUsedBytes: valueOf(samples, 'dyn_process_heap_used_bytes'),
  }
}

/** The row of a node from its current poll and the one before (undefined at the first). */
export function nodeRow(previous: NodePoll | undefined, current: NodePoll): NodeRow {
  if (current.kind !== 'up') return emptyRow(current)
  const now = current.figures
  const before = previous?.kind === 'up' ? previous.figures : undefined
  const restarted = before !== undefined && now.uptimeMs !== undefined && before.uptimeMs !== undefined && now.uptimeMs < before.uptimeMs
  // The node's own uptime measures the time between the two readings best (no network in
  // it); the poller's clock when the node does not publish it or restarted.
  const elapsedMs = previous === undefined || before === undefined
    ? undefined
    : !restarted && now.uptimeMs !== undefined && before.uptimeMs !== undefined && now.uptimeMs > before.uptimeMs
      ? now.uptimeMs - before.uptimeMs
      : current.atMs - previous.atMs
  const rate = (from: number | undefined, to: number | undefined): number | undefined =>
    from === undefined || to === undefined || elapsedMs === undefined ? undefined : perSecond(counterIncrease(from, to, {restarted}), elapsedMs)
  const quantiles = (from: CumulativeHistogram | undefined, to: CumulativeHistogram | undefined): Quantiles | undefined => {
    if (before === undefined || to === undefined) return undefined
    const between = histogramIncrease(from, to, {restarted})
    const p50 = histogramQuantile(between, 0.5)
    const p99 = histogramQuantile(between, 0.99)
    return p50 === undefined || p99 === undefined ? undefined : {p50: p50 * 1000, p99: p99 * 1000}
  }
  return {
    name: current.name,
    httpAddress: current.httpAddress,
    state: now.state,
    problem: undefined,
    uptimeMs: now.uptimeMs,
    ringVersion: now.ringVersion,
    elapsedMs,
    restarted,
    perSecond: {
      get: rate(before?.requests.get, now.requests.get),
      put: rate(before?.requests.put, now.requests.put),
      delete: rate(before?.requests.delete, now.requests.delete),
    },
    latencyMs: {get: quantiles(before?.latency.get, now.latency.get), put: quantiles(before?.latency.put, now.latency.put)},
    quorumFailures: now.quorumFailures,
    quorumFailuresPerSecond: rate(before?.quorumFailures, now.quorumFailures),
    hintsHeld: now.hintsHeld,
    hintsDelivered: now.hintsDelivered,
    hintsDeliveredPerSecond: rate(before?.hintsDelivered, now.hintsDelivered),
    antiEntropy: now.antiEntropy,
    handoffs: now.handoffs,
    suspects: now.suspects,
    cut: now.cut,
    keys: now.keys,
    storeBytes: now.storeBytes,
    diskFreeBytes: now.diskFreeBytes,
    memoryBytes: now.memoryBytes,
    heapUsedBytes: now.heapUsedBytes,
  }
}

function emptyRow(poll: Exclude<NodePoll, {kind: 'up'}>): NodeRow {
  return {
    name: poll.name,
    httpAddress: poll.httpAddress,
    state: poll.kind,
    problem: poll.kind === 'unreachable' ? poll.problem : undefined,
    uptimeMs: undefined,
    ringVersion: undefined,
    elapsedMs: undefined,
    restarted: false,
    perSecond: {get: undefined, put: undefined, delete: undefined},
    latencyMs: {get: undefined, put: undefined},
    quorumFailures: undefined,
    quorumFailuresPerSecond: undefined,
    hintsHeld: undefined,
    hintsDelivered: undefined,
    hintsDeliveredPerSecond: undefined,
    antiEntropy: undefined,
    handoffs: undefined,
    suspects: undefined,
    cut: undefined,
    keys: undefined,
    storeBytes: undefined,
    diskFreeBytes: undefined,
    memoryBytes: undefined,
    heapUsedBytes: undefined,
  }
}

/** One point of a node's charts. */
export interface HistoryPoint {
  readonly atMs: number
  /** Client requests per second (gets, puts and deletes); undefined without a rate. */
  readonly opsPerSecond: number | undefined
  /** The slowest p99 of gets and puts, ms; undefined without requests. */
  readonly p99Ms: number | undefined
}

/** The point a row adds to its node's charts. */
export function historyPoint(row: NodeRow, atMs: number): HistoryPoint {
  const rates = [row.perSecond.get, row.perSecond.put, row.perSecond.delete]
  const opsPerSecond = rates.every((rate) => rate === undefined) ? undefined : rates.reduce<number>((sum, rate) => sum + (rate ?? 0), 0)
  const p99s = [row.latencyMs.get?.p99, row.latencyMs.put?.p99].filter((value): value is number => value !== undefined)
  return {atMs, opsPerSecond, p99Ms: p99s.length === 0 ? undefined : Math.max(...p99s)}
}

/** The last minute of points per node, oldest first. Invariant: every point kept is at most
 * historyWindowMs older than the newest one added, and at most historyRowsMax per node. */
export class TopHistory {
  private readonly points = new Map<string, HistoryPoint[]>()

  add(name: string, point: HistoryPoint): void {
    const points = this.points.get(name) ?? []
    points.push(point)
    while (points.length > historyRowsMax || (points[0] !== undefined && point.atMs - points[0].atMs > historyWindowMs)) points.shift()
    this.points.set(name, points)
  }

  of(name: string): readonly HistoryPoint[] {
    return this.points.get(name) ?? []
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function numberOr(value: unknown, fallback: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}

function namesAt(document: Record<string, unknown>, section: string, field: string): readonly string[] | undefined {
  const part = document[section]
  if (!isRecord(part) || !Array.isArray(part[field])) return undefined
  return (part[field] as unknown[]).filter((name): name is string => typeof name === 'string')
}
