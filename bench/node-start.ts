// Node start-up with many keys (DESIGN §10.5): how long a node holding K keys takes from
// `dyn cluster start` until it answers /health, i.e. until its store is open, its Merkle
// trees, tombstone and conflict indexes are built and it serves. Not a test; results go to
// docs/benchmarks.md.
//
//   npx tsx bench/node-start.ts [--keys 1000000] [--value-bytes 1024] [--json]
//                               [--node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"]
//                               [--starts 3] [--compare /tmp/before/bin/run.js]
//
// --compare times another build's starts on the same data, alternating with this build's,
// and reports both medians and their ratio (a machine whose speed drifts hits both alike).
//
// It starts a one-node local cluster from the built program, stops it, fills its data
// directory directly through the log store (objects encoded as the node stores them, one
// sibling each, in the partition of their key, hint files described as a node writes them),
// then starts the node from its config three times (`dyn node start --config`, as `cluster
// start` does, but without its 30 s wait) and times each start until /health answers.
import {execFileSync, spawn} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {applyPut, encodeObject, emptyVersionVector} from '../src/core/causality.js'
import {partitionOfKey} from '../src/core/hash.js'
import {objectDescriber} from '../src/node/descriptions.js'
import {LogStore, type Partition} from '../src/store/index.js'

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}
const json = process.argv.includes('--json')
/** Node.js flags of the started node, e.g. a CPU profile of each start. */
const nodeFlags = process.argv.includes('--node-flags') ? (process.argv[process.argv.indexOf('--node-flags') + 1] ?? '').split(' ').filter((flag) => flag !== '') : []
const keyCount = argument('--keys', 1_000_000)
const valueBytes = argument('--value-bytes', 1024)
const partitionCount = 64
/** Starts timed per build; the median is reported. */
const starts = argument('--starts', 3)
const compareAt = process.argv.indexOf('--compare')
const compareProgram = compareAt === -1 ? undefined : process.argv[compareAt + 1]
/** Puts in flight while filling: enough to keep the store's group commit busy. */
const fillConcurrency = 256
/** A start slower than this is reported as such rather than waited for. */
const startWaitMsMax = 600_000
const healthPollMs = 50

const program = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const dyn = (...args: string[]): string => execFileSync(process.execPath, [program, ...args], {encoding: 'utf8'})
const log = (line: string): void => {
  if (!json) console.error(line)
}

async function fill(dataDir: string): Promise<void> {
  // With the node's describer, as a node writes its hint files (descriptions.ts).
  const store = await LogStore.open({dir: dataDir, sync: 'none', describer: objectDescriber})
  const partitions = new Map<number, Partition>()
  for (let p = 0; p < partitionCount; p++) partitions.set(p, await store.openPartition(p))
  const value = new Uint8Array(valueBytes).fill(0x61)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keyCount) {
      const i = next++
      const key = new TextEncoder().encode(`key-${i}`)
      const {object} = applyPut(undefined, {coordinator: 'n1', context: emptyVersionVector, write: {kind: 'value', value}, counter: i + 1})
      await partitions.get(partitionOfKey(key, partitionCount))!.put(key, encodeObject(object))
    }
  }
  await Promise.all(Array.from({length: fillConcurrency}, worker))
  await store.close()
}

/** Starts the node, waits for /health, stops it; resolves with the seconds to healthy. */
async function timedStart(configPath: string, httpPort: number, build = program): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, [...nodeFlags, build, 'node', 'start', '--config', configPath], {stdio: 'ignore'})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    while (performance.now() - started < startWaitMsMax) {
      const healthy = await fetch(`http://127.0.0.1:${httpPort}/health`).then((response) => response.ok, () => false)
      if (healthy) return (performance.now() - started) / 1000
      if (child.exitCode !== null) throw new Error(`the node exited with code ${child.exitCode} while starting`)
      await new Promise((resolve) => setTimeout(resolve, healthPollMs))
    }
    throw new Error(`the node did not answer /health within ${startWaitMsMax} ms`)
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dyn-bench-start-'))
  const basePort = 20000 + Math.floor(Math.random() * 10000)
  try {
    dyn('cluster', 'up', '--dir', dir, '--nodes', '1', '--n', '1', '--r', '1', '--w', '1', '--base-port', String(basePort))
    dyn('cluster', 'stop', 'n1', '--dir', dir)
    log(`filling ${keyCount} keys of ${valueBytes} B...`)
    await fill(join(dir, 'n1', 'data'))
    const node = (JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as {nodes: Array<{configPath: string; httpPort: number}>}).nodes[0]!
    const seconds: number[] = []
    const compared: number[] = []
    for (let i = 0; i < starts; i++) {
      if (compareProgram !== undefined) {
        compared.push(await timedStart(node.configPath, node.httpPort, compareProgram))
        log(`  start ${i + 1} of ${compareProgram}: ${compared[i]!.toFixed(2)} s`)
      }
      seconds.push(await timedStart(node.configPath, node.httpPort))
      log(`  start ${i + 1}: ${seconds[i]!.toFixed(2)} s`)
    }
    const medianOf = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    const median = medianOf(seconds)
    const comparison = compareProgram === undefined ? undefined : {program: compareProgram, startSeconds: compared, medianSeconds: medianOf(compared)}
    if (json) console.log(JSON.stringify({keys: keyCount, valueBytes, startSeconds: seconds, medianSeconds: median, ...(comparison === undefined ? {} : {compare: comparison})}))
    else {
      console.log(`node start with ${keyCount} keys: median ${median.toFixed(2)} s (${seconds.map((s) => s.toFixed(2)).join(', ')})`)
      if (comparison !== undefined) {
        console.log(`${comparison.program}: median ${comparison.medianSeconds.toFixed(2)} s (${compared.map((s) => s.toFixed(2)).join(', ')}); this build / that: ${(median / comparison.medianSeconds).toFixed(3)}`)
      }
    }
  } finally {
    try {
      dyn('cluster', 'down', '--dir', dir)
    } catch {
      // Already down.
    }
    await rm(dir, {recursive: true, force: true})
  }
}

await main()
