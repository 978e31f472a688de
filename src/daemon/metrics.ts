// Request metrics of one node and their Prometheus text exposition (format 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/). Counters and histograms
// are kept here; gauges (store statistics, connections) are read at scrape time.
import type {MessageType} from '../core/protocol.js'

/** Upper bounds of the request latency histogram, in seconds. A loopback replica round
 * trip is ~0.1 ms and a group-commit fsync ~0.2-2 ms; a quorum that waits for a timed-out
 * replica takes requestTimeoutMs (2 s by default). The buckets span both ends. */
export const latencyBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const

/** Outcome label of a request: `ok`, or the code of its failure (QUORUM_NOT_MET,
 * BAD_REQUEST...). Codes are a fixed set in the source, so the label set stays bounded. */
export type Outcome = string

interface Histogram {
  /** counts[i] = observations <= latencyBucketsSeconds[i] (not yet cumulative). */
  counts: number[]
  /** Observations above the last bound. */
  over: number
  sumSeconds: number
  count: number
}

export interface Gauge {
  name: string
  help: string
  value: number
  /** A count that only grows (Prometheus type counter, name ending in _total). */
  counter?: boolean
}

export class Metrics {
  private readonly requests = new Map<string, number>()
  private readonly latency = new Map<MessageType, Histogram>()
  private readonly quorumFailures = new Map<MessageType, number>()
  private connectionProblems = 0

  /** Records one handled request. */
  record(type: MessageType, outcome: Outcome, seconds: number): void {
    const key = `${type}\u0000${outcome}`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    if (outcome === 'QUORUM_NOT_MET') this.quorumFailures.set(type, (this.quorumFailures.get(type) ?? 0) + 1)
    const histogram = this.histogramOf(type)
    const bucket = latencyBucketsSeconds.findIndex((bound) => seconds <= bound)
    if (bucket < 0) histogram.over++
    else histogram.counts[bucket] = (histogram.counts[bucket] ?? 0) + 1
    histogram.sumSeconds += seconds
    histogram.count++
  }

  /** Records a wire connection problem: a failed hello, a protocol error, a refusal. */
  recordConnectionProblem(): void {
    this.connectionProblems++
  }

  /** Requests of one type and outcome so far. */
  requestCount(type: MessageType, outcome: Outcome): number {
    return this.requests.get(`${type}\u0000${outcome}`) ?? 0
  }

  /** The Prometheus text exposition of everything, with the gauges given. */
  render(gauges: readonly Gauge[]): string {
    const lines: string[] = []
    lines.push('# HELP dyn_requests_total Requests handled, by message type and outcome (ok or the failure code).')
    lines.push('# TYPE dyn_requests_total counter')
    for (const [key, count] of [...this.requests].sort()) {
      const [type, outcome] = key.split('\u0000')
      lines.push(`dyn_requests_total{type="${escape(type ?? '')}",outcome="${escape(outcome ?? '')}"} ${count}`)
    }
    lines.push('# HELP dyn_request_duration_seconds Time from a request arriving to its response, by message type.')
    lines.push('# TYPE dyn_request_duration_seconds histogram')
    for (const [type, histogram] of [...this.latency].sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(...histogramLines(type, histogram))
    lines.push('# HELP dyn_quorum_failures_total Requests this node coordinated that failed with QUORUM_NOT_MET.')
    lines.push('# TYPE dyn_quorum_failures_total counter')
    for (const [type, count] of [...this.quorumFailures].sort()) lines.push(`dyn_quorum_failures_total{type="${escape(type)}"} ${count}`)
    lines.push('# HELP dyn_connection_problems_total Wire connection problems: failed hellos, protocol errors, refusals by peers.')
    lines.push('# TYPE dyn_connection_problems_total counter')
    lines.push(`dyn_connection_problems_total ${this.connectionProblems}`)
    for (const gauge of gauges) {
      lines.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} ${gauge.counter === true ? 'counter' : 'gauge'}`, `${gauge.name} ${formatNumber(gauge.value)}`)
    }
    return `${lines.join('\n')}\n`
  }

  private histogramOf(type: MessageType): Histogram {
    let histogram = this.latency.get(type)
    if (histogram === undefined) {
      histogram = {counts: latencyBucketsSeconds.map(() => 0), over: 0, sumSeconds: 0, count: 0}
      this.latency.set(type, histogram)
    }
    return histogram
  }
}

function histogramLines(type: MessageType, histogram: Histogram): string[] {
  const lines: string[] = []
  const label = `type="${escape(type)}"`
  let cumulative = 0
  latencyBucketsSeconds.forEach((bound, index) => {
    cumulative += histogram.counts[index] ?? 0
    lines.push(`dyn_request_duration_seconds_bucket{${label},le="${bound}"} ${cumulative}`)
  })
  lines.push(`dyn_request_duration_seconds_bucket{${label},le="+Inf"} ${histogram.count}`)
  lines.push(`dyn_request_duration_seconds_sum{${label}} ${formatNumber(histogram.sumSeconds)}`)
  lines.push(`dyn_request_duration_seconds_count{${label}} ${histogram.count}`)
  return lines
}

/** Label values escape backslash, double quote and newline (exposition format). */
function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}
