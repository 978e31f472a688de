// Side-by-side A/B of two dyn variants (not a test): two 3-node clusters run at the same
// time on the same machine, each under its own closed loop from this one process, so that
// a slow spell of a shared machine falls on both alike. What is compared is the ratio B/A
// of each round, not rates taken minutes apart. A variant is another build (`--a-program
// /tmp/old/bin/run.js`), a node setting (`--b-config '{"readFanout":"all"}'`), Node.js
// flags of the nodes (`--b-node-flags "--max-semi-space-size=32"`) or their environment
// (`--b-env NAME=VALUE`).
//
//   npx tsx bench/ab.ts --a-program /tmp/before/bin/run.js --rounds 5 --seconds 5
//
// Each round runs puts of fresh keys, then gets of preloaded keys, at --concurrency per
// cluster (default 64), 1 KiB values, N=3 R=2 W=2, Q=64, sync always. Prints each round
// and the medians; --json prints {"rounds": [...], "median": {...}} on stdout.
import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {dynDurablePreset, dynPortsPerNode, startDyn} from './peers/dyn.js'
import {benchValue, closedLoop, getPreloaded, preload, putFresh, type Target} from './peers/load.js'
import {freePorts, ProcessGroup} from './peers/processes.js'
import {median, opNames, summarize, type OpName} from './peers/rows.js'

interface Variant {
  program?: string
  config: Record<string, unknown>
  nodeFlags: string[]
  env: Record<string, string>
}

interface Args {
  a: Variant
  b: Variant
  rounds: number
  seconds: number
  concurrency: number
  json: boolean
}

const usage = `usage: npx tsx bench/ab.ts [--a-program P] [--b-program P] [--a-config JSON] [--b-config JSON]
                          [--a-node-flags "F ..."] [--b-node-flags "F ..."] [--a-env K=V,...] [--b-env K=V,...]
                          [--rounds N] [--seconds S] [--concurrency C] [--json]`

function parseArgs(argv: readonly string[]): Args {
  const variants = {a: {config: {}, nodeFlags: [], env: {}} as Variant, b: {config: {}, nodeFlags: [], env: {}} as Variant}
  const args = {rounds: 5, seconds: 5, concurrency: 64, json: false}
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (flag === '--json') {
      args.json = true
      continue
    }
    const value = argv[++i]
    if (value === undefined) throw new Error(`${flag} needs a value\n${usage}`)
    const variantFlag = /^--([ab])-(program|config|node-flags|env)$/.exec(flag)
    if (variantFlag !== null) {
      const variant = variants[variantFlag[1] as 'a' | 'b']
      const field = variantFlag[2]!
      if (field === 'program') variant.program = value
      else if (field === 'config') variant.config = JSON.parse(value) as Record<string, unknown>
      else if (field === 'node-flags') variant.nodeFlags = value.split(' ').filter((part) => part !== '')
      else for (const pair of value.split(',')) {
        const at = pair.indexOf('=')
        if (at <= 0) throw new Error(`${flag}: "${pair}" is not NAME=VALUE\n${usage}`)
        variant.env[pair.slice(0, at)] = pair.slice(at + 1)
      }
      continue
    }
    const number = Number(value)
    if (!Number.isInteger(number) || number < 1) throw new Error(`${flag}: ${value} is not a positive integer\n${usage}`)
    if (flag === '--rounds') args.rounds = number
    else if (flag === '--seconds') args.seconds = number
    else if (flag === '--concurrency') args.concurrency = number
    else throw new Error(`unknown flag ${flag}\n${usage}`)
  }
  return {...args, ...variants}
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

interface RoundResult {
  round: number
  op: OpName
  a: {opsPerSec: number; p99Ms: number}
  b: {opsPerSec: number; p99Ms: number}
}

async function main(args: Args): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dyn-bench-ab-'))
  const groups = [new ProcessGroup(), new ProcessGroup()]
  const targets: Target[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(targets.map((target) => target.close().catch(() => undefined)))
    await Promise.all(groups.map((group) => group.stopAll()))
    await rm(dir, {recursive: true, force: true})
  }
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)))
  try {
    const ports = await freePorts(2 * dynDurablePreset.nodes * dynPortsPerNode)
    for (const [index, name] of (['a', 'b'] as const).entries()) {
      const variant = args[name]
      const clusterDir = join(dir, name)
      await mkdir(clusterDir)
      const mine = ports.slice(index * dynDurablePreset.nodes * dynPortsPerNode, (index + 1) * dynDurablePreset.nodes * dynPortsPerNode)
      log(`${name}: starting ${variant.program ?? 'this build'} ${JSON.stringify(variant.config)} ${variant.nodeFlags.join(' ')} ${JSON.stringify(variant.env)}`)
      targets.push(
        await startDyn({
          dir: clusterDir,
          ports: mine,
          processes: groups[index]!,
          cluster: {...dynDurablePreset, nodeConfig: variant.config},
          ...(variant.program === undefined ? {} : {program: variant.program}),
          nodeFlags: variant.nodeFlags,
          env: variant.env,
        }),
      )
    }
    const value = benchValue()
    await Promise.all(targets.map((target) => preload(target, value)))
    const results: RoundResult[] = []
    for (let round = 1; round <= args.rounds; round++) {
      for (const op of opNames) {
        const loops = await Promise.all(
          targets.map((target) => closedLoop(args.concurrency, args.seconds, op === 'put' ? putFresh(target, value, `ab-r${round}`) : getPreloaded(target))),
        )
        const [a, b] = loops.map((loop) => {
          const summary = summarize(loop.latenciesMs, loop.elapsedMs)
          return {opsPerSec: summary.opsPerSec, p99Ms: summary.p99Ms}
        })
        results.push({round, op, a: a!, b: b!})
        log(`round ${round} ${op}: a ${a!.opsPerSec.toFixed(0)}/s p99 ${a!.p99Ms.toFixed(1)} ms, b ${b!.opsPerSec.toFixed(0)}/s p99 ${b!.p99Ms.toFixed(1)} ms, b/a ${(b!.opsPerSec / a!.opsPerSec).toFixed(3)}`)
      }
    }
    const medianOf = (op: OpName) => {
      const rows = results.filter((result) => result.op === op)
      return {
        throughputRatio: median(rows.map((row) => row.b.opsPerSec / row.a.opsPerSec)),
        p99Ratio: median(rows.map((row) => row.b.p99Ms / row.a.p99Ms)),
      }
    }
    const summary = {put: medianOf('put'), get: medianOf('get')}
    if (args.json) process.stdout.write(`${JSON.stringify({rounds: results, median: summary})}\n`)
    else for (const op of opNames) console.log(`${op}: b/a throughput ${summary[op].throughputRatio.toFixed(3)}, p99 ${summary[op].p99Ratio.toFixed(3)} (median of ${args.rounds} rounds)`)
  } finally {
    await stop()
  }
}

let parsed: Args
try {
  parsed = parseArgs(process.argv.slice(2))
} catch (error) {
  log(error instanceof Error ? error.message : String(error))
  process.exit(2)
}
await main(parsed)
