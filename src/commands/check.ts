import {randomInt} from 'node:crypto'
import {mkdir, writeFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {optionalRangeFlag, rangeFlag} from '../cli/flags.js'
import {checkJson, checkText, convergeTimeoutMsDefault, faultKinds, renderTimeline, runCheck, type FaultKind} from '../check/index.js'
import {siblingsWarn} from '../core/limits.js'
import {DynError, exitCodes} from '../core/errors.js'
import {parseDurationMs} from '../load/index.js'

/** A seed is one 32-bit word (core/random.ts seeds xoshiro128** from one). */
const seedMax = 2 ** 32 - 1

/** Shortest run: a fault needs a gap and a second or more of its own. */
const durationMsMin = 5_000
/** Longest run: a day; the history of a longer one is better split into runs. */
const durationMsMax = 24 * 60 * 60 * 1000
const durationMsDefault = 20_000

/** Nodes of a cluster the check starts: N=3 needs three; each more is a process of its own. */
const nodesMax = 9
/** Clients: each is a loop with one operation in flight, on one process's event loop. */
const clientsMax = 32
/** Keys: few keys mean contention (siblings, superseded writes), which is the point. */
const keysMax = 1_000

const nemesisDefault: readonly FaultKind[] = ['kill', 'pause', 'partition']

class CheckUsageError extends DynError {
  constructor(message: string, suggestion: string) {
    super(message, {code: 'USAGE', exitCode: exitCodes.usage, suggestion})
  }
}

function durationFlag(options: {description: string; min: number; default: number}) {
  return Flags.custom<number>({
    description: options.description,
    default: options.default,
    parse: async (input) => {
      const durationMs = parseDurationMs(input)
      if (durationMs < options.min || durationMs > durationMsMax) {
        throw new CheckUsageError(`${input} is not allowed: give a duration from ${options.min / 1000}s to 24h`, 'write a number and a unit: 30s, 10m, 2h')
      }
      return durationMs
    },
  })()
}

function parseNemesis(input: string): FaultKind[] {
  const names = input
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '')
  if (names.length === 1 && names[0] === 'none') return []
  const unknown = names.filter((name) => !(faultKinds as readonly string[]).includes(name))
  if (names.length === 0 || unknown.length > 0) {
    throw new CheckUsageError(`--nemesis ${input} is not allowed${unknown.length > 0 ? `: ${unknown.join(', ')} is not a fault` : ''}`, `give a comma-separated list of ${faultKinds.join(', ')}, or none`)
  }
  return [...new Set(names)] as FaultKind[]
}

export default class Check extends BaseCommand {
  static override description =
    'Check the store under faults: clients read and write through random nodes while a nemesis kills, pauses and partitions nodes; then every replica is read and the run is checked (no acknowledged write lost, replicas equal, siblings bounded). Exits 1 when a check fails'
  static override examples = [
    '<%= config.bin %> check',
    '<%= config.bin %> check --seed 42 --duration 30s --nemesis kill,partition',
    '<%= config.bin %> check --nemesis kill,pause,partition,lose-unsynced --nodes 5 --clients 4 --json',
    '<%= config.bin %> check --duration 10m --history run.jsonl --timeline run.svg',
    '<%= config.bin %> check --dir ./.dyn --duration 1m',
  ]
  static override flags = {
    seed: optionalRangeFlag({min: 0, max: seedMax, description: 'seed of the fault schedule and the clients\' choices (default: random, printed)'}),
    duration: durationFlag({description: 'how long the workload and the nemesis run: 30s, 10m, 1h (5s to 24h)', min: durationMsMin, default: durationMsDefault}),
    nodes: rangeFlag({min: 3, max: nodesMax, default: 3, description: 'nodes of the cluster the check starts (N=3, R=2, W=2)'}),
    clients: rangeFlag({min: 1, max: clientsMax, default: 3, description: 'clients, each one operation at a time'}),
    keys: rangeFlag({min: 1, max: keysMax, default: 4, description: 'keys the clients share'}),
    nemesis: Flags.string({description: `faults to inject, comma-separated: ${faultKinds.join(', ')}; or none`, default: nemesisDefault.join(',')}),
    history: Flags.string({description: 'history file to write, JSON lines (default: dyn-check-SEED.jsonl)'}),
    timeline: Flags.string({description: 'timeline to write, an SVG to open in a browser (default: dyn-check-SEED.svg)'}),
    dir: Flags.string({description: 'cluster directory: an existing local cluster is used (and left running), else one is started there and kept; default: a new one in a temporary directory, removed at the end'}),
    'base-port': optionalRangeFlag({min: 1024, max: 64_000, description: 'first wire port of a cluster the check starts, HTTP ports 1000 above (default: a free range picked at random from 20000..31000)'}),
    sync: Flags.string({description: 'sync mode of a cluster the check starts: always, interval:MS or none (default: none with lose-unsynced, else always)'}),
    'siblings-max': rangeFlag({min: 1, max: 100, default: siblingsWarn, description: 'most siblings a read or a final copy may show'}),
    'converge-timeout': durationFlag({description: 'how long to wait after healing for the replicas to agree', min: 1_000, default: convergeTimeoutMsDefault}),
  }

