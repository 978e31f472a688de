// What `dyn bench` prints: the run's settings, throughput, and latency percentiles per
// operation kind from the run's histograms (core/histogram.ts), as text tables or as the
// JSON shape of docs/cli.md. Histograms hold microseconds; everything shown is milliseconds.
import {assert} from '../core/errors.js'
import type {Histogram} from '../core/histogram.js'
import {operationKinds, workloads, type Distribution, type OperationKind, type WorkloadName} from '../core/workload.js'
import {jsonShapeVersion} from './json.js'
import {roundMs} from './shapes.js'
import {newTable} from './table.js'
import type {RenderOptions} from './tables.js'

export interface BenchOperationInput {
  readonly count: number
  readonly errors: number
  readonly notFound: number
  readonly errorCodes: ReadonlyMap<string, number>
  /** Microseconds; from the scheduled start in an open loop, from sending in a closed one. */
  readonly latency: Histogram
  /** Microseconds from sending; open loop only. */
  readonly serviceTime: Histogram | undefined
}

export interface BenchReportInput {
  readonly options: {
    readonly workload: WorkloadName
    readonly distribution: Distribution
    readonly keyCount: number
    readonly valueBytes: number
    readonly concurrency: number
    readonly stop: {readonly kind: 'duration'; readonly durationMs: number} | {readonly kind: 'operations'; readonly operations: number}
    readonly rateOpsPerS?: number
    readonly seed: number
  }
  readonly mode: 'closed' | 'open'
  readonly load: {readonly keys: number; readonly elapsedMs: number; readonly errors: number; readonly errorCodes: ReadonlyMap<string, number>} | undefined
  readonly elapsedMs: number
  readonly issued: number
  readonly unsent: number
  readonly stoppedBy: 'duration' | 'operations' | 'interrupted'
  readonly operations: Readonly<Record<OperationKind, BenchOperationInput>>
  /** The cluster's name and replication, with R and W as the run's requests asked. */
  readonly cluster: {readonly name: string; readonly n: number; readonly r: number; readonly w: number}
}

/** The percentiles every report shows, besides the max. */
export const benchPercentiles = [50, 90, 99, 99.9] as const

export interface LatencyJson {
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface BenchOperationJson {
  count: number
  errors: number
  notFound?: number
  opsPerSecond: number
  latencyMs: LatencyJson | null
  serviceMs?: LatencyJson | null
}

type RowName = OperationKind | 'all'

/** The kinds' figures and one row for all operations together. */
function rows(input: BenchReportInput): {name: RowName; operation: BenchOperationInput}[] {
  const kinds = operationKinds.map((kind) => ({name: kind as RowName, operation: input.operations[kind]}))
  return [...kinds, {name: 'all', operation: combined(kinds.map((row) => row.operation))}]
}

function combined(operations: readonly BenchOperationInput[]): BenchOperationInput {
  const [first, ...rest] = operations
  assert(first !== undefined, 'a benchmark report needs at least one operation kind')
  const latency = first.latency.clone()
  const serviceTime = first.serviceTime?.clone()
  const errorCodes = new Map(first.errorCodes)
  let {count, errors, notFound} = first
  for (const operation of rest) {
    latency.merge(operation.latency)
    if (serviceTime !== undefined && operation.serviceTime !== undefined) serviceTime.merge(operation.serviceTime)
    for (const [code, times] of operation.errorCodes) errorCodes.set(code, (errorCodes.get(code) ?? 0) + times)
    count += operation.count
    errors += operation.errors
    notFound += operation.notFound
  }
  return {count, errors, notFound, errorCodes, latency, serviceTime}
}

function usToMs(us: number): number {
  return roundMs(us / 1000)
}

export function latencyJson(histogram: Histogram): LatencyJson | null {
  if (histogram.count === 0) return null
  const [p50, p90, p99, p999] = benchPercentiles.map((percentile) => usToMs(histogram.valueAtPercentile(percentile)))
  return {min: usToMs(histogram.min), mean: usToMs(histogram.mean), p50: p50!, p90: p90!, p99: p99!, p999: p999!, max: usToMs(histogram.max)}
}

function opsPerSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((count * 1000 * 10) / elapsedMs) / 10 : 0
}

