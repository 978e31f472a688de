import {randomInt} from 'node:crypto'
import {writeFile} from 'node:fs/promises'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {optionalRangeFlag, rangeFlag, targetFlags} from '../cli/flags.js'
import {DynClient} from '../client/index.js'
import {resolveTarget} from '../cluster/target.js'
import {DynError, exitCodes} from '../core/errors.js'
import {valueBytesMaxCeiling} from '../core/limits.js'
import {distributions, workloadNames, type Distribution, type WorkloadName} from '../core/workload.js'
import {
  benchConcurrencyDefault,
  benchDurationMsDefault,
  benchDurationMsMax,
  benchKeysDefault,
  benchKeysMax,
  benchOperationsMax,
  benchRateOpsPerSMax,
  benchValueBytesDefault,
  BenchRun,
  clientTarget,
  parseDurationMs,
  ProgressBar,
  progressRedrawMsMin,
  realClock,
  type BenchOptions,
  type BenchResult,
  type BenchTarget,
  type StopCondition,
} from '../load/index.js'
import {inFlightRequestsMax} from '../net/constants.js'
import {benchHtml, benchJson, benchText} from '../render/index.js'

/** Most replicas a per-request --r or --w may name; the cluster's N bounds it further. */
const quorumFlagMax = 32

/** A seed is one 32-bit word (core/random.ts seeds xoshiro128** from one). */
const seedMax = 2 ** 32 - 1

class BenchUsageError extends DynError {
  constructor(message: string, suggestion?: string) {
    super(message, {code: 'USAGE', exitCode: exitCodes.usage, ...(suggestion === undefined ? {} : {suggestion})})
  }
}

/** Parses one of `choices`, in any letter case. */
function parseChoice<T extends string>(choices: readonly T[]): (input: string) => Promise<T> {
  return async (input) => {
    const value = input.trim().toLowerCase()
    const choice = choices.find((candidate) => candidate === value)
    if (choice === undefined) throw new BenchUsageError(`${input} is not allowed: give one of ${choices.join(', ')}`)
    return choice
  }
}

