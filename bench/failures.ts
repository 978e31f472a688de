// Failure-handling measurements (not a test; DESIGN §5, issue 5), on a local cluster of
// real processes: 4 nodes, N=3 R=2 W=2, sync=always.
//
//   detection  SIGKILL one node, then keep writing through another node (one put every
//              pollMs, keys both are primaries of); report the time until a write's
//              quorum result first shows a fallback standing in for the victim, and the
//              time until that coordinator's admin.status lists the victim as suspect.
//              Also with the victim's links cut instead (admin.faults on the victim: its
//              traffic is dropped silently, so only request timeouts and missed heartbeats
//              reveal it, as with a host or network failure rather than a crashed process).
//   hint drain SIGKILL the victim, wait until it is suspected, write K keys it is a primary
//              of (each leaves a hint on a fallback), start it again; report the time from
//              its /health answering until hintsPending is 0 on every node.
//
//   npx tsx bench/failures.ts                 table on stderr, summary lines on stdout
//   npx tsx bench/failures.ts --json          {"detection": [...], "hintDrain": [...]}
//   npx tsx bench/failures.ts --rounds 3 --keys 2000
import {randomInt} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {cpus, tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {DynClient, toBytes} from '../src/client/index.js'
import {adminRequest, down, killNode, startNode, up} from '../src/cluster/index.js'
import {preferenceList} from '../src/core/ring.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const flag = (name: string, fallback: number): number => {
  const index = args.indexOf(name)
  return index >= 0 ? Number(args[index + 1]) : fallback
}
const rounds = flag('--rounds', 3)
const hintedKeys = flag('--keys', 1000)
/** How often the detection loop writes and asks admin.status. */
const pollMs = 20
/** Gives up on one measurement after this long. */
const measureTimeoutMs = 30_000
const nodeCount = 4
const victim = 'n3'
const coordinator = 'n1'
const basePort = randomInt(20_000, 50_000)
const address = (name: string): string => `127.0.0.1:${basePort + Number(name.slice(1)) - 1}`

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

interface Detection {
  fallbackMs: number
  suspectMs: number
}

interface Status {
  health?: {suspects?: string[]}
  hintsPending?: number
}

async function status(name: string): Promise<Status> {
  return (await adminRequest({address: address(name), cluster: 'dyn', type: 'admin.status', payload: {}})) as Status
}

/** Endless keys whose primaries include the victim and the coordinator (which then
 * coordinates the write itself instead of forwarding it). */
function* victimKeys(info: Awaited<ReturnType<DynClient['ring']>>, prefix: string): Generator<string> {
  for (let index = 0; ; index++) {
    const key = `${prefix}-${index}`
    const primaries = preferenceList(info.ring, {key: toBytes(key)}, {n: info.n}).primaries
    if (primaries.includes(victim) && primaries.includes(coordinator)) yield key
  }
}

type Failure = 'kill' | 'cut'

const others = Array.from({length: nodeCount}, (_, index) => `n${index + 1}`).filter((name) => name !== victim)

async function fail(dir: string, how: Failure): Promise<void> {
  if (how === 'kill') await killNode({dir, node: victim})
  else await adminRequest({address: address(victim), cluster: 'dyn', type: 'admin.faults', payload: {cut: others}})
}

async function recover(dir: string, how: Failure): Promise<void> {
  if (how === 'kill') await startNode({dir, node: victim})
  else await adminRequest({address: address(victim), cluster: 'dyn', type: 'admin.faults', payload: {cut: []}})
  await waitFor(async () => (await status(coordinator)).health?.suspects?.includes(victim) === false)
  await waitFor(async () => (await totalHints(allNodes)) === 0)
}

async function measureDetection(dir: string, client: DynClient, options: {round: number; how: Failure}): Promise<Detection> {
  const keys = victimKeys(await client.ring(), `detect-${options.how}-${options.round}`)
  await fail(dir, options.how)
  const startedMs = performance.now()
  let fallbackMs = NaN
  let suspectMs = NaN
  while ((Number.isNaN(fallbackMs) || Number.isNaN(suspectMs)) && performance.now() - startedMs < measureTimeoutMs) {
    const [put, seen] = await Promise.all([
      client.put(keys.next().value ?? '', 'v').catch(() => undefined),
      status(coordinator).catch(() => undefined),
    ])
    const nowMs = performance.now() - startedMs
    if (Number.isNaN(fallbackMs) && put?.quorum.replies.some((reply) => reply.fallbackFor === victim) === true) fallbackMs = nowMs
    if (Number.isNaN(suspectMs) && seen?.health?.suspects?.includes(victim) === true) suspectMs = nowMs
    await sleep(pollMs)
  }
  return {fallbackMs, suspectMs}
}

