// Anti-entropy benchmark (not a test), DESIGN §5 and issue 5's measurements:
//
//   1. time to converge after a partition heals with 100k keys: a 3-node cluster
//      (N=3 R=2 W=2, Q=64, real processes), n3 stopped — cut off from everything — while
//      100k keys (100-byte values) are written with W=2 to n1 and n2; with three nodes there
//      is no fallback, so no hint exists and only anti-entropy can bring n3 up to date. n3
//      starts again; the clock runs from its /health answering until every partition's tree
//      is equal on all three nodes (tree.branches of every partition, polled every 250 ms).
//   2. foreground p99 with anti-entropy running versus idle: closed-loop clients (50% get,
//      50% put of 1 KiB values on the keys of step 1) for a few seconds on the converged
//      cluster (anti-entropy idle: its exchanges find equal trees), then again right after
//      a network cut between n3 and its peers healed, n3 having missed another 100k keys
//      meanwhile (anti-entropy repairing at its loaded pace, backing off when the p99
//      rises). n3 keeps running through the cut, so it is as warm as in the idle
//      measurement and anti-entropy is the only difference. A node that was restarted is
//      slower for a while whatever anti-entropy does (a cold process): the load also runs
//      right after n3 was stopped and started again with nothing missed,
//      `idleAfterRestart`, to show that cost apart.
//
// The machine line and the JSON carry the 1-minute load average at the start and the end:
// on a shared machine it says how much of the CPUs the run had.
//
//   npx tsx bench/anti-entropy.ts                 (about 5 minutes)
//   npx tsx bench/anti-entropy.ts --keys 20000 --seconds 5 --rounds 1
//   npx tsx bench/anti-entropy.ts --catch-up-keys 1000     (little to repair in step 2)
//
// The three foreground measurements of step 2 run --rounds times (default 3), each round
// with another 100k keys for n3 to catch up; the medians and each round are reported.
//
// Nodes run from the built program (`bin/run.js node start`; `npm run build` first), one
// process each, sync=none (durability is beside the point here and fsyncs would dominate
// the load phase). `--program /tmp/before/bin/run.js` runs another build's nodes.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {DynClient} from '../src/client/index.js'
import {differingPartitions} from '../src/client/merkle.js'
import {adminRequest} from '../src/cluster/admin-request.js'
import {median} from './peers/rows.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: number): number => {
  const index = args.indexOf(`--${name}`)
  return index >= 0 ? Number(args[index + 1]) : fallback
}
const keyCount = option('keys', 100_000)
/** Keys n3 misses before each round's repairing measurement: fewer separates what repair
 * costs the clients from what the write burst and n3's restart cost them. */
const catchUpKeys = option('catch-up-keys', keyCount)
const loadSeconds = option('seconds', 10)
/** Rounds of the three foreground measurements; their medians are reported, since one
 * 10 s p99 on a shared 2-core machine varies by a third from run to run. */
const roundCount = option('rounds', 3)
const writeConcurrency = 64
const loadConcurrency = 16
const partitions = 64
// Below Linux's ephemeral range (32768..), where outgoing connections could take our ports.
const basePort = 20_000 + Math.floor(Math.random() * 1000) * 10
const root = fileURLToPath(new URL('..', import.meta.url))
const program = args.includes('--program') ? args[args.indexOf('--program') + 1]! : join(root, 'bin/run.js')
const names = ['n1', 'n2', 'n3']
const addresses = names.map((_, i) => `127.0.0.1:${basePort + i}`)
const children = new Map<string, ChildProcess>()
let dir = ''

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

async function writeConfigs(): Promise<void> {
  const members = names.map((name, i) => ({name, address: addresses[i]!, weight: 1}))
  for (const [i, name] of names.entries()) {
    await mkdir(join(dir, name), {recursive: true})
    const config = {
      cluster: 'bench',
      name,
      listen: {host: '127.0.0.1', port: basePort + i},
      http: {host: '127.0.0.1', port: basePort + 100 + i},
      dataDir: join(dir, name, 'data'),
      members,
      n: 3,
      r: 2,
      w: 2,
      partitions,
      sync: 'none',
    }
    await writeFile(join(dir, name, 'node.json'), JSON.stringify(config))
  }
}

