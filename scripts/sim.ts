// `npm run sim`: runs seeded simulations of a dyn cluster (docs/simulation.md).
//   --seed S       run one seed (replays a failure exactly)
//   --seeds COUNT  run COUNT seeds starting at --start (default 1)
//   --start S      first seed of --seeds
//   --nodes K      cluster size (default: the seed picks 3..5)
//   --ops COUNT    operations per client (default 25)
//   --scenario S   a scripted membership scenario: concurrent-claimants or force-remove
//   --verbose      print the event trace and each run's statistics
//   --keep-going   go on after a failure (one summary line per failing seed)
// Exits 1 on the first failure (or, with --keep-going, after the last seed if any failed),
// printing the seed, the broken invariant and the replay command.
import {parseArgs} from 'node:util'
import {describeStats, runSimulation, scenarioNames, SimulationFailure, type ScenarioName, type SimulationOptions} from '../src/sim/index.js'

const usage = `usage: npm run sim -- [--seed S | --seeds COUNT [--start S]] [--nodes K] [--ops COUNT] [--scenario ${scenarioNames.join('|')}] [--verbose] [--keep-going]`

function whole(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    console.error(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}\n${usage}`)
    process.exit(2)
  }
  return value
}

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        seed: {type: 'string'},
        seeds: {type: 'string'},
        start: {type: 'string'},
        nodes: {type: 'string'},
        ops: {type: 'string'},
        scenario: {type: 'string'},
        verbose: {type: 'boolean', default: false},
        'keep-going': {type: 'boolean', default: false},
      },
      strict: true,
    })
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
  const {values} = parsed
  const seedMax = 2 ** 32 - 1
  const seed = whole('seed', values.seed, 0, seedMax)
  const count = whole('seeds', values.seeds, 1, 100_000_000) ?? 1
  const start = seed ?? whole('start', values.start, 0, seedMax) ?? 1
  const nodes = whole('nodes', values.nodes, 1, 16)
  const ops = whole('ops', values.ops, 0, 100_000)
  const verbose = values.verbose
  const scenario = values.scenario as ScenarioName | undefined
  if (scenario !== undefined && !scenarioNames.includes(scenario)) {
    console.error(`--scenario must be one of ${scenarioNames.join(', ')}, got ${JSON.stringify(scenario)}\n${usage}`)
    process.exit(2)
  }
  const startedMs = performance.now()
  const failed: number[] = []
  for (let index = 0; index < (seed === undefined ? count : 1); index++) {
    const options: SimulationOptions = {
      seed: (start + index) % (seedMax + 1),
      ...(nodes === undefined ? {} : {nodes}),
      ...(ops === undefined ? {} : {operationsPerClient: ops}),
      ...(scenario === undefined ? {} : {scenario}),
      ...(verbose ? {onTrace: (line: string) => console.log(line)} : {}),
    }
    try {
      const result = await runSimulation(options)
      if (verbose || seed !== undefined) console.log(`seed ${options.seed} ok: ${describeStats(result.stats)} trace ${result.traceHash.slice(0, 16)}`)
    } catch (error) {
      if (values['keep-going'] && error instanceof SimulationFailure) {
        failed.push(options.seed)
        console.error(`FAIL seed ${options.seed}: ${error.violation.invariant}${error.violation.key === undefined ? '' : ` key ${error.violation.key}`}: ${error.violation.detail.slice(0, 300)}`)
        continue
      }
      if (!(error instanceof SimulationFailure)) console.error(`seed ${options.seed}: the simulator itself failed`)
      console.error(error instanceof Error ? (error instanceof SimulationFailure ? error.message : error.stack) : String(error))
      process.exit(1)
    }
  }
  if (seed === undefined) {
    const seconds = (performance.now() - startedMs) / 1000
    const passed = count - failed.length
    console.log(`${passed} of ${count} seeds from ${start} passed in ${seconds.toFixed(1)} s${failed.length === 0 ? '' : `; failed: ${failed.join(' ')}`}`)
    if (failed.length > 0) process.exit(1)
  }
}

await main()