const allNodes = [victim, ...others]

/** Hints pending on these nodes together; NaN when one does not answer. */
async function totalHints(nodes: readonly string[]): Promise<number> {
  const statuses = await Promise.all(nodes.map((name) => status(name).catch((): Status => ({}))))
  return statuses.reduce((sum, each) => sum + (each.hintsPending ?? NaN), 0)
}

async function waitFor(condition: () => Promise<boolean>): Promise<number> {
  const startedMs = performance.now()
  while (performance.now() - startedMs < measureTimeoutMs) {
    if (await condition().catch(() => false)) return performance.now() - startedMs
    await sleep(pollMs)
  }
  return NaN
}

interface HintDrain {
  keys: number
  hintsBefore: number
  drainMs: number
}

async function measureHintDrain(dir: string, client: DynClient, round: number): Promise<HintDrain> {
  await killNode({dir, node: victim})
  await waitFor(async () => (await status(coordinator)).health?.suspects?.includes(victim) === true)
  const keys = victimKeys(await client.ring(), `drain-${round}`)
  const value = 'x'.repeat(1024)
  for (let written = 0; written < hintedKeys; written += 16) {
    await Promise.all(Array.from({length: 16}, () => client.put(keys.next().value ?? '', value).catch(() => undefined)))
  }
  const hintsBefore = await totalHints(others)
  await startNode({dir, node: victim})
  const drainMs = await waitFor(async () => (await totalHints(allNodes)) === 0)
  await waitFor(async () => (await status(coordinator)).health?.suspects?.includes(victim) === false)
  return {keys: hintedKeys, hintsBefore, drainMs}
}

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU'
  const memory = /MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]
  return `${cpus().length} x ${model}, ${memory === undefined ? '?' : Math.round(Number(memory) / 1024 / 1024)} GiB, Node ${process.version}`
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dyn-bench-failures-'))
  const detection: (Detection & {how: Failure})[] = []
  const hintDrain: HintDrain[] = []
  try {
    log(`starting ${nodeCount} nodes on ports ${basePort}..`)
    await up({dir, nodes: nodeCount, n: 3, r: 2, w: 2, basePort})
    const client = new DynClient({seeds: [address(coordinator)], cluster: 'dyn', routing: 'direct'})
    try {
      for (const how of ['kill', 'cut'] as const) {
        for (let round = 0; round < rounds; round++) {
          const one = await measureDetection(dir, client, {round, how})
          detection.push({...one, how})
          log(`detection (${how}) round ${round + 1}: fallback after ${one.fallbackMs.toFixed(0)} ms, suspect after ${one.suspectMs.toFixed(0)} ms`)
          await recover(dir, how)
        }
      }
      for (let round = 0; round < rounds; round++) {
        const one = await measureHintDrain(dir, client, round)
        hintDrain.push(one)
        log(`hint drain round ${round + 1}: ${one.hintsBefore} hints for ${one.keys} keys drained ${one.drainMs.toFixed(0)} ms after the node answered /health`)
      }
    } finally {
      await client.close()
    }
  } finally {
    await down({dir}).catch(() => undefined)
    await rm(dir, {recursive: true, force: true})
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({machine: machine(), detection, hintDrain})}\n`)
    return
  }
  process.stdout.write(`machine: ${machine()}\n`)
  for (const how of ['kill', 'cut'] as const) {
    const these = detection.filter((one) => one.how === how)
    process.stdout.write(`detection, ${how} (median of ${rounds}): fallback ${median(these.map((one) => one.fallbackMs)).toFixed(0)} ms, suspect ${median(these.map((one) => one.suspectMs)).toFixed(0)} ms\n`)
  }
  process.stdout.write(`hint drain (median of ${rounds}, ${hintedKeys} keys): ${median(hintDrain.map((one) => one.drainMs)).toFixed(0)} ms\n`)
}

await main()