export default class Bench extends BaseCommand {
  static override description =
    'Measure a cluster with YCSB-style load: throughput and latency percentiles (p50 to max, from an HDR histogram) for reads and updates'
  static override examples = [
    '<%= config.bin %> bench',
    '<%= config.bin %> bench --workload b --distribution uniform --duration 30s --concurrency 32',
    '<%= config.bin %> bench --workload c --ops 100000 --json',
    '<%= config.bin %> bench --rate 2000 --duration 1m',
    '<%= config.bin %> bench --duration 30s --html bench.html',
  ]
  static override flags = {
    workload: Flags.custom<WorkloadName>({
      default: 'a',
      description: 'a: 50% reads, 50% updates; b: 95% reads, 5% updates; c: reads only',
      parse: parseChoice(workloadNames),
    })(),
    distribution: Flags.custom<Distribution>({
      default: 'zipfian',
      description: 'how keys are chosen: zipfian (θ = 0.99, a few hot keys) or uniform',
      parse: parseChoice(distributions),
    })(),
    keys: rangeFlag({min: 1, max: benchKeysMax, default: benchKeysDefault, description: 'records: keys bench:0 .. bench:K-1'}),
    'value-size': rangeFlag({min: 0, max: valueBytesMaxCeiling, default: benchValueBytesDefault, description: 'bytes per value written'}),
    concurrency: rangeFlag({
      min: 1,
      max: inFlightRequestsMax,
      default: benchConcurrencyDefault,
      description: 'operations in flight: closed-loop workers, or the in-flight limit with --rate',
    }),
    duration: Flags.custom<number>({
      description: `how long to run: 500ms, 10s, 1m, 2h (default ${benchDurationMsDefault / 1000}s)`,
      exclusive: ['ops'],
      parse: async (input) => {
        const durationMs = parseDurationMs(input)
        if (durationMs <= 0 || durationMs > benchDurationMsMax) throw new BenchUsageError(`--duration ${input} is not allowed: give a duration above 0 and at most 24h`)
        return durationMs
      },
    })(),
    ops: optionalRangeFlag({min: 1, max: benchOperationsMax, description: 'stop after this many operations instead of after a duration'}),
    rate: Flags.custom<number>({
      description: `open loop: start operations at this fixed rate per second and measure latency from each one's scheduled start (above 0, at most ${benchRateOpsPerSMax})`,
      parse: async (input) => {
        const rate = Number(input)
        if (!/^\d+(\.\d+)?$/.test(input.trim()) || !(rate > 0) || rate > benchRateOpsPerSMax) {
          throw new BenchUsageError(`--rate ${input} is not allowed: give operations per second above 0 and at most ${benchRateOpsPerSMax}`)
        }
        return rate
      },
    })(),
    r: optionalRangeFlag({min: 1, max: quorumFlagMax, description: 'replicas that must answer each read, at most N; default: the cluster R'}),
    w: optionalRangeFlag({min: 1, max: quorumFlagMax, description: 'replicas that must acknowledge each update, at most N; default: the cluster W'}),
    seed: optionalRangeFlag({min: 0, max: seedMax, description: 'seed of the operation and key choices (default: random, printed)'}),
    'no-load': Flags.boolean({description: 'skip the load phase that first writes every key once'}),
    html: Flags.string({description: 'also write the report with the latency histogram and the throughput over time as one self-contained HTML page (inline SVG, loads nothing)'}),
    ...targetFlags('send to'),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Bench)
    const stop: StopCondition = flags.ops === undefined ? {kind: 'duration', durationMs: flags.duration ?? benchDurationMsDefault} : {kind: 'operations', operations: flags.ops}
    const options: BenchOptions = {
      workload: flags.workload,
      distribution: flags.distribution,
      keyCount: flags.keys,
      valueBytes: flags['value-size'],
      concurrency: flags.concurrency,
      stop,
      ...(flags.rate === undefined ? {} : {rateOpsPerS: flags.rate}),
      seed: flags.seed ?? randomInt(0, seedMax),
      load: !flags['no-load'],
    }
    const target = await resolveTarget(flags)
    const client = new DynClient({...target, name: `dyn-bench-${process.pid}`})
    try {
      // The ring answer says the cluster is reachable before any load is sent, and gives N,
      // R and W for the report.
      const ring = await client.ring()
      checkQuorum('r', flags.r, ring.n)
      checkQuorum('w', flags.w, ring.n)
      const cluster = {name: target.cluster, n: ring.n, r: flags.r ?? ring.r, w: flags.w ?? ring.w}
      const result = await this.measure(options, clientTarget(client, {r: flags.r, w: flags.w}))
      const report = {...result, cluster}
      const shape = benchJson(report)
      if (shape.operations.all.count === 0 && shape.operations.all.errors > 0) {
        process.exitCode = exitCodes.error
        process.stderr.write('Error: no operation succeeded; the errors are listed in the report\n')
      }
      if (flags.html !== undefined) {
        await writeFile(flags.html, benchHtml(report))
        if (!this.jsonEnabled()) process.stderr.write(`wrote ${flags.html}\n`)
      }
      if (!this.jsonEnabled()) this.log(benchText(report, {color: process.stdout.isTTY === true}))
      return shape
    } finally {
      await client.close()
    }
  }

  /** Runs the benchmark with a progress bar on a terminal; Ctrl-C ends the run early and
   * still reports it (a second Ctrl-C exits at once). */
  private async measure(options: BenchOptions, target: BenchTarget): Promise<BenchResult> {
    const interrupt = new AbortController()
    const onSigint = (): void => interrupt.abort()
    process.once('SIGINT', onSigint)
    const run = new BenchRun(options, {target, clock: realClock, signal: interrupt.signal})
    const bar = process.stderr.isTTY === true && !this.jsonEnabled() ? new ProgressBar(process.stderr, () => performance.now()) : undefined
    const timer = bar === undefined ? undefined : setInterval(() => bar.update(run.progress()), progressRedrawMsMin)
    try {
      return await run.run()
    } finally {
      clearInterval(timer)
      bar?.clear()
      process.removeListener('SIGINT', onSigint)
    }
  }
}

function checkQuorum(flag: 'r' | 'w', value: number | undefined, n: number): void {
  if (value !== undefined && value > n) {
    throw new BenchUsageError(`--${flag} ${value} is not allowed: the cluster keeps N=${n} replicas`, `give --${flag} from 1 to ${n}`)
  }
}