async function startNode(name: string): Promise<void> {
  const i = names.indexOf(name)
  const child = spawn(process.execPath, [program, 'node', 'start', '--config', join(dir, name, 'node.json')], {stdio: ['ignore', 'ignore', 'inherit']})
  children.set(name, child)
  child.once('exit', (code, signal) => {
    if (children.get(name) === child) log(`node ${name} exited (${signal ?? code})`)
  })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${basePort + 100 + i}/health`)).ok, `node ${name}`)
}

async function stopNode(name: string): Promise<void> {
  const child = children.get(name)
  if (child === undefined) return
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(name)
    return
  }
  const exited = new Promise((resolve) => child.once('exit', resolve))
  children.delete(name)
  child.kill('SIGTERM')
  await exited
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function writeKeys(client: DynClient, prefix: string, valueBytes: number, count = keyCount): Promise<void> {
  const value = new Uint8Array(valueBytes).fill(97)
  let next = 0
  await Promise.all(
    Array.from({length: writeConcurrency}, async () => {
      for (let i = next++; i < count; i = next++) await putWithRetries(client, `${prefix}-${i}`, value)
    }),
  )
}

/** A node that just started or stopped may be suspected or trusted a moment too long: retry. */
async function putWithRetries(client: DynClient, key: string, value: Uint8Array): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.put(key, value, {w: 2})
      return
    } catch (error) {
      if (attempt >= 50) throw error
      await sleep(100)
    }
  }
}

/** Partitions not yet equal on every pair of nodes. */
async function unequalPartitions(): Promise<number> {
  const all = Array.from({length: partitions}, (_, p) => p)
  const pairs = [
    [0, 1],
    [0, 2],
    [1, 2],
  ] as const
  const differing = new Set<number>()
  for (const [a, b] of pairs) {
    const pair = {a: {address: addresses[a]!}, b: {address: addresses[b]!}}
    for (const p of await differingPartitions({cluster: 'bench', ...pair, partitions: all})) differing.add(p)
  }
  return differing.size
}

/** Cuts `node` off from the other two nodes (admin.faults on all three, as `dyn cluster
 * partition` does), or heals every cut when `node` is undefined. */
async function cutOff(node: string | undefined): Promise<void> {
  await Promise.all(
    names.map((name, i) => {
      const cut = node === undefined ? [] : name === node ? names.filter((other) => other !== node) : [node]
      return adminRequest({address: addresses[i]!, cluster: 'bench', type: 'admin.faults', payload: {cut}})
    }),
  )
}

/** Seconds from now until every tree is equal. */
async function timeToConverge(timeoutS: number): Promise<number> {
  const startedMs = performance.now()
  let lastLogMs = startedMs
  for (;;) {
    const unequal = await unequalPartitions()
    const elapsedS = (performance.now() - startedMs) / 1000
    if (unequal === 0) return elapsedS
    if (elapsedS > timeoutS) throw new Error(`not converged after ${timeoutS} s: ${unequal} partitions differ`)
    if (performance.now() - lastLogMs > 5_000) {
      log(`  ${elapsedS.toFixed(0)} s: ${unequal} partitions still differ`)
      lastLogMs = performance.now()
    }
    await sleep(250)
  }
}

function p99(latencies: number[]): number {
  const sorted = Float64Array.from(latencies).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? Number.NaN
}

/** Closed-loop clients for loadSeconds; p50/p99 in ms and throughput. */
async function foregroundLoad(client: DynClient, prefix: string): Promise<{p50Ms: number; p99Ms: number; opsPerSecond: number; errors: number}> {
  const value = new Uint8Array(1024).fill(98)
  const latencies: number[] = []
  let errors = 0
  const endMs = performance.now() + loadSeconds * 1000
  await Promise.all(
    Array.from({length: loadConcurrency}, async (_, worker) => {
      for (let i = 0; performance.now() < endMs; i++) {
        const key = `${prefix}-${(worker * 7919 + i * 104_729) % keyCount}`
        const startMs = performance.now()
        try {
          if (i % 2 === 0) await client.get(key)
          else await client.put(key, value)
          latencies.push(performance.now() - startMs)
        } catch {
          errors++
        }
      }
    }),
  )
  const sorted = Float64Array.from(latencies).sort()
  return {p50Ms: sorted[Math.floor(0.5 * sorted.length)] ?? Number.NaN, p99Ms: p99(latencies), opsPerSecond: latencies.length / loadSeconds, errors}
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'dyn-bench-ae-'))
  await writeConfigs()
  const client = new DynClient({seeds: addresses, cluster: 'bench', routing: 'partition-aware'})
  // Writes while n3 is cut off: to n1 and n2 only, which coordinate them without n3.
  const peersOnly = new DynClient({seeds: addresses.slice(0, 2), cluster: 'bench', routing: 'direct'})
  try {
    // The machine may be shared: the load average says how much of it the run had.
    const loadAtStart = loadavg()[0]!
    log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadAtStart.toFixed(1)}`)
    await startNode('n1')
    await startNode('n2')
    log(`writing ${keyCount} keys to n1 and n2 while n3 is cut off...`)
    let startedMs = performance.now()
    await writeKeys(client, 'a', 100)
    log(`  ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
    await startNode('n3')
    log('n3 is back; waiting until every tree is equal...')
    const convergeS = await timeToConverge(600)
    log(`converged in ${convergeS.toFixed(1)} s`)

    type Load = Awaited<ReturnType<typeof foregroundLoad>>
    const rounds: Array<{idle: Load; idleAfterRestart: Load; antiEntropyRunning: Load; partitionsDifferingAfter: number; convergedAfterSeconds: number}> = []
    const show = (load: Load): string => `p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms, ${load.opsPerSecond.toFixed(0)} ops/s`
    for (let round = 1; round <= roundCount; round++) {
      // Restart first, then the repair, and idle last, on the same data as the repair: the
      // store grows by the catch-up keys every round, and a larger store is a little slower.
      await stopNode('n3')
      await startNode('n3')
      await sleep(1_500) // as before the load below
      log(`round ${round}/${roundCount}: foreground load right after n3 restarted with nothing to catch up (${loadSeconds} s)...`)
      const idleAfterRestart = await foregroundLoad(client, 'a')
      log(`  ${show(idleAfterRestart)}`)

      // n3 keeps running (warm, as in the idle measurement) but is cut off from its peers,
      // while the keys go to n1 and n2; healing the cut leaves anti-entropy as the only
      // difference from the idle measurement.
      await cutOff('n3')
      log(`writing ${catchUpKeys} more keys while n3 is cut off from its peers (still running)...`)
      startedMs = performance.now()
      await writeKeys(peersOnly, `b${round}`, 100, catchUpKeys)
      log(`  ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
      await cutOff(undefined)
      await sleep(1_500) // let the peers hear from n3 again, so that n3's return is not what is measured
      log(`foreground load while anti-entropy repairs n3 (${loadSeconds} s)...`)
      const [busy, unequalAfter] = [await foregroundLoad(client, 'a'), await unequalPartitions()]
      log(`  ${show(busy)}; ${unequalAfter} partitions still differed after the load`)
      const rest = await timeToConverge(600)
      log(`  converged ${rest.toFixed(1)} s after the load ended`)

      log(`foreground load, anti-entropy idle (${loadSeconds} s)...`)
      const idle = await foregroundLoad(client, 'a')
      log(`  ${show(idle)}`)
      rounds.push({idle, idleAfterRestart, antiEntropyRunning: busy, partitionsDifferingAfter: unequalAfter, convergedAfterSeconds: Number(rest.toFixed(1))})
    }
    const medianLoad = (pick: (round: (typeof rounds)[number]) => Load): Load => ({
      p50Ms: median(rounds.map((round) => pick(round).p50Ms)),
      p99Ms: median(rounds.map((round) => pick(round).p99Ms)),
      opsPerSecond: median(rounds.map((round) => pick(round).opsPerSecond)),
      errors: rounds.reduce((sum, round) => sum + pick(round).errors, 0),
    })
    const idle = medianLoad((round) => round.idle)
    const idleAfterRestart = medianLoad((round) => round.idleAfterRestart)
    const busy = medianLoad((round) => round.antiEntropyRunning)
    const result = {
      machine: {cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadAverage: {start: Number(loadAtStart.toFixed(1)), end: Number(loadavg()[0]!.toFixed(1))}},
      keys: keyCount,
      catchUpKeys,
      convergeSeconds: Number(convergeS.toFixed(1)),
      // Medians over the rounds, each field on its own.
      idle,
      idleAfterRestart,
      antiEntropyRunning: busy,
      p99Ratio: Number((busy.p99Ms / idle.p99Ms).toFixed(2)),
      p99RatioRestartAlone: Number((idleAfterRestart.p99Ms / idle.p99Ms).toFixed(2)),
      rounds,
    }
    log(`medians of ${roundCount} rounds: idle ${show(idle)}; after a restart ${show(idleAfterRestart)}; repairing ${show(busy)}; p99 ratio ${result.p99Ratio}; a restart alone ${(idleAfterRestart.p99Ms / idle.p99Ms).toFixed(2)}`)
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  } finally {
    await client.close()
    await peersOnly.close()
    for (const name of [...children.keys()]) await stopNode(name)
    await rm(dir, {recursive: true, force: true})
  }
}

await main()