function codesJson(codes: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...codes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

export function benchJson(input: BenchReportInput) {
  const {options} = input
  const operations = Object.fromEntries(
    rows(input).map(({name, operation}) => {
      const shape: BenchOperationJson = {
        count: operation.count,
        errors: operation.errors,
        ...(name === 'read' ? {notFound: operation.notFound} : {}),
        opsPerSecond: opsPerSecond(operation.count, input.elapsedMs),
        latencyMs: latencyJson(operation.latency),
        ...(operation.serviceTime === undefined ? {} : {serviceMs: latencyJson(operation.serviceTime)}),
      }
      return [name, shape]
    }),
  ) as Record<RowName, BenchOperationJson>
  return {
    version: jsonShapeVersion,
    workload: options.workload,
    readProportion: workloads[options.workload].readProportion,
    distribution: options.distribution,
    keys: options.keyCount,
    valueBytes: options.valueBytes,
    concurrency: options.concurrency,
    mode: input.mode,
    rate: options.rateOpsPerS ?? null,
    durationMs: options.stop.kind === 'duration' ? options.stop.durationMs : null,
    operationsAsked: options.stop.kind === 'operations' ? options.stop.operations : null,
    seed: options.seed,
    cluster: {...input.cluster},
    load: input.load === undefined ? null : {keys: input.load.keys, ms: roundMs(input.load.elapsedMs), errors: codesJson(input.load.errorCodes)},
    stoppedBy: input.stoppedBy,
    elapsedMs: roundMs(input.elapsedMs),
    issued: input.issued,
    unsent: input.unsent,
    operations,
    errors: codesJson(combined(operationKinds.map((kind) => input.operations[kind])).errorCodes),
  }
}

export function benchText(input: BenchReportInput, options: RenderOptions): string {
  const all = rows(input)
  const total = all.at(-1)!.operation
  const lines = [...benchSettingsLines(input)]
  if (input.load !== undefined) {
    const failed = input.load.errors === 0 ? '' : `, ${grouped(input.load.errors)} failed (${codesText(input.load.errorCodes)})`
    lines.push(`load: ${grouped(input.load.keys)} keys written in ${seconds(input.load.elapsedMs)}${failed}`)
  }
  const stopped = input.stoppedBy === 'interrupted' ? ', interrupted' : ''
  lines.push(`run: ${grouped(total.count)} operations in ${seconds(input.elapsedMs)}, ${grouped(opsPerSecond(total.count, input.elapsedMs))} ops/s${stopped}`)
  if (input.mode === 'open') lines.push('latency from each operation\'s scheduled start (corrected for coordinated omission):')
  lines.push(latencyTable(all, {elapsedMs: input.elapsedMs, which: 'latency'}, options))
  if (input.mode === 'open') {
    lines.push('service time (from sending to answer; what a closed loop would report):')
    lines.push(latencyTable(all, {elapsedMs: input.elapsedMs, which: 'serviceTime'}, options))
  }
  if (total.errors > 0) lines.push(`errors: ${codesText(total.errorCodes)}`)
  if (input.unsent > 0) {
    lines.push(`warning: ${grouped(input.unsent)} operations were due but never sent: the cluster did not keep up with ${grouped(input.options.rateOpsPerS ?? 0)} ops/s at concurrency ${input.options.concurrency}`)
  }
  return lines.join('\n')
}

/** The run's settings in two lines: workload and keys; loop, stop, cluster and seed. */
export function benchSettingsLines(input: BenchReportInput): string[] {
  const {options, cluster} = input
  const mix = workloads[options.workload]
  const loop = input.mode === 'open' ? `open loop at ${grouped(options.rateOpsPerS ?? 0)} ops/s, at most ${options.concurrency} in flight` : `closed loop, concurrency ${options.concurrency}`
  const stop = options.stop.kind === 'duration' ? `for ${seconds(options.stop.durationMs)}` : `for ${grouped(options.stop.operations)} operations`
  return [
    `workload ${options.workload.toUpperCase()} (${mix.description}), ${options.distribution} keys over ${grouped(options.keyCount)}, ${grouped(options.valueBytes)}-byte values`,
    `${loop}, ${stop}; cluster ${cluster.name} N=${cluster.n} R=${cluster.r} W=${cluster.w}; seed ${options.seed}`,
  ]
}

function latencyTable(all: readonly {name: RowName; operation: BenchOperationInput}[], how: {elapsedMs: number; which: 'latency' | 'serviceTime'}, options: RenderOptions): string {
  const head = ['op', 'ok', 'errors', 'ops/s', ...benchPercentiles.map((percentile) => `p${percentile} ms`), 'max ms']
  const table = newTable({head, style: {head: options.color ? ['cyan'] : [], border: options.color ? ['grey'] : []}, colAligns: ['left', ...head.slice(1).map(() => 'right' as const)]})
  for (const {name, operation} of all) {
    const histogram = operation[how.which]
    const latencies = histogram === undefined || histogram.count === 0
      ? head.slice(4).map(() => '-')
      : [...benchPercentiles.map((percentile) => msText(histogram.valueAtPercentile(percentile))), msText(histogram.max)]
    table.push([name, grouped(operation.count), grouped(operation.errors), grouped(Math.round(opsPerSecond(operation.count, how.elapsedMs))), ...latencies])
  }
  return table.toString()
}

/** About three significant digits, as many as the histogram keeps. */
function msText(us: number): string {
  const ms = us / 1000
  return ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

function grouped(count: number): string {
  return count.toLocaleString('en-US')
}

function codesText(codes: ReadonlyMap<string, number>): string {
  return Object.entries(codesJson(codes))
    .map(([code, times]) => `${code} ${grouped(times)}`)
    .join(', ')
}