  async run(): Promise<unknown> {
    const {flags: parsed} = await this.parse(Check)
    const flags = {...parsed, nemesis: parseNemesis(parsed.nemesis)}
    const seed = flags.seed ?? randomInt(0, seedMax)
    if (flags.nemesis.includes('lose-unsynced') && flags.sync !== undefined && flags.sync !== 'none' && flags.dir === undefined) {
      throw new CheckUsageError(`--nemesis lose-unsynced needs --sync none, not --sync ${flags.sync}`, 'leave out --sync, or give --sync none')
    }
    const historyPath = resolve(flags.history ?? `dyn-check-${seed}.jsonl`)
    const timelinePath = resolve(flags.timeline ?? `dyn-check-${seed}.svg`)
    // The files' folders first: a run of minutes must not end in a path error.
    await mkdir(dirname(historyPath), {recursive: true})
    await mkdir(dirname(timelinePath), {recursive: true})
    const replay = replayCommand(seed, flags)
    const interrupt = new AbortController()
    // Ctrl-C or SIGTERM ends the workload early; the run still heals, checks and cleans up
    // (a second signal exits at once).
    const onSignal = (): void => interrupt.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    const quiet = this.jsonEnabled()
    if (!quiet) process.stderr.write(`dyn check: seed ${seed} (replay: ${replay})\n`)
    try {
      const report = await runCheck({
        seed,
        durationMs: flags.duration,
        nodes: flags.nodes,
        clients: flags.clients,
        keys: flags.keys,
        nemesis: flags.nemesis,
        ...(flags.dir === undefined ? {} : {dir: flags.dir}),
        ...(flags['base-port'] === undefined ? {} : {basePort: flags['base-port']}),
        ...(flags.sync === undefined ? {} : {sync: flags.sync}),
        historyPath,
        siblingsMax: flags['siblings-max'],
        convergeTimeoutMs: flags['converge-timeout'],
        signal: interrupt.signal,
        ...(quiet ? {} : {onProgress: (message: string) => process.stderr.write(`  ${message}\n`)}),
      })
      await writeFile(timelinePath, renderTimeline({seed, clients: report.clients, nodes: report.cluster.nodes, operations: report.operations, faults: report.faults, phases: report.phases, result: report.result, replay}))
      const files = {history: historyPath, timeline: timelinePath}
      if (!report.result.valid) process.exitCode = exitCodes.error
      if (!quiet) this.log(checkText(report, files, replay))
      return checkJson(report, files, replay)
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
  }
}

/** The command line that runs the same schedule again. */
function replayCommand(
  seed: number,
  flags: {duration: number; nodes: number; clients: number; keys: number; nemesis: readonly FaultKind[]; dir?: string | undefined; sync?: string | undefined; 'siblings-max': number; 'converge-timeout': number},
): string {
  const parts = [
    'dyn check',
    `--seed ${seed}`,
    `--duration ${durationText(flags.duration)}`,
    `--nodes ${flags.nodes}`,
    `--clients ${flags.clients}`,
    `--keys ${flags.keys}`,
    `--nemesis ${flags.nemesis.length === 0 ? 'none' : flags.nemesis.join(',')}`,
  ]
  if (flags.sync !== undefined) parts.push(`--sync ${flags.sync}`)
  if (flags['siblings-max'] !== siblingsWarn) parts.push(`--siblings-max ${flags['siblings-max']}`)
  if (flags['converge-timeout'] !== convergeTimeoutMsDefault) parts.push(`--converge-timeout ${durationText(flags['converge-timeout'])}`)
  if (flags.dir !== undefined) parts.push(`--dir ${flags.dir}`)
  return parts.join(' ')
}

function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
