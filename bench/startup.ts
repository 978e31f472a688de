// Start-up time of whole `dyn` processes (docs/benchmarks.md, "Command start-up"):
// `dyn --version` and `dyn get KEY` against a running local cluster, each against
// `node -e 0` measured in the same run. Runs are interleaved (one of each command per
// round) so that load from other work on the machine falls on all of them alike; the
// results are medians, and ratios of medians to `node -e 0`.
//
// Usage: npm run bench:startup [-- --runs N] [--base-port P] [--other ROOT]
//   --other ROOT  also time the same commands of another built checkout (e.g. an older
//                 commit unpacked and built in ROOT), against the same cluster
import {spawnSync} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Rounds timed, and rounds run first and dropped (disk cache, CPU frequency). */
const runsDefault = 30
const warmupRuns = 3
/** Wire ports from here, HTTP ports 1000 above: below Linux's ephemeral range. */
const basePortDefault = 27_400

interface Options {
  runs: number
  basePort: number
  other: string | undefined
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string) => {
    const index = argv.indexOf(name)
    return index === -1 ? undefined : argv[index + 1]
  }
  const runs = Number(value('--runs') ?? runsDefault)
  const basePort = Number(value('--base-port') ?? basePortDefault)
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs takes a whole number of at least 1')
  if (!Number.isSafeInteger(basePort) || basePort < 1024 || basePort > 31_000) throw new Error('--base-port takes a port from 1024 to 31000')
  return {runs, basePort, other: value('--other')}
}

function dyn(programRoot: string, args: readonly string[]): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync(process.execPath, [join(programRoot, 'bin', 'run.js'), ...args], {encoding: 'utf8'})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

function mustSucceed(what: string, result: {status: number | null; stdout: string; stderr: string}): void {
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`)
}

/** Wall time of one process, start to exit, in milliseconds. */
function timeMs(args: readonly string[]): number {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {stdio: 'ignore'})
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}`)
  return elapsedMs
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const dir = await mkdtemp(join(tmpdir(), 'dyn-startup-'))
  const key = 'startup:key'
  try {
    mustSucceed('cluster up', dyn(root, ['cluster', 'up', '--dir', dir, '--base-port', String(options.basePort)]))
    mustSucceed('put', dyn(root, ['put', key, 'value', '--dir', dir]))
    const commands: {label: string; args: string[]}[] = [
      {label: 'node -e 0', args: ['-e', '0']},
      {label: 'dyn --version', args: [join(root, 'bin', 'run.js'), '--version']},
      {label: 'dyn get KEY', args: [join(root, 'bin', 'run.js'), 'get', key, '--dir', dir]},
    ]
    if (options.other !== undefined) {
      commands.push(
        {label: 'other: dyn --version', args: [join(options.other, 'bin', 'run.js'), '--version']},
        {label: 'other: dyn get KEY', args: [join(options.other, 'bin', 'run.js'), 'get', key, '--dir', dir]},
      )
    }
    const times = commands.map(() => [] as number[])
    for (let round = 0; round < warmupRuns + options.runs; round++) {
      // Rotate the order each round, so no command always runs right after another.
      for (let step = 0; step < commands.length; step++) {
        const index = (round + step) % commands.length
        const elapsedMs = timeMs(commands[index]!.args)
        if (round >= warmupRuns) times[index]!.push(elapsedMs)
      }
    }
    const baselineMs = median(times[0]!)
    console.log(`node ${process.version}, ${options.runs} interleaved rounds (after ${warmupRuns} dropped)`)
    console.log('| command | median ms | min ms | × node -e 0 |')
    console.log('| --- | ---: | ---: | ---: |')
    commands.forEach((command, index) => {
      const medianMs = median(times[index]!)
      console.log(`| ${command.label} | ${medianMs.toFixed(0)} | ${Math.min(...times[index]!).toFixed(0)} | ${(medianMs / baselineMs).toFixed(2)} |`)
    })
  } finally {
    dyn(root, ['cluster', 'down', '--dir', dir])
    await rm(dir, {recursive: true, force: true})
  }
}

await main()
